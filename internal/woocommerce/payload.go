package woocommerce

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/aulasneo/wc-openedx/internal/enrollment"
	"github.com/aulasneo/wc-openedx/internal/i18n"
)

// dateLayout is how WooCommerce writes dates (wc_rest_prepare_date_response): no zone. The
// *_gmt fields are UTC; the others are the site's local time.
const dateLayout = "2006-01-02T15:04:05"

// OrderPayload is the v3 order as GET /wc/v3/orders/{id} and the order.* webhooks send it
// (protocols.md A5), read liberally (SPEC §2.1): shops run plugins that retype fields (the
// woocommerce_stock_amount filter makes quantity a float; others write numbers as strings,
// null where a string was, or PHP's [] for an empty object), so every field the service uses
// is kept as raw JSON here and read by Order, which interprets only what a decision needs.
// Only the id must be what WooCommerce writes: a positive JSON integer. The raw body is kept
// by the caller.
type OrderPayload struct {
	ID                 json.RawMessage `json:"id"`
	Number             json.RawMessage `json:"number"`
	Status             json.RawMessage `json:"status"`
	Currency           json.RawMessage `json:"currency"`
	Total              json.RawMessage `json:"total"`
	PaymentMethod      json.RawMessage `json:"payment_method"`
	PaymentMethodTitle json.RawMessage `json:"payment_method_title"`
	DateCreated        json.RawMessage `json:"date_created"`
	DateCreatedGMT     json.RawMessage `json:"date_created_gmt"`
	DateModifiedGMT    json.RawMessage `json:"date_modified_gmt"`
	Billing            json.RawMessage `json:"billing"`
	LineItems          json.RawMessage `json:"line_items"`
	Refunds            json.RawMessage `json:"refunds"`
}

// lineJSON is one element of line_items, its fields as raw JSON (see OrderPayload).
type lineJSON struct {
	ID        json.RawMessage `json:"id"`
	Name      json.RawMessage `json:"name"`
	ProductID json.RawMessage `json:"product_id"`
	Quantity  json.RawMessage `json:"quantity"`
	Total     json.RawMessage `json:"total"`
	SKU       json.RawMessage `json:"sku"`
}

// ErrNoOrderID: the body is JSON but has no numeric "id".
var ErrNoOrderID = errors.New(`no numeric "id"`)

