package local_test

// The fault matrix (issue 6): the whole service (emulators, sandboxes, the real functions) run
// through duplicate and out-of-order deliveries, update storms, a failing LMS, shop and
// SendGrid, Pub/Sub down at intake and a worker killed in the middle of a job; then a mixed
// run of many orders of every kind with faults injected at random. Every row ends by checking
// the same invariants over every order it created (see verify):
//
//   - every paid order is enrolled exactly once per course line and completed (or, for mixed
//     orders, noted and left open), or marked failed with a note and an email;
//   - no order that needs a person's confirmation is enrolled before the confirmation;
//   - no order is lost: every order the shop created is in Firestore;
//   - no email is sent twice, no note is added twice, no order is completed twice.
//
// A broken invariant fails the row and is listed in the summary table. FAULT_SEED replays the
// mixed run's random faults; FAULT_ORDERS sets its number of orders (default 200).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/aulasneo/wc-openedx/function/local"
	"github.com/aulasneo/wc-openedx/internal/emulator"
	"github.com/aulasneo/wc-openedx/internal/enrollment"
	"github.com/aulasneo/wc-openedx/internal/jobs"
	"github.com/aulasneo/wc-openedx/internal/sandbox"
	"github.com/aulasneo/wc-openedx/internal/testenv"
)

// ---- what each order should end as ----

type orderKind int

const (
	kindCard        orderKind = iota // automatic gateway, course lines only: enrolled, completed
	kindMixed                        // a course and a T-shirt: enrolled, noted, left open
	kindBadSKU                       // a course-v1: SKU that does not parse: failed, note, email
	kindNoCourse                     // a T-shirt only: nothing happens
	kindBacsLink                     // bank transfer confirmed by the email's link: enrolled, completed
	kindBacsAdmin                    // bank transfer moved to processing by the admin
	kindBacsWaiting                  // bank transfer never confirmed: one email, nothing else
	kindBadAndGood                   // a valid course line and a bad SKU: the good one enrolled, failed reported
)

var kindNames = map[orderKind]string{
	kindCard: "card", kindMixed: "mixed", kindBadSKU: "bad-sku", kindNoCourse: "no-course",
	kindBacsLink: "bacs-link", kindBacsAdmin: "bacs-admin", kindBacsWaiting: "bacs-waiting", kindBadAndGood: "bad+good",
}

const badSKU = "course-v1:ExampleX+BROKEN" // starts like a course key, does not parse

// expectation is one order a row created and what must hold for it at the end.
type expectation struct {
	id       int64
	kind     orderKind
	email    string   // the learner
	username string   // the learner's LMS account, "" when they have none (enrollment_allowed)
	courses  []string // the valid course keys of its lines
	// confirmedAt is when the payment was confirmed (link or admin move); zero: never.
	confirmedAt time.Time
	// mayFail: random faults may legitimately exhaust the retries of this order, so ending
	// failed (with its note and email) is acceptable instead of enrolled.
	mayFail bool
}

func (e *expectation) paid() bool {
	switch e.kind {
	case kindCard, kindMixed, kindBadSKU, kindBadAndGood:
		return true
	case kindBacsLink, kindBacsAdmin:
		return !e.confirmedAt.IsZero()
	}
	return false
}

func (e *expectation) wantsEnrollment() bool {
	return e.paid() && len(e.courses) > 0
}

func (e *expectation) wantsFailure() bool { return e.kind == kindBadSKU || e.kind == kindBadAndGood }

func (e *expectation) completes() bool {
	return e.kind == kindCard || e.kind == kindBacsLink || e.kind == kindBacsAdmin
}

func (e *expectation) needsEmail() bool {
	return e.kind == kindBacsLink || e.kind == kindBacsAdmin || e.kind == kindBacsWaiting
}

// ---- the summary table ----

type rowResult struct {
	name    string
	outcome string
	took    time.Duration
	detail  string
}

var faultTable = struct {
	sync.Mutex
	rows []rowResult
}{}

func recordRow(r rowResult) {
	faultTable.Lock()
	defer faultTable.Unlock()
	faultTable.rows = append(faultTable.rows, r)
}

func printFaultTable(t *testing.T) {
	faultTable.Lock()
	defer faultTable.Unlock()
	sort.SliceStable(faultTable.rows, func(i, j int) bool { return faultTable.rows[i].name < faultTable.rows[j].name })
	var b strings.Builder
	fmt.Fprintf(&b, "\n%-52s %-10s %8s  %s\n", "row", "outcome", "seconds", "detail")
	for _, r := range faultTable.rows {
		fmt.Fprintf(&b, "%-52s %-10s %8.1f  %s\n", r.name, r.outcome, r.took.Seconds(), r.detail)
	}
	t.Log(b.String())
	faultTable.rows = nil
}

// row runs one row of the matrix as a parallel subtest and records its outcome.
func row(t *testing.T, name string, fn func(t *testing.T, r *rowState)) {
	t.Run(name, func(t *testing.T) {
		t.Parallel()
		r := &rowState{}
		start := time.Now()
		defer func() {
			outcome := "ok"
			if t.Failed() {
				outcome = "FAIL"
			}
			recordRow(rowResult{name: name, outcome: outcome, took: time.Since(start), detail: strings.Join(append(r.notes, r.known...), "; ")})
		}()
		fn(t, r)
	})
}

type rowState struct {
	mu    sync.Mutex
	notes []string
	known []string
}

func (r *rowState) note(format string, a ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.notes = append(r.notes, fmt.Sprintf(format, a...))
}

// violation records a broken invariant: reported in the table and failing the test.
func (r *rowState) violation(t *testing.T, format string, a ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, a...)
	r.mu.Lock()
	r.known = append(r.known, "VIOLATION: "+msg)
	r.mu.Unlock()
	t.Error(msg)
}

// ---- building orders ----

var learnerSeq atomic.Int64

// newLearner returns a learner email of its own; with account, the LMS knows them.
func newLearner(st *local.Stack, account bool) (email, username string) {
	n := learnerSeq.Add(1)
	email = fmt.Sprintf("buyer%d@example.com", n)
	if account {
		username = fmt.Sprintf("buyer%d", n)
		st.LMS.AddUser(username, email)
	}
	return email, username
}

var tshirt = sandbox.LineSpec{Name: "T-shirt", ProductID: 7, Quantity: 1, Total: "20.00", SKU: ptr("TSHIRT-L")}

// place creates an order of kind k for a learner of its own and returns its expectation (for
// the BACS kinds, the confirmation is left to confirmBacs).
func place(st *local.Stack, k orderKind, account bool, courses ...string) *expectation {
	email, username := newLearner(st, account)
	e := &expectation{kind: k, email: email, username: username}
	var lines []sandbox.LineSpec
	switch k {
	case kindNoCourse:
		lines = []sandbox.LineSpec{tshirt}
	case kindBadSKU:
		lines = []sandbox.LineSpec{course("Broken product", badSKU)}
	default:
		if len(courses) == 0 {
			courses = []string{coursePy}
		}
		e.courses = courses
		lines = []sandbox.LineSpec{course("Courses", strings.Join(courses, ","))}
		if k == kindMixed {
			lines = append(lines, tshirt)
		}
		if k == kindBadAndGood {
			lines = append(lines, course("Broken product", badSKU))
		}
	}
	var spec sandbox.OrderSpec
	switch k {
	case kindBacsLink, kindBacsAdmin, kindBacsWaiting:
		spec = bacsOrder(lines...)
	default:
		spec = cardOrder(lines...)
	}
	spec.Email = ptr(email)
	e.id = st.Shop.CreateOrder(spec)
	return e
}

