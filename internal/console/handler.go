// Package console is the Console function (SPEC §1): server-rendered pages (html/template,
// nothing to build) for the shop's operators: the orders, newest first, by stage or searched
// by number or buyer email; one order's timeline; the service's health; and two actions,
// each confirmed on a page and recorded on the order with who did it: retry the failed
// lines, and send the payment confirmation email again.
//
// Every page is a GET of the one path the function is served at (/Console locally, / on its
// own Cloud Run service), chosen by the query string (?p=order&id=727), so it works wherever
// it is mounted. The actions are POST forms to the same path.
package console

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/aulasneo/wc-openedx/internal/enrollment"
	"github.com/aulasneo/wc-openedx/internal/store"
)

// Reader is what the Console reads. Implemented by *store.Store.
type Reader interface {
	Orders(ctx context.Context, q store.OrderQuery) (store.OrderPage, error)
	Get(ctx context.Context, orderID int64) (*enrollment.OrderRecord, error)
	Deliveries(ctx context.Context, orderID int64) ([]enrollment.Delivery, error)
	Events(ctx context.Context, orderID int64) ([]enrollment.Event, error)
	LoadSweep(ctx context.Context) (enrollment.SweepState, error)
	LastSweepRun(ctx context.Context) (*store.SweepRun, error)
	OutboxBacklog(ctx context.Context) (store.Backlog, error)
	DeadLetters(ctx context.Context, limit int) ([]store.DeadLetter, error)
}

var _ Reader = (*store.Store)(nil)

// Actions are the two things an operator can do. Implemented by *enrollment.Service.
type Actions interface {
	RetrySummary(ctx context.Context, orderID int64, key string) (enrollment.ActionView, error)
	RetryFailed(ctx context.Context, orderID int64, key string, by enrollment.Actor) (enrollment.ActionView, error)
	ResendSummary(ctx context.Context, orderID int64, key string) (enrollment.ActionView, error)
	ResendConfirmation(ctx context.Context, orderID int64, key string, by enrollment.Actor) (enrollment.ActionView, error)
}

var _ Actions = (*enrollment.Service)(nil)

// Handler is the Console function.
type Handler struct {
	Store    Reader
	Actions  Actions
	Language string // "en" or "es"; anything else is "en"
	ShopName string // shown above every page's title
	ShopURL  string // WC_URL: each order page links to the order in WooCommerce's admin
	// CloudRun: the process runs on Cloud Run (K_SERVICE is set). The operator is then who
	// Cloud Run verified (identity.go), and a request without one is refused.
	CloudRun bool
	// PageSize is how many orders a list page shows (50 when 0).
	PageSize int
	Now      func() time.Time
	Log      *slog.Logger
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now().UTC()
	}
	return time.Now().UTC()
}

func (h *Handler) log() *slog.Logger {
	if h.Log != nil {
		return h.Log
	}
	return slog.New(slog.DiscardHandler)
}

// maxBody bounds a POST: the forms hold three short fields.
const maxBody = 16 << 10

// defaultPageSize is how many orders a list page shows by default.
const defaultPageSize = 50

// Headers of every answer: the pages load nothing and run no script, post their forms only to
// the Console, and may not be framed (no clickjacking of the action buttons).
var securityHeaders = [][2]string{
	{"Content-Type", "text/html; charset=utf-8"},
	{"Cache-Control", "no-store"},
	{"Referrer-Policy", "same-origin"},
	{"X-Robots-Tag", "noindex, nofollow"},
	{"X-Content-Type-Options", "nosniff"},
	{"X-Frame-Options", "DENY"},
	{"Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"},
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t := textsFor(h.Language)
	who, err := h.operator(r)
	if err != nil {
		// On Cloud Run without an identity Cloud Run verified: nothing is shown or done
		// (the pages hold buyers' names and emails).
		h.log().WarnContext(r.Context(), "console request without a verified operator", "error", err, "method", r.Method)
		h.render(w, http.StatusForbidden, page{Kind: "forbidden", Title: t.T("err.whoTitle"), Message: t.T("err.who")}, t, "")
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		h.get(w, r, t, who)
	case http.MethodPost:
		h.post(w, r, t, who)
	default:
		w.Header().Set("Allow", "GET, POST")
		h.render(w, http.StatusMethodNotAllowed, page{Kind: "error", Title: t.T("err.methodTitle"), Message: t.T("err.method")}, t, who)
	}
}

