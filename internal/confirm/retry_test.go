package confirm

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aulasneo/wc-openedx/internal/enrollment"
	"github.com/aulasneo/wc-openedx/internal/i18n"
)

// fakeRetrier keeps orders' failed lines and the retries done (by key) in memory, with the
// domain's rules: once per key, nothing on a closed order or one without failed lines.
type fakeRetrier struct {
	mu        sync.Mutex
	orders    map[int64]*enrollment.Order
	failed    map[int64][]enrollment.LineFailure
	closed    map[int64]bool
	done      map[string]*enrollment.Action // by key
	err       error
	summaries int
	calls     int // RetryFailed calls
	queued    int // retries that queued a job
	now       time.Time
}

var _ Retrier = (*fakeRetrier)(nil)

func newFakeRetrier(now time.Time, orders ...*enrollment.Order) *fakeRetrier {
	f := &fakeRetrier{orders: map[int64]*enrollment.Order{}, failed: map[int64][]enrollment.LineFailure{},
		closed: map[int64]bool{}, done: map[string]*enrollment.Action{}, now: now}
	for _, o := range orders {
		f.orders[o.ID] = o
		f.failed[o.ID] = []enrollment.LineFailure{
			{LineName: "Python for Data Science", Course: "course-v1:Aulasneo+PY101+2026", Reason: "No course found with id course-v1:Aulasneo+PY101+2026", Attempts: 1},
		}
	}
	return f
}

func (f *fakeRetrier) state(id int64, key string) enrollment.ActionState {
	switch {
	case f.done[key] != nil:
		return enrollment.ActionReplayed
	case f.closed[id]:
		return enrollment.ActionClosed
	case len(f.failed[id]) == 0:
		return enrollment.ActionNothing
	}
	return enrollment.ActionDone
}

// view is what the domain would say about a retry of order id with key; f.mu is held.
func (f *fakeRetrier) view(id int64, key string) (enrollment.ActionView, error) {
	if f.err != nil {
		return enrollment.ActionView{}, f.err
	}
	o, ok := f.orders[id]
	if !ok {
		return enrollment.ActionView{}, enrollment.ErrOrderNotFound
	}
	return enrollment.ActionView{Order: o, State: f.state(id, key), Failed: f.failed[id], Action: f.done[key]}, nil
}

func (f *fakeRetrier) RetrySummary(_ context.Context, id int64, key string) (enrollment.ActionView, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.summaries++
	v, err := f.view(id, key)
	if err == nil && v.State == enrollment.ActionDone {
		v.State = enrollment.ActionAvailable
	}
	return v, err
}

func (f *fakeRetrier) RetryFailed(_ context.Context, id int64, key string, by enrollment.Actor) (enrollment.ActionView, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	v, err := f.view(id, key)
	if err == nil && v.State == enrollment.ActionDone {
		f.queued++
		a := &enrollment.Action{Kind: enrollment.ActionRetry, Key: key, By: by, At: f.now, Job: "retry-job"}
		f.done[key], v.Action = a, a
	}
	return v, err
}

func (f *fakeRetrier) counts() (summaries, calls, queued int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.summaries, f.calls, f.queued
}

// retryEnv is a testEnv whose Handler also serves Retry links.
func retryEnv(lang string, orders ...*enrollment.Order) (*testEnv, *fakeRetrier) {
	e := newEnv(lang, orders...)
	r := newFakeRetrier(e.now, orders...)
	e.h.Retrier = r
	return e, r
}

// retryToken is a valid Retry token for id, issued at t0.
func (e *testEnv) retryToken(id int64) string { return e.signer.SignRetry(id, t0) }

