package enrollment

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/aulasneo/wc-openedx/internal/i18n"
)

// WooCommerce delivers each webhook once, never retries, and disables a webhook after a run of
// failures; deliveries also go missing. The sweep catches up (SPEC §2.7): it reads the orders
// modified since its checkpoint and passes each through Intake as the webhook would, and it
// checks that the shop's order webhooks are there, active, and point at the service.

// ShopOrder is an order as the shop's order listing shows it, with its JSON as the shop wrote it.
// Order is nil for an entry that cannot be read as an order (it has no numeric id, say):
// Unreadable says why and Ref is its id as the shop wrote it ("" when it has none).
type ShopOrder struct {
	Order      *Order
	Raw        []byte
	Unreadable i18n.Text
	Ref        string
}

// Webhook is one of the shop's webhooks as its REST API shows it (which has no API version).
type Webhook struct {
	ID          int64
	Name        string
	Status      string // WebhookActive, WebhookPaused or WebhookDisabled
	Topic       string // e.g. order.created
	DeliveryURL string
}

// Webhook statuses.
const (
	WebhookActive   = "active"
	WebhookPaused   = "paused"
	WebhookDisabled = "disabled"
)

// ShopAdmin is what the sweep needs from the shop's REST API. Implemented by internal/woocommerce.
type ShopAdmin interface {
	// OrdersModifiedAfter lists the orders modified after t (exclusive, to the second), oldest
	// change first and by id within a second; page starts at 1, perPage is at most 100.
	// totalPages is how many pages the shop says the listing has.
	OrdersModifiedAfter(ctx context.Context, t time.Time, page, perPage int) (orders []ShopOrder, totalPages int, err error)
	// Webhooks lists every webhook of the shop.
	Webhooks(ctx context.Context) ([]Webhook, error)
	// SetWebhookStatus sets a webhook's status (WebhookActive to re-activate it).
	SetWebhookStatus(ctx context.Context, id int64, status string) error
}

// Alerter emails the shop's admins what the sweep found. Implemented by internal/mail.
type Alerter interface {
	// SendWebhookAlert: the shop's webhooks need attention (SPEC §2.7).
	SendWebhookAlert(ctx context.Context, to []string, shopURL string, problems []string) error
	// SendLegacyWebhookAlert: these webhooks are set to a legacy API version (SPEC §2.1).
	SendLegacyWebhookAlert(ctx context.Context, to []string, shopURL string, hooks []LegacyWebhook) error
	// SendUnreadableOrderAlert: reconciliation could not read these orders (SPEC §2.1).
	SendUnreadableOrderAlert(ctx context.Context, to []string, shopURL string, orders []UnreadableOrder) error
}

// SweepState is what the sweep keeps between runs (sweep/state).
type SweepState struct {
	// Checkpoint: every order modified before it has gone through intake. Zero before the
	// first reconciliation.
	Checkpoint time.Time `firestore:"checkpoint"`
	// Incidents are the webhook problems reported and not yet seen gone.
	Incidents []Incident `firestore:"incidents"`
	// Notices are the problems reported once (notice.go).
	Notices   []Notice  `firestore:"notices,omitempty"`
	UpdatedAt time.Time `firestore:"updatedAt"`
}

// Incident is one open webhook problem, reported once.
type Incident struct {
	Key      string    `firestore:"key"`     // which problem, e.g. order.created|disabled|12
	Problem  string    `firestore:"problem"` // as reported, in plain words
	OpenedAt time.Time `firestore:"openedAt"`
}

// SweepStore keeps the SweepState. Implemented by internal/store (Firestore).
type SweepStore interface {
	// LoadSweep reads the state; the zero state when none was saved yet.
	LoadSweep(ctx context.Context) (SweepState, error)
	// UpdateSweep runs fn on the stored state (the zero state when none) in a transaction and
	// writes it. fn may run more than once; an error from it aborts without writing.
	UpdateSweep(ctx context.Context, fn func(st *SweepState) error) error
}

// SweepSettings are the settings of reconciliation and webhook health (SPEC §3).
type SweepSettings struct {
	ShopURL           string        // WC_URL, named in the alert email
	WebhookURL        string        // WEBHOOK_URL; "" matches a webhook of the topic at any URL
	ReconcileLookback time.Duration // RECONCILE_LOOKBACK: how far back the first run looks
	WebhookReactivate bool          // WEBHOOK_REACTIVATE
}

