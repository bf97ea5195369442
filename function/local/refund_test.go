package local_test

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aulasneo/wc-openedx/function/local"
	"github.com/aulasneo/wc-openedx/internal/enrollment"
	"github.com/aulasneo/wc-openedx/internal/sandbox"
)

// active lists the active LMS enrollments as "user course".
func active(st interface {
	Enrollments() []sandbox.LMSEnrollment
}) []string {
	var out []string
	for _, e := range st.Enrollments() {
		if e.IsActive {
			out = append(out, e.User+" "+e.Course)
		}
	}
	slices.Sort(out)
	return out
}

// lineOf returns the id of the order's line whose SKU is sku.
func lineOf(t *testing.T, st *local.Stack, orderID int64, sku string) int64 {
	t.Helper()
	o, _ := st.Shop.Order(orderID)
	for _, l := range o.Lines {
		if l.SKU != nil && *l.SKU == sku {
			return l.ID
		}
	}
	t.Fatalf("order %d has no line with SKU %s", orderID, sku)
	return 0
}

func completedOrder(t *testing.T, st *local.Stack, spec sandbox.OrderSpec) int64 {
	t.Helper()
	id := st.Shop.CreateOrder(spec)
	waitFor(t, "order completed", 30*time.Second, func() bool { return status(st, id) == "completed" })
	waitFor(t, "completion recorded", 10*time.Second, func() bool { return record(t, st, id).Completion.Noted })
	return id
}

func TestRefundTakesAccessAway(t *testing.T) {
	t.Parallel()
	unenroll := withEnv("UNENROLL_ON", "refunded,cancelled")
	t.Run("refund of a one-course order", func(t *testing.T) {
		t.Parallel()
		st := newStack(t, unenroll)
		id := completedOrder(t, st, cardOrder(course("Intro to Python", coursePy)))
		st.Shop.Refund(id, "changed my mind", nil)
		waitFor(t, "access removed", 30*time.Second, func() bool { return len(active(st.LMS)) == 0 })
		waitFor(t, "note", 10*time.Second, func() bool { return strings.Contains(notes(st, id), "access removed") })
		if s := st.LMS.Stats(); s.Deactivated != 1 {
			t.Errorf("LMS %+v", s)
		}
		if rec := record(t, st, id); rec.Lines[0].State != enrollment.LineUnenrolled || len(rec.Grants) != 0 {
			t.Errorf("line %+v grants %v", rec.Lines[0], rec.Grants)
		}
	})
	t.Run("cancel of a bundle", func(t *testing.T) {
		t.Parallel()
		st := newStack(t, unenroll)
		id := completedOrder(t, st, cardOrder(course("Bundle", coursePy+","+courseGo)))
		st.Shop.SetStatus(id, "cancelled")
		waitFor(t, "access removed", 30*time.Second, func() bool { return len(active(st.LMS)) == 0 })
		waitFor(t, "note", 10*time.Second, func() bool { return strings.Count(notes(st, id), "access removed") == 2 })
	})
	t.Run("partial refund of one line of two", func(t *testing.T) {
		t.Parallel()
		st := newStack(t, unenroll)
		id := completedOrder(t, st, cardOrder(course("Python", coursePy), course("Go", courseGo)))
		st.Shop.Refund(id, "Go course cancelled", map[int64]int{lineOf(t, st, id, courseGo): 1})
		waitFor(t, "Go access removed", 30*time.Second, func() bool {
			return slices.Equal(active(st.LMS), []string{learnerID + " " + coursePy})
		})
		waitFor(t, "note", 10*time.Second, func() bool { return strings.Contains(notes(st, id), courseGo+" (Go): access removed") })
		if strings.Contains(notes(st, id), coursePy+" (Python): access removed") {
			t.Error("the Python line was unenrolled too")
		}
		if status(st, id) != "completed" {
			t.Errorf("status %s", status(st, id))
		}
	})
	t.Run("same course bought twice, one refunded", func(t *testing.T) {
		t.Parallel()
		st := newStack(t, unenroll)
		first := completedOrder(t, st, cardOrder(course("Intro to Python", coursePy)))
		second := completedOrder(t, st, cardOrder(course("Intro to Python (gift)", coursePy)))
		st.Shop.Refund(second, "duplicate purchase", nil)
		waitFor(t, "note", 30*time.Second, func() bool { return strings.Contains(notes(st, second), "not removed") })
		n := notes(st, second)
		if !strings.Contains(n, "#"+strconv.FormatInt(first, 10)) {
			t.Errorf("the note does not say which order keeps access:\n%s", n)
		}
		if got := active(st.LMS); len(got) != 1 || st.LMS.Stats().Deactivated != 0 {
			t.Errorf("access was taken away: %v %+v", got, st.LMS.Stats())
		}
		// Then the first is refunded too: now nothing grants the course.
		st.Shop.Refund(first, "refund", nil)
		waitFor(t, "access removed", 30*time.Second, func() bool { return len(active(st.LMS)) == 0 })
	})
	t.Run("buyer without an account", func(t *testing.T) {
		t.Parallel()
		st := newStack(t, unenroll)
		spec := cardOrder(course("Intro to Python", coursePy))
		spec.Email = ptr("nobody@example.com")
		id := completedOrder(t, st, spec)
		st.Shop.SetStatus(id, "refunded")
		waitFor(t, "allowed deleted", 30*time.Second, func() bool { return len(st.LMS.Allowed()) == 0 })
	})
	t.Run("re-opened into processing enrolls again", func(t *testing.T) {
		t.Parallel()
		st := newStack(t, unenroll)
		id := completedOrder(t, st, cardOrder(course("Intro to Python", coursePy)))
		st.Shop.SetStatus(id, "cancelled")
		waitFor(t, "access removed", 30*time.Second, func() bool { return len(active(st.LMS)) == 0 })
		st.Shop.Wait()
		st.Shop.SetStatus(id, "processing")
		waitFor(t, "enrolled again", 30*time.Second, func() bool { return len(active(st.LMS)) == 1 })
		waitFor(t, "completed again", 30*time.Second, func() bool { return status(st, id) == "completed" })
	})
}