func TestRetryPageKinds(t *testing.T) {
	t.Parallel()
	closed := func(_ *testEnv, r *fakeRetrier) { r.closed[1] = true }
	nothing := func(_ *testEnv, r *fakeRetrier) { r.failed[1] = nil }
	failing := func(_ *testEnv, r *fakeRetrier) { r.err = errors.New("firestore: unavailable") }
	get := func(id int64) func(e *testEnv, tok string) *http.Request {
		return func(e *testEnv, tok string) *http.Request {
			if id != 1 {
				tok = e.retryToken(id)
			}
			return httptest.NewRequest(http.MethodGet, "/?t="+tok, nil)
		}
	}
	post := func(id int64) func(e *testEnv, tok string) *http.Request {
		return func(e *testEnv, tok string) *http.Request {
			if id != 1 {
				tok = e.retryToken(id)
			}
			r := formReq("/", tok)
			r.Header.Set("X-Forwarded-For", "198.51.100.23")
			return r
		}
	}
	signed := func(s *Signer, method string, at time.Time) func(e *testEnv, tok string) *http.Request {
		return func(e *testEnv, _ string) *http.Request {
			if s == nil {
				s = e.signer
			}
			tok := s.SignRetry(1, at)
			if method == http.MethodPost {
				return formReq("/", tok)
			}
			return httptest.NewRequest(method, "/?t="+tok, nil)
		}
	}
	other := NewSigner(otherKey, 720*time.Hour)
	tests := []struct {
		name     string
		setup    func(e *testEnv, r *fakeRetrier)
		req      func(e *testEnv, tok string) *http.Request
		twice    bool // send the request once before, as a replay
		status   int
		kind     kind
		words    []string
		wantForm bool
	}{
		{"GET", nil, get(1), false, 200, kindRetrySummary,
			[]string{"Retry the failed enrollments", "Order #A-1", "Python for Data Science", "course-v1:Aulasneo&#43;PY101&#43;2026",
				"Reason: No course found with id course-v1:Aulasneo&#43;PY101&#43;2026", `<form method="post" action="/">`, `id="retry"`,
				"Retry the failed courses", "Fix the cause first", `id="failed-lines"`, "Retrying course enrollments"}, true},
		{"POST", nil, post(1), false, 200, kindRetried,
			[]string{"Retry started", "Order #A-1", "marked Completed",
				"retried through this link on March 1, 2026, 1:00 PM UTC, from the IP address 198.51.100.23"}, false},
		{"POST replayed", nil, post(1), true, 200, kindRetryAlready,
			[]string{"Already retried", "nothing was changed", "Order #A-1", "from the IP address 198.51.100.23"}, false},
		{"GET after the POST", nil, get(1), true, 200, kindRetryAlready, []string{"Already retried", "March 1, 2026, 1:00 PM UTC"}, false},
		{"GET closed", closed, get(1), false, 409, kindClosed, []string{"This order is closed", "cannot be retried here", "Order #A-1"}, false},
		{"POST closed", closed, post(1), false, 409, kindClosed, []string{"cannot be retried here"}, false},
		{"GET nothing failed", nothing, get(1), false, 200, kindRetryNothing, []string{"Nothing to retry", "Order #A-1"}, false},
		{"POST nothing failed", nothing, post(1), false, 200, kindRetryNothing, []string{"Nothing to retry"}, false},
		{"GET unknown order", nil, get(99), false, 404, kindNotFound, []string{"Order not found", "Order #99", "To retry its enrollment"}, false},
		{"POST unknown order", nil, post(99), false, 404, kindNotFound, []string{"To retry its enrollment"}, false},
		{"GET store failing", failing, get(1), false, 503, kindLoadFailed, []string{"could not be loaded"}, false},
		{"POST store failing", failing, post(1), false, 503, kindNotRetried,
			[]string{"The retry could not be started right now", "try again", `id="retry"`}, true},
		{"GET expired", nil, signed(nil, http.MethodGet, t0.Add(-721*time.Hour)), false, 410, kindExpired,
			[]string{"This link has expired", "Links to retry an enrollment", "On hold", "Order #A-1"}, false},
		{"POST expired", nil, signed(nil, http.MethodPost, t0.Add(-721*time.Hour)), false, 410, kindExpired, []string{"Links to retry"}, false},
		{"GET forged", nil, signed(other, http.MethodGet, t0), false, 403, kindForged, []string{"This link is not valid", "On hold"}, false},
		{"POST forged", nil, signed(other, http.MethodPost, t0), false, 403, kindForged, []string{"This link is not valid", "On hold"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e, r := retryEnv("en", bacsOrder(1))
			tok := e.retryToken(1)
			if tt.setup != nil {
				tt.setup(e, r)
			}
			if tt.twice {
				e.do(post(1)(e, tok))
			}
			_, _, before := r.counts()
			body := checkPage(t, e.do(tt.req(e, tok)), tt.status, tt.kind, tt.words...)
			if has := strings.Contains(body, "<form"); has != tt.wantForm {
				t.Errorf("form shown = %v, want %v", has, tt.wantForm)
			}
			if strings.Contains(body, `id="confirm"`) || strings.Contains(body, "Confirm payment") {
				t.Error("a Retry page offers to confirm the payment")
			}
			if has := strings.Contains(body, `id="failed-lines"`); has != (tt.kind == kindRetrySummary) {
				t.Errorf("failed lines shown = %v; only the summary lists them", has)
			}
			_, _, after := r.counts()
			wantQueued := 0
			if tt.kind == kindRetried {
				wantQueued = 1
			}
			if after-before != wantQueued {
				t.Errorf("%d retries queued, want %d", after-before, wantQueued)
			}
			if _, confirms, _ := e.fake.counts(); confirms != 0 {
				t.Errorf("a Retry link called ConfirmPayment %d times", confirms)
			}
		})
	}
}

