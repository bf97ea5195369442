package confirm

import (
	"html/template"
	"strconv"
	"time"

	"github.com/aulasneo/wc-openedx/internal/enrollment"
)

// kind names a page; it is also the id of the page's <main> element, so tests and browsers
// can tell pages apart without reading their words.
type kind string

const (
	kindSummary      kind = "summary"            // 200: order details and the Confirm button
	kindConfirmed    kind = "confirmed"          // 200: this POST confirmed the payment
	kindAlready      kind = "already-confirmed"  // 200: confirmed earlier through the link
	kindHandled      kind = "handled"            // 200: moved to a paid status in the shop
	kindClosed       kind = "closed"             // 409: cancelled, refunded or failed in the shop
	kindInvalid      kind = "invalid"            // 400: token missing or malformed
	kindBadRequest   kind = "bad-request"        // 400/413: the form could not be read
	kindForged       kind = "forged"             // 403
	kindNotFound     kind = "not-found"          // 404
	kindMethod       kind = "method-not-allowed" // 405
	kindExpired      kind = "expired"            // 410
	kindLoadFailed   kind = "unavailable"        // 503 on GET
	kindNotConfirmed kind = "not-confirmed"      // 503 on POST

	// Pages of the Retry link of a failure email (SPEC §2.5b). A Retry link's closed, expired,
	// forged, not-found and other error pages are the kinds above (same ids and codes as the
	// Confirm link), with the words of texts.RetryPages.
	kindRetrySummary kind = "retry-summary"    // 200: the failed lines and the Retry button
	kindRetried      kind = "retry-queued"     // 200: this POST queued the retry
	kindRetryAlready kind = "already-retried"  // 200: this link retried the order before
	kindRetryNothing kind = "nothing-to-retry" // 200: no failed line is left
	kindNotRetried   kind = "not-retried"      // 503 on POST
)

// tone colours a page's title: done, asking, or something is wrong.
func (k kind) tone() string {
	switch k {
	case kindConfirmed, kindAlready, kindHandled, kindRetried, kindRetryAlready, kindRetryNothing:
		return "ok"
	case kindSummary, kindRetrySummary:
		return "ask"
	}
	return "bad"
}

// page is what the template renders.
type page struct {
	Kind    kind
	Tone    string // kind.tone()
	Retry   bool   // a Retry link's page: its words come from texts.RetryPages first
	Lang    string
	T       *texts
	Text    pageText
	Shop    string
	Number  string            // the order number, "" when unknown (or not to be trusted)
	Order   *enrollment.Order // non-nil: show the order's details
	Details *orderDetails
	Token   string // non-empty: show the form posting it (Confirm, or Retry on a Retry page)
	Action  string // where the form posts: the page's own path, without the query string
	// The form's button and the line under it, in the words of the page's link.
	Button, ButtonID, Check string
	// Confirmed is who confirmed the payment and when; ConfirmedBy is that sentence.
	Confirmed   *enrollment.Confirmation
	ConfirmedBy string
	// Failed are the lines a Retry page shows (the summary only); Retried is the
	// retry this link recorded, and RetriedBy the sentence saying when and from where.
	Failed    []enrollment.LineFailure
	Retried   *enrollment.Action
	RetriedBy string
}

// orderDetails is an order formatted for the page.
type orderDetails struct {
	Date          string
	Customer      string
	Email         string
	PaymentMethod string
	Lines         []lineDetails
	Total         string
}

type lineDetails struct {
	Name     string
	Quantity string
	Total    string
}

func details(o *enrollment.Order, lang string) *orderDetails {
	d := &orderDetails{
		Customer:      o.Billing.Name(),
		Email:         o.Billing.Email,
		PaymentMethod: o.PaymentMethodTitle,
		Total:         money(o.Total, o.Currency),
	}
	if d.PaymentMethod == "" {
		d.PaymentMethod = o.PaymentMethod
	}
	switch {
	case !o.DateCreated.IsZero():
		d.Date = formatDate(o.DateCreated, lang)
	case !o.DateCreatedGMT.IsZero():
		d.Date = formatDate(o.DateCreatedGMT, lang) + " UTC"
	}
	for _, l := range o.Lines {
		d.Lines = append(d.Lines, lineDetails{Name: l.Name, Quantity: l.DisplayQuantity(), Total: money(l.Total, o.Currency)})
	}
	return d
}