func (h *Handler) get(w http.ResponseWriter, r *http.Request, t texts, who string) {
	q := r.URL.Query()
	switch q.Get("p") {
	case "order":
		h.orderPage(w, r, t, who)
	case "health":
		h.healthPage(w, r, t, who)
	case "retry", "resend":
		h.confirmPage(w, r, t, who, q.Get("p"))
	default:
		h.listPage(w, r, t, who)
	}
}

// page is what the templates render.
type page struct {
	Kind    string // the id of <main>: orders, order, health, retry, resend, result, …
	Title   string
	Message string
	Base    string // the Console's path: links are Base + "?…"
	List    *listView
	Order   *orderView
	Health  *healthView
	Action  *actionView
}

// data is the root of a template: the page and its surroundings.
type data struct {
	page
	T        texts
	Lang     string
	Shop     string
	Operator string
	Local    bool
}

func (h *Handler) render(w http.ResponseWriter, status int, p page, t texts, who string) {
	var buf bytes.Buffer
	d := data{page: p, T: t, Lang: t.lang, Shop: h.ShopName, Operator: who, Local: !h.CloudRun}
	if err := templates.ExecuteTemplate(&buf, "layout", d); err != nil {
		// Only a programming error gets here; the tests render every page.
		h.log().Error("render console page", "page", p.Kind, "error", err)
		buf.Reset()
		buf.WriteString("<!doctype html><title>Error</title><h1>Error</h1>")
		status = http.StatusInternalServerError
	}
	hd := w.Header()
	for _, kv := range securityHeaders {
		hd.Set(kv[0], kv[1])
	}
	hd.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// failStore renders the page for a read that failed: not found, or Firestore down.
func (h *Handler) failStore(w http.ResponseWriter, r *http.Request, t texts, who string, id int64, err error) {
	if errors.Is(err, enrollment.ErrOrderNotFound) {
		h.render(w, http.StatusNotFound, page{Kind: "not-found", Title: t.T("err.notFoundTitle"), Message: t.T("err.notFound", "#"+strconv.FormatInt(id, 10)), Base: r.URL.Path}, t, who)
		return
	}
	if errors.Is(err, store.ErrBadCursor) {
		h.render(w, http.StatusBadRequest, page{Kind: "bad-request", Title: t.T("err.badTitle"), Message: t.T("err.bad"), Base: r.URL.Path}, t, who)
		return
	}
	h.log().ErrorContext(r.Context(), "console could not read the store", "order", id, "error", err)
	h.render(w, http.StatusServiceUnavailable, page{Kind: "unavailable", Title: t.T("err.downTitle"), Message: t.T("err.down"), Base: r.URL.Path}, t, who)
}

func (h *Handler) badRequest(w http.ResponseWriter, r *http.Request, t texts, who string) {
	h.render(w, http.StatusBadRequest, page{Kind: "bad-request", Title: t.T("err.badTitle"), Message: t.T("err.bad"), Base: r.URL.Path}, t, who)
}

// orderID reads the id parameter; 0 when it is not a positive number.
func orderID(v string) int64 {
	id, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || id <= 0 {
		return 0
	}
	return id
}

// listPage: the orders, newest first, by stage, or those a search finds.
func (h *Handler) listPage(w http.ResponseWriter, r *http.Request, t texts, who string) {
	q := r.URL.Query()
	lv := &listView{Stage: q.Get("stage"), Search: strings.TrimSpace(q.Get("q"))}
	if lv.Stage != "" && !validStage(lv.Stage) {
		h.badRequest(w, r, t, who)
		return
	}
	size := h.PageSize
	if size <= 0 {
		size = defaultPageSize
	}
	oq := store.OrderQuery{Stage: lv.Stage, After: q.Get("after"), Limit: size}
	switch s := lv.Search; {
	case strings.Contains(s, "@"):
		oq.BuyerEmail = s
	case s != "":
		oq.Number = s
	}
	res, err := h.Store.Orders(r.Context(), oq)
	if err != nil {
		h.failStore(w, r, t, who, 0, err)
		return
	}
	lv.fill(res, t, r.URL.Path, q.Get("after") != "")
	h.render(w, http.StatusOK, page{Kind: "orders", Title: t.T("list.title"), Base: r.URL.Path, List: lv}, t, who)
}

func validStage(s string) bool {
	for _, st := range enrollment.Stages {
		if s == st {
			return true
		}
	}
	return false
}

// orderPage: one order and its timeline.
func (h *Handler) orderPage(w http.ResponseWriter, r *http.Request, t texts, who string) {
	ctx := r.Context()
	id := orderID(r.URL.Query().Get("id"))
	if id == 0 {
		h.badRequest(w, r, t, who)
		return
	}
	rec, err := h.Store.Get(ctx, id)
	if err != nil {
		h.failStore(w, r, t, who, id, err)
		return
	}
	deliveries, err := h.Store.Deliveries(ctx, id)
	if err != nil {
		h.failStore(w, r, t, who, id, err)
		return
	}
	events, err := h.Store.Events(ctx, id)
	if err != nil {
		h.failStore(w, r, t, who, id, err)
		return
	}
	retry, err := h.Actions.RetrySummary(ctx, id, "")
	if err != nil {
		h.failStore(w, r, t, who, id, err)
		return
	}
	resend, err := h.Actions.ResendSummary(ctx, id, "")
	if err != nil {
		h.failStore(w, r, t, who, id, err)
		return
	}
	ov := newOrderView(rec, deliveries, events, t, r.URL.Path, h.ShopURL)
	ov.CanRetry = retry.State == enrollment.ActionAvailable
	ov.CanResend = resend.State == enrollment.ActionAvailable
	h.render(w, http.StatusOK, page{Kind: "order", Title: t.T("order.title", rec.Snapshot.Order.DisplayNumber()), Base: r.URL.Path, Order: ov}, t, who)
}

// healthPage: the last sweep, open webhook incidents, the outbox, dead letters.
func (h *Handler) healthPage(w http.ResponseWriter, r *http.Request, t texts, who string) {
	ctx := r.Context()
	hv := &healthView{}
	var err error
	if hv.Run, err = h.Store.LastSweepRun(ctx); err == nil {
		var st enrollment.SweepState
		if st, err = h.Store.LoadSweep(ctx); err == nil {
			hv.Incidents = st.Incidents
		}
	}
	if err == nil {
		var b store.Backlog
		if b, err = h.Store.OutboxBacklog(ctx); err == nil {
			hv.Outbox = b
		}
	}
	if err == nil {
		hv.Dead, err = h.Store.DeadLetters(ctx, 50)
	}
	if err != nil {
		h.failStore(w, r, t, who, 0, err)
		return
	}
	hv.fill(t, h.now())
	h.render(w, http.StatusOK, page{Kind: "health", Title: t.T("health.title"), Base: r.URL.Path, Health: hv}, t, who)
}

// newKey is a fresh form nonce: the action's idempotency key. The page that confirms an
// action carries it; a second POST of the same form (a double click, a reload, Back and
// submit) finds the action recorded with it and does nothing.
func newKey() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return "console-" + hex.EncodeToString(b)
}

