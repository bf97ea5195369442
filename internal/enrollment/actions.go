package enrollment

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// Ways a person asks the service to act on an order, besides moving it in the shop.
const (
	ViaConsole   = "console"    // an operator, through the Console (Cloud Run verified who)
	ViaRetryLink = "retry-link" // whoever holds the signed Retry link of a failure email
)

// Actions on an order (OrderRecord.Actions).
const (
	ActionRetry  = "retry"  // retry the failed course lines
	ActionResend = "resend" // send the payment confirmation email again
)

// Actor is who asked for an action.
type Actor struct {
	Via       string `firestore:"via"`           // ViaConsole or ViaRetryLink
	Who       string `firestore:"who,omitempty"` // the operator's Google account; "" for a link
	IP        string `firestore:"ip,omitempty"`
	UserAgent string `firestore:"userAgent,omitempty"`
}

// Action is one action a person asked for, recorded on the order.
type Action struct {
	Kind string `firestore:"kind"` // ActionRetry or ActionResend
	// Key makes a repeat of the same request a replay: the link token's id, or the nonce
	// of the Console form that asked. A second request with a key already recorded does
	// nothing.
	Key     string    `firestore:"key"`
	By      Actor     `firestore:"by"`
	At      time.Time `firestore:"at"`
	Job     string    `firestore:"job,omitempty"`     // the job it queued, "" when none
	Courses []string  `firestore:"courses,omitempty"` // retry: the failed courses it retried

	// What a retry's job (JobRetry) did, once it ran: it reads the order from the shop (a
	// fixed SKU counts, as on the move On hold → Processing) and queues the enrollment.
	Outcome  string    `firestore:"outcome,omitempty"`      // a Retry* outcome; "" until the job ran
	Enroll   string    `firestore:"enrollJob,omitempty"`    // RetryQueued: the enrollment job
	FromShop bool      `firestore:"readFromShop,omitempty"` // the order was read from the shop first
	RanAt    time.Time `firestore:"ranAt,omitempty"`
}

// Outcomes of a retry's job (Action.Outcome).
const (
	RetryQueued  = "queued"  // a new enrollment of the lines not enrolled was queued
	RetryNothing = "nothing" // every line was enrolled by then (say, after a move in the shop)
	RetryClosed  = "closed"  // the order was cancelled, refunded or failed by then
	RetryUnpaid  = "unpaid"  // the order's payment is not established
)

// ActionState is what an action did, or would do (a summary changes nothing).
type ActionState string

const (
	// ActionAvailable: a summary; the action can be done now.
	ActionAvailable ActionState = "available"
	// ActionDone: this call did it.
	ActionDone ActionState = "done"
	// ActionReplayed: an action with this key was recorded before (View.Action says which);
	// nothing was done.
	ActionReplayed ActionState = "replayed"
	// ActionNothing: nothing to do: no failed lines (retry), or no confirmation pending
	// (resend: paid, confirmed, or the order holds no courses).
	ActionNothing ActionState = "nothing"
	// ActionClosed: the order was cancelled, refunded or failed in the shop.
	ActionClosed ActionState = "closed"
)

// ActionView is what a page shows about an action on an order.
type ActionView struct {
	Order  *Order
	State  ActionState
	Failed []LineFailure // retry: the lines that failed and why
	// Action is the recorded action: this call's (ActionDone) or the earlier one with the
	// same key (ActionReplayed); nil otherwise.
	Action *Action
}

// RetrySummary says what RetryFailed would do with key; it changes nothing.
func (s *Service) RetrySummary(ctx context.Context, orderID int64, key string) (ActionView, error) {
	rec, err := s.Store.Get(ctx, orderID)
	if err != nil {
		return ActionView{}, err
	}
	v := ActionView{Order: &rec.Snapshot.Order, Failed: failedLines(rec)}
	v.State, v.Action = retryState(rec, key), rec.action(ActionRetry, key)
	if v.State == ActionDone {
		v.State = ActionAvailable
	}
	return v, nil
}

