package confirm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aulasneo/wc-openedx/internal/enrollment"
	"github.com/aulasneo/wc-openedx/internal/i18n"
)

// maxBody bounds what the Confirm function reads from a request: the form holds one token.
const maxBody = 64 << 10

// maxUserAgent bounds the user agent recorded with a confirmation.
const maxUserAgent = 512

// Headers set on every response of the Confirm function. The page loads nothing and runs no
// script; it may only post its form back to itself, and may not be framed.
var securityHeaders = [][2]string{
	{"Content-Type", "text/html; charset=utf-8"},
	{"Cache-Control", "no-store"},
	{"Referrer-Policy", "no-referrer"},
	{"X-Robots-Tag", "noindex, nofollow"},
	{"X-Content-Type-Options", "nosniff"},
	{"X-Frame-Options", "DENY"},
	{"Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"},
}

// Retrier is what the Retry link's pages need from the domain (SPEC §2.5b). Implemented by
// enrollment.Service.
type Retrier interface {
	// RetrySummary says what a retry with key would do; it changes nothing.
	RetrySummary(ctx context.Context, orderID int64, key string) (enrollment.ActionView, error)
	// RetryFailed queues the retry of the order's failed lines, once per key.
	RetryFailed(ctx context.Context, orderID int64, key string, by enrollment.Actor) (enrollment.ActionView, error)
}

// Handler is the Confirm function (SPEC §2.5, §2.5b). GET ?t=TOKEN shows a page and a button;
// POST t=TOKEN does what the token is for: a confirmation token confirms the payment, a Retry
// token (failure emails) retries the failed lines, once per token. GET never changes
// anything, since mail scanners follow links.
type Handler struct {
	Signer    *Signer
	Confirmer enrollment.Confirmer
	Retrier   Retrier
	Language  string // LANGUAGE (internal/i18n); anything it does not name is "en"
	ShopName  string // shown above every page's title; may be empty
	Now       func() time.Time
	Log       *slog.Logger
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

func (h *Handler) log() *slog.Logger {
	if h.Log != nil {
		return h.Log
	}
	return slog.New(slog.DiscardHandler)
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	switch r.Method {
	case http.MethodGet:
		h.get(w, r)
	case http.MethodPost:
		h.post(w, r)
	default:
		w.Header().Set("Allow", "GET, POST")
		h.render(w, http.StatusMethodNotAllowed, page{Kind: kindMethod})
	}
}

func (h *Handler) get(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	token := r.URL.Query().Get("t")
	tok, ok := h.open(w, r, token)
	if !ok {
		return
	}
	if tok.Kind == KindRetry {
		h.getRetry(w, r, tok, token)
		return
	}
	id := tok.OrderID
	log := h.log().With("order_id", id)
	v, err := h.Confirmer.ConfirmationSummary(ctx, id)
	if h.failed(ctx, w, log, err, "confirm link for an unknown order", "load order for confirmation",
		page{Kind: kindLoadFailed, Number: strconv.FormatInt(id, 10)}) {
		return
	}
	p := orderPage(id, v)
	p.Action = r.URL.Path
	status := http.StatusOK
	switch v.State {
	case enrollment.ConfirmAwaiting:
		p.Kind, p.Token = kindSummary, r.URL.Query().Get("t")
	case enrollment.ConfirmDone:
		p.Kind = kindAlready
	case enrollment.ConfirmClosed:
		p.Kind, status = kindClosed, http.StatusConflict
	default:
		p.Kind = kindHandled
	}
	log.InfoContext(ctx, "confirm page shown", "state", string(v.State))
	h.render(w, status, p)
}

func (h *Handler) post(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if err := r.ParseForm(); err != nil {
		status := http.StatusBadRequest
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			status = http.StatusRequestEntityTooLarge
		}
		h.log().InfoContext(ctx, "unreadable confirm form", "error", err)
		h.render(w, status, page{Kind: kindBadRequest})
		return
	}
	// The token travels in the body only (SPEC §2.5b): the page's form posts it to the
	// bare URL, so no request log holds the token of a POST. A token in a POST's query
	// string is not read.
	token := r.PostForm.Get("t")
	tok, ok := h.open(w, r, token)
	if !ok {
		return
	}
	if tok.Kind == KindRetry {
		h.postRetry(w, r, tok, token)
		return
	}
	id := tok.OrderID
	log := h.log().With("order_id", id)
	who := enrollment.Confirmation{At: h.now(), IP: clientIP(r), UserAgent: truncate(r.UserAgent(), maxUserAgent)}
	v, err := h.Confirmer.ConfirmPayment(ctx, id, who)
	if h.failed(ctx, w, log, err, "confirm post for an unknown order", "confirm payment",
		page{Kind: kindNotConfirmed, Number: strconv.FormatInt(id, 10), Token: token, Action: r.URL.Path}) {
		return
	}
	p := orderPage(id, v)
	status := http.StatusOK
	switch v.State {
	case enrollment.ConfirmAwaiting:
		p.Kind = kindConfirmed
		log.InfoContext(ctx, "payment confirmed through link", "ip", who.IP)
	case enrollment.ConfirmDone:
		p.Kind = kindAlready
		log.InfoContext(ctx, "payment already confirmed")
	case enrollment.ConfirmClosed:
		p.Kind, status = kindClosed, http.StatusConflict
		log.InfoContext(ctx, "confirm link for a closed order")
	default:
		p.Kind = kindHandled
		log.InfoContext(ctx, "order already handled in the shop", "state", string(v.State))
	}
	h.render(w, status, p)
}