const (
	// reconcileOverlap is how far before the checkpoint each run starts listing, so that
	// orders saved around the end of the previous run, or stamped by a shop whose clock is a
	// little behind, are not missed. Orders read twice are duplicates or no-ops.
	reconcileOverlap = 2 * time.Minute
	// defaultLookback applies when SweepSettings.ReconcileLookback is not set.
	defaultLookback = 72 * time.Hour
	// reconcilePerPage is the shop's largest page.
	reconcilePerPage = 100
	// reconcileMaxPages bounds one run; the next run continues from the checkpoint.
	reconcileMaxPages = 500
	// reconcileMaxFailures in a row stops a run: the store is likely down.
	reconcileMaxFailures = 5
)

// SweepResult says what one run of the sweep did; the Sweep function answers it as JSON.
type SweepResult struct {
	Published   int             `json:"published"`   // outbox jobs published
	Unpublished int             `json:"unpublished"` // outbox jobs still not published
	Webhooks    WebhookReport   `json:"webhooks"`
	Reconcile   ReconcileReport `json:"reconcile"`
	Notices     NoticeReport    `json:"notices"`
}

// ReconcileReport says what reconciliation did in one run.
type ReconcileReport struct {
	Ran      bool           `json:"ran"`
	From     time.Time      `json:"from,omitzero"` // the modified_after of the listing
	Orders   int            `json:"orders"`        // orders that went through intake
	Outcomes map[string]int `json:"outcomes,omitempty"`
	Failed   int            `json:"failed"` // orders whose intake failed (retried next run)
	// Unreadable counts the listing's entries that could not be read as orders; they are
	// reported once (a notice) and do not hold the checkpoint back.
	Unreadable int       `json:"unreadable"`
	Complete   bool      `json:"complete"`
	Checkpoint time.Time `json:"checkpoint,omitzero"` // as saved after the run
	Error      string    `json:"error,omitempty"`
}

// WebhookReport says what the webhook health check found and did in one run.
type WebhookReport struct {
	Ran         bool     `json:"ran"`
	Problems    []string `json:"problems,omitempty"` // every problem seen now
	Opened      int      `json:"incidentsOpened"`
	Closed      int      `json:"incidentsClosed"`
	Reactivated []int64  `json:"reactivated,omitempty"`
	Alerted     bool     `json:"alerted"` // an email went out
	Error       string   `json:"error,omitempty"`
}

// Sweep is one scheduled run (SPEC §1, §2.7): it publishes the outbox, checks the shop's
// webhooks, and reconciles the orders modified since the checkpoint. It returns an error only
// when it could not run at all (the outbox or its state unreadable); trouble with single
// orders or with the shop is in the result and the log, and the next run retries.
func (s *Service) Sweep(ctx context.Context) (SweepResult, error) {
	var res SweepResult
	out, err := s.RelayOutbox(ctx)
	res.Published, res.Unpublished = out.Published, out.Failed
	if err != nil {
		return res, err
	}
	if s.ShopAdmin == nil || s.SweepStore == nil {
		return res, nil
	}
	st, err := s.SweepStore.LoadSweep(ctx)
	if err != nil {
		return res, fmt.Errorf("read the sweep state: %w", err)
	}
	var hooks []Webhook
	res.Webhooks, hooks = s.checkWebhooks(ctx, st.Incidents)
	res.Reconcile = s.Reconcile(ctx, st.Checkpoint)
	res.Notices = s.SendNotices(ctx, hooks)
	return res, nil
}

// orderKey orders listed orders as the shop sorts them: by date modified, then id.
type orderKey struct {
	modified time.Time
	id       int64
}

func (k orderKey) compare(o orderKey) int {
	if c := k.modified.Compare(o.modified); c != 0 {
		return c
	}
	return cmp.Compare(k.id, o.id)
}

