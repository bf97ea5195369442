package enrollment

import (
	"context"
)

var _ Confirmer = (*Service)(nil)

// ConfirmationSummary implements Confirmer.
func (s *Service) ConfirmationSummary(ctx context.Context, orderID int64) (ConfirmView, error) {
	rec, err := s.Store.Get(ctx, orderID)
	if err != nil {
		return ConfirmView{}, err
	}
	return ConfirmView{Order: &rec.Snapshot.Order, State: confirmState(rec), Confirmed: rec.Confirmed}, nil
}

func confirmState(rec *OrderRecord) ConfirmState {
	switch {
	case rec.Confirmed != nil:
		return ConfirmDone
	case rec.PaidBy != "":
		return ConfirmHandled
	case IsClosed(rec.Status):
		return ConfirmClosed
	}
	return ConfirmAwaiting
}

// ConfirmPayment implements Confirmer: it records who confirmed and queues enrollment through
// the outbox, once.
func (s *Service) ConfirmPayment(ctx context.Context, orderID int64, who Confirmation) (ConfirmView, error) {
	var before ConfirmState
	var order Order
	var confirmed *Confirmation
	now := s.now()
	if who.At.IsZero() {
		who.At = now
	}
	jobs, err := s.Store.Update(ctx, orderID, func(rec *OrderRecord) ([]Job, error) {
		order = rec.Snapshot.Order
		before = confirmState(rec)
		confirmed = rec.Confirmed
		if before != ConfirmAwaiting {
			return nil, nil
		}
		c := who
		rec.Confirmed, confirmed = &c, &c
		rec.PaidBy, rec.PaidAt = PaidByConfirm, now
		rec.History = append(rec.History, StatusChange{From: rec.Status, To: rec.Status, ModifiedGMT: rec.ModifiedGMT, At: now, Source: "confirm"})
		if j, ok := rec.queueEnrollment(now); ok {
			return []Job{j}, nil
		}
		return nil, nil
	})
	if err != nil {
		return ConfirmView{}, err
	}
	s.publish(ctx, jobs)
	if before == ConfirmAwaiting {
		s.log().InfoContext(ctx, "payment confirmed", "order", orderID, "ip", who.IP)
	}
	return ConfirmView{Order: &order, State: before, Confirmed: confirmed}, nil
}
