package woocommerce

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/aulasneo/wc-openedx/internal/enrollment"
)

// refundJSON is a refund as GET /wc/v3/orders/{id}/refunds shows it. Its line items are
// copies of the order's lines with negative quantities; WooCommerce records which order line
// each refunds in the `_refunded_item_id` meta (wc_create_refund).
type refundJSON struct {
	ID        int64 `json:"id"`
	LineItems []struct {
		ProductID int64 `json:"product_id"`
		Quantity  int   `json:"quantity"`
		MetaData  []struct {
			Key   string          `json:"key"`
			Value json.RawMessage `json:"value"`
		} `json:"meta_data"`
	} `json:"line_items"`
}

// OrderRefunds implements enrollment.Shop: the refunds of an order with their lines.
func (c *Client) OrderRefunds(ctx context.Context, orderID int64) ([]enrollment.RefundDetail, error) {
	body, _, err := c.do(ctx, http.MethodGet, orderPath(orderID)+"/refunds", url.Values{"per_page": {"100"}}, nil)
	if err != nil {
		return nil, fmt.Errorf("get refunds of order %d: %w", orderID, err)
	}
	var refunds []refundJSON
	if err := json.Unmarshal(body, &refunds); err != nil {
		return nil, enrollment.Permanent(fmt.Errorf("get refunds of order %d: unreadable answer: %w", orderID, err))
	}
	out := make([]enrollment.RefundDetail, 0, len(refunds))
	for _, r := range refunds {
		d := enrollment.RefundDetail{ID: r.ID}
		for _, li := range r.LineItems {
			rl := enrollment.RefundedLine{ProductID: li.ProductID, Quantity: max(-li.Quantity, li.Quantity)}
			for _, m := range li.MetaData {
				if m.Key != "_refunded_item_id" {
					continue
				}
				var s string
				if json.Unmarshal(m.Value, &s) != nil {
					s = string(m.Value)
				}
				rl.LineID, _ = strconv.ParseInt(s, 10, 64)
			}
			d.Lines = append(d.Lines, rl)
		}
		out = append(out, d)
	}
	return out, nil
}