// failed writes the page for err, the error of the domain call that loads or changes the
// order a page is about, and reports whether there was one: the not-found page (404, logged
// as unknown) for an order the service has no record of, else the page temporary (503, its
// form offering to try again on a POST), logging the error as what.
func (h *Handler) failed(ctx context.Context, w http.ResponseWriter, log *slog.Logger, err error, unknown, what string, temporary page) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, enrollment.ErrOrderNotFound):
		log.WarnContext(ctx, unknown)
		h.render(w, http.StatusNotFound, page{Kind: kindNotFound, Retry: temporary.Retry, Number: temporary.Number})
	default:
		log.ErrorContext(ctx, what, "error", err)
		h.render(w, http.StatusServiceUnavailable, temporary)
	}
	return true
}

// orderPage is a page about the order with this id, showing the order when the Confirmer
// returned it, and who confirmed it when someone has.
func orderPage(id int64, v enrollment.ConfirmView) page {
	p := page{Number: strconv.FormatInt(id, 10), Confirmed: v.Confirmed}
	if v.Order != nil {
		p.Order, p.Number = v.Order, v.Order.DisplayNumber()
	}
	return p
}

// open checks the token; when it is not usable it writes the error page (in the words of the
// kind of link it claims to be) and returns false.
func (h *Handler) open(w http.ResponseWriter, r *http.Request, token string) (Token, bool) {
	tok, err := h.Signer.Open(token, h.now())
	retry := ClaimedKind(token) == KindRetry
	switch {
	case err == nil:
		return tok, true
	case errors.Is(err, ErrExpired):
		h.log().InfoContext(r.Context(), "expired link", "order_id", tok.OrderID, "retry", retry)
		// The signature was good, so the id is ours: name the order to move by hand.
		p := page{Kind: kindExpired, Retry: retry, Number: strconv.FormatInt(tok.OrderID, 10)}
		if v, err := h.Confirmer.ConfirmationSummary(r.Context(), tok.OrderID); err == nil && v.Order != nil {
			p.Number = v.Order.DisplayNumber()
		}
		h.render(w, http.StatusGone, p)
	case errors.Is(err, ErrForged):
		h.log().WarnContext(r.Context(), "forged link", "ip", clientIP(r), "retry", retry)
		h.render(w, http.StatusForbidden, page{Kind: kindForged, Retry: retry})
	default:
		h.log().InfoContext(r.Context(), "malformed or missing token", "present", token != "")
		h.render(w, http.StatusBadRequest, page{Kind: kindInvalid})
	}
	return Token{}, false
}

// getRetry shows the failed lines of a Retry link's order and the Retry button (SPEC §2.5b);
// it changes nothing.
func (h *Handler) getRetry(w http.ResponseWriter, r *http.Request, tok Token, token string) {
	ctx := r.Context()
	log := h.log().With("order_id", tok.OrderID)
	v, err := h.Retrier.RetrySummary(ctx, tok.OrderID, tok.ID)
	if h.failed(ctx, w, log, err, "retry link for an unknown order", "load order for retry",
		page{Kind: kindLoadFailed, Retry: true, Number: strconv.FormatInt(tok.OrderID, 10)}) {
		return
	}
	p := retryPage(tok.OrderID, v)
	status := http.StatusOK
	switch v.State {
	case enrollment.ActionAvailable:
		p.Kind, p.Token, p.Action = kindRetrySummary, token, r.URL.Path
	case enrollment.ActionReplayed:
		p.Kind = kindRetryAlready
	case enrollment.ActionClosed:
		p.Kind, status = kindClosed, http.StatusConflict
	default:
		p.Kind = kindRetryNothing
	}
	log.InfoContext(ctx, "retry page shown", "state", string(v.State))
	h.render(w, status, p)
}

