package local_test

import (
	"html"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aulasneo/wc-openedx/function/local"
	"github.com/aulasneo/wc-openedx/internal/confirm"
	"github.com/aulasneo/wc-openedx/internal/enrollment"
	"github.com/aulasneo/wc-openedx/internal/sandbox"
)

// The Retry button of a failure email (SPEC §2.5b), end to end: the email in the sandbox
// SendGrid mailbox, the page in the Confirm function, the retry in the Enroll worker.

var retryMainRE = regexp.MustCompile(`<main id="([^"]*)"`)

// failureEmail waits for the failure email of order number and returns it.
func failureEmail(t testing.TB, st *local.Stack, number string) sandbox.SentMessage {
	t.Helper()
	var m sandbox.SentMessage
	waitFor(t, "the failure email of #"+number, 30*time.Second, func() bool {
		for _, msg := range st.Mail.Messages() {
			if strings.Contains(msg.Subject, "#"+number+":") && (strings.Contains(msg.Subject, "failed") || strings.Contains(msg.Subject, "falló")) {
				m = msg
				return true
			}
		}
		return false
	})
	return m
}

// retryToken returns the token of the email's Retry button: the one link to the Confirm
// function, in the HTML button, the HTML text link and the plain-text part alike.
func retryToken(t testing.TB, st *local.Stack, m sandbox.SentMessage) string {
	t.Helper()
	var links []string
	for _, l := range hostileLinkRE.FindAllStringSubmatch(m.HTML, -1) {
		if href := html.UnescapeString(l[1]); strings.HasPrefix(href, st.Config.ConfirmURL+"?") {
			links = append(links, href)
		}
	}
	if len(links) != 2 || links[0] != links[1] {
		t.Fatalf("the failure email links to the Confirm function %d times (%q); want the button and its text link", len(links), links)
	}
	if !strings.Contains(m.Text, links[0]) {
		t.Errorf("the plain-text part lacks the Retry link %s", links[0])
	}
	u, err := url.Parse(links[0])
	if err != nil {
		t.Fatal(err)
	}
	tok := u.Query().Get("t")
	if confirm.ClaimedKind(tok) != confirm.KindRetry {
		t.Fatalf("the failure email's link carries %q, not a Retry token", tok)
	}
	return tok
}

// retryPage GETs or POSTs the Confirm function with a token and returns the status, the
// page's kind (the id of its main element) and the page.
func retryPage(t testing.TB, st *local.Stack, method, token string) (int, string, string) {
	t.Helper()
	code, page := confirmPage(t, st, method, token)
	kind := ""
	if m := retryMainRE.FindStringSubmatch(page); m != nil {
		kind = m[1]
	}
	return code, kind, page
}

// orderSettled waits until no worker holds a claim on the order (a line, the completion, the
// failure reports) and its record stops changing, and returns it.
func orderSettled(t testing.TB, st *local.Stack, id int64) *enrollment.OrderRecord {
	t.Helper()
	quiet := func(rec *enrollment.OrderRecord) bool {
		for _, l := range rec.Lines {
			if l.State == enrollment.LineClaimed || l.State == enrollment.LinePending {
				return false
			}
		}
		return rec.Completion.ClaimedAt.IsZero() && rec.Reporting.IsZero()
	}
	prev := record(t, st, id)
	for range 60 {
		time.Sleep(400 * time.Millisecond)
		st.Shop.Wait()
		cur := record(t, st, id)
		if quiet(cur) && reflect.DeepEqual(cur, prev) {
			return cur
		}
		prev = cur
	}
	t.Fatal("the order record keeps changing")
	return nil
}

func retryActions(rec *enrollment.OrderRecord) []enrollment.Action {
	var out []enrollment.Action
	for _, a := range rec.Actions {
		if a.Kind == enrollment.ActionRetry {
			out = append(out, a)
		}
	}
	return out
}

