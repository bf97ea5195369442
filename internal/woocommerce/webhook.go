// Package woocommerce speaks WooCommerce: webhook verification and payloads (protocols.md A)
// and the REST client the service uses (protocols.md B).
package woocommerce

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"
)

// Webhook headers WooCommerce sends with every delivery (A1).
const (
	HeaderTopic      = "X-WC-Webhook-Topic"
	HeaderSource     = "X-WC-Webhook-Source"
	HeaderSignature  = "X-WC-Webhook-Signature"
	HeaderWebhookID  = "X-WC-Webhook-ID"
	HeaderDeliveryID = "X-WC-Webhook-Delivery-ID"
)

// Verification errors.
var (
	ErrNoSignature  = errors.New("missing X-WC-Webhook-Signature header")
	ErrBadSignature = errors.New("X-WC-Webhook-Signature does not match the body signed with the webhook secret")
	ErrWrongSource  = errors.New("X-WC-Webhook-Source is not the configured shop URL")
)

var pingRE = regexp.MustCompile(`^webhook_id=[0-9]+$`)

// IsPing reports whether a request is WooCommerce's ping (A3): body exactly webhook_id=N and
// no topic header. It must be answered with exactly 200.
func IsPing(h http.Header, body []byte) bool {
	return h.Get(HeaderTopic) == "" && pingRE.Match(body)
}

// Sign is the webhook signature of body (A2): standard base64 of HMAC-SHA256 keyed with the
// secret.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// Verifier checks deliveries against the webhook secret and the shop's URL.
type Verifier struct {
	Secret []byte
	shop   *url.URL
}

// NewVerifier returns a Verifier for the shop at shopURL.
func NewVerifier(secret, shopURL string) (*Verifier, error) {
	u, err := url.Parse(shopURL)
	if err != nil {
		return nil, err
	}
	return &Verifier{Secret: []byte(secret), shop: u}, nil
}

// VerifySignature checks the signature over the raw body bytes, in constant time.
func (v *Verifier) VerifySignature(h http.Header, body []byte) error {
	got := h.Get(HeaderSignature)
	if got == "" {
		return ErrNoSignature
	}
	want := Sign(v.Secret, body)
	if !hmac.Equal([]byte(strings.TrimSpace(got)), []byte(want)) {
		return ErrBadSignature
	}
	return nil
}

// VerifySource checks X-WC-Webhook-Source against the shop URL, ignoring a trailing slash and
// the letter case of the scheme and host.
func (v *Verifier) VerifySource(h http.Header) error {
	src, err := url.Parse(strings.TrimSpace(h.Get(HeaderSource)))
	if err != nil || !sameSite(src, v.shop) {
		return ErrWrongSource
	}
	return nil
}

func sameSite(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) &&
		strings.EqualFold(a.Host, b.Host) &&
		strings.TrimSuffix(a.Path, "/") == strings.TrimSuffix(b.Path, "/")
}

// BodyHash identifies a delivery by its body: hex SHA-256 (SPEC §5).
func BodyHash(body []byte) string {
	s := sha256.Sum256(body)
	return hex.EncodeToString(s[:])
}
