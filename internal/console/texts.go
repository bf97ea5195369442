package console

import (
	"fmt"
	"strings"

	"github.com/aulasneo/wc-openedx/internal/i18n"
)

// texts are the Console's words in one language: the "console." keys of the shared
// catalogue (internal/i18n). Spanish addresses the operator as usted and names WooCommerce's
// statuses as WooCommerce's Spanish translation does.
type texts struct {
	lang string // "en" or "es"
	l    i18n.Lang
}

func textsFor(lang string) texts {
	l := i18n.Of(lang)
	return texts{lang: string(l), l: l}
}

// T formats the message key with args; a missing key shows as itself, so that tests (which
// render every page in both languages and look for keys) find it.
func (t texts) T(key string, args ...any) string {
	f, ok := t.l.Lookup("console." + key)
	if !ok {
		return "{" + key + "}"
	}
	if len(args) == 0 {
		return f
	}
	return fmt.Sprintf(f, args...)
}

// label is the words for a value such as a status or a stage (key prefix.value); a value the
// catalogue has no words for shows as itself, without WooCommerce's "wc-" prefix.
func (t texts) label(prefix, value string) string {
	if value == "" {
		return ""
	}
	if f, ok := t.l.Lookup("console." + prefix + "." + value); ok {
		return f
	}
	return strings.TrimPrefix(value, "wc-")
}