func TestRefundWithoutSettingChangesNothing(t *testing.T) {
	t.Parallel()
	st := newStack(t)
	id := completedOrder(t, st, cardOrder(course("Intro to Python", coursePy)))
	st.Shop.Refund(id, "refund", nil)
	st.Shop.Wait()
	time.Sleep(2 * time.Second)
	if got := active(st.LMS); len(got) != 1 || st.LMS.Stats().Deactivated != 0 {
		t.Errorf("UNENROLL_ON is empty but access changed: %v", got)
	}
	if strings.Contains(notes(st, id), "access") {
		t.Errorf("notes: %s", notes(st, id))
	}
}

func TestRefundDeliveredTwiceAndOutOfOrder(t *testing.T) {
	t.Parallel()
	st := newStack(t, withEnv("UNENROLL_ON", "refunded"))
	id := completedOrder(t, st, cardOrder(course("Intro to Python", coursePy)))
	st.Shop.Wait()
	before := len(st.Shop.Deliveries())
	st.Shop.Refund(id, "refund", nil)
	waitFor(t, "access removed", 30*time.Second, func() bool { return len(active(st.LMS)) == 0 })
	st.Shop.Wait()
	ds := st.Shop.Deliveries()
	// The refund's delivery again, and the older completed one after it.
	st.Shop.Redeliver(ds[len(ds)-1])
	st.Shop.Redeliver(ds[before-1])
	st.Shop.DeliverAgain(id, "order.updated")
	st.Shop.Wait()
	time.Sleep(2 * time.Second)
	if s := st.LMS.Stats(); s.Deactivated != 1 || s.Created != 1 {
		t.Errorf("LMS %+v; want one enrollment and one deactivation", s)
	}
	if c := strings.Count(notes(st, id), "access removed"); c != 1 {
		t.Errorf("%d unenrollment notes", c)
	}
	if len(active(st.LMS)) != 0 {
		t.Error("an older delivery re-enrolled the learner")
	}
}

