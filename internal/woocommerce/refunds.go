package woocommerce

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"

	"github.com/aulasneo/wc-openedx/internal/enrollment"
)

// refundJSON is a refund as GET /wc/v3/orders/{id}/refunds shows it. Its line items are
// copies of the order's lines with negative quantities; WooCommerce records which order line
// each refunds in the `_refunded_item_id` meta (wc_create_refund). Fields are read as
// liberally as orders (OrderPayload): a decimal-quantity plugin makes the quantities floats.
type refundJSON struct {
	ID        json.RawMessage `json:"id"`
	LineItems json.RawMessage `json:"line_items"`
}

type refundLineJSON struct {
	ProductID json.RawMessage `json:"product_id"`
	Quantity  json.RawMessage `json:"quantity"`
	MetaData  json.RawMessage `json:"meta_data"`
}

// OrderRefunds implements enrollment.Shop: the refunds of an order with their lines. A
// refunded quantity that is not a whole number is rounded up, as the order's line quantities
// are (LineItem.Quantity).
func (c *Client) OrderRefunds(ctx context.Context, orderID int64) ([]enrollment.RefundDetail, error) {
	body, _, err := c.do(ctx, http.MethodGet, orderPath(orderID)+"/refunds", url.Values{"per_page": {"100"}}, nil)
	if err != nil {
		return nil, fmt.Errorf("get refunds of order %d: %w", orderID, err)
	}
	var refunds []json.RawMessage
	if err := json.Unmarshal(body, &refunds); err != nil {
		return nil, enrollment.Permanent(fmt.Errorf("get refunds of order %d: unreadable answer: %w", orderID, err))
	}
	out := make([]enrollment.RefundDetail, 0, len(refunds))
	for _, raw := range refunds {
		var r refundJSON
		if json.Unmarshal(raw, &r) != nil {
			continue
		}
		d := enrollment.RefundDetail{}
		d.ID, _ = jsonInt(r.ID)
		for _, lraw := range elements(r.LineItems) {
			var li refundLineJSON
			if json.Unmarshal(lraw, &li) != nil {
				continue
			}
			rl := enrollment.RefundedLine{}
			rl.ProductID, _ = jsonInt(li.ProductID)
			if q, ok := jsonDecimal(li.Quantity); ok && math.Abs(q) <= math.MaxInt32 {
				rl.Quantity = int(math.Ceil(math.Abs(q)))
			}
			for _, mraw := range elements(li.MetaData) {
				var m struct {
					Key   json.RawMessage `json:"key"`
					Value json.RawMessage `json:"value"`
				}
				if json.Unmarshal(mraw, &m) != nil || text(m.Key) != "_refunded_item_id" {
					continue
				}
				rl.LineID, _ = jsonInt(m.Value)
			}
			d.Lines = append(d.Lines, rl)
		}
		out = append(out, d)
	}
	return out, nil
}
