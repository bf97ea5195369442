package main

import (
	"bytes"
	"html/template"
	"net/http"
	"time"

	"github.com/aulasneo/wc-openedx/function"
	"github.com/aulasneo/wc-openedx/function/local"
	"github.com/aulasneo/wc-openedx/internal/i18n"
	"github.com/aulasneo/wc-openedx/internal/sandbox"
)

// The local run's index page, at / (only here: the production server has none): what runs,
// with a link to each function and to the pages of the simulated systems, in LANGUAGE.

// pageLanguage reduces LANGUAGE (en, es, or a locale such as es_AR) to "en" or "es".
func pageLanguage(language i18n.Lang) string { return string(i18n.Of(string(language))) }

// indexKeys are the index page's plain words in the catalogue (internal/i18n): "dev.<key>".
// The formats (dev.Sweep, dev.shop_what, dev.retry2, dev.retry3, dev.q) are filled in with
// Lang.T.
var indexKeys = []string{"title", "intro", "functions", "Webhook", "Enroll", "Confirm", "SweepOff", "Console", "simulated", "shop", "mailbox", "mail_what", "lms", "lms_what", "real", "none", "retry", "retry1"}

// every says "every d" in words, in the catalogue's dev.minute and dev.minutes: "minute",
// "5 minutes", "30s".
func every(l i18n.Lang, d time.Duration) string {
	switch {
	case d == time.Minute:
		return l.T("dev.minute")
	case d%time.Minute == 0:
		return l.T("dev.minutes", int64(d/time.Minute))
	}
	return d.String()
}

// indexLink is one line of the page.
type indexLink struct {
	ID, Name, URL, What string
}

// indexHandler serves the index page of the running stack.
func indexHandler(st *local.Stack, sweep time.Duration) http.Handler {
	lang := pageLanguage(st.Config.Language)
	l := i18n.Lang(lang)
	w := map[string]string{}
	for _, k := range indexKeys {
		w[k] = l.T("dev." + k)
	}
	q := func(s string) string { return l.T("dev.q", s) }
	var fns []indexLink
	for _, name := range []string{function.NameWebhook, function.NameEnroll, function.NameConfirm, function.NameSweep, function.NameConsole} {
		what := w[name]
		if name == function.NameSweep {
			if sweep > 0 {
				what = l.T("dev.Sweep", every(l, sweep))
			} else {
				what = w["SweepOff"]
			}
		}
		fns = append(fns, indexLink{ID: "fn-" + name, Name: "/" + name, URL: st.URL + "/" + name, What: what})
	}
	var sim []indexLink
	var real []string
	update := q(sandbox.ShopUpdateButton(lang))
	if st.Shop != nil {
		sim = append(sim, indexLink{ID: "shop-orders", Name: w["shop"], URL: st.Shop.AdminOrdersURL(), What: l.T("dev.shop_what", update)})
	} else {
		real = append(real, "WooCommerce: "+st.Config.WCURL)
	}
	if st.Mail != nil {
		sim = append(sim, indexLink{ID: "mailbox", Name: w["mailbox"], URL: st.URL + "/mailbox/", What: w["mail_what"]})
	} else {
		real = append(real, "SendGrid: "+st.Config.SendGridAPIURL)
	}
	if st.LMS != nil {
		sim = append(sim, indexLink{ID: "lms-courses", Name: w["lms"], URL: sandbox.LMSCoursesURL(st.Config.OpenEdXURL, ""), What: w["lms_what"]})
	} else {
		real = append(real, "Open edX: "+st.Config.OpenEdXURL)
	}
	data := map[string]any{
		"Lang": lang, "W": w, "Functions": fns, "Simulated": sim, "Real": real, "Base": st.URL, "Shop": st.Shop != nil,
		"Retry": []string{
			w["retry1"],
			l.T("dev.retry2", q(sandbox.ShopStatusName(lang, "on-hold")), update),
			l.T("dev.retry3", q(sandbox.ShopStatusName(lang, "processing")), update),
		},
	}
	var buf bytes.Buffer
	if err := indexPage.Execute(&buf, data); err != nil {
		panic(err) // the template and its data are fixed: a failure is a bug caught by the tests
	}
	page := buf.Bytes()
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Type", "text/html; charset=utf-8")
		rw.Header().Set("Cache-Control", "no-store")
		_, _ = rw.Write(page)
	})
}

var indexPage = template.Must(template.New("index").Parse(`<!DOCTYPE html>
<html lang="{{.Lang}}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.W.title}}</title>
<style>
body{margin:0;background:#f6f7f9;color:#1f2933;font:15px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
header{background:#1f2933;color:#fff;padding:14px 24px}header h1{margin:0;font-size:20px;font-weight:600}
main{max-width:860px;margin:0 auto;padding:8px 24px 40px}
h2{font-size:17px;margin:26px 0 8px}
p.intro{color:#3e4c59}
dl{margin:0;background:#fff;border:1px solid #e1e5ea;border-radius:8px;padding:6px 16px}
dt{margin:10px 0 0;font-weight:600}dd{margin:0 0 10px;color:#52606d}
dt a{color:#1a56db;text-decoration:none}dt a:hover{text-decoration:underline}
dt code{font-weight:400;color:#7b8794;font-size:13px;margin-left:8px}
ol{background:#fff;border:1px solid #e1e5ea;border-radius:8px;padding:12px 16px 12px 36px;margin:0}
ol li{margin:4px 0}
ul.real{margin:0;padding-left:20px}
</style></head><body>
<header><h1 id="title">{{.W.title}}</h1></header>
<main>
<p class="intro">{{.W.intro}} <code>{{.Base}}</code></p>
<h2>{{.W.functions}}</h2>
<dl id="functions">{{range .Functions}}
<dt><a id="{{.ID}}" href="{{.URL}}">{{.Name}}</a></dt><dd>{{.What}}</dd>{{end}}
</dl>
<h2>{{.W.simulated}}</h2>
{{if .Simulated}}<dl id="simulated">{{range .Simulated}}
<dt><a id="{{.ID}}" href="{{.URL}}">{{.Name}}</a><code>{{.URL}}</code></dt><dd>{{.What}}</dd>{{end}}
</dl>{{else}}<p>{{.W.none}}</p>{{end}}
{{if .Real}}<h2>{{.W.real}}</h2>
<ul class="real">{{range .Real}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{if .Shop}}<h2>{{.W.retry}}</h2>
<ol id="retry">{{range .Retry}}<li>{{.}}</li>{{end}}</ol>{{end}}
</main></body></html>`))
