package local_test

// End-to-end tests of the service against an LMS that behaves as a real Open edX does
// (issue 11): each reproduces a behaviour of edx-platform that the sandbox LMS now has.

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aulasneo/wc-openedx/internal/enrollment"
	"github.com/aulasneo/wc-openedx/internal/sandbox"
)

// The order number goes in a namespace of our own: the LMS reads "order"/"order_number" as an
// order of its ecommerce service and asks that service about it.
func TestEnrollmentAttributeNamespace(t *testing.T) {
	t.Parallel()
	st := newStack(t)
	id := st.Shop.CreateOrder(cardOrder(course("Intro to Python", coursePy)))
	waitFor(t, "order completed", 30*time.Second, func() bool { return status(st, id) == "completed" })
	o, _ := st.Shop.Order(id)
	want := []sandbox.LMSAttribute{{Namespace: "woocommerce", Name: "order_number", Value: o.Number}}
	if es := st.LMS.Enrollments(); len(es) != 1 || !slices.Equal(es[0].Attributes, want) {
		t.Fatalf("enrollments %+v, want one with attributes %+v", es, want)
	}
}

// A second order of a course whose enrollment has closed, for a learner already enrolled in
// it: the LMS answers the generic 400 (closed is checked before already-enrolled); a read
// shows the enrollment active in the mode, so the line is enrolled and the order completed.
func TestSecondOrderOfClosedCourse(t *testing.T) {
	t.Parallel()
	st := newStack(t)
	completedOrder(t, st, cardOrder(course("Intro to Python", coursePy)))
	st.LMS.CloseEnrollment(coursePy)
	second := st.Shop.CreateOrder(cardOrder(course("Intro to Python (again)", coursePy)))
	waitFor(t, "second order completed", 30*time.Second, func() bool { return status(st, second) == "completed" })
	waitFor(t, "note", 10*time.Second, func() bool { return strings.Contains(notes(st, second), "Enrolled in Open edX") })
	if n := notes(st, second); strings.Contains(n, "failed") {
		t.Errorf("notes report a failure:\n%s", n)
	}
	if rec := record(t, st, second); rec.Lines[0].State != enrollment.LineEnrolled || rec.Lines[0].Username != learnerID || rec.Failed != "" {
		t.Errorf("line %+v, failed %q", rec.Lines[0], rec.Failed)
	}
	if got := statuses(st.LMS.Log.Calls("enroll")); !slices.Equal(got, []int{200, 400}) {
		t.Errorf("enroll statuses %v, want [200 400]", got)
	}
	if len(st.Mail.Messages()) != 0 {
		t.Errorf("a failure email was sent")
	}
}

func statuses(calls []sandbox.Call) []int {
	var out []int
	for _, c := range calls {
		out = append(out, c.Status)
	}
	return out
}

// Bulk strategy, buyer whose account is not activated yet: the LMS records an
// enrollment_allowed (after.allowed with after.user): the order is completed, and the
// learner is enrolled when they activate the account.
func TestBulkBuyerWithInactiveAccount(t *testing.T) {
	t.Parallel()
	st := newStack(t, withEnv("OPENEDX_ENROLL_STRATEGY", "bulk"))
	st.LMS.AddInactiveUser("carol", "carol@example.com")
	spec := cardOrder(course("Intro to Python", coursePy))
	spec.Email = ptr("carol@example.com")
	id := st.Shop.CreateOrder(spec)
	waitFor(t, "order completed", 30*time.Second, func() bool { return status(st, id) == "completed" })
	waitFor(t, "note", 10*time.Second, func() bool { return strings.Contains(notes(st, id), "Enrolled in Open edX") })
	if n := notes(st, id); !strings.Contains(n, "has not activated it") || strings.Contains(n, "failed") {
		t.Errorf("notes:\n%s", n)
	}
	if rec := record(t, st, id); !rec.Lines[0].Allowed || rec.Lines[0].State != enrollment.LineEnrolled {
		t.Errorf("line %+v", rec.Lines[0])
	}
	st.LMS.ActivateUser("carol")
	if got := active(st.LMS); !slices.Equal(got, []string{"carol " + coursePy}) {
		t.Errorf("after activation, active enrollments %v", got)
	}
}

