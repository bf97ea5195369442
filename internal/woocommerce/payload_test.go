package woocommerce

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aulasneo/wc-openedx/internal/enrollment"
	"github.com/aulasneo/wc-openedx/internal/i18n"
	"github.com/aulasneo/wc-openedx/internal/sandbox"
)

// Shops run plugins that retype the order's fields (SPEC §2.1): each body below has a numeric
// id, so it is an order, whatever the rest holds; only what a decision needs is interpreted.
func TestParseOrderIsLiberal(t *testing.T) {
	t.Parallel()
	const course = `"sku":"course-v1:ExampleX+PY101+2024_T4"`
	tests := []struct {
		name  string
		body  string
		check func(t *testing.T, o *enrollment.Order)
	}{
		{"decimal quantity (woocommerce_stock_amount → floatval)",
			`{"id":727,"line_items":[{"id":315,"quantity":1.5,` + course + `},{"id":316,"quantity":2,"sku":"shirt"}]}`,
			func(t *testing.T, o *enrollment.Order) {
				if l := o.Lines[0]; l.Quantity != 2 || l.QuantityText != "1.5" || l.DisplayQuantity() != "1.5" || l.Unreadable != "" {
					t.Errorf("line 1.5: %+v", l)
				}
				if l := o.Lines[1]; l.Quantity != 2 || l.DisplayQuantity() != "2" {
					t.Errorf("line 2: %+v", l)
				}
			}},
		{"numbers as strings, strings as numbers",
			`{"id":727,"number":727,"total":149,"line_items":[{"id":"315","product_id":"93","quantity":"1","total":149.5,` + course + `}],"refunds":[{"id":"900","total":-10}]}`,
			func(t *testing.T, o *enrollment.Order) {
				l := o.Lines[0]
				if o.Number != "727" || o.Total != "149" || l.ID != 315 || l.ProductID != 93 || l.Quantity != 1 || l.Total != "149.5" {
					t.Errorf("order %+v", o)
				}
				if len(o.Refunds) != 1 || o.Refunds[0].ID != 900 || o.Refunds[0].Total != "-10" {
					t.Errorf("refunds %+v", o.Refunds)
				}
			}},
		{"nulls where strings were",
			`{"id":727,"number":null,"status":"processing","billing":{"first_name":null,"email":null},"line_items":[{"id":315,"name":null,"quantity":null,"sku":null}]}`,
			func(t *testing.T, o *enrollment.Order) {
				if o.Number != "" || o.DisplayNumber() != "727" || o.Billing.Email != "" || o.Unreadable != "" {
					t.Errorf("order %+v", o)
				}
				if l := o.Lines[0]; l.SKU != "" || l.Unreadable != "" || l.Name != "" {
					t.Errorf("line %+v", l)
				}
			}},
		{"extra keys everywhere, PHP's [] for an empty billing, line_items as an object",
			`{"id":727,"x_plugin":{"a":[1,2]},"billing":[],"line_items":{"0":{"id":315,"x":true,` + course + `},"2":{"id":317,"sku":"mug"}}}`,
			func(t *testing.T, o *enrollment.Order) {
				if len(o.Lines) != 2 || o.Lines[0].ID != 315 || o.Lines[1].ID != 317 || o.Unreadable != "" {
					t.Errorf("order %+v", o)
				}
			}},
		{"a SKU of an odd type is that line's failure",
			`{"id":727,"line_items":[{"id":315,"sku":{"code":"PY101"}},{"id":316,` + course + `},{"id":317,"sku":false},{"id":318,"sku":1234}]}`,
			func(t *testing.T, o *enrollment.Order) {
				if l := o.Lines[0]; l.Unreadable == "" || !strings.Contains(l.Unreadable.In(i18n.English), "SKU") || l.SKU != `{"code":"PY101"}` {
					t.Errorf("odd SKU line %+v", l)
				}
				for _, l := range o.Lines[1:] {
					if l.Unreadable != "" {
						t.Errorf("line %d unreadable: %s", l.ID, l.Unreadable)
					}
				}
				if o.Lines[2].SKU != "" || o.Lines[3].SKU != "1234" {
					t.Errorf("false SKU %q, number SKU %q", o.Lines[2].SKU, o.Lines[3].SKU)
				}
			}},
		{"an email that is not text: reason without the address",
			`{"id":727,"status":"processing","payment_method":["stripe"],"billing":{"email":{"address":"ana@example.com"}}}`,
			func(t *testing.T, o *enrollment.Order) {
				for _, l := range []i18n.Lang{i18n.English, i18n.Spanish} {
					if why := o.Unreadable.In(l); !strings.Contains(why, "billing.email") || !strings.Contains(why, "payment_method") {
						t.Errorf("Unreadable in %s: %q", l, why)
					}
				}
				if strings.Contains(string(o.Unreadable), "ana@") {
					t.Errorf("the reason holds the email: %q", o.Unreadable)
				}
			}},
		{"dates in other forms; an unreadable date leaves it unset",
			`{"id":727,"date_created":"2024-11-05T09:32:10-05:00","date_created_gmt":"2024-11-05 14:32:10","date_modified_gmt":"yesterday"}`,
			func(t *testing.T, o *enrollment.Order) {
				if !o.DateCreated.Equal(time.Date(2024, 11, 5, 9, 32, 10, 0, time.UTC)) || !o.DateCreatedGMT.Equal(time.Date(2024, 11, 5, 14, 32, 10, 0, time.UTC)) {
					t.Errorf("created %v / %v", o.DateCreated, o.DateCreatedGMT)
				}
				if !o.DateModifiedGMT.IsZero() {
					t.Errorf("modified %v, want unset", o.DateModifiedGMT)
				}
			}},
	}
	// The id stays strict: it is what the delivery is recorded under.
	for _, body := range []string{`{"id":"727"}`, `{"id":null}`, `{"order":{"id":727}}`, `[]`, `"x"`, `not json`} {
		if o, err := ParseOrder([]byte(body)); err == nil {
			t.Errorf("ParseOrder(%s) = %+v, want an error", body, o)
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o, err := ParseOrder([]byte(tt.body))
			if err != nil {
				t.Fatalf("ParseOrder: %v", err)
			}
			if o.ID != 727 {
				t.Fatalf("id %d", o.ID)
			}
			tt.check(t, o)
		})
	}
}

