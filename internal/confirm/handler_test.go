package confirm

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aulasneo/wc-openedx/internal/enrollment"
	"github.com/aulasneo/wc-openedx/internal/i18n"
)

// fakeConfirmer keeps orders and their confirmation state in memory and counts calls.
type fakeConfirmer struct {
	mu         sync.Mutex
	orders     map[int64]*enrollment.Order
	state      map[int64]enrollment.ConfirmState
	err        error // returned by both methods when set
	summaries  int
	confirms   int // ConfirmPayment calls
	queued     int // confirmations that changed the state (would queue enrollment)
	recorded   []enrollment.Confirmation
	who        map[int64]*enrollment.Confirmation
	summaryErr error // returned by ConfirmationSummary only, when set
}

var _ enrollment.Confirmer = (*fakeConfirmer)(nil)

func newFake(orders ...*enrollment.Order) *fakeConfirmer {
	f := &fakeConfirmer{orders: map[int64]*enrollment.Order{}, state: map[int64]enrollment.ConfirmState{}, who: map[int64]*enrollment.Confirmation{}}
	for _, o := range orders {
		f.orders[o.ID] = o
		f.state[o.ID] = enrollment.ConfirmAwaiting
	}
	return f
}

func (f *fakeConfirmer) ConfirmationSummary(_ context.Context, id int64) (enrollment.ConfirmView, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.summaries++
	if f.err != nil {
		return enrollment.ConfirmView{}, f.err
	}
	if f.summaryErr != nil {
		return enrollment.ConfirmView{}, f.summaryErr
	}
	o, ok := f.orders[id]
	if !ok {
		return enrollment.ConfirmView{}, enrollment.ErrOrderNotFound
	}
	return enrollment.ConfirmView{Order: o, State: f.state[id], Confirmed: f.who[id]}, nil
}

func (f *fakeConfirmer) ConfirmPayment(_ context.Context, id int64, who enrollment.Confirmation) (enrollment.ConfirmView, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.confirms++
	if f.err != nil {
		return enrollment.ConfirmView{}, f.err
	}
	o, ok := f.orders[id]
	if !ok {
		return enrollment.ConfirmView{}, enrollment.ErrOrderNotFound
	}
	before := f.state[id]
	if before == enrollment.ConfirmAwaiting {
		f.state[id] = enrollment.ConfirmDone
		f.queued++
		f.recorded = append(f.recorded, who)
		f.who[id] = &who
	}
	return enrollment.ConfirmView{Order: o, State: before, Confirmed: f.who[id]}, nil
}

func (f *fakeConfirmer) counts() (summaries, confirms, queued int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.summaries, f.confirms, f.queued
}

func bacsOrder(id int64) *enrollment.Order {
	return &enrollment.Order{
		ID:                 id,
		Number:             "A-" + strconv.FormatInt(id, 10),
		Status:             enrollment.StatusOnHold,
		Currency:           "ARS",
		Total:              "150000.00",
		PaymentMethod:      "bacs",
		PaymentMethodTitle: "Direct bank transfer",
		DateCreated:        time.Date(2026, 2, 27, 9, 30, 0, 0, time.UTC),
		Billing:            enrollment.Person{FirstName: "Ana", LastName: "Pérez", Email: "ana@example.com"},
		Lines: []enrollment.LineItem{
			{ID: 1, Name: "Python for Data Science", Quantity: 1, Total: "100000.00", SKU: "course-v1:Aulasneo+PY101+2026"},
			{ID: 2, Name: "Intro to Open edX", Quantity: 2, Total: "50000.00", SKU: "course-v1:Aulasneo+OX+2026"},
		},
	}
}

