package enrollment

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aulasneo/wc-openedx/internal/i18n"
)

func TestWebhookProblems(t *testing.T) {
	t.Parallel()
	const want = "https://fn.example.com/Webhook"
	hook := func(id int64, topic, status, url string) Webhook {
		return Webhook{ID: id, Name: "hook", Topic: topic, Status: status, DeliveryURL: url}
	}
	tests := []struct {
		name    string
		hooks   []Webhook
		wantURL string
		keys    []string
	}{
		{"healthy", []Webhook{hook(1, "order.created", "active", want), hook(2, "order.updated", "active", want)}, want, nil},
		{"none", nil, want, []string{"order.created|missing", "order.updated|missing"}},
		{"disabled and paused", []Webhook{hook(1, "order.created", "disabled", want), hook(2, "order.updated", "paused", want)}, want,
			[]string{"order.created|disabled|1", "order.updated|paused|2"}},
		{"elsewhere", []Webhook{hook(1, "order.created", "active", "https://old.example.com/hook"), hook(2, "order.updated", "active", want)}, want,
			[]string{"order.created|elsewhere|1|https://old.example.com/hook"}},
		{"ours inactive beats elsewhere active", []Webhook{hook(1, "order.created", "active", "https://old.example.com/"), hook(3, "order.created", "disabled", want), hook(2, "order.updated", "active", want)}, want,
			[]string{"order.created|disabled|3"}},
		{"one active of two is enough", []Webhook{hook(1, "order.created", "disabled", want), hook(3, "order.created", "active", want), hook(2, "order.updated", "active", want)}, want, nil},
		{"URL compared loosely", []Webhook{hook(1, "order.created", "active", "HTTPS://FN.example.com/Webhook/"), hook(2, "order.updated", "active", want)}, want, nil},
		{"path compared exactly", []Webhook{hook(1, "order.created", "active", "https://fn.example.com/webhook"), hook(2, "order.updated", "active", want)}, want,
			[]string{"order.created|elsewhere|1|https://fn.example.com/webhook"}},
		{"no WEBHOOK_URL: any URL", []Webhook{hook(1, "order.created", "active", "https://a.example"), hook(2, "order.updated", "disabled", "https://b.example")}, "",
			[]string{"order.updated|disabled|2"}},
		{"other topics do not count", []Webhook{hook(1, "order.deleted", "active", want), hook(2, "product.created", "active", want)}, want,
			[]string{"order.created|missing", "order.updated|missing"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var keys []string
			es := webhookProblems(i18n.Spanish, tt.hooks, tt.wantURL)
			for i, p := range webhookProblems(i18n.English, tt.hooks, tt.wantURL) {
				keys = append(keys, p.key)
				if p.text == "" || es[i].text == "" || es[i].text == p.text || es[i].key != p.key {
					t.Errorf("problem %s: texts %q and %q", p.key, p.text, es[i].text)
				}
			}
			if !slices.Equal(keys, tt.keys) {
				t.Errorf("problems %q, want %q", keys, tt.keys)
			}
		})
	}
}

// ---- fakes ----

// fakeAdmin is a shop's order listing and webhooks, listing as WooCommerce does:
// modified_after exclusive to the second, sorted by date modified then id.
type fakeAdmin struct {
	mu     sync.Mutex
	orders map[int64]*Order
	// odd lists orders the listing returns as unreadable entries (Ref = id); listedAt places
	// an order in the listing when its DateModifiedGMT is not what the shop sorts by.
	odd      map[int64]bool
	listedAt map[int64]time.Time
	hooks    []Webhook
	listErr  error
	calls    int
	onList   func(call int) // runs before each listing call, under no lock
	set      []string
	afterArg []time.Time
}

