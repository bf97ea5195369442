package enrollment

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrRetry asks for the job to be delivered again later: work is still in flight elsewhere
// or a transient failure happened. The Enroll function answers it with a non-2xx status.
var ErrRetry = errors.New("retry later")

// Process does one job. attempt is the push's deliveryAttempt (0 when unknown). A nil error
// or a permanent one acknowledges the job; any other error asks for redelivery.
func (s *Service) Process(ctx context.Context, j Job, attempt int) error {
	switch j.Kind {
	case JobEnroll:
		return s.processEnroll(ctx, j, attempt)
	case JobEmail:
		return s.processEmail(ctx, j, attempt)
	case JobUnenroll:
		return s.processUnenroll(ctx, j, attempt)
	case JobRefresh:
		return s.processRefresh(ctx, j)
	case JobRetry:
		return s.processRetry(ctx, j, attempt)
	default:
		return Permanent(fmt.Errorf("unknown job kind %q", j.Kind))
	}
}

// DefaultLease is how long a claim holds when Settings.Lease is 0: one piece of work (one
// line's LMS calls, one email, one completion with its note) fits in it with room to spare,
// so a dead worker's order is taken over within about a minute.
const DefaultLease = time.Minute

func (s *Service) lease() time.Duration {
	if s.Settings.Lease > 0 {
		return s.Settings.Lease
	}
	return DefaultLease
}

// workBudget bounds the external calls one claim guards, so that they end before the lease
// does and a claim is never taken over while its worker is still calling.
func (s *Service) workBudget() time.Duration { return s.lease() * 5 / 6 }

// lastAttempt reports whether this is the job's last delivery from the jobs subscription
// (its max delivery attempts, or the push from the dead-letter topic): transient LMS and
// completion failures then become the order's failure, reported to the admins. Notes and
// emails are still retried: the dead-letter subscription keeps redelivering until they go.
func (s *Service) lastAttempt(attempt int) bool {
	return attempt > 0 && s.Settings.MaxAttempts > 0 && attempt >= s.Settings.MaxAttempts
}

func newClaimID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// processEnroll runs the enrollment steps, each idempotent, so a redelivered job resumes
// where the last one stopped: note a confirmation through the link, enroll claimed lines,
// report new failures, complete the order.
func (s *Service) processEnroll(ctx context.Context, j Job, attempt int) error {
	noteErr := s.noteConfirmation(ctx, j.OrderID)
	if noteErr != nil && !errors.Is(noteErr, ErrRetry) {
		return noteErr
	}
	retry, err := s.enrollLines(ctx, j, attempt)
	if err != nil {
		return err
	}
	if err := s.reportFailures(ctx, j.OrderID); err != nil {
		return err
	}
	if retry != nil {
		return retry
	}
	if err := s.finish(ctx, j.OrderID, attempt); err != nil {
		return err
	}
	if err := s.mailCompletionFailure(ctx, j.OrderID); err != nil {
		return err
	}
	return noteErr // the confirmation note is still to be posted: the next delivery does
}

