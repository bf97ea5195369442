package sandbox

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// shopReceiver is a webhook endpoint that records what it got and answers status.
type shopReceiver struct {
	mu      sync.Mutex
	status  int
	reqs    []shopReceived
	block   chan struct{} // when set, the first delivery (not a ping) waits for it to close
	started chan struct{} // closed when the first delivery arrives
	srv     *httptest.Server
}

type shopReceived struct {
	header http.Header
	body   []byte
}

func newShopReceiver(t *testing.T, status int) *shopReceiver {
	rcv := &shopReceiver{status: status, started: make(chan struct{})}
	first := sync.Once{}
	rcv.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rcv.mu.Lock()
		rcv.reqs = append(rcv.reqs, shopReceived{r.Header.Clone(), body})
		block, status := rcv.block, rcv.status
		rcv.mu.Unlock()
		if r.Header.Get("X-WC-Webhook-Topic") != "" {
			first.Do(func() {
				close(rcv.started)
				if block != nil {
					<-block
				}
			})
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(rcv.srv.Close)
	return rcv
}

func (rcv *shopReceiver) received() []shopReceived {
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	return append([]shopReceived(nil), rcv.reqs...)
}

func newTestShop(t *testing.T) *Shop {
	s := NewShop(ShopConfig{ConsumerKey: "ck_k", ConsumerSecret: "cs_s", WebhookSecret: "whsec_1", HomeURL: "https://shop.example.com"})
	t.Cleanup(s.Wait)
	return s
}

func shopTestStr(s string) *string { return &s }

func shopTestOrder() OrderSpec {
	return OrderSpec{
		Status: "processing", PaymentMethod: "stripe", PaymentMethodTitle: "Credit / Debit Card",
		FirstName: "Ana", LastName: "García", Email: shopTestStr("ana@example.com"), Currency: "EUR",
		Lines: []LineSpec{{Name: "Intro to Python", ProductID: 93, Quantity: 1, Total: "149", SKU: shopTestStr("course-v1:ExampleX+PY101+2024_T4")}},
	}
}

func TestPHPJSON(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   any
		want string
	}{
		{"https://a.example/x", `"https:\/\/a.example\/x"`},
		{"García €", `"Garc\u00eda \u20ac"`},
		{"😀", `"\ud83d\ude00"`},
		{"<b>&'", `"<b>&'"`},
		{map[string]any{"a/b": []any{}, "n": nil, "p": 149.0, "q": 49.5}, `{"a\/b":[],"n":null,"p":149,"q":49.5}`},
	} {
		got, err := phpJSON(tc.in)
		if err != nil || string(got) != tc.want {
			t.Errorf("phpJSON(%v) = %s, %v; want %s", tc.in, got, err, tc.want)
		}
	}
}

