package local_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aulasneo/wc-openedx/function/local"
	"github.com/aulasneo/wc-openedx/internal/sandbox"
	"github.com/aulasneo/wc-openedx/internal/store"
)

// The shop as real installations are (issue 11): plugins that retype order fields, webhooks
// left on a legacy API version, and hosting that drops the Authorization header.

// logSink collects a stack's log lines; safe for concurrent writes.
type logSink struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logSink) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logSink) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// withLogSink sends the stack's log to sink (and to stderr with TEST_LOG set).
func withLogSink(sink *logSink) stackOpt {
	return func(_ map[string]string, o *local.Options) {
		var w io.Writer = sink
		o.Log = slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
}

func mailsWith(st *local.Stack, subject string) []sandbox.SentMessage {
	var out []sandbox.SentMessage
	for _, m := range st.Mail.Messages() {
		if strings.Contains(m.Subject, subject) {
			out = append(out, m)
		}
	}
	return out
}

// lastDelivery is the shop's latest delivery attempt of a topic for an order.
func lastDelivery(st *local.Stack, id int64, topic string) (sandbox.WebhookDelivery, bool) {
	ds := st.Shop.Deliveries()
	for i := len(ds) - 1; i >= 0; i-- {
		if ds[i].OrderID == id && ds[i].Topic == topic {
			return ds[i], true
		}
	}
	return sandbox.WebhookDelivery{}, false
}

// A decimal-quantity plugin (quantity 1.5), numbers written as strings, null where a string
// was, extra keys: the delivery is recorded (200, not the 400 that counts towards WooCommerce
// disabling the webhook) and the order is enrolled and completed.
func TestWebhookTakesOrdersWhateverTheirFieldsHold(t *testing.T) {
	t.Parallel()
	st := newStack(t, withEnv("WC_COMPLETE_MIXED_ORDERS", "true"))
	py := course("Intro to Python", coursePy)
	py.Fields = sandbox.Fields{"quantity": 1.5, "product_id": "93", "price": "99.33", "x_plugin": map[string]any{"unit": "h"}}
	mug := sandbox.LineSpec{Name: "Mug", ProductID: 7, Quantity: 1, Total: "10", SKU: ptr("MUG-1"), Fields: sandbox.Fields{"quantity": "2.5", "name": nil}}
	spec := cardOrder(py, mug)
	spec.Fields = sandbox.Fields{"customer_note": nil, "customer_id": "12", "x_plugin_data": []any{1, "a", nil}}
	id := st.Shop.CreateOrder(spec)
	st.Shop.Wait()

	if d, ok := lastDelivery(st, id, "order.created"); !ok || d.Status != 200 || !bytes.Contains(d.Body, []byte(`"quantity":1.5,`)) {
		t.Fatalf("delivery %+v answered %d, want 200", d.Header, d.Status)
	}
	waitFor(t, "order completed", 30*time.Second, func() bool { return status(st, id) == "completed" })
	if got := enrollmentsOf(st); len(got) != 1 || got[0] != learnerID+" "+coursePy+" audit" {
		t.Errorf("enrollments %q", got)
	}
	rec := record(t, st, id)
	if lines := rec.Snapshot.Order.Lines; len(lines) != 2 || lines[0].ProductID != 93 || !strings.Contains(rec.Raw, `"quantity":1.5,`) {
		t.Errorf("stored lines %+v", lines)
	}
}

// A line whose SKU a plugin made an object cannot be read: that line is the order's reported
// failure (note and email), the other course line is enrolled, and the delivery is recorded.
func TestWebhookOddSKUIsThatLinesFailure(t *testing.T) {
	t.Parallel()
	st := newStack(t)
	odd := course("Go", courseGo)
	odd.Fields = sandbox.Fields{"sku": map[string]string{"code": "GO201"}}
	id := st.Shop.CreateOrder(cardOrder(course("Intro to Python", coursePy), odd))
	st.Shop.Wait()
	if d, ok := lastDelivery(st, id, "order.created"); !ok || d.Status != 200 {
		t.Fatalf("delivery answered %d, want 200", d.Status)
	}
	waitFor(t, "the failure note", 30*time.Second, func() bool { return strings.Contains(notes(st, id), `{"code":"GO201"}`) })
	waitFor(t, "the failure email", 10*time.Second, func() bool { return len(mailsWith(st, "failed")) == 1 })
	if !strings.Contains(notes(st, id), "SKU") {
		t.Errorf("note does not say the SKU cannot be read:\n%s", notes(st, id))
	}
	if got := enrollmentsOf(st); len(got) != 1 || got[0] != learnerID+" "+coursePy+" audit" {
		t.Errorf("enrollments %q", got)
	}
	if status(st, id) == "completed" {
		t.Error("completed with a failed line")
	}
}

// A plugin that makes the billing email an object: the order is recorded, and since there is
// no learner to read, each course line fails with that reason (reported), rather than a 400.
// The reason does not hold the address.
func TestWebhookUnreadableEmailFailsTheCourseLines(t *testing.T) {
	t.Parallel()
	st := newStack(t)
	spec := cardOrder(course("Intro to Python", coursePy))
	spec.Fields = sandbox.Fields{"billing": map[string]any{"first_name": "Ana", "email": map[string]string{"address": learner}}}
	id := st.Shop.CreateOrder(spec)
	st.Shop.Wait()
	if d, ok := lastDelivery(st, id, "order.created"); !ok || d.Status != 200 {
		t.Fatalf("delivery answered %d, want 200", d.Status)
	}
	waitFor(t, "the failure note", 30*time.Second, func() bool { return strings.Contains(notes(st, id), "the order's billing.email cannot be read") })
	if strings.Contains(notes(st, id), learner) {
		t.Errorf("the note holds the address:\n%s", notes(st, id))
	}
	if n := len(st.LMS.Log.Calls("enroll")); n != 0 {
		t.Errorf("%d enrollment calls", n)
	}
}

// Reconciliation never stalls on an order it cannot read: the rest are recorded (the decimal
// quantity one enrolled), the checkpoint moves, and the unreadable order is reported once, by
// email and log, with its id.
func TestSweepGoesPastOrdersItCannotRead(t *testing.T) {
	t.Parallel()
	var logs logSink
	st := newStack(t, withLogSink(&logs), func(_ map[string]string, o *local.Options) { o.NoWebhooks = true })
	a := st.Shop.CreateOrder(cardOrder(course("Intro to Python", coursePy)))
	pending := cardOrder(course("Go", courseGo))
	pending.Status = "pending"
	bad := st.Shop.CreateOrder(pending)
	// A plugin writes this order's id as text: nothing can be recorded under it.
	st.Shop.UpdateOrder(bad, func(o *sandbox.OrderState) { o.Fields = sandbox.Fields{"id": strconv.FormatInt(bad, 10)} })
	dec := course("ML", courseMl)
	dec.Fields = sandbox.Fields{"quantity": 1.5}
	c := st.Shop.CreateOrder(cardOrder(dec))

	rep := sweep(t, st)
	if !rep.Reconcile.Complete || rep.Reconcile.Error != "" || rep.Reconcile.Orders != 2 {
		t.Fatalf("reconcile report %+v", rep.Reconcile)
	}
	if cp := sweepState(t, st).Checkpoint; time.Since(cp) > time.Minute {
		t.Errorf("checkpoint %v did not move", cp)
	}
	waitFor(t, "both readable orders completed", 30*time.Second, func() bool {
		return status(st, a) == "completed" && status(st, c) == "completed"
	})
	if _, err := st.App.Store.Get(context.Background(), bad); err == nil {
		t.Error("the unreadable order was recorded")
	}
	ref := strconv.FormatInt(bad, 10)
	mails := mailsWith(st, "could not read")
	if len(mails) != 1 || !strings.Contains(mails[0].Text, "Order "+ref+": ") {
		t.Fatalf("emails %+v, want one naming order %s", mails, ref)
	}

	sweep(t, st) // reads it again (the overlap): not reported again
	if n := len(mailsWith(st, "could not read")); n != 1 {
		t.Errorf("%d emails about unreadable orders, want 1", n)
	}
	if n := strings.Count(logs.String(), "level=WARN msg=\"reconciliation skipped an order it cannot read"); n != 1 {
		t.Errorf("%d warnings about the unreadable order, want 1:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "order="+ref) {
		t.Errorf("the log does not name order %s", ref)
	}
}

// A webhook left on a legacy API version delivers {"order": {...}}: 200, recorded as ignored
// with the reason, one email to the admins naming the webhook and the fix; the orders still
// arrive through reconciliation.
func TestLegacyWebhookIsRecordedAndReportedOnce(t *testing.T) {
	t.Parallel()
	st := newStack(t)
	const hook = 1 // order.created
	st.Shop.SetLegacyRESTAPI(true)
	if w, _ := st.Shop.Webhook(hook); w.Topic != "order.created" || !st.Shop.SetWebhookAPIVersion(hook, "legacy_v3") {
		t.Fatalf("webhook %d: %+v", hook, w)
	}
	id := st.Shop.CreateOrder(cardOrder(course("Intro to Python", coursePy)))
	st.Shop.Wait()
	d, ok := lastDelivery(st, id, "order.created")
	if !ok || d.Status != 200 || !bytes.HasPrefix(d.Body, []byte(`{"order":{"id":`)) {
		t.Fatalf("legacy delivery answered %d (%s), want 200", d.Status, d.Body)
	}
	if w, _ := st.Shop.Webhook(hook); w.FailureCount != 0 {
		t.Errorf("failure count %d", w.FailureCount)
	}
	docs, err := st.App.Store.Client().Collection(store.Deliveries).Documents(context.Background()).GetAll()
	if err != nil || len(docs) != 1 {
		t.Fatalf("%d ignored deliveries, %v", len(docs), err)
	}
	if m := docs[0].Data(); m["outcome"] != "ignored" || !strings.Contains(m["reason"].(string), "WP REST API Integration v3") || m["webhookId"] != strconv.Itoa(hook) {
		t.Errorf("delivery record %v", m)
	}

	sweep(t, st)
	waitFor(t, "the order enrolled through reconciliation", 30*time.Second, func() bool { return status(st, id) == "completed" })
	second := st.Shop.CreateOrder(cardOrder(course("Go", courseGo)))
	st.Shop.Wait()
	sweep(t, st)
	waitFor(t, "the second order completed", 30*time.Second, func() bool { return status(st, second) == "completed" })
	mails := mailsWith(st, "legacy API version")
	if len(mails) != 1 || !strings.Contains(mails[0].Text, "Webhook #1 “Order created” (order.created)") || !strings.Contains(mails[0].Text, "WP REST API Integration v3") {
		t.Fatalf("emails %+v, want one naming webhook #1 and the fix", mails)
	}
	if got := mails[0].To; len(got) != 1 || got[0] != "shop-admin@example.com" {
		t.Errorf("sent to %q", got)
	}
}

// A shop over https behind Apache with PHP under FastCGI: Basic auth never arrives, so the
// service falls back to query-string keys once, says so once in the log, and completes the
// order; no key appears in the log.
func TestShopBehindFastCGI(t *testing.T) {
	t.Parallel()
	var logs logSink
	st := newStack(t, withLogSink(&logs), func(_ map[string]string, o *local.Options) { o.ShopTLS = true })
	if !strings.HasPrefix(st.Config.WCURL, "https://") {
		t.Fatalf("shop at %s", st.Config.WCURL)
	}
	st.Shop.SetDropAuthorization(true)
	id := st.Shop.CreateOrder(cardOrder(course("Intro to Python", coursePy)))
	waitFor(t, "order completed", 30*time.Second, func() bool { return status(st, id) == "completed" })
	waitFor(t, "enrollment note", 10*time.Second, func() bool { return enrolledNotes(st, id) == 1 })
	sweep(t, st) // lists orders and webhooks the same way

	calls := st.Shop.Log.Calls()
	refused := 0
	for i, c := range calls {
		switch {
		case c.Status == 401:
			refused++
			if i != 0 || c.Header.Get("Authorization") == "" {
				t.Errorf("call %d refused: %s %s", i, c.Method, c.Path)
			}
		case c.Header.Get("Authorization") != "" || c.Query.Get("consumer_key") != local.SimConsumerKey:
			t.Errorf("call %d (%s %s) not made with query-string keys: %v %v", i, c.Method, c.Path, c.Header, c.Query)
		}
	}
	if refused != 1 || len(calls) < 4 {
		t.Errorf("%d calls, %d refused; want Basic refused once, then query keys", len(calls), refused)
	}
	out := logs.String()
	if n := strings.Count(out, "ignored HTTP Basic authentication"); n != 1 {
		t.Errorf("%d warnings about Basic auth, want 1", n)
	}
	for _, secret := range []string{local.SimConsumerKey, local.SimConsumerSecret} {
		if strings.Contains(out, secret) {
			t.Errorf("the log holds %q", secret)
		}
	}
}
