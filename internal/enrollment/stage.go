package enrollment

import "github.com/aulasneo/wc-openedx/internal/i18n"

// Stages of an order as the shop's people follow it: the Console lists orders by stage. The
// store writes an order's stage on every write of its record (OrderRecord.Stage), so that it
// can be queried.
const (
	// StageAwaitingConfirmation: a bank transfer (or cheque, cash on delivery) order waiting
	// for someone to confirm that the money arrived.
	StageAwaitingConfirmation = "awaiting-confirmation"
	// StageEnrolling: paid, and some course line is not enrolled yet (or the order is not yet
	// completed): the service is working on it.
	StageEnrolling = "enrolling"
	// StageCompleted: every course line is enrolled and the completion is done.
	StageCompleted = "completed"
	// StageFailed: a course line failed for good (and no retry is queued), the shop refused
	// to complete the order, or the confirmation email could not be sent.
	StageFailed = "failed"
	// StageUnenrolled: access to a course of the order was taken away (refund, cancellation).
	StageUnenrolled = "unenrolled"
	// StageClosed: cancelled, refunded or failed in the shop with nothing more to do.
	StageClosed = "closed"
	// StageNone: nothing for the service to do: no course lines, or not paid yet.
	StageNone = "none"
)

// Stages lists the stages in the order people look for them.
var Stages = []string{StageAwaitingConfirmation, StageEnrolling, StageCompleted, StageFailed, StageUnenrolled, StageClosed, StageNone}

// CurrentStage says which stage the order is in and, for StageFailed, why, in English (see
// StageIn).
func (rec *OrderRecord) CurrentStage() (stage, reason string) { return rec.StageIn(i18n.English) }

// StageIn says which stage the order is in and, for StageFailed, why in l (the line's reason,
// the completion's error or the email's error, which are recorded in LANGUAGE, after the
// catalogue's words for what failed).
func (rec *OrderRecord) StageIn(l i18n.Lang) (stage, reason string) {
	for _, l := range rec.Lines {
		if l.State == LineUnenrolled {
			return StageUnenrolled, ""
		}
	}
	if r := rec.failure(l); r != "" {
		return StageFailed, r
	}
	switch {
	case len(rec.Lines) == 0:
		return StageNone, ""
	case IsClosed(rec.Status):
		return StageClosed, ""
	case rec.PaidBy == "" && rec.Confirm:
		return StageAwaitingConfirmation, ""
	case rec.PaidBy == "":
		return StageNone, ""
	}
	for _, l := range rec.Lines {
		refunded := (l.State == LineUnenrolled || l.State == LineKept) && l.UnenrolledBy == ScopeRefunds
		if l.State != LineEnrolled && !refunded {
			return StageEnrolling, ""
		}
	}
	if rec.Completion.State == "" || !rec.Completion.Noted {
		return StageEnrolling, ""
	}
	return StageCompleted, ""
}

// failure is why the order is failed now, "" when it is not: a line that failed for good in
// the latest enrollment (a retry queued since then is still to run), a completion the shop
// refused, or a confirmation email that could not be sent while the payment still waits.
func (rec *OrderRecord) failure(l i18n.Lang) string {
	for _, a := range rec.Actions {
		if a.Kind == ActionRetry && a.Job != "" && a.Outcome == "" {
			return "" // a retry's job is still to run: it reads the order again and enrolls
		}
	}
	for _, l := range rec.Lines {
		if l.State == LineFailed && l.FailedGen >= rec.EnrollGen {
			return l.Course + ": " + l.Reason
		}
	}
	if rec.Completion.State == CompletionFailed {
		return l.T("console.reason.completion", rec.Completion.Error)
	}
	if rec.Email.State == EmailFailed && rec.PaidBy == "" && !IsClosed(rec.Status) {
		return l.T("console.reason.email", rec.Email.Error)
	}
	return ""
}
