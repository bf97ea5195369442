package enrollment

import (
	"errors"
	"fmt"

	"github.com/aulasneo/wc-openedx/internal/i18n"
)

// Whose words an Explained error quotes.
const (
	ByLMS   = "lms"   // Open edX's answer
	ByShop  = "shop"  // WooCommerce's answer
	ByMail  = "mail"  // SendGrid's answer
	ByError = "error" // an error on the service's side: the transport's (no answer), a template's
)

// Explained is an error the shop's people can read (SPEC §2.9): a plain sentence of the
// catalogue (internal/i18n, Key with Args) and, quoted after it, what the other system said
// (Said, with the answer's HTTP Status when there was one). Adapters return it, wrapped in
// Permanent when retrying cannot help; Describe writes it in LANGUAGE where a failure is
// recorded, and Error writes it in English for logs. Err is the cause, if any: errors.Is and
// errors.As reach it, and when it is Explained too its sentence follows this one.
type Explained struct {
	Key    string
	Args   []any
	By     string // ByLMS, ByShop, ByMail or ByError; "" when Said is empty
	Status int    // the answer's HTTP status, 0 when none
	Said   string // the other system's own words, "" when none
	Err    error
}

// Explain is the Explained error of key with args.
func Explain(key string, args ...any) *Explained { return &Explained{Key: key, Args: args} }

// Error is the explanation in English.
func (e *Explained) Error() string { return e.In(i18n.English) }

// Unwrap returns the cause.
func (e *Explained) Unwrap() error { return e.Err }

// Explain lets Describe find an Explained through errors.As.
func (e *Explained) Explain() *Explained { return e }

// In writes the explanation in l.
func (e *Explained) In(l i18n.Lang) string {
	s := l.T(e.Key, e.Args...)
	switch by := "said." + e.By; {
	case e.By == "":
	case e.Said != "" && e.Status > 0:
		s += " " + l.T(by+".status", e.Status, e.Said)
	case e.Said != "":
		s += " " + l.T(by, e.Said)
	case e.Status > 0:
		s += " " + l.T(by+".code", e.Status)
	}
	var cause explainer
	if e.Err != nil && errors.As(e.Err, &cause) {
		s += ": " + cause.Explain().In(l)
	}
	return s
}

// Text is the explanation kept to be written later, in any language. Its arguments are
// written as text, so its key's formats take %s only.
func (e *Explained) Text() i18n.Text {
	args := make([]string, len(e.Args))
	for i, a := range e.Args {
		args[i] = fmt.Sprint(a)
	}
	return i18n.Msg(e.Key, args...)
}

// TextOf keeps err to be written later in any language: the Text of its Explained error, or,
// for an error no adapter explained, its own words.
func TextOf(err error) i18n.Text {
	var ex *Explained
	if errors.As(err, &ex) {
		return ex.Text()
	}
	return i18n.Text(err.Error())
}

// explainer is an error that can tell what went wrong in the shop's people's words: an
// *Explained, or an adapter's error type (the shop's or SendGrid's answer).
type explainer interface {
	error
	Explain() *Explained
}

// Describe writes err for the shop's people in l: the explanation of the first Explained
// error in its chain; an error no adapter explained is quoted after "unexpected error".
func Describe(l i18n.Lang, err error) string {
	if err == nil {
		return ""
	}
	var ex explainer
	if errors.As(err, &ex) {
		return ex.Explain().In(l)
	}
	return l.T("reason.unexplained", err.Error())
}
