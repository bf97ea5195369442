// Package confirm is the Confirm function of SPEC §2.5 and §2.5b: the signed tokens carried by
// the payment-confirmation links and the Retry links of failure emails, and the pages those
// links open. Both kinds of link point at the same URL (CONFIRM_URL); the token's kind decides
// which page it opens.
//
// # Token formats
//
// A token is two unpadded base64url strings joined by a dot. A confirmation token (KindConfirm):
//
//	token   = base64url(payload) "." base64url(mac)
//	payload = kind (1 byte, 0x01) || order id (8 bytes, big-endian) || expiry (8 bytes,
//	          big-endian Unix seconds)                          17 bytes → 23 characters
//	mac     = HMAC-SHA256(key, "wc-openedx/confirm\x00" || payload), first 16 bytes
//	                                                            16 bytes → 22 characters
//
// so every confirmation token is exactly 46 URL-safe characters ([A-Za-z0-9_-] and one "."). A
// Retry token (KindRetry) also carries a random id, the key under which its retry is recorded
// on the order, so that a replayed token does nothing:
//
//	payload = kind (1 byte, 0x02) || order id (8) || expiry (8) || id (10 random bytes)
//	                                                            27 bytes → 36 characters
//	mac     = HMAC-SHA256(key, "wc-openedx/retry\x00" || payload), first 16 bytes
//
// 59 characters in all. Each kind has its own length, kind byte and MAC context, so a token of
// one kind never opens the page of the other: changing the kind byte (or the length) breaks
// the MAC, and the context strings keep these MACs apart from anything else the same key
// (CONFIRM_SIGNING_KEY) might ever sign. The MAC covers every byte of the payload: changing
// any of them, or signing with another key, invalidates the token. Decoding is strict (no
// padding, no stray bits), so each token has exactly one spelling.
//
// Open and Verify check, in this order: shape and encoding (ErrMalformed), the MAC in constant
// time (ErrForged), then the expiry (ErrExpired). The expiry is never looked at before the MAC
// is known to be good.
package confirm

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"net/url"
	"time"
)

// Token verification errors. Each is a distinct reason a link cannot be used.
var (
	// ErrMalformed: not a token at all (empty, wrong length, bad encoding, unknown kind), or,
	// for Verify, not a confirmation token.
	ErrMalformed = errors.New("confirm: malformed token")
	// ErrForged: shaped like a token, but its signature is not ours for this content.
	ErrForged = errors.New("confirm: token signature does not match")
	// ErrExpired: a genuine token whose lifetime is over.
	ErrExpired = errors.New("confirm: token expired")
)

// Kind is what a token lets its holder do; it is the first byte of the token's payload.
type Kind byte

const (
	// KindConfirm: confirm that an order's payment arrived (SPEC §2.5).
	KindConfirm Kind = 0x01
	// KindRetry: retry an order's failed course lines (SPEC §2.5b).
	KindRetry Kind = 0x02
)

const (
	payloadLen = 1 + 8 + 8
	macLen     = 16
	macContext = "wc-openedx/confirm\x00"

	retryIDLen      = 10
	retryPayloadLen = payloadLen + retryIDLen
	retryMACContext = "wc-openedx/retry\x00"
)

var (
	b64          = base64.RawURLEncoding.Strict()
	payloadChars = b64.EncodedLen(payloadLen)
	macChars     = b64.EncodedLen(macLen)
	tokenLen     = payloadChars + 1 + macChars

	retryPayloadChars = b64.EncodedLen(retryPayloadLen)
	retryTokenLen     = retryPayloadChars + 1 + macChars
)

// Token is what a genuine token says.
type Token struct {
	Kind    Kind
	OrderID int64
	Expires time.Time
	// ID is a Retry token's random id (base64url, 14 characters): its retry is recorded on
	// the order under this key, so the same token never retries twice. "" for KindConfirm.
	ID string
}

// Signer issues and verifies confirmation tokens with one key and lifetime.
// It is safe for concurrent use.
type Signer struct {
	key []byte
	ttl time.Duration
}

// NewSigner returns a Signer that signs with key (CONFIRM_SIGNING_KEY; config requires at least
// 32 bytes) and issues tokens valid for ttl (CONFIRM_LINK_TTL). It panics on an empty key or a
// non-positive ttl, which are programming errors: configuration validates both.
func NewSigner(key []byte, ttl time.Duration) *Signer {
	if len(key) == 0 {
		panic("confirm.NewSigner: empty key")
	}
	if ttl <= 0 {
		panic("confirm.NewSigner: ttl must be positive")
	}
	return &Signer{key: append([]byte(nil), key...), ttl: ttl}
}

