package local_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"

	"github.com/aulasneo/wc-openedx/function/local"
	"github.com/aulasneo/wc-openedx/internal/enrollment"
	"github.com/aulasneo/wc-openedx/internal/jobs"
	"github.com/aulasneo/wc-openedx/internal/store"
	"github.com/aulasneo/wc-openedx/internal/testenv"
	"github.com/aulasneo/wc-openedx/internal/woocommerce"
)

// fixture is the v3 order.created body of protocols.md A7, byte for byte as WordPress sends
// it (wp_json_encode: `\/` and `\u00ed` escapes, no spaces).
func fixture(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/order-727.json")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// withOrder rewrites fields of the fixture at the byte level, keeping WordPress's encoding.
func withOrder(body []byte, replacements ...string) []byte {
	s := string(body)
	for i := 0; i+1 < len(replacements); i += 2 {
		if !strings.Contains(s, replacements[i]) {
			panic("fixture has no " + replacements[i])
		}
		s = strings.ReplaceAll(s, replacements[i], replacements[i+1])
	}
	return []byte(s)
}

type delivery struct {
	topic  string
	body   []byte
	source string // default: the stack's shop URL with a trailing slash
	sign   []byte // body to sign; default body
	noSig  bool
	header map[string]string
}

// deliver posts a webhook delivery as WooCommerce does (A1) and returns the status and body.
func deliver(t testing.TB, st *local.Stack, d delivery) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, st.URL+"/Webhook", bytes.NewReader(d.body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "WooCommerce/9.4.2 Hookshot (WordPress/6.7)")
	if d.source == "" {
		d.source = st.Config.WCURL + "/"
	}
	req.Header.Set("X-WC-Webhook-Source", d.source)
	if d.topic != "" {
		req.Header.Set("X-WC-Webhook-Topic", d.topic)
		res, ev, _ := strings.Cut(d.topic, ".")
		req.Header.Set("X-WC-Webhook-Resource", res)
		req.Header.Set("X-WC-Webhook-Event", ev)
	}
	req.Header.Set("X-WC-Webhook-ID", "3")
	req.Header.Set("X-WC-Webhook-Delivery-ID", "d41d8cd98f00b204e9800998ecf8427e")
	if !d.noSig {
		signed := d.body
		if d.sign != nil {
			signed = d.sign
		}
		req.Header.Set("X-WC-Webhook-Signature", woocommerce.Sign([]byte(local.SimWebhookSecret), signed))
	}
	for k, v := range d.header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String()
}

// storedDocs counts every document the service wrote: orders, their deliveries, other
// deliveries, the outbox.
func storedDocs(t testing.TB, st *local.Stack) int {
	t.Helper()
	ctx := context.Background()
	c := st.App.Store.Client()
	n := 0
	for _, coll := range []string{store.Orders, store.Deliveries, store.Outbox} {
		docs, err := c.Collection(coll).Documents(ctx).GetAll()
		if err != nil {
			t.Fatal(err)
		}
		n += len(docs)
	}
	deliveries, err := c.CollectionGroup(store.Deliveries).Documents(ctx).GetAll()
	if err != nil {
		t.Fatal(err)
	}
	return n + len(deliveries)
}

// jobWatch counts the jobs published to the jobs topic through a subscription of its own.
type jobWatch struct {
	sub *pubsub.Subscriber
	c   *pubsub.Client
}

func watchJobs(t testing.TB, st *local.Stack) *jobWatch {
	t.Helper()
	ctx := context.Background()
	c, err := pubsub.NewClient(ctx, st.Config.Project)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	name := "projects/" + st.Config.Project + "/subscriptions/watch"
	_, err = c.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{
		Name: name, Topic: "projects/" + st.Config.Project + "/topics/" + st.Config.JobsTopic,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &jobWatch{sub: c.Subscriber(name), c: c}
}

// jobs returns the jobs published so far (waiting d for stragglers).
func (w *jobWatch) jobs(t testing.TB, d time.Duration) []enrollment.Job {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var mu sync.Mutex
	var out []enrollment.Job
	err := w.sub.Receive(ctx, func(_ context.Context, m *pubsub.Message) {
		j, _, err := jobs.DecodePush(bytes.NewReader(jobs.EncodePushData(m.Data)))
		if err != nil {
			t.Errorf("bad job on the topic: %v", err)
		}
		m.Ack()
		mu.Lock()
		out = append(out, j)
		mu.Unlock()
	})
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatal(err)
	}
	return out
}

