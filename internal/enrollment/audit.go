package enrollment

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// The audit trail where the shop's admins look (SPEC §2.5): private notes on the order saying
// to whom the confirmation email went and when, and from which IP address, the payment was
// confirmed through its link. Each is posted once, at least once: claimed on the order's record,
// posted, then marked (see reportFailures for the one window where it can go twice).

// noteConfirmation posts the note saying when and from which IP address the payment was
// confirmed through the link. The Confirm function holds no shop credentials (SPEC §2.6), so
// the enroll job that the confirmation queues posts it. A transient failure of the shop is
// returned as ErrRetry, for the job's next delivery; the enrollment goes on meanwhile.
func (s *Service) noteConfirmation(ctx context.Context, orderID int64) error {
	var c Confirmation
	post := false
	_, err := s.Store.Update(ctx, orderID, func(rec *OrderRecord) ([]Job, error) {
		now := s.now()
		post = false
		if rec.Confirmed == nil || rec.ConfirmNoted {
			return nil, nil
		}
		if !rec.ConfirmNoting.IsZero() && now.Sub(rec.ConfirmNoting) <= s.lease() {
			return nil, nil // another worker is posting it
		}
		rec.ConfirmNoting, c, post = now, *rec.Confirmed, true
		return nil, nil
	})
	if err != nil {
		return claimErr(err, orderID)
	}
	if !post {
		return nil
	}
	l := s.lang()
	text := l.T("note.payment_confirmed", l.T("date.utc", l.Date(c.At.UTC())), c.IP)
	return s.postAuditNote(ctx, orderID, "payment confirmation", text, func(rec *OrderRecord, noted bool) {
		rec.ConfirmNoting = time.Time{}
		if noted {
			rec.ConfirmNoted = true
		}
	})
}

// noteEmailSent posts the note saying to whom the confirmation email went, once.
func (s *Service) noteEmailSent(ctx context.Context, orderID int64, to []string) error {
	text := s.lang().T("note.email_sent", strings.Join(to, ", "))
	return s.postAuditNote(ctx, orderID, "confirmation email", text, func(rec *OrderRecord, noted bool) {
		rec.Email.ClaimedAt = time.Time{}
		if noted {
			rec.Email.SentNoted = true
		}
	})
}

// postAuditNote posts text on the order and records the outcome with mark (noted is true when
// the note went, or the shop refused it for good: it is not tried again). A transient failure
// of the shop is returned as ErrRetry.
func (s *Service) postAuditNote(ctx context.Context, orderID int64, what, text string, mark func(rec *OrderRecord, noted bool)) error {
	wctx, cancel := context.WithTimeout(ctx, s.workBudget())
	err := s.Shop.AddNote(wctx, orderID, text)
	cancel()
	noted := err == nil || IsPermanent(err)
	if err != nil && noted {
		s.log().ErrorContext(ctx, "the shop refused the "+what+" note", "order", orderID, "error", err)
	}
	_, uerr := s.Store.Update(context.WithoutCancel(ctx), orderID, func(rec *OrderRecord) ([]Job, error) {
		mark(rec, noted)
		return nil, nil
	})
	if !noted {
		return errors.Join(fmt.Errorf("%w: note the %s on order %d: %v", ErrRetry, what, orderID, err), uerr)
	}
	return uerr
}
