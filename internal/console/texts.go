package console

import (
	"fmt"
	"strings"

	"github.com/aulasneo/wc-openedx/internal/i18n"
)

// The Console's words, per language (LANGUAGE): fmt formats by key. They are to move into the
// shared catalogue (internal/i18n) under the same keys. Spanish addresses the operator as
// usted and names WooCommerce's statuses as WooCommerce's Spanish translation does.

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

// Has reports whether the language has key (for labels of values such as statuses, which
// fall back to the value itself).
func (t texts) label(prefix, value string) string {
	if value == "" {
		return ""
	}
	if f, ok := t.l.Lookup("console." + prefix + "." + value); ok {
		return f
	}
	return strings.TrimPrefix(value, "wc-")
}
