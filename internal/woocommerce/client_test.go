package woocommerce

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aulasneo/wc-openedx/internal/enrollment"
	"github.com/aulasneo/wc-openedx/internal/sandbox"
)

const (
	clientKey    = "ck_0123456789abcdef"
	clientSecret = "cs_fedcba9876543210"
)

// clientStartShop runs a sandbox shop over plain http (OAuth) or TLS (Basic) and returns a client
// for it.
func clientStartShop(t *testing.T, useTLS bool, cfg Config) (*sandbox.Shop, *Client) {
	t.Helper()
	shop := sandbox.NewShop(sandbox.ShopConfig{ConsumerKey: clientKey, ConsumerSecret: clientSecret, WebhookSecret: "whsec"})
	var srv *httptest.Server
	if useTLS {
		srv = httptest.NewTLSServer(shop)
	} else {
		srv = httptest.NewServer(shop)
	}
	t.Cleanup(srv.Close)
	shop.SetHomeURL(srv.URL)
	cfg.BaseURL = srv.URL
	if cfg.ConsumerKey == "" {
		cfg.ConsumerKey = clientKey
	}
	if cfg.ConsumerSecret == "" {
		cfg.ConsumerSecret = clientSecret
	}
	cfg.HTTPClient = srv.Client()
	return shop, New(cfg)
}

func clientStr(s string) *string { return &s }

func clientCourseOrder() sandbox.OrderSpec {
	return sandbox.OrderSpec{
		Status: "processing", PaymentMethod: "stripe", PaymentMethodTitle: "Credit / Debit Card",
		FirstName: "Ana", LastName: "García", Email: clientStr("Ana.Garcia@example.com "),
		Lines: []sandbox.LineSpec{
			{Name: "Intro to Python", ProductID: 93, Quantity: 1, Total: "149", SKU: clientStr("course-v1:ExampleX+PY101+2024_T4")},
			{Name: "Deleted product", ProductID: 94, Quantity: 2, Total: "10.5", SKU: nil},
		},
	}
}

func TestOAuthBaseStringIsWooCommerces(t *testing.T) {
	t.Parallel()
	// Built by hand the way check_oauth_signature does: key=value pairs of rawurlencoded parts,
	// each pair rawurlencoded again (so ":" becomes %253A), joined with %26, sorted by key.
	u, _ := url.Parse("http://shop.example.com/sub/wp-json/wc/v3/orders")
	q := url.Values{
		"per_page":               {"100"},
		"modified_after":         {"2024-11-05T14:32:10"},
		"oauth_consumer_key":     {"ck_1"},
		"oauth_nonce":            {"abc"},
		"oauth_signature_method": {"HMAC-SHA256"},
		"oauth_timestamp":        {"1700000000"},
		"search":                 {"a b~c/d"},
	}
	want := "GET&http%3A%2F%2Fshop.example.com%2Fsub%2Fwp-json%2Fwc%2Fv3%2Forders&" +
		"modified_after%3D2024-11-05T14%253A32%253A10%26oauth_consumer_key%3Dck_1%26oauth_nonce%3Dabc%26" +
		"oauth_signature_method%3DHMAC-SHA256%26oauth_timestamp%3D1700000000%26per_page%3D100%26" +
		"search%3Da%2520b~c%252Fd"
	if got := oauthBaseString("get", u, q); got != want {
		t.Errorf("base string\n got %s\nwant %s", got, want)
	}
}