// confirmationEmails are the confirmation emails of an order.
func confirmationEmails(st *local.Stack, id int64) []sandbox.SentMessage {
	var out []sandbox.SentMessage
	for _, m := range st.Mail.Messages() {
		if strings.Contains(m.Subject, "Order #"+strconv.FormatInt(id, 10)+": confirm") {
			out = append(out, m)
		}
	}
	return out
}

// confirmBacs waits for the order's confirmation email and confirms the payment the way its
// kind says: pressing the link's button, or the admin moving the order to processing. When
// the email could not be sent (SendGrid failed through every retry) the admin moves it.
func confirmBacs(t testing.TB, st *local.Stack, e *expectation, wait time.Duration) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for len(confirmationEmails(st, e.id)) == 0 {
		if rec, err := st.App.Store.Get(context.Background(), e.id); err == nil && rec.Email.State == enrollment.EmailFailed {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("order %d: no confirmation email after %v", e.id, wait)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	ms := confirmationEmails(st, e.id)
	if e.kind == kindBacsLink && len(ms) > 0 {
		tok := tokenFromEmail(t, st, ms[0])
		e.confirmedAt = time.Now()
		resp, err := http.PostForm(st.Config.ConfirmURL, url.Values{"t": {tok}})
		if err != nil {
			t.Errorf("order %d: confirm: %v", e.id, err)
			return
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("order %d: confirm answered %d", e.id, resp.StatusCode)
		}
		return
	}
	e.confirmedAt = time.Now()
	st.Shop.SetStatus(e.id, "processing")
}

// ---- the invariants ----

// verifyOpts loosen verify for rows where a documented window applies.
type verifyOpts struct {
	wait time.Duration // how long orders may take to settle (default 60 s)
	// repeatOK allows a repeated successful LMS call for a line (the documented window: a
	// worker died after the LMS enrolled and before the success was recorded).
	repeatOK bool
}

// lmsCall is a successful enrollment call of the sandbox LMS: a learner (username or email)
// in a course.
type lmsCall struct {
	learner, course string
	at              time.Time
	status          int
}

func lmsCalls(st *local.Stack) (ok []lmsCall, all []lmsCall) {
	for _, c := range st.LMS.Log.Calls("enroll", "allowed", "account") {
		var lc lmsCall
		switch c.Route {
		case "enroll":
			var b struct {
				User          string `json:"user"`
				CourseDetails struct {
					CourseID string `json:"course_id"`
				} `json:"course_details"`
			}
			_ = json.Unmarshal(c.Body, &b)
			lc = lmsCall{learner: b.User, course: b.CourseDetails.CourseID}
		case "allowed":
			var b struct {
				Email    string `json:"email"`
				CourseID string `json:"course_id"`
			}
			_ = json.Unmarshal(c.Body, &b)
			lc = lmsCall{learner: strings.ToLower(b.Email), course: b.CourseID}
		case "account":
			lc = lmsCall{learner: strings.ToLower(c.Query.Get("email"))}
		}
		lc.at, lc.status = c.At, c.Status
		all = append(all, lc)
		if c.Route != "account" && (c.Status == 200 || c.Status == 201 || c.Status == 409) {
			ok = append(ok, lc)
		}
	}
	return ok, all
}

// settled reports whether the order reached the end its kind allows.
func settled(st *local.Stack, e *expectation) bool {
	rec, err := st.App.Store.Get(context.Background(), e.id)
	if err != nil {
		return false
	}
	if e.needsEmail() && rec.Email.State != enrollment.EmailSent && rec.Email.State != enrollment.EmailFailed && rec.Email.State != enrollment.EmailSkipped {
		return false
	}
	if !e.paid() || (len(e.courses) == 0 && !e.wantsFailure()) {
		return true
	}
	if rec.Failed != "" && failureReported(rec) {
		if e.wantsFailure() && len(e.courses) > 0 { // the good line must be done too
			return linesDone(rec)
		}
		return true
	}
	if !linesDone(rec) {
		return false
	}
	return rec.Completion.Noted
}

func linesDone(rec *enrollment.OrderRecord) bool {
	for _, l := range rec.Lines {
		if l.State != enrollment.LineEnrolled && l.State != enrollment.LineFailed {
			return false
		}
	}
	return true
}

func failureReported(rec *enrollment.OrderRecord) bool {
	for _, l := range rec.Lines {
		// Noted and emailed: both are marked once they went.
		if l.State == enrollment.LineFailed && (l.Reported < l.FailedGen || l.Mailed < l.FailedGen) {
			return false
		}
	}
	return true
}

// verify waits for the orders to settle and checks the invariants over them and over
// everything the shop holds.
func verify(t *testing.T, r *rowState, st *local.Stack, exps []*expectation, o verifyOpts) {
	t.Helper()
	if o.wait == 0 {
		o.wait = 60 * time.Second
	}
	deadline := time.Now().Add(o.wait)
	for {
		var pending []int64
		for _, e := range exps {
			if !settled(st, e) {
				pending = append(pending, e.id)
			}
		}
		if len(pending) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("%d of %d orders did not settle within %v: %v", len(pending), len(exps), o.wait, head(pending, 10))
			for _, id := range head(pending, 3) {
				if rec, err := st.App.Store.Get(context.Background(), id); err == nil {
					t.Logf("order %d: status %s paidBy %q lines %+v completion %+v email %+v failed %q", id, rec.Status, rec.PaidBy, rec.Lines, rec.Completion, rec.Email, rec.Failed)
				}
			}
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Let stragglers (redelivered jobs, the shop's own completion webhooks) land.
	st.Shop.Wait()
	time.Sleep(1500 * time.Millisecond)
	st.Shop.Wait()

	ctx := context.Background()
	// No order lost: every order the shop created is in Firestore.
	for id := int64(1); ; id++ {
		if _, ok := st.Shop.Order(id); !ok {
			break
		}
		if _, err := st.App.Store.Get(ctx, id); err != nil {
			t.Errorf("order %d: the shop has it, Firestore does not: %v", id, err)
		}
	}

	okCalls, allCalls := lmsCalls(st)
	perLine := map[string]int{} // learner|course → successful calls
	for _, c := range okCalls {
		perLine[c.learner+"|"+c.course]++
	}
	enrolled := map[string]bool{}
	for _, en := range st.LMS.Enrollments() {
		if en.IsActive {
			enrolled[en.User+"|"+en.Course] = true
		}
	}
	allowed := map[string]bool{}
	for _, a := range st.LMS.Allowed() {
		allowed[strings.ToLower(a.Email)+"|"+a.Course] = true
	}
	wantCreated := 0
	repeats := 0
	updates := map[int64]int{}
	for _, c := range st.Shop.Log.Calls("update-order") {
		if c.Status == 200 {
			id, _ := strconv.ParseInt(strings.TrimPrefix(c.Path, "/wp-json/wc/v3/orders/"), 10, 64)
			updates[id]++
		}
	}
	messages := st.Mail.Messages()
	failedSends := st.Mail.Log.Calls("send")

	counts := map[string]int{}
	for _, e := range exps {
		rec, err := st.App.Store.Get(ctx, e.id)
		if err != nil {
			t.Errorf("order %d (%s): not in Firestore: %v", e.id, kindNames[e.kind], err)
			continue
		}
		sid := strconv.FormatInt(e.id, 10)
		learner := e.email
		if e.username != "" {
			learner = e.username
		}
		shopOrder, _ := st.Shop.Order(e.id)
		notesText := notes(st, e.id)
		enrolledNotes := strings.Count(notesText, "Enrolled in Open edX")
		failureNotes := strings.Count(notesText, "Open edX enrollment failed")
		var confEmails, failEmails int
		for _, m := range messages {
			switch {
			case strings.Contains(m.Subject, "Order #"+sid+": confirm"):
				confEmails++
			case strings.Contains(m.Subject, "Order #"+sid+": enrollment in"):
				failEmails++
			}
		}
		failed := rec.Failed != ""
		outcome := "enrolled"
		switch {
		case failed:
			outcome = "failed"
		case !e.wantsEnrollment():
			outcome = "idle"
		}
		counts[kindNames[e.kind]+"/"+outcome]++

		// Exactly once per course line, and never before the confirmation.
		for _, c := range e.courses {
			n := perLine[learner+"|"+c]
			if n > 1 {
				if o.repeatOK {
					repeats++
					r.note("order %d %s: %d successful LMS calls (documented window)", e.id, c, n)
				} else {
					t.Errorf("order %d (%s): %d successful enrollment calls for %s; want at most 1", e.id, kindNames[e.kind], n, c)
				}
			}
			has := enrolled[e.username+"|"+c]
			if e.username == "" {
				has = allowed[e.email+"|"+c]
			}
			switch {
			case e.wantsEnrollment() && !failed && !has:
				t.Errorf("order %d (%s): %s not enrolled in %s", e.id, kindNames[e.kind], learner, c)
			case e.kind == kindBadAndGood && !has && !e.mayFail:
				t.Errorf("order %d (%s): the valid line %s was not enrolled", e.id, kindNames[e.kind], c)
			case !e.wantsEnrollment() && (has || n > 0):
				t.Errorf("order %d (%s): %s enrolled in %s although the order was never paid", e.id, kindNames[e.kind], learner, c)
			}
			if has && e.username != "" {
				wantCreated++
			}
		}
		if !e.paid() || e.kind == kindBacsLink || e.kind == kindBacsAdmin {
			for _, c := range allCalls {
				if (c.learner == learner || c.learner == e.email) && (e.confirmedAt.IsZero() || c.at.Before(e.confirmedAt)) {
					t.Errorf("order %d (%s): the LMS was called for %s at %s, before the payment was confirmed (%s)", e.id, kindNames[e.kind], learner, c.at.Format(time.StampMilli), e.confirmedAt.Format(time.StampMilli))
					break
				}
			}
		}

		// Completed once, noted once; failures marked, noted and emailed once.
		if updates[e.id] > 1 {
			t.Errorf("order %d (%s): completed %d times", e.id, kindNames[e.kind], updates[e.id])
		}
		if e.wantsFailure() && !failed {
			t.Errorf("order %d (%s): a bad SKU was not marked failed (lines %+v)", e.id, kindNames[e.kind], rec.Lines)
		}
		if failed && !e.wantsFailure() && !e.mayFail {
			t.Errorf("order %d (%s): marked failed: %s", e.id, kindNames[e.kind], rec.Failed)
		}
		switch {
		case failed:
			if failureNotes == 0 && !strings.Contains(notesText, "could not be marked Completed") && noteFailed(st, e.id) {
				r.violation(t, "order %d: marked failed (%s) but no failure note", e.id, rec.Failed)
			} else if failureNotes == 0 && !strings.Contains(notesText, "could not be marked Completed") {
				t.Errorf("order %d (%s): failed (%s) without a note: %q", e.id, kindNames[e.kind], rec.Failed, notesText)
			}
			if rep := failureNoteRepeats(st, e.id); len(rep) > 0 {
				t.Errorf("order %d (%s): the failure of %v was noted more than once", e.id, kindNames[e.kind], rep)
			}
			if failEmails == 0 {
				dropped := false
				for _, c := range failedSends {
					if c.Status >= 400 && bytes.Contains(c.Body, []byte("Order #"+sid+": enrollment in")) {
						dropped = true
					}
				}
				if dropped {
					r.violation(t, "order %d: failed but no failure email", e.id)
				} else {
					t.Errorf("order %d (%s): failed (%s) without a failure email", e.id, kindNames[e.kind], rec.Failed)
				}
			}
			if shopOrder.Status == "completed" && !e.completes() {
				t.Errorf("order %d (%s): failed but completed", e.id, kindNames[e.kind])
			}
		case e.wantsEnrollment():
			if enrolledNotes == 0 && rec.Completion.Noted && noteFailed(st, e.id) {
				r.violation(t, "order %d: enrolled but no enrollment note", e.id)
			} else if enrolledNotes != 1 {
				t.Errorf("order %d (%s): %d enrollment notes, want 1", e.id, kindNames[e.kind], enrolledNotes)
			}
			if e.completes() && (shopOrder.Status != "completed" || updates[e.id] != 1) {
				t.Errorf("order %d (%s): status %s after %d completions; want completed once", e.id, kindNames[e.kind], shopOrder.Status, updates[e.id])
			}
			if !e.completes() && (shopOrder.Status == "completed" || updates[e.id] != 0) {
				t.Errorf("order %d (%s): a mixed order was completed", e.id, kindNames[e.kind])
			}
			if failEmails > 0 || failureNotes > 0 {
				t.Errorf("order %d (%s): enrolled but a failure was reported", e.id, kindNames[e.kind])
			}
		default:
			if enrolledNotes+failureNotes > 0 || updates[e.id] > 0 || failEmails > 0 {
				t.Errorf("order %d (%s): acted on an order that needs nothing: notes %q, %d completions", e.id, kindNames[e.kind], notesText, updates[e.id])
			}
		}
		// One confirmation email, ever, for orders that need a person's confirmation.
		if e.needsEmail() {
			switch {
			case confEmails > 1:
				t.Errorf("order %d (%s): %d confirmation emails", e.id, kindNames[e.kind], confEmails)
			case confEmails == 0 && rec.Email.State != enrollment.EmailFailed && rec.Email.State != enrollment.EmailSkipped:
				t.Errorf("order %d (%s): no confirmation email (state %+v)", e.id, kindNames[e.kind], rec.Email)
			}
		} else if confEmails > 0 {
			t.Errorf("order %d (%s): a confirmation email for an order that needs none", e.id, kindNames[e.kind])
		}
	}
	// No email twice, anywhere.
	seen := map[string]bool{}
	for _, m := range messages {
		k := m.Subject + "\x00" + strings.Join(m.To, ",") + "\x00" + m.Text
		if seen[k] {
			t.Errorf("email sent twice: %q to %v", m.Subject, m.To)
		}
		seen[k] = true
	}
	s := st.LMS.Stats()
	if s.Created != wantCreated {
		t.Errorf("LMS created %d enrollments; the orders account for %d", s.Created, wantCreated)
	}
	if s.Repeated > repeats {
		t.Errorf("LMS saw %d repeated enrollment calls (re-posts of an active enrollment)", s.Repeated)
	}
	var parts []string
	for k, v := range counts {
		parts = append(parts, fmt.Sprintf("%s=%d", k, v))
	}
	sort.Strings(parts)
	r.note("%d orders [%s], LMS created %d, %d emails", len(exps), strings.Join(parts, " "), s.Created, len(messages))
}

// noteFailed reports whether the shop answered an error to a note on the order.
func noteFailed(st *local.Stack, id int64) bool {
	for _, c := range st.Shop.Log.Calls("note") {
		if c.Status >= 400 && strings.HasPrefix(c.Path, "/wp-json/wc/v3/orders/"+strconv.FormatInt(id, 10)+"/") {
			return true
		}
	}
	return false
}

// failureNoteRepeats counts the courses that more than one failure note names.
func failureNoteRepeats(st *local.Stack, id int64) []string {
	seen := map[string]int{}
	for _, n := range st.Shop.Notes(id) {
		if !strings.HasPrefix(n.Note, "Open edX enrollment failed") {
			continue
		}
		for _, line := range strings.Split(n.Note, "\n") {
			if course, _, ok := strings.Cut(strings.TrimPrefix(line, "- "), " ("); ok && strings.HasPrefix(line, "- ") {
				seen[course]++
			}
		}
	}
	var out []string
	for c, k := range seen {
		if k > 1 {
			out = append(out, c)
		}
	}
	return out
}

func head(ids []int64, n int) []int64 { return ids[:min(n, len(ids))] }

// ---- helpers for rows ----

// pushJob posts a job to the stack's Enroll function as Pub/Sub would and returns the status.
func pushJob(st *local.Stack, j enrollment.Job, attempt int) int {
	resp, err := http.Post(st.URL+"/Enroll", "application/json",
		bytes.NewReader(jobs.EncodePush(j, "projects/"+st.Config.Project+"/subscriptions/manual", attempt)))
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// setAckDeadline changes the ack deadline of the stack's push subscription.
func setAckDeadline(t *testing.T, st *local.Stack, seconds int32) {
	t.Helper()
	ctx := context.Background()
	c, err := pubsub.NewClient(ctx, st.Config.Project)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.SubscriptionAdminClient.UpdateSubscription(ctx, &pubsubpb.UpdateSubscriptionRequest{
		Subscription: &pubsubpb.Subscription{
			Name:               "projects/" + st.Config.Project + "/subscriptions/" + st.Config.JobsTopic + "-enroll",
			AckDeadlineSeconds: seconds,
		},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"ack_deadline_seconds"}},
	})
	if err != nil {
		t.Fatalf("set the ack deadline: %v", err)
	}
}

// ---- the matrix ----

func TestFaultMatrix(t *testing.T) {
	t.Cleanup(func() { printFaultTable(t) })

	row(t, "a 1.5 MiB order: recorded within 1 MiB, enrolled", func(t *testing.T, r *rowState) {
		// 3,000 non-course lines with long names and one course line: the shop's delivery
		// is about 1.5 MiB and the parsed order alone is over Firestore's 1 MiB document
		// limit. The service records it (trimmed) and enrolls; refusing it would be a 503
		// loop until WooCommerce disables the webhook.
		st := newStack(t)
		lines := []sandbox.LineSpec{course("Intro to Python", coursePy)}
		for i := range 3000 {
			lines = append(lines, sandbox.LineSpec{Name: fmt.Sprintf("Workbook %04d ", i) + strings.Repeat("with a very long product name ", 11), ProductID: 500, Quantity: 1, Total: "1.00", SKU: ptr(fmt.Sprintf("BOOK-%04d", i))})
		}
		id := st.Shop.CreateOrder(cardOrder(lines...))
		st.Shop.Wait()
		ds := st.Shop.Deliveries()
		size := len(ds[len(ds)-1].Body)
		r.note("delivery of %.2f MiB answered %d", float64(size)/(1<<20), ds[len(ds)-1].Status)
		if size < 1400<<10 || size > 2<<20 {
			t.Fatalf("the delivery is %d bytes; the row needs about 1.5 MiB", size)
		}
		if ds[len(ds)-1].Status != http.StatusOK {
			r.violation(t, "order %d: the 1.5 MiB delivery answered %d", id, ds[len(ds)-1].Status)
			return
		}
		// A mixed order: its course line is enrolled and noted, the order left open.
		waitFor(t, "the course line enrolled and noted", 3*time.Minute, func() bool {
			rec := record(t, st, id)
			return rec.Lines[0].State == enrollment.LineEnrolled && rec.Completion.Noted
		})
		rec := record(t, st, id)
		r.note("trimmed: %s", strings.Join(rec.Trimmed, ", "))
		if len(rec.Trimmed) == 0 || len(rec.Snapshot.Order.Lines) != 3001 {
			r.violation(t, "order %d: trimmed %v, %d lines kept", id, rec.Trimmed, len(rec.Snapshot.Order.Lines))
		}
		if n := len(st.LMS.Log.Calls("enroll")); n != 1 {
			r.violation(t, "order %d: %d enrollment calls, want 1", id, n)
		}
	})

	row(t, "tie: two deliveries of the same second disagree, the shop settles it", func(t *testing.T, r *rowState) {
		// The shop holds a bank-transfer order on-hold, stamped T. A second delivery stamped
		// with the same second says cancelled (WooCommerce stamps to the second; the later
		// to arrive is not the later state). Arrival order would record cancelled; the
		// service reads the order from the shop instead.
		st := newStack(t)
		e := place(st, kindBacsWaiting, true)
		st.Shop.Wait()
		ds := st.Shop.Deliveries()
		body := ds[len(ds)-1].Body
		waitFor(t, "the order recorded", 30*time.Second, func() bool {
			_, err := st.App.Store.Get(context.Background(), e.id)
			return err == nil
		})
		other := withOrder(body, `"status":"on-hold"`, `"status":"cancelled"`)
		code, answer := deliver(t, st, delivery{topic: "order.updated", body: other})
		r.note("the disagreeing delivery answered %d %s", code, strings.TrimSpace(answer))
		if code != http.StatusOK || !strings.Contains(answer, enrollment.OutcomeTie) {
			r.violation(t, "order %d: the disagreeing delivery of the same second answered %d %s, want 200 tie", e.id, code, answer)
		}
		waitFor(t, "the order read from the shop", 30*time.Second, func() bool {
			dels, _ := st.App.Store.Deliveries(context.Background(), e.id)
			for _, d := range dels {
				if d.Topic == enrollment.TopicRefresh {
					return true
				}
			}
			return false
		})
		if s := record(t, st, e.id).Status; s != "on-hold" {
			r.violation(t, "order %d: recorded %q; the shop says on-hold", e.id, s)
		}
		verify(t, r, st, []*expectation{e}, verifyOpts{})
	})

	row(t, "duplicates/concurrent", func(t *testing.T, r *rowState) {
		st := newStack(t)
		e := place(st, kindCard, true, coursePy, courseGo)
		st.Shop.Wait()
		body := st.Shop.Deliveries()[len(st.Shop.Deliveries())-1].Body
		var wg sync.WaitGroup
		for i := range 12 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if i%2 == 0 {
					st.Shop.DeliverAgain(e.id, "order.created")
				} else if c, _ := deliver(t, st, delivery{topic: "order.created", body: body}); c != 200 {
					t.Errorf("duplicate answered %d", c)
				}
			}()
		}
		wg.Wait()
		verify(t, r, st, []*expectation{e}, verifyOpts{})
		if ds, _ := st.App.Store.Deliveries(context.Background(), e.id); len(ds) > 3 {
			t.Errorf("%d delivery records; duplicates must be recorded once", len(ds))
		}
	})

	row(t, "duplicates/sequential", func(t *testing.T, r *rowState) {
		st := newStack(t)
		e := place(st, kindCard, false)
		b := place(st, kindBacsLink, true)
		for range 3 {
			st.Shop.DeliverAgain(e.id, "order.created")
			st.Shop.DeliverAgain(b.id, "order.created")
			st.Shop.Wait()
		}
		confirmBacs(t, st, b, 30*time.Second)
		waitFor(t, "completed", 30*time.Second, func() bool { return status(st, e.id) == "completed" && status(st, b.id) == "completed" })
		for range 3 { // after completion, the completed update again and again
			st.Shop.DeliverAgain(e.id, "order.updated")
			st.Shop.DeliverAgain(b.id, "order.updated")
			st.Shop.Wait()
		}
		verify(t, r, st, []*expectation{e, b}, verifyOpts{})
	})

	row(t, "out-of-order deliveries", func(t *testing.T, r *rowState) {
		st := newStack(t)
		b := place(st, kindBacsAdmin, true)
		c := place(st, kindCard, true)
		confirmBacs(t, st, b, 30*time.Second)
		waitFor(t, "completed", 30*time.Second, func() bool { return status(st, b.id) == "completed" && status(st, c.id) == "completed" })
		st.Shop.Wait()
		// Replay every earlier delivery of both orders, oldest first and newest first.
		ds := st.Shop.Deliveries()
		for i := range ds {
			for _, d := range []sandbox.WebhookDelivery{ds[i], ds[len(ds)-1-i]} {
				if !d.Ping && (d.OrderID == b.id || d.OrderID == c.id) {
					st.Shop.Redeliver(d)
				}
			}
		}
		st.Shop.Wait()
		verify(t, r, st, []*expectation{b, c}, verifyOpts{})
		if s := status(st, b.id); s != "completed" {
			t.Errorf("a stale on-hold delivery moved the order back? shop status %s", s)
		}
		if rec := record(t, st, b.id); rec.Status != "completed" {
			t.Errorf("stored status %s after stale deliveries", rec.Status)
		}
	})

	row(t, "storm of 30 order.updated", func(t *testing.T, r *rowState) {
		st := newStack(t)
		st.LMS.Faults.Inject("enroll", sandbox.Fault{Delay: time.Second, Times: 1}) // the job runs during the storm
		e := place(st, kindCard, true, coursePy, courseGo)
		for i := range 30 {
			st.Shop.UpdateOrder(e.id, func(o *sandbox.OrderState) { o.LastName = fmt.Sprintf("García %d", i) })
			if i%3 == 2 {
				st.Shop.Wait() // else the shop coalesces queued deliveries of one order
			}
		}
		st.Shop.Wait()
		// and the whole storm again, at once, oldest to newest: stale or duplicates
		var wg sync.WaitGroup
		for _, d := range st.Shop.Deliveries() {
			if d.OrderID == e.id {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if c, _ := deliver(t, st, delivery{topic: d.Topic, body: d.Body}); c != 200 {
						t.Errorf("storm redelivery answered %d", c)
					}
				}()
			}
		}
		wg.Wait()
		verify(t, r, st, []*expectation{e}, verifyOpts{})
		if rec := record(t, st, e.id); rec.Snapshot.Order.Billing.LastName != "García 29" {
			t.Errorf("the stored order is not the latest update: last name %q", rec.Snapshot.Order.Billing.LastName)
		}
	})

	row(t, "LMS 5xx", func(t *testing.T, r *rowState) {
		st := newStack(t)
		st.LMS.Faults.Inject("enroll", sandbox.Fault{Status: 503, Body: "<html>503</html>", Times: 2})
		st.LMS.Faults.Inject("account", sandbox.Fault{Status: 500, Body: "<h1>Server Error (500)</h1>", Times: 1})
		st.LMS.Faults.Inject("allowed", sandbox.Fault{Status: 502, Body: "bad gateway", Times: 2})
		exps := []*expectation{place(st, kindCard, true, coursePy, courseGo), place(st, kindCard, false)}
		verify(t, r, st, exps, verifyOpts{})
	})

	row(t, "LMS 429", func(t *testing.T, r *rowState) {
		st := newStack(t)
		st.LMS.Faults.Inject("enroll", sandbox.Fault{Status: 429, Body: `{"detail":"Request was throttled. Expected available in 1 second."}`, Header: http.Header{"Retry-After": {"1"}}, Times: 3})
		st.LMS.Faults.Inject("token", sandbox.Fault{Status: 429, Body: `{"detail":"throttled"}`, Times: 1})
		exps := []*expectation{place(st, kindCard, true), place(st, kindMixed, true, courseGo)}
		verify(t, r, st, exps, verifyOpts{})
	})

	row(t, "LMS 429 longer than the retries", func(t *testing.T, r *rowState) {
		st := newStack(t)
		st.LMS.Faults.Inject("enroll", sandbox.Fault{Status: 429, Body: `{"detail":"Request was throttled."}`})
		e := place(st, kindCard, true)
		e.mayFail = true
		verify(t, r, st, []*expectation{e}, verifyOpts{wait: 90 * time.Second})
		if rec := record(t, st, e.id); rec.Failed == "" {
			t.Errorf("the order was not marked failed after the retries ran out")
		}
	})

	row(t, "LMS times out (client timeout 2s)", func(t *testing.T, r *rowState) {
		st := newStack(t, func(_ map[string]string, o *local.Options) { o.LMSTimeout = 2 * time.Second })
		st.LMS.Faults.Inject("enroll", sandbox.Fault{Delay: 4 * time.Second, Times: 2})
		exps := []*expectation{place(st, kindCard, true, coursePy, courseGo)}
		verify(t, r, st, exps, verifyOpts{})
		if n := len(st.LMS.Log.Calls("enroll")); n < 3 {
			t.Errorf("%d enroll calls; the two timeouts should have been retried", n)
		}
	})

	row(t, "LMS slower than the ack deadline (10s)", func(t *testing.T, r *rowState) {
		st := newStack(t)
		setAckDeadline(t, st, 10)
		st.LMS.Faults.Inject("enroll", sandbox.Fault{Delay: 12 * time.Second, Times: 1})
		e := place(st, kindCard, true)
		verify(t, r, st, []*expectation{e}, verifyOpts{wait: 60 * time.Second})
		r.note("%d enroll pushes answered", len(st.LMS.Log.Calls("enroll")))
	})

	row(t, "same job pushed 8x at once while the LMS is slow", func(t *testing.T, r *rowState) {
		st := newStack(t)
		st.LMS.Faults.Inject("enroll", sandbox.Fault{Delay: 3 * time.Second, Times: 1})
		e := place(st, kindCard, true, coursePy, courseGo)
		waitFor(t, "the line claimed", 30*time.Second, func() bool {
			rec, err := st.App.Store.Get(context.Background(), e.id)
			return err == nil && len(rec.Lines) > 0 && rec.Lines[0].State == enrollment.LineClaimed
		})
		j := enrollment.Job{ID: fmt.Sprintf("enroll-%d-1", e.id), Kind: enrollment.JobEnroll, OrderID: e.id, Gen: 1}
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Add(1)
			go func() { defer wg.Done(); pushJob(st, j, i+1) }()
		}
		wg.Wait()
		verify(t, r, st, []*expectation{e}, verifyOpts{})
	})

	row(t, "shop fails the completion (transient)", func(t *testing.T, r *rowState) {
		st := newStack(t)
		st.Shop.Faults.Inject("update-order", sandbox.Fault{Status: 500, Body: `{"code":"internal_server_error","message":"Database error","data":{"status":500}}`, Times: 3})
		st.Shop.Faults.Inject("note", sandbox.Fault{Status: 503, Body: "busy", Times: 1})
		exps := []*expectation{place(st, kindCard, true), place(st, kindCard, false, courseGo)}
		verify(t, r, st, exps, verifyOpts{})
	})

	row(t, "shop refuses the completion (permanent)", func(t *testing.T, r *rowState) {
		st := newStack(t)
		st.Shop.Faults.Inject("update-order", sandbox.Fault{Status: 400, Body: `{"code":"woocommerce_rest_shop_order_invalid_status","message":"Invalid status","data":{"status":400}}`, Times: 1})
		e := place(st, kindCard, true)
		e.mayFail = true
		verify(t, r, st, []*expectation{e}, verifyOpts{})
		if rec := record(t, st, e.id); rec.Completion.State != enrollment.CompletionFailed || rec.Failed == "" {
			t.Errorf("completion %+v failed %q; want the refusal recorded", rec.Completion, rec.Failed)
		}
	})

	row(t, "shop fails the recipients read", func(t *testing.T, r *rowState) {
		st := newStack(t)
		st.Shop.Faults.Inject("recipients", sandbox.Fault{Status: 500, Body: `{"code":"x","message":"boom","data":{"status":500}}`})
		exps := []*expectation{place(st, kindBacsWaiting, true), place(st, kindBadSKU, true), place(st, kindCard, true)}
		verify(t, r, st, exps, verifyOpts{})
		for _, m := range st.Mail.Messages() {
			if strings.Join(m.To, ",") != "admin@example.com" {
				t.Errorf("email %q to %v; want NOTIFY_EMAILS", m.Subject, m.To)
			}
		}
	})

	row(t, "SendGrid 429 and 5xx on the confirmation email", func(t *testing.T, r *rowState) {
		st := newStack(t)
		st.Mail.Faults.Inject("send", sandbox.Fault{Status: 429, Body: `{"errors":[{"message":"too many requests"}]}`, Times: 2})
		st.Mail.Faults.Inject("send", sandbox.Fault{Status: 502, Body: "bad gateway", Times: 1})
		l := place(st, kindBacsLink, true)
		a := place(st, kindBacsAdmin, false)
		w := place(st, kindBacsWaiting, true)
		confirmBacs(t, st, l, 45*time.Second)
		confirmBacs(t, st, a, 45*time.Second)
		verify(t, r, st, []*expectation{l, a, w}, verifyOpts{})
	})

	row(t, "SendGrid 5xx on the failure report", func(t *testing.T, r *rowState) {
		st := newStack(t)
		st.Mail.Faults.Inject("send", sandbox.Fault{Status: 503, Body: "upstream unavailable", Times: 1})
		e := place(st, kindBadSKU, true)
		verify(t, r, st, []*expectation{e}, verifyOpts{})
	})

	row(t, "Pub/Sub down at intake", func(t *testing.T, r *rowState) {
		proxy := testenv.NewProxy(t, os.Getenv("PUBSUB_EMULATOR_HOST"))
		st := newStack(t, func(_ map[string]string, o *local.Options) {
			o.PubSubHost = proxy.Addr
			o.PublishTimeout = time.Second
			o.OutboxGrace = time.Millisecond
		})
		proxy.SetDown(true)
		exps := []*expectation{place(st, kindCard, true), place(st, kindBacsLink, true), place(st, kindMixed, false, courseGo), place(st, kindBadSKU, true)}
		st.Shop.Wait()
		for _, d := range st.Shop.Deliveries() {
			if !d.Ping && d.Status != 200 {
				t.Errorf("delivery of order %d during the outage answered %d %s", d.OrderID, d.Status, d.Err)
			}
		}
		if _, err := st.Sweep(context.Background()); err != nil {
			t.Errorf("sweep during the outage: %v", err)
		}
		time.Sleep(time.Second)
		if len(st.LMS.Log.Calls()) != 0 || len(st.Mail.Messages()) != 0 {
			t.Errorf("work done while Pub/Sub was down?")
		}
		proxy.SetDown(false)
		stop := make(chan struct{})
		go func() { // the scheduler
			for {
				select {
				case <-stop:
					return
				case <-time.After(time.Second):
					_, _ = st.Sweep(context.Background())
				}
			}
		}()
		confirmBacs(t, st, exps[1], 60*time.Second)
		verify(t, r, st, exps, verifyOpts{})
		close(stop)
	})

	row(t, "worker killed mid-call: taken over within a minute, one enrollment", func(t *testing.T, r *rowState) {
		testWorkerKilled(t, r)
	})
	row(t, "worker killed while emailing a failure: the email goes on the next delivery", func(t *testing.T, r *rowState) {
		testWorkerKilledMidReport(t, r)
	})
}