type testEnv struct {
	h      *Handler
	fake   *fakeConfirmer
	signer *Signer
	now    time.Time
	logs   *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newEnv(lang string, orders ...*enrollment.Order) *testEnv {
	now := t0.Add(time.Hour)
	logs := &syncBuffer{}
	e := &testEnv{
		fake:   newFake(orders...),
		signer: NewSigner(testKey, 720*time.Hour),
		now:    now,
		logs:   logs,
	}
	e.h = &Handler{
		Signer:    e.signer,
		Confirmer: e.fake,
		Language:  lang,
		ShopName:  "Aulasneo Shop",
		Now:       func() time.Time { return now },
		Log:       slog.New(slog.NewJSONHandler(logs, nil)),
	}
	return e
}

// token is a valid token for id, issued at t0.
func (e *testEnv) token(id int64) string { return e.signer.Sign(id, t0) }

func (e *testEnv) get(t *testing.T, token string) *httptest.ResponseRecorder {
	t.Helper()
	target := "/"
	if token != "" {
		target = "/?t=" + url.QueryEscape(token)
	}
	return e.do(httptest.NewRequest(http.MethodGet, target, nil))
}

func (e *testEnv) post(t *testing.T, token string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(url.Values{"t": {token}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("User-Agent", "Mozilla/5.0 test")
	r.RemoteAddr = "198.51.100.7:5555"
	return e.do(r)
}

func (e *testEnv) do(r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	return w
}

var wantHeaders = map[string]string{
	"Cache-Control":           "no-store",
	"Referrer-Policy":         "no-referrer",
	"X-Robots-Tag":            "noindex, nofollow",
	"X-Content-Type-Options":  "nosniff",
	"X-Frame-Options":         "DENY",
	"Content-Type":            "text/html; charset=utf-8",
	"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
}

// checkPage asserts the status, every header, the robots meta tag, the title element and the
// page kind (the id of <main>), and that body contains each of words.
func checkPage(t *testing.T, w *httptest.ResponseRecorder, status int, k kind, words ...string) string {
	t.Helper()
	body := w.Body.String()
	if w.Code != status {
		t.Errorf("status = %d, want %d", w.Code, status)
	}
	for h, v := range wantHeaders {
		if got := w.Header().Get(h); got != v {
			t.Errorf("header %s = %q, want %q", h, got, v)
		}
	}
	for _, s := range []string{
		`<meta name="robots" content="noindex,nofollow">`,
		`<h1 id="title">`,
		`<main id="` + string(k) + `"`,
	} {
		if !strings.Contains(body, s) {
			t.Errorf("page lacks %s", s)
		}
	}
	for _, s := range words {
		if !strings.Contains(body, s) {
			t.Errorf("page lacks %q", s)
		}
	}
	if strings.Contains(body, "<script") {
		t.Error("page contains a script element")
	}
	if t.Failed() {
		t.Logf("body:\n%s", body)
	}
	return body
}

func TestEveryPageKind(t *testing.T) {
	t.Parallel()
	type setup func(e *testEnv)
	handled := func(e *testEnv) { e.fake.state[1] = enrollment.ConfirmHandled }
	done := func(e *testEnv) { e.fake.state[1] = enrollment.ConfirmDone }
	failing := func(e *testEnv) { e.fake.err = errors.New("firestore: unavailable") }
	tests := []struct {
		name   string
		setup  setup
		req    func(e *testEnv) *http.Request
		status int
		kind   kind
		words  []string
	}{
		{"GET awaiting", nil, getReq(1), 200, kindSummary,
			[]string{"Confirm payment", "Order #A-1", "Ana Pérez", "ana@example.com", "Direct bank transfer",
				"Python for Data Science", "100,000.00 ARS", "150,000.00 ARS", "February 27, 2026, 9:30 AM",
				`<form method="post" action="/">`, `name="t"`, `id="confirm"`, "Confirm payment received"}},
		{"GET done", done, getReq(1), 200, kindAlready, []string{"already confirmed", "Order #A-1", "nothing more to do"}},
		{"GET handled", handled, getReq(1), 200, kindHandled, []string{"already being handled", "Processing or Completed", "Order #A-1"}},
		{"POST awaiting", nil, postReq(1), 200, kindConfirmed, []string{"Payment confirmed", "being enrolled", "marked Completed", "Order #A-1"}},
		{"POST done", done, postReq(1), 200, kindAlready, []string{"already confirmed", "nothing more to do"}},
		{"POST handled", handled, postReq(1), 200, kindHandled, []string{"already being handled"}},
		{"GET missing token", nil, rawReq(http.MethodGet, "/", ""), 400, kindInvalid, []string{"incomplete or damaged"}},
		{"GET malformed", nil, rawReq(http.MethodGet, "/?t=hello", ""), 400, kindInvalid, []string{"incomplete or damaged"}},
		{"POST missing token", nil, rawReq(http.MethodPost, "/", ""), 400, kindInvalid, []string{"incomplete or damaged"}},
		{"GET forged", nil, otherKeyReq(http.MethodGet), 403, kindForged, []string{"This link is not valid"}},
		{"POST forged", nil, otherKeyReq(http.MethodPost), 403, kindForged, []string{"This link is not valid"}},
		{"GET expired", nil, expiredReq(http.MethodGet), 410, kindExpired,
			[]string{"This link has expired", "change its status to Processing", "Order #A-1"}},
		{"POST expired", nil, expiredReq(http.MethodPost), 410, kindExpired, []string{"This link has expired", "Processing"}},
		{"GET unknown order", nil, getReq(99), 404, kindNotFound, []string{"Order not found", "Order #99"}},
		{"POST unknown order", nil, postReq(99), 404, kindNotFound, []string{"Order not found"}},
		{"GET store failing", failing, getReq(1), 503, kindLoadFailed, []string{"could not be loaded", "reload"}},
		{"POST store failing", failing, postReq(1), 503, kindNotConfirmed,
			[]string{"could not be confirmed right now", "try again", `id="confirm"`}},
		{"PUT", nil, rawReq(http.MethodPut, "/", ""), 405, kindMethod, nil},
		{"DELETE with token", nil, func(e *testEnv) *http.Request {
			return httptest.NewRequest(http.MethodDelete, "/?t="+e.token(1), nil)
		}, 405, kindMethod, nil},
		{"POST too large", nil, rawReq(http.MethodPost, "/", "t="+strings.Repeat("a", maxBody+1)), 413, kindBadRequest, []string{"could not be read"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv("en", bacsOrder(1))
			if tt.setup != nil {
				tt.setup(e)
			}
			w := e.do(tt.req(e))
			body := checkPage(t, w, tt.status, tt.kind, tt.words...)
			if tt.status == http.StatusMethodNotAllowed {
				if got := w.Header().Get("Allow"); got != "GET, POST" {
					t.Errorf("Allow = %q, want GET, POST", got)
				}
			}
			// Only a valid, awaiting order may show the Confirm button (and the 503 retry).
			hasForm := strings.Contains(body, "<form")
			wantForm := tt.kind == kindSummary || tt.kind == kindNotConfirmed
			if hasForm != wantForm {
				t.Errorf("form shown = %v, want %v", hasForm, wantForm)
			}
			if tt.status >= 400 && tt.status != 503 {
				if _, _, queued := e.fake.counts(); queued != 0 {
					t.Errorf("error page queued %d confirmations", queued)
				}
			}
		})
	}
}

func getReq(id int64) func(e *testEnv) *http.Request {
	return func(e *testEnv) *http.Request {
		return httptest.NewRequest(http.MethodGet, "/?t="+e.token(id), nil)
	}
}

func postReq(id int64) func(e *testEnv) *http.Request {
	return func(e *testEnv) *http.Request { return formReq("/", e.token(id)) }
}

func rawReq(method, target, body string) func(e *testEnv) *http.Request {
	return func(*testEnv) *http.Request {
		r := httptest.NewRequest(method, target, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return r
	}
}

func otherKeyReq(method string) func(e *testEnv) *http.Request {
	return func(*testEnv) *http.Request {
		tok := NewSigner(otherKey, 720*time.Hour).Sign(1, t0)
		if method == http.MethodPost {
			return formReq("/", tok)
		}
		return httptest.NewRequest(method, "/?t="+tok, nil)
	}
}

func expiredReq(method string) func(e *testEnv) *http.Request {
	return func(e *testEnv) *http.Request {
		tok := e.signer.Sign(1, t0.Add(-721*time.Hour))
		if method == http.MethodPost {
			return formReq("/", tok)
		}
		return httptest.NewRequest(method, "/?t="+tok, nil)
	}
}

func formReq(target, token string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, target, strings.NewReader(url.Values{"t": {token}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

func TestGetChangesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv("en", bacsOrder(1))
	for range 3 {
		checkPage(t, e.get(t, e.token(1)), 200, kindSummary)
	}
	summaries, confirms, queued := e.fake.counts()
	if confirms != 0 || queued != 0 {
		t.Errorf("GET called ConfirmPayment %d times (queued %d), want 0", confirms, queued)
	}
	if summaries != 3 {
		t.Errorf("ConfirmationSummary calls = %d, want 3", summaries)
	}
	if e.fake.state[1] != enrollment.ConfirmAwaiting {
		t.Errorf("state after GETs = %q, want awaiting", e.fake.state[1])
	}
}

func TestPostConfirmsOnce(t *testing.T) {
	t.Parallel()
	e := newEnv("en", bacsOrder(1))
	tok := e.token(1)

	checkPage(t, e.post(t, tok), 200, kindConfirmed, "Payment confirmed", "being enrolled", "marked Completed")
	checkPage(t, e.post(t, tok), 200, kindAlready, "already confirmed", "nothing more to do")
	// A GET afterwards shows the same, without a button.
	body := checkPage(t, e.get(t, tok), 200, kindAlready)
	if strings.Contains(body, `id="confirm"`) {
		t.Error("confirmed order still shows the Confirm button")
	}

	_, confirms, queued := e.fake.counts()
	if confirms != 2 || queued != 1 {
		t.Errorf("ConfirmPayment calls = %d, confirmations = %d; want 2 and 1", confirms, queued)
	}
	who := e.fake.recorded[0]
	want := enrollment.Confirmation{At: e.now, IP: "198.51.100.7", UserAgent: "Mozilla/5.0 test"}
	if who != want {
		t.Errorf("recorded %+v, want %+v", who, want)
	}
	if !strings.Contains(e.logs.String(), `"order_id":1`) {
		t.Errorf("logs do not name the order:\n%s", e.logs.String())
	}
}

// A POST's token is read from the body only (SPEC §2.5b): one in the query string, where
// request logs would keep it, confirms nothing.
func TestPostTokenInQuery(t *testing.T) {
	t.Parallel()
	e := newEnv("en", bacsOrder(1))
	r := httptest.NewRequest(http.MethodPost, "/?t="+e.token(1), nil)
	checkPage(t, e.do(r), 400, kindInvalid)
	if _, _, queued := e.fake.counts(); queued != 0 {
		t.Errorf("a token in a POST's URL queued %d enrollments", queued)
	}
	// A forged field is not rescued by a good query either.
	e2 := newEnv("en", bacsOrder(1))
	checkPage(t, e2.do(formReq("/?t="+e2.token(1), NewSigner(otherKey, time.Hour).Sign(1, t0))), 403, kindForged)
	if _, _, queued := e2.fake.counts(); queued != 0 {
		t.Errorf("queued %d", queued)
	}
}

// Every form posts to the bare path, so the token is never in a POST's URL.
func TestFormPostsToBarePath(t *testing.T) {
	t.Parallel()
	e := newEnv("en", bacsOrder(1))
	r := httptest.NewRequest(http.MethodGet, "/Confirm?t="+e.token(1)+"&utm_source=mail", nil)
	body := checkPage(t, e.do(r), 200, kindSummary, `<form method="post" action="/Confirm">`)
	if strings.Count(body, "<form") != 1 || strings.Contains(body, `action="/Confirm?`) {
		t.Errorf("the form posts to the URL with its query string:\n%s", body)
	}
	e.fake.err = errors.New("deadline exceeded")
	w := e.do(formReq("/Confirm", e.token(1)))
	checkPage(t, w, 503, kindNotConfirmed, `<form method="post" action="/Confirm">`)
}

// Once confirmed, the page says who confirmed and when, and shows none of the customer's
// details (the link may be forwarded or left open on a shared screen).
func TestConfirmedPageNamesWhoAndWhen(t *testing.T) {
	t.Parallel()
	for _, lang := range []string{"en", "es"} {
		e := newEnv(lang, bacsOrder(1))
		r := formReq("/", e.token(1))
		r.Header.Set("X-Forwarded-For", "198.51.100.23")
		want := map[string]string{
			"en": "confirmed through this link on March 1, 2026, 1:00 PM UTC, from the IP address 198.51.100.23",
			"es": "se confirmó con este enlace el 1 de marzo de 2026, 13:00 UTC, desde la dirección IP 198.51.100.23",
		}[lang]
		for i, w := range []*httptest.ResponseRecorder{e.do(r), e.post(t, e.token(1)), e.get(t, e.token(1))} {
			body := w.Body.String()
			if !strings.Contains(body, want) {
				t.Errorf("%s page %d does not say who and when (%q):\n%s", lang, i, want, body)
			}
			for _, private := range []string{"Ana", "Pérez", "ana@example.com", "Python for Data Science", "150000"} {
				if strings.Contains(body, private) {
					t.Errorf("%s page %d shows the customer's %q after confirmation", lang, i, private)
				}
			}
		}
	}
}

func TestClientIP(t *testing.T) {
	t.Parallel()
	tests := []struct{ xff, remote, want string }{
		{"", "198.51.100.7:5555", "198.51.100.7"},
		{"203.0.113.9", "10.0.0.1:1", "203.0.113.9"},
		// Cloud Run's front end appends the address it saw; what comes before is the
		// client's to write, so a forged first hop is never recorded.
		{" 203.0.113.9 , 10.1.1.1, 10.2.2.2", "10.0.0.1:1", "10.2.2.2"},
		{"1.2.3.4, 2001:db8::1", "10.0.0.1:1", "2001:db8::1"},
		{"forged-by-client, 198.51.100.23 ", "10.0.0.1:1", "198.51.100.23"},
		{"", "[2001:db8::2]:443", "2001:db8::2"},
		{"", "not-an-address", "not-an-address"},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		r.RemoteAddr = tt.remote
		if tt.xff != "" {
			r.Header.Set("X-Forwarded-For", tt.xff)
		}
		if got := clientIP(r); got != tt.want {
			t.Errorf("clientIP(xff=%q, remote=%q) = %q, want %q", tt.xff, tt.remote, got, tt.want)
		}
	}
}

func TestBadTokensChangeNothing(t *testing.T) {
	t.Parallel()
	e := newEnv("en", bacsOrder(1), bacsOrder(2))
	good1, good2 := e.token(1), e.token(2)
	p1, _, _ := strings.Cut(good1, ".")
	_, mac2, _ := strings.Cut(good2, ".")
	tests := []struct {
		name   string
		token  string
		status int
		kind   kind
		words  []string
	}{
		{"empty", "", 400, kindInvalid, []string{"incomplete or damaged", "Open the link again"}},
		{"malformed", "not-a-token", 400, kindInvalid, []string{"incomplete or damaged"}},
		{"truncated", good1[:30], 400, kindInvalid, []string{"incomplete or damaged"}},
		{"extra dots", good1 + ".x", 400, kindInvalid, []string{"incomplete or damaged"}},
		{"order 1 with order 2's signature", p1 + "." + mac2, 403, kindForged, []string{"This link is not valid", "altered"}},
		{"order id changed", retoken(t, good2, func(p []byte) { p[8] = 1 }), 403, kindForged, []string{"not valid"}},
		{"other key", NewSigner(otherKey, 720*time.Hour).Sign(1, t0), 403, kindForged, []string{"not valid"}},
		{"expired", e.signer.Sign(1, e.now.Add(-720*time.Hour)), 410, kindExpired,
			[]string{"This link has expired", "open the order in WooCommerce, change its status to Processing and click Update"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, do := range []func(*testing.T, string) *httptest.ResponseRecorder{e.get, e.post} {
				body := checkPage(t, do(t, tt.token), tt.status, tt.kind, tt.words...)
				if strings.Contains(body, "ana@example.com") {
					t.Error("an unusable token revealed the customer's email")
				}
			}
		})
	}
	if _, confirms, _ := e.fake.counts(); confirms != 0 {
		t.Errorf("bad tokens reached ConfirmPayment %d times", confirms)
	}
	for id, s := range e.fake.state {
		if s != enrollment.ConfirmAwaiting {
			t.Errorf("order %d state = %q", id, s)
		}
	}
}

// A valid token for another order acts on that order only.
func TestOtherOrdersToken(t *testing.T) {
	t.Parallel()
	e := newEnv("en", bacsOrder(1), bacsOrder(2))
	checkPage(t, e.post(t, e.token(2)), 200, kindConfirmed, "Order #A-2")
	if e.fake.state[1] != enrollment.ConfirmAwaiting || e.fake.state[2] != enrollment.ConfirmDone {
		t.Errorf("states = %v, want only order 2 confirmed", e.fake.state)
	}
}

func TestSpanish(t *testing.T) {
	t.Parallel()
	e := newEnv("es", bacsOrder(1))
	tok := e.token(1)
	body := checkPage(t, e.get(t, tok), 200, kindSummary,
		`<html lang="es">`, "Confirmar pago", "Pedido #A-1", "Cliente", "Correo electrónico", "Método de pago",
		"Total del pedido", "27 de febrero de 2026, 09:30", "Confirmar pago recibido", "100.000,00 ARS", "150.000,00 ARS")
	for _, en := range []string{"Confirm payment", "Customer", "Order total", "Payment method"} {
		if strings.Contains(body, en) {
			t.Errorf("Spanish page contains English %q", en)
		}
	}
	checkPage(t, e.post(t, tok), 200, kindConfirmed, "Pago confirmado", "Se está inscribiendo al cliente", "«Completado»")
	checkPage(t, e.post(t, tok), 200, kindAlready, "ya estaba confirmado", "No hay nada más que hacer", "El pago se confirmó con este enlace el ")
	checkPage(t, e.get(t, e.signer.Sign(1, e.now.Add(-800*time.Hour))), 410, kindExpired,
		"Este enlace ha vencido", "cambie su estado a «Procesando» y pulse «Actualizar»")
	checkPage(t, e.get(t, NewSigner(otherKey, time.Hour).Sign(1, t0)), 403, kindForged, "Este enlace no es válido")
	checkPage(t, e.get(t, "x"), 400, kindInvalid, "incompleto o dañado")
	checkPage(t, e.get(t, e.token(5)), 404, kindNotFound, "Pedido no encontrado")
	checkPage(t, e.do(httptest.NewRequest(http.MethodPatch, "/", nil)), 405, kindMethod, "solo abre enlaces de confirmación")
	e.fake.state[1] = enrollment.ConfirmHandled
	checkPage(t, e.get(t, tok), 200, kindHandled, "ya se está gestionando")
	e.fake.state[1] = enrollment.ConfirmClosed
	checkPage(t, e.get(t, tok), 409, kindClosed, "está cerrado")
}

// Every page kind has its words in both languages.
func TestCatalogComplete(t *testing.T) {
	t.Parallel()
	all := []kind{kindSummary, kindConfirmed, kindAlready, kindHandled, kindClosed, kindInvalid, kindBadRequest,
		kindForged, kindNotFound, kindMethod, kindExpired, kindLoadFailed, kindNotConfirmed}
	for _, lang := range i18n.Languages() {
		tx := textsFor(lang)
		if len(tx.Pages) != len(all) {
			t.Errorf("%s: %d pages, want %d", lang, len(tx.Pages), len(all))
		}
		for _, k := range all {
			if p := tx.Pages[k]; p.Title == "" || p.Lead == "" {
				t.Errorf("%s: page %s lacks words", lang, k)
			}
		}
	}
}

func TestEscapesOrderData(t *testing.T) {
	t.Parallel()
	o := bacsOrder(1)
	o.Billing.FirstName = `<script>alert("x")</script>`
	o.Billing.Email = `"><img src=x onerror=alert(1)>@example.com`
	o.Number = `<b>7</b>`
	o.Lines[0].Name = `</td><script>alert(2)</script>`
	o.PaymentMethodTitle = `<i>Bank</i>`
	e := newEnv("en", o)
	for i, w := range []*httptest.ResponseRecorder{e.get(t, e.token(1)), e.post(t, e.token(1))} {
		body := w.Body.String()
		if i == 1 {
			// The confirmed page shows no customer data; only the number remains.
			if !strings.Contains(body, "&lt;b&gt;7&lt;/b&gt;") || strings.Contains(body, "<b>7") || strings.Contains(body, "alert") {
				t.Errorf("confirmed page escaping:\n%s", body)
			}
			continue
		}
		for _, bad := range []string{"<script", "<img", "<b>7", "<i>Bank"} {
			if strings.Contains(body, bad) {
				t.Errorf("page contains unescaped %q", bad)
			}
		}
		for _, good := range []string{"&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;", "&lt;b&gt;7&lt;/b&gt;", "&lt;img src=x"} {
			if !strings.Contains(body, good) {
				t.Errorf("page lacks escaped %q", good)
			}
		}
	}
}

func TestNilOrderFromConfirmer(t *testing.T) {
	t.Parallel()
	e := newEnv("en")
	e.h.Confirmer = nilOrderConfirmer{}
	checkPage(t, e.get(t, e.token(3)), 200, kindSummary, "Order #3", `id="confirm"`)
	checkPage(t, e.post(t, e.token(3)), 200, kindConfirmed, "Order #3")
}

type nilOrderConfirmer struct{}

func (nilOrderConfirmer) ConfirmationSummary(context.Context, int64) (enrollment.ConfirmView, error) {
	return enrollment.ConfirmView{State: enrollment.ConfirmAwaiting}, nil
}

func (nilOrderConfirmer) ConfirmPayment(context.Context, int64, enrollment.Confirmation) (enrollment.ConfirmView, error) {
	return enrollment.ConfirmView{State: enrollment.ConfirmAwaiting}, nil
}

func TestErrorsAreLogged(t *testing.T) {
	t.Parallel()
	e := newEnv("en", bacsOrder(1))
	e.fake.err = errors.New("deadline exceeded")
	checkPage(t, e.post(t, e.token(1)), 503, kindNotConfirmed)
	logs := e.logs.String()
	if !strings.Contains(logs, "deadline exceeded") || !strings.Contains(logs, `"level":"ERROR"`) {
		t.Errorf("503 not logged as an error:\n%s", logs)
	}
	if strings.Contains(logs, e.token(1)) {
		t.Error("logs contain the token")
	}
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	// No Now, no Log, unknown language: English, real clock, silent.
	s := NewSigner(testKey, time.Hour)
	h := &Handler{Signer: s, Confirmer: newFake(bacsOrder(1)), Language: "fr"}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/?t="+s.Sign(1, time.Now()), nil))
	checkPage(t, w, 200, kindSummary, `<html lang="en">`, "Confirm payment received")
	body, _ := io.ReadAll(w.Result().Body)
	if len(body) == 0 {
		t.Error("empty body")
	}
}