func TestWebhookIntakeRules(t *testing.T) {
	t.Parallel()
	body := fixture(t)
	big := append([]byte(`{"id":1,"pad":"`), bytes.Repeat([]byte("x"), 2<<20)...)
	big = append(big, `"}`...)
	tests := []struct {
		name       string
		d          delivery
		wantStatus int
		wantBody   string
		stored     bool
	}{
		{"ping", delivery{body: []byte("webhook_id=12"), noSig: true, source: "-", header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}}, 200, "", false},
		{"ping-shaped body with a topic is not a ping", delivery{topic: "order.created", body: []byte("webhook_id=12"), noSig: true}, 401, "missing X-WC-Webhook-Signature", false},
		{"no signature", delivery{topic: "order.created", body: body, noSig: true}, 401, "missing X-WC-Webhook-Signature", false},
		{"signature of another body", delivery{topic: "order.created", body: body, sign: withOrder(body, `"total":"149.00"`, `"total":"1.00"`)}, 401, "does not match", false},
		{"signature over re-encoded JSON", delivery{topic: "order.created", body: body, sign: bytes.ReplaceAll(body, []byte(`\/`), []byte(`/`))}, 401, "does not match", false},
		{"another shop", delivery{topic: "order.created", body: body, source: "https://evil.example.com/"}, 403, "X-WC-Webhook-Source", false},
		{"no source", delivery{topic: "order.created", body: body, source: " "}, 403, "X-WC-Webhook-Source", false},
		{"too large", delivery{topic: "order.created", body: big}, 413, "2 MiB", false},
		{"not JSON", delivery{topic: "order.created", body: []byte("<html>")}, 400, "not a WooCommerce order", false},
		{"no id", delivery{topic: "order.created", body: []byte(`{"status":"processing"}`)}, 400, `no numeric "id"`, false},
		{"string id", delivery{topic: "order.updated", body: []byte(`{"id":"727"}`)}, 400, "", false},
		{"deleted without id", delivery{topic: "order.deleted", body: []byte(`{}`)}, 400, `no numeric "id"`, false},
		// Liberal intake (SPEC §2.1): a signed order with a numeric id is recorded whatever the
		// rest holds.
		{"date that is not WooCommerce's", delivery{topic: "order.created", body: withOrder(body, `"date_modified_gmt":"2024-11-05T14:32:14"`, `"date_modified_gmt":"yesterday"`)}, 200, `"outcome":"applied"`, true},
		{"decimal quantity", delivery{topic: "order.created", body: withOrder(body, `"quantity":1,`, `"quantity":1.5,`)}, 200, `"outcome":"applied"`, true},
		{"numbers as strings", delivery{topic: "order.created", body: withOrder(body, `"product_id":93,`, `"product_id":"93",`, `"id":315,`, `"id":"315",`, `"price":149,`, `"price":"149",`)}, 200, `"outcome":"applied"`, true},
		{"a number and nulls where strings were, extra keys", delivery{topic: "order.created", body: withOrder(body, `"number":"727"`, `"number":727,"x_plugin":{"a":[1]}`, `"name":"Intro to Python (Self-paced)"`, `"name":null`, `"total":"149.00","total_tax"`, `"total":null,"total_tax"`)}, 200, `"outcome":"applied"`, true},
		{"legacy API version", delivery{topic: "order.created", body: []byte(`{"order":{"id":727,"order_number":"727","status":"processing"}}`)}, 200, `"outcome":"ignored"`, true},
		{"order.created", delivery{topic: "order.created", body: body}, 200, `"outcome":"applied"`, true},
		{"scheme in capitals, no trailing slash", delivery{topic: "order.created", body: body, source: "PLACEHOLDER"}, 200, `"outcome":"applied"`, true},
		{"order.deleted", delivery{topic: "order.deleted", body: []byte(`{"id":727}`)}, 200, `"outcome":"ignored"`, true},
		{"other topic", delivery{topic: "product.updated", body: []byte(`{"id":93,"sku":"course-v1:X+Y+Z"}`)}, 200, `"outcome":"ignored"`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st := newStack(t, func(_ map[string]string, o *local.Options) { o.NoWebhooks = true })
			if tt.d.source == "-" {
				tt.d.source = ""
			}
			if tt.d.source == "PLACEHOLDER" { // the stack's shop is at an IP: the host has no letters
				tt.d.source = strings.ToUpper(st.Config.WCURL)
			}
			code, resp := deliver(t, st, tt.d)
			if code != tt.wantStatus || !strings.Contains(resp, tt.wantBody) {
				t.Fatalf("answered %d %q; want %d containing %q", code, resp, tt.wantStatus, tt.wantBody)
			}
			if tt.name == "ping" && resp != "pong\n" {
				t.Errorf("ping answer %q", resp)
			}
			if n := storedDocs(t, st); (n > 0) != tt.stored {
				t.Errorf("%d documents stored; want stored=%v", n, tt.stored)
			}
		})
	}
}