// The LMS's rate limits are waited out or left to Pub/Sub's backoff, never turned into a
// failure and never hammered.
func TestLMSRateLimits(t *testing.T) {
	t.Parallel()
	t.Run("token endpoint rate-limit page", func(t *testing.T) {
		t.Parallel()
		st := newStack(t)
		st.LMS.Faults.Inject("token", sandbox.RateLimitedPage(2))
		id := st.Shop.CreateOrder(cardOrder(course("Intro to Python", coursePy)))
		waitFor(t, "order completed", 30*time.Second, func() bool { return status(st, id) == "completed" })
		if n := notes(st, id); strings.Contains(n, "failed") {
			t.Errorf("a rate-limited token request was reported as a failure:\n%s", n)
		}
		if got := statuses(st.LMS.Log.Calls("token")); !slices.Equal(got, []int{403, 403, 200}) {
			t.Errorf("token statuses %v", got)
		}
	})
	t.Run("429 with a short Retry-After is waited out in the job", func(t *testing.T) {
		t.Parallel()
		st := newStack(t)
		st.LMS.Faults.Inject("enroll", sandbox.Throttled(time.Second, 1))
		id := st.Shop.CreateOrder(cardOrder(course("Intro to Python", coursePy)))
		waitFor(t, "order completed", 30*time.Second, func() bool { return status(st, id) == "completed" })
		if got := statuses(st.LMS.Log.Calls("enroll")); !slices.Equal(got, []int{429, 200}) {
			t.Errorf("enroll statuses %v, want [429 200]", got)
		}
		// Within the same job: a redelivered job would first read the enrollment.
		if n := len(st.LMS.Log.Calls("get-enrollment")); n != 0 {
			t.Errorf("%d enrollment reads: the job was redelivered instead of waiting", n)
		}
		if rec := record(t, st, id); rec.Lines[0].Attempts != 1 {
			t.Errorf("line attempts %d, want 1", rec.Lines[0].Attempts)
		}
	})
	t.Run("429 with a long Retry-After is left to the backoff", func(t *testing.T) {
		t.Parallel()
		st := newStack(t)
		st.LMS.Faults.Inject("enroll", sandbox.Throttled(time.Minute, 1))
		id := st.Shop.CreateOrder(cardOrder(course("Intro to Python", coursePy)))
		waitFor(t, "the job redelivered twice, or the order completed", 30*time.Second, func() bool {
			rec, err := st.App.Store.Get(context.Background(), id)
			return err == nil && len(rec.Lines) == 1 && rec.Lines[0].Attempts >= 3 || status(st, id) == "completed"
		})
		if got := statuses(st.LMS.Log.Calls("enroll", "get-enrollment")); !slices.Equal(got, []int{429}) {
			t.Errorf("enrollment calls %v, want only the throttled one until the Retry-After has passed", got)
		}
		rec := record(t, st, id)
		if l := rec.Lines[0]; l.State == enrollment.LineFailed && !strings.Contains(l.Reason, "asked for no request during the next") ||
			l.State != enrollment.LineFailed && !strings.Contains(l.Reason, "Retry-After") {
			t.Errorf("line %+v does not say the LMS asked to wait", l)
		}
	})
}

// Taking access away (SPEC §2.8).
func TestTakingAccessAwayOnRealLMS(t *testing.T) {
	t.Parallel()
	unenroll := withEnv("UNENROLL_ON", "refunded,cancelled")
	t.Run("enrollment already inactive, enrollment closed", func(t *testing.T) {
		t.Parallel()
		st := newStack(t, unenroll)
		id := completedOrder(t, st, cardOrder(course("Intro to Python", coursePy)))
		st.LMS.Unenroll(learnerID, coursePy) // an admin did it in the LMS
		st.LMS.CloseEnrollment(coursePy)
		enrolls, before := len(st.LMS.Log.Calls("enroll")), st.LMS.Stats()
		st.Shop.Refund(id, "refund", nil)
		waitFor(t, "note", 30*time.Second, func() bool { return strings.Contains(notes(st, id), "Open edX access") })
		if n := notes(st, id); !strings.Contains(n, "access removed") || strings.Contains(n, "could not take access away") {
			t.Errorf("notes:\n%s", n)
		}
		if n := len(st.LMS.Log.Calls("enroll")); n != enrolls {
			t.Errorf("%d deactivation calls for an inactive enrollment (they go through the enroll path)", n-enrolls)
		}
		if s := st.LMS.Stats(); s != before {
			t.Errorf("LMS %+v, was %+v", s, before)
		}
	})
	t.Run("enrollment already inactive, enrollment open", func(t *testing.T) {
		t.Parallel()
		st := newStack(t, unenroll)
		id := completedOrder(t, st, cardOrder(course("Intro to Python", coursePy)))
		st.LMS.Unenroll(learnerID, coursePy)
		before := st.LMS.Stats()
		st.Shop.SetStatus(id, "cancelled")
		waitFor(t, "note", 30*time.Second, func() bool { return strings.Contains(notes(st, id), "access removed") })
		if s := st.LMS.Stats(); s != before {
			t.Errorf("LMS %+v, was %+v: the learner was re-enrolled and deactivated again", s, before)
		}
	})
	t.Run("buyer registered after the order", func(t *testing.T) {
		t.Parallel()
		st := newStack(t, unenroll)
		spec := cardOrder(course("Intro to Python", coursePy))
		spec.Email = ptr("newbie@example.com")
		id := completedOrder(t, st, spec)
		st.LMS.AddUser("newbie", "newbie@example.com") // enrolled from the allowed record, which stays
		if got := active(st.LMS); len(got) != 1 {
			t.Fatalf("registration did not enroll: %v", got)
		}
		st.Shop.Refund(id, "refund", nil)
		waitFor(t, "note", 30*time.Second, func() bool { return strings.Contains(notes(st, id), "Open edX access") })
		if al := st.LMS.Allowed(); len(al) != 0 {
			t.Errorf("allowed records %+v left: the LMS enrolls from them again", al)
		}
		st.LMS.ChangeEmail("newbie", "newbie@example.org")
		if got := active(st.LMS); len(got) != 0 {
			t.Errorf("after an email change the learner has access again: %v", got)
		}
	})
	t.Run("bulk, account not activated", func(t *testing.T) {
		t.Parallel()
		st := newStack(t, unenroll, withEnv("OPENEDX_ENROLL_STRATEGY", "bulk"))
		st.LMS.AddInactiveUser("carol", "carol@example.com")
		spec := cardOrder(course("Intro to Python", coursePy))
		spec.Email = ptr("carol@example.com")
		id := completedOrder(t, st, spec)
		st.Shop.SetStatus(id, "cancelled")
		waitFor(t, "note", 30*time.Second, func() bool { return strings.Contains(notes(st, id), "Open edX access") })
		if n := notes(st, id); !strings.Contains(n, "access removed") {
			t.Errorf("notes:\n%s", n)
		}
		st.LMS.ActivateUser("carol")
		if got := active(st.LMS); len(got) != 0 || len(st.LMS.Allowed()) != 0 {
			t.Errorf("after activation: active %v, allowed %+v", got, st.LMS.Allowed())
		}
	})
	t.Run("another order is enrolling the learner", func(t *testing.T) {
		t.Parallel()
		st := newStack(t, unenroll)
		first := completedOrder(t, st, cardOrder(course("Intro to Python", coursePy)))
		arrived, release := st.LMS.Hold("enroll")
		defer release()
		second := st.Shop.CreateOrder(cardOrder(course("Intro to Python (gift)", coursePy)))
		select {
		case <-arrived:
		case <-time.After(30 * time.Second):
			t.Fatal("the second order's enrollment call never came")
		}
		st.Shop.Refund(first, "refund", nil)
		waitFor(t, "note", 30*time.Second, func() bool { return strings.Contains(notes(st, first), "Open edX access") })
		n := notes(st, first)
		if !strings.Contains(n, "not removed") || !strings.Contains(n, "#"+strconv.FormatInt(second, 10)) {
			t.Errorf("the order being enrolled does not keep the access:\n%s", n)
		}
		release()
		waitFor(t, "second order completed", 30*time.Second, func() bool { return status(st, second) == "completed" })
		if got := active(st.LMS); len(got) != 1 || st.LMS.Stats().Deactivated != 0 {
			t.Errorf("active %v, LMS %+v", got, st.LMS.Stats())
		}
	})
}

