package enrollment

import (
	"context"
	"errors"
	"fmt"
)

// JobRetry is the job of a retry a person asked for (RetryFailed: the Retry link of a
// failure email, the Console): it reads the order from the shop and queues a new enrollment.
const JobRetry = "retry"

// TopicRetry marks an order read from the shop by a retry's job rather than delivered.
const TopicRetry = "retry"

// processRetry does what moving the order On hold → Processing in the shop does (SPEC §2.3,
// §2.5b): the shop's current order is applied as a delivery would be, so a SKU fixed in the
// product since the failure counts, and a new enrollment generation is queued, in which the
// failed lines are tried again and lines already enrolled are left alone. It runs once per
// retry: the action records what it did, and a redelivered job finds it done.
//
// When the shop cannot be read (it refuses, or stays unreachable until the last attempt) the
// stored order is retried as it is: the LMS side of a failure (a course created since) does
// not need the shop.
func (s *Service) processRetry(ctx context.Context, j Job, attempt int) error {
	rec, err := s.Store.Get(ctx, j.OrderID)
	if errors.Is(err, ErrOrderNotFound) {
		return Permanent(err)
	}
	if err != nil {
		return fmt.Errorf("%w: read order %d: %v", ErrRetry, j.OrderID, err)
	}
	a := rec.retryAction(j.ID)
	switch {
	case a == nil:
		// No one asked for it: a stray push does nothing.
		s.log().WarnContext(ctx, "retry job without a recorded retry: nothing done", "order", j.OrderID, "job", j.ID)
		return nil
	case a.Outcome != "":
		return nil // done by an earlier delivery
	}

	fromShop := false
	o, err := s.Shop.GetOrder(ctx, j.OrderID)
	switch {
	case err == nil:
		if _, err := s.Intake(ctx, Delivery{Topic: TopicRetry, Hash: j.ID, OrderID: j.OrderID}, o, nil); err != nil {
			return fmt.Errorf("%w: apply order %d read for the retry: %v", ErrRetry, j.OrderID, err)
		}
		fromShop = true
	case IsPermanent(err) || s.lastAttempt(attempt):
		s.log().WarnContext(ctx, "the shop's order could not be read for the retry; retrying the stored order", "order", j.OrderID, "error", err)
	default:
		return fmt.Errorf("%w: read order %d from the shop for the retry: %v", ErrRetry, j.OrderID, err)
	}

	var outcome string
	now := s.now()
	jobs, err := s.Store.Update(context.WithoutCancel(ctx), j.OrderID, func(rec *OrderRecord) ([]Job, error) {
		a := rec.retryAction(j.ID)
		if a == nil || a.Outcome != "" {
			outcome = ""
			return nil, nil
		}
		var jobs []Job
		switch {
		case IsClosed(rec.Status):
			outcome = RetryClosed
		case rec.PaidBy == "":
			outcome = RetryUnpaid
		default:
			outcome = RetryNothing
			if e, ok := rec.queueEnrollment(now); ok {
				outcome, a.Enroll, jobs = RetryQueued, e.ID, []Job{e}
			}
		}
		a.Outcome, a.FromShop, a.RanAt = outcome, fromShop, now
		return jobs, nil
	})
	if err != nil {
		return fmt.Errorf("%w: record the retry of order %d: %v", ErrRetry, j.OrderID, err)
	}
	s.publish(ctx, jobs)
	if outcome != "" {
		s.log().InfoContext(ctx, "retry ran", "order", j.OrderID, "job", j.ID, "outcome", outcome, "from_shop", fromShop)
	}
	return nil
}

// retryAction is the retry action whose job is jobID, nil when none.
func (rec *OrderRecord) retryAction(jobID string) *Action {
	for i := range rec.Actions {
		if a := &rec.Actions[i]; a.Kind == ActionRetry && a.Job == jobID {
			return a
		}
	}
	return nil
}