// The course is created in the LMS after the failure; the Retry button then enrolls the
// learner and completes the order, once. GET changes nothing; a replay does nothing.
func TestRetryLinkAfterCourseCreated(t *testing.T) {
	t.Parallel()
	st := newStack(t)
	const missing = "course-v1:ExampleX+NEW1+2026_T1"
	spec := cardOrder(course("New course", missing))
	spec.Number = "RETRY-LMS"
	id := st.Shop.CreateOrder(spec)
	m := failureEmail(t, st, "RETRY-LMS")
	tok := retryToken(t, st, m)
	for _, want := range []string{"Retry the failed courses", "used once and expires in 30 days", "On hold", "Processing", missing} {
		if !strings.Contains(m.Text, want) || !strings.Contains(html.UnescapeString(m.HTML), want) {
			t.Errorf("the failure email lacks %q", want)
		}
	}
	waitFor(t, "the failure note", 10*time.Second, func() bool { return strings.Contains(notes(st, id), "enrollment failed") })
	if n := notes(st, id); !strings.Contains(n, "click Retry in the failure email") || !strings.Contains(n, "On hold") || !strings.Contains(n, "Processing") {
		t.Errorf("the failure note does not offer the Retry button next to On hold → Processing:\n%s", n)
	}
	before := orderSettled(t, st, id)
	docs := storedDocs(t, st)
	watch := watchJobs(t, st)

	// GET shows the failed line and its reason and changes nothing, however often.
	for range 3 {
		code, kind, page := retryPage(t, st, http.MethodGet, tok)
		if code != 200 || kind != "retry-summary" || !strings.Contains(page, "New course") ||
			!strings.Contains(html.UnescapeString(page), missing) || !strings.Contains(page, "No course") || !strings.Contains(page, `id="retry"`) {
			t.Fatalf("GET: HTTP %d main#%s:\n%s", code, kind, page)
		}
	}
	if js := watch.jobs(t, 2*time.Second); len(js) != 0 {
		t.Errorf("GET published jobs %+v", js)
	}
	if after := record(t, st, id); !reflect.DeepEqual(after, before) || storedDocs(t, st) != docs {
		t.Errorf("GET changed the order: %s", recordDiff(before, after))
	}
	if n := len(st.LMS.Log.Calls("enroll")); n != 1 {
		t.Errorf("%d LMS enroll calls, want the 1 that failed", n)
	}

	// The course is created; the POST retries once and the order completes once.
	st.LMS.AddCourse(missing, "audit")
	code, kind, page := retryPage(t, st, http.MethodPost, tok)
	if code != 200 || kind != "retry-queued" || !strings.Contains(page, "#RETRY-LMS") {
		t.Fatalf("POST: HTTP %d main#%s:\n%s", code, kind, page)
	}
	waitFor(t, "order completed", 30*time.Second, func() bool { return status(st, id) == "completed" })
	waitFor(t, "the completion noted", 30*time.Second, func() bool { return record(t, st, id).Completion.Noted })
	done := orderSettled(t, st, id)
	if s := st.LMS.Stats(); s.Created != 1 {
		t.Errorf("LMS %+v; want one enrollment", s)
	}
	if got := enrollmentsOf(st); !reflect.DeepEqual(got, []string{learnerID + " " + missing + " audit"}) {
		t.Errorf("enrollments %v", got)
	}
	if n := len(st.Shop.Log.Calls("update-order")); n != 1 {
		t.Errorf("%d order updates by the service; want one completion", n)
	}
	if c := strings.Count(notes(st, id), "Enrolled in Open edX"); c != 1 {
		t.Errorf("%d enrolled notes, want 1:\n%s", c, notes(st, id))
	}
	acts := retryActions(done)
	if len(acts) != 1 {
		t.Fatalf("retry actions %+v; want one", acts)
	}
	a := acts[0]
	if a.By.Via != enrollment.ViaRetryLink || a.By.IP == "" || a.By.UserAgent == "" || a.Outcome != enrollment.RetryQueued ||
		!a.FromShop || a.Enroll == "" || a.Job == "" || !reflect.DeepEqual(a.Courses, []string{missing}) {
		t.Errorf("retry recorded as %+v", a)
	}
	if done.Lines[0].State != enrollment.LineEnrolled || done.Failed != "" {
		t.Errorf("line %+v, failed %q", done.Lines[0], done.Failed)
	}
	var kinds []string
	for _, j := range watch.jobs(t, 2*time.Second) {
		if j.OrderID == id && (j.Kind == enrollment.JobRetry || j.Kind == enrollment.JobEnroll) {
			kinds = append(kinds, j.Kind+" "+j.ID)
		}
	}
	slices.Sort(kinds) // Pub/Sub delivers in no particular order
	if want := []string{"enroll " + a.Enroll, "retry " + a.Job}; !reflect.DeepEqual(kinds, want) {
		t.Errorf("jobs published %v; want %v", kinds, want)
	}

	// A replay of the same token shows the already-done page, with when, and queues nothing.
	docs = storedDocs(t, st)
	for _, method := range []string{http.MethodPost, http.MethodGet, http.MethodPost} {
		code, kind, page := retryPage(t, st, method, tok)
		if code != 200 || kind != "already-retried" || !strings.Contains(page, "retried through this link on ") {
			t.Errorf("%s replay: HTTP %d main#%s:\n%s", method, code, kind, page)
		}
	}
	if js := watch.jobs(t, 2*time.Second); len(js) != 0 {
		t.Errorf("a replay published jobs %+v", js)
	}
	after := record(t, st, id)
	after.UpdatedAt = done.UpdatedAt // a replayed POST rewrites the record in its transaction
	if !reflect.DeepEqual(after, done) || storedDocs(t, st) != docs {
		t.Errorf("a replay changed the order: %s", recordDiff(done, after))
	}
	if s := st.LMS.Stats(); s.Created != 1 || len(st.Mail.Messages()) != 1 {
		t.Errorf("after the replays: LMS %+v, %d emails", s, len(st.Mail.Messages()))
	}
}