// An LMS older than Quince has no enrollment_allowed API (a Django HTML 404).
func TestLMSWithoutEnrollmentAllowedAPI(t *testing.T) {
	t.Parallel()
	t.Run("bulk API enabled", func(t *testing.T) {
		t.Parallel()
		st := newStack(t, withEnv("UNENROLL_ON", "refunded"))
		st.LMS.SetEnrollmentAllowedAPI(false)
		spec := cardOrder(course("Intro to Python", coursePy))
		spec.Email = ptr("newbie@example.com")
		id := completedOrder(t, st, spec)
		if al := st.LMS.Allowed(); len(al) != 1 || al[0].Email != "newbie@example.com" || !al[0].AutoEnroll {
			t.Fatalf("allowed %+v", al)
		}
		if n := len(st.LMS.Log.Calls("bulk")); n != 1 {
			t.Errorf("%d bulk calls", n)
		}
		st.Shop.Refund(id, "refund", nil)
		waitFor(t, "note", 30*time.Second, func() bool { return strings.Contains(notes(st, id), "Open edX access") })
		if al := st.LMS.Allowed(); len(al) != 0 || !strings.Contains(notes(st, id), "access removed") {
			t.Errorf("allowed %+v after the refund; notes:\n%s", al, notes(st, id))
		}
	})
	t.Run("bulk API disabled", func(t *testing.T) {
		t.Parallel()
		st := newStack(t)
		st.LMS.SetEnrollmentAllowedAPI(false)
		st.LMS.SetBulkEnrollAPI(false)
		spec := cardOrder(course("Intro to Python", coursePy))
		spec.Email = ptr("newbie@example.com")
		id := st.Shop.CreateOrder(spec)
		waitFor(t, "failure note", 30*time.Second, func() bool { return strings.Contains(notes(st, id), "enrollment failed") })
		n := notes(st, id)
		for _, want := range []string{"enrollment_allowed API", "Quince", "ENABLE_BULK_ENROLLMENT_VIEW"} {
			if !strings.Contains(n, want) {
				t.Errorf("the failure does not say %q:\n%s", want, n)
			}
		}
		if strings.Contains(n, "newbie@example.com") {
			t.Errorf("the failure reason carries the learner's email:\n%s", n)
		}
		waitFor(t, "failure email", 10*time.Second, func() bool { return len(st.Mail.Messages()) == 1 })
		if rec := record(t, st, id); rec.Lines[0].State != enrollment.LineFailed {
			t.Errorf("line %+v", rec.Lines[0])
		}
	})
}