// enrollLines enrolls the lines this job may enroll, one at a time: it claims a line, calls
// the LMS outside the transaction, and records the outcome in the transaction that claims
// the next line. A claim's lease covers the work it guards (one line's LMS calls, bounded by
// workBudget), so a worker that dies mid-call holds its line for one lease, not a whole
// job. A line another worker holds is waited for here, inside the job, until its claim ends
// or its lease runs out (then it is taken over): waiting uses no delivery attempt. It
// returns a retry error (not a failure of the call) when some line failed transiently, or
// when the job must end before another worker's claim does.
func (s *Service) enrollLines(ctx context.Context, j Job, attempt int) (retry error, err error) {
	tried := map[string]bool{} // lines this job worked: each at most once per delivery
	var prev *lineOutcome      // recorded in the next claim's transaction
	var transient []string
	for {
		c, err := s.claimLine(ctx, j, prev, tried, attempt)
		if err != nil {
			return nil, err
		}
		prev = nil
		transient = append(transient, c.transient...)
		if c.unpaid {
			s.log().WarnContext(ctx, "enroll job for an order whose payment is not established: nothing enrolled", "order", j.OrderID, "job", j.ID)
			return nil, nil
		}
		if c.line == nil {
			if c.busy == 0 {
				break
			}
			// Another worker holds a line: wait for its claim to end or run out.
			if !s.pause(ctx, time.Second) {
				return fmt.Errorf("%w: %d line(s) of order %d are claimed by another worker", ErrRetry, c.busy, j.OrderID), nil
			}
			continue
		}
		l := *c.line
		tried[l.Key()] = true
		wctx, cancel := context.WithTimeout(ctx, s.workBudget())
		res, err := s.enrollOnce(wctx, c.order, l)
		cancel()
		log := s.log().With("order", j.OrderID, "course", l.Course, "mode", l.Mode, "attempt", attempt)
		switch {
		case err == nil:
			log.InfoContext(ctx, "enrolled", "allowed", res.Allowed)
		case IsPermanent(err):
			log.WarnContext(ctx, "enrollment failed permanently", "error", err)
		default:
			log.WarnContext(ctx, "enrollment failed, will retry", "error", err)
		}
		prev = &lineOutcome{key: l.Key(), claim: l.ClaimID, res: res, err: err}
	}
	if len(transient) > 0 {
		return fmt.Errorf("%w: %s", ErrRetry, strings.Join(transient, "; ")), nil
	}
	return nil, nil
}

// lineOutcome is what one LMS call for a claimed line gave.
type lineOutcome struct {
	key, claim string
	res        EnrollResult
	err        error
}

// claimed is what claimLine found.
type claimed struct {
	line      *LineState // the line claimed for this worker; nil when none is left to work now
	order     Order
	busy      int      // lines held by another worker's live claim
	unpaid    bool     // the order's payment is not established: nothing may be enrolled
	transient []string // the recorded line's transient failure, for the retry error
}

// claimLine records prev (the outcome of this worker's last call) and claims the next line
// this job may work on, in one transaction. Lines that fail without an LMS call (a bad SKU,
// no email) are failed on the way.
func (s *Service) claimLine(ctx context.Context, j Job, prev *lineOutcome, tried map[string]bool, attempt int) (claimed, error) {
	var c claimed
	now := s.now()
	claim := newClaimID()
	_, err := s.Store.Update(context.WithoutCancel(ctx), j.OrderID, func(rec *OrderRecord) ([]Job, error) {
		c = claimed{order: rec.Snapshot.Order}
		if prev != nil {
			for i := range rec.Lines {
				if l := &rec.Lines[i]; l.Key() == prev.key && l.State == LineClaimed && l.ClaimID == prev.claim {
					if t := s.recordOutcome(l, j, *prev, attempt, now); t != "" {
						c.transient = append(c.transient, t)
					}
				}
			}
		}
		if ctx.Err() != nil {
			return nil, nil // the job is out of time: record, claim nothing more
		}
		email := c.order.LearnerEmail()
		if IsClosed(rec.Status) {
			return nil, nil // cancelled, refunded or failed since the job was queued
		}
		if rec.PaidBy == "" {
			// Whoever sent this job, the payment is not established (SPEC §2.6): a
			// confirm-method order waits for its confirmation or an admin's move.
			c.unpaid = true
			return nil, nil
		}
		for i := range rec.Lines {
			l := &rec.Lines[i]
			if tried[l.Key()] {
				continue
			}
			if !claimable(l, j.Gen, now, s.lease()) {
				if l.State == LineClaimed || l.State == LineUnenrolling {
					c.busy++
				}
				continue
			}
			if c.line != nil && l.Invalid == "" && l.Unreadable == "" && email != "" {
				continue // one LMS call per claim: this line is claimed on a later pass
			}
			if l.State == LineUnenrolled || l.State == LineKept {
				// Re-opened after access was taken away: enroll, then complete again.
				l.Reason, l.Noted = "", false
				rec.Completion = CompletionState{}
			}
			takeover := l.State == LineClaimed // its worker's lease ran out mid-call
			l.Attempts++
			switch {
			case l.Invalid != "":
				failLine(l, j.Gen, s.lang().T("reason.sku_invalid", l.Course, l.Invalid.In(s.lang())))
			case l.Unreadable != "":
				failLine(l, j.Gen, l.Unreadable.In(s.lang()))
			case email == "":
				failLine(l, j.Gen, s.lang().T("reason.no_email"))
			case c.line == nil:
				if takeover {
					// The dead worker's call may have enrolled: ask the LMS first.
					l.Reason, l.Unsure = s.lang().T("reason.taken_over"), true
				}
				l.State, l.ClaimID, l.ClaimedAt = LineClaimed, claim, now
				line := *l
				c.line = &line
			}
		}
		return nil, nil
	})
	if errors.Is(err, ErrOrderNotFound) {
		return c, Permanent(err)
	}
	if err != nil {
		return c, fmt.Errorf("claim or record lines of order %d: %w", j.OrderID, err)
	}
	return c, nil
}

