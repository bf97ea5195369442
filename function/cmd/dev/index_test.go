package main

import (
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aulasneo/wc-openedx/function/local"
	"github.com/aulasneo/wc-openedx/internal/config"
	"github.com/aulasneo/wc-openedx/internal/i18n"
	"github.com/aulasneo/wc-openedx/internal/sandbox"
)

var linkRE = regexp.MustCompile(`<a id="([^"]+)" href="([^"]+)">([^<]*)</a>`)

// indexLinks renders the index page of st and returns its links by id ("fn-Webhook": URL).
func indexLinks(t *testing.T, st *local.Stack, sweep time.Duration) (map[string]string, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	indexHandler(st, sweep).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	res := rec.Result()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("index: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	links := map[string]string{}
	for _, m := range linkRE.FindAllStringSubmatch(string(body), -1) {
		links[m[1]] = html.UnescapeString(m[2])
	}
	return links, string(body)
}

// simulatedStack is a stack as local.Start leaves it with nothing configured; the index
// page reads only these fields.
func simulatedStack(language string) *local.Stack {
	shop := sandbox.NewShop(sandbox.ShopConfig{HomeURL: "http://127.0.0.1:7002"})
	return &local.Stack{
		URL:    "http://127.0.0.1:8080",
		Config: &config.Config{Language: i18n.Lang(language), OpenEdXURL: "http://127.0.0.1:7001", WCURL: "http://127.0.0.1:7002", SendGridAPIURL: "http://127.0.0.1:7003"},
		LMS:    sandbox.NewLMS(), Shop: shop, Mail: sandbox.NewSendGrid("k"),
	}
}

func TestIndexPage(t *testing.T) {
	t.Parallel()
	wantLinks := map[string]string{
		"fn-Webhook":  "http://127.0.0.1:8080/Webhook",
		"fn-Enroll":   "http://127.0.0.1:8080/Enroll",
		"fn-Confirm":  "http://127.0.0.1:8080/Confirm",
		"fn-Sweep":    "http://127.0.0.1:8080/Sweep",
		"fn-Console":  "http://127.0.0.1:8080/Console",
		"mailbox":     "http://127.0.0.1:8080/mailbox/",
		"shop-orders": "http://127.0.0.1:7002/wp-admin/admin.php?page=wc-orders",
		"lms-courses": "http://127.0.0.1:7001/sandbox/courses",
	}
	for _, tc := range []struct {
		language string
		want     []string
	}{
		{"en", []string{`<html lang="en">`, "wc-openedx · local run", "Simulated systems", "Shop orders", "Mailbox", "Courses",
			"called here every minute, as Cloud Scheduler would", "set the order to “On hold” and press “Update”", "Set it to “Processing” and press “Update”"}},
		{"es_AR", []string{`<html lang="es">`, "wc-openedx · ejecución local", "Sistemas simulados", "Pedidos de la tienda", "Buzón", "Cursos",
			"aquí se llama cada minuto", "ponga el pedido en «En espera» y pulse «Actualizar»", "Póngalo en «Procesando» y pulse «Actualizar»"}},
	} {
		t.Run(tc.language, func(t *testing.T) {
			t.Parallel()
			links, body := indexLinks(t, simulatedStack(tc.language), time.Minute)
			for id, u := range wantLinks {
				if links[id] != u {
					t.Errorf("link %s = %q, want %q", id, links[id], u)
				}
			}
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("the page lacks %q", w)
				}
			}
			if t.Failed() {
				t.Log(body)
			}
		})
	}

	// With the real shop, LMS and SendGrid configured: no simulated pages, the real systems
	// named instead.
	st := simulatedStack("en")
	st.LMS, st.Shop, st.Mail = nil, nil, nil
	links, body := indexLinks(t, st, 0)
	for _, id := range []string{"mailbox", "shop-orders", "lms-courses"} {
		if _, ok := links[id]; ok {
			t.Errorf("link %s shown without its simulated system", id)
		}
	}
	for _, w := range []string{"None: every system is real.", "WooCommerce: http://127.0.0.1:7002", "Open edX: http://127.0.0.1:7001", "not called here (-sweep 0)"} {
		if !strings.Contains(body, w) {
			t.Errorf("the page with real systems lacks %q", w)
		}
	}
	if got, want := every("es", 5*time.Minute), "5 minutos"; got != want {
		t.Errorf("every 5 minutes in Spanish: %q, want %q", got, want)
	}
	if got, want := every("en", 90*time.Second), "1m30s"; got != want {
		t.Errorf("every 90 s: %q, want %q", got, want)
	}
	if links["fn-Console"] != "http://127.0.0.1:8080/Console" {
		t.Errorf("the Console link is %q", links["fn-Console"])
	}
}
