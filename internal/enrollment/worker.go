package enrollment

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
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
	default:
		return Permanent(fmt.Errorf("unknown job kind %q", j.Kind))
	}
}

func (s *Service) lease() time.Duration {
	if s.Settings.Lease > 0 {
		return s.Settings.Lease
	}
	return 10 * time.Minute
}

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
// where the last one stopped: enroll claimed lines, report new failures, complete the order.
func (s *Service) processEnroll(ctx context.Context, j Job, attempt int) error {
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
	return s.mailCompletionFailure(ctx, j.OrderID)
}

// enrollLines claims the lines this job may enroll, calls the LMS outside the transaction and
// records each result. It returns a retry error (not a failure of the call) when some line
// failed transiently.
func (s *Service) enrollLines(ctx context.Context, j Job, attempt int) (retry error, err error) {
	now := s.now()
	claim := newClaimID()
	var work []LineState
	var order Order
	busy := 0
	_, err = s.Store.Update(ctx, j.OrderID, func(rec *OrderRecord) ([]Job, error) {
		work, busy = work[:0], 0
		order = rec.Snapshot.Order
		email := order.LearnerEmail()
		if IsClosed(rec.Status) {
			return nil, nil // cancelled, refunded or failed since the job was queued
		}
		for i := range rec.Lines {
			l := &rec.Lines[i]
			if !claimable(l, j.Gen, now, s.lease()) {
				if l.State == LineClaimed || l.State == LineUnenrolling {
					busy++
				}
				continue
			}
			if l.State == LineUnenrolled || l.State == LineKept {
				// Re-opened after access was taken away: enroll, then complete again.
				l.Reason, l.Noted = "", false
				rec.Completion = CompletionState{}
			}
			l.Attempts++
			switch {
			case l.Invalid != "":
				failLine(l, j.Gen, fmt.Sprintf("the product's SKU %q is not a valid course list: %s", l.Course, l.Invalid))
			case l.Unreadable != "":
				failLine(l, j.Gen, l.Unreadable)
			case email == "":
				failLine(l, j.Gen, "the order has no billing email, so there is no learner to enroll")
			default:
				l.State, l.ClaimID, l.ClaimedAt = LineClaimed, claim, now
				work = append(work, *l)
			}
		}
		return nil, nil
	})
	if errors.Is(err, ErrOrderNotFound) {
		return nil, Permanent(err)
	}
	if err != nil {
		return nil, fmt.Errorf("claim lines of order %d: %w", j.OrderID, err)
	}
	// Lines claimed by another worker are in flight, or their worker died: come back after
	// the claim's lease so that a dead worker's lines are taken over, not forgotten.
	var busyErr error
	if busy > 0 {
		busyErr = fmt.Errorf("%w: %d line(s) of order %d are claimed by another worker", ErrRetry, busy, j.OrderID)
	}
	if len(work) == 0 {
		return busyErr, nil
	}

	type result struct {
		res EnrollResult
		err error
	}
	results := make(map[string]result, len(work))
	for _, l := range work {
		res, err := s.enrollOnce(ctx, order, l)
		results[l.Key()] = result{res, err}
		log := s.log().With("order", j.OrderID, "course", l.Course, "mode", l.Mode, "attempt", attempt)
		switch {
		case err == nil:
			log.InfoContext(ctx, "enrolled", "username", res.Username, "allowed", res.Allowed)
		case IsPermanent(err):
			log.WarnContext(ctx, "enrollment failed permanently", "error", err)
		default:
			log.WarnContext(ctx, "enrollment failed, will retry", "error", err)
		}
	}

	final := s.lastAttempt(attempt)
	var transient []string
	done := s.now()
	_, err = s.Store.Update(context.WithoutCancel(ctx), j.OrderID, func(rec *OrderRecord) ([]Job, error) {
		transient = transient[:0]
		for i := range rec.Lines {
			l := &rec.Lines[i]
			r, ok := results[l.Key()]
			if !ok || l.State != LineClaimed || l.ClaimID != claim {
				continue
			}
			l.ClaimID, l.ClaimedAt = "", time.Time{}
			switch {
			case r.err == nil:
				l.State, l.Reason, l.DoneAt = LineEnrolled, "", done
				l.Username, l.Allowed = r.res.Username, r.res.Allowed
			case IsPermanent(r.err):
				failLine(l, j.Gen, r.err.Error())
			case final:
				failLine(l, j.Gen, fmt.Sprintf("the LMS could not be reached after %d attempts: %v", attempt, r.err))
			default:
				l.State, l.Reason = LinePending, retryingPrefix+r.err.Error()
				transient = append(transient, l.Course+": "+r.err.Error())
			}
		}
		return nil, nil
	})
	if err != nil {
		return nil, fmt.Errorf("record enrollments of order %d: %w", j.OrderID, err)
	}
	if len(transient) > 0 {
		return fmt.Errorf("%w: %s", ErrRetry, strings.Join(transient, "; ")), nil
	}
	return busyErr, nil
}

