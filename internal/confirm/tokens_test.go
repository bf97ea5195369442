package confirm

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

var (
	testKey  = []byte("0123456789abcdef0123456789abcdef")
	otherKey = []byte("fedcba9876543210fedcba9876543210")
	t0       = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
)

// retoken rewrites the payload of tok with edit, keeping tok's MAC.
func retoken(t *testing.T, tok string, edit func(p []byte)) string {
	t.Helper()
	payload, mac, ok := strings.Cut(tok, ".")
	if !ok {
		t.Fatalf("token %q has no dot", tok)
	}
	p, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		t.Fatal(err)
	}
	edit(p)
	return base64.RawURLEncoding.EncodeToString(p) + "." + mac
}

func TestSignVerify(t *testing.T) {
	t.Parallel()
	s := NewSigner(testKey, 720*time.Hour)
	tok := s.Sign(4242, t0)
	tokOther := s.Sign(4243, t0)
	payload, mac, _ := strings.Cut(tok, ".")
	_, macOther, _ := strings.Cut(tokOther, ".")

	tests := []struct {
		name    string
		token   string
		now     time.Time
		wantID  int64
		wantErr error
	}{
		{"valid", tok, t0, 4242, nil},
		{"valid just before expiry", tok, t0.Add(720*time.Hour - time.Second), 4242, nil},
		{"expired at expiry", tok, t0.Add(720 * time.Hour), 4242, ErrExpired},
		{"expired long after", tok, t0.Add(9000 * time.Hour), 4242, ErrExpired},
		{"other order's token is valid for it", tokOther, t0, 4243, nil},
		{"order id changed", retoken(t, tok, func(p []byte) { binary.BigEndian.PutUint64(p[1:9], 4243) }), t0, 0, ErrForged},
		{"other order's MAC", payload + "." + macOther, t0, 0, ErrForged},
		{"expiry extended", retoken(t, tok, func(p []byte) {
			binary.BigEndian.PutUint64(p[9:17], uint64(t0.Add(10000*time.Hour).Unix()))
		}), t0.Add(800 * time.Hour), 0, ErrForged},
		{"expired token with expiry extended is forged, not expired", retoken(t, tok, func(p []byte) {
			binary.BigEndian.PutUint64(p[9:17], binary.BigEndian.Uint64(p[9:17])+1)
		}), t0.Add(9000 * time.Hour), 0, ErrForged},
		{"other key", NewSigner(otherKey, 720*time.Hour).Sign(4242, t0), t0, 0, ErrForged},
		{"MAC bit flipped", payload + "." + flipChar(mac), t0, 0, ErrForged},
		{"empty", "", t0, 0, ErrMalformed},
		{"truncated", tok[:len(tok)-1], t0, 0, ErrMalformed},
		{"truncated to payload", payload, t0, 0, ErrMalformed},
		{"truncated payload", payload[1:] + "." + mac + "A", t0, 0, ErrMalformed},
		{"extra dot", tok + ".", t0, 0, ErrMalformed},
		{"extra dots inside", payload + ".." + mac[1:], t0, 0, ErrMalformed},
		{"dot elsewhere", payload[:5] + "." + payload[5:] + mac, t0, 0, ErrMalformed},
		{"extra characters", tok + "AA", t0, 0, ErrMalformed},
		{"padding", payload + "=." + mac[:len(mac)-1], t0, 0, ErrMalformed},
		{"not base64url", strings.Replace(tok, tok[:1], "+", 1), t0, 0, ErrMalformed},
		{"wrong version", retoken(t, tok, func(p []byte) { p[0] = 2 }), t0, 0, ErrMalformed},
		{"garbage of the right length", strings.Repeat("x", len(tok)), t0, 0, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			id, err := s.Verify(tt.token, tt.now)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Verify(%q) error = %v, want %v", tt.token, err, tt.wantErr)
			}
			if id != tt.wantID {
				t.Errorf("Verify(%q) id = %d, want %d", tt.token, id, tt.wantID)
			}
		})
	}
}

// flipChar changes the first character of a base64url string to another valid one.
func flipChar(s string) string {
	c := byte('A')
	if s[0] == 'A' {
		c = 'B'
	}
	return string(c) + s[1:]
}

