package local_test

import (
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aulasneo/wc-openedx/internal/enrollment"
	"github.com/aulasneo/wc-openedx/internal/sandbox"
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

func TestBuyerWithoutAccountIsAllowedAndCompleted(t *testing.T) {
	t.Parallel()
	st := newStack(t)
	o := cardOrder(course("Intro to Python", coursePy))
	o.Email = ptr("  New.Buyer@Example.com ")
	id := st.Shop.CreateOrder(o)
	waitFor(t, "order completed", 30*time.Second, func() bool { return status(st, id) == "completed" })
	allowed := st.LMS.Allowed()
	if len(allowed) != 1 || allowed[0].Email != "new.buyer@example.com" || allowed[0].Course != coursePy || !allowed[0].AutoEnroll {
		t.Fatalf("enrollment_allowed = %+v", allowed)
	}
	if len(st.LMS.Enrollments()) != 0 {
		t.Errorf("enrolled someone: %v", enrollmentsOf(st))
	}
	waitFor(t, "note", 10*time.Second, func() bool { return strings.Contains(notes(st, id), "no Open edX account yet") })
}

func TestBundleWithModes(t *testing.T) {
	t.Parallel()
	st := newStack(t)
	id := st.Shop.CreateOrder(cardOrder(course("Python + Go bundle", coursePy+"|verified, "+courseGo)))
	waitFor(t, "order completed", 30*time.Second, func() bool { return status(st, id) == "completed" })
	got := enrollmentsOf(st)
	slices.Sort(got)
	want := []string{learnerID + " " + courseGo + " audit", learnerID + " " + coursePy + " verified"}
	if !slices.Equal(got, want) {
		t.Fatalf("enrollments %v, want %v", got, want)
	}
}

func TestUnknownCourseIsReportedThenRetried(t *testing.T) {
	t.Parallel()
	st := newStack(t)
	const missing = "course-v1:ExampleX+NEW1+2026_T1"
	id := st.Shop.CreateOrder(cardOrder(course("New course", missing)))
	waitFor(t, "failure note", 30*time.Second, func() bool { return strings.Contains(notes(st, id), "enrollment failed") })
	n := notes(st, id)
	for _, want := range []string{missing, "New course", "On hold", "Processing"} {
		if !strings.Contains(n, want) {
			t.Errorf("failure note lacks %q:\n%s", want, n)
		}
	}
	waitFor(t, "failure email", 10*time.Second, func() bool { return len(st.Mail.Messages()) == 1 })
	m := st.Mail.Messages()[0]
	if !strings.Contains(m.Text, missing) || !slices.Contains(m.To, "shop-admin@example.com") {
		t.Errorf("failure email: to %v\n%s", m.To, m.Text)
	}
	if status(st, id) != "processing" {
		t.Errorf("status %s; a failed order must not be completed", status(st, id))
	}
	rec := record(t, st, id)
	if rec.Lines[0].State != enrollment.LineFailed || !strings.Contains(rec.Lines[0].Reason, "No course") || rec.Failed == "" {
		t.Errorf("line %+v failed=%q", rec.Lines[0], rec.Failed)
	}
	// Redelivering the same order reports nothing again.
	st.Shop.DeliverAgain(id, "order.updated")
	st.Shop.Wait()

	// The operator creates the course; the admin re-sends the order as the guide says.
	st.LMS.AddCourse(missing, "audit")
	// (WooCommerce coalesces deliveries built at delivery time, so the guide says to wait a
	// few seconds between the two saves.)
	st.Shop.SetStatus(id, "on-hold")
	st.Shop.Wait()
	st.Shop.SetStatus(id, "processing")
	waitFor(t, "order completed", 30*time.Second, func() bool { return status(st, id) == "completed" })
	if s := st.LMS.Stats(); s.Created != 1 {
		t.Errorf("LMS %+v, want one enrollment", s)
	}
	if n := len(st.Mail.Messages()); n != 1 {
		t.Errorf("%d emails; the failure is reported once", n)
	}
	if c := strings.Count(notes(st, id), "enrollment failed"); c != 1 {
		t.Errorf("%d failure notes, want 1", c)
	}
}

func TestLMSTransientFailures(t *testing.T) {
	t.Parallel()
	t.Run("two 503s then fine", func(t *testing.T) {
		t.Parallel()
		st := newStack(t)
		st.LMS.Faults.Inject("enroll", sandbox.Fault{Status: 503, Body: "<html><title>503 Service Unavailable</title></html>", Times: 2})
		id := st.Shop.CreateOrder(cardOrder(course("Intro to Python", coursePy)))
		waitFor(t, "order completed", 30*time.Second, func() bool { return status(st, id) == "completed" })
		if n := len(st.LMS.Log.Calls("enroll")); n != 3 {
			t.Errorf("%d enroll calls, want 3 (two 503s, one success)", n)
		}
		if s := st.LMS.Stats(); s.Created != 1 {
			t.Errorf("LMS %+v", s)
		}
		if n := len(st.Shop.Log.Calls("update-order")); n != 1 {
			t.Errorf("%d completions", n)
		}
		if strings.Contains(notes(st, id), "failed") || len(st.Mail.Messages()) != 0 {
			t.Errorf("a transient failure was reported: %s", notes(st, id))
		}
	})
	t.Run("down longer than the retries", func(t *testing.T) {
		t.Parallel()
		st := newStack(t)
		st.LMS.Faults.Inject("enroll", sandbox.Fault{Status: 429, Body: `{"detail":"Request was throttled."}`})
		id := st.Shop.CreateOrder(cardOrder(course("Intro to Python", coursePy)))
		waitFor(t, "failure note", 60*time.Second, func() bool { return strings.Contains(notes(st, id), "enrollment failed") })
		if n := notes(st, id); !strings.Contains(n, "could not be reached after") {
			t.Errorf("note does not say the LMS was unreachable:\n%s", n)
		}
		waitFor(t, "failure email", 10*time.Second, func() bool { return len(st.Mail.Messages()) == 1 })
		rec := record(t, st, id)
		if rec.Failed == "" || rec.Lines[0].State != enrollment.LineFailed || status(st, id) != "processing" {
			t.Errorf("record %+v, status %s", rec.Lines, status(st, id))
		}
		if n := len(st.LMS.Log.Calls("enroll")); n < st.Config.EnrollMaxAttempts {
			t.Errorf("%d enroll calls, want at least %d", n, st.Config.EnrollMaxAttempts)
		}
	})
}

func TestCompletionFailureIsRetriedAlone(t *testing.T) {
	t.Parallel()
	st := newStack(t)
	st.Shop.Faults.Inject("update-order", sandbox.Fault{Status: 500, Body: `{"code":"internal_server_error","message":"Database error","data":{"status":500}}`, Times: 2})
	id := st.Shop.CreateOrder(cardOrder(course("Intro to Python", coursePy)))
	waitFor(t, "order completed", 30*time.Second, func() bool { return status(st, id) == "completed" })
	if n := len(st.LMS.Log.Calls("enroll")); n != 1 {
		t.Errorf("%d enroll calls; the completion retry must not enroll again", n)
	}
	if n := len(st.Shop.Log.Calls("update-order")); n != 3 {
		t.Errorf("%d completion calls, want 3", n)
	}
	waitFor(t, "note", 10*time.Second, func() bool { return strings.Count(notes(st, id), "Enrolled in Open edX") == 1 })
}

func TestOrdersThatNeedNoCompletion(t *testing.T) {
	t.Parallel()
	tshirt := sandbox.LineSpec{Name: "T-shirt", ProductID: 7, Quantity: 2, Total: "40.00", SKU: ptr("TSHIRT-L")}
	deleted := sandbox.LineSpec{Name: "Old product", ProductID: 8, Quantity: 1, Total: "1.00"} // sku null
	t.Run("course and t-shirt", func(t *testing.T) {
		t.Parallel()
		st := newStack(t)
		id := st.Shop.CreateOrder(cardOrder(course("Intro to Python", coursePy), tshirt, deleted))
		waitFor(t, "note", 30*time.Second, func() bool { return strings.Contains(notes(st, id), "Enrolled in Open edX") })
		if status(st, id) != "processing" || len(st.Shop.Log.Calls("update-order")) != 0 {
			t.Errorf("mixed order completed (status %s)", status(st, id))
		}
		if !strings.Contains(notes(st, id), "not courses") || len(st.LMS.Enrollments()) != 1 {
			t.Errorf("note %s; enrollments %v", notes(st, id), enrollmentsOf(st))
		}
	})
	t.Run("course and t-shirt, mixed orders completed", func(t *testing.T) {
		t.Parallel()
		st := newStack(t, withEnv("WC_COMPLETE_MIXED_ORDERS", "true"))
		id := st.Shop.CreateOrder(cardOrder(course("Intro to Python", coursePy), tshirt))
		waitFor(t, "completed", 30*time.Second, func() bool { return status(st, id) == "completed" })
	})
	t.Run("arrives completed", func(t *testing.T) {
		t.Parallel()
		st := newStack(t)
		o := cardOrder(course("Intro to Python", coursePy))
		o.Status = "completed"
		id := st.Shop.CreateOrder(o)
		waitFor(t, "note", 30*time.Second, func() bool { return strings.Contains(notes(st, id), "Enrolled in Open edX") })
		if len(st.Shop.Log.Calls("update-order")) != 0 || len(st.LMS.Enrollments()) != 1 {
			t.Errorf("updates %d enrollments %v", len(st.Shop.Log.Calls("update-order")), enrollmentsOf(st))
		}
	})
	t.Run("no course", func(t *testing.T) {
		t.Parallel()
		st := newStack(t)
		id := st.Shop.CreateOrder(cardOrder(tshirt))
		st.Shop.Wait()
		time.Sleep(2 * time.Second)
		if len(st.LMS.Log.Calls()) != 0 || len(st.Shop.Notes(id)) != 0 || len(st.Shop.Log.Calls("update-order")) != 0 {
			t.Errorf("an order without courses was acted on: LMS %d calls, notes %v", len(st.LMS.Log.Calls()), st.Shop.Notes(id))
		}
		if rec := record(t, st, id); rec.Status != "processing" {
			t.Errorf("order not recorded: %+v", rec)
		}
	})
}

func TestConcurrentDuplicateDeliveries(t *testing.T) {
	t.Parallel()
	st := newStack(t)
	id := st.Shop.CreateOrder(cardOrder(course("Python + Go", coursePy+","+courseGo)))
	var wg sync.WaitGroup
	for _, topic := range []string{"order.created", "order.created", "order.created", "order.created", "order.created", "order.updated", "order.updated", "order.updated"} {
		wg.Add(1)
		go func() { defer wg.Done(); st.Shop.DeliverAgain(id, topic) }()
	}
	wg.Wait()
	waitFor(t, "order completed", 30*time.Second, func() bool { return status(st, id) == "completed" })
	st.Shop.Wait()
	time.Sleep(2 * time.Second) // let any extra job run
	if n := len(st.LMS.Log.Calls("enroll")); n != 2 {
		t.Errorf("%d enroll calls, want one per course line (2)", n)
	}
	if s := st.LMS.Stats(); s.Created != 2 || s.Repeated != 0 {
		t.Errorf("LMS %+v", s)
	}
	if n := len(st.Shop.Log.Calls("update-order")); n != 1 {
		t.Errorf("%d completions, want 1", n)
	}
	if c := strings.Count(notes(st, id), "Enrolled in Open edX"); c != 1 {
		t.Errorf("%d enrollment notes", c)
	}
}

// The shop never completes the order, and the note fails once on the last attempt: the note
// retried on its own still says the order could not be completed (not "left open").
func TestCompletionFailureNoteRetried(t *testing.T) {
	t.Parallel()
	st := newStack(t)
	st.Shop.Faults.Inject("update-order", sandbox.Fault{Status: 500, Body: `{"code":"internal_server_error","message":"Database error","data":{"status":500}}`})
	st.Shop.Faults.Inject("note", sandbox.Fault{Status: 503, Body: "busy", Times: 1})
	id := st.Shop.CreateOrder(cardOrder(course("Intro to Python", coursePy)))
	waitFor(t, "note", 60*time.Second, func() bool { return strings.Contains(notes(st, id), "Enrolled in Open edX") })
	n := notes(st, id)
	if !strings.Contains(n, "could not be marked Completed") || strings.Contains(n, "not courses") || strings.Count(n, "Enrolled in Open edX") != 1 {
		t.Errorf("notes:\n%s", n)
	}
	if rec := record(t, st, id); rec.Completion.State != enrollment.CompletionFailed || rec.Failed == "" {
		t.Errorf("completion %+v failed=%q", rec.Completion, rec.Failed)
	}
}
