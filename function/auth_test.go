package function

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"google.golang.org/api/option"
)

// googleKeys serves a JSON Web Key Set in place of Google's certificates endpoint, and signs
// tokens with its key, as Google signs Pub/Sub push tokens.
type googleKeys struct {
	key *rsa.PrivateKey
	srv *httptest.Server
}

func newGoogleKeys(t *testing.T) *googleKeys {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	g := &googleKeys{key: k}
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b64 := base64.RawURLEncoding.EncodeToString
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{
			"kty": "RSA", "alg": "RS256", "use": "sig", "kid": "test-key",
			"n": b64(k.N.Bytes()), "e": b64(big.NewInt(int64(k.E)).Bytes()),
		}}})
	}))
	t.Cleanup(g.srv.Close)
	return g
}

// client sends every request (the validator asks www.googleapis.com) to the local key set.
func (g *googleKeys) client() *http.Client {
	target, _ := url.Parse(g.srv.URL)
	return &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		r = r.Clone(r.Context())
		r.URL.Scheme, r.URL.Host = target.Scheme, target.Host
		return http.DefaultTransport.RoundTrip(r)
	})}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func (g *googleKeys) sign(t *testing.T, claims map[string]any) string {
	t.Helper()
	enc := func(v any) string { b, _ := json.Marshal(v); return base64.RawURLEncoding.EncodeToString(b) }
	head := enc(map[string]string{"alg": "RS256", "typ": "JWT", "kid": "test-key"}) + "." + enc(claims)
	sum := sha256.Sum256([]byte(head))
	sig, err := rsa.SignPKCS1v15(rand.Reader, g.key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return head + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func TestPushAuth(t *testing.T) {
	t.Parallel()
	g := newGoogleKeys(t)
	const aud = "https://enroll-123.europe-west1.run.app"
	const sa = "push-invoker@proj.iam.gserviceaccount.com"
	auth, err := newPushAuth(context.Background(), aud, sa, option.WithHTTPClient(g.client()))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Unix()
	claims := func(change func(map[string]any)) map[string]any {
		c := map[string]any{"iss": "https://accounts.google.com", "aud": aud, "email": sa, "email_verified": true,
			"sub": "1234", "iat": now - 10, "exp": now + 3600}
		if change != nil {
			change(c)
		}
		return c
	}
	tests := []struct {
		name    string
		header  string
		wantErr string
	}{
		{"valid token of the push account", "Bearer " + g.sign(t, claims(nil)), ""},
		{"no header", "", "missing Authorization"},
		{"basic auth", "Basic dXNlcjpwYXNz", "missing Authorization"},
		{"another audience", "Bearer " + g.sign(t, claims(func(c map[string]any) { c["aud"] = "https://other.run.app" })), "audience"},
		{"expired", "Bearer " + g.sign(t, claims(func(c map[string]any) { c["exp"] = now - 60 })), "expired"},
		{"another account", "Bearer " + g.sign(t, claims(func(c map[string]any) { c["email"] = "someone@evil.example" })), "not " + sa},
		{"unverified email", "Bearer " + g.sign(t, claims(func(c map[string]any) { c["email_verified"] = false })), "not " + sa},
		{"tampered payload", "Bearer " + tamper(g.sign(t, claims(nil))), "rejected"},
		{"garbage", "Bearer abc.def.ghi", "rejected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/", nil)
			if tt.header != "" {
				r.Header.Set("Authorization", tt.header)
			}
			err := auth.check(r)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("rejected a valid token: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

// tamper changes the email in a signed token without re-signing it.
func tamper(tok string) string {
	parts := strings.Split(tok, ".")
	p, _ := base64.RawURLEncoding.DecodeString(parts[1])
	p = []byte(strings.Replace(string(p), "push-invoker", "push-invokes", 1))
	parts[1] = base64.RawURLEncoding.EncodeToString(p)
	return strings.Join(parts, ".")
}

func TestPushAuthOffWithoutAudience(t *testing.T) {
	t.Parallel()
	auth, err := newPushAuth(context.Background(), "", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := auth.check(httptest.NewRequest(http.MethodPost, "/", nil)); err != nil {
		t.Fatalf("no audience configured, but the request was rejected: %v", err)
	}
}
