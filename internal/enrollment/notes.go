package enrollment

import (
	"fmt"
	"strings"
)

// retryHowTo tells a shop admin how to retry an order, in the words of the setup guide: the
// Retry button of the failure email (SPEC §2.5b) or the move On hold → Processing.
const retryHowTo = "To retry: fix the product's SKU or the course in Open edX, then press Retry in the failure email sent to the new-order recipients, or move this order to On hold, save, and back to Processing, save. Lines already enrolled are not enrolled again."

// FailureNote is the private order note for permanently failed lines.
func FailureNote(failures []LineFailure) string {
	var b strings.Builder
	b.WriteString("Open edX enrollment failed.\n")
	for _, f := range failures {
		fmt.Fprintf(&b, "- %s (%s): %s", f.Course, f.LineName, f.Reason)
		if f.Attempts > 1 {
			fmt.Fprintf(&b, " [attempt %d]", f.Attempts)
		}
		b.WriteString("\n")
	}
	b.WriteString(retryHowTo)
	return b.String()
}

// EnrolledNote is the private order note listing the enrollments of a finished order.
func EnrolledNote(lines []LineState, completionFailed bool, completionErr string, leftOpen bool) string {
	var b strings.Builder
	b.WriteString("Enrolled in Open edX:\n")
	for _, l := range lines {
		switch {
		case l.Allowed:
			fmt.Fprintf(&b, "- %s (%s): the buyer has no LMS account yet, or has not activated it; they will be enrolled when they register with the order's email or activate their account\n", l.Course, l.Mode)
		case l.Username != "":
			fmt.Fprintf(&b, "- %s (%s) as %s\n", l.Course, l.Mode, l.Username)
		default:
			fmt.Fprintf(&b, "- %s (%s)\n", l.Course, l.Mode)
		}
	}
	switch {
	case completionFailed:
		fmt.Fprintf(&b, "The order could not be marked Completed: %s", completionErr)
	case leftOpen:
		b.WriteString("The order also holds items that are not courses, so it was left in its status for you to complete (WC_COMPLETE_MIXED_ORDERS is false).")
	}
	return strings.TrimSpace(b.String())
}
