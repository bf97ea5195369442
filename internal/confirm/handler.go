package confirm

import (
	"bytes"
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

// Handler is the Confirm function (SPEC §2.5). GET ?t=TOKEN shows the order and a button;
// POST t=TOKEN confirms the payment. GET never changes anything, since mail scanners follow
// links.
type Handler struct {
	Signer    *Signer
	Confirmer enrollment.Confirmer
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
	id, ok := h.verify(w, r, r.URL.Query().Get("t"))
	if !ok {
		return
	}
	log := h.log().With("order_id", id)
	v, err := h.Confirmer.ConfirmationSummary(ctx, id)
	switch {
	case errors.Is(err, enrollment.ErrOrderNotFound):
		log.WarnContext(ctx, "confirm link for an unknown order")
		h.render(w, http.StatusNotFound, page{Kind: kindNotFound, Number: strconv.FormatInt(id, 10)})
		return
	case err != nil:
		log.ErrorContext(ctx, "load order for confirmation", "error", err)
		h.render(w, http.StatusServiceUnavailable, page{Kind: kindLoadFailed, Number: strconv.FormatInt(id, 10)})
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
	id, ok := h.verify(w, r, token)
	if !ok {
		return
	}
	log := h.log().With("order_id", id)
	who := enrollment.Confirmation{At: h.now(), IP: clientIP(r), UserAgent: truncate(r.UserAgent(), maxUserAgent)}
	v, err := h.Confirmer.ConfirmPayment(ctx, id, who)
	switch {
	case errors.Is(err, enrollment.ErrOrderNotFound):
		log.WarnContext(ctx, "confirm post for an unknown order")
		h.render(w, http.StatusNotFound, page{Kind: kindNotFound, Number: strconv.FormatInt(id, 10)})
		return
	case err != nil:
		log.ErrorContext(ctx, "confirm payment", "error", err)
		h.render(w, http.StatusServiceUnavailable, page{Kind: kindNotConfirmed, Number: strconv.FormatInt(id, 10), Token: token, Action: r.URL.Path})
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

// orderPage is a page about the order with this id, showing the order when the Confirmer
// returned it, and who confirmed it when someone has.
func orderPage(id int64, v enrollment.ConfirmView) page {
	p := page{Number: strconv.FormatInt(id, 10), Confirmed: v.Confirmed}
	if v.Order != nil {
		p.Order, p.Number = v.Order, v.Order.DisplayNumber()
	}
	return p
}

// verify checks the token; when it is not usable it writes the error page and returns false.
func (h *Handler) verify(w http.ResponseWriter, r *http.Request, token string) (int64, bool) {
	id, err := h.Signer.Verify(token, h.now())
	switch {
	case err == nil:
		return id, true
	case errors.Is(err, ErrExpired):
		h.log().InfoContext(r.Context(), "expired confirm link", "order_id", id)
		// The signature was good, so the id is ours: name the order to move by hand.
		p := page{Kind: kindExpired, Number: strconv.FormatInt(id, 10)}
		if v, err := h.Confirmer.ConfirmationSummary(r.Context(), id); err == nil && v.Order != nil {
			p.Number = v.Order.DisplayNumber()
		}
		h.render(w, http.StatusGone, p)
	case errors.Is(err, ErrForged):
		h.log().WarnContext(r.Context(), "forged confirm link", "ip", clientIP(r))
		h.render(w, http.StatusForbidden, page{Kind: kindForged})
	default:
		h.log().InfoContext(r.Context(), "malformed or missing confirm token", "present", token != "")
		h.render(w, http.StatusBadRequest, page{Kind: kindInvalid})
	}
	return 0, false
}

func (h *Handler) render(w http.ResponseWriter, status int, p page) {
	p.Lang = i18n.Of(h.Language)
	p.T = textsFor(p.Lang)
	p.Text = p.T.Pages[p.Kind]
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