func TestTokenShape(t *testing.T) {
	t.Parallel()
	s := NewSigner(testKey, time.Hour)
	urlSafe := regexp.MustCompile(`^[A-Za-z0-9_-]{23}\.[A-Za-z0-9_-]{22}$`)
	for _, id := range []int64{1, 4242, 1 << 40, -1} {
		tok := s.Sign(id, t0)
		if !urlSafe.MatchString(tok) {
			t.Errorf("Sign(%d) = %q, want 46 URL-safe characters", id, tok)
		}
		if url.QueryEscape(tok) != tok {
			t.Errorf("Sign(%d) = %q needs escaping in a URL", id, tok)
		}
		if got, err := s.Verify(tok, t0); err != nil || got != id {
			t.Errorf("Verify(Sign(%d)) = %d, %v", id, got, err)
		}
	}
	if a, b := s.Sign(7, t0), s.Sign(7, t0.Add(time.Second)); a == b {
		t.Errorf("tokens issued a second apart are equal: %q", a)
	}
}

func TestSignerCopiesKey(t *testing.T) {
	t.Parallel()
	key := append([]byte(nil), testKey...)
	s := NewSigner(key, time.Hour)
	tok := s.Sign(1, t0)
	key[0] ^= 0xff
	if _, err := s.Verify(tok, t0); err != nil {
		t.Fatalf("changing the caller's key slice affected the signer: %v", err)
	}
}

func TestNewSignerPanics(t *testing.T) {
	t.Parallel()
	for name, f := range map[string]func(){
		"empty key": func() { NewSigner(nil, time.Hour) },
		"zero ttl":  func() { NewSigner(testKey, 0) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			f()
		})
	}
}

func TestLink(t *testing.T) {
	t.Parallel()
	tok := NewSigner(testKey, time.Hour).Sign(9, t0)
	tests := []struct{ base, want string }{
		{"https://confirm-abc.a.run.app", "https://confirm-abc.a.run.app?t=" + tok},
		{"https://example.com/Confirm", "https://example.com/Confirm?t=" + tok},
		{"https://example.com/Confirm?lang=es", "https://example.com/Confirm?lang=es&t=" + tok},
		{"https://example.com/Confirm?t=old", "https://example.com/Confirm?t=" + tok},
	}
	for _, tt := range tests {
		if got := Link(tt.base, tok); got != tt.want {
			t.Errorf("Link(%q) = %q, want %q", tt.base, got, tt.want)
		}
		u, err := url.Parse(Link(tt.base, tok))
		if err != nil || u.Query().Get("t") != tok {
			t.Errorf("Link(%q): t = %q, %v; want the token", tt.base, u.Query().Get("t"), err)
		}
	}
}

// macWith signs payload p with the key under the given context, as a token of another kind
// (or another use of the same key) would be signed.
func macWith(key []byte, context string, p []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(context))
	m.Write(p)
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:macLen])
}

