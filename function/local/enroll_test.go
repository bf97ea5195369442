package local_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aulasneo/wc-openedx/internal/enrollment"
)

func TestCardOrderIsEnrolledAndCompleted(t *testing.T) {
	t.Parallel()
	st := newStack(t)
	id := st.Shop.CreateOrder(cardOrder(course("Intro to Python", coursePy)))
	waitFor(t, "order completed", 30*time.Second, func() bool { return status(st, id) == "completed" })

	got := st.LMS.Enrollments()
	if len(got) != 1 || got[0].User != learnerID || got[0].Course != coursePy || got[0].Mode != "audit" || !got[0].IsActive {
		t.Fatalf("enrollments = %+v", got)
	}
	if len(got[0].Attributes) == 0 || got[0].Attributes[0].Value != st.Shop.Notes(id)[0].Note[:0]+orderNumber(st, id) {
		t.Errorf("enrollment attributes %+v do not carry order number %s", got[0].Attributes, orderNumber(st, id))
	}
	if s := st.LMS.Stats(); s.Created != 1 {
		t.Errorf("LMS stats %+v, want exactly one created enrollment", s)
	}
	waitFor(t, "enrollment note", 10*time.Second, func() bool { return strings.Contains(notes(st, id), "Enrolled in Open edX") })
	n := notes(st, id)
	if !strings.Contains(n, coursePy) || !strings.Contains(n, learnerID) {
		t.Errorf("note does not list the enrollment: %s", n)
	}
	for _, note := range st.Shop.Notes(id) {
		if note.CustomerNote {
			t.Errorf("note visible to the customer: %q", note.Note)
		}
	}
	rec := record(t, st, id)
	if rec.Completion.State != enrollment.CompletionDone || rec.Lines[0].State != enrollment.LineEnrolled {
		t.Errorf("record: completion %+v lines %+v", rec.Completion, rec.Lines)
	}
	// The shop's own completed webhook came back and changed nothing.
	st.Shop.Wait()
	if n := len(st.LMS.Log.Calls("enroll")); n != 1 {
		t.Errorf("%d enrollment calls, want 1", n)
	}
	if n := len(st.Shop.Log.Calls("update-order")); n != 1 {
		t.Errorf("%d order updates, want 1", n)
	}
}

func orderNumber(st interface{}, id int64) string {
	return itoa(id)
}

func itoa(n int64) string {
	return strings.TrimSpace(strings.Replace(string(rune('0'))+"", "0", "", 1)) + fmtInt(n)
}

func fmtInt(n int64) string {
	s := []byte{}
	if n == 0 {
		return "0"
	}
	for n > 0 {
		s = append([]byte{byte('0' + n%10)}, s...)
		n /= 10
	}
	return string(s)
}

var _ = slices.Contains[[]string]
