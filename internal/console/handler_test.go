package console

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"

	"github.com/aulasneo/wc-openedx/internal/enrollment"
	"github.com/aulasneo/wc-openedx/internal/jobs"
	"github.com/aulasneo/wc-openedx/internal/store"
	"github.com/aulasneo/wc-openedx/internal/testenv"
)

// The Console against the Firestore and Pub/Sub emulators, with the domain's real Service
// behind its actions.

func TestMain(m *testing.M) { testenv.Main(m) }

// clock gives each order its own creation time, one minute apart.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Minute)
	return c.t
}

type env struct {
	t     *testing.T
	store *store.Store
	svc   *enrollment.Service
	h     *Handler
	clock *clock
}

func newEnv(t *testing.T, lang string, cloudRun bool) *env {
	t.Helper()
	ctx := context.Background()
	project := testenv.Project(t)
	st, err := store.New(ctx, project, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	pub, err := jobs.NewPublisher(ctx, project, "jobs")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pub.Close() })
	if _, err := pub.Client().TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: "projects/" + project + "/topics/jobs"}); err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	log := slog.New(slog.DiscardHandler)
	svc := &enrollment.Service{
		Store: st, Publisher: pub,
		Settings: enrollment.Settings{DefaultMode: "audit", ConfirmMethods: []string{"bacs", "cheque", "cod"}},
		Now:      c.now, Log: log,
	}
	h := &Handler{Store: st, Actions: svc, Language: lang, ShopName: "Aulasneo Shop", ShopURL: "https://shop.example.com", CloudRun: cloudRun, Log: log}
	return &env{t: t, store: st, svc: svc, h: h, clock: c}
}

// orderSpec is an order as a test wants it.
type orderSpec struct {
	id     int64
	status string
	method string // payment method; "stripe" when empty
	email  string
	skus   []string
}

func (e *env) order(s orderSpec) *enrollment.Order {
	if s.method == "" {
		s.method = "stripe"
	}
	if s.email == "" {
		s.email = "ana.garcia@example.com"
	}
	o := &enrollment.Order{
		ID: s.id, Number: strconv.FormatInt(s.id, 10), Status: s.status, Currency: "USD", Total: "149.00",
		PaymentMethod: s.method, PaymentMethodTitle: "Card",
		DateModifiedGMT: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC),
		Billing:         enrollment.Person{FirstName: "Ana", LastName: "García", Email: s.email},
	}
	for i, sku := range s.skus {
		o.Lines = append(o.Lines, enrollment.LineItem{ID: int64(i + 1), Name: "Product " + strconv.Itoa(i+1), Quantity: 1, Total: "149.00", SKU: sku})
	}
	return o
}

// intake records the order as a webhook delivery would.
func (e *env) intake(s orderSpec) int64 {
	e.t.Helper()
	o := e.order(s)
	if _, err := e.svc.Intake(context.Background(), enrollment.Delivery{Topic: enrollment.TopicOrderCreated, Hash: fmt.Sprintf("h-%d-%s", s.id, s.status), OrderID: s.id, WebhookID: "7"}, o, nil); err != nil {
		e.t.Fatal(err)
	}
	return s.id
}

// update changes the stored record as the worker would have.
func (e *env) update(id int64, fn func(rec *enrollment.OrderRecord)) {
	e.t.Helper()
	if _, err := e.store.Update(context.Background(), id, func(rec *enrollment.OrderRecord) ([]enrollment.Job, error) {
		fn(rec)
		return nil, nil
	}); err != nil {
		e.t.Fatal(err)
	}
}

const (
	coursePy = "course-v1:ExampleX+PY101+2024_T4"
	courseGo = "course-v1:ExampleX+GO201+2025_T1"
)

// failLine fails the order's lines of course as the worker does for a permanent failure.
func failLine(course, reason string) func(*enrollment.OrderRecord) {
	return func(rec *enrollment.OrderRecord) {
		for i := range rec.Lines {
			if l := &rec.Lines[i]; l.Course == course {
				l.State, l.Reason, l.FailedGen, l.Attempts = enrollment.LineFailed, reason, rec.EnrollGen, l.Attempts+1
			}
		}
	}
}