// Sign returns a confirmation token for orderID that expires at now+ttl (to the second).
func (s *Signer) Sign(orderID int64, now time.Time) string {
	return s.sign(KindConfirm, orderID, now.Add(s.ttl), nil)
}

// SignRetry returns a Retry token for orderID that expires at now+ttl (to the second), with a
// new random id: every call gives a token of its own.
func (s *Signer) SignRetry(orderID int64, now time.Time) string {
	id := make([]byte, retryIDLen)
	_, _ = rand.Read(id) // never fails (crypto/rand)
	return s.signRetry(orderID, now.Add(s.ttl), id)
}

func (s *Signer) signRetry(orderID int64, expiry time.Time, id []byte) string {
	return s.sign(KindRetry, orderID, expiry, id)
}

// sign writes the token of kind k: its payload (kind, order id, expiry, then id, which only a
// Retry token has) and the payload's MAC.
func (s *Signer) sign(k Kind, orderID int64, expiry time.Time, id []byte) string {
	p := make([]byte, payloadLen+len(id))
	p[0] = byte(k)
	binary.BigEndian.PutUint64(p[1:9], uint64(orderID))
	binary.BigEndian.PutUint64(p[9:17], uint64(expiry.Unix()))
	copy(p[payloadLen:], id)
	return b64.EncodeToString(p) + "." + b64.EncodeToString(s.mac(k, p))
}

// Verify checks a confirmation token and returns the order id it was issued for. A Retry
// token, however genuine, is not one: ErrMalformed.
//
// Errors: ErrMalformed, ErrForged or ErrExpired. With ErrExpired the signature was good, so
// the returned order id is authentic (callers may use it to say which order the expired link
// was for); with any other error it is 0.
func (s *Signer) Verify(token string, now time.Time) (int64, error) {
	if len(token) != tokenLen {
		return 0, ErrMalformed
	}
	t, err := s.Open(token, now)
	return t.OrderID, err
}

// Open checks a token of either kind and returns what it says.
//
// Errors: ErrMalformed, ErrForged or ErrExpired. With ErrExpired the signature was good, so
// the returned Token is authentic; with any other error it is the zero Token.
func (s *Signer) Open(token string, now time.Time) (Token, error) {
	var k Kind
	var pChars, pLen int
	switch len(token) {
	case tokenLen:
		k, pChars, pLen = KindConfirm, payloadChars, payloadLen
	case retryTokenLen:
		k, pChars, pLen = KindRetry, retryPayloadChars, retryPayloadLen
	default:
		return Token{}, ErrMalformed
	}
	if token[pChars] != '.' {
		return Token{}, ErrMalformed
	}
	p, err := b64.DecodeString(token[:pChars])
	if err != nil || len(p) != pLen || Kind(p[0]) != k {
		return Token{}, ErrMalformed
	}
	got, err := b64.DecodeString(token[pChars+1:])
	if err != nil || len(got) != macLen {
		return Token{}, ErrMalformed
	}
	if !hmac.Equal(got, s.mac(k, p)) {
		return Token{}, ErrForged
	}
	t := Token{
		Kind:    k,
		OrderID: int64(binary.BigEndian.Uint64(p[1:9])),
		Expires: time.Unix(int64(binary.BigEndian.Uint64(p[9:17])), 0),
	}
	if k == KindRetry {
		t.ID = b64.EncodeToString(p[17:])
	}
	if !now.Before(t.Expires) {
		return t, ErrExpired
	}
	return t, nil
}

// ClaimedKind is the kind a string shaped like a token says it is, without checking it: for
// choosing the words of an error page only, never for a decision.
func ClaimedKind(token string) Kind {
	if len(token) == retryTokenLen {
		return KindRetry
	}
	return KindConfirm
}

func (s *Signer) mac(k Kind, payload []byte) []byte {
	m := hmac.New(sha256.New, s.key)
	if k == KindRetry {
		m.Write([]byte(retryMACContext))
	} else {
		m.Write([]byte(macContext))
	}
	m.Write(payload)
	return m.Sum(nil)[:macLen]
}

// Link returns the Confirm function's URL (baseURL, CONFIRM_URL) carrying token in the query
// parameter "t". Any query baseURL already has is kept.
func Link(baseURL, token string) string {
	u, err := url.Parse(baseURL)
	if err != nil {
		// Configuration validates CONFIRM_URL; still produce something a person can fix.
		return baseURL + "?t=" + url.QueryEscape(token)
	}
	q := u.Query()
	q.Set("t", token)
	u.RawQuery = q.Encode()
	return u.String()
}