// sandboxes are a shop, an LMS and a SendGrid that outlive the stacks using them.
type sandboxes struct {
	lms  *sandbox.LMS
	shop *sandbox.Shop
	mail *sandbox.SendGrid
	env  map[string]string
}

func startSandboxes(t *testing.T) *sandboxes {
	t.Helper()
	sb := &sandboxes{
		lms:  sandbox.NewLMS(),
		mail: sandbox.NewSendGrid(local.SimSendGridKey),
		shop: sandbox.NewShop(sandbox.ShopConfig{
			ConsumerKey: local.SimConsumerKey, ConsumerSecret: local.SimConsumerSecret,
			WebhookSecret: local.SimWebhookSecret, Recipients: "shop-admin@example.com",
		}),
	}
	sb.lms.AddClient(local.SimClientID, local.SimClientSecret, true)
	for _, c := range []string{coursePy, courseGo, courseMl} {
		sb.lms.AddCourse(c, "audit", "verified", "honor")
	}
	serve := func(h http.Handler) string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = srv.Serve(l) }()
		t.Cleanup(func() { _ = srv.Close() })
		return "http://" + l.Addr().String()
	}
	shopURL := serve(sb.shop)
	sb.shop.SetHomeURL(shopURL)
	sb.env = map[string]string{
		"OPENEDX_URL": serve(sb.lms), "OPENEDX_CLIENT_ID": local.SimClientID, "OPENEDX_CLIENT_SECRET": local.SimClientSecret,
		"WC_URL": shopURL, "WC_CONSUMER_KEY": local.SimConsumerKey, "WC_CONSUMER_SECRET": local.SimConsumerSecret, "WC_WEBHOOK_SECRET": local.SimWebhookSecret,
		"SENDGRID_API_KEY": local.SimSendGridKey, "SENDGRID_API_URL": serve(sb.mail),
		"NOTIFY_EMAILS": "admin@example.com", "LOG_LEVEL": "debug",
	}
	return sb
}