func enrollAll(rec *enrollment.OrderRecord) {
	for i := range rec.Lines {
		rec.Lines[i].State, rec.Lines[i].Username, rec.Lines[i].DoneAt = enrollment.LineEnrolled, "anagarcia", time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	}
	rec.Completion = enrollment.CompletionState{State: enrollment.CompletionDone, Noted: true, At: time.Date(2026, 3, 2, 10, 0, 1, 0, time.UTC)}
}

// seed records one order of every stage and returns their ids by stage.
func (e *env) seed() map[string]int64 {
	ids := map[string]int64{}
	ids[enrollment.StageEnrolling] = e.intake(orderSpec{id: 701, status: "processing", skus: []string{coursePy}})
	ids[enrollment.StageAwaitingConfirmation] = e.intake(orderSpec{id: 702, status: "on-hold", method: "bacs", email: "Luis.Perez@Example.com ", skus: []string{coursePy}})
	ids[enrollment.StageFailed] = e.intake(orderSpec{id: 727, status: "processing", skus: []string{coursePy, "course-v1:ExampleX+NOPE+2025"}})
	e.update(727, func(rec *enrollment.OrderRecord) {
		rec.Lines[0].State = enrollment.LineEnrolled
		failLine("course-v1:ExampleX+NOPE+2025", "the course course-v1:ExampleX+NOPE+2025 does not exist in Open edX")(rec)
	})
	ids[enrollment.StageCompleted] = e.intake(orderSpec{id: 704, status: "processing", skus: []string{courseGo}})
	e.update(704, enrollAll)
	ids[enrollment.StageUnenrolled] = e.intake(orderSpec{id: 705, status: "processing", skus: []string{courseGo}})
	e.update(705, func(rec *enrollment.OrderRecord) {
		enrollAll(rec)
		rec.Status = enrollment.StatusRefunded
		rec.Lines[0].State, rec.Lines[0].UnenrolledBy = enrollment.LineUnenrolled, enrollment.ScopeOrder
	})
	ids[enrollment.StageClosed] = e.intake(orderSpec{id: 706, status: "cancelled", method: "bacs", skus: []string{coursePy}})
	ids[enrollment.StageNone] = e.intake(orderSpec{id: 707, status: "processing", skus: []string{"TSHIRT-M"}})
	return ids
}

// get asks the handler as a browser on the same origin would.
func (e *env) get(path string, hdr ...string) (int, string) {
	e.t.Helper()
	r := httptest.NewRequest(http.MethodGet, "http://console.test/Console"+path, nil)
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	b, _ := io.ReadAll(w.Result().Body)
	// As a browser shows it: html/template writes + as &#43;, & in attributes as &amp;.
	return w.Code, html.UnescapeString(string(b))
}

// post submits a form; hdr are extra headers (the same-origin header is set unless hdr sets
// Sec-Fetch-Site).
func (e *env) post(form url.Values, hdr ...string) (int, string) {
	e.t.Helper()
	r := httptest.NewRequest(http.MethodPost, "http://console.test/Console", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			r.Header.Del(hdr[i])
			continue
		}
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	b, _ := io.ReadAll(w.Result().Body)
	// As a browser shows it: html/template writes + as &#43;, & in attributes as &amp;.
	return w.Code, html.UnescapeString(string(b))
}