// recordOutcome writes the outcome of this worker's call on its claimed line and returns a
// transient failure's description ("" otherwise).
func (s *Service) recordOutcome(l *LineState, j Job, o lineOutcome, attempt int, now time.Time) string {
	l.ClaimID, l.ClaimedAt = "", time.Time{}
	switch {
	case o.err == nil:
		l.State, l.Reason, l.Unsure, l.DoneAt = LineEnrolled, "", false, now
		l.Username, l.Allowed = o.res.Username, o.res.Allowed
	case IsPermanent(o.err):
		failLine(l, j.Gen, Describe(s.lang(), o.err))
	case s.lastAttempt(attempt):
		failLine(l, j.Gen, s.lang().T("reason.gave_up", attempt, Describe(s.lang(), o.err)))
	default:
		l.State, l.Reason, l.Unsure = LinePending, s.lang().T("reason.retrying", o.err.Error()), true
		return l.Course + ": " + o.err.Error()
	}
	return ""
}

// pause waits d unless the job would then lack the time for one more piece of work (its
// context's deadline); it reports whether the job may go on.
func (s *Service) pause(ctx context.Context, d time.Duration) bool {
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d+s.workBudget() {
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// enrollOnce enrolls a claimed line. When an earlier attempt failed in a way that leaves the
// outcome unknown (a timeout, a lost connection, a 5xx after the LMS did the work), it first
// asks the LMS whether the enrollment exists, so that a retry never enrolls twice.
func (s *Service) enrollOnce(ctx context.Context, o Order, l LineState) (EnrollResult, error) {
	if l.Unsure || strings.HasPrefix(l.Reason, legacyRetryingPrefix) {
		res, active, err := s.LMS.Enrollment(ctx, o.LearnerEmail(), l.Course)
		if err != nil {
			return EnrollResult{}, err
		}
		if active {
			return res, nil
		}
	}
	return s.LMS.Enroll(ctx, o.LearnerEmail(), Course{Key: l.Course, Mode: l.Mode}, o.DisplayNumber())
}

// legacyRetryingPrefix started the reason of a line whose last attempt failed transiently,
// before LineState.Unsure said so; a line stored then is still asked about first.
const legacyRetryingPrefix = "retrying: "

// claimable reports whether a job of generation gen may work on line l now.
func claimable(l *LineState, gen int, now time.Time, lease time.Duration) bool {
	switch l.State {
	case LinePending:
		return true
	case LineFailed:
		return l.FailedGen < gen
	case LineClaimed:
		return now.Sub(l.ClaimedAt) > lease
	case LineUnenrolled, LineKept:
		// The order was re-opened after it was cancelled or refunded; a refunded line stays out.
		return l.UnenrolledBy == ScopeOrder && l.UnenrollAt < gen
	}
	return false
}

// failLine fails l for generation gen; reason is in the shop's language (it is shown in the
// failure note and email, which name the course already).
func failLine(l *LineState, gen int, reason string) {
	l.State, l.Reason, l.Unsure, l.FailedGen = LineFailed, reason, false, gen
	l.ClaimID, l.ClaimedAt = "", time.Time{}
}

// reportFailures reports each failed line's failure at least once: a private note on the
// order and an email to the new-order recipients (SPEC §2.4). The reports are claimed in a
// transaction (one worker sends them; others wait), sent, and only then marked done, so a
// worker that dies before sending leaves them to the next delivery. One window remains
// where a report can go twice: the worker dies after the shop or SendGrid accepted it and
// before the mark is written (and SendGrid times out after accepting a message).
func (s *Service) reportFailures(ctx context.Context, orderID int64) error {
	var toNote, toMail []LineFailure
	var noteGens, mailGens map[string]int // line key → the failure generation reported
	var order Order
	claim := func() error {
		now := s.now()
		_, err := s.Store.Update(ctx, orderID, func(rec *OrderRecord) ([]Job, error) {
			toNote, toMail, noteGens, mailGens = toNote[:0], toMail[:0], map[string]int{}, map[string]int{}
			order = rec.Snapshot.Order
			for i := range rec.Lines {
				l := &rec.Lines[i]
				if l.State != LineFailed {
					continue
				}
				f := LineFailure{LineName: l.LineName, Course: l.Course, Reason: l.Reason, Attempts: l.Attempts}
				if l.Reported < l.FailedGen {
					toNote, noteGens[l.Key()] = append(toNote, f), l.FailedGen
				}
				if l.Mailed < l.FailedGen {
					toMail, mailGens[l.Key()] = append(toMail, f), l.FailedGen
				}
			}
			if len(toNote) == 0 && len(toMail) == 0 {
				return nil, nil
			}
			if !rec.Reporting.IsZero() && now.Sub(rec.Reporting) <= s.lease() {
				return nil, ErrRetry // another worker is sending them
			}
			rec.Reporting = now
			if len(toNote) > 0 {
				rec.Failed = "enrollment failed: " + toNote[0].Course + ": " + toNote[0].Reason
			}
			return nil, nil
		})
		return err
	}
	if err := s.claimReports(ctx, orderID, claim); err != nil || (len(toNote) == 0 && len(toMail) == 0) {
		return err
	}

	wctx, cancel := context.WithTimeout(ctx, s.workBudget())
	defer cancel()
	// mark records what went, as soon as it went; done also releases the claim.
	mark := func(noted, mailed, done bool) error {
		_, err := s.Store.Update(context.WithoutCancel(ctx), orderID, func(rec *OrderRecord) ([]Job, error) {
			if done {
				rec.Reporting = time.Time{}
			}
			for i := range rec.Lines {
				l := &rec.Lines[i]
				if g, ok := noteGens[l.Key()]; ok && noted && l.Reported < g {
					l.Reported = g
				}
				if g, ok := mailGens[l.Key()]; ok && mailed && l.Mailed < g {
					l.Mailed = g
				}
			}
			return nil, nil
		})
		return err
	}
	var mailed bool
	var result error
	if len(toNote) > 0 {
		noted := false
		switch err := s.Shop.AddNote(wctx, orderID, FailureNote(s.lang(), toNote, s.Settings.SupportContact)); {
		case err == nil:
			noted = true
		case IsPermanent(err):
			s.log().ErrorContext(ctx, "the shop refused the failure note", "order", orderID, "error", err)
			noted = true
		default:
			result = fmt.Errorf("%w: note the failure on order %d: %v", ErrRetry, orderID, err)
		}
		if noted && len(toMail) > 0 {
			if err := mark(true, false, false); err != nil {
				return errors.Join(err, mark(false, false, true))
			}
		}
		if noted && len(toMail) == 0 {
			return mark(true, false, true)
		}
	}
	if result == nil && len(toMail) > 0 {
		to := s.recipients(wctx)
		if len(to) == 0 {
			s.log().ErrorContext(ctx, "no recipients for the failure email: set the shop's new-order recipients or NOTIFY_EMAILS", "order", orderID)
			mailed = true
		} else {
			link := ""
			if s.RetryLink != nil {
				link = s.RetryLink(orderID)
			}
			switch err := s.Mailer.SendFailureReport(wctx, to, &order, toMail, link); {
			case err == nil:
				mailed = true
			case IsPermanent(err):
				s.log().ErrorContext(ctx, "failure email not sent", "order", orderID, "error", err)
				mailed = true
			default:
				result = fmt.Errorf("%w: email the failure of order %d: %v", ErrRetry, orderID, err)
			}
		}
	}
	return errors.Join(result, mark(false, mailed, true))
}

// claimOrWait runs claim, a transaction that answers ErrRetry while another worker's live
// claim holds what it wants, again once a second until it succeeds, fails otherwise, or the
// job must stop (then the ErrRetry is returned): the wait uses no delivery attempt.
func (s *Service) claimOrWait(ctx context.Context, claim func() error) error {
	err := claim()
	for errors.Is(err, ErrRetry) && s.pause(ctx, time.Second) {
		err = claim()
	}
	return err
}

// claimReports runs claim, the transaction that claims an order's reports, waiting while
// another worker holds them (or until its lease runs out).
func (s *Service) claimReports(ctx context.Context, orderID int64, claim func() error) error {
	err := s.claimOrWait(ctx, claim)
	if errors.Is(err, ErrRetry) {
		return fmt.Errorf("%w: the failures of order %d are being reported by another worker", ErrRetry, orderID)
	}
	return err
}

// recipients are the shop's new-order recipients, or NOTIFY_EMAILS when that is empty or
// cannot be read (SPEC §2.5).
func (s *Service) recipients(ctx context.Context) []string {
	to, err := s.Shop.NewOrderRecipients(ctx)
	if err != nil {
		s.log().WarnContext(ctx, "could not read the shop's new-order recipients; using NOTIFY_EMAILS", "error", err)
	}
	if err != nil || len(to) == 0 {
		return s.Settings.NotifyEmails
	}
	return to
}

// finish completes the order once every course line is enrolled (SPEC §2.4) and notes the
// enrollments. A failure here is retried by itself: the lines are enrolled already.
func (s *Service) finish(ctx context.Context, orderID int64, attempt int) error {
	var order Order
	var lines []LineState
	var prior CompletionState // the completion as recorded, for a note retried on its own
	var complete, note bool
	claim := func() error {
		now := s.now()
		_, err := s.Store.Update(ctx, orderID, func(rec *OrderRecord) ([]Job, error) {
			complete, note = false, false
			if len(rec.Lines) == 0 {
				return nil, nil
			}
			for _, l := range rec.Lines {
				if l.State != LineEnrolled {
					return nil, nil
				}
			}
			c := &rec.Completion
			if c.State != "" && c.Noted {
				return nil, nil
			}
			if IsClosed(rec.Status) {
				return nil, nil // never complete an order the shop cancelled, refunded or failed
			}
			if !c.ClaimedAt.IsZero() && now.Sub(c.ClaimedAt) <= s.lease() {
				return nil, ErrRetry // another worker is finishing; check again later
			}
			order, lines = rec.Snapshot.Order, rec.Lines
			if c.State == "" {
				switch {
				case rec.Status == StatusCompleted:
					c.State = CompletionAlready
				case hasOtherLines(&order) && !s.Settings.CompleteMixed:
					c.State = CompletionMixed
				default:
					complete = true
				}
			}
			note = !c.Noted
			prior = *c
			c.ClaimedAt = now
			return nil, nil
		})
		return err
	}
	// Another worker is completing the order: wait for it (or for its lease to run out).
	err := s.claimOrWait(ctx, claim)
	if errors.Is(err, ErrRetry) {
		return fmt.Errorf("%w: order %d is being completed by another worker", ErrRetry, orderID)
	}
	if err != nil {
		return fmt.Errorf("claim completion of order %d: %w", orderID, err)
	}
	if !complete && !note {
		return nil
	}
	// The completion and its note are the work this claim guards: they end within its lease.
	wctx, cancel := context.WithTimeout(ctx, s.workBudget())
	defer cancel()
	state, noted, errText := "", false, ""
	var result error
	if complete {
		if err := s.Shop.CompleteOrder(wctx, orderID); err != nil {
			switch {
			case IsPermanent(err):
				state, errText = CompletionFailed, Describe(s.lang(), err)
			case s.lastAttempt(attempt):
				state, errText = CompletionFailed, s.lang().T("reason.shop_gave_up", attempt, Describe(s.lang(), err))
			default:
				result = fmt.Errorf("%w: complete order %d: %v", ErrRetry, orderID, err)
			}
		} else {
			state = CompletionDone
		}
	}
	if result == nil && note {
		// The note says how the completion went, this run or an earlier one whose note failed.
		outcome, reason := state, errText
		if outcome == "" {
			outcome, reason = prior.State, prior.Error
		}
		text := EnrolledNote(s.lang(), lines, outcome == CompletionFailed, reason, outcome == CompletionMixed, s.Settings.SupportContact)
		switch err := s.Shop.AddNote(wctx, orderID, text); {
		case err == nil:
			noted = true
		case IsPermanent(err):
			s.log().ErrorContext(ctx, "the shop refused the enrollment note", "order", orderID, "error", err, "note", text)
			noted = true
		default:
			result = fmt.Errorf("%w: note enrollments on order %d: %v", ErrRetry, orderID, err)
		}
	}
	_, err = s.Store.Update(context.WithoutCancel(ctx), orderID, func(rec *OrderRecord) ([]Job, error) {
		c := &rec.Completion
		c.ClaimedAt = time.Time{}
		if state != "" {
			c.State, c.Error, c.At = state, errText, s.now()
		}
		if noted {
			c.Noted = true
		}
		if state == CompletionFailed {
			rec.Failed = "could not complete the order: " + errText
		}
		return nil, nil
	})
	return errors.Join(result, err)
}

// mailCompletionFailure emails the admins, at least once, that the shop refused to complete
// an order whose learner is enrolled; marked done after it went (see reportFailures).
func (s *Service) mailCompletionFailure(ctx context.Context, orderID int64) error {
	var order Order
	var reason string
	send := false
	claim := func() error {
		now := s.now()
		_, err := s.Store.Update(ctx, orderID, func(rec *OrderRecord) ([]Job, error) {
			c := &rec.Completion
			send = c.State == CompletionFailed && !c.Mailed
			if !send {
				return nil, nil
			}
			if !rec.Reporting.IsZero() && now.Sub(rec.Reporting) <= s.lease() {
				return nil, ErrRetry
			}
			rec.Reporting = now
			order, reason = rec.Snapshot.Order, c.Error
			return nil, nil
		})
		return err
	}
	if err := s.claimReports(ctx, orderID, claim); err != nil || !send {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, s.workBudget())
	defer cancel()
	var result error
	if to := s.recipients(wctx); len(to) == 0 {
		s.log().ErrorContext(ctx, "no recipients for the completion failure email", "order", orderID)
	} else {
		f := []LineFailure{{LineName: "—", Course: s.lang().T("fail.completion.course"), Reason: s.lang().T("fail.completion.reason", reason)}}
		// No Retry button: the completion is retried by itself, and a retry would find no
		// failed line.
		switch err := s.Mailer.SendFailureReport(wctx, to, &order, f, ""); {
		case err == nil:
		case IsPermanent(err):
			s.log().ErrorContext(ctx, "completion failure email not sent", "order", orderID, "error", err)
		default:
			result = fmt.Errorf("%w: email the completion failure of order %d: %v", ErrRetry, orderID, err)
		}
	}
	_, err := s.Store.Update(context.WithoutCancel(ctx), orderID, func(rec *OrderRecord) ([]Job, error) {
		rec.Reporting = time.Time{}
		if result == nil {
			rec.Completion.Mailed = true
		}
		return nil, nil
	})
	return errors.Join(result, err)
}

// processRefresh settles a tie between two deliveries (OutcomeTie): it reads the order from
// the shop and applies it as a delivery would, queueing what the order then needs.
func (s *Service) processRefresh(ctx context.Context, j Job) error {
	o, err := s.Shop.GetOrder(ctx, j.OrderID)
	if err != nil {
		if IsPermanent(err) {
			return Permanent(fmt.Errorf("read order %d from the shop to settle two deliveries of the same second: %w", j.OrderID, err))
		}
		return fmt.Errorf("%w: read order %d from the shop: %v", ErrRetry, j.OrderID, err)
	}
	outcome, err := s.Intake(ctx, Delivery{Topic: TopicRefresh, Hash: j.ID, OrderID: j.OrderID}, o, nil)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrRetry, err)
	}
	s.log().InfoContext(ctx, "order read from the shop to settle a tie", "order", j.OrderID, "status", o.Status, "outcome", outcome)
	return nil
}