func (a *fakeAdmin) OrdersModifiedAfter(_ context.Context, t time.Time, page, perPage int) ([]ShopOrder, int, error) {
	a.mu.Lock()
	a.calls++
	call := a.calls
	a.afterArg = append(a.afterArg, t)
	hook := a.onList
	a.mu.Unlock()
	if hook != nil {
		hook(call)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.listErr != nil {
		return nil, 0, a.listErr
	}
	after := t.Truncate(time.Second)
	listed := func(o *Order) time.Time {
		if at, ok := a.listedAt[o.ID]; ok {
			return at
		}
		return o.DateModifiedGMT
	}
	var list []*Order
	for _, o := range a.orders {
		if listed(o).After(after) {
			list = append(list, o)
		}
	}
	slices.SortFunc(list, func(x, y *Order) int {
		return orderKey{listed(x), x.ID}.compare(orderKey{listed(y), y.ID})
	})
	total := (len(list) + perPage - 1) / perPage
	from := min((page-1)*perPage, len(list))
	var out []ShopOrder
	for _, o := range list[from:min(from+perPage, len(list))] {
		c := *o
		if a.odd[c.ID] {
			out = append(out, ShopOrder{Raw: fmt.Appendf(nil, `{"id":"%d"}`, c.ID), Ref: fmt.Sprint(c.ID), Unreadable: i18n.Msg("unread.bad_id", `"x"`)})
			continue
		}
		out = append(out, ShopOrder{Order: &c, Raw: fmt.Appendf(nil, `{"id":%d,"status":%q,"date_modified_gmt":%q}`, c.ID, c.Status, c.DateModifiedGMT)})
	}
	return out, total, nil
}

func (a *fakeAdmin) Webhooks(context.Context) ([]Webhook, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.hooks), nil
}

func (a *fakeAdmin) SetWebhookStatus(_ context.Context, id int64, status string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.set = append(a.set, fmt.Sprintf("%d=%s", id, status))
	for i := range a.hooks {
		if a.hooks[i].ID == id {
			a.hooks[i].Status = status
		}
	}
	return nil
}

func (a *fakeAdmin) add(id int64, status string, modified time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.orders == nil {
		a.orders = map[int64]*Order{}
	}
	a.orders[id] = &Order{ID: id, Status: status, PaymentMethod: "stripe", DateModifiedGMT: modified.Truncate(time.Second)}
}

// fakeStore records intakes in memory; Intake fails for the orders in fail.
type fakeStore struct {
	Store // nil: other methods are not used
	mu    sync.Mutex
	recs  map[int64]*OrderRecord
	seen  map[string]bool
	fail  map[int64]bool
	sweep SweepState
	// intakes counts Intake calls per order that recorded something.
	intakes map[int64]int
	ignored []Delivery // RecordIgnored
}

func newFakeStore() *fakeStore {
	return &fakeStore{recs: map[int64]*OrderRecord{}, seen: map[string]bool{}, fail: map[int64]bool{}, intakes: map[int64]int{}}
}

func (f *fakeStore) Intake(_ context.Context, d Delivery, apply func(*OrderRecord) (*OrderRecord, string, []Job)) (string, []Job, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail[d.OrderID] {
		return "", nil, errors.New("store unavailable")
	}
	if f.seen[d.Hash] {
		return OutcomeDuplicate, nil, nil
	}
	f.seen[d.Hash] = true
	next, outcome, jobs := apply(f.recs[d.OrderID])
	if next != nil {
		f.recs[d.OrderID] = next
	}
	f.intakes[d.OrderID]++
	return outcome, jobs, nil
}

func (f *fakeStore) JobPublished(context.Context, string) error { return nil }

func (f *fakeStore) RecordIgnored(_ context.Context, d Delivery) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.seen[d.Hash] {
		return true, nil
	}
	f.seen[d.Hash] = true
	f.ignored = append(f.ignored, d)
	return false, nil
}

func (f *fakeStore) LoadSweep(context.Context) (SweepState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sweep, nil
}

func (f *fakeStore) UpdateSweep(_ context.Context, fn func(*SweepState) error) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := f.sweep
	st.Incidents = slices.Clone(st.Incidents)
	st.Notices = slices.Clone(st.Notices)
	if err := fn(&st); err != nil {
		return err
	}
	f.sweep = st
	return nil
}

type nopPublisher struct{}

func (nopPublisher) Publish(context.Context, Job) error { return nil }

type fakeRecipients struct{ Shop }

func (fakeRecipients) NewOrderRecipients(context.Context) ([]string, error) {
	return []string{"admin@shop.example"}, nil
}

type fakeAlerter struct {
	mu         sync.Mutex
	sent       [][]string
	legacy     [][]LegacyWebhook
	unreadable [][]UnreadableOrder
	err        error
}

func (f *fakeAlerter) SendLegacyWebhookAlert(_ context.Context, _ []string, _ string, hooks []LegacyWebhook) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.legacy = append(f.legacy, hooks)
	return nil
}

func (f *fakeAlerter) SendUnreadableOrderAlert(_ context.Context, _ []string, _ string, orders []UnreadableOrder) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.unreadable = append(f.unreadable, orders)
	return nil
}

func (f *fakeAlerter) SendWebhookAlert(_ context.Context, to []string, _ string, problems []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.sent = append(f.sent, problems)
	return nil
}

var testNow = time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC)