// Reconcile passes every order the shop modified since checkpoint (less an overlap; the
// lookback on the first run) through Intake with topic TopicReconcile, so orders whose
// webhook never arrived are handled, and orders handled already are duplicates or no-ops. It
// then advances the checkpoint: to the run's start when every order was read and recorded,
// otherwise to the newest order before the first one that failed, which the next run reads
// again.
//
// The listing walks by key rather than by page number: an order modified while the run reads
// it moves to the end of the list, which would shift every later page by one and skip an
// order. Each query starts at the second of the last order read and skips what was read;
// page numbers only step over more than a page of orders modified in one second.
//
// An entry the run cannot read as an order never stalls it (SPEC §2.1): it is reported once
// (a notice, emailed by the sweep, and a log line) with its id, and the run goes on and moves
// the checkpoint past it. An order whose date_modified_gmt cannot be read goes through intake
// but, having no place in the walk, is read once per run.
func (s *Service) Reconcile(ctx context.Context, checkpoint time.Time) ReconcileReport {
	start := s.now()
	rep := ReconcileReport{Ran: true, Outcomes: map[string]int{}}
	lookback := s.SweepSettings.ReconcileLookback
	if lookback <= 0 {
		lookback = defaultLookback
	}
	from := start.Add(-lookback)
	if !checkpoint.IsZero() {
		from = checkpoint.Add(-reconcileOverlap)
	}
	rep.From = from
	log := s.log().With("from", from)

	var (
		last     orderKey  // the last order read, in listing order
		safe     time.Time // every order modified up to here is recorded
		blocked  bool      // an order failed: safe no longer advances
		inARow   int
		after    = from
		page     = 1
		requests = 0
		// Entries without a place in the walk, read once per run: unreadable ones by body,
		// undated orders by id.
		seenRaw     = map[string]bool{}
		seenUndated = map[int64]bool{}
	)
	for {
		if requests >= reconcileMaxPages {
			rep.Error = fmt.Sprintf("stopped after %d pages; the next run continues", requests)
			break
		}
		requests++
		orders, total, err := s.ShopAdmin.OrdersModifiedAfter(ctx, after, page, reconcilePerPage)
		if err != nil {
			rep.Error = "list the shop's orders: " + err.Error()
			log.ErrorContext(ctx, "reconciliation could not list the shop's orders; the next run retries", "page", page, "error", err)
			break
		}
		fresh, advanced := 0, false
		for _, so := range orders {
			if so.Order == nil {
				if h := bodyHash(so.Raw); !seenRaw[h] {
					seenRaw[h] = true
					fresh++
					rep.Unreadable++
					s.noticeUnreadable(ctx, so, h)
				}
				continue
			}
			k := orderKey{so.Order.DateModifiedGMT, so.Order.ID}
			if k.modified.IsZero() {
				if seenUndated[k.id] {
					continue
				}
				seenUndated[k.id] = true
			} else {
				if last != (orderKey{}) && k.compare(last) <= 0 {
					continue // read earlier in this run
				}
				last, advanced = k, true
			}
			fresh++
			outcome, err := s.Intake(ctx, Delivery{Topic: TopicReconcile, Hash: bodyHash(so.Raw), OrderID: so.Order.ID}, so.Order, so.Raw)
			if err != nil {
				rep.Failed++
				inARow++
				blocked = true
				log.ErrorContext(ctx, "reconciliation could not record an order; the next run retries it", "order", so.Order.ID, "modified", k.modified, "error", err)
				if inARow >= reconcileMaxFailures {
					break
				}
				continue
			}
			inARow = 0
			rep.Orders++
			rep.Outcomes[outcome]++
			if outcome == OutcomeApplied {
				log.InfoContext(ctx, "order reconciled", "order", so.Order.ID, "status", so.Order.Status, "outcome", outcome)
			}
			if !blocked && !k.modified.IsZero() {
				safe = k.modified
			}
		}
		if inARow >= reconcileMaxFailures {
			rep.Error = fmt.Sprintf("stopped after %d orders in a row could not be recorded", inARow)
			break
		}
		if len(orders) == 0 || page >= total {
			rep.Complete = true
			break
		}
		if fresh == 0 || !advanced {
			// More than a page of orders modified in one second, or a page of entries that
			// have no place in the walk: the next page of the same listing.
			page++
			continue
		}
		// WooCommerce compares modified_after to the second, exclusively: start one second
		// before the last order read to see the rest of its second.
		after, page = last.modified.Add(-time.Second), 1
	}

	next := safe
	if rep.Complete && !blocked {
		next = start
	}
	if next.IsZero() && checkpoint.IsZero() {
		next = from // keep the first window from sliding while nothing can be recorded
	}
	saved := checkpoint
	if next.After(checkpoint) {
		err := s.SweepStore.UpdateSweep(context.WithoutCancel(ctx), func(st *SweepState) error {
			if next.After(st.Checkpoint) {
				st.Checkpoint = next
			}
			st.UpdatedAt = s.now()
			saved = st.Checkpoint
			return nil
		})
		if err != nil {
			saved = checkpoint
			rep.Error = strings.TrimPrefix(rep.Error+"; ", "; ") + "save the checkpoint: " + err.Error()
			log.ErrorContext(ctx, "reconciliation checkpoint not saved; the next run reads these orders again", "error", err)
		}
	}
	rep.Checkpoint = saved
	if len(rep.Outcomes) == 0 {
		rep.Outcomes = nil
	}
	log.InfoContext(ctx, "reconciliation done", "orders", rep.Orders, "failed", rep.Failed, "complete", rep.Complete, "checkpoint", saved)
	return rep
}

