package confirm

import (
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

// FuzzConfirmToken checks the tokens of the confirmation links (SPEC §2.5):
//   - Verify of any string at any time never panics; with a nil error (or ErrExpired, whose
//     id is documented as authentic) the string is exactly the token Sign issues for that id
//     and expiry; with any other error the id is 0;
//   - for any order id > 0 and time, Sign then Verify at that time gives the id back, the
//     token has the documented shape, it is expired at its expiry, it is forged under another
//     key, and changing any one character of it never leaves a usable token (one spelling).
func FuzzConfirmToken(f *testing.F) {
	s := NewSigner(fuzzKey, fuzzTTL)
	genuine := s.Sign(727, fuzzT0)
	for _, tok := range []string{
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
	})
}
