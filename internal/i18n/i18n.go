// Package i18n holds every word the shop's people read (order notes, failure reasons, emails,
// pages, alerts) in each language the service speaks, and writes money, dates and durations
// as people of that language do (SPEC §2.9).
//
// Each language is one file (en.go, es.go) declaring a *language: its messages, keyed by a
// dotted name, are fmt formats; its month names and number separators drive the formatting.
// A third language is one more file and one more entry in languages. Shop-provided text only
// ever enters as an argument, so templates can escape it.
//
// The package imports only the standard library, so the domain may import it.
package i18n

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Lang is a language the service speaks: "en" or "es". Its zero value, and any unknown
// code, reads as English.
type Lang string

// The languages.
const (
	English Lang = "en"
	Spanish Lang = "es"
)

// Default is the language when LANGUAGE is unset.
const Default = English

// language is one language's catalogue.
type language struct {
	// messages are fmt formats by key.
	messages map[string]string
	// date writes a wall time (no zone) in the language.
	date func(t time.Time) string
	// decimal and thousands separate an amount's fraction and its groups of three digits.
	decimal, thousands string
}

var languages = map[Lang]*language{
	English: en,
	Spanish: es,
}

// Languages lists the codes the service speaks, sorted.
func Languages() []Lang {
	var ls []Lang
	for l := range languages {
		ls = append(ls, l)
	}
	slices.Sort(ls)
	return ls
}

// Parse reads LANGUAGE: a code ("es"), a locale ("es_AR", "es-ES", "es_ES.UTF-8",
// "es_ES.UTF-8@euro") or a gettext priority list ("fr_FR:es_ES:es"; the first entry the
// service speaks wins). Empty is the default. Anything else is an error that names the
// languages it can be.
func Parse(s string) (Lang, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Default, nil
	}
	for _, entry := range strings.Split(s, ":") {
		code := strings.ToLower(strings.TrimSpace(entry))
		if i := strings.IndexAny(code, "_-.@"); i >= 0 {
			code = code[:i]
		}
		if _, ok := languages[Lang(code)]; ok {
			return Lang(code), nil
		}
	}
	var codes []string
	for _, l := range Languages() {
		codes = append(codes, string(l))
	}
	return "", fmt.Errorf("%q is not a language the service speaks (%s, or a locale of one such as es_AR or es_ES.UTF-8)", s, strings.Join(codes, ", "))
}

// Of is the language of s as Parse reads it, English when it is none the service speaks.
func Of(s string) Lang {
	l, err := Parse(s)
	if err != nil {
		return Default
	}
	return l
}

func (l Lang) catalogue() *language {
	if c, ok := languages[l]; ok {
		return c
	}
	return languages[Default]
}

// Lookup returns the format of key in the language, and whether it has one.
func (l Lang) Lookup(key string) (string, bool) {
	f, ok := l.catalogue().messages[key]
	return f, ok
}

// T formats key in the language with args. A key the language lacks falls back to English,
// then to the key itself; TestCataloguesAgree keeps every key in every language.
func (l Lang) T(key string, args ...any) string {
	f, ok := l.Lookup(key)
	if !ok {
		if f, ok = Default.Lookup(key); !ok {
			return key
		}
	}
	if len(args) == 0 {
		return f
	}
	return fmt.Sprintf(f, args...)
}

// Date writes a wall time as people of the language do: "November 28, 2026, 2:16 AM" or
// "28 de noviembre de 2026, 02:16". Order dates are the shop's wall time, so no zone is shown.
// The zero time is "".
func (l Lang) Date(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return l.catalogue().date(t)
}

// Duration writes a link lifetime in whole days, or hours when shorter or uneven.
func (l Lang) Duration(d time.Duration) string {
	if d >= 24*time.Hour && d%(24*time.Hour) == 0 {
		return l.count("duration.day", int64(d/(24*time.Hour)))
	}
	return l.count("duration.hour", int64((d+time.Hour-1)/time.Hour))
}

// count formats key+".one" for 1 and key+".many" with n otherwise.
func (l Lang) count(key string, n int64) string {
	if n == 1 {
		return l.T(key + ".one")
	}
	return l.T(key+".many", n)
}

// Money writes an amount as WooCommerce's REST API gives it ("149.00", "-5.5") with the
// order's currency code, in the language's number format: "149.00 USD", "149,00 USD",
// "1,234.50 EUR", "1.234,50 EUR". An amount that is not a plain decimal number is written
// as given; without a currency, the amount alone.
func (l Lang) Money(amount, currency string) string {
	amount = strings.TrimSpace(amount)
	n := l.number(amount)
	if currency = strings.TrimSpace(currency); currency == "" || n == "" {
		return n
	}
	return n + " " + currency
}

// number rewrites a decimal number with the language's separators; anything else as is.
func (l Lang) number(s string) string {
	sign, digits := "", s
	if strings.HasPrefix(digits, "-") || strings.HasPrefix(digits, "+") {
		sign, digits = digits[:1], digits[1:]
	}
	whole, frac, hasFrac := strings.Cut(digits, ".")
	if whole == "" || !allDigits(whole) || (hasFrac && (frac == "" || !allDigits(frac))) {
		return s
	}
	if sign == "+" {
		sign = ""
	}
	c := l.catalogue()
	var b strings.Builder
	b.WriteString(sign)
	for i, r := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteString(c.thousands)
		}
		b.WriteRune(r)
	}
	if hasFrac {
		b.WriteString(c.decimal)
		b.WriteString(frac)
	}
	return b.String()
}

func allDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
