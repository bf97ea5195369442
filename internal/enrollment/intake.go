package enrollment

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aulasneo/wc-openedx/internal/i18n"
)

// Settings are the business settings the domain needs from the configuration.
type Settings struct {
	DefaultMode    string   // OPENEDX_DEFAULT_MODE
	ConfirmMethods []string // CONFIRM_PAYMENT_METHODS
	CompleteMixed  bool     // WC_COMPLETE_MIXED_ORDERS
	NotifyEmails   []string // NOTIFY_EMAILS
	MaxAttempts    int      // the push subscription's max delivery attempts
	// Lease is how long a claim (a line being enrolled, an email being sent, an order being
	// completed) holds before another worker may take it over, as when the worker that
	// claimed it died. It must exceed the longest a job can run.
	Lease time.Duration
	// PublishTimeout bounds the publish done inside a request; a job not published by then
	// stays in the outbox for the sweep.
	PublishTimeout time.Duration
	// OutboxGrace is how old an outbox job must be before the sweep publishes it (30 s).
	OutboxGrace time.Duration
	// UnenrollOn are the statuses that take access away (UNENROLL_ON): refunded, cancelled.
	// With refunded, a refund that covers a whole course line takes that line's access away.
	UnenrollOn []string
	// Language is LANGUAGE: the language of the notes, reasons and alerts (SPEC §2.9).
	Language i18n.Lang
	// SupportContact is SUPPORT_CONTACT (an email or a URL), named in failure notes as the
	// next step when a retry does not help; "" names none.
	SupportContact string
}

// Service is the product's behaviour: intake decisions, the jobs, confirmation, the sweep.
type Service struct {
	Store       Store
	Publisher   Publisher
	LMS         LMS
	Shop        Shop
	Mailer      Mailer
	ConfirmLink func(orderID int64) string
	Settings    Settings
	Now         func() time.Time
	Log         *slog.Logger

	// RetryLink is the signed Retry link of a failure email (SPEC §2.5b); nil: no button.
	RetryLink func(orderID int64) string

	// Reconciliation and webhook health (SPEC §2.7); the sweep only publishes the outbox
	// when ShopAdmin or SweepStore is nil.
	ShopAdmin     ShopAdmin
	Alerter       Alerter
	SweepStore    SweepStore
	SweepSettings SweepSettings
}

// lang is the language of what the shop's people read.
func (s *Service) lang() i18n.Lang { return i18n.Of(string(s.Settings.Language)) }

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Service) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

// maxRaw caps the raw payload kept on the order document (Firestore documents hold 1 MiB).
const maxRaw = 512 << 10

// Topics the service acts on.
const (
	TopicOrderCreated = "order.created"
	TopicOrderUpdated = "order.updated"
	// TopicReconcile marks an order read from the shop by the sweep rather than delivered.
	TopicReconcile = "reconcile"
	// TopicRefresh marks an order read from the shop to settle a tie (JobRefresh).
	TopicRefresh = "refresh"
)

// Intake records a delivery of order (nil for payloads that only carry an id, such as
// order.deleted) and queues the jobs the order now needs (SPEC §2.1, §2.3, §2.5). The
// returned outcome is one of the Outcome constants. When it returns nil the delivery is
// durable and its jobs will run: they are in the outbox even if publishing failed.
func (s *Service) Intake(ctx context.Context, d Delivery, order *Order, raw []byte) (string, error) {
	outcome, cleanup, err := s.IntakeThenCleanup(ctx, d, order, raw)
	cleanup()
	return outcome, err
}