func TestWebhookStoresOrderAndDelivery(t *testing.T) {
	t.Parallel()
	st := newStack(t, func(_ map[string]string, o *local.Options) { o.NoWebhooks = true })
	body := fixture(t)
	if code, resp := deliver(t, st, delivery{topic: "order.created", body: body}); code != 200 {
		t.Fatalf("answered %d %s", code, resp)
	}
	rec := record(t, st, 727)
	o := rec.Snapshot.Order
	if rec.Status != "processing" || o.Billing.Email != "ana.garcia@example.com" || o.Billing.LastName != "García" ||
		o.Total != "149.00" || o.Currency != "USD" || len(o.Lines) != 1 || o.Lines[0].SKU != "course-v1:ExampleX+PY101+2024_T4" ||
		!o.DateModifiedGMT.Equal(time.Date(2024, 11, 5, 14, 32, 14, 0, time.UTC)) || rec.Raw != string(body) {
		t.Errorf("stored order wrong: %+v", rec)
	}
	if len(rec.History) != 1 || rec.History[0].To != "processing" || rec.History[0].Source != "order.created" {
		t.Errorf("history %+v", rec.History)
	}
	ds, err := st.App.Store.Deliveries(context.Background(), 727)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 || ds[0].Hash != woocommerce.BodyHash(body) || ds[0].Topic != "order.created" || ds[0].Outcome != "applied" || ds[0].WebhookID != "3" {
		t.Errorf("deliveries %+v", ds)
	}
}

// deliverConcurrently posts the same delivery n times at once; every answer must be 200.
func deliverConcurrently(t *testing.T, st *local.Stack, n int, d delivery) {
	t.Helper()
	var wg sync.WaitGroup
	codes := make([]int, n)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], _ = deliver(t, st, d)
		}()
	}
	wg.Wait()
	for i, c := range codes {
		if c != 200 {
			t.Fatalf("delivery %d answered %d", i, c)
		}
	}
}

// Twenty identical deliveries of a paid order at once: one delivery record, one job.
func TestWebhookConcurrentDuplicatesQueueOneJob(t *testing.T) {
	t.Parallel()
	st := newStack(t, func(_ map[string]string, o *local.Options) { o.NoWebhooks = true })
	w := watchJobs(t, st)
	body := fixture(t)
	deliverConcurrently(t, st, 20, delivery{topic: "order.created", body: body})
	if ds, _ := st.App.Store.Deliveries(context.Background(), 727); len(ds) != 1 {
		t.Fatalf("%d delivery records for 20 identical deliveries", len(ds))
	}
	if got := w.jobs(t, 2*time.Second); len(got) != 1 || got[0].Kind != enrollment.JobEnroll {
		t.Fatalf("jobs %+v; want one enroll job", got)
	}
}