func TestClientOperations(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		tls  bool
	}{{"oauth over http", false}, {"basic over https", true}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			shop, c := clientStartShop(t, tc.tls, Config{})
			id := shop.CreateOrder(clientCourseOrder())

			o, raw, err := c.GetOrderRaw(ctx, id)
			if err != nil {
				t.Fatalf("GetOrderRaw: %v", err)
			}
			if o.ID != id || o.Status != "processing" || o.Billing.LastName != "García" || o.Total != "159.50" {
				t.Errorf("order = %+v", o)
			}
			if len(o.Lines) != 2 || o.Lines[0].SKU != "course-v1:ExampleX+PY101+2024_T4" || o.Lines[1].SKU != "" || o.Lines[0].Total != "149.00" {
				t.Errorf("lines = %+v", o.Lines)
			}
			if o.DateModifiedGMT.IsZero() || o.DateCreatedGMT.IsZero() {
				t.Errorf("dates not parsed: %+v", o)
			}
			if !strings.Contains(string(raw), `\/wp-json\/wc\/v3\/orders\/`) || !strings.Contains(string(raw), `Garc\u00eda`) {
				t.Errorf("raw body is not PHP-encoded: %.300s", raw)
			}
			if _, err := c.GetOrder(ctx, id); err != nil {
				t.Errorf("GetOrder: %v", err)
			}

			if err := c.AddNote(ctx, id, "Enrolled in course-v1:ExampleX+PY101+2024_T4"); err != nil {
				t.Fatalf("AddNote: %v", err)
			}
			notes := shop.Notes(id)
			if len(notes) != 1 || notes[0].Note != "Enrolled in course-v1:ExampleX+PY101+2024_T4" || notes[0].CustomerNote {
				t.Errorf("notes = %+v", notes)
			}

			if err := c.CompleteOrder(ctx, id); err != nil {
				t.Fatalf("CompleteOrder: %v", err)
			}
			if st, _ := shop.Order(id); st.Status != "completed" || st.Completed.IsZero() {
				t.Errorf("after CompleteOrder: status %q completed %v", st.Status, st.Completed)
			}
			calls := shop.Log.Calls("update-order")
			if len(calls) != 1 || calls[0].Method != http.MethodPut || string(calls[0].Body) != `{"status":"completed"}` {
				t.Errorf("update-order calls = %+v", calls)
			}

			shop.SetRecipients(" shop@example.com, ,ops@example.com ,")
			rcpt, err := c.NewOrderRecipients(ctx)
			if err != nil || strings.Join(rcpt, "|") != "shop@example.com|ops@example.com" {
				t.Errorf("NewOrderRecipients = %q, %v", rcpt, err)
			}
			shop.SetRecipients("")
			if rcpt, err := c.NewOrderRecipients(ctx); err != nil || len(rcpt) != 0 {
				t.Errorf("empty setting: NewOrderRecipients = %q, %v", rcpt, err)
			}
		})
	}
}

func TestListOrders(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	shop, c := clientStartShop(t, false, Config{})
	var ids []int64
	for range 5 {
		ids = append(ids, shop.CreateOrder(clientCourseOrder()))
	}
	// Touch the first order last: by modified date it comes last.
	shop.SetStatus(ids[0], "on-hold")
	first, _ := shop.Order(ids[1])

	var got []int64
	for page, pages := 1, 1; page <= pages; page++ {
		orders, total, err := c.ListOrders(ctx, first.Modified.Add(-time.Second), page, 2)
		if err != nil {
			t.Fatalf("ListOrders page %d: %v", page, err)
		}
		pages = total
		for _, o := range orders {
			if len(o.Raw) == 0 || o.Order.ID == 0 {
				t.Errorf("empty order in listing: %+v", o)
			}
			got = append(got, o.Order.ID)
		}
	}
	if len(got) != 5 || got[len(got)-1] != ids[0] {
		t.Errorf("listed %v, want 5 orders with %d last", got, ids[0])
	}
	q := shop.Log.Calls("list-orders")[0].Query
	if q.Get("orderby") != "modified" || q.Get("order") != "asc" || q.Get("dates_are_gmt") != "true" || q.Get("per_page") != "2" {
		t.Errorf("list query = %v", q)
	}

	// modified_after is exclusive: from the last change on, nothing is left.
	last, _ := shop.Order(ids[0])
	orders, total, err := c.ListOrders(ctx, last.Modified, 1, 100)
	if err != nil || len(orders) != 0 || total != 0 {
		t.Errorf("after the last change: %d orders, %d pages, %v", len(orders), total, err)
	}
}

func TestWebhooks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	shop, c := clientStartShop(t, false, Config{})
	var ids []int
	for i := range 105 { // more than one page of 100
		ids = append(ids, shop.AddWebhook("hook", []string{"order.created", "order.updated"}[i%2], "http://127.0.0.1:1/unreachable"))
	}
	hooks, err := c.ListWebhooks(ctx)
	if err != nil {
		t.Fatalf("ListWebhooks: %v", err)
	}
	if len(hooks) != 105 {
		t.Fatalf("got %d webhooks, want 105", len(hooks))
	}
	h := hooks[len(hooks)-1] // newest first
	if h.ID != int64(ids[0]) || h.Topic != "order.created" || h.Resource != "order" || h.Event != "created" ||
		h.Status != WebhookActive || h.DeliveryURL != "http://127.0.0.1:1/unreachable" || h.DateCreatedGMT.IsZero() ||
		len(h.Hooks) != 1 || h.Hooks[0] != "woocommerce_new_order" {
		t.Errorf("webhook = %+v", h)
	}
	if err := c.SetWebhookStatus(ctx, int64(ids[3]), WebhookPaused); err != nil {
		t.Fatalf("SetWebhookStatus: %v", err)
	}
	if st, _ := shop.Webhook(ids[3]); st.Status != "paused" {
		t.Errorf("status = %q", st.Status)
	}
	err = c.SetWebhookStatus(ctx, 9999, WebhookActive)
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Status != 400 || !enrollment.IsPermanent(err) {
		t.Errorf("missing webhook: %v", err)
	}
}

func TestClientErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct {
		name      string
		tls       bool
		cfg       Config
		fault     *sandbox.Fault
		route     string
		call      func(c *Client, id int64) error
		permanent bool
		status    int
		want      string // in the error text
	}{
		{
			name: "PUT on a missing order", call: func(c *Client, id int64) error { return c.CompleteOrder(ctx, id+1000) },
			permanent: true, status: 400, want: "shop answered 400 woocommerce_rest_shop_order_invalid_id: Invalid ID.",
		},
		{
			name: "GET on a missing order", call: func(c *Client, id int64) error { _, err := c.GetOrder(ctx, id+1000); return err },
			permanent: true, status: 404, want: "shop answered 404 woocommerce_rest_shop_order_invalid_id: Invalid ID.",
		},
		{
			name: "note on a missing order", call: func(c *Client, id int64) error { return c.AddNote(ctx, id+1000, "x") },
			permanent: true, status: 404, want: "woocommerce_rest_order_invalid_id: Invalid order ID.",
		},
		{
			name: "500", route: "update-order", call: func(c *Client, id int64) error { return c.CompleteOrder(ctx, id) },
			fault:  &sandbox.Fault{Status: 500, Body: `{"code":"internal_server_error","message":"There has been a critical error on this website.","data":{"status":500}}`, Times: 1},
			status: 500, want: "shop answered 500 internal_server_error: There has been a critical error",
		},
		{
			name: "429", route: "note", call: func(c *Client, id int64) error { return c.AddNote(ctx, id, "x") },
			fault:  &sandbox.Fault{Status: 429, Body: "Too Many Requests", Times: 1},
			status: 429, want: "shop answered 429",
		},
		{
			name: "HTML 502 from a proxy", route: "get-order", call: func(c *Client, id int64) error { _, err := c.GetOrder(ctx, id); return err },
			fault:  &sandbox.Fault{Status: 502, Header: http.Header{"Content-Type": {"text/html"}}, Body: "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>", Times: 1},
			status: 502, want: "502 Bad Gateway",
		},
		{
			name: "wrong secret over OAuth", cfg: Config{ConsumerSecret: "cs_wrong"},
			call:      func(c *Client, id int64) error { return c.CompleteOrder(ctx, id) },
			permanent: true, status: 401, want: "woocommerce_rest_authentication_error: Invalid signature - provided signature does not match.",
		},
		{
			name: "wrong secret over Basic", tls: true, cfg: Config{ConsumerSecret: "cs_wrong"},
			call:      func(c *Client, id int64) error { return c.CompleteOrder(ctx, id) },
			permanent: true, status: 401, want: "woocommerce_rest_authentication_error: Consumer secret is invalid.",
		},
		{
			name: "unknown key over OAuth", cfg: Config{ConsumerKey: "ck_other"},
			call:      func(c *Client, id int64) error { _, err := c.NewOrderRecipients(ctx); return err },
			permanent: true, status: 401, want: "Consumer key is invalid.",
		},
		{
			name: "clock 20 minutes off", cfg: Config{Now: func() time.Time { return time.Now().Add(-20 * time.Minute) }},
			call:      func(c *Client, id int64) error { _, err := c.GetOrder(ctx, id); return err },
			permanent: true, status: 401, want: "Invalid timestamp.",
		},
		{
			name: "per_page above 100 is clamped", route: "list-orders",
			call: func(c *Client, id int64) error { _, _, err := c.ListOrders(ctx, time.Time{}, 1, 500); return err },
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			shop, c := clientStartShop(t, tc.tls, tc.cfg)
			id := shop.CreateOrder(clientCourseOrder())
			if tc.fault != nil {
				shop.Faults.Inject(tc.route, *tc.fault)
			}
			err := tc.call(c, id)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
			if got := enrollment.IsPermanent(err); got != tc.permanent {
				t.Errorf("IsPermanent = %v, want %v (%v)", got, tc.permanent, err)
			}
			var apiErr *APIError
			if !errors.As(err, &apiErr) || apiErr.Status != tc.status {
				t.Errorf("errors.As(*APIError) = %+v, want status %d", apiErr, tc.status)
			}
		})
	}
}