// OrderID reads only the numeric "id" of a body (as order.deleted sends {"id":N}).
func OrderID(body []byte) (int64, error) {
	var v struct {
		ID json.RawMessage `json:"id"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return 0, fmt.Errorf("not JSON: %w", err)
	}
	return numericID(v.ID)
}

// numericID accepts a positive JSON integer literal, not a string holding one.
func numericID(raw json.RawMessage) (int64, error) {
	id, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil || id <= 0 {
		return 0, ErrNoOrderID
	}
	return id, nil
}

// LegacyOrderID recognises the payload of a webhook set to a legacy API version (legacy_v3):
// WC_Webhook::build_payload hands such a webhook to the legacy REST API, whose
// WC_API_Orders::get_order wraps the order as {"order": {...}} with no top-level id. ok is
// true for such a body; id is the wrapped order's id when it is a positive integer, else 0.
func LegacyOrderID(body []byte) (id int64, ok bool) {
	var v struct {
		ID    json.RawMessage `json:"id"`
		Order json.RawMessage `json:"order"`
	}
	if json.Unmarshal(body, &v) != nil || v.ID != nil || !isObject(v.Order) {
		return 0, false
	}
	id, _ = OrderID(v.Order)
	return id, true
}

// ParseOrder decodes a v3 order body into the domain's Order. It fails only on bodies that
// are not JSON objects or that have no positive numeric id; any other field it cannot read is
// left empty, or, when a decision needs it, named in Order.Unreadable or LineItem.Unreadable.
func ParseOrder(body []byte) (*enrollment.Order, error) {
	var p OrderPayload
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, fmt.Errorf("not a WooCommerce order: %w", err)
	}
	return p.Order()
}

// Order converts the payload to the domain's Order (see OrderPayload for how liberally).
func (p *OrderPayload) Order() (*enrollment.Order, error) {
	id, err := numericID(p.ID)
	if err != nil {
		return nil, err
	}
	var odd []string // the fields a decision needs that could not be read
	need := func(name string, raw json.RawMessage) string {
		s, ok := jsonText(raw)
		if !ok {
			// The name only: the value may be personal data (an email inside an object).
			odd = append(odd, name)
		}
		return s
	}
	o := &enrollment.Order{
		ID:                 id,
		Number:             text(p.Number),
		Status:             need("status", p.Status),
		Currency:           text(p.Currency),
		Total:              text(p.Total),
		PaymentMethod:      need("payment_method", p.PaymentMethod),
		PaymentMethodTitle: text(p.PaymentMethodTitle),
		DateCreated:        readDate(p.DateCreated, false),
		DateCreatedGMT:     readDate(p.DateCreatedGMT, true),
		// A date_modified_gmt that cannot be read leaves the delivery undated: it is applied
		// to a new order and counts as older than a stored one.
		DateModifiedGMT: readDate(p.DateModifiedGMT, true),
	}
	var billing struct {
		FirstName json.RawMessage `json:"first_name"`
		LastName  json.RawMessage `json:"last_name"`
		Email     json.RawMessage `json:"email"`
	}
	switch {
	case isObject(p.Billing):
		_ = json.Unmarshal(p.Billing, &billing) // cannot fail on an object
		o.Billing = enrollment.Person{FirstName: text(billing.FirstName), LastName: text(billing.LastName), Email: need("billing.email", billing.Email)}
	case isAbsent(p.Billing) || isEmptyArray(p.Billing):
	default:
		odd = append(odd, "billing")
	}
	if len(odd) > 0 {
		o.Unreadable = i18n.Msg("reason.order_unreadable", strings.Join(odd, ", "))
	}
	for _, raw := range elements(p.LineItems) {
		var lj lineJSON
		if json.Unmarshal(raw, &lj) != nil {
			continue // not an object: no SKU, so no course
		}
		o.Lines = append(o.Lines, lineItem(lj))
	}
	for _, raw := range elements(p.Refunds) {
		var r struct {
			ID     json.RawMessage `json:"id"`
			Reason json.RawMessage `json:"reason"`
			Total  json.RawMessage `json:"total"`
		}
		if json.Unmarshal(raw, &r) != nil {
			continue
		}
		rid, ok := jsonInt(r.ID)
		if !ok || rid <= 0 {
			continue // a refund without an id cannot be told from the others
		}
		o.Refunds = append(o.Refunds, enrollment.Refund{ID: rid, Reason: text(r.Reason), Total: text(r.Total)})
	}
	return o, nil
}

// lineItem reads one line. Its SKU is what tells a course line; a SKU that is neither text,
// a number, null nor false (PHP's "none") cannot be read, and the line fails with the reason.
// The quantity is kept as written when it is not a whole number (a decimal-quantity plugin);
// Quantity is then rounded up, as a part of a unit is still a unit sold.
func lineItem(lj lineJSON) enrollment.LineItem {
	li := enrollment.LineItem{Name: text(lj.Name), Total: text(lj.Total)}
	li.ID, _ = jsonInt(lj.ID)
	li.ProductID, _ = jsonInt(lj.ProductID)
	if q, ok := jsonDecimal(lj.Quantity); ok && q >= 0 && q <= math.MaxInt32 {
		li.Quantity = int(math.Ceil(q))
		if q != math.Trunc(q) {
			li.QuantityText = strconv.FormatFloat(q, 'f', -1, 64)
		}
	} else if s, ok := jsonText(lj.Quantity); ok && s != "" {
		li.QuantityText = s
	}
	sku, ok := jsonText(lj.SKU)
	if !ok && !bytes.Equal(bytes.TrimSpace(lj.SKU), []byte("false")) {
		li.SKU = shortJSON(lj.SKU)
		li.Unreadable = i18n.Msg("reason.sku_unreadable", li.SKU)
		return li
	}
	li.SKU = sku
	return li
}

// ---- reading values a plugin may have retyped ----

func isAbsent(raw json.RawMessage) bool {
	s := bytes.TrimSpace(raw)
	return len(s) == 0 || string(s) == "null"
}

func isObject(raw json.RawMessage) bool {
	s := bytes.TrimSpace(raw)
	return len(s) > 0 && s[0] == '{'
}

// isEmptyArray: PHP's json_encode writes an empty array, also one meant as an object, as [].
func isEmptyArray(raw json.RawMessage) bool {
	return string(bytes.Join(bytes.Fields(raw), nil)) == "[]"
}

// jsonText reads a value meant to be text: a string as it is, a number as written, null or
// absent as "". ok is false for booleans, objects and arrays.
func jsonText(raw json.RawMessage) (string, bool) {
	s := bytes.TrimSpace(raw)
	switch {
	case isAbsent(s):
		return "", true
	case s[0] == '"':
		var v string
		if json.Unmarshal(s, &v) != nil {
			return "", false
		}
		return v, true
	case s[0] == '-' || s[0] >= '0' && s[0] <= '9':
		return string(s), true
	}
	return "", false
}

// text is jsonText for fields only shown to people: what cannot be read is left empty.
func text(raw json.RawMessage) string {
	s, _ := jsonText(raw)
	return s
}

// jsonDecimal reads a number, or a string holding one ("1.5", " 2 "). ok is false for
// anything else, null included.
func jsonDecimal(raw json.RawMessage) (float64, bool) {
	s, ok := jsonText(raw)
	if !ok || s == "" {
		return 0, false
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

// jsonInt reads a whole number written as a number (93, 93.0) or a string ("93"). ok is false
// for anything else, null included (the value is then 0).
func jsonInt(raw json.RawMessage) (int64, bool) {
	f, ok := jsonDecimal(raw)
	if !ok || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, false
	}
	return int64(f), true
}

// elements lists the elements of a JSON array, or the values of an object (PHP writes an
// array whose keys are not 0…n-1, as after a plugin unset one item, as an object). Anything
// else has none.
func elements(raw json.RawMessage) []json.RawMessage {
	var list []json.RawMessage
	if json.Unmarshal(raw, &list) == nil {
		return list
	}
	if !isObject(raw) {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil { // {
		return nil
	}
	for dec.More() {
		if _, err := dec.Token(); err != nil { // key
			return list
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return list
		}
		list = append(list, v)
	}
	return list
}

// shortJSON is raw JSON for a reason or a log line: compact, at most 60 bytes.
func shortJSON(raw json.RawMessage) string {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		b.Reset()
		b.Write(bytes.TrimSpace(raw))
	}
	s := b.String()
	if s == "" {
		return "empty"
	}
	if len(s) > 60 {
		s = s[:57] + "…"
	}
	return s
}

// readDate reads a WooCommerce date (wc_rest_prepare_date_response) and, liberally, the forms
// plugins write instead: RFC 3339 with a zone, or a space for the T. A gmt field is returned in
// UTC; a site-local one keeps its wall clock. The zero time when it cannot be read.
func readDate(raw json.RawMessage, gmt bool) time.Time {
	s, ok := jsonText(raw)
	s = strings.TrimSpace(s)
	if !ok || s == "" {
		return time.Time{}
	}
	for _, layout := range []string{dateLayout, "2006-01-02 15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t
		}
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}
	}
	if gmt {
		return t.UTC()
	}
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), 0, time.UTC)
}