func TestWebhookDuplicatesAndOrdering(t *testing.T) {
	t.Parallel()
	st := newStack(t, func(_ map[string]string, o *local.Options) { o.NoWebhooks = true })
	w := watchJobs(t, st)
	onHold := withOrder(fixture(t), `"status":"processing"`, `"status":"on-hold"`)

	// Twenty identical deliveries at once: one delivery record (see also
	// TestWebhookConcurrentDuplicatesQueueOneJob for a delivery that queues a job).
	deliverConcurrently(t, st, 20, delivery{topic: "order.created", body: onHold})
	ds, _ := st.App.Store.Deliveries(context.Background(), 727)
	if len(ds) != 1 {
		t.Fatalf("%d delivery records for 20 identical deliveries", len(ds))
	}
	// A card order on-hold needs nothing.
	if got := w.jobs(t, 1500*time.Millisecond); len(got) != 0 {
		t.Fatalf("on-hold card order queued %v", got)
	}

	// Moving to processing queues one enroll job, however often it is delivered.
	processing := withOrder(onHold, `"status":"on-hold"`, `"status":"processing"`, `"date_modified_gmt":"2024-11-05T14:32:14"`, `"date_modified_gmt":"2024-11-05T14:40:00"`)
	for range 3 {
		if c, r := deliver(t, st, delivery{topic: "order.updated", body: processing}); c != 200 {
			t.Fatalf("answered %d %s", c, r)
		}
	}
	// A later update with the same status (a note, an address) stores and queues nothing.
	edited := withOrder(processing, `"customer_note":""`, `"customer_note":"please invoice"`, `"2024-11-05T14:40:00"`, `"2024-11-05T14:45:00"`)
	if c, r := deliver(t, st, delivery{topic: "order.updated", body: edited}); c != 200 || !strings.Contains(r, "applied") {
		t.Fatalf("answered %d %s", c, r)
	}
	got := w.jobs(t, 2*time.Second)
	if len(got) != 1 || got[0].Kind != enrollment.JobEnroll || got[0].OrderID != 727 {
		t.Fatalf("jobs %+v; want one enroll job", got)
	}
	if rec := record(t, st, 727); rec.Raw != string(edited) {
		t.Errorf("the same-status update was not stored")
	}

	// An older delivery after a newer one is recorded and changes nothing.
	if c, r := deliver(t, st, delivery{topic: "order.updated", body: withOrder(onHold, `"version":"9.4.2"`, `"version":"9.4.1"`)}); c != 200 || !strings.Contains(r, `"stale"`) {
		t.Fatalf("stale delivery answered %d %s", c, r)
	}
	rec := record(t, st, 727)
	if rec.Status != "processing" || rec.Raw != string(edited) {
		t.Errorf("a stale delivery changed the order: status %s", rec.Status)
	}
	if got := w.jobs(t, time.Second); len(got) != 0 {
		t.Errorf("stale delivery queued %v", got)
	}
	ds, _ = st.App.Store.Deliveries(context.Background(), 727)
	outcomes := map[string]int{}
	for _, d := range ds {
		outcomes[d.Outcome]++
	}
	if fmt.Sprint(outcomes) != "map[applied:3 stale:1]" {
		t.Errorf("delivery outcomes %v", outcomes)
	}
}

// Pub/Sub unreachable during a delivery: the answer is still 2xx, and the job is published by
// the sweep once Pub/Sub is back, with no new delivery.
func TestWebhookOutboxSurvivesPubSubOutage(t *testing.T) {
	t.Parallel()
	proxy := testenv.NewProxy(t, os.Getenv("PUBSUB_EMULATOR_HOST"))
	st := newStack(t, func(_ map[string]string, o *local.Options) {
		o.PubSubHost = proxy.Addr
		o.PublishTimeout = time.Second
		o.OutboxGrace = time.Millisecond
	})
	proxy.SetDown(true)
	id := st.Shop.CreateOrder(cardOrder(course("Intro to Python", coursePy)))
	st.Shop.Wait()
	ds := st.Shop.Deliveries()
	if last := ds[len(ds)-1]; last.OrderID != id || last.Status != 200 {
		t.Fatalf("delivery during the outage answered %d %s", last.Status, last.Err)
	}
	pending, err := st.App.Store.PendingJobs(context.Background(), time.Now().Add(time.Minute), 10)
	if err != nil || len(pending) != 1 {
		t.Fatalf("outbox %v, %v; want the enroll job", pending, err)
	}
	// The sweep runs during the outage: it answers 200 and keeps the job.
	if _, err := st.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	if status(st, id) == "completed" || len(st.LMS.Enrollments()) != 0 {
		t.Fatal("enrolled while Pub/Sub was down?")
	}
	proxy.SetDown(false)
	waitFor(t, "the sweep to publish the job", 30*time.Second, func() bool {
		_, _ = st.Sweep(context.Background())
		p, _ := st.App.Store.PendingJobs(context.Background(), time.Now().Add(time.Minute), 10)
		return len(p) == 0
	})
	waitFor(t, "order completed", 30*time.Second, func() bool { return status(st, id) == "completed" })
	if s := st.LMS.Stats(); s.Created != 1 {
		t.Errorf("LMS %+v", s)
	}
}
