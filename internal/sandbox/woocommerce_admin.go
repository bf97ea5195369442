package sandbox

import (
	"bytes"
	"crypto/subtle"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The shop's order admin, for people trying the service by hand (function/cmd/dev): one page
// that lists the orders, each with its lines, its notes, and the status field and Update
// button of WooCommerce's order edit screen.
//
//	GET  /wp-admin/admin.php?page=wc-orders                     every order, newest first
//	GET  /wp-admin/admin.php?page=wc-orders&action=edit&id=N    one order
//	POST /wp-admin/admin.php?page=wc-orders&action=edit&id=N    save it: order_status=wc-…
//
// The URLs are those of WooCommerce's order screens with its own order tables (HPOS). The
// form is the edit screen's, from plugins/woocommerce/includes/admin/meta-boxes:
// class-wc-meta-box-order-data.php renders the status as <select id="order_status"
// name="order_status"> with the options of wc_get_order_statuses() ("wc-pending" …
// "wc-failed", in that order) and the woocommerce_meta_nonce field; class-wc-meta-box-order-
// actions.php renders the save button, <button type="submit" class="button save_order
// button-primary" name="save" value="Update">Update</button>. Saving
// (WC_Meta_Box_Order_Data::save) refuses a form without order_status (400 "Order status is
// missing."), sets the status as a manual change and saves the order, and saving an order
// fires the Order updated webhook, whether or not the status changed: SetStatus does the
// same. WordPress then redirects (302) back to the screen. The notes are listed newest first,
// as the order notes meta box lists them.
//
// Simplifications: no login (the page is for a local run); one screen for list and edit; an
// unknown status is refused (400) where WooCommerce would fall back to pending; a status
// change adds no "Order status changed" note (see Shop). The page speaks the site's language
// (SetLanguage): WooCommerce's English, or its Spanish (es_ES) labels for the statuses and
// the button.

// shopAdminOrders is the path and query of the orders screen.
const shopAdminOrders = "/wp-admin/admin.php?page=wc-orders"

// shopStatuses are wc_get_order_statuses(), in its order, without the "wc-" prefix.
var shopStatuses = []string{"pending", "processing", "on-hold", "completed", "cancelled", "refunded", "failed"}

// shopAdminWords are the admin's words per site language: WooCommerce's strings and their
// es_ES translations.
var shopAdminWords = map[string]map[string]string{
	"en": {
		"pending": "Pending payment", "processing": "Processing", "on-hold": "On hold", "completed": "Completed",
		"cancelled": "Cancelled", "refunded": "Refunded", "failed": "Failed", "checkout-draft": "Draft",
		"orders": "Orders", "status": "Status:", "update": "Update", "notes": "Order notes",
		"no_notes": "There are no notes yet.", "no_orders": "No orders found.", "updated": "Order updated.",
		"product": "Product", "sku": "SKU", "qty": "Qty", "total": "Total", "date": "Date created:",
		"payment": "Payment via %s", "by": "by %s", "system": "system", "customer_note": "Note to customer",
		"simulated": "Simulated WooCommerce",
		"about":     "Saving an order here does what saving it on WooCommerce's order screen does: it fires the Order updated webhook.",
		"missing":   "Order status is missing.", "bad_status": "Invalid order status.",
		"no_order": "You attempted to edit an item that doesn’t exist. Perhaps it was deleted?",
		"expired":  "The link you followed has expired.", "back": "Back to the orders",
		"not_simulated": "This screen is not simulated: only the orders are (%s).",
	},
	"es": {
		"pending": "Pendiente de pago", "processing": "Procesando", "on-hold": "En espera", "completed": "Completado",
		"cancelled": "Cancelado", "refunded": "Reembolsado", "failed": "Fallido", "checkout-draft": "Borrador",
		"orders": "Pedidos", "status": "Estado:", "update": "Actualizar", "notes": "Notas del pedido",
		"no_notes": "Todavía no hay notas.", "no_orders": "No se han encontrado pedidos.", "updated": "Pedido actualizado.",
		"product": "Producto", "sku": "SKU", "qty": "Cantidad", "total": "Total", "date": "Fecha de creación:",
		"payment": "Pago mediante %s", "by": "por %s", "system": "el sistema", "customer_note": "Nota para el cliente",
		"simulated": "WooCommerce simulado",
		"about":     "Guardar un pedido aquí hace lo mismo que guardarlo en la pantalla de pedidos de WooCommerce: dispara el webhook «Pedido actualizado».",
		"missing":   "Falta el estado del pedido.", "bad_status": "Estado de pedido no válido.",
		"no_order": "Has intentado editar un elemento que no existe. ¿Quizá se borró?",
		"expired":  "El enlace que has seguido ha caducado.", "back": "Volver a los pedidos",
		"not_simulated": "Esta pantalla no está simulada: solo lo están los pedidos (%s).",
	},
}

// siteLanguage reduces a locale (es, es_AR, es-ES, es_ES.UTF-8) to "es" or "en".
func siteLanguage(locale string) string {
	if l := strings.ToLower(strings.TrimSpace(locale)); strings.HasPrefix(l, "es") {
		return "es"
	}
	return "en"
}

// ShopStatusName is WooCommerce's name of an order status (wc_get_order_status_name) in the
// language of locale: ShopStatusName("es", "on-hold") is "En espera".
func ShopStatusName(locale, status string) string {
	if n, ok := shopAdminWords[siteLanguage(locale)][strings.TrimPrefix(status, "wc-")]; ok {
		return n
	}
	return status
}

// ShopUpdateButton is the label of the order screen's save button in the language of locale:
// "Update", or "Actualizar".
func ShopUpdateButton(locale string) string { return shopAdminWords[siteLanguage(locale)]["update"] }

// SetLanguage sets the site language (WordPress's WPLANG: es, es_ES, en_US…) of the admin
// pages.
func (s *Shop) SetLanguage(locale string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lang = siteLanguage(locale)
}

// AdminOrdersURL is the address of the orders screen.
func (s *Shop) AdminOrdersURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.homeLocked() + shopAdminOrders
}