// The product's SKU is fixed in the shop after the failure. Editing a product fires no order
// webhook and leaves the order's date alone; the retry reads the order from the shop, as the
// move On hold → Processing delivers it, so the fixed SKU counts.
func TestRetryLinkAfterSKUFixed(t *testing.T) {
	t.Parallel()
	st := newStack(t, withEnv("LANGUAGE", "es"))
	const broken = "course-v1:ExampleX+PY101" // no run: not a course key
	spec := cardOrder(course("Intro to Python", broken))
	spec.Number = "RETRY-SKU"
	id := st.Shop.CreateOrder(spec)
	tok := retryToken(t, st, failureEmail(t, st, "RETRY-SKU"))
	failed := orderSettled(t, st, id)
	if len(failed.Lines) != 1 || failed.Lines[0].State != enrollment.LineFailed || failed.Lines[0].Course != broken {
		t.Fatalf("lines %+v; want the broken SKU failed", failed.Lines)
	}
	code, kind, page := retryPage(t, st, http.MethodGet, tok)
	if code != 200 || kind != "retry-summary" || !strings.Contains(page, "Reintentar los cursos que fallaron") || !strings.Contains(html.UnescapeString(page), broken) {
		t.Fatalf("GET: HTTP %d main#%s:\n%s", code, kind, page)
	}

	if n := st.Shop.SetProductSKU(93, ptr(coursePy)); n != 1 {
		t.Fatalf("%d lines show the fixed SKU", n)
	}
	time.Sleep(time.Second)
	if status(st, id) != "processing" || len(st.LMS.Log.Calls("enroll")) != 0 {
		t.Fatal("fixing the product did something by itself")
	}
	code, kind, page = retryPage(t, st, http.MethodPost, tok)
	if code != 200 || kind != "retry-queued" || !strings.Contains(page, "Reintento en curso") {
		t.Fatalf("POST: HTTP %d main#%s:\n%s", code, kind, page)
	}
	waitFor(t, "order completed", 30*time.Second, func() bool { return status(st, id) == "completed" })
	waitFor(t, "the completion noted", 30*time.Second, func() bool { return record(t, st, id).Completion.Noted })
	done := orderSettled(t, st, id)
	if got := enrollmentsOf(st); !reflect.DeepEqual(got, []string{learnerID + " " + coursePy + " audit"}) {
		t.Errorf("enrollments %v; want the fixed SKU's course", got)
	}
	if len(done.Lines) != 1 || done.Lines[0].Course != coursePy || done.Lines[0].State != enrollment.LineEnrolled {
		t.Errorf("lines %+v; want the fixed course enrolled and the broken SKU gone", done.Lines)
	}
	if n := len(st.Shop.Log.Calls("update-order")); n != 1 {
		t.Errorf("%d order updates by the service; want one completion", n)
	}
	if c := strings.Count(notes(st, id), "El cliente quedó inscrito en Open edX"); c != 1 {
		t.Errorf("%d enrolled notes, want 1", c)
	}
	if acts := retryActions(done); len(acts) != 1 || acts[0].Outcome != enrollment.RetryQueued || !acts[0].FromShop {
		t.Errorf("retry recorded as %+v", acts)
	}
	if n := len(st.Mail.Messages()); n != 1 {
		t.Errorf("%d emails; the retry succeeded, so only the first failure email", n)
	}
	if code, kind, _ := retryPage(t, st, http.MethodPost, tok); code != 200 || kind != "already-retried" {
		t.Errorf("replay: HTTP %d main#%s", code, kind)
	}
}