func TestLegacyOrderID(t *testing.T) {
	t.Parallel()
	for body, want := range map[string][2]any{
		`{"order":{"id":727,"order_number":"727"}}`: {int64(727), true},
		`{"order":{"id":"727"}}`:                    {int64(0), true},
		`{"order":{}}`:                              {int64(0), true},
		`{"id":727,"order":{"id":727}}`:             {int64(0), false},
		`{"order":"727"}`:                           {int64(0), false},
		`{"product":{"id":93}}`:                     {int64(0), false},
		`[]`:                                        {int64(0), false},
	} {
		id, ok := LegacyOrderID([]byte(body))
		if id != want[0] || ok != want[1] {
			t.Errorf("LegacyOrderID(%s) = %d, %v; want %v", body, id, ok, want)
		}
	}
}

// An order the client cannot read does not fail the listing: reconciliation must go on.
func TestListOrdersKeepsGoingPastUnreadableOrders(t *testing.T) {
	t.Parallel()
	shop, c := clientStartShop(t, true, Config{})
	a := shop.CreateOrder(clientCourseOrder())
	odd := clientCourseOrder()
	odd.Fields = sandbox.Fields{"id": "1002"}
	bad := shop.CreateOrder(odd)
	dec := clientCourseOrder()
	dec.Lines[0].Fields = sandbox.Fields{"quantity": 1.5, "product_id": "93"}
	b := shop.CreateOrder(dec)

	orders, _, err := c.ListOrders(context.Background(), time.Time{}, 1, 100)
	if err != nil {
		t.Fatalf("ListOrders: %v", err)
	}
	if len(orders) != 3 {
		t.Fatalf("%d orders, want 3", len(orders))
	}
	byRef := map[int64]RawOrder{}
	for _, o := range orders {
		switch {
		case o.Order != nil:
			byRef[o.Order.ID] = o
		case o.Ref == "1002" && o.Err != nil && strings.Contains(o.Err.Error(), `“id”`):
			byRef[bad] = o
		default:
			t.Errorf("entry %+v", o)
		}
	}
	if byRef[a].Order == nil || byRef[b].Order == nil || byRef[bad].Err == nil {
		t.Fatalf("listing %+v", orders)
	}
	if l := byRef[b].Order.Lines[0]; l.QuantityText != "1.5" || l.ProductID != 93 {
		t.Errorf("decimal line %+v", l)
	}
}

// GET /orders/{id}/refunds read as liberally: a decimal-quantity plugin makes the refunded
// quantities floats.
func TestOrderRefundsDecimalQuantities(t *testing.T) {
	t.Parallel()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`[{"id":"901","line_items":[{"product_id":"93","quantity":-1.5,"meta_data":[{"key":"_refunded_item_id","value":315}]}]},` +
			`{"id":902,"line_items":[{"product_id":94,"quantity":"-2","meta_data":[{"key":"_refunded_item_id","value":"316"}]}]}]`))
	}))
	t.Cleanup(srv.Close)
	c := New(Config{BaseURL: srv.URL, ConsumerKey: clientKey, ConsumerSecret: clientSecret, HTTPClient: srv.Client()})
	got, err := c.OrderRefunds(context.Background(), 727)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != 901 || got[0].Lines[0] != (enrollment.RefundedLine{LineID: 315, ProductID: 93, Quantity: 2}) ||
		got[1].Lines[0] != (enrollment.RefundedLine{LineID: 316, ProductID: 94, Quantity: 2}) {
		t.Errorf("refunds %+v", got)
	}
}
