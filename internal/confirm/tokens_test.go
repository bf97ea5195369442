package confirm

import (
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
