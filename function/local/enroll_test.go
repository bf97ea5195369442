package local_test

import (
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
	if o, _ := st.Shop.Order(id); len(got[0].Attributes) != 1 || got[0].Attributes[0].Value != o.Number {
		t.Errorf("enrollment attributes %+v do not carry the order number %s", got[0].Attributes, o.Number)
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
	waitFor(t, "completion recorded", 10*time.Second, func() bool { return record(t, st, id).Completion.Noted })
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
