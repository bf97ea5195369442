package function

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/aulasneo/wc-openedx/internal/enrollment"
	"github.com/aulasneo/wc-openedx/internal/woocommerce"
)

// MaxWebhookBytes is the largest delivery accepted (SPEC §2.1).
const MaxWebhookBytes = 2 << 20

// webhook is the Webhook function (SPEC §2.1): cheap checks first (size, ping, signature over
// the raw bytes, source), then parse, record and queue. Parsing is liberal: a signed order with
// a numeric id is recorded whatever its other fields hold (woocommerce.ParseOrder).
func (a *App) webhook(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		reject(w, http.StatusMethodNotAllowed, "webhooks are delivered with POST")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxWebhookBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			reject(w, http.StatusRequestEntityTooLarge, "the body is larger than 2 MiB")
			return
		}
		reject(w, http.StatusBadRequest, "could not read the body: "+err.Error())
		return
	}
	if woocommerce.IsPing(r.Header, body) {
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, "pong\n")
		return
	}
	if err := a.verifier.VerifySignature(r.Header, body); err != nil {
		reject(w, http.StatusUnauthorized, err.Error())
		return
	}
	if err := a.verifier.VerifySource(r.Header); err != nil {
		reject(w, http.StatusForbidden, err.Error()+" ("+a.Config.WCURL+")")
		return
	}
	d := enrollment.Delivery{
		Hash:       woocommerce.BodyHash(body),
		Topic:      r.Header.Get(woocommerce.HeaderTopic),
		Source:     r.Header.Get(woocommerce.HeaderSource),
		WebhookID:  r.Header.Get(woocommerce.HeaderWebhookID),
		DeliveryID: r.Header.Get(woocommerce.HeaderDeliveryID),
	}
	log := a.Log.With("topic", d.Topic, "delivery", d.Hash[:16])
	ctx := r.Context()

	var outcome string
	cleanup := func() {}
	legacyID, legacy := woocommerce.LegacyOrderID(body)
	switch {
	case legacy && strings.HasPrefix(d.Topic, "order."):
		// A webhook set to a legacy API version (SPEC §2.1): 200, recorded as ignored, the
		// admins told once. A 400 would only count towards WooCommerce disabling it.
		d.OrderID = legacyID
		log = log.With("order", legacyID, "webhook", d.WebhookID)
		outcome, err = a.Service.IntakeLegacy(ctx, d)
	case d.Topic == enrollment.TopicOrderCreated || d.Topic == enrollment.TopicOrderUpdated:
		order, perr := woocommerce.ParseOrder(body)
		if perr != nil {
			reject(w, http.StatusBadRequest, perr.Error())
			return
		}
		d.OrderID = order.ID
		log = log.With("order", order.ID, "status", order.Status)
		outcome, cleanup, err = a.Service.IntakeThenCleanup(ctx, d, order, body)
	case d.Topic == "order.deleted" || d.Topic == "order.restored":
		id, perr := woocommerce.OrderID(body)
		if perr != nil {
			reject(w, http.StatusBadRequest, perr.Error())
			return
		}
		d.OrderID = id
		log = log.With("order", id)
		outcome, err = a.Service.Intake(ctx, d, nil, body)
	default:
		if !json.Valid(body) {
			reject(w, http.StatusBadRequest, "the body is not JSON")
			return
		}
		outcome, err = a.Service.IntakeOther(ctx, d)
	}
	if err != nil {
		log.ErrorContext(ctx, "delivery not recorded", "error", err)
		reject(w, http.StatusServiceUnavailable, "the delivery could not be recorded; nothing was acknowledged")
		return
	}
	log.InfoContext(ctx, "delivery recorded", "outcome", outcome)
	resp, _ := json.Marshal(map[string]string{"outcome": outcome})
	resp = append(resp, '\n')
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(resp)))
	_, _ = w.Write(resp)
	// The shop has its answer; the outbox clean-up happens while the request is still open,
	// so Cloud Run keeps the CPU for it.
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	cleanup()
}

// reject answers an error status with a one-line reason.
func reject(w http.ResponseWriter, status int, reason string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, reason+"\n")
}