// IntakeThenCleanup is Intake without the last step: it returns a function that removes the
// published jobs from the outbox, which the caller runs after answering (the outbox delete is
// a Firestore call the shop need not wait for; if it never runs, the sweep publishes the job
// again, which is harmless since jobs are idempotent).
func (s *Service) IntakeThenCleanup(ctx context.Context, d Delivery, order *Order, raw []byte) (string, func(), error) {
	d.ReceivedAt = s.now()
	var apply func(rec *OrderRecord) (*OrderRecord, string, []Job)
	if order != nil && (d.Topic == TopicOrderCreated || d.Topic == TopicOrderUpdated || d.Topic == TopicReconcile || d.Topic == TopicRefresh || d.Topic == TopicRetry) {
		apply = func(rec *OrderRecord) (*OrderRecord, string, []Job) {
			return s.applyOrder(rec, order, raw, d.Topic, d.ReceivedAt)
		}
	} else {
		apply = func(*OrderRecord) (*OrderRecord, string, []Job) { return nil, OutcomeIgnored, nil }
	}
	outcome, jobs, err := s.Store.Intake(ctx, d, apply)
	if err != nil {
		return "", func() {}, fmt.Errorf("record delivery of order %d: %w", d.OrderID, err)
	}
	published := s.publishOnly(ctx, jobs)
	return outcome, func() { s.forget(context.WithoutCancel(ctx), published) }, nil
}

// IntakeOther records a signed delivery of a topic the service does not handle.
func (s *Service) IntakeOther(ctx context.Context, d Delivery) (string, error) {
	d.ReceivedAt = s.now()
	dup, err := s.Store.RecordIgnored(ctx, d)
	if err != nil {
		return "", fmt.Errorf("record %s delivery: %w", d.Topic, err)
	}
	if dup {
		return OutcomeDuplicate, nil
	}
	return OutcomeIgnored, nil
}

// publish publishes jobs that are already in the outbox and removes them from it. A job that
// cannot be published now stays there for the sweep.
func (s *Service) publish(ctx context.Context, jobs []Job) {
	s.forget(context.WithoutCancel(ctx), s.publishOnly(ctx, jobs))
}

// publishOnly publishes jobs and returns those Pub/Sub accepted.
func (s *Service) publishOnly(ctx context.Context, jobs []Job) []Job {
	var published []Job
	for _, j := range jobs {
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.publishTimeout())
		err := s.Publisher.Publish(pctx, j)
		cancel()
		if err != nil {
			s.log().WarnContext(ctx, "job left in the outbox for the sweep", "job", j.ID, "order", j.OrderID, "error", err)
			continue
		}
		published = append(published, j)
	}
	return published
}

// forget removes published jobs from the outbox.
func (s *Service) forget(ctx context.Context, jobs []Job) {
	for _, j := range jobs {
		if err := s.Store.JobPublished(ctx, j.ID); err != nil {
			s.log().WarnContext(ctx, "published job still in the outbox; the sweep will publish it again", "job", j.ID, "error", err)
		}
	}
}

func (s *Service) publishTimeout() time.Duration {
	if s.Settings.PublishTimeout > 0 {
		return s.Settings.PublishTimeout
	}
	return 5 * time.Second
}

