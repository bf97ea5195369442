package confirm

import (
	"html/template"

	"github.com/aulasneo/wc-openedx/internal/enrollment"
	"github.com/aulasneo/wc-openedx/internal/i18n"
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
	Lang    i18n.Lang
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

func details(o *enrollment.Order, lang i18n.Lang) *orderDetails {
	d := &orderDetails{
		Customer:      o.Billing.Name(),
		Email:         o.Billing.Email,
		PaymentMethod: o.PaymentMethodTitle,
		Total:         lang.Money(o.Total, o.Currency),
	}
	if d.PaymentMethod == "" {
		d.PaymentMethod = o.PaymentMethod
	}
	switch {
	case !o.DateCreated.IsZero():
		d.Date = lang.Date(o.DateCreated)
	case !o.DateCreatedGMT.IsZero():
		d.Date = lang.T("date.utc", lang.Date(o.DateCreatedGMT))
	}
	for _, l := range o.Lines {
		d.Lines = append(d.Lines, lineDetails{Name: l.Name, Quantity: l.DisplayQuantity(), Total: lang.Money(l.Total, o.Currency)})
	}
	return d
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

// pageKeys names each page's words in the catalogue (internal/i18n): "page.<key>.title",
// ".lead" and ".next".
var pageKeys = map[kind]string{
	kindSummary:      "summary",
	kindConfirmed:    "confirmed",
	kindAlready:      "already",
	kindHandled:      "handled",
	kindClosed:       "closed",
	kindInvalid:      "invalid",
	kindBadRequest:   "bad_request",
	kindForged:       "forged",
	kindNotFound:     "not_found",
	kindMethod:       "method",
	kindExpired:      "expired",
	kindLoadFailed:   "load_failed",
	kindNotConfirmed: "not_confirmed",
}

// retryPageKeys names the Retry link's pages in the catalogue, "page.retry.<key>.title",
// ".lead" and ".next": its own kinds, and its words for the kinds it shares with the Confirm
// link (closed, expired, forged, not found).
var retryPageKeys = map[kind]string{
	kindRetrySummary: "summary",
	kindRetried:      "retried",
	kindRetryAlready: "already",
	kindRetryNothing: "nothing",
	kindNotRetried:   "not_retried",
	kindClosed:       "closed",
	kindExpired:      "expired",
	kindForged:       "forged",
	kindNotFound:     "not_found",
}

// textsFor is every word of the pages in l.
func textsFor(l i18n.Lang) *texts {
	tx := &texts{
		Order: l.T("label.order"), Date: l.T("label.date"), Customer: l.T("label.customer"),
		Email: l.T("label.email"), PaymentMethod: l.T("label.payment"), Product: l.T("label.product"),
		Quantity: l.T("label.quantity"), LineTotal: l.T("label.total"), OrderTotal: l.T("label.order_total"),
		Confirm:     l.T("page.confirm_button"),
		Check:       l.T("page.check"),
		Footer:      l.T("page.footer"),
		ConfirmedBy: l.T("page.confirmed_by"),
		Pages:       map[kind]pageText{},
		Course:      l.T("label.course"), Reason: l.T("label.reason"),
		Retry:       l.T("page.retry_button"),
		RetryCheck:  l.T("page.retry_check"),
		RetryFooter: l.T("page.retry_footer"),
		RetriedBy:   l.T("page.retried_by"),
		RetryPages:  map[kind]pageText{},
	}
	for k, key := range pageKeys {
		tx.Pages[k] = pageWords(l, "page."+key)
	}
	for k, key := range retryPageKeys {
		tx.RetryPages[k] = pageWords(l, "page.retry."+key)
	}
	return tx
}

func pageWords(l i18n.Lang, prefix string) pageText {
	p := pageText{Title: l.T(prefix + ".title"), Lead: l.T(prefix + ".lead")}
	if next := prefix + ".next"; hasKey(l, next) {
		p.Next = l.T(next)
	}
	return p
}

func hasKey(l i18n.Lang, key string) bool {
	_, ok := l.Lookup(key)
	return ok
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