// startOn starts a stack on project using the sandboxes; the caller closes it.
func startOn(t *testing.T, project string, sb *sandboxes, o local.Options) *local.Stack {
	t.Helper()
	env := map[string]string{"GOOGLE_CLOUD_PROJECT": project}
	for k, v := range sb.env {
		env[k] = v
	}
	o.Env = func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	if os.Getenv("TEST_LOG") == "" {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := local.Start(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	// The verify helpers look at the stack's sandboxes.
	st.LMS, st.Shop, st.Mail = sb.lms, sb.shop, sb.mail
	return st
}

// testWorkerKilled: worker A claims a line and dies inside the LMS call (before the LMS
// answered, so nothing was enrolled, and before recording anything). Worker B (same project:
// same Firestore data; the production lease, enrollment.DefaultLease) gets the job
// redelivered at once, as Pub/Sub does when a push connection breaks. B waits for A's claim
// inside the job (no nack, no delivery attempt used), takes the line over when A's lease runs
// out, asks the LMS whether A's call enrolled, enrolls once and completes the order: within
// about a minute of the kill (SPEC §2.4, issue 12).
func testWorkerKilled(t *testing.T, r *rowState) {
	project := testenv.Project(t)
	sb := startSandboxes(t)
	a := startOn(t, project, sb, local.Options{LMSTimeout: 90 * time.Second})
	aClosed := false
	t.Cleanup(func() {
		if !aClosed {
			a.Close()
		}
	})
	for _, h := range []struct{ name, topic string }{{"Order created", "order.created"}, {"Order updated", "order.updated"}} {
		sb.shop.AddWebhook(h.name, h.topic, a.URL+"/Webhook")
	}
	sb.lms.Faults.Inject("enroll", sandbox.Fault{Delay: 100 * time.Second, Times: 1}) // A's call hangs
	e := place(a, kindCard, true)
	var claimedAt time.Time
	waitFor(t, "A to claim the line and call the LMS", 30*time.Second, func() bool {
		rec, err := a.App.Store.Get(context.Background(), e.id)
		if err == nil && len(rec.Lines) == 1 && rec.Lines[0].State == enrollment.LineClaimed && len(sb.lms.Log.Calls("account")) > 0 {
			claimedAt = rec.Lines[0].ClaimedAt
			return true
		}
		return false
	})
	time.Sleep(300 * time.Millisecond) // A is inside the enrollment call
	killedAt := time.Now()
	a.Close() // waits up to 5 s for the hanging job, then closes A's Firestore and Pub/Sub clients
	aClosed = true
	reads := len(sb.lms.Log.Calls("get-enrollment"))

	b := startOn(t, project, sb, local.Options{})
	t.Cleanup(b.Close)
	j := enrollment.Job{ID: fmt.Sprintf("enroll-%d-1", e.id), Kind: enrollment.JobEnroll, OrderID: e.id, Gen: 1}

	// Pub/Sub redelivers the broken push at once: B waits inside it for A's claim.
	code := pushJob(b, j, 1)
	took := time.Since(killedAt)
	rec := record(t, b, e.id)
	r.note("redelivery right after the kill answered %d after %.1fs, line %s", code, took.Seconds(), rec.Lines[0].State)
	if code != http.StatusNoContent {
		r.violation(t, "order %d: the redelivery answered %d instead of waiting for the dead worker's claim", e.id, code)
		return
	}
	if rec.Lines[0].State != enrollment.LineEnrolled || rec.Completion.State != enrollment.CompletionDone {
		r.violation(t, "order %d: acknowledged with the line %s and completion %q", e.id, rec.Lines[0].State, rec.Completion.State)
		return
	}
	// Within about a minute: the takeover came one lease after A's claim, plus B's own work.
	if done := rec.Lines[0].DoneAt.Sub(claimedAt); done < enrollment.DefaultLease || done > enrollment.DefaultLease+20*time.Second {
		r.violation(t, "order %d: enrolled %v after the dead worker's claim; want one lease (%v) and B's work", e.id, done, enrollment.DefaultLease)
	}
	if n := len(sb.lms.Log.Calls("get-enrollment")) - reads; n < 1 {
		r.violation(t, "order %d: the takeover enrolled without asking the LMS whether the dead worker's call had", e.id)
	}
	verify(t, r, b, []*expectation{e}, verifyOpts{wait: 45 * time.Second})
	if n := len(sb.shop.Log.Calls("update-order")); n != 1 {
		t.Errorf("%d completions, want 1", n)
	}
}

// testWorkerKilledMidReport: worker A, the production server in a process of its own, fails
// a bad-SKU line, notes it on the order and is killed (SIGKILL) inside the SendGrid call of
// the failure email, which SendGrid never accepts. Reports are marked done only after they
// went (issue 12), so worker B, getting the job again, sends the email once A's claim has
// run out, and does not note the failure twice. (Marked before sending, the email would be
// lost: B would find it marked.)
func testWorkerKilledMidReport(t *testing.T, r *rowState) {
	const lease = 20 * time.Second
	project := testenv.Project(t)
	sb := startSandboxes(t)

	// A: the production server, serving every function at /<Name>.
	bin := filepath.Join(t.TempDir(), "server")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/aulasneo/wc-openedx/function/cmd/server").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	port, err := emulator.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	aURL := fmt.Sprintf("http://127.0.0.1:%d", port)
	a := exec.Command(bin)
	a.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "PORT=" + strconv.Itoa(port),
		"GOOGLE_CLOUD_PROJECT=" + project, "LOG_LEVEL=debug", "MAIL_FROM=Local Shop <shop@example.com>",
		"CONFIRM_URL=" + aURL + "/Confirm", "CONFIRM_SIGNING_KEY=" + strings.Repeat("k", 32),
		"FIRESTORE_EMULATOR_HOST=" + os.Getenv("FIRESTORE_EMULATOR_HOST"), "PUBSUB_EMULATOR_HOST=" + os.Getenv("PUBSUB_EMULATOR_HOST")}
	for k, v := range sb.env {
		a.Env = append(a.Env, k+"="+v)
	}
	if os.Getenv("TEST_LOG") != "" {
		a.Stdout, a.Stderr = os.Stderr, os.Stderr
	}
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Process.Kill(); _ = a.Wait() })
	waitFor(t, "A to listen", 60*time.Second, func() bool {
		resp, err := http.Get(aURL + "/Confirm")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})

	// The order, delivered to A by the shop; A's job is pushed to A by hand (A's publish has
	// no subscription behind it: the job waits in the outbox).
	sb.shop.AddWebhook("Order created", "order.created", aURL+"/Webhook")
	sb.mail.Faults.Inject("send", sandbox.Fault{Status: http.StatusServiceUnavailable, Delay: 60 * time.Second, Times: 1})
	e := place(&local.Stack{LMS: sb.lms, Shop: sb.shop, Mail: sb.mail}, kindBadSKU, true)
	sb.shop.Wait()
	if ds := sb.shop.Deliveries(); len(ds) == 0 || ds[len(ds)-1].Status != http.StatusOK {
		t.Fatalf("the delivery to A: %+v", ds)
	}
	j := enrollment.Job{ID: fmt.Sprintf("enroll-%d-1", e.id), Kind: enrollment.JobEnroll, OrderID: e.id, Gen: 1}
	go func() {
		_, _ = http.Post(aURL+"/Enroll", "application/json", bytes.NewReader(jobs.EncodePush(j, "projects/"+project+"/subscriptions/manual", 1)))
	}()
	waitFor(t, "A to note the failure and call SendGrid", 30*time.Second, func() bool {
		return len(sb.mail.Log.Calls("send")) > 0
	})
	time.Sleep(300 * time.Millisecond)
	_ = a.Process.Signal(syscall.SIGKILL) // A dies mid-call
	_ = a.Wait()

	b := startOn(t, project, sb, local.Options{Lease: lease})
	t.Cleanup(b.Close)
	code := pushJob(b, j, 1)
	r.note("redelivery after the kill answered %d", code)
	if code != http.StatusNoContent {
		r.violation(t, "order %d: the redelivery answered %d", e.id, code)
	}
	var failureEmails int
	for _, m := range sb.mail.Messages() {
		if strings.Contains(m.Text, badSKU) {
			failureEmails++
		}
	}
	notes := 0
	o, _ := sb.shop.Order(e.id)
	for _, n := range o.Notes {
		if strings.Contains(n.Note, badSKU) {
			notes++
		}
	}
	r.note("%d failure email(s), %d failure note(s)", failureEmails, notes)
	if failureEmails != 1 {
		r.violation(t, "order %d: %d failure emails after the worker died mid-send, want 1", e.id, failureEmails)
	}
	if notes != 1 {
		r.violation(t, "order %d: %d failure notes, want 1", e.id, notes)
	}
}

