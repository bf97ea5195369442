package woocommerce

import (
	"context"
	"time"

	"github.com/aulasneo/wc-openedx/internal/enrollment"
)

// The sweep's view of the shop (SPEC §2.7): the order listing and the webhooks, in the
// domain's types.

var _ enrollment.ShopAdmin = (*Client)(nil)

// OrdersModifiedAfter implements enrollment.ShopAdmin with ListOrders.
func (c *Client) OrdersModifiedAfter(ctx context.Context, t time.Time, page, perPage int) ([]enrollment.ShopOrder, int, error) {
	raws, total, err := c.ListOrders(ctx, t, page, perPage)
	if err != nil {
		return nil, 0, err
	}
	out := make([]enrollment.ShopOrder, len(raws))
	for i, r := range raws {
		out[i] = enrollment.ShopOrder{Order: r.Order, Raw: r.Raw, Ref: r.Ref}
		if r.Err != nil {
			out[i].Unreadable = enrollment.TextOf(r.Err)
		}
	}
	return out, total, nil
}

// Webhooks implements enrollment.ShopAdmin with ListWebhooks.
func (c *Client) Webhooks(ctx context.Context) ([]enrollment.Webhook, error) {
	hooks, err := c.ListWebhooks(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]enrollment.Webhook, len(hooks))
	for i, h := range hooks {
		out[i] = enrollment.Webhook{ID: h.ID, Name: h.Name, Status: h.Status, Topic: h.Topic, DeliveryURL: h.DeliveryURL}
	}
	return out, nil
}