// postRetry queues the retry of a Retry link's order, once per token (SPEC §2.5b).
func (h *Handler) postRetry(w http.ResponseWriter, r *http.Request, tok Token, token string) {
	ctx := r.Context()
	log := h.log().With("order_id", tok.OrderID)
	by := enrollment.Actor{Via: enrollment.ViaRetryLink, IP: clientIP(r), UserAgent: truncate(r.UserAgent(), maxUserAgent)}
	v, err := h.Retrier.RetryFailed(ctx, tok.OrderID, tok.ID, by)
	if h.failed(ctx, w, log, err, "retry post for an unknown order", "retry failed lines",
		page{Kind: kindNotRetried, Retry: true, Number: strconv.FormatInt(tok.OrderID, 10), Token: token, Action: r.URL.Path}) {
		return
	}
	p := retryPage(tok.OrderID, v)
	status := http.StatusOK
	switch v.State {
	case enrollment.ActionDone:
		p.Kind = kindRetried
		log.InfoContext(ctx, "retry queued through link", "ip", by.IP, "lines", len(v.Failed))
	case enrollment.ActionReplayed:
		p.Kind = kindRetryAlready
		log.InfoContext(ctx, "retry link used again: nothing done")
	case enrollment.ActionClosed:
		p.Kind, status = kindClosed, http.StatusConflict
		log.InfoContext(ctx, "retry link for a closed order")
	default:
		p.Kind = kindRetryNothing
		log.InfoContext(ctx, "retry link with nothing to retry", "state", string(v.State))
	}
	h.render(w, status, p)
}

// retryPage is a Retry page about the order with this id.
func retryPage(id int64, v enrollment.ActionView) page {
	p := page{Retry: true, Number: strconv.FormatInt(id, 10), Failed: v.Failed, Retried: v.Action}
	if v.Order != nil {
		p.Number = v.Order.DisplayNumber()
	}
	return p
}

func (h *Handler) render(w http.ResponseWriter, status int, p page) {
	p.Lang = i18n.Of(h.Language)
	p.T = textsFor(p.Lang)
	p.Text = p.T.Pages[p.Kind]
	if t, ok := p.T.RetryPages[p.Kind]; ok && p.Retry {
		p.Text = t
	}
	p.Tone = p.Kind.tone()
	p.Button, p.ButtonID, p.Check = p.T.Confirm, "confirm", p.T.Check
	if p.Retry {
		p.Button, p.ButtonID, p.Check = p.T.Retry, "retry", p.T.RetryCheck
	}
	// A Retry page lists the failed lines while they can be retried, and once this link
	// retried them names when and from where.
	if p.Kind != kindRetrySummary {
		p.Failed = nil
	}
	if a := p.Retried; a != nil && (p.Kind == kindRetried || p.Kind == kindRetryAlready) {
		p.RetriedBy = fmt.Sprintf(p.T.RetriedBy, p.Lang.T("date.utc", p.Lang.Date(a.At.UTC())), a.By.IP)
	}
	p.Shop = h.ShopName
	// Once the payment is confirmed the page names who confirmed it and when, and no
	// longer shows the customer's details: the link may be forwarded or left open.
	if p.Order != nil && p.Kind != kindConfirmed && p.Kind != kindAlready {
		p.Details = details(p.Order, p.Lang)
	}
	if c := p.Confirmed; c != nil && (p.Kind == kindConfirmed || p.Kind == kindAlready) {
		p.ConfirmedBy = fmt.Sprintf(p.T.ConfirmedBy, p.Lang.T("date.utc", p.Lang.Date(c.At.UTC())), c.IP)
	}
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, p); err != nil {
		// Only a programming error can get here; tests render every kind.
		h.log().Error("render confirm page", "kind", string(p.Kind), "error", err)
		buf.Reset()
		buf.WriteString("<!doctype html><title>Error</title><h1 id=\"title\">Error</h1>")
		status = http.StatusInternalServerError
	}
	hd := w.Header()
	for _, kv := range securityHeaders {
		hd.Set(kv[0], kv[1])
	}
	hd.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// clientIP is the address Cloud Run's front end saw: the last X-Forwarded-For hop, which
// the Google front end appends to whatever the client sent (the first hops are the
// client's to write, so anyone could put any address there). Recorded for the audit trail,
// never used for access decisions. Without the header (local runs), the peer address.
func clientIP(r *http.Request) string {
	if xffs := r.Header.Values("X-Forwarded-For"); len(xffs) > 0 {
		hops := strings.Split(xffs[len(xffs)-1], ",")
		if last := strings.TrimSpace(hops[len(hops)-1]); last != "" {
			return truncate(last, 64)
		}
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
