package enrollment

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// processEmail sends the order's single confirmation email (SPEC §2.5). It claims the email
// in a transaction first, so concurrent or redelivered jobs send it once. If the process dies
// after SendGrid accepted the message and before the record says so, the claim expires after
// the lease and the email is sent again: the one window where it can go twice. Once sent, a
// private note on the order says to whom (posted once, under the same claim).
func (s *Service) processEmail(ctx context.Context, j Job, attempt int) error {
	var order Order
	var sentTo []string
	send, noteOnly, noteSent, failure := false, false, false, ""
	claim := func() error {
		now := s.now()
		_, err := s.Store.Update(ctx, j.OrderID, func(rec *OrderRecord) ([]Job, error) {
			send, noteOnly, noteSent, failure = false, false, false, ""
			order = rec.Snapshot.Order
			e := &rec.Email
			switch {
			case e.State == EmailFailed && !e.Noted:
				noteOnly, failure = true, e.Error // the failure still has to be noted on the order
				return nil, nil
			case e.State == EmailSent && !e.SentNoted:
				// The note saying to whom it went is still to be posted.
				if !e.ClaimedAt.IsZero() && now.Sub(e.ClaimedAt) <= s.lease() {
					return nil, ErrRetry
				}
				e.ClaimedAt, noteSent, sentTo = now, true, e.To
				return nil, nil
			case e.State == EmailSent || e.State == EmailFailed || e.State == EmailSkipped:
				return nil, nil
			case rec.PaidBy != "" || IsClosed(rec.Status):
				// Paid (confirmed by link or moved to processing by an admin), or cancelled,
				// before the email went out: there is nothing left to confirm.
				e.State = EmailSkipped
				return nil, nil
			case e.State == EmailSending && now.Sub(e.ClaimedAt) <= s.lease():
				return nil, ErrRetry
			}
			e.State, e.ClaimedAt = EmailSending, now
			send = true
			return nil, nil
		})
		return err
	}
	// Another worker is sending it: wait for it (or for its lease to run out).
	err := s.claimOrWait(ctx, claim)
	switch {
	case errors.Is(err, ErrOrderNotFound):
		return Permanent(err)
	case errors.Is(err, ErrRetry):
		return fmt.Errorf("%w: the confirmation email of order %d is being sent by another worker", ErrRetry, j.OrderID)
	case err != nil:
		return fmt.Errorf("claim confirmation email of order %d: %w", j.OrderID, err)
	case noteOnly:
		return s.noteEmailFailure(ctx, j.OrderID, failure)
	case noteSent:
		return s.noteEmailSent(ctx, j.OrderID, sentTo)
	case !send:
		return nil
	}

	to := s.recipients(ctx)
	var sendErr error
	if len(to) == 0 {
		sendErr = Permanent(Explain("reason.no_recipients"))
	} else {
		wctx, cancel := context.WithTimeout(ctx, s.workBudget())
		sendErr = s.Mailer.SendConfirmationRequest(wctx, to, &order, s.ConfirmLink(j.OrderID))
		cancel()
	}
	final := sendErr != nil && (IsPermanent(sendErr) || s.lastAttempt(attempt))
	_, err = s.Store.Update(context.WithoutCancel(ctx), j.OrderID, func(rec *OrderRecord) ([]Job, error) {
		e := &rec.Email
		switch {
		case sendErr == nil:
			// The claim stays on: it now guards the note saying to whom the email went.
			e.State, e.SentAt, e.To, e.Error, e.ClaimedAt = EmailSent, s.now(), to, "", s.now()
		case final:
			e.State, e.Error = EmailFailed, Describe(s.lang(), sendErr)
		default:
			e.State, e.ClaimedAt, e.Error = EmailQueued, time.Time{}, sendErr.Error()
		}
		return nil, nil
	})
	if err != nil {
		return fmt.Errorf("record confirmation email of order %d: %w", j.OrderID, err)
	}
	if sendErr == nil {
		s.log().InfoContext(ctx, "confirmation email sent", "order", j.OrderID, "recipients", len(to))
		return s.noteEmailSent(ctx, j.OrderID, to)
	}
	if !final {
		return fmt.Errorf("%w: send confirmation email of order %d: %v", ErrRetry, j.OrderID, sendErr)
	}
	s.log().ErrorContext(ctx, "confirmation email failed", "order", j.OrderID, "error", sendErr)
	return s.noteEmailFailure(ctx, j.OrderID, Describe(s.lang(), sendErr))
}

// noteEmailFailure tells the shop admin, on the order, that the confirmation email could not
// be sent; a transient shop failure is retried with the job.
func (s *Service) noteEmailFailure(ctx context.Context, orderID int64, reason string) error {
	note := s.lang().T("note.email_failed", reason)
	if err := s.Shop.AddNote(ctx, orderID, note); err != nil {
		if !IsPermanent(err) {
			return fmt.Errorf("%w: note the email failure on order %d: %v", ErrRetry, orderID, err)
		}
		s.log().ErrorContext(ctx, "the shop refused the email failure note", "order", orderID, "error", err)
	}
	_, err := s.Store.Update(context.WithoutCancel(ctx), orderID, func(rec *OrderRecord) ([]Job, error) {
		rec.Email.Noted = true
		return nil, nil
	})
	return err
}
