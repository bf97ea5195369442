package main

import (
	"bytes"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aulasneo/wc-openedx/function"
	"github.com/aulasneo/wc-openedx/function/local"
	"github.com/aulasneo/wc-openedx/internal/sandbox"
)

// The local run's index page, at / (only here: the production server has none): what runs,
// with a link to each function and to the pages of the simulated systems, in LANGUAGE.

// nameConsole is the operators' console function (SPEC §1), served at /Console.
const nameConsole = "Console"

// pageLanguage reduces LANGUAGE (en, es, or a locale such as es_AR) to "en" or "es".
func pageLanguage(language string) string {
	if strings.HasPrefix(strings.ToLower(strings.TrimSpace(language)), "es") {
		return "es"
	}
	return "en"
}

// indexWords are the index page's texts per language. %s stands for a quoted label.
var indexWords = map[string]map[string]string{
	"en": {
		"title":     "wc-openedx · local run",
		"intro":     "The whole service runs on this machine: the functions below, the Firestore and Pub/Sub emulators, and a simulation of each system that is not configured.",
		"functions": "Functions",
		"Webhook":   "Receives the shop's Order created and Order updated webhooks (POST).",
		"Enroll":    "Does the jobs Pub/Sub pushes: enrolls in Open edX, completes the order, sends the emails (POST).",
		"Confirm":   "The page the bank-transfer email's button opens; it needs the token of the link.",
		"Sweep":     "Publishes the jobs left in the outbox, reconciles orders with the shop and checks its webhooks (POST); called here every %s, as Cloud Scheduler would.",
		"SweepOff":  "Publishes the jobs left in the outbox, reconciles orders with the shop and checks its webhooks (POST); not called here (-sweep 0).",
		"Console":   "The operators' console: the orders, each order's timeline, retries.",
		"simulated": "Simulated systems",
		"shop":      "Shop orders",
		"shop_what": "The simulated WooCommerce's order screen: each order's status, notes and %s button.",
		"mailbox":   "Mailbox",
		"mail_what": "Every email the simulated SendGrid received.",
		"lms":       "Courses",
		"lms_what":  "The simulated Open edX's courses and enrollments; create a missing course there.",
		"real":      "Real systems",
		"none":      "None: every system is real.",
		"retry":     "Retry a failed order, as the shop's guide says",
		"retry1":    "Fix the cause: the product's SKU, or the course in Open edX (in the simulation: create it in Courses).",
		"retry2":    "In Shop orders, set the order to %s and press %s. Wait a few seconds.",
		"retry3":    "Set it to %s and press %s. The failed courses are retried, and the order is completed.",
		"q":         "“%s”",
	},
	"es": {
		"title":     "wc-openedx · ejecución local",
		"intro":     "Todo el servicio corre en esta máquina: las funciones de abajo, los emuladores de Firestore y Pub/Sub, y una simulación de cada sistema que no está configurado.",
		"functions": "Funciones",
		"Webhook":   "Recibe los webhooks «Pedido creado» y «Pedido actualizado» de la tienda (POST).",
		"Enroll":    "Hace los trabajos que envía Pub/Sub: inscribe en Open edX, completa el pedido, envía los correos (POST).",
		"Confirm":   "La página que abre el botón del correo de transferencia bancaria; necesita el token del enlace.",
		"Sweep":     "Publica los trabajos pendientes, concilia los pedidos con la tienda y revisa sus webhooks (POST); aquí se llama cada %s, como lo haría Cloud Scheduler.",
		"SweepOff":  "Publica los trabajos pendientes, concilia los pedidos con la tienda y revisa sus webhooks (POST); aquí no se llama (-sweep 0).",
		"Console":   "La consola de operadores: los pedidos, la historia de cada pedido, los reintentos.",
		"simulated": "Sistemas simulados",
		"shop":      "Pedidos de la tienda",
		"shop_what": "La pantalla de pedidos del WooCommerce simulado: el estado, las notas y el botón %s de cada pedido.",
		"mailbox":   "Buzón",
		"mail_what": "Todos los correos que recibió el SendGrid simulado.",
		"lms":       "Cursos",
		"lms_what":  "Los cursos y las inscripciones del Open edX simulado; cree allí un curso que falte.",
		"real":      "Sistemas reales",
		"none":      "Ninguno: todos los sistemas son reales.",
		"retry":     "Reintentar un pedido fallido, como dice la guía de la tienda",
		"retry1":    "Corrija la causa: el SKU del producto o el curso en Open edX (en la simulación: créelo en Cursos).",
		"retry2":    "En Pedidos de la tienda, ponga el pedido en %s y pulse %s. Espere unos segundos.",
		"retry3":    "Póngalo en %s y pulse %s. Los cursos que fallaron se reintentan y el pedido se completa.",
		"q":         "«%s»",
	},
}

// every says "every d" in words: "minute", "5 minutes", "30s".
func every(lang string, d time.Duration) string {
	unit, units := "minute", "minutes"
	if lang == "es" {
		unit, units = "minuto", "minutos"
	}
	switch {
	case d == time.Minute:
		return unit
	case d%time.Minute == 0:
		return strconv.Itoa(int(d/time.Minute)) + " " + units
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
	w := indexWords[lang]
	q := func(s string) string { return strings.Replace(w["q"], "%s", s, 1) }
	fill := func(format string, args ...string) string {
		for _, a := range args {
			format = strings.Replace(format, "%s", a, 1)
		}
		return format
	}
	var fns []indexLink
	for _, name := range []string{function.NameWebhook, function.NameEnroll, function.NameConfirm, function.NameSweep, nameConsole} {
		what := w[name]
		if name == function.NameSweep {
			if sweep > 0 {
				what = fill(what, every(lang, sweep))
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
		sim = append(sim, indexLink{ID: "shop-orders", Name: w["shop"], URL: st.Shop.AdminOrdersURL(), What: fill(w["shop_what"], update)})
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
			fill(w["retry2"], q(sandbox.ShopStatusName(lang, "on-hold")), update),
			fill(w["retry3"], q(sandbox.ShopStatusName(lang, "processing")), update),
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