func TestDeliveryIsWooCommerces(t *testing.T) {
	t.Parallel()
	rcv := newShopReceiver(t, 200)
	s := newTestShop(t)
	hook := s.AddWebhook("Enrollment", "order.created", rcv.srv.URL)
	id := s.CreateOrder(shopTestOrder())
	s.Wait()

	got := rcv.received()
	if len(got) != 2 {
		t.Fatalf("received %d requests, want ping + delivery", len(got))
	}
	ping := got[0]
	if string(ping.body) != "webhook_id=1" || ping.header.Get("User-Agent") != shopUserAgent {
		t.Errorf("ping = %q %v", ping.body, ping.header)
	}
	for k := range ping.header {
		if strings.HasPrefix(k, "X-Wc-") {
			t.Errorf("ping carries %s", k)
		}
	}
	if st, _ := s.Webhook(hook); st.PendingDelivery {
		t.Error("ping answered 200 but the webhook is still pending")
	}

	d := got[1]
	h := d.header
	for k, want := range map[string]string{
		"Content-Type":          "application/json",
		"User-Agent":            "WooCommerce/9.4.2 Hookshot (WordPress/6.7)",
		"X-WC-Webhook-Source":   "https://shop.example.com/",
		"X-WC-Webhook-Topic":    "order.created",
		"X-WC-Webhook-Resource": "order",
		"X-WC-Webhook-Event":    "created",
		"X-WC-Webhook-ID":       "1",
	} {
		if h.Get(k) != want {
			t.Errorf("%s = %q, want %q", k, h.Get(k), want)
		}
	}
	mac := hmac.New(sha256.New, []byte("whsec_1"))
	mac.Write(d.body)
	if sig := base64.StdEncoding.EncodeToString(mac.Sum(nil)); h.Get("X-WC-Webhook-Signature") != sig {
		t.Errorf("signature %q does not verify over the raw body (want %q)", h.Get("X-WC-Webhook-Signature"), sig)
	}
	if len(h.Get("X-WC-Webhook-Delivery-ID")) != 32 {
		t.Errorf("delivery id = %q", h.Get("X-WC-Webhook-Delivery-ID"))
	}
	body := string(d.body)
	for _, want := range []string{
		`"id":1001,`, `"number":"1001"`, `"status":"processing"`, `"total":"149.00"`, `"price":149,`,
		`"sku":"course-v1:ExampleX+PY101+2024_T4"`, `Garc\u00eda`, `"currency_symbol":"\u20ac"`,
		`"self":[{"href":"https:\/\/shop.example.com\/wp-json\/wc\/v3\/orders\/1001"}]`, `"refunds":[]`,
		`"date_completed":null`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("body lacks %s: %s", want, body)
		}
	}
	if strings.HasSuffix(body, "\n") || strings.Contains(body, `"/`) {
		t.Errorf("body is not trimmed wp_json_encode output: %q", body)
	}
	var v struct {
		DateModified    string `json:"date_modified"`
		DateModifiedGMT string `json:"date_modified_gmt"`
	}
	if err := json.Unmarshal(d.body, &v); err != nil {
		t.Fatal(err)
	}
	local, _ := time.Parse(shopDateLayout, v.DateModified)
	gmt, _ := time.Parse(shopDateLayout, v.DateModifiedGMT)
	if gmt.Sub(local) != 5*time.Hour {
		t.Errorf("date_modified %s vs gmt %s: want the site's UTC-5", v.DateModified, v.DateModifiedGMT)
	}
	if ds := s.Deliveries(); len(ds) != 2 || !ds[0].Ping || ds[1].Status != 200 || ds[1].OrderID != id {
		t.Errorf("deliveries = %+v", ds)
	}
}

func TestPingNeedsExactly200(t *testing.T) {
	t.Parallel()
	rcv := newShopReceiver(t, 204)
	s := newTestShop(t)
	hook := s.AddWebhook("Enrollment", "order.updated", rcv.srv.URL)
	if st, _ := s.Webhook(hook); !st.PendingDelivery || st.Status != "active" {
		t.Errorf("after a 204 ping: %+v, want active and pending", st)
	}
}

func TestPayloadBuiltAtDeliveryAndCoalesced(t *testing.T) {
	t.Parallel()
	rcv := newShopReceiver(t, 200)
	s := newTestShop(t)
	rcv.block = make(chan struct{})
	s.AddWebhook("Enrollment", "order.updated", rcv.srv.URL)

	a := s.CreateOrder(OrderSpec{Status: "on-hold", PaymentMethod: "bacs", Email: shopTestStr("a@example.com")})
	s.SetStatus(a, "on-hold") // delivery 1, held by the receiver
	<-rcv.started
	s.SetStatus(a, "processing") // queued
	s.SetStatus(a, "completed")  // coalesced into the queued one
	close(rcv.block)
	s.Wait()

	got := rcv.received()[1:] // after the ping
	if len(got) != 2 {
		t.Fatalf("received %d deliveries, want 2 (the third change coalesces)", len(got))
	}
	if !strings.Contains(string(got[1].body), `"status":"completed"`) {
		t.Errorf("second delivery was not built at delivery time: %.200s", got[1].body)
	}

	// date_modified_gmt strictly increases with every change, even within one second.
	before, _ := s.Order(a)
	s.SetStatus(a, "on-hold")
	s.SetStatus(a, "processing")
	after, _ := s.Order(a)
	if !after.Modified.After(before.Modified.Add(time.Second)) {
		t.Errorf("modified %v → %v: two changes must advance it by at least 2 s", before.Modified, after.Modified)
	}

	// DeliverAgain repeats the latest body byte for byte.
	s.Wait()
	n := len(rcv.received())
	if !s.DeliverAgain(a, "order.updated") {
		t.Fatal("DeliverAgain found nothing to repeat")
	}
	s.Wait()
	all := rcv.received()
	if len(all) != n+1 || string(all[n].body) != string(all[n-1].body) {
		t.Errorf("duplicate delivery differs from the original")
	}
}

