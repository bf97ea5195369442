package local_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aulasneo/wc-openedx/function/local"
	"github.com/aulasneo/wc-openedx/internal/enrollment"
	"github.com/aulasneo/wc-openedx/internal/sandbox"
	"github.com/aulasneo/wc-openedx/internal/testenv"
)

// sweep runs the Sweep function as Cloud Scheduler does and returns its report.
func sweep(t testing.TB, st *local.Stack) enrollment.SweepResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, st.URL+"/Sweep", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("sweep answered %s", resp.Status)
	}
	var rep enrollment.SweepResult
	if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil {
		t.Fatalf("sweep report: %v", err)
	}
	return rep
}

// webhookAlerts returns the webhook alert emails sent so far.
func webhookAlerts(st *local.Stack) []sandbox.SentMessage {
	var out []sandbox.SentMessage
	for _, m := range st.Mail.Messages() {
		if strings.Contains(m.Subject, "webhooks need attention") {
			out = append(out, m)
		}
	}
	return out
}

func enrolledNotes(st *local.Stack, id int64) int {
	n := 0
	for _, note := range st.Shop.Notes(id) {
		if strings.Contains(note.Note, "Enrolled in Open edX") {
			n++
		}
	}
	return n
}

func sweepState(t testing.TB, st *local.Stack) enrollment.SweepState {
	t.Helper()
	s, err := st.App.Store.LoadSweep(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// An order whose webhook went to the wrong address is enrolled and completed by one sweep,
// and the sweep reports the misdirected webhooks.
func TestSweepEnrollsOrderTheWebhookMissed(t *testing.T) {
	t.Parallel()
	st := newStack(t, func(_ map[string]string, o *local.Options) { o.NoWebhooks = true })
	for _, topic := range []string{"order.created", "order.updated"} {
		st.Shop.AddWebhook("Old "+topic, topic, "http://127.0.0.1:1/old-service")
	}
	id := st.Shop.CreateOrder(cardOrder(course("Intro to Python", coursePy)))
	st.Shop.Wait()
	if _, err := st.App.Store.Get(context.Background(), id); err == nil {
		t.Fatal("the order reached the service without a webhook to it")
	}

	rep := sweep(t, st)
	if rep.Reconcile.Orders != 1 || rep.Reconcile.Failed != 0 || !rep.Reconcile.Complete {
		t.Errorf("reconcile report %+v", rep.Reconcile)
	}
	waitFor(t, "order completed", 30*time.Second, func() bool { return status(st, id) == "completed" })
	waitFor(t, "enrollment note", 10*time.Second, func() bool { return enrolledNotes(st, id) == 1 })
	if got := enrollmentsOf(st); len(got) != 1 || got[0] != learnerID+" "+coursePy+" audit" {
		t.Errorf("enrollments %q", got)
	}
	rec := record(t, st, id)
	if len(rec.History) == 0 || rec.History[0].Source != enrollment.TopicReconcile {
		t.Errorf("status history %+v does not say the order came from reconciliation", rec.History)
	}
	alerts := webhookAlerts(st)
	if len(alerts) != 1 || !strings.Contains(alerts[0].Text, "127.0.0.1:1/old-service") || !strings.Contains(alerts[0].Text, st.URL+"/Webhook") {
		t.Fatalf("alerts %+v, want one naming the wrong and the right address", alerts)
	}
	if got := alerts[0].To; len(got) != 1 || got[0] != "shop-admin@example.com" {
		t.Errorf("alert sent to %q, want the shop's new-order recipients", got)
	}

	// The next run sees the completed order and does nothing more.
	rep = sweep(t, st)
	time.Sleep(time.Second)
	if n := len(st.LMS.Log.Calls("enroll")); n != 1 {
		t.Errorf("%d enrollment calls, want 1", n)
	}
	if n := enrolledNotes(st, id); n != 1 {
		t.Errorf("%d enrollment notes, want 1", n)
	}
	if len(webhookAlerts(st)) != 1 || rep.Webhooks.Opened != 0 {
		t.Errorf("second run alerted again: %+v", rep.Webhooks)
	}
}

// An order the webhook delivered is not touched again by the sweep.
func TestSweepLeavesHandledOrderAlone(t *testing.T) {
	t.Parallel()
	st := newStack(t)
	id := st.Shop.CreateOrder(cardOrder(course("Intro to Python", coursePy)))
	waitFor(t, "order completed", 30*time.Second, func() bool { return status(st, id) == "completed" })
	waitFor(t, "completion recorded", 10*time.Second, func() bool { return record(t, st, id).Completion.Noted })
	st.Shop.Wait()

	rep := sweep(t, st)
	if rep.Reconcile.Orders != 1 || rep.Webhooks.Opened != 0 || len(rep.Webhooks.Problems) != 0 {
		t.Errorf("report %+v", rep)
	}
	time.Sleep(time.Second)
	st.Shop.Wait()
	if n := len(st.LMS.Log.Calls("enroll")); n != 1 {
		t.Errorf("%d enrollment calls, want 1", n)
	}
	if n := len(st.Shop.Log.Calls("update-order")); n != 1 {
		t.Errorf("%d order updates, want 1", n)
	}
	if n := len(st.Shop.Log.Calls("note")); n != 1 {
		t.Errorf("%d notes, want 1", n)
	}
	if n := len(st.Mail.Messages()); n != 0 {
		t.Errorf("%d emails, want none", n)
	}
}

// A disabled webhook is reported once; fixed, nothing; disabled again, reported again.
func TestSweepReportsWebhookProblemOnce(t *testing.T) {
	t.Parallel()
	st := newStack(t)
	hook := 1
	if w, _ := st.Shop.Webhook(hook); w.Topic != "order.created" || w.Status != "active" {
		t.Fatalf("webhook %d: %+v", hook, w)
	}
	st.Shop.SetWebhookStatus(hook, "disabled")

	sweep(t, st)
	rep := sweep(t, st)
	alerts := webhookAlerts(st)
	if len(alerts) != 1 || !strings.Contains(alerts[0].Text, "“Order created” webhook") || !strings.Contains(alerts[0].Text, "disabled") {
		t.Fatalf("alerts after two runs: %+v", alerts)
	}
	if rep.Webhooks.Opened != 0 || len(rep.Webhooks.Problems) != 1 {
		t.Errorf("second run: %+v", rep.Webhooks)
	}
	if w, _ := st.Shop.Webhook(hook); w.Status != "disabled" {
		t.Errorf("webhook %s without WEBHOOK_REACTIVATE", w.Status)
	}
	if s := sweepState(t, st); len(s.Incidents) != 1 {
		t.Errorf("stored incidents %+v", s.Incidents)
	}

	st.Shop.SetWebhookStatus(hook, "active")
	if rep = sweep(t, st); rep.Webhooks.Closed != 1 || len(webhookAlerts(st)) != 1 {
		t.Fatalf("fixed: %+v, %d alerts", rep.Webhooks, len(webhookAlerts(st)))
	}
	st.Shop.SetWebhookStatus(hook, "disabled")
	sweep(t, st)
	if n := len(webhookAlerts(st)); n != 2 {
		t.Fatalf("%d alerts, want a second one after the problem came back", n)
	}
}

func TestSweepReactivatesDisabledWebhook(t *testing.T) {
	t.Parallel()
	st := newStack(t, withEnv("WEBHOOK_REACTIVATE", "true"))
	st.Shop.SetWebhookStatus(2, "disabled")

	rep := sweep(t, st)
	if w, _ := st.Shop.Webhook(2); w.Status != "active" {
		t.Fatalf("webhook 2 is %s after the sweep, want active (report %+v)", w.Status, rep.Webhooks)
	}
	sweep(t, st)
	alerts := webhookAlerts(st)
	if len(alerts) != 1 || !strings.Contains(alerts[0].Text, "“Order updated” webhook") || !strings.Contains(alerts[0].Text, "set it back to Active") {
		t.Fatalf("alerts %+v, want one saying the webhook was re-activated", alerts)
	}
	// The re-activated webhook delivers again.
	id := st.Shop.CreateOrder(cardOrder(course("Intro to Python", coursePy)))
	st.Shop.SetStatus(id, "on-hold")
	st.Shop.Wait()
	waitFor(t, "the update delivered", 10*time.Second, func() bool {
		rec, err := st.App.Store.Get(context.Background(), id)
		return err == nil && rec.Status == "on-hold"
	})
}

func TestSweepReportsMissingWebhooks(t *testing.T) {
	t.Parallel()
	st := newStack(t, func(_ map[string]string, o *local.Options) { o.NoWebhooks = true })
	rep := sweep(t, st)
	sweep(t, st)
	alerts := webhookAlerts(st)
	if len(alerts) != 1 || rep.Webhooks.Opened != 2 {
		t.Fatalf("alerts %d, report %+v", len(alerts), rep.Webhooks)
	}
	for _, want := range []string{"There is no “Order created” webhook.", "There is no “Order updated” webhook."} {
		if !strings.Contains(alerts[0].Text, want) {
			t.Errorf("alert does not say %q:\n%s", want, alerts[0].Text)
		}
	}
}

func TestSweepPagesThroughManyOrders(t *testing.T) {
	t.Parallel()
	st := newStack(t, func(_ map[string]string, o *local.Options) { o.NoWebhooks = true })
	var ids []int64
	for range 160 {
		spec := cardOrder(course("Intro to Python", coursePy))
		spec.Status = "pending" // awaiting payment: recorded, nothing to do
		ids = append(ids, st.Shop.CreateOrder(spec))
	}
	paid := st.Shop.CreateOrder(cardOrder(course("Go", courseGo)))

	rep := sweep(t, st)
	if rep.Reconcile.Orders != 161 || !rep.Reconcile.Complete {
		t.Fatalf("reconcile report %+v", rep.Reconcile)
	}
	for _, id := range ids {
		if rec := record(t, st, id); rec.Status != "pending" {
			t.Fatalf("order %d recorded as %s", id, rec.Status)
		}
	}
	calls := st.Shop.Log.Calls("list-orders")
	if len(calls) < 2 || calls[0].Query.Get("per_page") != "100" || calls[0].Query.Get("dates_are_gmt") != "true" {
		t.Errorf("%d list calls, first %v", len(calls), calls[0].Query)
	}
	waitFor(t, "the paid order completed", 30*time.Second, func() bool { return status(st, paid) == "completed" })
	if n := len(st.LMS.Log.Calls("enroll")); n != 1 {
		t.Errorf("%d enrollment calls, want 1", n)
	}
}

// The checkpoint is in Firestore: a new instance starts from it, not from the lookback. A
// shop outage leaves it where it was.
func TestSweepCheckpointSurvivesRestart(t *testing.T) {
	t.Parallel()
	project := testenv.Project(t)
	noHooks := func(_ map[string]string, o *local.Options) { o.NoWebhooks = true }
	a := newStack(t, withEnv("GOOGLE_CLOUD_PROJECT", project), noHooks)
	spec := cardOrder(course("Intro to Python", coursePy))
	spec.Status, spec.FirstName = "pending", "Alpha"
	first := a.Shop.CreateOrder(spec)
	sweep(t, a)
	cp := sweepState(t, a).Checkpoint
	if cp.IsZero() || time.Since(cp) > time.Minute {
		t.Fatalf("checkpoint after the first run: %v", cp)
	}
	a.Close()

	b := newStack(t, withEnv("GOOGLE_CLOUD_PROJECT", project), noHooks)
	// Shop b's first order has the same id as shop a's, and was last modified an hour ago:
	// inside the lookback, before the checkpoint.
	spec.FirstName, spec.DateCreated = "Beta", time.Now().Add(-time.Hour)
	if id := b.Shop.CreateOrder(spec); id != first {
		t.Fatalf("order id %d, want %d", id, first)
	}
	spec.FirstName, spec.DateCreated = "Gamma", time.Time{}
	fresh := b.Shop.CreateOrder(spec)

	b.Shop.Faults.Inject("list-orders", sandbox.Fault{Status: 503, Body: `{"code":"down","message":"maintenance"}`, Times: 1})
	rep := sweep(t, b)
	if rep.Reconcile.Complete || rep.Reconcile.Error == "" || !sweepState(t, b).Checkpoint.Equal(cp) {
		t.Fatalf("shop down: report %+v, checkpoint %v (was %v)", rep.Reconcile, sweepState(t, b).Checkpoint, cp)
	}

	rep = sweep(t, b)
	if rep.Reconcile.Orders != 1 || !rep.Reconcile.Complete {
		t.Fatalf("report %+v", rep.Reconcile)
	}
	calls := b.Shop.Log.Calls("list-orders")
	if want := cp.Add(-2 * time.Minute).UTC().Format("2006-01-02T15:04:05"); calls[0].Query.Get("modified_after") != want {
		t.Errorf("the restarted sweep listed after %s, want the checkpoint less the overlap %s", calls[0].Query.Get("modified_after"), want)
	}
	if got := record(t, b, fresh).Snapshot.Order.Billing.FirstName; got != "Gamma" {
		t.Errorf("fresh order recorded with %q", got)
	}
	if got := record(t, b, first).Snapshot.Order.Billing.FirstName; got != "Alpha" {
		t.Errorf("order %d is %q: the restarted sweep looked back past its checkpoint", first, got)
	}
	if !sweepState(t, b).Checkpoint.After(cp) {
		t.Errorf("checkpoint did not advance past %v", cp)
	}
}

// An LMS outage while the sweep catches up loses nothing: the orders are recorded and their
// jobs retried until the LMS answers.
func TestSweepLMSOutageLosesNoOrder(t *testing.T) {
	t.Parallel()
	st := newStack(t, func(_ map[string]string, o *local.Options) { o.NoWebhooks = true })
	st.LMS.Faults.Inject("enroll", sandbox.Fault{Status: 503, Body: `{"detail":"Service Unavailable"}`, Times: 3})
	a := st.Shop.CreateOrder(cardOrder(course("Intro to Python", coursePy)))
	b := st.Shop.CreateOrder(cardOrder(course("Go", courseGo)))

	rep := sweep(t, st)
	if rep.Reconcile.Orders != 2 || rep.Reconcile.Failed != 0 {
		t.Fatalf("reconcile report %+v", rep.Reconcile)
	}
	for _, id := range []int64{a, b} {
		if rec := record(t, st, id); len(rec.Lines) != 1 || rec.EnrollGen != 1 {
			t.Errorf("order %d recorded without its enrollment queued: %+v", id, rec)
		}
	}
	waitFor(t, "both orders completed", 60*time.Second, func() bool {
		return status(st, a) == "completed" && status(st, b) == "completed"
	})
	var failed int
	for _, c := range st.LMS.Log.Calls("enroll") {
		if c.Status == http.StatusServiceUnavailable {
			failed++
		}
	}
	if failed != 3 || len(st.LMS.Enrollments()) != 2 {
		t.Errorf("%d failed enrollment calls, enrollments %q", failed, enrollmentsOf(st))
	}
	// A later run changes nothing.
	sweep(t, st)
	time.Sleep(time.Second)
	if n := len(st.LMS.Log.Calls("enroll")); n != 5 {
		t.Errorf("%d enrollment calls, want 5 (3 refused, 2 enrolled)", n)
	}
}