// A job still retrying when the admin cancels the order must not enroll it or set it back to
// Completed.
func TestCancelledWhileEnrollmentRetries(t *testing.T) {
	t.Parallel()
	st := newStack(t)
	st.LMS.Faults.Inject("enroll", sandbox.Fault{Status: 503, Body: "<html>503</html>", Times: 3})
	id := st.Shop.CreateOrder(cardOrder(course("Intro to Python", coursePy)))
	waitFor(t, "a first failed attempt", 30*time.Second, func() bool { return len(st.LMS.Log.Calls("enroll")) >= 1 })
	st.Shop.SetStatus(id, "cancelled")
	st.Shop.Wait()
	waitFor(t, "cancel recorded", 10*time.Second, func() bool { return record(t, st, id).Status == "cancelled" })
	st.LMS.Faults.Clear("enroll") // the LMS is back; the job's retries come ~1 s apart
	time.Sleep(5 * time.Second)
	if s := st.LMS.Stats(); s.Created != 0 || status(st, id) != "cancelled" {
		t.Errorf("cancelled order: LMS %+v, status %s", s, status(st, id))
	}
}

func TestReopenedWhileUnenrollmentRetries(t *testing.T) {
	t.Parallel()
	st := newStack(t, withEnv("UNENROLL_ON", "cancelled"))
	id := completedOrder(t, st, cardOrder(course("Intro to Python", coursePy)))
	calls := len(st.LMS.Log.Calls("enroll"))
	st.LMS.Faults.Inject("enroll", sandbox.Fault{Status: 503, Body: "<html>503</html>", Times: 2})
	st.Shop.SetStatus(id, "cancelled")
	waitFor(t, "a failed unenrollment", 30*time.Second, func() bool { return len(st.LMS.Log.Calls("enroll")) > calls })
	st.Shop.Wait()
	st.Shop.SetStatus(id, "processing")
	st.Shop.Wait()
	time.Sleep(5 * time.Second) // the unenroll job's retries run meanwhile
	if got := active(st.LMS); len(got) != 1 {
		t.Errorf("re-opened order lost its access: %v %+v", got, st.LMS.Stats())
	}
}

func TestRefundedLineStaysOutWhenReprocessed(t *testing.T) {
	t.Parallel()
	st := newStack(t, withEnv("UNENROLL_ON", "refunded"))
	id := completedOrder(t, st, cardOrder(course("Python", coursePy), course("Go", courseGo)))
	st.Shop.Refund(id, "Go cancelled", map[int64]int{lineOf(t, st, id, courseGo): 1})
	waitFor(t, "Go access removed", 30*time.Second, func() bool { return len(active(st.LMS)) == 1 })
	st.Shop.Wait()
	st.Shop.SetStatus(id, "on-hold")
	st.Shop.Wait()
	st.Shop.SetStatus(id, "processing")
	st.Shop.Wait()
	time.Sleep(3 * time.Second)
	if got := active(st.LMS); !slices.Equal(got, []string{learnerID + " " + coursePy}) {
		t.Errorf("re-processing re-enrolled the refunded line: %v", got)
	}
}

// A course line added to a completed order, then re-processed: enrolled, and the order is
// completed again.
func TestLineAddedAfterCompletion(t *testing.T) {
	t.Parallel()
	st := newStack(t)
	id := completedOrder(t, st, cardOrder(course("Python", coursePy)))
	st.Shop.UpdateOrder(id, func(o *sandbox.OrderState) {
		o.Status = "on-hold"
		o.Lines = append(o.Lines, sandbox.OrderLine{Name: "Go", ProductID: 94, Quantity: 1, Total: "99", SKU: ptr(courseGo)})
	})
	st.Shop.Wait()
	st.Shop.SetStatus(id, "processing")
	waitFor(t, "completed again", 30*time.Second, func() bool { return status(st, id) == "completed" && len(active(st.LMS)) == 2 })
	waitFor(t, "second note", 10*time.Second, func() bool { return strings.Count(notes(st, id), "Enrolled in Open edX") == 2 })
}