var keyRE = regexp.MustCompile(`^console-[0-9a-f]{32}$`)

// confirmPage: what an action will do, and the form that does it.
func (h *Handler) confirmPage(w http.ResponseWriter, r *http.Request, t texts, who, kind string) {
	ctx := r.Context()
	id := orderID(r.URL.Query().Get("id"))
	if id == 0 {
		h.badRequest(w, r, t, who)
		return
	}
	key := newKey()
	var v enrollment.ActionView
	var err error
	if kind == "retry" {
		v, err = h.Actions.RetrySummary(ctx, id, key)
	} else {
		v, err = h.Actions.ResendSummary(ctx, id, key)
	}
	if err != nil {
		h.failStore(w, r, t, who, id, err)
		return
	}
	av := newActionView(kind, id, v, t)
	av.Key = key
	status := http.StatusOK
	p := page{Kind: kind, Base: r.URL.Path, Action: av}
	if v.State == enrollment.ActionAvailable {
		p.Title = av.ConfirmTitle
	} else {
		status = http.StatusConflict
		p.Kind, p.Title = "result", av.ResultTitle
	}
	h.render(w, status, p, t, who)
}

// post does an action: retry the failed lines, or resend the confirmation email.
//
// Cross-site requests are refused with net/http's CrossOriginProtection: browsers say where a
// request comes from in Sec-Fetch-Site (and older ones in Origin), so a form on another site
// cannot make an operator's browser retry or resend. Comparing Origin with Host alone would
// not do: behind `gcloud run services proxy` the browser's origin is http://localhost:8080
// while the request reaches the service with the run.app host; Sec-Fetch-Site, which every
// current browser sends, is computed by the browser itself. A token in the form would also
// do, at the price of a secret to keep; the nonce in the form is the action's idempotency
// key, not a secret.
func (h *Handler) post(w http.ResponseWriter, r *http.Request, t texts, who string) {
	ctx := r.Context()
	if err := http.NewCrossOriginProtection().Check(r); err != nil {
		h.log().WarnContext(ctx, "console action refused: cross-origin request", "error", err, "operator", who)
		h.render(w, http.StatusForbidden, page{Kind: "cross-origin", Title: t.T("err.crossTitle"), Message: t.T("err.cross"), Base: r.URL.Path}, t, who)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if err := r.ParseForm(); err != nil {
		h.badRequest(w, r, t, who)
		return
	}
	kind, key := r.PostForm.Get("action"), r.PostForm.Get("key")
	id := orderID(r.PostForm.Get("id"))
	if (kind != "retry" && kind != "resend") || id == 0 || !keyRE.MatchString(key) {
		h.badRequest(w, r, t, who)
		return
	}
	by := enrollment.Actor{Via: enrollment.ViaConsole, Who: who, IP: clientIP(r), UserAgent: truncate(r.UserAgent(), 512)}
	var v enrollment.ActionView
	var err error
	if kind == "retry" {
		v, err = h.Actions.RetryFailed(ctx, id, key, by)
	} else {
		v, err = h.Actions.ResendConfirmation(ctx, id, key, by)
	}
	if err != nil {
		h.failStore(w, r, t, who, id, err)
		return
	}
	h.log().InfoContext(ctx, "console action", "action", kind, "order", id, "operator", who, "state", string(v.State))
	av := newActionView(kind, id, v, t)
	status := http.StatusOK
	if v.State == enrollment.ActionNothing || v.State == enrollment.ActionClosed {
		status = http.StatusConflict
	}
	h.render(w, status, page{Kind: "result", Title: av.ResultTitle, Base: r.URL.Path, Action: av}, t, who)
}

// link is the Console's path with a query.
func link(base string, kv ...string) string {
	q := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			q.Set(kv[i], kv[i+1])
		}
	}
	if len(q) == 0 {
		return base
	}
	return base + "?" + q.Encode()
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && (s[n]&0xC0) == 0x80 {
		n--
	}
	return s[:n]
}
