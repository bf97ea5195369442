package i18n

import (
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Every language has every key, and each key's format takes the same arguments in every
// language: the same verb for each argument position, whatever order the words put them in.
func TestCataloguesAgree(t *testing.T) {
	t.Parallel()
	want := slices.Sorted(maps.Keys(languages[Default].messages))
	if len(want) == 0 {
		t.Fatal("the default language has no messages")
	}
	for code, l := range languages {
		got := slices.Sorted(maps.Keys(l.messages))
		if !slices.Equal(got, want) {
			t.Errorf("%s keys differ from %s:\nmissing %v\nextra   %v", code, Default, minus(want, got), minus(got, want))
		}
		for _, key := range want {
			f, ok := l.messages[key]
			if !ok {
				continue
			}
			if strings.TrimSpace(f) == "" {
				t.Errorf("%s %s is empty", code, key)
			}
			if a, b := verbs(t, f), verbs(t, languages[Default].messages[key]); !maps.Equal(a, b) {
				t.Errorf("%s %s takes %v, %s takes %v", code, key, a, Default, b)
			}
		}
	}
}

func minus(a, b []string) []string {
	var d []string
	for _, s := range a {
		if !slices.Contains(b, s) {
			d = append(d, s)
		}
	}
	return d
}

var verbRE = regexp.MustCompile(`%(\[(\d+)\])?[-+# 0]*\d*(\.\d+)?([a-zA-Z%])`)

// verbs maps each argument position (1-based) of a format to its verb.
func verbs(t *testing.T, f string) map[int]string {
	m := map[int]string{}
	next := 1
	for _, v := range verbRE.FindAllStringSubmatch(f, -1) {
		if v[4] == "%" {
			continue
		}
		if v[2] != "" {
			n, err := strconv.Atoi(v[2])
			if err != nil {
				t.Fatalf("%q: %v", f, err)
			}
			next = n
		}
		if prev, ok := m[next]; ok && prev != v[4] {
			t.Errorf("%q uses argument %d as %%%s and %%%s", f, next, prev, v[4])
		}
		m[next] = v[4]
		next++
	}
	return m
}

func TestParse(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in   string
		want Lang
	}{
		{"", English},
		{"en", English},
		{"es", Spanish},
		{"ES", Spanish},
		{" es ", Spanish},
		{"es_AR", Spanish},
		{"es-ES", Spanish},
		{"es_ES.UTF-8", Spanish},
		{"es_ES.utf8@euro", Spanish},
		{"es_ES:es", Spanish},
		{"fr_FR:es_ES:es", Spanish},
		{"en_US.UTF-8", English},
		{"en-GB", English},
		{"C.UTF-8:en", English},
	} {
		got, err := Parse(c.in)
		if err != nil || got != c.want {
			t.Errorf("Parse(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	for _, in := range []string{"fr", "de_DE.UTF-8", "C", "POSIX", "esp", "e", "_es", "fr:de"} {
		if got, err := Parse(in); err == nil {
			t.Errorf("Parse(%q) = %q, want an error", in, got)
		} else if !strings.Contains(err.Error(), "en, es") {
			t.Errorf("Parse(%q) error %q does not name the languages", in, err)
		}
	}
	if Of("fr") != English || Of("es_MX") != Spanish {
		t.Errorf("Of falls back to English for unknown languages only")
	}
}

func TestDate(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		t    time.Time
		lang Lang
		want string
	}{
		{time.Date(2026, 11, 28, 2, 16, 0, 0, time.UTC), English, "November 28, 2026, 2:16 AM"},
		{time.Date(2026, 11, 28, 2, 16, 0, 0, time.UTC), Spanish, "28 de noviembre de 2026, 02:16"},
		{time.Date(2025, 3, 5, 14, 7, 0, 0, time.UTC), English, "March 5, 2025, 2:07 PM"},
		{time.Date(2025, 3, 5, 14, 7, 0, 0, time.UTC), Spanish, "5 de marzo de 2025, 14:07"},
		{time.Time{}, Spanish, ""},
	} {
		if got := c.lang.Date(c.t); got != c.want {
			t.Errorf("%s.Date(%v) = %q, want %q", c.lang, c.t, got, c.want)
		}
	}
}

func TestDuration(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		d      time.Duration
		en, es string
	}{
		{720 * time.Hour, "30 days", "30 días"},
		{24 * time.Hour, "1 day", "1 día"},
		{36 * time.Hour, "36 hours", "36 horas"},
		{time.Hour, "1 hour", "1 hora"},
		{90 * time.Minute, "2 hours", "2 horas"},
		{time.Minute, "1 hour", "1 hora"},
	} {
		if got := English.Duration(c.d); got != c.en {
			t.Errorf("en %v = %q, want %q", c.d, got, c.en)
		}
		if got := Spanish.Duration(c.d); got != c.es {
			t.Errorf("es %v = %q, want %q", c.d, got, c.es)
		}
	}
}

func TestTFallsBack(t *testing.T) {
	t.Parallel()
	if got := Spanish.T("order_number", "7"); got != "#7" {
		t.Errorf("T = %q", got)
	}
	if got := Lang("fr").T("label.order"); got != "Order" {
		t.Errorf("unknown language: %q, want English", got)
	}
	if got := Spanish.T("no.such.key"); got != "no.such.key" {
		t.Errorf("missing key: %q", got)
	}
}

func TestMoney(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		amount, currency string
		en, es           string
	}{
		{"149.00", "USD", "149.00 USD", "149,00 USD"},
		{"1234.5", "EUR", "1,234.5 EUR", "1.234,5 EUR"},
		{"1234567.00", "ARS", "1,234,567.00 ARS", "1.234.567,00 ARS"},
		{"-5.00", "USD", "-5.00 USD", "-5,00 USD"},
		{"0", "USD", "0 USD", "0 USD"},
		{" 12.30 ", "", "12.30", "12,30"},
		{"", "USD", "", ""},
		{"12,30", "EUR", "12,30 EUR", "12,30 EUR"}, // not WooCommerce's format: as given
		{"1.2.3", "USD", "1.2.3 USD", "1.2.3 USD"},
		{"abc", "USD", "abc USD", "abc USD"},
		{"12.", "USD", "12. USD", "12. USD"},
	} {
		if got := English.Money(c.amount, c.currency); got != c.en {
			t.Errorf("en Money(%q, %q) = %q, want %q", c.amount, c.currency, got, c.en)
		}
		if got := Spanish.Money(c.amount, c.currency); got != c.es {
			t.Errorf("es Money(%q, %q) = %q, want %q", c.amount, c.currency, got, c.es)
		}
	}
}

func TestText(t *testing.T) {
	t.Parallel()
	x := Msg("reason.sku_unreadable", `[1,"a"]`)
	if got, want := x.In(Spanish), `el SKU de la línea es [1,"a"] y no un texto, así que no se puede leer el curso que indica`; got != want {
		t.Errorf("es: %q, want %q", got, want)
	}
	if got := x.In(English); !strings.HasPrefix(got, `the line's SKU is [1,"a"], not text`) {
		t.Errorf("en: %q", got)
	}
	// Texts recorded before they were messages, and look-alikes, are shown as they are.
	for _, s := range []Text{"the line's SKU is 5, not text", `["no.such.key"]`, `["unterminated`, ""} {
		if got := s.In(Spanish); got != string(s) {
			t.Errorf("%q rendered as %q", s, got)
		}
	}
}