func money(amount, currency string) string {
	if amount == "" || currency == "" {
		return amount
	}
	return amount + " " + currency
}

var monthsES = [...]string{"enero", "febrero", "marzo", "abril", "mayo", "junio", "julio",
	"agosto", "septiembre", "octubre", "noviembre", "diciembre"}

// formatDate writes the order's wall time as the shop shows it (no zone conversion). It is a
// copy of formatDate in internal/mail/i18n.go, so the email and this page show an order's date
// the same way: "November 28, 2026, 2:16 AM" or "28 de noviembre de 2026, 02:16". Change both
// together.
func formatDate(t time.Time, lang string) string {
	if lang == "es" {
		return strconv.Itoa(t.Day()) + " de " + monthsES[t.Month()-1] + " de " +
			strconv.Itoa(t.Year()) + ", " + t.Format("15:04")
	}
	return t.Format("January 2, 2006, 3:04 PM")
}

// pageText is one page's words.
type pageText struct {
	Title string
	Lead  string // the first paragraph: what happened
	Next  string // optional second paragraph: what to do now
}

// texts is every word of the pages in one language.
type texts struct {
	Pages                                                    map[kind]pageText
	Order, Date, Customer, Email, PaymentMethod              string
	Product, Quantity, LineTotal, OrderTotal, Confirm, Check string
	Footer                                                   string
	ConfirmedBy                                              string // "Confirmed %[1]s from the address %[2]s."

	// The Retry link's pages (SPEC §2.5b): its own kinds, and its words for the kinds it
	// shares with the Confirm link (closed, expired, forged, not found).
	RetryPages        map[kind]pageText
	Course, Reason    string
	Retry, RetryCheck string // the button, and the line under it
	RetryFooter       string
	RetriedBy         string // "Retried %[1]s from the address %[2]s."
}