// A retry that fails again sends a new failure email with a new Retry link; the old link is
// spent, the new one works. The move On hold → Processing keeps working alongside.
func TestRetryLinkFailsAgainThenMove(t *testing.T) {
	t.Parallel()
	st := newStack(t)
	const missing = "course-v1:ExampleX+NEW2+2026_T1"
	spec := cardOrder(course("Python", coursePy), course("New course", missing))
	spec.Number = "RETRY-AGAIN"
	id := st.Shop.CreateOrder(spec)
	firstEmail := failureEmail(t, st, "RETRY-AGAIN")
	first := retryToken(t, st, firstEmail)
	// The failed line is the second of the order: its one attempt counts once.
	if !strings.Contains(firstEmail.Text, "Attempts: 1") {
		t.Errorf("the first failure email does not count one attempt:\n%s", firstEmail.Text)
	}
	orderSettled(t, st, id)
	if code, kind, _ := retryPage(t, st, http.MethodPost, first); code != 200 || kind != "retry-queued" {
		t.Fatalf("POST: HTTP %d main#%s", code, kind)
	}
	waitFor(t, "the second failure email", 30*time.Second, func() bool { return len(emailsTo(st, "RETRY-AGAIN")) == 2 })
	secondEmail := emailsTo(st, "RETRY-AGAIN")[1]
	second := retryToken(t, st, secondEmail)
	if !strings.Contains(secondEmail.Text, "Attempts: 2") {
		t.Errorf("the second failure email does not count two attempts:\n%s", secondEmail.Text)
	}
	if second == first {
		t.Fatal("the second failure email carries the spent link")
	}
	rec := orderSettled(t, st, id)
	if c := strings.Count(notes(st, id), "enrollment failed"); c != 2 {
		t.Errorf("%d failure notes, want 2", c)
	}
	if code, kind, _ := retryPage(t, st, http.MethodGet, first); code != 200 || kind != "already-retried" {
		t.Errorf("the spent link: HTTP %d main#%s", code, kind)
	}
	if code, kind, _ := retryPage(t, st, http.MethodGet, second); code != 200 || kind != "retry-summary" {
		t.Errorf("the new link: HTTP %d main#%s", code, kind)
	}
	// The course enrolled before is not enrolled again by the retry.
	if n := len(st.LMS.Log.Calls("enroll")); n != 3 {
		t.Errorf("%d enroll calls; want 3 (Python once, the missing course twice)", n)
	}
	// The admin fixes the course and moves the order On hold → Processing instead.
	st.LMS.AddCourse(missing, "audit")
	st.Shop.SetStatus(id, "on-hold")
	st.Shop.Wait()
	st.Shop.SetStatus(id, "processing")
	waitFor(t, "order completed", 30*time.Second, func() bool { return status(st, id) == "completed" })
	waitFor(t, "the completion noted", 30*time.Second, func() bool { return record(t, st, id).Completion.Noted })
	orderSettled(t, st, id)
	if code, kind, _ := retryPage(t, st, http.MethodPost, second); code != 200 || kind != "nothing-to-retry" {
		t.Errorf("the new link after the move: HTTP %d main#%s", code, kind)
	}
	if s := st.LMS.Stats(); s.Created != 2 {
		t.Errorf("LMS %+v; want two enrollments", s)
	}
	if acts := retryActions(record(t, st, id)); len(acts) != 1 || len(rec.Actions) != 1 {
		t.Errorf("retry actions %+v; the link with nothing to retry records none", acts)
	}
}

// Expired, forged and malformed Retry links get the Confirm link's pages and codes, and
// change nothing.
func TestRetryLinkErrors(t *testing.T) {
	t.Parallel()
	st := newStack(t)
	spec := cardOrder(course("New course", "course-v1:ExampleX+NEW3+2026_T1"))
	spec.Number = "RETRY-BAD"
	id := st.Shop.CreateOrder(spec)
	tok := retryToken(t, st, failureEmail(t, st, "RETRY-BAD"))
	before := orderSettled(t, st, id)
	docs := storedDocs(t, st)
	expired := st.App.Signer.SignRetry(id, time.Now().Add(-st.Config.ConfirmLinkTTL-time.Hour))
	forged := tok[:len(tok)-2] + map[bool]string{true: "AA", false: "BB"}[!strings.HasSuffix(tok, "AA")]
	for _, c := range []struct {
		name, token string
		want        int
		kind, words string
	}{
		{"expired", expired, 410, "expired", "Links to retry an enrollment"},
		{"forged", forged, 403, "forged", "On hold"},
		{"malformed", tok[:40], 400, "invalid", ""},
		{"missing", "", 400, "invalid", ""},
	} {
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			code, kind, page := retryPage(t, st, method, c.token)
			if code != c.want || kind != c.kind || !strings.Contains(page, c.words) {
				t.Errorf("%s %s: HTTP %d main#%s:\n%.400s", method, c.name, code, kind, page)
			}
		}
	}
	time.Sleep(time.Second)
	if after := record(t, st, id); !reflect.DeepEqual(after, before) || storedDocs(t, st) != docs {
		t.Errorf("a bad Retry link changed the order: %s", recordDiff(before, after))
	}
}