func (e *env) record(id int64) *enrollment.OrderRecord {
	e.t.Helper()
	rec, err := e.store.Get(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return rec
}

var rowRE = regexp.MustCompile(`<tr id="order-(\d+)" data-stage="([a-z-]+)">`)

// rows lists the orders a list page shows, in order, as "id stage".
func rows(body string) []string {
	var out []string
	for _, m := range rowRE.FindAllStringSubmatch(body, -1) {
		out = append(out, m[1]+" "+m[2])
	}
	return out
}

var mainRE = regexp.MustCompile(`<main id="([a-z-]+)">`)

func mainID(body string) string {
	if m := mainRE.FindStringSubmatch(body); m != nil {
		return m[1]
	}
	return ""
}

func TestOrdersByStageAndSearch(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "es", false)
	ids := e.seed()

	code, body := e.get("")
	if code != http.StatusOK || mainID(body) != "orders" {
		t.Fatalf("list: HTTP %d, main#%s", code, mainID(body))
	}
	want := []string{"707 none", "706 closed", "705 unenrolled", "704 completed", "727 failed", "702 awaiting-confirmation", "701 enrolling"}
	if got := rows(body); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("all orders, newest first: %q, want %q", got, want)
	}
	for _, w := range []string{"Procesando", "En espera", "Cancelado", "Reembolsado", "Con error", "Esperando confirmación del pago", "1 de 2 inscritos"} {
		if !strings.Contains(body, w) {
			t.Errorf("the Spanish list does not say %q", w)
		}
	}

	for stage, id := range ids {
		code, body := e.get("?stage=" + stage)
		if got := rows(body); code != http.StatusOK || len(got) != 1 || got[0] != fmt.Sprintf("%d %s", id, stage) {
			t.Errorf("stage %s: HTTP %d, rows %q; want only order %d", stage, code, got, id)
		}
		if !strings.Contains(body, `id="stage-`+stage+`" href="/Console?stage=`+stage+`" class="current"`) {
			t.Errorf("stage %s: its tab is not marked current", stage)
		}
	}
	// The failed order's reason is on its row.
	_, body = e.get("?stage=failed")
	if !strings.Contains(body, "course-v1:ExampleX+NOPE+2025: the course course-v1:ExampleX+NOPE+2025 does not exist in Open edX") {
		t.Errorf("the failed list does not show the reason:\n%s", body)
	}

	for _, tt := range []struct{ q, want string }{
		{"727", "727 failed"},
		{"#727", "727 failed"},
		{" 702 ", "702 awaiting-confirmation"},
		{"luis.perez@example.com", "702 awaiting-confirmation"},
		{"LUIS.PEREZ@EXAMPLE.COM", "702 awaiting-confirmation"},
		{"nobody@example.com", ""},
		{"999", ""},
	} {
		_, body := e.get("?q=" + url.QueryEscape(tt.q))
		if got := strings.Join(rows(body), ","); got != tt.want {
			t.Errorf("search %q: rows %q, want %q", tt.q, got, tt.want)
		}
	}
	_, body = e.get("?q=ana.garcia%40example.com")
	if got := len(rows(body)); got != 6 {
		t.Errorf("search by Ana's email: %d orders, want 6", got)
	}

	if code, _ := e.get("?stage=bogus"); code != http.StatusBadRequest {
		t.Errorf("unknown stage: HTTP %d, want 400", code)
	}
	if code, body := e.get("?after=garbage"); code != http.StatusBadRequest || mainID(body) != "bad-request" {
		t.Errorf("bad cursor: HTTP %d, main#%s; want 400", code, mainID(body))
	}
}

func TestOrdersPages(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "en", false)
	e.h.PageSize = 2
	var want []string
	for id := int64(801); id <= 807; id++ {
		e.intake(orderSpec{id: id, status: "processing", skus: []string{coursePy}})
		want = append([]string{strconv.FormatInt(id, 10) + " enrolling"}, want...)
	}
	// One more in another stage, which the stage's pages must skip.
	e.intake(orderSpec{id: 808, status: "processing", skus: []string{"TSHIRT"}})
	hrefRE := regexp.MustCompile(`<a id="older" href="([^"]+)">`)
	for _, path := range []string{"?stage=enrolling", ""} {
		var got []string
		next, more := path, true
		for pages := 0; more; pages++ {
			if pages > 10 {
				t.Fatal("the pages do not end")
			}
			code, body := e.get(next)
			if code != http.StatusOK {
				t.Fatalf("%s: HTTP %d", next, code)
			}
			rs := rows(body)
			if len(rs) > 2 {
				t.Fatalf("a page of %d rows, want at most 2", len(rs))
			}
			got = append(got, rs...)
			more = false
			if m := hrefRE.FindStringSubmatch(body); m != nil {
				more = true
				next = strings.TrimPrefix(m[1], "/Console")
				if !strings.Contains(body, `id="newest"`) && pages > 0 {
					t.Errorf("page %d has no link back to the newest", pages+1)
				}
			}
		}
		w := want
		if path == "" {
			w = append([]string{"808 none"}, want...)
		}
		if strings.Join(got, ",") != strings.Join(w, ",") {
			t.Errorf("%q: pages gave %q, want %q", path, got, w)
		}
	}
}

func TestOrderPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "en", false)
	e.seed()
	ctx := context.Background()
	// What the worker and the Enroll function record as they go.
	if err := e.store.RecordEvent(ctx, 727, enrollment.JobRun(enrollment.Job{ID: "enroll-727-1", Kind: "enroll"}, 1, false, enrollment.Permanent(fmt.Errorf("boom")), time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC))); err != nil {
		t.Fatal(err)
	}
	if err := e.store.RecordEvent(ctx, 727, enrollment.Event{At: time.Date(2026, 3, 2, 9, 30, 1, 0, time.UTC), Kind: enrollment.EventNote, Outcome: enrollment.EventDone, Text: "Open edX enrollment failed.\n- course-v1:ExampleX+NOPE+2025"}); err != nil {
		t.Fatal(err)
	}
	if err := e.store.RecordEvent(ctx, 727, enrollment.Event{At: time.Date(2026, 3, 2, 9, 30, 2, 0, time.UTC), Kind: enrollment.EventEmail, Email: enrollment.EmailFailure, To: []string{"shop-admin@example.com"}, Courses: []string{"course-v1:ExampleX+NOPE+2025"}, Outcome: enrollment.EventDone}); err != nil {
		t.Fatal(err)
	}

	code, body := e.get("?p=order&id=727")
	if code != http.StatusOK || mainID(body) != "order" {
		t.Fatalf("order page: HTTP %d, main#%s\n%s", code, mainID(body), body)
	}
	for _, want := range []string{
		`<h1 id="title">Order #727</h1>`,
		`id="stage" class="pill stage-failed">Failed</span>`,
		`id="reason" class="reason">course-v1:ExampleX+NOPE+2025: the course course-v1:ExampleX+NOPE+2025 does not exist in Open edX<`,
		`href="https://shop.example.com/wp-admin/post.php?action=edit&post=727"`,
		`<a class="button" id="retry" href="/Console?id=727&p=retry">`,
		`<tr data-state="enrolled"><td>course-v1:ExampleX+PY101+2024_T4</td>`,
		`<tr data-state="failed"><td>course-v1:ExampleX+NOPE+2025</td>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the order page lacks %s", want)
		}
	}
	if strings.Contains(body, `id="resend"`) {
		t.Error("a card order offers to resend the confirmation email")
	}
	// The timeline, in time order: the delivery, the first status, the job queued with the
	// order, its run, the note, the email.
	kinds := regexp.MustCompile(`<tr data-kind="([a-z]+)"><td class="when">([0-9: -]+)</td><td>([^<]*)</td>`).FindAllStringSubmatch(body, -1)
	var got []string
	var prev string
	for _, k := range kinds {
		got = append(got, k[1]+": "+k[3])
		if k[2] < prev {
			t.Errorf("timeline out of order: %s after %s", k[2], prev)
		}
		prev = k[2]
	}
	for _, want := range []string{
		"delivery: Webhook order.created received",
		"status: Recorded in status Processing",
		"job: Job queued: enroll",
		"job: Job run: enroll",
		"note: Private note posted on the order",
		"email: Failure report emailed",
	} {
		found := false
		for _, g := range got {
			found = found || g == want
		}
		if !found {
			t.Errorf("timeline lacks %q; it has %q", want, got)
		}
	}
	if !strings.Contains(body, "<pre>Open edX enrollment failed.\n- course-v1:ExampleX+NOPE+2025</pre>") {
		t.Error("the timeline does not show the note's text")
	}

	if code, body := e.get("?p=order&id=999"); code != http.StatusNotFound || mainID(body) != "not-found" {
		t.Errorf("unknown order: HTTP %d, main#%s", code, mainID(body))
	}
	if code, _ := e.get("?p=order&id=abc"); code != http.StatusBadRequest {
		t.Errorf("bad id: HTTP %d, want 400", code)
	}
}

var keyInputRE = regexp.MustCompile(`name="key" value="(console-[0-9a-f]{32})"`)

// confirmForm opens the confirmation page of action on order id and returns the form.
func (e *env) confirmForm(action string, id int64) url.Values {
	e.t.Helper()
	code, body := e.get(fmt.Sprintf("?p=%s&id=%d", action, id))
	if code != http.StatusOK || mainID(body) != action {
		e.t.Fatalf("%s page of %d: HTTP %d, main#%s\n%s", action, id, code, mainID(body), body)
	}
	m := keyInputRE.FindStringSubmatch(body)
	if m == nil {
		e.t.Fatalf("%s page has no key", action)
	}
	return url.Values{"action": {action}, "id": {strconv.FormatInt(id, 10)}, "key": {m[1]}}
}

func TestRetryAction(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "en", false)
	e.seed()
	gen := e.record(727).EnrollGen
	form := e.confirmForm("retry", 727)
	_, page := e.get("?p=retry&id=727", LocalOperatorHeader, "operator@example.com")
	if !strings.Contains(page, "the course course-v1:ExampleX+NOPE+2025 does not exist in Open edX") || !strings.Contains(page, "as done by operator@example.com") {
		t.Errorf("the retry page does not show the failed line and who will be recorded:\n%s", page)
	}
	code, body := e.post(form, LocalOperatorHeader, "operator@example.com", "User-Agent", "test-browser")
	if code != http.StatusOK || mainID(body) != "result" || !strings.Contains(body, `data-state="done"`) {
		t.Fatalf("retry: HTTP %d, main#%s\n%s", code, mainID(body), body)
	}
	rec := e.record(727)
	if len(rec.Actions) != 1 {
		t.Fatalf("actions %+v, want one", rec.Actions)
	}
	a := rec.Actions[0]
	if a.Kind != enrollment.ActionRetry || a.Key != form.Get("key") || a.By.Via != enrollment.ViaConsole || a.By.Who != "operator@example.com" ||
		a.By.UserAgent != "test-browser" || a.By.IP == "" || a.Job != "retry-727-1" || rec.EnrollGen != gen {
		t.Errorf("recorded %+v (generation %d, was %d)", a, rec.EnrollGen, gen)
	}
	if st, _ := rec.CurrentStage(); st != enrollment.StageEnrolling || rec.Stage != enrollment.StageEnrolling {
		t.Errorf("after the retry the order is %q (stored %q), want enrolling", st, rec.Stage)
	}
	// The same form again (a double click, a reload): nothing more.
	code, body = e.post(form, LocalOperatorHeader, "someone.else@example.com")
	if code != http.StatusOK || !strings.Contains(body, `data-state="replayed"`) || !strings.Contains(body, "operator@example.com") {
		t.Errorf("replay: HTTP %d\n%s", code, body)
	}
	if rec := e.record(727); len(rec.Actions) != 1 || rec.EnrollGen != gen {
		t.Errorf("the replay changed the order: %d actions, generation %d", len(rec.Actions), rec.EnrollGen)
	}
	// The order page names who asked.
	_, body = e.get("?p=order&id=727")
	if !strings.Contains(body, "Retry of the failed lines asked by operator@example.com") {
		t.Error("the timeline does not show the retry and who asked")
	}
	// Nothing to retry on a completed order; a forged key is refused.
	if code, body := e.get("?p=retry&id=704"); code != http.StatusConflict || !strings.Contains(body, `data-state="nothing"`) {
		t.Errorf("retry page of a completed order: HTTP %d", code)
	}
	bad := url.Values{"action": {"retry"}, "id": {"727"}, "key": {"x"}}
	if code, _ := e.post(bad); code != http.StatusBadRequest {
		t.Errorf("a bad key: HTTP %d, want 400", code)
	}
}

func TestResendAction(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "es", false)
	e.seed()
	// The first email went.
	e.update(702, func(rec *enrollment.OrderRecord) {
		rec.Email = enrollment.EmailState{State: enrollment.EmailSent, SentAt: time.Date(2026, 3, 2, 9, 5, 0, 0, time.UTC), To: []string{"shop-admin@example.com"}}
	})
	_, body := e.get("?p=order&id=702")
	if !strings.Contains(body, `id="resend"`) || strings.Contains(body, `id="retry"`) {
		t.Fatalf("the page of an order awaiting confirmation should offer the resend only")
	}
	form := e.confirmForm("resend", 702)
	code, body := e.post(form)
	if code != http.StatusOK || !strings.Contains(body, `data-state="done"`) || !strings.Contains(body, "El correo de confirmación está en cola.") {
		t.Fatalf("resend: HTTP %d\n%s", code, body)
	}
	rec := e.record(702)
	if len(rec.Actions) != 1 || rec.Actions[0].By.Who != LocalOperator || rec.Actions[0].Job != "email-702-resend-1" ||
		rec.Email.State != enrollment.EmailQueued || rec.Email.Resends != 1 {
		t.Errorf("after the resend: actions %+v, email %+v", rec.Actions, rec.Email)
	}
	// While that email is on its way, another is not offered.
	if code, body := e.get("?p=resend&id=702"); code != http.StatusConflict || !strings.Contains(body, `data-state="nothing"`) {
		t.Errorf("second resend page while one is queued: HTTP %d", code)
	}
	// An order still at checkout (pending) was never placed: no confirmation email for it.
	e.intake(orderSpec{id: 790, status: "pending", method: "bacs", email: "pending@example.com", skus: []string{coursePy}})
	if code, body := e.get("?p=resend&id=790"); code != http.StatusConflict || !strings.Contains(body, `data-state="nothing"`) {
		t.Errorf("resend page of an order still at checkout: HTTP %d", code)
	}
	events, err := e.store.Events(context.Background(), 702)
	if err != nil {
		t.Fatal(err)
	}
	queued := 0
	for _, ev := range events {
		if ev.Kind == enrollment.EventJobQueued && ev.Job == "email-702-resend-1" {
			queued++
		}
	}
	if queued != 1 {
		t.Errorf("the resend job was queued %d times in the events, want 1 (%+v)", queued, events)
	}
}

// idToken writes a Google ID token as Cloud Run passes it to the container: the signature
// replaced. signature "" means SIGNATURE_REMOVED_BY_GOOGLE.
func idToken(claims map[string]any, signature string) string {
	h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"RS256","kid":"k","typ":"JWT"}`))
	c, _ := json.Marshal(claims)
	if signature == "" {
		signature = signatureRemoved
	}
	return h + "." + base64.RawURLEncoding.EncodeToString(c) + "." + signature
}