var catalog = map[string]*texts{
	"en": {
		Order: "Order", Date: "Date", Customer: "Customer", Email: "Email",
		PaymentMethod: "Payment method", Product: "Product", Quantity: "Qty",
		LineTotal: "Total", OrderTotal: "Order total",
		Confirm:     "Confirm payment received",
		Check:       "Only confirm once the money is in the shop's account.",
		Footer:      "Payment confirmation for course enrollments",
		ConfirmedBy: "The payment was confirmed through this link on %s, from the IP address %s.",
		Pages: map[kind]pageText{
			kindSummary: {
				Title: "Confirm payment",
				Lead:  "Check that you received the payment for this order before confirming. Confirming enrolls the learner in the order's courses, and the order is then marked Completed.",
			},
			kindConfirmed: {
				Title: "Payment confirmed",
				Lead:  "Thank you. The learner is being enrolled; the order will be marked Completed in the shop when that is done.",
				Next:  "There is nothing more to do. You can close this page.",
			},
			kindAlready: {
				Title: "Payment already confirmed",
				Lead:  "The payment for this order was already confirmed through this link, so nothing was changed.",
				Next:  "There is nothing more to do. You can close this page.",
			},
			kindHandled: {
				Title: "This order is already being handled",
				Lead:  "The order was moved to Processing or Completed in the shop, so the learner's enrollment is under way or done. Nothing was changed.",
				Next:  "This link is no longer needed. You can close this page.",
			},
			kindClosed: {
				Title: "This order is closed",
				Lead:  "The order was cancelled, refunded or marked failed in the shop, so its payment cannot be confirmed here. Nothing was changed.",
				Next:  "If the payment did arrive, reopen the order in WooCommerce and move it to Processing: the learner is then enrolled.",
			},
			kindInvalid: {
				Title: "This link is incomplete or damaged",
				Lead:  "The confirmation code in this address is missing or damaged, often because the link was cut when it was copied. Nothing was changed.",
				Next:  "Open the link again from the email, or copy the whole address into the browser.",
			},
			kindBadRequest: {
				Title: "The request could not be read",
				Lead:  "Nothing was changed.",
				Next:  "Open the link again from the email and use the button on that page.",
			},
			kindForged: {
				Title: "This link is not valid",
				Lead:  "This link was not issued by the shop's enrollment service, or it was altered. Nothing was changed.",
				Next:  "Use the link from the original email, or open the order in WooCommerce and change its status to Processing.",
			},
			kindNotFound: {
				Title: "Order not found",
				Lead:  "The enrollment service has no record of this order. Nothing was changed.",
				Next:  "Check the order in WooCommerce. If it was paid, changing its status to Processing enrolls the learner.",
			},
			kindMethod: {
				Title: "This address only opens confirmation links",
				Lead:  "Nothing was changed.",
				Next:  "Open the link from the email in a web browser.",
			},
			kindExpired: {
				Title: "This link has expired",
				Lead:  "Links to confirm a payment are valid for a limited time, and this one can no longer be used. Nothing was changed.",
				Next:  "If you received the payment, open the order in WooCommerce and change its status to Processing. The learner will then be enrolled and the order completed automatically.",
			},
			kindLoadFailed: {
				Title: "The order could not be loaded right now",
				Lead:  "A temporary problem prevented showing this order. Nothing was changed.",
				Next:  "Please reload this page in a few minutes.",
			},
			kindNotConfirmed: {
				Title: "The payment could not be confirmed right now",
				Lead:  "A temporary problem prevented recording the confirmation, so the payment is not confirmed yet.",
				Next:  "Please try again in a few minutes. If it keeps failing, open the order in WooCommerce and change its status to Processing instead.",
			},
		},

		// Retry link of the failure email (SPEC §2.5b).
		Course: "Course", Reason: "Reason",
		Retry:       "Retry the failed courses",
		RetryCheck:  "Fix the cause first: with the same SKU and the same course, the retry fails again.",
		RetryFooter: "Retrying course enrollments",
		RetriedBy:   "The failed courses were retried through this link on %s, from the IP address %s.",
		RetryPages: map[kind]pageText{
			kindRetrySummary: {
				Title: "Retry the failed enrollments",
				Lead:  "The learner could not be enrolled in the courses below. Fix the cause first (the product's SKU in WooCommerce, or the course in Open edX), then retry: the order is read again from the shop, the failed courses are tried again, and courses already enrolled are not enrolled twice.",
			},
			kindRetried: {
				Title: "Retry started",
				Lead:  "The failed courses are being retried. When the learner is enrolled, the order is marked Completed in the shop; if a course fails again, a new failure email is sent.",
				Next:  "There is nothing more to do. You can close this page.",
			},
			kindRetryAlready: {
				Title: "Already retried",
				Lead:  "This link was already used to retry the failed courses, so nothing was changed.",
				Next:  "If a course failed again, a new failure email with a new Retry button was sent. You can close this page.",
			},
			kindRetryNothing: {
				Title: "Nothing to retry",
				Lead:  "This order has no failed courses now: they were enrolled since, for example after the order was moved to Processing in the shop. Nothing was changed.",
				Next:  "You can close this page.",
			},
			kindNotRetried: {
				Title: "The retry could not be started right now",
				Lead:  "A temporary problem prevented recording the retry, so nothing was retried yet.",
				Next:  "Please try again in a few minutes. If it keeps failing, open the order in WooCommerce, change its status to On hold and save, then back to Processing and save.",
			},
			kindClosed: {
				Title: "This order is closed",
				Lead:  "The order was cancelled, refunded or marked failed in the shop, so its courses cannot be retried here. Nothing was changed.",
				Next:  "If the learner should be enrolled after all, reopen the order in WooCommerce and move it to Processing.",
			},
			kindExpired: {
				Title: "This link has expired",
				Lead:  "Links to retry an enrollment are valid for a limited time, and this one can no longer be used. Nothing was changed.",
				Next:  "To retry, open the order in WooCommerce, change its status to On hold and save, then back to Processing and save.",
			},
			kindForged: {
				Title: "This link is not valid",
				Lead:  "This link was not issued by the shop's enrollment service, or it was altered. Nothing was changed.",
				Next:  "Use the link from the original email, or open the order in WooCommerce, change its status to On hold and save, then back to Processing and save.",
			},
			kindNotFound: {
				Title: "Order not found",
				Lead:  "The enrollment service has no record of this order. Nothing was changed.",
				Next:  "Check the order in WooCommerce. To retry its enrollment, change its status to On hold and save, then back to Processing and save.",
			},
		},
	},
	"es": {
		Order: "Pedido", Date: "Fecha", Customer: "Cliente", Email: "Correo electrónico",
		PaymentMethod: "Método de pago", Product: "Producto", Quantity: "Cant.",
		LineTotal: "Total", OrderTotal: "Total del pedido",
		Confirm:     "Confirmar pago recibido",
		Check:       "Confirme solo cuando el dinero ya esté en la cuenta de la tienda.",
		Footer:      "Confirmación de pagos para inscripciones a cursos",
		ConfirmedBy: "El pago se confirmó con este enlace el %s, desde la dirección IP %s.",
		Pages: map[kind]pageText{
			kindSummary: {
				Title: "Confirmar pago",
				Lead:  "Antes de confirmar, compruebe que recibió el pago de este pedido. Al confirmar, se inscribe al estudiante en los cursos del pedido y luego el pedido se marca como «Completado».",
			},
			kindConfirmed: {
				Title: "Pago confirmado",
				Lead:  "Gracias. Se está inscribiendo al estudiante; cuando termine, el pedido se marcará como «Completado» en la tienda.",
				Next:  "No hay nada más que hacer. Puede cerrar esta página.",
			},
			kindAlready: {
				Title: "El pago ya estaba confirmado",
				Lead:  "El pago de este pedido ya se había confirmado con este enlace, así que no se hizo ningún cambio.",
				Next:  "No hay nada más que hacer. Puede cerrar esta página.",
			},
			kindHandled: {
				Title: "Este pedido ya se está gestionando",
				Lead:  "El pedido se cambió a «Procesando» o «Completado» en la tienda, así que la inscripción del estudiante está en curso o ya se hizo. No se hizo ningún cambio.",
				Next:  "Este enlace ya no es necesario. Puede cerrar esta página.",
			},
			kindClosed: {
				Title: "Este pedido está cerrado",
				Lead:  "El pedido se canceló, se reembolsó o se marcó como fallido en la tienda, así que su pago no se puede confirmar aquí. No se hizo ningún cambio.",
				Next:  "Si el pago sí llegó, reabra el pedido en WooCommerce y cámbielo a «Procesando»: entonces se inscribe al estudiante.",
			},
			kindInvalid: {
				Title: "Este enlace está incompleto o dañado",
				Lead:  "Falta el código de confirmación de esta dirección o está dañado, a menudo porque el enlace se cortó al copiarlo. No se hizo ningún cambio.",
				Next:  "Abra de nuevo el enlace desde el correo o copie la dirección completa en su navegador.",
			},
			kindBadRequest: {
				Title: "No se pudo leer la solicitud",
				Lead:  "No se hizo ningún cambio.",
				Next:  "Abra de nuevo el enlace desde el correo y pulse el botón de esa página.",
			},
			kindForged: {
				Title: "Este enlace no es válido",
				Lead:  "Este enlace no lo emitió el servicio de inscripciones de la tienda, o fue modificado. No se hizo ningún cambio.",
				Next:  "Use el enlace del correo original, o abra el pedido en WooCommerce y cambie su estado a «Procesando».",
			},
			kindNotFound: {
				Title: "Pedido no encontrado",
				Lead:  "El servicio de inscripciones no tiene registro de este pedido. No se hizo ningún cambio.",
				Next:  "Revise el pedido en WooCommerce. Si está pagado, al cambiar su estado a «Procesando» se inscribe al estudiante.",
			},
			kindMethod: {
				Title: "Esta dirección solo abre enlaces de confirmación",
				Lead:  "No se hizo ningún cambio.",
				Next:  "Abra el enlace del correo en un navegador web.",
			},
			kindExpired: {
				Title: "Este enlace ha vencido",
				Lead:  "Los enlaces para confirmar un pago valen por un tiempo limitado y este ya no se puede usar. No se hizo ningún cambio.",
				Next:  "Si recibió el pago, abra el pedido en WooCommerce y cambie su estado a «Procesando». Así se inscribirá al estudiante y el pedido se completará automáticamente.",
			},
			kindLoadFailed: {
				Title: "No se pudo mostrar el pedido en este momento",
				Lead:  "Un problema temporal impidió mostrar este pedido. No se hizo ningún cambio.",
				Next:  "Vuelva a cargar esta página en unos minutos.",
			},
			kindNotConfirmed: {
				Title: "No se pudo confirmar el pago en este momento",
				Lead:  "Un problema temporal impidió registrar la confirmación, así que el pago todavía no está confirmado.",
				Next:  "Vuelva a intentarlo en unos minutos. Si sigue fallando, abra el pedido en WooCommerce y cambie su estado a «Procesando».",
			},
		},

		// Enlace «Reintentar» del aviso de fallo (SPEC §2.5b).
		Course: "Curso", Reason: "Motivo",
		Retry:       "Reintentar los cursos que fallaron",
		RetryCheck:  "Primero corrija la causa: con el mismo SKU y el mismo curso, el reintento vuelve a fallar.",
		RetryFooter: "Reintento de inscripciones a cursos",
		RetriedBy:   "Los cursos que fallaron se reintentaron con este enlace el %s, desde la dirección IP %s.",
		RetryPages: map[kind]pageText{
			kindRetrySummary: {
				Title: "Reintentar las inscripciones que fallaron",
				Lead:  "No se pudo inscribir al estudiante en los cursos siguientes. Primero corrija la causa (el SKU del producto en WooCommerce o el curso en Open edX) y luego reintente: el pedido se vuelve a leer de la tienda, los cursos que fallaron se intentan de nuevo y los cursos ya inscritos no se inscriben dos veces.",
			},
			kindRetried: {
				Title: "Reintento en curso",
				Lead:  "Se están reintentando los cursos que fallaron. Cuando el estudiante quede inscrito, el pedido se marcará como «Completado» en la tienda; si algún curso vuelve a fallar, se enviará un nuevo correo de aviso.",
				Next:  "No hay nada más que hacer. Puede cerrar esta página.",
			},
			kindRetryAlready: {
				Title: "Ya se reintentó",
				Lead:  "Este enlace ya se usó para reintentar los cursos que fallaron, así que no se hizo ningún cambio.",
				Next:  "Si algún curso volvió a fallar, se envió un nuevo correo de aviso con un nuevo botón para reintentar. Puede cerrar esta página.",
			},
			kindRetryNothing: {
				Title: "No hay nada que reintentar",
				Lead:  "Este pedido ya no tiene cursos que hayan fallado: se inscribieron después, por ejemplo al cambiar el pedido a «Procesando» en la tienda. No se hizo ningún cambio.",
				Next:  "Puede cerrar esta página.",
			},
			kindNotRetried: {
				Title: "No se pudo iniciar el reintento en este momento",
				Lead:  "Un problema temporal impidió registrar el reintento, así que todavía no se reintentó nada.",
				Next:  "Vuelva a intentarlo en unos minutos. Si sigue fallando, abra el pedido en WooCommerce, cambie su estado a «En espera» y guarde; luego vuelva a ponerlo en «Procesando» y guarde.",
			},
			kindClosed: {
				Title: "Este pedido está cerrado",
				Lead:  "El pedido se canceló, se reembolsó o se marcó como fallido en la tienda, así que sus cursos no se pueden reintentar aquí. No se hizo ningún cambio.",
				Next:  "Si de todos modos hay que inscribir al estudiante, reabra el pedido en WooCommerce y cámbielo a «Procesando».",
			},
			kindExpired: {
				Title: "Este enlace ha vencido",
				Lead:  "Los enlaces para reintentar una inscripción valen por un tiempo limitado y este ya no se puede usar. No se hizo ningún cambio.",
				Next:  "Para reintentar, abra el pedido en WooCommerce, cambie su estado a «En espera» y guarde; luego vuelva a ponerlo en «Procesando» y guarde.",
			},
			kindForged: {
				Title: "Este enlace no es válido",
				Lead:  "Este enlace no lo emitió el servicio de inscripciones de la tienda, o fue modificado. No se hizo ningún cambio.",
				Next:  "Use el enlace del correo original, o abra el pedido en WooCommerce, cambie su estado a «En espera» y guarde; luego vuelva a ponerlo en «Procesando» y guarde.",
			},
			kindNotFound: {
				Title: "Pedido no encontrado",
				Lead:  "El servicio de inscripciones no tiene registro de este pedido. No se hizo ningún cambio.",
				Next:  "Revise el pedido en WooCommerce. Para reintentar su inscripción, cambie su estado a «En espera» y guarde; luego vuelva a ponerlo en «Procesando» y guarde.",
			},
		},
	},
}