func newSweepService(admin *fakeAdmin, st *fakeStore, al *fakeAlerter) *Service {
	return &Service{
		Store: st, Publisher: nopPublisher{}, Shop: fakeRecipients{},
		Now:       func() time.Time { return testNow },
		Log:       slog.New(slog.NewTextHandler(io.Discard, nil)),
		ShopAdmin: admin, Alerter: al, SweepStore: st,
		SweepSettings: SweepSettings{ShopURL: "https://shop.example", WebhookURL: "https://fn.example/Webhook", ReconcileLookback: 24 * time.Hour},
	}
}

// ---- reconciliation ----

func TestReconcileReadsEveryOrderOnce(t *testing.T) {
	t.Parallel()
	admin := &fakeAdmin{}
	// 250 orders, 130 of them modified in the same second, listed 100 a page.
	for i := range int64(250) {
		m := testNow.Add(-time.Hour)
		if i >= 130 {
			m = m.Add(time.Duration(i) * time.Second)
		}
		admin.add(1000+i, StatusPending, m)
	}
	// While the run reads, the first order is modified: it moves to the end of the listing,
	// which shifts every later page by one under page-number paging.
	admin.onList = func(call int) {
		if call == 2 {
			admin.add(1000, StatusProcessing, testNow.Add(-time.Minute))
		}
	}
	st := newFakeStore()
	s := newSweepService(admin, st, &fakeAlerter{})

	rep := s.Reconcile(context.Background(), time.Time{})
	if !rep.Complete || rep.Failed != 0 || rep.Error != "" {
		t.Fatalf("report %+v", rep)
	}
	for i := range int64(250) {
		if st.recs[1000+i] == nil {
			t.Errorf("order %d never reached intake", 1000+i)
		}
	}
	if got := st.recs[1000].Status; got != StatusProcessing {
		t.Errorf("order 1000 recorded as %s, want its newer status processing", got)
	}
	if !rep.Checkpoint.Equal(testNow) || !st.sweep.Checkpoint.Equal(testNow) {
		t.Errorf("checkpoint %v (stored %v), want the run's start %v", rep.Checkpoint, st.sweep.Checkpoint, testNow)
	}
	if want := testNow.Add(-24 * time.Hour); !admin.afterArg[0].Equal(want) {
		t.Errorf("first run listed after %v, want the lookback %v", admin.afterArg[0], want)
	}

	// The next run starts at the checkpoint less the overlap and changes nothing.
	before := len(st.seen)
	rep = s.Reconcile(context.Background(), st.sweep.Checkpoint)
	if want := testNow.Add(-reconcileOverlap); !rep.From.Equal(want) {
		t.Errorf("second run listed after %v, want %v", rep.From, want)
	}
	if len(st.seen) != before {
		t.Errorf("second run recorded %d new deliveries", len(st.seen)-before)
	}
}

func TestReconcileCheckpointStopsAtFailure(t *testing.T) {
	t.Parallel()
	admin := &fakeAdmin{}
	base := testNow.Add(-30 * time.Minute)
	for i := range int64(5) {
		admin.add(1+i, StatusProcessing, base.Add(time.Duration(i)*time.Minute))
	}
	st := newFakeStore()
	st.fail[3] = true
	s := newSweepService(admin, st, &fakeAlerter{})
	old := testNow.Add(-time.Hour)

	rep := s.Reconcile(context.Background(), old)
	if rep.Failed != 1 || rep.Orders != 4 || !rep.Complete {
		t.Fatalf("report %+v, want 4 orders, 1 failed", rep)
	}
	if want := base.Add(time.Minute); !st.sweep.Checkpoint.Equal(want) {
		t.Errorf("checkpoint %v, want %v: the newest order before the failed one", st.sweep.Checkpoint, want)
	}
	if st.recs[4] == nil || st.recs[5] == nil {
		t.Error("orders after the failed one were not recorded")
	}

	// The store is back: the next run reads order 3 again and then passes it.
	st.fail[3] = false
	rep = s.Reconcile(context.Background(), st.sweep.Checkpoint)
	if st.recs[3] == nil || rep.Failed != 0 {
		t.Fatalf("order 3 not recorded on the next run: %+v", rep)
	}
	if !st.sweep.Checkpoint.Equal(testNow) {
		t.Errorf("checkpoint %v, want %v", st.sweep.Checkpoint, testNow)
	}
}

