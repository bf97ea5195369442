package enrollment

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// processUnenroll takes access away for an order that moved into an UNENROLL_ON status
// (every enrolled line) or that got a refund covering whole course lines. Access is counted
// per learner and course across orders: a line whose course another order still grants, or
// is enrolling at this moment (OrderRecord.AccessKeys), is kept. Lines are claimed first, which also withdraws this order's grant, so two orders
// refunded at once both see the other's grant gone.
func (s *Service) processUnenroll(ctx context.Context, j Job, attempt int) error {
	refunded := map[int64]bool{}
	if j.Scope == ScopeRefunds {
		rec, err := s.Store.Get(ctx, j.OrderID)
		if err != nil {
			return claimErr(err, j.OrderID)
		}
		refunds, err := s.Shop.OrderRefunds(ctx, j.OrderID)
		if err != nil {
			return fmt.Errorf("%w: read the refunds of order %d: %v", ErrRetry, j.OrderID, err)
		}
		refunded = fullyRefunded(rec.Snapshot.Order.Lines, refunds)
	}

	now := s.now()
	claim := newClaimID()
	var work []LineState
	var email string
	busy := 0
	_, err := s.Store.Update(ctx, j.OrderID, func(rec *OrderRecord) ([]Job, error) {
		work, busy = work[:0], 0
		email = rec.Snapshot.Order.LearnerEmail()
		if j.Gen != rec.UnenrollGen || (j.Scope == ScopeOrder && !slices.Contains(s.Settings.UnenrollOn, rec.Status)) {
			return nil, nil // superseded: the order was re-opened or changed again since
		}
		for i := range rec.Lines {
			l := &rec.Lines[i]
			inScope := j.Scope == ScopeOrder || refunded[l.LineID]
			expired := l.State == LineUnenrolling && now.Sub(l.ClaimedAt) > s.lease()
			if inScope && l.State == LineUnenrolling && !expired {
				busy++
			}
			if !inScope || (l.State != LineEnrolled && !expired) {
				continue
			}
			l.State, l.ClaimID, l.ClaimedAt, l.Noted, l.UnenrollFailed = LineUnenrolling, claim, now, false, false
			l.UnenrollAt, l.UnenrolledBy = rec.EnrollGen, j.Scope
			work = append(work, *l)
		}
		return nil, nil
	})
	if err != nil {
		return claimErr(err, j.OrderID)
	}

	type result struct {
		keptBy []int64
		err    error
	}
	results := map[string]result{}
	for _, l := range work {
		others, err := s.Store.OrdersGranting(ctx, AccessKey(email, l.Course), j.OrderID)
		if err != nil {
			results[l.Key()] = result{err: err}
			continue
		}
		if len(others) > 0 {
			results[l.Key()] = result{keptBy: others}
			continue
		}
		results[l.Key()] = result{err: s.LMS.Unenroll(ctx, email, l.Course)}
		s.log().InfoContext(ctx, "unenrolled", "order", j.OrderID, "course", l.Course, "error", results[l.Key()].err)
	}

	final := s.lastAttempt(attempt)
	var transient []string
	_, err = s.Store.Update(context.WithoutCancel(ctx), j.OrderID, func(rec *OrderRecord) ([]Job, error) {
		transient = transient[:0]
		for i := range rec.Lines {
			l := &rec.Lines[i]
			r, ok := results[l.Key()]
			if !ok || l.State != LineUnenrolling || l.ClaimID != claim {
				continue
			}
			l.ClaimID, l.ClaimedAt = "", time.Time{}
			switch {
			case r.err == nil && len(r.keptBy) > 0:
				l.State, l.Reason = LineKept, s.lang().T("reason.access_kept", joinIDs(r.keptBy))
			case r.err == nil:
				l.State, l.Reason = LineUnenrolled, ""
			case IsPermanent(r.err) || final:
				l.State, l.Reason, l.UnenrollFailed = LineEnrolled, s.lang().T("reason.unenroll_failed", Describe(s.lang(), r.err)), true
			default:
				l.State = LineEnrolled
				transient = append(transient, l.Course+": "+r.err.Error())
			}
		}
		return nil, nil
	})
	if err != nil {
		return fmt.Errorf("record unenrollments of order %d: %w", j.OrderID, err)
	}
	if err := s.noteUnenrollments(ctx, j.OrderID); err != nil {
		return err
	}
	if len(transient) > 0 {
		return fmt.Errorf("%w: %s", ErrRetry, strings.Join(transient, "; "))
	}
	if busy > 0 {
		return fmt.Errorf("%w: %d line(s) of order %d are being unenrolled by another worker", ErrRetry, busy, j.OrderID)
	}
	return nil
}

func claimErr(err error, orderID int64) error {
	if errors.Is(err, ErrOrderNotFound) {
		return Permanent(err)
	}
	return fmt.Errorf("order %d: %w", orderID, err)
}

// fullyRefunded returns the ids of the lines whose whole quantity the refunds give back.
// Refund lines name their order line (_refunded_item_id); without it they are matched by
// product.
func fullyRefunded(lines []LineItem, refunds []RefundDetail) map[int64]bool {
	qty := map[int64]int{}
	for _, r := range refunds {
		for _, rl := range r.Lines {
			id := rl.LineID
			if id == 0 {
				for _, li := range lines {
					if li.ProductID == rl.ProductID {
						id = li.ID
						break
					}
				}
			}
			qty[id] += rl.Quantity
		}
	}
	out := map[int64]bool{}
	for _, li := range lines {
		if q := max(li.Quantity, 1); qty[li.ID] >= q {
			out[li.ID] = true
		}
	}
	return out
}

func joinIDs(ids []int64) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = "#" + itoa(id)
	}
	return strings.Join(parts, ", ")
}

// noteUnenrollments adds one private note for the lines whose access was taken away or kept
// and that are not noted yet; the mark is undone if the shop fails transiently.
func (s *Service) noteUnenrollments(ctx context.Context, orderID int64) error {
	var lines []LineState
	_, err := s.Store.Update(ctx, orderID, func(rec *OrderRecord) ([]Job, error) {
		lines = lines[:0]
		for i := range rec.Lines {
			l := &rec.Lines[i]
			done := l.State == LineUnenrolled || l.State == LineKept || (l.State == LineEnrolled && l.UnenrollFailed)
			if done && !l.Noted {
				l.Noted = true
				lines = append(lines, *l)
			}
		}
		return nil, nil
	})
	if err != nil || len(lines) == 0 {
		return err
	}
	lang := s.lang()
	var b strings.Builder
	b.WriteString(lang.T("note.access") + "\n")
	for _, l := range lines {
		if l.State == LineUnenrolled {
			b.WriteString(lang.T("note.access.removed", l.Course, l.LineName) + "\n")
		} else {
			b.WriteString(lang.T("note.line", l.Course, l.LineName, l.Reason) + "\n") // kept, or why it failed
		}
	}
	if err := s.Shop.AddNote(ctx, orderID, strings.TrimSpace(b.String())); err != nil && !IsPermanent(err) {
		_, uerr := s.Store.Update(context.WithoutCancel(ctx), orderID, func(rec *OrderRecord) ([]Job, error) {
			for i := range rec.Lines {
				for _, l := range lines {
					if rec.Lines[i].Key() == l.Key() {
						rec.Lines[i].Noted = false
					}
				}
			}
			return nil, nil
		})
		return errors.Join(fmt.Errorf("%w: note unenrollments on order %d: %v", ErrRetry, orderID, err), uerr)
	}
	return nil
}