// enrollOnce enrolls a claimed line. When an earlier attempt failed in a way that leaves the
// outcome unknown (a timeout, a lost connection, a 5xx after the LMS did the work), it first
// asks the LMS whether the enrollment exists, so that a retry never enrolls twice.
func (s *Service) enrollOnce(ctx context.Context, o Order, l LineState) (EnrollResult, error) {
	if strings.HasPrefix(l.Reason, retryingPrefix) {
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

// retryingPrefix starts the reason of a line whose last attempt failed transiently.
const retryingPrefix = "retrying: "

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

func failLine(l *LineState, gen int, reason string) {
	// The note names the course already; LMS errors start with it too.
	reason = strings.TrimPrefix(reason, l.Course+": ")
	l.State, l.Reason, l.FailedGen = LineFailed, reason, gen
	l.ClaimID, l.ClaimedAt = "", time.Time{}
}

// reportFailures reports each failed line once per failure: a private note on the order and
// an email to the new-order recipients (SPEC §2.4). Each is marked done before the call and
// the mark undone if the call fails transiently, so a redelivered job sends what is missing
// and nothing twice.
func (s *Service) reportFailures(ctx context.Context, orderID int64) error {
	var toNote, toMail []LineFailure
	var noteKeys, mailKeys []string
	var order Order
	_, err := s.Store.Update(ctx, orderID, func(rec *OrderRecord) ([]Job, error) {
		toNote, toMail, noteKeys, mailKeys = toNote[:0], toMail[:0], noteKeys[:0], mailKeys[:0]
		order = rec.Snapshot.Order
		for i := range rec.Lines {
			l := &rec.Lines[i]
			if l.State != LineFailed {
				continue
			}
			f := LineFailure{LineName: l.LineName, Course: l.Course, Reason: l.Reason, Attempts: l.Attempts}
			if l.Reported < l.FailedGen {
				l.Reported = l.FailedGen
				toNote, noteKeys = append(toNote, f), append(noteKeys, l.Key())
			}
			if l.Mailed < l.FailedGen {
				l.Mailed = l.FailedGen
				toMail, mailKeys = append(toMail, f), append(mailKeys, l.Key())
			}
		}
		if len(toNote) > 0 {
			rec.Failed = "enrollment failed: " + toNote[0].Course + ": " + toNote[0].Reason
		}
		return nil, nil
	})
	if err != nil || (len(toNote) == 0 && len(toMail) == 0) {
		return err
	}
	if len(toNote) > 0 {
		if err := s.Shop.AddNote(ctx, orderID, FailureNote(toNote)); err != nil {
			if !IsPermanent(err) {
				return s.unreport(ctx, orderID, noteKeys, mailKeys, fmt.Errorf("%w: note the failure on order %d: %v", ErrRetry, orderID, err))
			}
			s.log().ErrorContext(ctx, "the shop refused the failure note", "order", orderID, "error", err)
		}
	}
	if len(toMail) == 0 {
		return nil
	}
	to := s.recipients(ctx)
	if len(to) == 0 {
		s.log().ErrorContext(ctx, "no recipients for the failure email: set the shop's new-order recipients or NOTIFY_EMAILS", "order", orderID)
		return nil
	}
	if err := s.Mailer.SendFailureReport(ctx, to, &order, toMail); err != nil {
		if !IsPermanent(err) {
			return s.unreport(ctx, orderID, nil, mailKeys, fmt.Errorf("%w: email the failure of order %d: %v", ErrRetry, orderID, err))
		}
		s.log().ErrorContext(ctx, "failure email not sent", "order", orderID, "error", err)
	}
	return nil
}

// unreport undoes the report marks of the given lines after a transient failure.
func (s *Service) unreport(ctx context.Context, orderID int64, noteKeys, mailKeys []string, cause error) error {
	_, err := s.Store.Update(context.WithoutCancel(ctx), orderID, func(rec *OrderRecord) ([]Job, error) {
		for i := range rec.Lines {
			l := &rec.Lines[i]
			if slices.Contains(noteKeys, l.Key()) {
				l.Reported = 0
			}
			if slices.Contains(mailKeys, l.Key()) {
				l.Mailed = 0
			}
		}
		return nil, nil
	})
	return errors.Join(cause, err)
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
	now := s.now()
	var order Order
	var lines []LineState
	var prior CompletionState // the completion as recorded, for a note retried on its own
	var complete, note bool
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
	if errors.Is(err, ErrRetry) {
		return fmt.Errorf("%w: order %d is being completed by another worker", ErrRetry, orderID)
	}
	if err != nil {
		return fmt.Errorf("claim completion of order %d: %w", orderID, err)
	}
	if !complete && !note {
		return nil
	}
	state, noted, errText := "", false, ""
	var result error
	if complete {
		if err := s.Shop.CompleteOrder(ctx, orderID); err != nil {
			switch {
			case IsPermanent(err):
				state, errText = CompletionFailed, err.Error()
			case s.lastAttempt(attempt):
				state, errText = CompletionFailed, fmt.Sprintf("the shop could not be reached after %d attempts: %v", attempt, err)
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
		text := EnrolledNote(lines, outcome == CompletionFailed, reason, outcome == CompletionMixed)
		switch err := s.Shop.AddNote(ctx, orderID, text); {
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

// mailCompletionFailure emails the admins, once, that the shop refused to complete an order
// whose learner is enrolled.
func (s *Service) mailCompletionFailure(ctx context.Context, orderID int64) error {
	var order Order
	var reason string
	send := false
	_, err := s.Store.Update(ctx, orderID, func(rec *OrderRecord) ([]Job, error) {
		c := &rec.Completion
		send = c.State == CompletionFailed && !c.Mailed
		if send {
			c.Mailed = true
			order, reason = rec.Snapshot.Order, c.Error
		}
		return nil, nil
	})
	if err != nil || !send {
		return err
	}
	to := s.recipients(ctx)
	if len(to) == 0 {
		s.log().ErrorContext(ctx, "no recipients for the completion failure email", "order", orderID)
		return nil
	}
	f := []LineFailure{{LineName: "—", Course: "order completion", Reason: "the learner is enrolled, but the shop refused to mark the order Completed: " + reason}}
	err = s.Mailer.SendFailureReport(ctx, to, &order, f)
	if err == nil || IsPermanent(err) {
		if err != nil {
			s.log().ErrorContext(ctx, "completion failure email not sent", "order", orderID, "error", err)
		}
		return nil
	}
	_, uerr := s.Store.Update(context.WithoutCancel(ctx), orderID, func(rec *OrderRecord) ([]Job, error) {
		rec.Completion.Mailed = false
		return nil, nil
	})
	return errors.Join(fmt.Errorf("%w: email the completion failure of order %d: %v", ErrRetry, orderID, err), uerr)
}