// GET of a Retry link changes nothing, however often (mail scanners follow links); the POST
// retries once, under the token's id, and records who asked.
func TestRetryGetChangesNothingPostOnce(t *testing.T) {
	t.Parallel()
	e, r := retryEnv("en", bacsOrder(1))
	tok := e.retryToken(1)
	for range 5 {
		checkPage(t, e.get(t, tok), 200, kindRetrySummary)
	}
	if s, calls, queued := r.counts(); s != 5 || calls != 0 || queued != 0 {
		t.Fatalf("after 5 GETs: %d summaries, %d retry calls, %d queued; want 5, 0, 0", s, calls, queued)
	}
	checkPage(t, e.post(t, tok), 200, kindRetried)
	for range 3 {
		checkPage(t, e.post(t, tok), 200, kindRetryAlready)
	}
	if _, calls, queued := r.counts(); calls != 4 || queued != 1 {
		t.Errorf("%d retry calls, %d queued; want 4, 1", calls, queued)
	}
	o, _ := e.signer.Open(tok, e.now)
	a := r.done[o.ID]
	if a == nil || len(r.done) != 1 {
		t.Fatalf("retries recorded %v; want one under the token's id %q", r.done, o.ID)
	}
	if a.By.Via != enrollment.ViaRetryLink || a.By.IP != "198.51.100.7" || a.By.UserAgent != "Mozilla/5.0 test" {
		t.Errorf("recorded actor %+v", a.By)
	}
	// Another Retry link of the same order (a later failure email) retries again.
	checkPage(t, e.post(t, e.retryToken(1)), 200, kindRetried)
	if _, _, queued := r.counts(); queued != 2 {
		t.Errorf("a second Retry link queued %d in all, want 2", queued)
	}
	// A token in a POST's URL retries nothing (SPEC §2.5b).
	checkPage(t, e.do(httptest.NewRequest(http.MethodPost, "/?t="+e.retryToken(1), nil)), 400, kindInvalid)
	if _, _, queued := r.counts(); queued != 2 {
		t.Errorf("a token in the URL of a POST queued a retry")
	}
}

// A confirmation token never retries and a Retry token never confirms: the token's kind,
// which its MAC covers, decides what the link does.
func TestTokenKindsDoNotCross(t *testing.T) {
	t.Parallel()
	e, r := retryEnv("en", bacsOrder(1))
	checkPage(t, e.get(t, e.retryToken(1)), 200, kindRetrySummary)
	checkPage(t, e.post(t, e.retryToken(1)), 200, kindRetried)
	if _, confirms, _ := e.fake.counts(); confirms != 0 || e.fake.state[1] != enrollment.ConfirmAwaiting {
		t.Errorf("Retry tokens confirmed the payment (%d calls, state %s)", confirms, e.fake.state[1])
	}
	_, _, queued := r.counts()
	checkPage(t, e.get(t, e.token(1)), 200, kindSummary, `id="confirm"`)
	checkPage(t, e.post(t, e.token(1)), 200, kindConfirmed)
	if s, calls, q := r.counts(); s != 1 || calls != 1 || q != queued {
		t.Errorf("a confirmation token reached the Retrier: %d summaries, %d calls", s, calls)
	}
	// A Retry token's payload with its kind byte changed is no token of either kind.
	tok := e.retryToken(1)
	for _, k := range []byte{byte(KindConfirm), 0, 3} {
		bad := retoken(t, tok, func(p []byte) { p[0] = k })
		checkPage(t, e.post(t, bad), 400, kindInvalid)
	}
	if _, calls, _ := r.counts(); calls != 1 {
		t.Errorf("an altered token reached the Retrier")
	}
}