// applyOrder is the intake decision. It runs inside the Store's transaction and may run more
// than once, so it only computes.
func (s *Service) applyOrder(rec *OrderRecord, o *Order, raw []byte, source string, now time.Time) (*OrderRecord, string, []Job) {
	isNew := rec == nil
	if isNew {
		rec = &OrderRecord{ID: o.ID, CreatedAt: now}
	} else if o.DateModifiedGMT.Before(rec.ModifiedGMT) {
		return nil, OutcomeStale, nil
	} else if (source == TopicOrderCreated || source == TopicOrderUpdated) && o.DateModifiedGMT.Equal(rec.ModifiedGMT) && !sameOrder(o, &rec.Snapshot.Order) {
		// WooCommerce stamps date_modified to the second, so two deliveries of one second
		// can disagree, and the later to arrive is not the later state. Neither is applied:
		// a job reads the order from the shop (the Webhook holds no REST keys) and applies it.
		j := Job{ID: fmt.Sprintf("refresh-%d-%d", rec.ID, now.UnixNano()), Kind: JobRefresh, OrderID: rec.ID, CreatedAt: now}
		return nil, OutcomeTie, []Job{j}
	}
	prev := rec.Status
	rec.Number = o.DisplayNumber()
	rec.Status = o.Status
	rec.ModifiedGMT = o.DateModifiedGMT
	rec.Snapshot.Order = *o
	rec.Raw = ""
	if len(raw) <= maxRaw {
		rec.Raw = string(raw)
	}
	rec.UpdatedAt = now
	if isNew || prev != o.Status {
		rec.History = append(rec.History, StatusChange{From: prev, To: o.Status, ModifiedGMT: o.DateModifiedGMT, At: now, Source: source})
	}
	syncLines(rec, o, s.Settings.DefaultMode)
	rec.Confirm = slices.Contains(s.Settings.ConfirmMethods, o.PaymentMethod)

	var jobs []Job
	paidBy := ""
	switch {
	case rec.Confirm:
		// The status a confirm-method order has when first seen, or reaches from checkout,
		// never counts as paid (SPEC §2.5); a later move by an admin does.
		if !isNew && prev != o.Status && IsPaid(o.Status) && !isCheckoutStatus(prev) {
			paidBy = PaidByAdmin
		}
	case IsPaid(o.Status) && (isNew || !IsPaid(prev)):
		paidBy = PaidByStatus
	}
	if paidBy != "" {
		if rec.PaidBy == "" {
			rec.PaidBy, rec.PaidAt = paidBy, now
		}
		if j, ok := rec.queueEnrollment(now); ok {
			jobs = append(jobs, j)
		}
	}
	if j, ok := s.queueUnenrollment(rec, o, prev, isNew, now); ok {
		jobs = append(jobs, j)
	}
	if rec.Confirm && rec.PaidBy == "" && rec.Email.State == "" &&
		(o.Status == StatusOnHold || o.Status == StatusProcessing) && rec.hasCourseLines() {
		rec.Email.State = EmailQueued
		jobs = append(jobs, Job{ID: "email-" + strconv.FormatInt(rec.ID, 10), Kind: JobEmail, OrderID: rec.ID, CreatedAt: now})
	}
	return rec, OutcomeApplied, jobs
}

// queueUnenrollment decides whether access must be taken away (UNENROLL_ON): the order moved
// into one of those statuses, or a refund appeared (with refunded in the list).
func (s *Service) queueUnenrollment(rec *OrderRecord, o *Order, prev string, isNew bool, now time.Time) (Job, bool) {
	seen := map[int64]bool{}
	for _, id := range rec.RefundIDs {
		seen[id] = true
	}
	newRefund := false
	for _, r := range o.Refunds {
		if !seen[r.ID] {
			newRefund = true
			rec.RefundIDs = append(rec.RefundIDs, r.ID)
		}
	}
	if len(s.Settings.UnenrollOn) == 0 || isNew {
		return Job{}, false
	}
	scope := ""
	switch {
	case prev != o.Status && slices.Contains(s.Settings.UnenrollOn, o.Status):
		scope = ScopeOrder
	case newRefund && slices.Contains(s.Settings.UnenrollOn, StatusRefunded):
		scope = ScopeRefunds
	default:
		return Job{}, false
	}
	granted := false
	for _, l := range rec.Lines {
		if l.State == LineEnrolled || l.State == LineUnenrolling {
			granted = true
		}
	}
	if !granted {
		return Job{}, false
	}
	rec.UnenrollGen++
	return Job{
		ID:   fmt.Sprintf("unenroll-%d-%d", rec.ID, rec.UnenrollGen),
		Kind: JobUnenroll, OrderID: rec.ID, Gen: rec.UnenrollGen, Scope: scope, CreatedAt: now,
	}, true
}