// serveAdmin answers /wp-admin/.
func (s *Shop) serveAdmin(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	lang := s.lang
	if lang == "" {
		lang = "en"
	}
	if s.adminNonce == "" {
		s.adminNonce = shopRandomAlnum(10) // wp_create_nonce gives 10 characters
	}
	nonce := s.adminNonce
	s.mu.Unlock()
	words := shopAdminWords[lang]
	q := r.URL.Query()
	if r.URL.Path != "/wp-admin/admin.php" || q.Get("page") != "wc-orders" {
		shopAdminMessage(w, http.StatusNotFound, lang, fmt.Sprintf(words["not_simulated"], shopAdminOrders))
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	var id int64
	if q.Get("action") == "edit" {
		n, err := strconv.ParseInt(q.Get("id"), 10, 64)
		if _, ok := s.Order(n); err != nil || !ok {
			shopAdminMessage(w, http.StatusNotFound, lang, words["no_order"])
			return
		}
		id = n
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		updated, _ := strconv.ParseInt(q.Get("updated"), 10, 64)
		s.renderOrders(w, lang, nonce, id, updated)
	case http.MethodPost:
		if id == 0 {
			shopAdminMessage(w, http.StatusBadRequest, lang, words["no_order"])
			return
		}
		if err := r.ParseForm(); err != nil {
			shopAdminMessage(w, http.StatusBadRequest, lang, err.Error())
			return
		}
		if subtle.ConstantTimeCompare([]byte(r.PostForm.Get("woocommerce_meta_nonce")), []byte(nonce)) != 1 {
			shopAdminMessage(w, http.StatusForbidden, lang, words["expired"]) // wp_nonce_ays
			return
		}
		raw, ok := r.PostForm["order_status"]
		if !ok {
			shopAdminMessage(w, http.StatusBadRequest, lang, words["missing"])
			return
		}
		status := strings.TrimPrefix(raw[0], "wc-")
		if cur, _ := s.Order(id); !slices.Contains(shopStatuses, status) && status != cur.Status {
			shopAdminMessage(w, http.StatusBadRequest, lang, words["bad_status"])
			return
		}
		s.SetStatus(id, status)
		back := shopAdminOrders + "&updated=" + strconv.FormatInt(id, 10) + "#order-" + strconv.FormatInt(id, 10)
		http.Redirect(w, r, back, http.StatusFound)
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		shopAdminMessage(w, http.StatusMethodNotAllowed, lang, http.StatusText(http.StatusMethodNotAllowed))
	}
}

// shopAdminOrder is one order as the screen shows it.
type shopAdminOrder struct {
	OrderState
	StatusName string
	Created    string
	Total      string
	Action     string // the form's URL
	Options    []shopAdminOption
	Notes      []shopAdminNote
	Updated    bool
}

type shopAdminNote struct {
	ID                        int64
	Text, Author, When        string
	CustomerNote, AddedByUser bool
}

func (s *Shop) renderOrders(w http.ResponseWriter, lang, nonce string, only, updated int64) {
	s.mu.Lock()
	var list []OrderState
	for id, o := range s.orders {
		if (only == 0 || id == only) && o.Status != "trash" {
			list = append(list, o.clone())
		}
	}
	loc := s.loc
	s.mu.Unlock()
	slices.SortFunc(list, func(a, b OrderState) int { // date desc, then id desc, as the list
		if c := b.Created.Compare(a.Created); c != 0 {
			return c
		}
		return int(b.ID - a.ID)
	})
	words := shopAdminWords[lang]
	when := func(t time.Time) string { return t.In(loc).Format("2006-01-02 15:04") }
	orders := make([]shopAdminOrder, 0, len(list))
	for _, o := range list {
		v := shopAdminOrder{
			OrderState: o, StatusName: ShopStatusName(lang, o.Status), Created: when(o.Created),
			Action:  shopAdminOrders + "&action=edit&id=" + strconv.FormatInt(o.ID, 10),
			Updated: o.ID == updated,
		}
		var total float64
		for _, l := range o.Lines {
			t, _ := strconv.ParseFloat(l.Total, 64)
			total += t
		}
		v.Total = strconv.FormatFloat(total, 'f', 2, 64) + " " + o.Currency
		// The statuses of wc_get_order_statuses(), and the order's own when it is another one
		// (a draft), so that saving without touching the field keeps it.
		if !slices.Contains(shopStatuses, o.Status) {
			v.Options = append(v.Options, shopAdminOption{Value: "wc-" + o.Status, Label: v.StatusName, Selected: true})
		}
		for _, st := range shopStatuses {
			v.Options = append(v.Options, shopAdminOption{Value: "wc-" + st, Label: words[st], Selected: st == o.Status})
		}
		for i := len(o.Notes) - 1; i >= 0; i-- {
			n := o.Notes[i]
			v.Notes = append(v.Notes, shopAdminNote{ID: n.ID, Text: n.Note, Author: n.Author, When: when(n.Date),
				CustomerNote: n.CustomerNote, AddedByUser: n.AddedByUser})
		}
		orders = append(orders, v)
	}
	var buf bytes.Buffer
	err := shopAdminPage.Execute(&buf, map[string]any{
		"Lang": lang, "W": words, "Orders": orders, "Nonce": nonce, "One": only != 0,
		"List": shopAdminOrders,
	})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=UTF-8")
	_, _ = buf.WriteTo(w)
}

// shopAdminOption is one option of the status field.
type shopAdminOption struct {
	Value, Label string
	Selected     bool
}

// shopAdminMessage is a wp_die page.
func shopAdminMessage(w http.ResponseWriter, status int, lang, msg string) {
	var buf bytes.Buffer
	_ = shopAdminPage.ExecuteTemplate(&buf, "message", map[string]any{
		"Lang": lang, "W": shopAdminWords[lang], "Message": msg, "List": shopAdminOrders,
	})
	w.Header().Set("Content-Type", "text/html; charset=UTF-8")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

var shopAdminPage = template.Must(template.New("orders").Parse(`{{define "head"}}<!DOCTYPE html>
<html lang="{{.Lang}}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.W.orders}} ‹ {{.W.simulated}}</title>
<style>
body{margin:0;background:#f0f0f1;color:#1d2327;font:14px/1.5 -apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,Oxygen-Sans,Ubuntu,Cantarell,"Helvetica Neue",sans-serif}
#wpadminbar{background:#1d2327;color:#f0f0f1;padding:8px 20px;font-size:13px}#wpadminbar a{color:#f0f0f1;text-decoration:none;font-weight:600}
.wrap{max-width:960px;margin:0 auto;padding:10px 20px 40px}
h1{font-size:23px;font-weight:400;margin:16px 0 8px}
.about{color:#50575e;margin:0 0 16px}
.notice{background:#fff;border-left:4px solid #00a32a;box-shadow:0 1px 1px rgba(0,0,0,.04);padding:8px 12px;margin:0 0 16px}
.notice-error{border-left-color:#d63638}
.order{background:#fff;border:1px solid #c3c4c7;box-shadow:0 1px 1px rgba(0,0,0,.04);margin:0 0 20px;padding:0 16px 12px}
.order.updated{border-color:#2271b1;box-shadow:0 0 0 1px #2271b1}
.order>header{display:flex;align-items:center;gap:12px;flex-wrap:wrap}
.order h2{font-size:18px;font-weight:600;margin:14px 0 10px}
.meta{color:#50575e;margin:0 0 10px}
mark.order-status{display:inline-flex;border-radius:4px;padding:0 .8em;line-height:2.4;background:#e5e5e5;color:#454545}
mark.status-processing{background:#c6e1c6;color:#2c4700}
mark.status-completed{background:#c8d7e1;color:#003d66}
mark.status-on-hold{background:#f8dda7;color:#573b00}
mark.status-failed{background:#eba3a3;color:#570000}
mark.status-cancelled,mark.status-refunded,mark.status-pending{background:#e5e5e5;color:#454545}
table.items{width:100%;border-collapse:collapse;margin:0 0 12px}
.items th,.items td{text-align:left;padding:6px 8px;border-bottom:1px solid #f0f0f1}.items th{color:#50575e;font-weight:600}
.items td.num,.items th.num{text-align:right}
code{font-size:12px;background:#f6f7f7;padding:1px 4px}
form.status{display:flex;align-items:center;gap:8px;margin:0 0 12px}
select{min-height:30px;font:inherit;padding:0 24px 0 8px;border:1px solid #8c8f94;border-radius:3px;background:#fff}
.button-primary{min-height:32px;padding:0 12px;border:1px solid #2271b1;border-radius:3px;background:#2271b1;color:#fff;font:inherit;cursor:pointer}
.button-primary:hover,.button-primary:focus{background:#135e96;border-color:#135e96}
h3{font-size:14px;margin:12px 0 6px}
ul.order_notes{list-style:none;margin:0;padding:0}
li.note{margin:0 0 10px}
.note_content{background:#efefef;padding:10px 12px;white-space:pre-wrap;word-break:break-word;position:relative}
li.customer-note .note_content{background:#a7cedc}
li.note p.meta{font-size:12px;color:#787c82;margin:4px 0 0}
.empty{color:#787c82}
</style></head><body><div id="wpadminbar"><a href="{{.List}}">{{.W.simulated}}</a></div><div class="wrap">{{end}}

{{define "foot"}}</div></body></html>{{end}}

{{define "message"}}{{template "head" .}}<div class="notice notice-error" id="message"><p>{{.Message}}</p></div>
<p><a href="{{.List}}">{{.W.back}}</a></p>{{template "foot"}}{{end}}

{{template "head" .}}
<h1>{{.W.orders}}</h1>
<p class="about">{{.W.about}}</p>
{{range .Orders}}{{if .Updated}}<div class="notice" id="message"><p>{{$.W.updated}}</p></div>{{end}}{{end}}
{{if .One}}<p><a href="{{.List}}">{{.W.back}}</a></p>{{end}}
{{range .Orders}}
<section class="order{{if .Updated}} updated{{end}}" id="order-{{.ID}}" data-status="{{.Status}}">
<header><h2><a href="{{.Action}}">#{{.Number}} {{.FirstName}} {{.LastName}}</a></h2>
<mark class="order-status status-{{.Status}}"><span>{{.StatusName}}</span></mark></header>
<p class="meta">{{$.W.date}} {{.Created}}{{if .PaymentMethodTitle}} · {{printf $.W.payment .PaymentMethodTitle}}{{if .TransactionID}} ({{.TransactionID}}){{end}}{{end}}</p>
<table class="items"><thead><tr><th>{{$.W.product}}</th><th>{{$.W.sku}}</th><th class="num">{{$.W.qty}}</th><th class="num">{{$.W.total}}</th></tr></thead><tbody>
{{range .Lines}}<tr><td>{{.Name}}</td><td>{{if .SKU}}<code>{{.SKU}}</code>{{end}}</td><td class="num">{{.Quantity}}</td><td class="num">{{.Total}}</td></tr>
{{end}}<tr><th colspan="3">{{$.W.total}}</th><td class="num">{{.Total}}</td></tr></tbody></table>
<form class="status" method="post" action="{{.Action}}">
<input type="hidden" name="woocommerce_meta_nonce" value="{{$.Nonce}}">
<label for="order_status-{{.ID}}">{{$.W.status}}</label>
<select id="order_status-{{.ID}}" name="order_status">
{{range .Options}}<option value="{{.Value}}"{{if .Selected}} selected{{end}}>{{.Label}}</option>
{{end}}</select>
<button type="submit" class="button save_order button-primary" name="save" value="{{$.W.update}}">{{$.W.update}}</button>
</form>
<h3>{{$.W.notes}}</h3>
{{if .Notes}}<ul class="order_notes">
{{range .Notes}}<li class="note{{if .CustomerNote}} customer-note{{else if not .AddedByUser}} system-note{{end}}" rel="{{.ID}}"><div class="note_content">{{.Text}}</div>
<p class="meta">{{.When}} {{if .AddedByUser}}{{printf $.W.by .Author}}{{else}}{{printf $.W.by $.W.system}}{{end}}{{if .CustomerNote}} · {{$.W.customer_note}}{{end}}</p></li>
{{end}}</ul>{{else}}<p class="empty">{{$.W.no_notes}}</p>{{end}}
</section>
{{else}}<p class="empty">{{.W.no_orders}}</p>
{{end}}
{{template "foot"}}`))