// RetryFailed queues a retry of the order's failed lines, once per key, and records who
// asked. The retry is what moving the order On hold → Processing in the shop does (SPEC
// §2.5b): its job (JobRetry, processRetry) reads the order from the shop, so a SKU fixed in
// the product counts, and queues a new enrollment of the lines not enrolled. The job, not
// this call, talks to the shop: the Confirm function that serves the Retry link holds no
// shop credentials (SPEC §2.6).
func (s *Service) RetryFailed(ctx context.Context, orderID int64, key string, by Actor) (ActionView, error) {
	var v ActionView
	now := s.now()
	jobs, err := s.Store.Update(ctx, orderID, func(rec *OrderRecord) ([]Job, error) {
		v = ActionView{Order: &rec.Snapshot.Order, Failed: failedLines(rec)}
		v.State, v.Action = retryState(rec, key), rec.action(ActionRetry, key)
		if v.State != ActionDone {
			return nil, nil
		}
		n := 1
		for _, a := range rec.Actions {
			if a.Kind == ActionRetry {
				n++
			}
		}
		j := Job{ID: fmt.Sprintf("retry-%d-%d", rec.ID, n), Kind: JobRetry, OrderID: rec.ID, CreatedAt: now}
		a := Action{Kind: ActionRetry, Key: key, By: by, At: now, Job: j.ID}
		for _, f := range v.Failed {
			a.Courses = append(a.Courses, f.Course)
		}
		rec.Actions = append(rec.Actions, a)
		v.Action = &rec.Actions[len(rec.Actions)-1]
		return []Job{j}, nil
	})
	if err != nil {
		return ActionView{}, err
	}
	s.publish(ctx, jobs)
	if v.State == ActionDone {
		s.log().InfoContext(ctx, "retry of failed lines queued", "order", orderID, "via", by.Via, "lines", len(v.Failed))
	}
	return v, nil
}

// retryState is what a retry with key does now: ActionDone when it would queue one.
func retryState(rec *OrderRecord, key string) ActionState {
	switch {
	case rec.action(ActionRetry, key) != nil:
		return ActionReplayed
	case IsClosed(rec.Status):
		return ActionClosed
	case rec.PaidBy == "" || len(failedLines(rec)) == 0:
		return ActionNothing
	}
	return ActionDone
}

// ResendSummary says what ResendConfirmation would do with key; it changes nothing.
func (s *Service) ResendSummary(ctx context.Context, orderID int64, key string) (ActionView, error) {
	rec, err := s.Store.Get(ctx, orderID)
	if err != nil {
		return ActionView{}, err
	}
	v := ActionView{Order: &rec.Snapshot.Order}
	v.State, v.Action = resendState(rec, key), rec.action(ActionResend, key)
	if v.State == ActionDone {
		v.State = ActionAvailable
	}
	return v, nil
}

// ResendConfirmation queues the payment confirmation email again (SPEC §2.5: the one email
// an order gets on its own; a person may ask for another), once per key, and records who
// asked. Only an order still waiting for its payment to be confirmed gets one.
func (s *Service) ResendConfirmation(ctx context.Context, orderID int64, key string, by Actor) (ActionView, error) {
	var v ActionView
	now := s.now()
	jobs, err := s.Store.Update(ctx, orderID, func(rec *OrderRecord) ([]Job, error) {
		v = ActionView{Order: &rec.Snapshot.Order}
		v.State, v.Action = resendState(rec, key), rec.action(ActionResend, key)
		if v.State != ActionDone {
			return nil, nil
		}
		rec.Email.Resends++
		rec.Email.State, rec.Email.ClaimedAt, rec.Email.Error, rec.Email.Noted, rec.Email.SentNoted = EmailQueued, time.Time{}, "", false, false
		j := Job{ID: "email-" + strconv.FormatInt(rec.ID, 10) + "-resend-" + strconv.Itoa(rec.Email.Resends), Kind: JobEmail, OrderID: rec.ID, CreatedAt: now}
		rec.Actions = append(rec.Actions, Action{Kind: ActionResend, Key: key, By: by, At: now, Job: j.ID})
		v.Action = &rec.Actions[len(rec.Actions)-1]
		return []Job{j}, nil
	})
	if err != nil {
		return ActionView{}, err
	}
	s.publish(ctx, jobs)
	if v.State == ActionDone {
		s.log().InfoContext(ctx, "confirmation email queued again", "order", orderID, "via", by.Via)
	}
	return v, nil
}

// resendState is what a resend with key does now: ActionDone when it would queue one.
func resendState(rec *OrderRecord, key string) ActionState {
	switch {
	case rec.action(ActionResend, key) != nil:
		return ActionReplayed
	case IsClosed(rec.Status):
		return ActionClosed
	case !rec.Confirm || rec.PaidBy != "" || !rec.hasCourseLines():
		return ActionNothing
	case rec.Status != StatusOnHold && rec.Status != StatusProcessing:
		return ActionNothing // still at checkout: the shop has not placed the order (SPEC §2.5)
	case rec.Email.State == EmailQueued || rec.Email.State == EmailSending:
		return ActionNothing // one is on its way
	}
	return ActionDone
}

// action returns the recorded action of this kind and key, nil when none.
func (rec *OrderRecord) action(kind, key string) *Action {
	for i := range rec.Actions {
		if a := &rec.Actions[i]; a.Kind == kind && a.Key == key {
			return a
		}
	}
	return nil
}

// failedLines lists the lines whose last enrollment failed for good.
func failedLines(rec *OrderRecord) []LineFailure {
	var out []LineFailure
	for _, l := range rec.Lines {
		if l.State == LineFailed {
			out = append(out, LineFailure{LineName: l.LineName, Course: l.Course, Reason: l.Reason, Attempts: l.Attempts})
		}
	}
	return out
}