func TestWebhookDisabledAfterSevenFailures(t *testing.T) {
	t.Parallel()
	rcv := newShopReceiver(t, 500)
	s := newTestShop(t)
	hook := s.AddWebhook("Enrollment", "order.created", rcv.srv.URL)
	for i := 1; i <= 7; i++ {
		s.CreateOrder(shopTestOrder())
		s.Wait()
		st, _ := s.Webhook(hook)
		if i < 7 && (st.Status != "active" || st.FailureCount != i) {
			t.Errorf("after %d failures: %+v", i, st)
		}
		if i == 7 && st.Status != "disabled" {
			t.Errorf("after 7 failures: %+v, want disabled", st)
		}
	}
	s.CreateOrder(shopTestOrder())
	s.Wait()
	if n := len(rcv.received()); n != 1+7 {
		t.Errorf("receiver got %d requests, want the ping and 7 deliveries", n)
	}
	// A success resets the count.
	rcv.mu.Lock()
	rcv.status = 302
	rcv.mu.Unlock()
	s.SetWebhookStatus(hook, "active")
	s.CreateOrder(shopTestOrder())
	s.Wait()
	if st, _ := s.Webhook(hook); st.FailureCount != 0 || st.Status != "active" {
		t.Errorf("after a 302: %+v", st)
	}
}

func TestDraftOrdersAreNotDelivered(t *testing.T) {
	t.Parallel()
	rcv := newShopReceiver(t, 200)
	s := newTestShop(t)
	s.AddWebhook("Enrollment", "order.created", rcv.srv.URL)
	s.CreateOrder(OrderSpec{Status: "checkout-draft"})
	s.Wait()
	if n := len(rcv.received()); n != 1 {
		t.Errorf("receiver got %d requests, want only the ping", n)
	}
}

