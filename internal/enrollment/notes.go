package enrollment

import (
	"strings"

	"github.com/aulasneo/wc-openedx/internal/i18n"
)

// The private order notes, in the shop's language (SPEC §2.9). Line reasons are written in
// that language when they are recorded. A failure note names both ways to retry: the Retry
// button of the failure email (SPEC §2.5b) and the move On hold → Processing.

// FailureNote is the private order note for permanently failed lines: which course failed,
// why, how to retry (in the words of the setup guide), and, when support is set
// (SUPPORT_CONTACT), whom to ask when a retry does not help.
func FailureNote(l i18n.Lang, failures []LineFailure, support string) string {
	var b strings.Builder
	b.WriteString(l.T("note.failed") + "\n")
	for _, f := range failures {
		b.WriteString(l.T("note.line", f.Course, f.LineName, f.Reason))
		if f.Attempts > 1 {
			b.WriteString(l.T("note.attempt", f.Attempts))
		}
		b.WriteString("\n")
	}
	b.WriteString(l.T("note.retry"))
	if support != "" {
		b.WriteString("\n" + l.T("note.support", support))
	}
	return b.String()
}

// EnrolledNote is the private order note listing the enrollments of a finished order, and
// how its completion went: completionErr when the shop refused it (then support, if set, is
// named), or leftOpen when non-course lines keep it open.
func EnrolledNote(l i18n.Lang, lines []LineState, completionFailed bool, completionErr string, leftOpen bool, support string) string {
	var b strings.Builder
	b.WriteString(l.T("note.enrolled") + "\n")
	for _, s := range lines {
		switch {
		case s.Allowed:
			b.WriteString(l.T("note.enrolled.allowed", s.Course, s.Mode))
		case s.Username != "":
			b.WriteString(l.T("note.enrolled.user", s.Course, s.Mode, s.Username))
		default:
			b.WriteString(l.T("note.enrolled.line", s.Course, s.Mode))
		}
		b.WriteString("\n")
	}
	switch {
	case completionFailed:
		b.WriteString(l.T("note.completion_failed", completionErr))
		if support != "" {
			b.WriteString("\n" + l.T("note.support", support))
		}
	case leftOpen:
		b.WriteString(l.T("note.left_open"))
	}
	return strings.TrimSpace(b.String())
}