// queueEnrollment starts a new enrollment generation when some course line is not enrolled.
// Lines whose access was taken away (a refunded or cancelled order re-opened) enroll again.
func (rec *OrderRecord) queueEnrollment(now time.Time) (Job, bool) {
	needed := false
	for i := range rec.Lines {
		l := &rec.Lines[i]
		refunded := (l.State == LineUnenrolled || l.State == LineKept) && l.UnenrolledBy == ScopeRefunds
		if l.State != LineEnrolled && !refunded {
			needed = true
		}
	}
	if !needed {
		return Job{}, false
	}
	if rec.Status != StatusCompleted && rec.Completion.State != CompletionAlready {
		// New lines to enroll (or a re-opened order): complete and note again once done.
		rec.Completion = CompletionState{}
	}
	rec.EnrollGen++
	rec.Failed = ""
	if rec.Completion.State == CompletionFailed || rec.Completion.State == CompletionMixed {
		rec.Completion = CompletionState{}
	}
	return Job{
		ID:      fmt.Sprintf("enroll-%d-%d", rec.ID, rec.EnrollGen),
		Kind:    JobEnroll,
		OrderID: rec.ID, Gen: rec.EnrollGen, CreatedAt: now,
	}, true
}

func isCheckoutStatus(s string) bool {
	return s == "" || s == StatusPending || s == "checkout-draft"
}

func (rec *OrderRecord) hasCourseLines() bool { return len(rec.Lines) > 0 }

// hasOtherLines reports whether the order holds lines that are not courses.
func hasOtherLines(o *Order) bool {
	for _, li := range o.Lines {
		if !IsCourseSKU(li.SKU) {
			return true
		}
	}
	return false
}

// syncLines brings the record's line states in line with the order's current course lines.
// WooCommerce shows a line's SKU from the product as it is now, so a fixed SKU arrives on the
// next delivery: new courses become pending, and failed or pending states of courses no
// longer in the order are dropped. Enrolled and in-flight states are kept.
//
// A line whose SKU cannot be read (LineItem.Unreadable), and every course line of an order
// whose status, payment method or email cannot be read (Order.Unreadable), is kept with the
// reason in Unreadable: it fails and is reported like an invalid SKU, and a later delivery
// that can be read clears it (SPEC §2.1).
func syncLines(rec *OrderRecord, o *Order, defaultMode string) {
	var want []LineState
	for _, li := range o.Lines {
		if li.Unreadable != "" {
			want = append(want, LineState{LineID: li.ID, LineName: li.Name, Course: li.SKU, Unreadable: li.Unreadable})
			continue
		}
		if !IsCourseSKU(li.SKU) {
			continue
		}
		courses, err := ParseSKU(li.SKU, defaultMode)
		if err != nil {
			want = append(want, LineState{LineID: li.ID, LineName: li.Name, Course: strings.TrimSpace(li.SKU), Invalid: err.Text()})
			continue
		}
		for _, c := range courses {
			want = append(want, LineState{LineID: li.ID, LineName: li.Name, Course: c.Key, Mode: c.Mode, Unreadable: o.Unreadable})
		}
	}
	have := map[string]LineState{}
	for _, l := range rec.Lines {
		have[l.Key()] = l
	}
	var out []LineState
	seen := map[string]bool{}
	for _, w := range want {
		seen[w.Key()] = true
		l, ok := have[w.Key()]
		if !ok {
			w.State = LinePending
			out = append(out, w)
			continue
		}
		l.LineName = w.LineName
		if l.State != LineEnrolled && l.State != LineClaimed {
			l.Mode, l.Invalid, l.Unreadable = w.Mode, w.Invalid, w.Unreadable
		}
		out = append(out, l)
	}
	for _, l := range rec.Lines {
		if !seen[l.Key()] && l.State != LinePending && l.State != LineFailed {
			out = append(out, l)
		}
	}
	rec.Lines = out
}

// sameOrder reports whether two snapshots of an order agree in every field the service uses.
func sameOrder(a, b *Order) bool {
	norm := func(o Order) Order {
		o.DateCreated, o.DateCreatedGMT, o.DateModifiedGMT = o.DateCreated.UTC(), o.DateCreatedGMT.UTC(), o.DateModifiedGMT.UTC()
		return o
	}
	return reflect.DeepEqual(norm(*a), norm(*b))
}
