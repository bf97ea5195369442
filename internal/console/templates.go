package console

import "html/template"

// The pages. Each page's <main> carries its kind as id (orders, order, health, retry,
// resend, result, not-found, …), and the elements tests and people look for carry ids:
// #stage-<stage> tabs, #orders rows (tr#order-<id>), #lines rows, #timeline rows, #reason,
// #actions, #retry and #resend buttons, #result.
var templates = template.Must(template.New("layout").Parse(`{{define "layout"}}<!doctype html>
<html lang="{{.Lang}}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex,nofollow">
<title>{{.Title}} · {{.T.T "title"}}{{with .Shop}} · {{.}}{{end}}</title>
<style>
*{box-sizing:border-box}
body{margin:0;background:#f3f4f6;color:#1f2937;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif}
header{background:#1f2937;color:#e5e7eb}
header .bar{max-width:72rem;margin:0 auto;padding:.6rem 1rem;display:flex;gap:1.25rem;align-items:center;flex-wrap:wrap}
header a{color:#e5e7eb;text-decoration:none;font-weight:600}
header a:hover{text-decoration:underline}
header .brand{font-weight:700;color:#fff}
header .who{margin-left:auto;color:#9ca3af;font-size:.85rem}
.wrap{max-width:72rem;margin:0 auto;padding:1.25rem 1rem}
.card{background:#fff;border-radius:10px;box-shadow:0 1px 3px rgba(0,0,0,.08);padding:1.25rem;margin-bottom:1rem}
h1{margin:0 0 .75rem;font-size:1.4rem;line-height:1.25}
h2{margin:0 0 .6rem;font-size:1.1rem}
p{margin:.6rem 0}
a{color:#1d4ed8}
.muted{color:#6b7280;font-size:.9rem}
table{width:100%;border-collapse:collapse}
th,td{padding:.45rem .4rem;border-bottom:1px solid #e5e7eb;text-align:left;vertical-align:top}
th{color:#6b7280;font-weight:600;font-size:.85rem;white-space:nowrap}
td.when{white-space:nowrap;font-variant-numeric:tabular-nums;color:#4b5563}
.num{text-align:right;white-space:nowrap}
.tabs{display:flex;flex-wrap:wrap;gap:.4rem;margin:0 0 1rem;padding:0;list-style:none}
.tabs a{display:inline-block;padding:.3rem .7rem;border-radius:999px;background:#e5e7eb;color:#1f2937;text-decoration:none;font-size:.9rem}
.tabs a.current{background:#1f2937;color:#fff}
form.search{display:flex;gap:.5rem;margin:0 0 1rem}
form.search input{flex:1;padding:.45rem .6rem;border:1px solid #d1d5db;border-radius:6px;font:inherit}
button,.button{display:inline-block;padding:.5rem .9rem;border:0;border-radius:6px;background:#1d4ed8;color:#fff;font:inherit;font-weight:600;cursor:pointer;text-decoration:none}
button:hover,.button:hover{background:#1e40af}
.button.secondary{background:#4b5563}
.pill{display:inline-block;padding:.05rem .5rem;border-radius:999px;font-size:.8rem;font-weight:600;background:#e5e7eb;white-space:nowrap}
.stage-failed{background:#fee2e2;color:#991b1b}
.stage-completed{background:#d1fae5;color:#065f46}
.stage-enrolling{background:#dbeafe;color:#1e40af}
.stage-awaiting-confirmation{background:#fef3c7;color:#92400e}
.stage-unenrolled{background:#ede9fe;color:#5b21b6}
.reason{color:#991b1b}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.3rem 1rem;margin:0}
dt{color:#6b7280}dd{margin:0;overflow-wrap:anywhere}
pre{white-space:pre-wrap;margin:.3rem 0 0;font:inherit;font-size:.9rem;background:#f9fafb;padding:.4rem .6rem;border-radius:6px}
.actions{display:flex;gap:.6rem;flex-wrap:wrap}
.pager{display:flex;justify-content:space-between;margin-top:.75rem}
footer{color:#9ca3af;font-size:.8rem;text-align:center;margin:1rem 0}
@media (max-width:40rem){dl{grid-template-columns:1fr}.hide-narrow{display:none}}
</style>
</head>
<body>
<header><div class="bar">
<span class="brand">{{.T.T "title"}}{{with .Shop}} · {{.}}{{end}}</span>
<a id="nav-orders" href="{{.Base}}">{{.T.T "nav.orders"}}</a>
<a id="nav-health" href="{{.Base}}?p=health">{{.T.T "nav.health"}}</a>
{{if .Operator}}<span class="who" id="operator">{{if .Local}}{{.T.T "operator.local" .Operator}}{{else}}{{.T.T "operator" .Operator}}{{end}}</span>{{end}}
</div></header>
<div class="wrap">
<main id="{{.Kind}}">
{{if eq .Kind "orders"}}{{template "orders" .}}
{{else if eq .Kind "order"}}{{template "order" .}}
{{else if eq .Kind "health"}}{{template "health" .}}
{{else if or (eq .Kind "retry") (eq .Kind "resend")}}{{template "confirm" .}}
{{else if eq .Kind "result"}}{{template "result" .}}
{{else}}<div class="card"><h1 id="title">{{.Title}}</h1><p id="message">{{.Message}}</p></div>{{end}}
</main>
<footer>{{.T.T "footer"}}</footer>
</div>
</body>
</html>{{end}}

{{define "orders"}}{{$T := .T}}{{with .List}}
<div class="card">
<h1 id="title">{{$T.T "list.title"}}</h1>
<form class="search" method="get" action="{{$.Base}}" role="search">
<input type="search" id="q" name="q" value="{{.Search}}" placeholder="{{$T.T "list.search"}}" aria-label="{{$T.T "list.search"}}">
<button type="submit" id="search">{{$T.T "list.searchBtn"}}</button>
</form>
<ul class="tabs">{{range .Tabs}}<li><a {{if .Stage}}id="stage-{{.Stage}}"{{else}}id="stage-all"{{end}} href="{{.Href}}"{{if .Current}} class="current" aria-current="page"{{end}}>{{.Label}}</a></li>{{end}}</ul>
{{if .Searching}}<p class="muted">{{$T.T "list.searchNote"}} <strong>{{.Search}}</strong> · <a href="{{$.Base}}">{{$T.T "list.clear"}}</a></p>{{end}}
{{if .Rows}}
<table id="orders">
<thead><tr><th>{{$T.T "list.order"}}</th><th>{{$T.T "list.date"}}</th><th>{{$T.T "list.buyer"}}</th><th>{{$T.T "list.status"}}</th><th>{{$T.T "list.stage"}}</th><th class="hide-narrow">{{$T.T "list.courses"}}</th></tr></thead>
<tbody>
{{range .Rows}}<tr id="order-{{.ID}}" data-stage="{{.StageKey}}">
<td><a class="order-link" href="{{.Href}}">#{{.Number}}</a></td>
<td class="when">{{.Created}}</td>
<td>{{.Buyer}}<br><span class="muted">{{.Email}}</span></td>
<td>{{.Status}}</td>
<td><span class="pill stage-{{.StageKey}}">{{.Stage}}</span>{{with .Reason}}<div class="reason">{{.}}</div>{{end}}</td>
<td class="hide-narrow">{{.CoursesText}}</td>
</tr>
{{end}}</tbody>
</table>
{{else}}<p id="empty" class="muted">{{$T.T "list.none"}}</p>{{end}}
<div class="pager"><span>{{with .Newest}}<a id="newest" href="{{.}}">{{$T.T "list.newest"}}</a>{{end}}</span><span>{{with .Older}}<a id="older" href="{{.}}">{{$T.T "list.older"}}</a>{{end}}</span></div>
{{if or .Stage .Searching}}<p class="muted">{{$T.T "list.notIndexed"}}</p>{{end}}
</div>
{{end}}{{end}}

{{define "order"}}{{$T := .T}}{{with .Order}}
<div class="card">
<h1 id="title">{{$.Title}}</h1>
<dl id="summary">
<dt>{{$T.T "order.stage"}}</dt><dd><span id="stage" class="pill stage-{{.StageKey}}">{{.Stage}}</span></dd>
{{with .Reason}}<dt>{{$T.T "order.failedWhy"}}</dt><dd id="reason" class="reason">{{.}}</dd>{{end}}
<dt>{{$T.T "order.status"}}</dt><dd id="status">{{.Status}}{{with .ShopLink}} · <a href="{{.}}" rel="noreferrer">{{$T.T "order.inShop"}}</a>{{end}}</dd>
<dt>{{$T.T "order.buyer"}}</dt><dd id="buyer">{{.Buyer}} · <span id="buyer-email">{{.Email}}</span></dd>
<dt>{{$T.T "order.total"}}</dt><dd>{{.Total}}</dd>
<dt>{{$T.T "order.payment"}}</dt><dd>{{.Payment}}</dd>
<dt>{{$T.T "order.created"}}</dt><dd>{{.Created}}</dd>
<dt>{{$T.T "order.paid"}}</dt><dd id="paid">{{.Paid}}</dd>
{{with .Confirmed}}<dt>{{$T.T "order.confirmed"}}</dt><dd id="confirmed">{{.}}</dd>{{end}}
</dl>
{{with .Trimmed}}<p class="muted">{{.}}</p>{{end}}
</div>
<div class="card" id="actions">
<h2>{{$T.T "order.actions"}}</h2>
{{if or .CanRetry .CanResend}}<div class="actions">
{{if .CanRetry}}<a class="button" id="retry" href="{{.RetryHref}}">{{$T.T "order.retry"}}</a>{{end}}
{{if .CanResend}}<a class="button" id="resend" href="{{.ResendHref}}">{{$T.T "order.resend"}}</a>{{end}}
</div>{{else}}<p class="muted" id="no-actions">{{$T.T "order.noActions"}}</p>{{end}}
</div>
<div class="card">
<h2>{{$T.T "order.courses"}}</h2>
{{if .Lines}}<table id="lines">
<thead><tr><th>{{$T.T "order.course"}}</th><th>{{$T.T "order.product"}}</th><th>{{$T.T "order.mode"}}</th><th>{{$T.T "order.state"}}</th><th class="num">{{$T.T "order.attempts"}}</th><th>{{$T.T "order.reason"}}</th></tr></thead>
<tbody>
{{range .Lines}}<tr data-state="{{.StateKey}}"><td>{{.Course}}</td><td>{{.Product}}</td><td>{{.Mode}}</td><td>{{.State}}{{with .Enrolled}}<div class="muted">{{.}}</div>{{end}}</td><td class="num">{{.Attempts}}</td><td class="reason">{{.Reason}}</td></tr>
{{end}}</tbody>
</table>{{else}}<p class="muted">{{$T.T "order.noCourses"}}</p>{{end}}
</div>
<div class="card">
<h2>{{$T.T "order.timeline"}}</h2>
<table id="timeline">
<thead><tr><th>{{$T.T "order.when"}}</th><th>{{$T.T "order.what"}}</th><th>{{$T.T "order.detail"}}</th></tr></thead>
<tbody>
{{range .Timeline}}<tr data-kind="{{.Kind}}"><td class="when">{{.When}}</td><td>{{.What}}</td><td>{{.Detail}}{{with .Text}}<pre>{{.}}</pre>{{end}}</td></tr>
{{end}}</tbody>
</table>
{{if .EventsCut}}<p class="muted">{{$T.T "order.eventsCut" 1000}}</p>{{end}}
</div>
{{end}}{{end}}

{{define "health"}}{{$T := .T}}{{with .Health}}
<div class="card" id="sweep">
<h1 id="title">{{$.Title}}</h1>
<h2>{{$T.T "health.sweep"}}</h2>
{{if .Rows}}<dl>{{range .Rows}}<dt>{{index . 0}}</dt><dd>{{index . 1}}</dd>{{end}}</dl>{{else}}<p class="muted" id="sweep-never">{{$T.T "health.never"}}</p>{{end}}
</div>
<div class="card" id="incidents">
<h2>{{$T.T "health.incidents"}}</h2>
{{if .IncRows}}<table><thead><tr><th>{{$T.T "health.since"}}</th><th>{{$T.T "health.problem"}}</th></tr></thead><tbody>
{{range .IncRows}}<tr><td class="when">{{index . 0}}</td><td>{{index . 1}}</td></tr>{{end}}
</tbody></table>{{else}}<p class="muted">{{$T.T "health.noIncidents"}}</p>{{end}}
</div>
<div class="card" id="outbox">
<h2>{{$T.T "health.outbox"}}</h2>
<p id="outbox-state">{{if .OutboxText}}{{.OutboxText}}{{else}}{{$T.T "health.outboxEmpty"}}{{end}}</p>
</div>
<div class="card" id="dead-letters">
<h2>{{$T.T "health.dead"}}</h2>
{{if .DeadRows}}<table><thead><tr><th>{{$T.T "list.order"}}</th><th>{{$T.T "health.job"}}</th><th class="num">{{$T.T "health.attempts"}}</th><th>{{$T.T "order.when"}}</th><th>{{$T.T "health.lastRun"}}</th></tr></thead><tbody>
{{range .DeadRows}}<tr><td><a href="{{$.Base}}{{.Href}}">#{{.OrderID}}</a></td><td>{{.Job}} ({{.Kind}})</td><td class="num">{{.Attempts}}</td><td class="when">{{.At}}</td><td>{{.Outcome}}{{with .Error}}<div class="muted">{{.}}</div>{{end}}</td></tr>{{end}}
</tbody></table>{{else}}<p class="muted">{{$T.T "health.deadNone"}}</p>{{end}}
<p class="muted">{{$T.T "health.deadNote"}}</p>
</div>
{{end}}{{end}}

{{define "confirm"}}{{$T := .T}}{{with .Action}}
<div class="card">
<h1 id="title">{{.ConfirmTitle}}</h1>
<p id="lead">{{.Lead}}</p>
{{if .Failed}}<table id="failed-lines"><thead><tr><th>{{$T.T "order.course"}}</th><th>{{$T.T "order.product"}}</th><th class="num">{{$T.T "order.attempts"}}</th><th>{{$T.T "order.reason"}}</th></tr></thead><tbody>
{{range .Failed}}<tr><td>{{.Course}}</td><td>{{.LineName}}</td><td class="num">{{.Attempts}}</td><td class="reason">{{.Reason}}</td></tr>{{end}}
</tbody></table>{{end}}
<p class="muted" id="by">{{$T.T "act.by" $.Operator}}</p>
<form method="post" action="{{$.Base}}" class="actions">
<input type="hidden" name="action" value="{{.Kind}}">
<input type="hidden" name="id" value="{{.ID}}">
<input type="hidden" name="key" value="{{.Key}}">
<button type="submit" id="do">{{.Button}}</button>
<a class="button secondary" id="back" href="{{$.Base}}?p=order&amp;id={{.ID}}">{{.Back}}</a>
</form>
</div>
{{end}}{{end}}

{{define "result"}}{{with .Action}}
<div class="card" data-state="{{.StateKey}}">
<h1 id="title">{{.ResultTitle}}</h1>
<p id="result">{{.Result}}</p>
{{with .Recorded}}<p class="muted" id="recorded">{{.}}</p>{{end}}
<p><a class="button" id="back" href="{{$.Base}}?p=order&amp;id={{.ID}}">{{.Back}}</a></p>
</div>
{{end}}{{end}}
`))