func operatorClaims(email string) map[string]any {
	return map[string]any{
		"iss": "https://accounts.google.com", "aud": "32555940559.apps.googleusercontent.com", "azp": "32555940559.apps.googleusercontent.com",
		"sub": "1234567890", "email": email, "email_verified": true, "iat": time.Now().Add(-time.Minute).Unix(), "exp": time.Now().Add(time.Hour).Unix(),
	}
}

func TestOperatorOnCloudRun(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "en", true)
	e.seed()
	good := "Bearer " + idToken(operatorClaims("Maria.Operator@example.com"), "")
	expired := operatorClaims("maria.operator@example.com")
	expired["exp"] = time.Now().Add(-time.Hour).Unix()
	unverified := operatorClaims("maria.operator@example.com")
	unverified["email_verified"] = false
	noEmail := operatorClaims("")
	otherIssuer := operatorClaims("maria.operator@example.com")
	otherIssuer["iss"] = "https://evil.example.com"

	for _, tt := range []struct {
		name string
		hdr  []string
		who  string // "" when refused
	}{
		{"no token", nil, ""},
		{"local operator header", []string{LocalOperatorHeader, "maria.operator@example.com"}, ""},
		{"token Cloud Run did not check (signed)", []string{"Authorization", "Bearer " + idToken(operatorClaims("maria.operator@example.com"), "c2lnbmF0dXJl")}, ""},
		{"expired", []string{"Authorization", "Bearer " + idToken(expired, "")}, ""},
		{"email not verified", []string{"Authorization", "Bearer " + idToken(unverified, "")}, ""},
		{"no email", []string{"Authorization", "Bearer " + idToken(noEmail, "")}, ""},
		{"another issuer", []string{"Authorization", "Bearer " + idToken(otherIssuer, "")}, ""},
		{"not a JWT", []string{"Authorization", "Bearer abc"}, ""},
		{"Authorization checked by Cloud Run", []string{"Authorization", good}, "maria.operator@example.com"},
		{"X-Serverless-Authorization checked by Cloud Run", []string{"X-Serverless-Authorization", good}, "maria.operator@example.com"},
		// With both, Cloud Run checked X-Serverless-Authorization and passed Authorization
		// through as the client wrote it: that one is not an identity.
		{"both headers: the checked one counts", []string{"X-Serverless-Authorization", good, "Authorization", "Bearer " + idToken(operatorClaims("boss@example.com"), "")}, "maria.operator@example.com"},
		{"both headers, the checked one unusable", []string{"X-Serverless-Authorization", "Bearer " + idToken(unverified, ""), "Authorization", good}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, body := e.get("?p=order&id=727", tt.hdr...)
			switch {
			case tt.who == "" && (code != http.StatusForbidden || mainID(body) != "forbidden" || strings.Contains(body, "ana.garcia@example.com")):
				t.Errorf("GET: HTTP %d, main#%s; want 403 without the order", code, mainID(body))
			case tt.who != "" && (code != http.StatusOK || !strings.Contains(body, "Signed in as "+tt.who)):
				t.Errorf("GET: HTTP %d; want 200 signed in as %s", code, tt.who)
			}
			form := url.Values{"action": {"retry"}, "id": {"727"}, "key": {newKey()}}
			before := len(e.record(727).Actions)
			code, _ = e.post(form, tt.hdr...)
			after := e.record(727).Actions
			switch {
			case tt.who == "" && (code != http.StatusForbidden || len(after) != before):
				t.Errorf("POST: HTTP %d, %d actions (was %d); want 403 and nothing recorded", code, len(after), before)
			case tt.who != "" && (code != http.StatusOK || len(after) != before+1 || after[len(after)-1].By.Who != tt.who):
				t.Errorf("POST: HTTP %d, actions %+v; want one more, by %s", code, after, tt.who)
			}
		})
	}
}

func TestCrossSiteActionsRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "en", false)
	e.seed()
	for _, tt := range []struct {
		name string
		hdr  []string
		code int
	}{
		{"another site's form", []string{"Sec-Fetch-Site", "cross-site"}, http.StatusForbidden},
		{"a sibling subdomain", []string{"Sec-Fetch-Site", "same-site"}, http.StatusForbidden},
		{"an old browser on another origin", []string{"Sec-Fetch-Site", "", "Origin", "https://evil.example"}, http.StatusForbidden},
		// Behind gcloud run services proxy the browser's origin is localhost and the Host
		// the run.app host: Sec-Fetch-Site, computed by the browser, says same-origin.
		{"the console's own form through the proxy", []string{"Sec-Fetch-Site", "same-origin", "Origin", "http://localhost:8080"}, http.StatusOK},
		{"a command-line client", []string{"Sec-Fetch-Site", ""}, http.StatusOK},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := len(e.record(727).Actions)
			form := url.Values{"action": {"retry"}, "id": {"727"}, "key": {newKey()}}
			code, body := e.post(form, tt.hdr...)
			n := len(e.record(727).Actions) - before
			if code != tt.code {
				t.Errorf("HTTP %d (main#%s), want %d", code, mainID(body), tt.code)
			}
			if (tt.code == http.StatusOK) != (n == 1) {
				t.Errorf("%d actions recorded", n)
			}
		})
	}
}

func TestHealthPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "en", false)
	ctx := context.Background()
	code, body := e.get("?p=health")
	if code != http.StatusOK || !strings.Contains(body, `id="sweep-never"`) || !strings.Contains(body, "None: every job was published") || !strings.Contains(body, "None recorded.") {
		t.Fatalf("empty health page: HTTP %d\n%s", code, body)
	}
	e.seed()
	started := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	run := store.SweepRun{StartedAt: started, FinishedAt: started.Add(3 * time.Second), Result: enrollment.SweepResult{
		Published: 2, Unpublished: 1,
		Webhooks:  enrollment.WebhookReport{Ran: true, Problems: []string{"The order.created webhook #1 (\"Order created\") is disabled, so the shop does not send it."}, Opened: 1, Alerted: true},
		Reconcile: enrollment.ReconcileReport{Ran: true, Orders: 3, Outcomes: map[string]int{"applied": 1, "duplicate": 2}, Complete: true, Checkpoint: started},
	}}
	if err := e.store.RecordSweepRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	if err := e.store.UpdateSweep(ctx, func(st *enrollment.SweepState) error {
		st.Incidents = append(st.Incidents, enrollment.Incident{Key: "order.created|disabled|1", Problem: run.Result.Webhooks.Problems[0], OpenedAt: started})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// A job left in the outbox (its publish failed): written with its order, not published.
	if _, err := e.store.Update(ctx, 701, func(rec *enrollment.OrderRecord) ([]enrollment.Job, error) {
		return []enrollment.Job{{ID: "enroll-701-9", Kind: enrollment.JobEnroll, OrderID: 701, Gen: 9, CreatedAt: time.Now().Add(-90 * time.Minute)}}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := e.store.RecordDeadLetter(ctx, store.DeadLetter{Job: "enroll-727-1", JobKind: "enroll", OrderID: 727, Attempts: 5, At: started, Outcome: enrollment.EventDone}); err != nil {
		t.Fatal(err)
	}
	code, body = e.get("?p=health")
	if code != http.StatusOK {
		t.Fatalf("health: HTTP %d", code)
	}
	for _, want := range []string{
		"<dt>Started</dt><dd>2026-03-02 12:00:00</dd>",
		"<dt>Outbox jobs published</dt><dd>2</dd>",
		"<dt>Orders reconciled</dt><dd>3 (applied 1, duplicate 2)</dd>",
		"<dt>Alert emailed</dt><dd>yes</dd>",
		"is disabled, so the shop does not send it.</td>",
		"1 job(s) waiting; the oldest, enroll-701-9 (enroll of order #701), was queued 1h30m ago.",
		`<a href="/Console?id=727&p=order">#727</a></td><td>enroll-727-1 (enroll)</td><td class="num">5</td>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the health page lacks %s", want)
		}
	}
}

// keyRefRE finds catalogue keys a page failed to look up (T shows them as {key}).
var keyRefRE = regexp.MustCompile(`\{[a-z]+\.[a-zA-Z.-]+\}`)

func TestEveryPageInBothLanguages(t *testing.T) {
	t.Parallel()
	// Both languages have every key: internal/i18n's TestCataloguesAgree.
	for _, lang := range []string{"en", "es_AR"} {
		t.Run(lang, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, lang, false)
			e.seed()
			e.update(702, func(rec *enrollment.OrderRecord) { rec.Email = enrollment.EmailState{State: enrollment.EmailSent} })
			if err := e.store.RecordDeadLetter(context.Background(), store.DeadLetter{Job: "enroll-727-1", JobKind: "enroll", OrderID: 727, Attempts: 5, At: time.Now(), Outcome: enrollment.EventFailed, Error: "x"}); err != nil {
				t.Fatal(err)
			}
			retry := e.confirmForm("retry", 727)
			resend := e.confirmForm("resend", 702)
			pages := map[string]func() (int, string){
				"orders":     func() (int, string) { return e.get("") },
				"failed":     func() (int, string) { return e.get("?stage=failed") },
				"search":     func() (int, string) { return e.get("?q=727") },
				"order":      func() (int, string) { return e.get("?p=order&id=727") },
				"completed":  func() (int, string) { return e.get("?p=order&id=704") },
				"unenrolled": func() (int, string) { return e.get("?p=order&id=705") },
				"health":     func() (int, string) { return e.get("?p=health") },
				"retry":      func() (int, string) { return e.get("?p=retry&id=727") },
				"resend":     func() (int, string) { return e.get("?p=resend&id=702") },
				"retried":    func() (int, string) { return e.post(retry) },
				"resent":     func() (int, string) { return e.post(resend) },
				"nothing":    func() (int, string) { return e.get("?p=retry&id=707") },
				"not-found":  func() (int, string) { return e.get("?p=order&id=1") },
				"bad":        func() (int, string) { return e.get("?p=order") },
				"cross":      func() (int, string) { return e.post(retry, "Sec-Fetch-Site", "cross-site") },
			}
			for name, get := range pages {
				code, body := get()
				if code >= 500 {
					t.Errorf("%s: HTTP %d", name, code)
				}
				if m := keyRefRE.FindAllString(body, -1); len(m) > 0 {
					t.Errorf("%s: keys without words: %v", name, m)
				}
				if !strings.Contains(body, `<html lang="`+lang[:2]+`">`) {
					t.Errorf("%s: not in %s", name, lang)
				}
			}
		})
	}
}

func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "en", false)
	r := httptest.NewRequest(http.MethodGet, "http://console.test/Console", nil)
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	for _, kv := range securityHeaders {
		if got := w.Header().Get(kv[0]); got != kv[1] {
			t.Errorf("%s: %q, want %q", kv[0], got, kv[1])
		}
	}
	r = httptest.NewRequest(http.MethodDelete, "http://console.test/Console", nil)
	w = httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	if w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "GET, POST" {
		t.Errorf("DELETE: HTTP %d, Allow %q", w.Code, w.Header().Get("Allow"))
	}
}