func TestRetryTokens(t *testing.T) {
	t.Parallel()
	s := NewSigner(testKey, 720*time.Hour)
	tok := s.SignRetry(4242, t0)
	got, err := s.Open(tok, t0)
	if err != nil || got.Kind != KindRetry || got.OrderID != 4242 || !got.Expires.Equal(t0.Add(720*time.Hour)) || len(got.ID) != 14 {
		t.Fatalf("Open(SignRetry(4242)) = %+v, %v", got, err)
	}
	if !regexp.MustCompile(`^[A-Za-z0-9_-]{36}\.[A-Za-z0-9_-]{22}$`).MatchString(tok) || url.QueryEscape(tok) != tok {
		t.Errorf("SignRetry = %q, want 59 URL-safe characters", tok)
	}
	// Every Retry token has an id of its own: the key that makes a replay do nothing.
	ids := map[string]bool{got.ID: true}
	for range 50 {
		o, err := s.Open(s.SignRetry(4242, t0), t0)
		if err != nil || ids[o.ID] {
			t.Fatalf("a second token for the same order at the same time: %+v, %v (ids %v)", o, err, ids)
		}
		ids[o.ID] = true
	}
	if c, err := s.Open(s.Sign(4242, t0), t0); err != nil || c.Kind != KindConfirm || c.OrderID != 4242 || c.ID != "" {
		t.Errorf("Open(Sign(4242)) = %+v, %v; want a confirmation token without id", c, err)
	}
	if c, r := ClaimedKind(s.Sign(1, t0)), ClaimedKind(tok); c != KindConfirm || r != KindRetry {
		t.Errorf("ClaimedKind = %v, %v", c, r)
	}

	payload, mac, _ := strings.Cut(tok, ".")
	p, _ := base64.RawURLEncoding.DecodeString(payload)
	confirmTok := s.Sign(4242, t0)
	cPayload, cMAC, _ := strings.Cut(confirmTok, ".")
	cp, _ := base64.RawURLEncoding.DecodeString(cPayload)
	asRetry := append(append([]byte{byte(KindRetry)}, cp[1:]...), p[17:]...) // the confirm payload, kind byte and id of a Retry token
	tests := []struct {
		name    string
		token   string
		now     time.Time
		wantErr error
	}{
		{"expired at expiry", tok, t0.Add(720 * time.Hour), ErrExpired},
		{"order id changed", retoken(t, tok, func(p []byte) { binary.BigEndian.PutUint64(p[1:9], 4243) }), t0, ErrForged},
		{"id changed (a replay under a new key)", retoken(t, tok, func(p []byte) { p[20] ^= 1 }), t0, ErrForged},
		{"expiry extended", retoken(t, tok, func(p []byte) {
			binary.BigEndian.PutUint64(p[9:17], uint64(t0.Add(10000*time.Hour).Unix()))
		}), t0.Add(800 * time.Hour), ErrForged},
		{"other key", NewSigner(otherKey, 720*time.Hour).SignRetry(4242, t0), t0, ErrForged},
		{"MAC changed", payload + "." + flipChar(mac), t0, ErrForged},
		// One kind never opens as the other.
		{"kind byte set to confirm", retoken(t, tok, func(p []byte) { p[0] = byte(KindConfirm) }), t0, ErrMalformed},
		{"unknown kind", retoken(t, tok, func(p []byte) { p[0] = 3 }), t0, ErrMalformed},
		{"confirm token's kind byte set to retry", retoken(t, confirmTok, func(p []byte) { p[0] = byte(KindRetry) }), t0, ErrMalformed},
		{"Retry payload cut to a confirm payload, its MAC kept", base64.RawURLEncoding.EncodeToString(append([]byte{byte(KindConfirm)}, p[1:17]...)) + "." + mac, t0, ErrForged},
		{"confirm payload grown into a Retry payload, its MAC kept", base64.RawURLEncoding.EncodeToString(asRetry) + "." + cMAC, t0, ErrForged},
		{"Retry payload signed in the confirm context", payload + "." + macWith(testKey, macContext, p), t0, ErrForged},
		{"confirm payload signed in the retry context", cPayload + "." + macWith(testKey, retryMACContext, cp), t0, ErrForged},
		{"padding", tok + "=", t0, ErrMalformed},
		{"truncated", tok[:len(tok)-1], t0, ErrMalformed},
		{"dot moved", payload[:35] + "." + payload[35:] + mac[1:], t0, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Open(tt.token, tt.now)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Open(%q) = %+v, %v; want %v", tt.token, got, err, tt.wantErr)
			}
			if tt.wantErr != ErrExpired && got != (Token{}) {
				t.Errorf("Open(%q) = %+v with %v; want the zero Token", tt.token, got, err)
			}
		})
	}
	// A Retry token, however genuine, is not a confirmation token.
	if id, err := s.Verify(tok, t0); !errors.Is(err, ErrMalformed) || id != 0 {
		t.Errorf("Verify(Retry token) = %d, %v; want 0, ErrMalformed", id, err)
	}
	if exp, err := s.Open(tok, t0.Add(800*time.Hour)); !errors.Is(err, ErrExpired) || exp.OrderID != 4242 || exp.Kind != KindRetry || exp.ID != got.ID {
		t.Errorf("expired Retry token: %+v, %v; want its authentic contents", exp, err)
	}
}