func TestTimeoutAndNetworkErrorsAreTransient(t *testing.T) {
	t.Parallel()
	shop, c := clientStartShop(t, false, Config{Timeout: 50 * time.Millisecond})
	id := shop.CreateOrder(clientCourseOrder())
	shop.Faults.Inject("update-order", sandbox.Fault{Delay: time.Second, Times: 1})
	err := c.CompleteOrder(context.Background(), id)
	if err == nil || enrollment.IsPermanent(err) || !strings.Contains(err.Error(), "did not answer within 50ms") {
		t.Errorf("slow shop: %v (permanent %v)", err, enrollment.IsPermanent(err))
	}

	dead := New(Config{BaseURL: "http://127.0.0.1:1", ConsumerKey: clientKey, ConsumerSecret: clientSecret})
	err = dead.CompleteOrder(context.Background(), 1)
	if err == nil || enrollment.IsPermanent(err) {
		t.Errorf("unreachable shop: %v", err)
	}
}

func TestRedirectIsNotFollowed(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://shop.example.com"+r.URL.Path, http.StatusMovedPermanently)
	}))
	t.Cleanup(srv.Close)
	c := New(Config{BaseURL: srv.URL, ConsumerKey: clientKey, ConsumerSecret: clientSecret})
	err := c.CompleteOrder(context.Background(), 1)
	if err == nil || !enrollment.IsPermanent(err) || !strings.Contains(err.Error(), "redirect to https://shop.example.com/wp-json/wc/v3/orders/1") {
		t.Errorf("redirect: %v", err)
	}
}

func TestBadBaseURL(t *testing.T) {
	t.Parallel()
	c := New(Config{BaseURL: "shop.example.com"})
	if _, err := c.GetOrder(context.Background(), 1); err == nil || !enrollment.IsPermanent(err) {
		t.Errorf("bad base URL: %v", err)
	}
}

func TestNonceReplayIsRejected(t *testing.T) {
	t.Parallel()
	shop, c := clientStartShop(t, false, Config{})
	id := shop.CreateOrder(clientCourseOrder())
	u := *c.base
	u.Path += "/wp-json/wc/v3" + orderPath(id)
	u.RawQuery = oauthParams(http.MethodGet, &u, nil, clientKey, clientSecret, time.Now(), newNonce()).Encode()
	for i, want := range []int{200, 401} {
		resp, err := c.hc.Get(u.String())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("request %d: status %d, want %d", i+1, resp.StatusCode, want)
		}
	}
	calls := shop.Log.Calls("get-order")
	if len(calls) != 2 || calls[1].Status != 401 {
		t.Errorf("calls = %+v", calls)
	}
}

func TestBasicAuthIsRefusedOverPlainHTTP(t *testing.T) {
	t.Parallel()
	shop, c := clientStartShop(t, false, Config{})
	id := shop.CreateOrder(clientCourseOrder())
	req, _ := http.NewRequest(http.MethodGet, c.base.String()+"/wp-json/wc/v3"+orderPath(id), nil)
	req.SetBasicAuth(clientKey, clientSecret)
	resp, err := c.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("Basic over http: status %d, want 401", resp.StatusCode)
	}
}

func TestOAuthOnASubdirectoryInstall(t *testing.T) {
	t.Parallel()
	shop := sandbox.NewShop(sandbox.ShopConfig{ConsumerKey: clientKey, ConsumerSecret: clientSecret})
	srv := httptest.NewServer(shop)
	t.Cleanup(srv.Close)
	shop.SetHomeURL(srv.URL + "/shop")
	id := shop.CreateOrder(clientCourseOrder())
	c := New(Config{BaseURL: srv.URL + "/shop/", ConsumerKey: clientKey, ConsumerSecret: clientSecret})
	if _, err := c.GetOrder(context.Background(), id); err != nil {
		t.Fatalf("GetOrder: %v", err)
	}
	if calls := shop.Log.Calls("get-order"); len(calls) != 1 || calls[0].Path != "/shop/wp-json/wc/v3/orders/1001" {
		t.Errorf("calls = %+v", calls)
	}
}