func TestReconcileShopDown(t *testing.T) {
	t.Parallel()
	admin := &fakeAdmin{listErr: errors.New("connection refused")}
	st := newFakeStore()
	s := newSweepService(admin, st, &fakeAlerter{})
	old := testNow.Add(-time.Hour)
	rep := s.Reconcile(context.Background(), old)
	if rep.Complete || rep.Error == "" || !rep.Checkpoint.Equal(old) || !st.sweep.Checkpoint.IsZero() {
		t.Errorf("report %+v, stored %v: want incomplete, checkpoint unchanged", rep, st.sweep.Checkpoint)
	}
	// On a first run the window is pinned so it does not slide while the shop is down.
	rep = s.Reconcile(context.Background(), time.Time{})
	if want := testNow.Add(-24 * time.Hour); !st.sweep.Checkpoint.Equal(want) {
		t.Errorf("first-run checkpoint %v, want the window's start %v (report %+v)", st.sweep.Checkpoint, want, rep)
	}
}

// An order the run cannot read does not stall it (SPEC §2.1): the others are recorded, the
// checkpoint moves past it, and it is reported once, with its id.
func TestReconcileGoesPastUnreadableOrders(t *testing.T) {
	t.Parallel()
	admin := &fakeAdmin{odd: map[int64]bool{3: true}, listedAt: map[int64]time.Time{}}
	base := testNow.Add(-30 * time.Minute)
	for i := range int64(6) {
		admin.add(1+i, StatusProcessing, base.Add(time.Duration(i)*time.Minute))
	}
	// Order 6's date_modified_gmt cannot be read; the shop still lists it by its real date.
	admin.listedAt[6] = admin.orders[6].DateModifiedGMT
	admin.orders[6].DateModifiedGMT = time.Time{}
	st := newFakeStore()
	al := &fakeAlerter{}
	s := newSweepService(admin, st, al)

	rep := s.Reconcile(context.Background(), testNow.Add(-time.Hour))
	if !rep.Complete || rep.Failed != 0 || rep.Unreadable != 1 || rep.Orders != 5 {
		t.Fatalf("report %+v", rep)
	}
	for _, id := range []int64{1, 2, 4, 5, 6} {
		if st.recs[id] == nil {
			t.Errorf("order %d not recorded", id)
		}
	}
	if !st.sweep.Checkpoint.Equal(testNow) {
		t.Errorf("checkpoint %v, want the run's start %v", st.sweep.Checkpoint, testNow)
	}
	if n := st.sweep.Notices; len(n) != 1 || n[0].Kind != NoticeUnreadableOrder || n[0].Ref != "3" || n[0].Problem == "" {
		t.Fatalf("notices %+v", n)
	}

	// Read again (the overlap): reported once.
	s.Reconcile(context.Background(), testNow.Add(-time.Hour))
	if len(st.sweep.Notices) != 1 {
		t.Errorf("notices after a second run %+v", st.sweep.Notices)
	}
	for range 2 {
		s.SendNotices(context.Background(), nil)
	}
	if len(al.unreadable) != 1 || len(al.unreadable[0]) != 1 || al.unreadable[0][0].Ref != "3" {
		t.Errorf("unreadable-order emails %+v, want one naming order 3", al.unreadable)
	}
}

// A delivery from a webhook set to a legacy API version is recorded as ignored with the
// reason, and each such webhook is emailed about once; a mail outage delays the email.
func TestLegacyDeliveriesAreReportedOncePerWebhook(t *testing.T) {
	t.Parallel()
	admin := &fakeAdmin{hooks: []Webhook{{ID: 3, Name: "Order created", Topic: "order.created", Status: "active"}}}
	st := newFakeStore()
	al := &fakeAlerter{err: errors.New("sendgrid: 503")}
	s := newSweepService(admin, st, al)
	ctx := context.Background()
	for i, d := range []Delivery{
		{Hash: "a", Topic: "order.created", WebhookID: "3", OrderID: 727},
		{Hash: "b", Topic: "order.created", WebhookID: "3", OrderID: 728},
		{Hash: "c", Topic: "order.updated", WebhookID: "4", OrderID: 727},
	} {
		if out, err := s.IntakeLegacy(ctx, d); err != nil || out != OutcomeIgnored {
			t.Fatalf("delivery %d: %s, %v", i, out, err)
		}
	}
	if len(st.ignored) != 3 || !strings.Contains(st.ignored[0].Reason, "WP REST API Integration v3") || !strings.Contains(st.ignored[0].Reason, "#3") {
		t.Fatalf("recorded %+v", st.ignored)
	}
	if len(st.sweep.Notices) != 2 {
		t.Fatalf("notices %+v, want one per webhook", st.sweep.Notices)
	}
	if rep := s.SendNotices(ctx, admin.hooks); rep.Sent != 0 || rep.Error == "" {
		t.Fatalf("mail down: %+v", rep)
	}
	al.err = nil
	if rep := s.SendNotices(ctx, admin.hooks); rep.Sent != 2 {
		t.Fatalf("mail back: %+v", rep)
	}
	s.IntakeLegacy(ctx, Delivery{Hash: "d", Topic: "order.created", WebhookID: "3", OrderID: 729})
	s.SendNotices(ctx, admin.hooks)
	if len(al.legacy) != 1 || len(al.legacy[0]) != 2 ||
		al.legacy[0][0] != (LegacyWebhook{ID: "3", Name: "Order created", Topic: "order.created"}) ||
		al.legacy[0][1] != (LegacyWebhook{ID: "4", Topic: "order.updated"}) {
		t.Errorf("legacy emails %+v, want one naming webhooks 3 and 4", al.legacy)
	}
}