func TestRetrySpanish(t *testing.T) {
	t.Parallel()
	e, r := retryEnv("es", bacsOrder(1))
	tok := e.retryToken(1)
	body := checkPage(t, e.get(t, tok), 200, kindRetrySummary, `<html lang="es">`, "Reintentar las inscripciones que fallaron",
		"Pedido #A-1", "Motivo: No course found", "Reintentar los cursos que fallaron", "Primero corrija la causa", "Reintento de inscripciones a cursos")
	for _, en := range []string{"Retry", "Reason", "Order #"} {
		if strings.Contains(body, en) {
			t.Errorf("Spanish page contains English %q", en)
		}
	}
	checkPage(t, e.post(t, tok), 200, kindRetried, "Reintento en curso", "se reintentaron con este enlace el 1 de marzo de 2026, 13:00 UTC")
	checkPage(t, e.post(t, tok), 200, kindRetryAlready, "Ya se reintentó")
	checkPage(t, e.get(t, e.signer.SignRetry(1, t0.Add(-800*time.Hour))), 410, kindExpired, "Los enlaces para reintentar", "«En espera»")
	checkPage(t, e.get(t, NewSigner(otherKey, time.Hour).SignRetry(1, t0)), 403, kindForged, "Este enlace no es válido", "«En espera»")
	checkPage(t, e.get(t, e.retryToken(5)), 404, kindNotFound, "Para reintentar su inscripción")
	r.closed[1] = true
	checkPage(t, e.get(t, e.retryToken(1)), 409, kindClosed, "no se pueden reintentar aquí")
	r.closed[1], r.failed[1] = false, nil
	checkPage(t, e.get(t, e.retryToken(1)), 200, kindRetryNothing, "No hay nada que reintentar")
}

// Every Retry page has its words in both languages, and both languages override the same
// shared pages.
func TestRetryCatalogComplete(t *testing.T) {
	t.Parallel()
	own := []kind{kindRetrySummary, kindRetried, kindRetryAlready, kindRetryNothing, kindNotRetried}
	shared := []kind{kindClosed, kindExpired, kindForged, kindNotFound}
	for _, lang := range i18n.Languages() {
		tx := textsFor(lang)
		if len(tx.RetryPages) != len(own)+len(shared) {
			t.Errorf("%s: %d Retry pages, want %d", lang, len(tx.RetryPages), len(own)+len(shared))
		}
		for _, k := range append(own, shared...) {
			if p := tx.RetryPages[k]; p.Title == "" || p.Lead == "" {
				t.Errorf("%s: Retry page %s lacks words", lang, k)
			}
		}
		for _, k := range shared {
			if tx.RetryPages[k] == tx.Pages[k] {
				t.Errorf("%s: Retry page %s says what the Confirm page says", lang, k)
			}
		}
		for name, s := range map[string]string{"Course": tx.Course, "Reason": tx.Reason, "Retry": tx.Retry, "RetryCheck": tx.RetryCheck, "RetryFooter": tx.RetryFooter, "RetriedBy": tx.RetriedBy} {
			if s == "" {
				t.Errorf("%s: %s is empty", lang, name)
			}
		}
	}
}

func TestRetryPageEscapesLines(t *testing.T) {
	t.Parallel()
	e, r := retryEnv("en", bacsOrder(1))
	r.failed[1] = []enrollment.LineFailure{{LineName: `<script>alert(1)</script>`, Course: `course-v1:"><img src=x>`, Reason: "<b>bold</b>", Attempts: 1}}
	body := checkPage(t, e.get(t, e.retryToken(1)), 200, kindRetrySummary, "&lt;script&gt;alert(1)&lt;/script&gt;", "&lt;b&gt;bold&lt;/b&gt;")
	for _, bad := range []string{"<img", "<b>bold"} {
		if strings.Contains(body, bad) {
			t.Errorf("page contains unescaped %q", bad)
		}
	}
}
