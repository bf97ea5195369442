// Package confirm is the Confirm function of SPEC §2.5: the signed tokens carried by the
// payment-confirmation links, and the page those links open.
//
// # Token format
//
// A token is two unpadded base64url strings joined by a dot:
//
//	token   = base64url(payload) "." base64url(mac)
//	payload = version (1 byte, 0x01) || order id (8 bytes, big-endian) || expiry (8 bytes,
//	          big-endian Unix seconds)                          17 bytes → 23 characters
//	mac     = HMAC-SHA256(key, "wc-openedx/confirm\x00" || payload), first 16 bytes
//	                                                            16 bytes → 22 characters
//
// so every token is exactly 46 URL-safe characters ([A-Za-z0-9_-] and one "."). The MAC covers
// the version, the order id and the expiry: changing any of them, or signing with another key,
// invalidates it. The context string keeps these MACs apart from anything else the same key
// might ever sign. Decoding is strict (no padding, no stray bits), so each token has exactly
// one spelling.
//
// Verify checks, in this order: shape and encoding (ErrMalformed), the MAC in constant time
// (ErrForged), then the expiry (ErrExpired). The expiry is never looked at before the MAC is
// known to be good.
package confirm

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"net/url"
	"time"
)

// Token verification errors. Each is a distinct reason a link cannot be used.
var (
	// ErrMalformed: not a token at all (empty, wrong length, bad encoding, unknown version).
	ErrMalformed = errors.New("confirm: malformed token")
	// ErrForged: shaped like a token, but its signature is not ours for this content.
	ErrForged = errors.New("confirm: token signature does not match")
	// ErrExpired: a genuine token whose lifetime is over.
	ErrExpired = errors.New("confirm: token expired")
)

const (
	tokenVersion = 0x01
	payloadLen   = 1 + 8 + 8
	macLen       = 16
	macContext   = "wc-openedx/confirm\x00"
)

var (
	b64          = base64.RawURLEncoding.Strict()
	payloadChars = b64.EncodedLen(payloadLen)
	macChars     = b64.EncodedLen(macLen)
	tokenLen     = payloadChars + 1 + macChars
)

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

// Sign returns a token for orderID that expires at now+ttl (to the second).
func (s *Signer) Sign(orderID int64, now time.Time) string {
	p := make([]byte, payloadLen)
	p[0] = tokenVersion
	binary.BigEndian.PutUint64(p[1:9], uint64(orderID))
	binary.BigEndian.PutUint64(p[9:17], uint64(now.Add(s.ttl).Unix()))
	return b64.EncodeToString(p) + "." + b64.EncodeToString(s.mac(p))
}

// Verify checks token and returns the order id it was issued for.
//
// Errors: ErrMalformed, ErrForged or ErrExpired. With ErrExpired the signature was good, so
// the returned order id is authentic (callers may use it to say which order the expired link
// was for); with any other error it is 0.
func (s *Signer) Verify(token string, now time.Time) (int64, error) {
	if len(token) != tokenLen || token[payloadChars] != '.' {
		return 0, ErrMalformed
	}
	p, err := b64.DecodeString(token[:payloadChars])
	if err != nil || len(p) != payloadLen || p[0] != tokenVersion {
		return 0, ErrMalformed
	}
	got, err := b64.DecodeString(token[payloadChars+1:])
	if err != nil || len(got) != macLen {
		return 0, ErrMalformed
	}
	if !hmac.Equal(got, s.mac(p)) {
		return 0, ErrForged
	}
	id := int64(binary.BigEndian.Uint64(p[1:9]))
	expiry := time.Unix(int64(binary.BigEndian.Uint64(p[9:17])), 0)
	if !now.Before(expiry) {
		return id, ErrExpired
	}
	return id, nil
}

func (s *Signer) mac(payload []byte) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(macContext))
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