// ---- webhook health ----

func TestCheckWebhooksReportsEachIncidentOnce(t *testing.T) {
	t.Parallel()
	const url = "https://fn.example/Webhook"
	admin := &fakeAdmin{hooks: []Webhook{
		{ID: 1, Name: "Order created", Topic: "order.created", Status: "disabled", DeliveryURL: url},
		{ID: 2, Name: "Order updated", Topic: "order.updated", Status: "active", DeliveryURL: url},
	}}
	st := newFakeStore()
	al := &fakeAlerter{}
	s := newSweepService(admin, st, al)
	run := func() WebhookReport { return s.CheckWebhooks(context.Background(), st.sweep.Incidents) }

	rep := run()
	if rep.Opened != 1 || !rep.Alerted || len(al.sent) != 1 || !strings.Contains(al.sent[0][0], "disabled") {
		t.Fatalf("first run: report %+v, emails %q", rep, al.sent)
	}
	if rep = run(); rep.Opened != 0 || len(al.sent) != 1 {
		t.Fatalf("second run reported again: report %+v, emails %q", rep, al.sent)
	}
	admin.hooks[0].Status = "active"
	if rep = run(); rep.Closed != 1 || len(st.sweep.Incidents) != 0 {
		t.Fatalf("fixed: report %+v, incidents %+v", rep, st.sweep.Incidents)
	}
	admin.hooks[0].Status = "paused"
	if rep = run(); rep.Opened != 1 || len(al.sent) != 2 || !strings.Contains(al.sent[1][0], "paused") {
		t.Fatalf("came back: report %+v, emails %q", rep, al.sent)
	}

	// A mail outage leaves the incident unreported for the next run.
	admin.hooks[1].Status = "disabled"
	al.err = errors.New("sendgrid: 503")
	if rep = run(); rep.Alerted || rep.Error == "" {
		t.Fatalf("mail down: report %+v", rep)
	}
	al.err = nil
	if rep = run(); rep.Opened != 1 || len(al.sent) != 3 || !strings.Contains(al.sent[2][0], "Order updated") {
		t.Fatalf("after the mail outage: report %+v, emails %q", rep, al.sent)
	}
	if len(admin.set) != 0 {
		t.Errorf("webhooks changed without WEBHOOK_REACTIVATE: %q", admin.set)
	}
}

func TestCheckWebhooksReactivates(t *testing.T) {
	t.Parallel()
	admin := &fakeAdmin{hooks: []Webhook{
		{ID: 7, Topic: "order.created", Status: "disabled", DeliveryURL: "https://fn.example/Webhook"},
		{ID: 8, Topic: "order.updated", Status: "active", DeliveryURL: "https://elsewhere.example/"},
	}}
	st := newFakeStore()
	al := &fakeAlerter{}
	s := newSweepService(admin, st, al)
	s.SweepSettings.WebhookReactivate = true

	rep := s.CheckWebhooks(context.Background(), nil)
	if !slices.Equal(admin.set, []string{"7=active"}) || !slices.Equal(rep.Reactivated, []int64{7}) {
		t.Fatalf("set %q, report %+v", admin.set, rep)
	}
	if len(al.sent) != 1 || len(al.sent[0]) != 2 || !strings.Contains(al.sent[0][0], "set it back to Active") || !strings.Contains(al.sent[0][1], "elsewhere.example") {
		t.Fatalf("email %q", al.sent)
	}
	rep = s.CheckWebhooks(context.Background(), st.sweep.Incidents)
	if rep.Closed != 1 || rep.Opened != 0 || len(al.sent) != 1 {
		t.Errorf("after re-activation: report %+v, emails %d", rep, len(al.sent))
	}
}