var pageTemplate = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="{{.Lang}}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex,nofollow">
<meta name="referrer" content="no-referrer">
<title>{{.Text.Title}}{{with .Shop}} · {{.}}{{end}}</title>
<style>
*{box-sizing:border-box}
body{margin:0;background:#f3f4f6;color:#1f2937;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif}
.wrap{max-width:40rem;margin:0 auto;padding:1.5rem 1rem}
.card{background:#fff;border-radius:12px;box-shadow:0 1px 3px rgba(0,0,0,.08);padding:1.5rem}
.shop{margin:0 0 .75rem;color:#6b7280;font-size:.9rem;font-weight:600;letter-spacing:.02em}
h1{margin:0 0 .25rem;font-size:1.5rem;line-height:1.25}
.number{margin:0 0 1rem;color:#4b5563;font-weight:600}
p{margin:.75rem 0}
.ok h1{color:#047857}.bad h1{color:#b91c1c}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.35rem 1rem;margin:1.25rem 0}
dt{color:#6b7280}dd{margin:0;overflow-wrap:anywhere}
table{width:100%;border-collapse:collapse;margin:1rem 0}
th,td{padding:.5rem .25rem;border-bottom:1px solid #e5e7eb;text-align:left;vertical-align:top}
th{color:#6b7280;font-weight:600;font-size:.9rem}
.num{text-align:right;white-space:nowrap}
tfoot td{border-bottom:0;font-weight:700}
form{margin:1.5rem 0 .5rem}
button{width:100%;padding:.9rem 1rem;border:0;border-radius:8px;background:#047857;color:#fff;font:inherit;font-weight:700;cursor:pointer}
button:hover,button:focus{background:#065f46}
.check{color:#6b7280;font-size:.9rem;text-align:center}
.failures{list-style:none;margin:1.25rem 0;padding:0}
.failures li{margin:.5rem 0;padding:.6rem .8rem;border-left:4px solid #b91c1c;border-radius:4px;background:#fdf2f2}
.failures .line,.failures .course,.failures .reason{display:block}
.failures .course{margin:.15rem 0;color:#374151;font:.85rem/1.4 ui-monospace,Menlo,Consolas,monospace;overflow-wrap:anywhere}
footer{margin-top:1rem;color:#9ca3af;font-size:.8rem;text-align:center}
@media (max-width:30rem){.card{padding:1rem}dl{grid-template-columns:1fr}dt{margin-top:.35rem}}
</style>
</head>
<body>
<div class="wrap">
<main id="{{.Kind}}" class="card {{.Tone}}">
{{with .Shop}}<p class="shop">{{.}}</p>{{end}}
<h1 id="title">{{.Text.Title}}</h1>
{{with .Number}}<p class="number" id="order-number">{{$.T.Order}} #{{.}}</p>{{end}}
<p id="lead">{{.Text.Lead}}</p>
{{with .ConfirmedBy}}<p id="confirmed-by">{{.}}</p>{{end}}
{{with .RetriedBy}}<p id="retried-by">{{.}}</p>{{end}}
{{with .Text.Next}}<p id="next">{{.}}</p>{{end}}
{{with .Details}}
<dl id="order">
{{with .Date}}<dt>{{$.T.Date}}</dt><dd id="order-date">{{.}}</dd>{{end}}
<dt>{{$.T.Customer}}</dt><dd id="customer-name">{{.Customer}}</dd>
<dt>{{$.T.Email}}</dt><dd id="customer-email">{{.Email}}</dd>
{{with .PaymentMethod}}<dt>{{$.T.PaymentMethod}}</dt><dd id="payment-method">{{.}}</dd>{{end}}
</dl>
<table id="lines">
<thead><tr><th>{{$.T.Product}}</th><th class="num">{{$.T.Quantity}}</th><th class="num">{{$.T.LineTotal}}</th></tr></thead>
<tbody>
{{range .Lines}}<tr><td>{{.Name}}</td><td class="num">{{.Quantity}}</td><td class="num">{{.Total}}</td></tr>
{{end}}</tbody>
<tfoot><tr><td colspan="2">{{$.T.OrderTotal}}</td><td class="num" id="order-total">{{.Total}}</td></tr></tfoot>
</table>
{{end}}
{{with .Failed}}
<ul id="failed-lines" class="failures">
{{range .}}<li><strong class="line">{{.LineName}}</strong><code class="course">{{.Course}}</code><span class="reason">{{$.T.Reason}}: {{.Reason}}</span></li>
{{end}}</ul>
{{end}}
{{with .Token}}
<form method="post" action="{{$.Action}}">
<input type="hidden" name="t" value="{{.}}">
<button type="submit" id="{{$.ButtonID}}">{{$.Button}}</button>
</form>
<p class="check">{{$.Check}}</p>
{{end}}
</main>
<footer>{{if .Retry}}{{.T.RetryFooter}}{{else}}{{.T.Footer}}{{end}}</footer>
</div>
</body>
</html>
`))