// A cancelled order cannot be retried through the link (SPEC §2.5b).
func TestRetryLinkOfCancelledOrder(t *testing.T) {
	t.Parallel()
	st := newStack(t)
	const missing = "course-v1:ExampleX+NEW4+2026_T1"
	spec := cardOrder(course("New course", missing))
	spec.Number = "RETRY-CANCELLED"
	id := st.Shop.CreateOrder(spec)
	tok := retryToken(t, st, failureEmail(t, st, "RETRY-CANCELLED"))
	orderSettled(t, st, id)
	st.LMS.AddCourse(missing, "audit")
	st.Shop.SetStatus(id, "cancelled")
	st.Shop.Wait()
	waitFor(t, "cancel recorded", 10*time.Second, func() bool { return record(t, st, id).Status == "cancelled" })
	before := orderSettled(t, st, id)
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		code, kind, page := retryPage(t, st, method, tok)
		if code != http.StatusConflict || kind != "closed" || !strings.Contains(page, "cannot be retried here") {
			t.Errorf("%s on a cancelled order: HTTP %d main#%s:\n%.400s", method, code, kind, page)
		}
	}
	time.Sleep(time.Second)
	after := record(t, st, id)
	after.UpdatedAt = before.UpdatedAt
	if !reflect.DeepEqual(after, before) || len(retryActions(after)) != 0 || st.LMS.Stats().Created != 0 || status(st, id) != "cancelled" {
		t.Errorf("a cancelled order was retried: %s", recordDiff(before, after))
	}
}

// The retry job reads the order from the shop: a transient failure of that read is retried
// with the job; a refusal (here 404) retries the stored order as it is. A retry job nobody
// asked for (a stray push) does nothing.
func TestRetryJobShopReadFailures(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name     string
		fault    sandbox.Fault
		fromShop bool
	}{
		{"shop 503 once", sandbox.Fault{Status: 503, Body: "upstream unavailable", Times: 1}, true},
		{"shop refuses", sandbox.Fault{Status: 404, Body: `{"code":"woocommerce_rest_shop_order_invalid_id","message":"Invalid ID.","data":{"status":404}}`, Times: 100}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			st := newStack(t)
			const missing = "course-v1:ExampleX+NEW5+2026_T1"
			spec := cardOrder(course("New course", missing))
			spec.Number = "RETRY-READ"
			id := st.Shop.CreateOrder(spec)
			tok := retryToken(t, st, failureEmail(t, st, "RETRY-READ"))
			orderSettled(t, st, id)

			// A stray retry job for this order: no retry was asked with it.
			if err := st.App.Publisher.Publish(t.Context(), enrollment.Job{ID: "retry-stray", Kind: enrollment.JobRetry, OrderID: id, CreatedAt: time.Now()}); err != nil {
				t.Fatal(err)
			}
			time.Sleep(2 * time.Second)
			if rec := orderSettled(t, st, id); len(rec.Actions) != 0 || rec.EnrollGen != 1 || len(st.Shop.Log.Calls("get-order")) != 0 {
				t.Fatalf("a stray retry job did something: actions %+v, generation %d, %d shop reads", rec.Actions, rec.EnrollGen, len(st.Shop.Log.Calls("get-order")))
			}

			st.LMS.AddCourse(missing, "audit")
			st.Shop.Faults.Inject("get-order", c.fault)
			if code, kind, _ := retryPage(t, st, http.MethodPost, tok); code != 200 || kind != "retry-queued" {
				t.Fatalf("POST: HTTP %d main#%s", code, kind)
			}
			waitFor(t, "order completed", 60*time.Second, func() bool { return status(st, id) == "completed" })
			waitFor(t, "the completion noted", 30*time.Second, func() bool { return record(t, st, id).Completion.Noted })
			rec := orderSettled(t, st, id)
			acts := retryActions(rec)
			if len(acts) != 1 || acts[0].Outcome != enrollment.RetryQueued || acts[0].FromShop != c.fromShop {
				t.Errorf("retry recorded as %+v; want queued, read from the shop: %v", acts, c.fromShop)
			}
			if n := len(st.Shop.Log.Calls("get-order")); n < 1 || (c.fromShop && n != 2) {
				t.Errorf("%d shop reads", n)
			}
			if s := st.LMS.Stats(); s.Created != 1 {
				t.Errorf("LMS %+v; want one enrollment", s)
			}
		})
	}
}