func TestRESTAnswers(t *testing.T) {
	t.Parallel()
	s := newTestShop(t)
	srv := httptest.NewTLSServer(s)
	t.Cleanup(srv.Close)
	s.SetHomeURL(srv.URL)
	id := s.CreateOrder(shopTestOrder())
	c := srv.Client()
	do := func(method, path, body string) (int, string) {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		req.SetBasicAuth("ck_k", "cs_s")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, tc := range []struct {
		method, path, body string
		status             int
		want               string
	}{
		{"GET", "/wp-json/wc/v3/orders?per_page=101", "", 400, `"code":"rest_invalid_param"`},
		{"GET", "/wp-json/wc/v3/orders?orderby=bogus", "", 400, `"code":"rest_invalid_param"`},
		{"GET", "/wp-json/wc/v3/orders?orderby=modified&order=asc", "", 200, `"id":1001`},
		{"PUT", "/wp-json/wc/v3/orders/999", `{"status":"completed"}`, 400, `{"code":"woocommerce_rest_shop_order_invalid_id","message":"Invalid ID.","data":{"status":400}}`},
		{"GET", "/wp-json/wc/v3/orders/999", "", 404, `"woocommerce_rest_shop_order_invalid_id"`},
		{"PUT", "/wp-json/wc/v3/orders/1001", `{"status":"nope"}`, 400, `"rest_invalid_param"`},
		{"POST", "/wp-json/wc/v3/orders/999/notes", `{"note":"x"}`, 404, `"message":"Invalid order ID."`},
		{"POST", "/wp-json/wc/v3/orders/1001/notes", `{"customer_note":false}`, 400, `"rest_missing_callback_param"`},
		{"POST", "/wp-json/wc/v3/orders/1001/notes", `{"note":"Enrolled","customer_note":false}`, 201, `"author":"system"`},
		{"GET", "/wp-json/wc/v3/settings/email_new_order/recipient", "", 200, `"id":"recipient"`},
		{"GET", "/wp-json/wc/v3/products", "", 404, `"rest_no_route"`},
	} {
		status, body := do(tc.method, tc.path, tc.body)
		if status != tc.status || !strings.Contains(body, tc.want) {
			t.Errorf("%s %s: %d %s; want %d with %s", tc.method, tc.path, status, body, tc.status, tc.want)
		}
	}
	if _, ok := s.Order(id); !ok {
		t.Fatal("order gone")
	}
	if calls := s.Log.Calls("note"); len(calls) != 3 || calls[2].Status != 201 {
		t.Errorf("note calls = %+v", calls)
	}
}

func TestRESTStatusChangeFiresOrderUpdated(t *testing.T) {
	t.Parallel()
	rcv := newShopReceiver(t, 200)
	s := newTestShop(t)
	srv := httptest.NewTLSServer(s)
	t.Cleanup(srv.Close)
	s.AddWebhook("Enrollment", "order.updated", rcv.srv.URL)
	id := s.CreateOrder(shopTestOrder())
	req, _ := http.NewRequest(http.MethodPut, srv.URL+"/wp-json/wc/v3/orders/1001", strings.NewReader(`{"status":"completed"}`))
	req.SetBasicAuth("ck_k", "cs_s")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	s.Wait()
	ds := s.Deliveries()
	if len(ds) != 2 || ds[1].Topic != "order.updated" || ds[1].OrderID != id || !strings.Contains(string(ds[1].Body), `"status":"completed"`) {
		t.Errorf("deliveries after a REST completion: %+v", ds)
	}
}

// Apache with PHP under FastCGI/CGI drops the Authorization header: Basic auth is anonymous
// (perform_basic_authentication finds no PHP_AUTH_USER), the query-string keys it reads first
// still work over https, and OAuth in the query string still works over http.
func TestDropAuthorization(t *testing.T) {
	t.Parallel()
	s := newTestShop(t)
	srv := httptest.NewTLSServer(s)
	t.Cleanup(srv.Close)
	s.SetHomeURL(srv.URL)
	id := s.CreateOrder(shopTestOrder())
	call := func(method, path, query string, basic bool) (int, string) {
		req, _ := http.NewRequest(method, srv.URL+path+query, strings.NewReader(`{"status":"completed"}`))
		if basic {
			req.SetBasicAuth("ck_k", "cs_s")
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	const order = "/wp-json/wc/v3/orders/1001"
	if st, _ := call("GET", order, "", true); st != 200 {
		t.Fatalf("Basic before the header is dropped: %d", st)
	}
	s.SetDropAuthorization(true)
	for _, tc := range []struct {
		method, query string
		basic         bool
		status        int
		want          string
	}{
		{"GET", "", true, 401, `"code":"woocommerce_rest_cannot_view"`},
		{"PUT", "", true, 401, `"code":"woocommerce_rest_cannot_edit"`},
		{"GET", "?consumer_key=ck_k&consumer_secret=cs_s", false, 200, `"id":1001`},
		{"GET", "?consumer_key=ck_k&consumer_secret=nope", true, 401, `"Consumer secret is invalid."`},
		{"PUT", "?consumer_key=ck_k&consumer_secret=cs_s", false, 200, `"status":"completed"`},
	} {
		if st, body := call(tc.method, order, tc.query, tc.basic); st != tc.status || !strings.Contains(body, tc.want) {
			t.Errorf("%s %s basic=%v: %d %s; want %d with %s", tc.method, tc.query, tc.basic, st, body, tc.status, tc.want)
		}
	}
	// The call log shows what the client sent, the header included.
	if calls := s.Log.Calls("get-order"); calls[1].Header.Get("Authorization") == "" {
		t.Errorf("the log lost the header the client sent: %+v", calls[1])
	}
	if o, _ := s.Order(id); o.Status != "completed" {
		t.Errorf("status %s", o.Status)
	}
}

// A plugin's filter on the order (woocommerce_rest_prepare_shop_order_object) changes field
// types in every REST answer and in webhook bodies alike.
func TestFieldsReachEveryAnswer(t *testing.T) {
	t.Parallel()
	rcv := newShopReceiver(t, 200)
	s := newTestShop(t)
	srv := httptest.NewTLSServer(s)
	t.Cleanup(srv.Close)
	s.AddWebhook("Enrollment", "order.created", rcv.srv.URL)
	spec := shopTestOrder()
	spec.Fields = Fields{"number": 1001, "customer_note": nil, "x_plugin": map[string]any{"a": "b/c"}, "cart_hash": Omit}
	spec.Lines[0].Fields = Fields{"quantity": 1.5, "product_id": "93", "sku": map[string]string{"code": "PY"}}
	s.CreateOrder(spec)
	s.Wait()
	get := func(path string) string {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		req.SetBasicAuth("ck_k", "cs_s")
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	bodies := map[string]string{
		"webhook":    string(rcv.received()[1].body),
		"get-order":  get("/wp-json/wc/v3/orders/1001"),
		"list-order": get("/wp-json/wc/v3/orders"),
	}
	for name, body := range bodies {
		for _, want := range []string{`"number":1001,`, `"customer_note":null,`, `"quantity":1.5,`, `"product_id":"93",`, `"sku":{"code":"PY"},`, `"x_plugin":{"a":"b\/c"}`} {
			if !strings.Contains(body, want) {
				t.Errorf("%s lacks %s: %s", name, want, body)
			}
		}
		if strings.Contains(body, `"cart_hash"`) {
			t.Errorf("%s still has cart_hash", name)
		}
		if !strings.Contains(body, `"status":"processing","currency":"EUR"`) {
			t.Errorf("%s: the other fields moved: %.300s", name, body)
		}
	}
}

// A webhook set to a legacy API version delivers the Legacy REST API's {"order": {...}}
// while the Legacy REST API plugin is active, and nothing without it (WooCommerce 9).
func TestLegacyAPIVersionWebhook(t *testing.T) {
	t.Parallel()
	rcv := newShopReceiver(t, 200)
	s := newTestShop(t)
	hook := s.AddWebhook("Old", "order.created", rcv.srv.URL)
	if !s.SetWebhookAPIVersion(hook, "legacy_v3") {
		t.Fatal("no webhook")
	}
	s.CreateOrder(shopTestOrder())
	s.Wait()
	if n := len(rcv.received()); n != 1 {
		t.Fatalf("without the Legacy REST API plugin the receiver got %d requests, want only the ping", n)
	}
	if ds := s.Deliveries(); len(ds) != 2 || ds[1].Status != 0 || !strings.Contains(ds[1].Err, "Unsupported webhook API version") {
		t.Errorf("deliveries %+v", ds)
	}

	s.SetLegacyRESTAPI(true)
	s.CreateOrder(shopTestOrder())
	s.Wait()
	got := rcv.received()
	if len(got) != 2 {
		t.Fatalf("received %d requests", len(got))
	}
	body := string(got[1].body)
	var v map[string]json.RawMessage
	if err := json.Unmarshal(got[1].body, &v); err != nil || len(v) != 1 || v["order"] == nil {
		t.Fatalf("legacy body %s: want {\"order\": {...}} only", body)
	}
	for _, want := range []string{`{"order":{"id":1002,"order_number":"1002",`, `"payment_details":{"method_id":"stripe","method_title":"Credit \/ Debit Card","paid":true}`,
		`"billing_address":{"first_name":"Ana"`, `"email":"ana@example.com"`, `"completed_at":"1970-01-01T00:00:00Z"`, `"quantity":1,`} {
		if !strings.Contains(body, want) {
			t.Errorf("legacy body lacks %s: %s", want, body)
		}
	}
	if got[1].header.Get("X-WC-Webhook-ID") != strconv.Itoa(hook) || got[1].header.Get("X-WC-Webhook-Signature") == "" {
		t.Errorf("headers %v", got[1].header)
	}
}

// Editing a product's SKU changes what every order's line of that product shows, and touches
// no order: no date_modified change, no webhook.
func TestProductSKUShownByOrders(t *testing.T) {
	t.Parallel()
	rcv := newShopReceiver(t, 200)
	s := newTestShop(t)
	srv := httptest.NewTLSServer(s)
	t.Cleanup(srv.Close)
	s.SetHomeURL(srv.URL)
	s.AddWebhook("Enrollment", "order.updated", rcv.srv.URL)
	spec := shopTestOrder()
	spec.Lines = append(spec.Lines, LineSpec{Name: "T-shirt", ProductID: 7, Quantity: 1, Total: "20", SKU: shopTestStr("TSHIRT")})
	id := s.CreateOrder(spec)
	s.Wait()
	before, _ := s.Order(id)
	deliveries := len(s.Deliveries())
	if n := s.SetProductSKU(93, shopTestStr("course-v1:ExampleX+PY102+2025_T1")); n != 1 {
		t.Errorf("%d lines changed, want 1", n)
	}
	s.Wait()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/wp-json/wc/v3/orders/"+strconv.FormatInt(id, 10), nil)
	req.SetBasicAuth("ck_k", "cs_s")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`"sku":"course-v1:ExampleX+PY102+2025_T1"`, `"sku":"TSHIRT"`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("GET order lacks %s:\n%s", want, body)
		}
	}
	after, _ := s.Order(id)
	if !after.Modified.Equal(before.Modified) || len(s.Deliveries()) != deliveries {
		t.Errorf("editing a product modified the order (%v → %v) or fired a webhook (%d → %d deliveries)",
			before.Modified, after.Modified, deliveries, len(s.Deliveries()))
	}
}
