package confirm

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"testing"
	"time"
)

var (
	fuzzKey      = []byte("fuzz-signing-key-0123456789abcdef")
	fuzzOtherKey = []byte("fuzz-other-key-0123456789abcdef!!")
	fuzzTTL      = 72 * time.Hour
	fuzzT0       = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
)

// fuzzTime maps fuzzed integers to a time. Seconds are kept within ±2^62 of the Unix epoch
// (±146 billion years): beyond that, the time package itself overflows when adding the TTL.
func fuzzTime(sec, nsec int64) time.Time {
	sec %= 1 << 62
	nsec %= int64(time.Second)
	if nsec < 0 {
		nsec = -nsec
	}
	return time.Unix(sec, nsec)
}

// FuzzConfirmToken checks the tokens of the Confirm function's links, confirmation links
// (SPEC §2.5) and the Retry links of failure emails (§2.5b):
//   - Verify of any string at any time never panics; with a nil error (or ErrExpired, whose
//     id is documented as authentic) the string is exactly the token Sign issues for that id
//     and expiry; with any other error the id is 0;
//   - Open of any string never panics; with a nil error or ErrExpired the string is exactly
//     the token Sign (KindConfirm) or SignRetry (KindRetry, with the id Open returned) issues,
//     and Verify accepts it only if it is a confirmation token; otherwise the Token is zero;
//   - for any order id > 0 and time, Sign then Verify at that time gives the id back, the
//     token has the documented shape, it is expired at its expiry, it is forged under another
//     key, and changing any one character of it never leaves a usable token (one spelling);
//     the same holds for a Retry token through Open, which Verify never accepts.
func FuzzConfirmToken(f *testing.F) {
	s := NewSigner(fuzzKey, fuzzTTL)
	genuine := s.Sign(727, fuzzT0)
	retry := s.signRetry(727, fuzzT0.Add(fuzzTTL), []byte("0123456789"))
	for _, tok := range []string{
		retry,
		retry[:retryPayloadChars] + "." + genuine[payloadChars+1:],
		genuine[:payloadChars] + "AAAAAAAAAAAAA." + retry[retryPayloadChars+1:],
		genuine,
		NewSigner(fuzzOtherKey, fuzzTTL).Sign(727, fuzzT0),
		s.Sign(728, fuzzT0),
		s.Sign(-1, fuzzT0),
		genuine[:len(genuine)-1],
		genuine + "A",
		genuine[:payloadChars] + "=" + genuine[payloadChars+1:],
		"",
		".",
		"AAAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA",
		"AQAAAAAAAALXAAAAAGnUUrA.AAAAAAAAAAAAAAAAAAAAAB",
	} {
		f.Add(tok, int64(727), fuzzT0.Unix(), int64(0), uint8(0), byte('A'))
	}
	f.Add(genuine, int64(1), int64(-62135596800), int64(999999999), uint8(45), byte('-'))
	f.Add(genuine, int64(9223372036854775807), int64(253402300799), int64(1), uint8(23), byte('_'))
	f.Fuzz(func(t *testing.T, token string, id, sec, nsec int64, pos uint8, c byte) {
		now := fuzzTime(sec, nsec)

		// Arbitrary strings.
		got, err := s.Verify(token, now)
		switch {
		case err == nil || errors.Is(err, ErrExpired):
			if len(token) != tokenLen {
				t.Fatalf("Verify(%q) = %d, %v for a string of length %d", token, got, err, len(token))
			}
			p, derr := b64.DecodeString(token[:payloadChars])
			if derr != nil {
				t.Fatalf("Verify(%q) = %d, %v but its payload does not decode: %v", token, got, err, derr)
			}
			exp := time.Unix(int64(binary.BigEndian.Uint64(p[9:17])), 0)
			if want := s.Sign(got, exp.Add(-fuzzTTL)); want != token {
				t.Fatalf("Verify(%q) = %d, %v; Sign issues %q for that id and expiry", token, got, err, want)
			}
			if (err == nil) != now.Before(exp) {
				t.Fatalf("Verify(%q) at %v = %v with expiry %v", token, now, err, exp)
			}
		case errors.Is(err, ErrForged) || errors.Is(err, ErrMalformed):
			if got != 0 {
				t.Fatalf("Verify(%q) = %d with error %v; want id 0", token, got, err)
			}
		default:
			t.Fatalf("Verify(%q): unexpected error %v", token, err)
		}

		// Arbitrary strings through Open.
		o, err := s.Open(token, now)
		switch {
		case err == nil || errors.Is(err, ErrExpired):
			var want string
			switch o.Kind {
			case KindConfirm:
				want = s.Sign(o.OrderID, o.Expires.Add(-fuzzTTL))
			case KindRetry:
				rid, derr := b64.DecodeString(o.ID)
				if derr != nil || len(rid) != retryIDLen {
					t.Fatalf("Open(%q) = %+v: id %q is not %d bytes of base64url", token, o, o.ID, retryIDLen)
				}
				want = s.signRetry(o.OrderID, o.Expires, rid)
				if vid, verr := s.Verify(token, now); !errors.Is(verr, ErrMalformed) || vid != 0 {
					t.Fatalf("Verify accepts the Retry token %q: %d, %v", token, vid, verr)
				}
			default:
				t.Fatalf("Open(%q) = %+v: unknown kind", token, o)
			}
			if want != token {
				t.Fatalf("Open(%q) = %+v, %v; the signer issues %q for that", token, o, err, want)
			}
			if (err == nil) != now.Before(o.Expires) {
				t.Fatalf("Open(%q) at %v = %v with expiry %v", token, now, err, o.Expires)
			}
		case errors.Is(err, ErrForged) || errors.Is(err, ErrMalformed):
			if o != (Token{}) {
				t.Fatalf("Open(%q) = %+v with error %v; want the zero Token", token, o, err)
			}
		default:
			t.Fatalf("Open(%q): unexpected error %v", token, err)
		}

		// Sign → Verify.
		if id <= 0 {
			return
		}
		tok := s.Sign(id, now)
		if len(tok) != tokenLen || tok[payloadChars] != '.' {
			t.Fatalf("Sign(%d, %v) = %q: not a %d-character token", id, now, tok, tokenLen)
		}
		for i := 0; i < len(tok); i++ {
			if ch := tok[i]; !(ch == '-' || ch == '_' || ch == '.' || '0' <= ch && ch <= '9' || 'a' <= ch && ch <= 'z' || 'A' <= ch && ch <= 'Z') {
				t.Fatalf("Sign(%d, %v) = %q: character %q is not URL-safe", id, now, tok, ch)
			}
		}
		if got, err := s.Verify(tok, now); err != nil || got != id {
			t.Fatalf("Verify(Sign(%d, %v)) at signing time = %d, %v", id, now, got, err)
		}
		if got, err := s.Verify(tok, now.Add(fuzzTTL)); !errors.Is(err, ErrExpired) || got != id {
			t.Fatalf("Verify(Sign(%d, %v)) a TTL later = %d, %v; want %d, ErrExpired", id, now, got, err, id)
		}
		other := NewSigner(fuzzOtherKey, fuzzTTL)
		if got, err := other.Verify(tok, now); !errors.Is(err, ErrForged) || got != 0 {
			t.Fatalf("another key verifies Sign(%d, %v) as %d, %v; want ErrForged", id, now, got, err)
		}
		i := int(pos) % len(tok)
		if c == tok[i] {
			c ^= 1
		}
		bad := tok[:i] + string(c) + tok[i+1:]
		if got, err := s.Verify(bad, now); err == nil || errors.Is(err, ErrExpired) {
			t.Fatalf("%q (Sign(%d, %v) = %q with character %d changed) verifies as %d, %v", bad, id, now, tok, i, got, err)
		}
		if got, err := s.Open(bad, now); err == nil || errors.Is(err, ErrExpired) {
			t.Fatalf("%q (Sign(%d, %v) = %q with character %d changed) opens as %+v, %v", bad, id, now, tok, i, got, err)
		}

		// SignRetry → Open, with an id drawn from the input (SignRetry draws it at random).
		sum := sha256.Sum256([]byte(token))
		rtok := s.signRetry(id, now.Add(fuzzTTL), sum[:retryIDLen])
		if len(rtok) != retryTokenLen || rtok[retryPayloadChars] != '.' {
			t.Fatalf("Retry token %q for %d is not %d characters", rtok, id, retryTokenLen)
		}
		r, err := s.Open(rtok, now)
		if err != nil || r.Kind != KindRetry || r.OrderID != id || r.ID != b64.EncodeToString(sum[:retryIDLen]) {
			t.Fatalf("Open(Retry token for %d at %v) = %+v, %v", id, now, r, err)
		}
		if got, err := s.Verify(rtok, now); !errors.Is(err, ErrMalformed) || got != 0 {
			t.Fatalf("Verify accepts the Retry token for %d: %d, %v", id, got, err)
		}
		if got, err := s.Open(rtok, now.Add(fuzzTTL)); !errors.Is(err, ErrExpired) || got != r {
			t.Fatalf("Retry token for %d a TTL later = %+v, %v; want %+v, ErrExpired", id, got, err, r)
		}
		if got, err := other.Open(rtok, now); !errors.Is(err, ErrForged) || got != (Token{}) {
			t.Fatalf("another key opens the Retry token for %d as %+v, %v; want ErrForged", id, got, err)
		}
		j := int(pos) % len(rtok)
		rc := c
		if rc == rtok[j] {
			rc ^= 1
		}
		rbad := rtok[:j] + string(rc) + rtok[j+1:]
		if got, err := s.Open(rbad, now); err == nil || errors.Is(err, ErrExpired) {
			t.Fatalf("%q (the Retry token %q with character %d changed) opens as %+v, %v", rbad, rtok, j, got, err)
		}
	})
}
