package enrollment

import (
	"testing"

	"github.com/aulasneo/wc-openedx/internal/i18n"
)

func TestCurrentStage(t *testing.T) {
	t.Parallel()
	line := func(state string, failedGen int) LineState {
		return LineState{LineID: 1, Course: "course-v1:O+C+R", State: state, FailedGen: failedGen, Reason: "the course does not exist"}
	}
	done := CompletionState{State: CompletionDone, Noted: true}
	tests := []struct {
		name       string
		rec        OrderRecord
		stage, why string
	}{
		{"a t-shirt", OrderRecord{Status: StatusProcessing, PaidBy: PaidByStatus}, StageNone, ""},
		{"card order before payment", OrderRecord{Status: StatusPending, Lines: []LineState{line(LinePending, 0)}}, StageNone, ""},
		{"bank transfer waiting", OrderRecord{Status: StatusOnHold, Confirm: true, Lines: []LineState{line(LinePending, 0)}}, StageAwaitingConfirmation, ""},
		{"paid, pending", OrderRecord{Status: StatusProcessing, PaidBy: PaidByStatus, EnrollGen: 1, Lines: []LineState{line(LinePending, 0)}}, StageEnrolling, ""},
		{"paid, claimed", OrderRecord{Status: StatusProcessing, PaidBy: PaidByStatus, EnrollGen: 1, Lines: []LineState{line(LineClaimed, 0)}}, StageEnrolling, ""},
		{"enrolled, completion not noted yet", OrderRecord{Status: StatusProcessing, PaidBy: PaidByStatus, EnrollGen: 1, Lines: []LineState{line(LineEnrolled, 0)}, Completion: CompletionState{State: CompletionDone}}, StageEnrolling, ""},
		{"completed", OrderRecord{Status: StatusCompleted, PaidBy: PaidByStatus, EnrollGen: 1, Lines: []LineState{line(LineEnrolled, 0)}, Completion: done}, StageCompleted, ""},
		{"mixed, left open", OrderRecord{Status: StatusProcessing, PaidBy: PaidByStatus, EnrollGen: 1, Lines: []LineState{line(LineEnrolled, 0)}, Completion: CompletionState{State: CompletionMixed, Noted: true}}, StageCompleted, ""},
		{"failed line", OrderRecord{Status: StatusProcessing, PaidBy: PaidByStatus, EnrollGen: 1, Lines: []LineState{line(LineEnrolled, 0), line(LineFailed, 1)}}, StageFailed, "course-v1:O+C+R: the course does not exist"},
		{"failed line, retry queued", OrderRecord{Status: StatusProcessing, PaidBy: PaidByStatus, EnrollGen: 2, Lines: []LineState{line(LineFailed, 1)}}, StageEnrolling, ""},
		{"completion refused", OrderRecord{Status: StatusProcessing, PaidBy: PaidByStatus, EnrollGen: 1, Lines: []LineState{line(LineEnrolled, 0)}, Completion: CompletionState{State: CompletionFailed, Error: "403 forbidden", Noted: true}}, StageFailed, "could not complete the order: 403 forbidden"},
		{"confirmation email failed", OrderRecord{Status: StatusOnHold, Confirm: true, Lines: []LineState{line(LinePending, 0)}, Email: EmailState{State: EmailFailed, Error: "no recipients"}}, StageFailed, "the payment confirmation email could not be sent: no recipients"},
		{"confirmation email failed, then paid", OrderRecord{Status: StatusProcessing, Confirm: true, PaidBy: PaidByAdmin, EnrollGen: 1, Lines: []LineState{line(LinePending, 0)}, Email: EmailState{State: EmailFailed}}, StageEnrolling, ""},
		{"access taken away", OrderRecord{Status: StatusRefunded, PaidBy: PaidByStatus, EnrollGen: 1, Lines: []LineState{line(LineUnenrolled, 0)}}, StageUnenrolled, ""},
		{"cancelled before payment", OrderRecord{Status: StatusCancelled, Confirm: true, Lines: []LineState{line(LinePending, 0)}}, StageClosed, ""},
		{"refunded line kept, other enrolled", OrderRecord{Status: StatusCompleted, PaidBy: PaidByStatus, EnrollGen: 1, Lines: []LineState{line(LineEnrolled, 0), {LineID: 2, Course: "course-v1:O+D+R", State: LineKept, UnenrolledBy: ScopeRefunds}}, Completion: done}, StageCompleted, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			stage, why := tt.rec.CurrentStage()
			if stage != tt.stage || why != tt.why {
				t.Errorf("CurrentStage() = %q, %q; want %q, %q", stage, why, tt.stage, tt.why)
			}
		})
	}
}

// TestStageInLanguage: the Console shows why an order failed in LANGUAGE, the catalogue's
// words before the recorded error.
func TestStageInLanguage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		rec  OrderRecord
		why  string
	}{
		{"completion refused", OrderRecord{Status: StatusProcessing, PaidBy: PaidByStatus, EnrollGen: 1, Lines: []LineState{{LineID: 1, State: LineEnrolled}}, Completion: CompletionState{State: CompletionFailed, Error: "403", Noted: true}},
			"no se pudo marcar el pedido como «Completado»: 403"},
		{"confirmation email failed", OrderRecord{Status: StatusOnHold, Confirm: true, Lines: []LineState{{LineID: 1, State: LinePending}}, Email: EmailState{State: EmailFailed, Error: "sin destinatarios"}},
			"no se pudo enviar el correo de confirmación del pago: sin destinatarios"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			stage, why := tt.rec.StageIn(i18n.Spanish)
			if stage != StageFailed || why != tt.why {
				t.Errorf("StageIn(es) = %q, %q; want %q, %q", stage, why, StageFailed, tt.why)
			}
		})
	}
}
