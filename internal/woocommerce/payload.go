package woocommerce

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aulasneo/wc-openedx/internal/enrollment"
)

// dateLayout is how WooCommerce writes dates (wc_rest_prepare_date_response): no zone. The
// *_gmt fields are UTC; the others are the site's local time.
const dateLayout = "2006-01-02T15:04:05"

// OrderPayload is the v3 order as GET /wc/v3/orders/{id} and the order.* webhooks send it
// (protocols.md A5). Only the fields the service uses are typed; the raw JSON is kept by the
// caller.
type OrderPayload struct {
	ID                 json.RawMessage `json:"id"`
	Number             string          `json:"number"`
	Status             string          `json:"status"`
	Currency           string          `json:"currency"`
	Total              string          `json:"total"`
	PaymentMethod      string          `json:"payment_method"`
	PaymentMethodTitle string          `json:"payment_method_title"`
	DateCreated        *string         `json:"date_created"`
	DateCreatedGMT     *string         `json:"date_created_gmt"`
	DateModifiedGMT    *string         `json:"date_modified_gmt"`
	Billing            struct {
		FirstName string  `json:"first_name"`
		LastName  string  `json:"last_name"`
		Email     *string `json:"email"`
	} `json:"billing"`
	LineItems []struct {
		ID        int64   `json:"id"`
		Name      string  `json:"name"`
		ProductID int64   `json:"product_id"`
		Quantity  int     `json:"quantity"`
		Total     string  `json:"total"`
		SKU       *string `json:"sku"`
	} `json:"line_items"`
	Refunds []struct {
		ID     int64  `json:"id"`
		Reason string `json:"reason"`
		Total  string `json:"total"`
	} `json:"refunds"`
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

// ParseOrder decodes a v3 order body into the domain's Order. It fails on bodies that are
// not JSON objects, that have no positive numeric id, or whose dates are not WooCommerce's.
func ParseOrder(body []byte) (*enrollment.Order, error) {
	var p OrderPayload
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, fmt.Errorf("not a WooCommerce order: %w", err)
	}
	return p.Order()
}

// Order converts the payload to the domain's Order.
func (p *OrderPayload) Order() (*enrollment.Order, error) {
	id, err := numericID(p.ID)
	if err != nil {
		return nil, err
	}
	o := &enrollment.Order{
		ID:                 id,
		Number:             p.Number,
		Status:             p.Status,
		Currency:           p.Currency,
		Total:              p.Total,
		PaymentMethod:      p.PaymentMethod,
		PaymentMethodTitle: p.PaymentMethodTitle,
		Billing: enrollment.Person{
			FirstName: p.Billing.FirstName,
			LastName:  p.Billing.LastName,
			Email:     deref(p.Billing.Email),
		},
	}
	for _, f := range []struct {
		name string
		src  *string
		dst  *time.Time
	}{
		{"date_created", p.DateCreated, &o.DateCreated},
		{"date_created_gmt", p.DateCreatedGMT, &o.DateCreatedGMT},
		{"date_modified_gmt", p.DateModifiedGMT, &o.DateModifiedGMT},
	} {
		if f.src == nil || *f.src == "" {
			continue
		}
		t, err := time.Parse(dateLayout, *f.src)
		if err != nil {
			return nil, fmt.Errorf("%s %q is not a WooCommerce date", f.name, *f.src)
		}
		*f.dst = t
	}
	for _, li := range p.LineItems {
		o.Lines = append(o.Lines, enrollment.LineItem{
			ID: li.ID, Name: li.Name, ProductID: li.ProductID, Quantity: li.Quantity,
			Total: li.Total, SKU: deref(li.SKU),
		})
	}
	for _, r := range p.Refunds {
		o.Refunds = append(o.Refunds, enrollment.Refund{ID: r.ID, Reason: r.Reason, Total: r.Total})
	}
	return o, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