func bodyHash(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// webhookTopics are the topics the service needs a webhook for.
var webhookTopics = []string{TopicOrderCreated, TopicOrderUpdated}

// webhookProblem is one thing wrong with the shop's webhooks.
type webhookProblem struct {
	key    string // stable while the problem lasts
	text   string // for the admin
	inert  int64  // our webhook that is paused or disabled (to re-activate), else 0
	status string // its status
}

// webhookProblems compares the shop's webhooks with what the service needs: for each topic,
// an active webhook delivering to wantURL (any URL when wantURL is ""). A topic with one is
// fine, whatever other webhooks it has. Otherwise the problems are its webhooks to wantURL
// that are paused or disabled; failing those, its webhooks to other URLs; failing those, that
// it has none. The texts are in l.
func webhookProblems(l i18n.Lang, hooks []Webhook, wantURL string) []webhookProblem {
	var out []webhookProblem
	for _, topic := range webhookTopics {
		var ours, elsewhere []Webhook
		for _, h := range hooks {
			if h.Topic != topic {
				continue
			}
			if wantURL == "" || sameURL(h.DeliveryURL, wantURL) {
				ours = append(ours, h)
			} else {
				elsewhere = append(elsewhere, h)
			}
		}
		if slices.ContainsFunc(ours, func(h Webhook) bool { return h.Status == WebhookActive }) {
			continue
		}
		switch {
		case len(ours) > 0:
			for _, h := range ours {
				out = append(out, webhookProblem{
					key:  fmt.Sprintf("%s|%s|%d", topic, h.Status, h.ID),
					text: l.T("hook.problem.inert", word(l, "hook.topic."+topic, topic), hookName(l, h), word(l, "hook.status."+h.Status, h.Status)),
					// WooCommerce has three statuses; anything but active stops deliveries.
					inert: h.ID, status: h.Status,
				})
			}
		case len(elsewhere) > 0:
			for _, h := range elsewhere {
				out = append(out, webhookProblem{
					key:  fmt.Sprintf("%s|elsewhere|%d|%s", topic, h.ID, h.DeliveryURL),
					text: l.T("hook.problem.elsewhere", word(l, "hook.topic."+topic, topic), hookName(l, h), h.DeliveryURL, wantURL),
				})
			}
		default:
			out = append(out, webhookProblem{
				key:  topic + "|missing",
				text: l.T("hook.problem.missing", word(l, "hook.topic."+topic, topic)),
			})
		}
	}
	return out
}

func hookName(l i18n.Lang, h Webhook) string {
	if h.Name == "" {
		return l.T("hook.name", itoa(h.ID))
	}
	return l.T("hook.name_named", itoa(h.ID), h.Name)
}

// word is the catalogue's word for key (a WooCommerce topic or status, as its admin names
// it), or value itself when the catalogue has none.
func word(l i18n.Lang, key, value string) string {
	if w, ok := l.Lookup(key); ok {
		return w
	}
	return value
}

// sameURL compares delivery URLs as an admin would: scheme and host in any case, a trailing
// slash or not.
func sameURL(a, b string) bool {
	norm := func(s string) string {
		s = strings.TrimSpace(s)
		u, err := url.Parse(s)
		if err != nil || u.Host == "" {
			return strings.TrimRight(s, "/")
		}
		u.Scheme, u.Host = strings.ToLower(u.Scheme), strings.ToLower(u.Host)
		u.Path = strings.TrimRight(u.Path, "/")
		u.RawPath = ""
		return u.String()
	}
	return norm(a) == norm(b)
}

// CheckWebhooks checks the shop's order webhooks (SPEC §2.7) against the incidents open
// before this run. Each new problem opens an incident, reported once by log and by one email
// to the new-order recipients; an incident closes when its problem is no longer seen, so a
// problem that comes back is reported again. With WEBHOOK_REACTIVATE a paused or disabled
// webhook of ours is set back to active, and the report says so.
func (s *Service) CheckWebhooks(ctx context.Context, open []Incident) WebhookReport {
	rep, _ := s.checkWebhooks(ctx, open)
	return rep
}

// checkWebhooks is CheckWebhooks that also returns the shop's webhooks (nil when they could
// not be listed), which the notices name.
func (s *Service) checkWebhooks(ctx context.Context, open []Incident) (WebhookReport, []Webhook) {
	rep := WebhookReport{Ran: true}
	log := s.log()
	hooks, err := s.ShopAdmin.Webhooks(ctx)
	if err != nil {
		rep.Error = "list the shop's webhooks: " + err.Error()
		log.ErrorContext(ctx, "webhook check could not list the shop's webhooks", "error", err)
		return rep, nil
	}
	problems := webhookProblems(s.lang(), hooks, s.SweepSettings.WebhookURL)
	for i, p := range problems {
		if p.inert == 0 || !s.SweepSettings.WebhookReactivate {
			continue
		}
		if err := s.ShopAdmin.SetWebhookStatus(ctx, p.inert, WebhookActive); err != nil {
			problems[i].text += " " + s.lang().T("hook.reactivate_failed", Describe(s.lang(), err))
			log.ErrorContext(ctx, "webhook could not be re-activated", "webhook", p.inert, "status", p.status, "error", err)
			continue
		}
		problems[i].text += " " + s.lang().T("hook.reactivated")
		rep.Reactivated = append(rep.Reactivated, p.inert)
		log.WarnContext(ctx, "webhook re-activated", "webhook", p.inert, "was", p.status)
	}
	for _, p := range problems {
		rep.Problems = append(rep.Problems, p.text)
	}

	// Claim the new incidents and close the gone ones in one transaction, so two runs at
	// once report a problem once; the email goes out after.
	now := s.now()
	var opened []Incident
	var closed []Incident
	err = s.SweepStore.UpdateSweep(ctx, func(st *SweepState) error {
		opened, closed = opened[:0], closed[:0]
		var keep []Incident
		for _, in := range st.Incidents {
			if slices.ContainsFunc(problems, func(p webhookProblem) bool { return p.key == in.Key }) {
				keep = append(keep, in)
			} else {
				closed = append(closed, in)
			}
		}
		for _, p := range problems {
			if !slices.ContainsFunc(keep, func(in Incident) bool { return in.Key == p.key }) {
				in := Incident{Key: p.key, Problem: p.text, OpenedAt: now}
				opened = append(opened, in)
				keep = append(keep, in)
			}
		}
		st.Incidents = keep
		st.UpdatedAt = now
		return nil
	})
	if err != nil {
		rep.Error = "record webhook incidents: " + err.Error()
		log.ErrorContext(ctx, "webhook incidents not recorded; the next run checks again", "error", err)
		return rep, hooks
	}
	rep.Opened, rep.Closed = len(opened), len(closed)
	for _, in := range closed {
		log.InfoContext(ctx, "webhook problem resolved", "incident", in.Key, "problem", in.Problem, "since", in.OpenedAt)
	}
	for _, in := range opened {
		log.WarnContext(ctx, "webhook problem", "incident", in.Key, "problem", in.Problem)
	}
	for _, in := range open {
		if slices.ContainsFunc(problems, func(p webhookProblem) bool { return p.key == in.Key }) {
			log.DebugContext(ctx, "webhook problem still open, reported before", "incident", in.Key, "since", in.OpenedAt)
		}
	}
	if len(opened) == 0 {
		return rep, hooks
	}

	texts := make([]string, len(opened))
	for i, in := range opened {
		texts[i] = in.Problem
	}
	sendErr := s.alert(ctx, texts)
	if sendErr == nil {
		rep.Alerted = true
		return rep, hooks
	}
	rep.Error = "webhook alert email: " + sendErr.Error()
	if IsPermanent(sendErr) {
		// Retrying every few minutes would not help; the log line above stays.
		log.ErrorContext(ctx, "webhook alert email not sent", "error", sendErr)
		return rep, hooks
	}
	// Undo the claim so that the next run reports these problems again.
	log.WarnContext(ctx, "webhook alert email not sent; the next run tries again", "error", sendErr)
	err = s.SweepStore.UpdateSweep(context.WithoutCancel(ctx), func(st *SweepState) error {
		st.Incidents = slices.DeleteFunc(st.Incidents, func(in Incident) bool {
			return slices.ContainsFunc(opened, func(o Incident) bool { return o.Key == in.Key && o.OpenedAt.Equal(in.OpenedAt) })
		})
		return nil
	})
	if err != nil {
		log.ErrorContext(ctx, "could not reopen the unreported webhook incidents", "error", err)
	}
	return rep, hooks
}

// alert emails problems to the new-order recipients.
func (s *Service) alert(ctx context.Context, problems []string) error {
	err := s.alertWith(ctx, func(to []string) error {
		return s.Alerter.SendWebhookAlert(ctx, to, s.SweepSettings.ShopURL, problems)
	})
	if err == nil {
		s.log().InfoContext(ctx, "webhook alert sent", "problems", len(problems))
	}
	return err
}