// TestFaultMixedRun places many orders of every kind at once while faults are injected at
// random into the LMS, the shop, SendGrid and Pub/Sub, then checks the invariants over all
// of them. FAULT_SEED replays a run's plan and fault sequence (timing still varies);
// FAULT_ORDERS sets the number of orders (default 200).
func TestFaultMixedRun(t *testing.T) {
	t.Parallel()
	n := 200
	if v, err := strconv.Atoi(os.Getenv("FAULT_ORDERS")); err == nil && v > 0 {
		n = v
	}
	seed := time.Now().UnixNano()
	if v, err := strconv.ParseInt(os.Getenv("FAULT_SEED"), 10, 64); err == nil {
		seed = v
	}
	t.Logf("FAULT_SEED=%d FAULT_ORDERS=%d", seed, n)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("replay with FAULT_SEED=%d FAULT_ORDERS=%d go test -race -run TestFaultMixedRun ./function/local/", seed, n)
		}
	})
	start := time.Now()
	r := &rowState{}
	defer func() {
		outcome := "ok"
		if t.Failed() {
			outcome = "FAIL"
		}
		recordRow(rowResult{name: fmt.Sprintf("mixed run: %d orders, seed %d", n, seed), outcome: outcome, took: time.Since(start), detail: strings.Join(append(r.notes, dedupe(r.known)...), "; ")})
		printFaultTable(t)
	}()

	proxy := testenv.NewProxy(t, os.Getenv("PUBSUB_EMULATOR_HOST"))
	st := newStack(t, func(_ map[string]string, o *local.Options) {
		o.LMSTimeout = 2 * time.Second
		o.PubSubHost = proxy.Addr
		o.PublishTimeout = time.Second
		o.OutboxGrace = time.Second
	})

	// The plan: kinds in fixed proportions, learners with and without an account, one to
	// three courses.
	rng := rand.New(rand.NewPCG(uint64(seed), 1))
	kinds := []orderKind{kindCard, kindCard, kindCard, kindBacsLink, kindBacsAdmin, kindBadSKU, kindMixed, kindNoCourse, kindBadAndGood, kindBacsWaiting}
	all := []string{coursePy, courseGo, courseMl}
	type planned struct {
		kind    orderKind
		account bool
		courses []string
	}
	plan := make([]planned, n)
	for i := range plan {
		p := planned{kind: kinds[rng.IntN(len(kinds))], account: rng.IntN(3) > 0}
		perm := rng.Perm(len(all))
		for _, k := range perm[:1+rng.IntN(len(all))] {
			p.courses = append(p.courses, all[k])
		}
		plan[i] = p
	}

	// The faults, at random while the orders run.
	type faultSpec struct {
		sys   string
		route string
		fault sandbox.Fault
	}
	catalog := []faultSpec{
		{"lms", "enroll", sandbox.Fault{Status: 503, Body: "<html>503 Service Unavailable</html>"}},
		{"lms", "enroll", sandbox.Fault{Status: 429, Body: `{"detail":"Request was throttled."}`}},
		{"lms", "enroll", sandbox.Fault{Delay: 3 * time.Second}}, // longer than the 2 s client timeout
		{"lms", "allowed", sandbox.Fault{Status: 502, Body: "bad gateway"}},
		{"lms", "account", sandbox.Fault{Status: 500, Body: "<h1>Server Error (500)</h1>"}},
		{"lms", "token", sandbox.Fault{Status: 503, Body: "unavailable"}},
		{"shop", "update-order", sandbox.Fault{Status: 500, Body: `{"code":"internal_server_error","message":"Database error","data":{"status":500}}`}},
		{"shop", "note", sandbox.Fault{Status: 503, Body: "busy"}},
		{"shop", "recipients", sandbox.Fault{Status: 500, Body: `{"code":"x","message":"boom","data":{"status":500}}`}},
		{"mail", "send", sandbox.Fault{Status: 429, Body: `{"errors":[{"message":"too many requests"}]}`}},
		{"mail", "send", sandbox.Fault{Status: 503, Body: "upstream unavailable"}},
	}
	// Pub/Sub outages are not in the random mix: after one, the client's gRPC reconnection
	// backs off for tens of seconds, every intake then waits PublishTimeout before leaving its
	// job in the outbox, and the shop's single delivery queue backs up behind it (the
	// "Pub/Sub down at intake" row covers outages). One short outage happens at the start.
	frng := rand.New(rand.NewPCG(uint64(seed), 2))
	injected := map[string]int{}
	stop := make(chan struct{})
	var bg sync.WaitGroup
	bg.Add(2)
	go func() {
		defer bg.Done()
		proxy.SetDown(true)
		time.Sleep(time.Second)
		proxy.SetDown(false)
		injected["pubsub/outage"]++
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Duration(200+frng.IntN(400)) * time.Millisecond):
			}
			if sum(injected) >= n/2 {
				continue // at most one fault per two orders: Pub/Sub's push backoff slows everything down when too many pushes fail
			}
			f := catalog[frng.IntN(len(catalog))]
			f.fault.Times = 1 + frng.IntN(2)
			injected[f.sys+"/"+f.route]++
			switch f.sys {
			case "lms":
				st.LMS.Faults.Inject(f.route, f.fault)
			case "shop":
				st.Shop.Faults.Inject(f.route, f.fault)
			case "mail":
				st.Mail.Faults.Inject(f.route, f.fault)
			}
		}
	}()
	go func() { // the scheduler, publishing what the outages left in the outbox
		defer bg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Second):
				_, _ = st.Sweep(context.Background())
			}
		}
	}()

	exps := make([]*expectation, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				p := plan[i]
				e := place(st, p.kind, p.account, p.courses...)
				e.mayFail = true // random faults may exhaust an order's retries
				exps[i] = e
				if p.kind == kindBacsLink || p.kind == kindBacsAdmin {
					confirmBacs(t, st, e, 120*time.Second)
				}
			}
		}()
	}
	wg.Wait()
	placed := time.Since(start)
	close(stop)
	bg.Wait()
	proxy.SetDown(false)
	st.LMS.Faults.Clear("")
	st.Shop.Faults.Clear("")
	st.Mail.Faults.Clear("")
	// Keep sweeping until everything settled (jobs left in the outbox by a late outage).
	stopSweep := make(chan struct{})
	go func() {
		for {
			select {
			case <-stopSweep:
				return
			case <-time.After(2 * time.Second):
				_, _ = st.Sweep(context.Background())
			}
		}
	}()
	verify(t, r, st, exps, verifyOpts{wait: 180 * time.Second})
	close(stopSweep)
	var fs []string
	for k, v := range injected {
		fs = append(fs, fmt.Sprintf("%s×%d", k, v))
	}
	sort.Strings(fs)
	r.note("all placed and confirmed in %.0fs; faults injected: %s", placed.Seconds(), strings.Join(fs, " "))
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func dedupe(s []string) []string {
	if len(s) <= 3 {
		return s
	}
	return append(s[:3:3], fmt.Sprintf("… and %d more", len(s)-3))
}
