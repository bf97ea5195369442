package console

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Who the operator is.
//
// In production the Console is a private Cloud Run service: only the accounts Terraform
// grants roles/run.invoker (var.console_operators) may call it, and they open it with
// `gcloud run services proxy console`, a local proxy that adds the active gcloud account's
// Google ID token to every request. Cloud Run checks that token (signature, expiry, the
// invoker role) before the request reaches the container, and then passes it on with its
// signature removed: the token's third part reads SIGNATURE_REMOVED_BY_GOOGLE. So the
// container cannot verify the token itself (google.golang.org/api/idtoken needs the
// signature; and a user's token from gcloud carries the audience of gcloud's own OAuth
// client, 32555940559.apps.googleusercontent.com, not the service's URL), and need not: the
// claims of the token Cloud Run verified are the operator's identity.
//
// Cloud Run checks X-Serverless-Authorization when a request has it, and then passes
// Authorization through untouched (cloud-run-proxy uses X-Serverless-Authorization so that
// Authorization stays free for the application). So the identity is read from
// X-Serverless-Authorization when present, otherwise from Authorization; and only from a
// token whose signature Cloud Run removed, which proves Cloud Run checked that very header.
// Anything else (no token, a token still signed, no verified email) is no identity, and on
// Cloud Run the Console then refuses the request: it fails closed.
//
// Locally (no K_SERVICE) there is no Cloud Run in front. The operator is then read the same
// way when a request carries such a token, else from the X-Console-Operator header (for a
// local proxy or a test), else "local".

// signatureRemoved is what Cloud Run writes in place of the signature of the ID token it
// verified before passing the request to the container.
const signatureRemoved = "SIGNATURE_REMOVED_BY_GOOGLE"

// LocalOperatorHeader names the operator of a local run (ignored on Cloud Run).
const LocalOperatorHeader = "X-Console-Operator"

// LocalOperator is the operator of a local run when nothing names one.
const LocalOperator = "local"

var (
	errNoToken    = errors.New("no Cloud Run-verified ID token (X-Serverless-Authorization or Authorization)")
	errNotChecked = errors.New("the ID token still has its signature: Cloud Run did not check this header")
	errBadToken   = errors.New("the ID token cannot be read")
	errNoEmail    = errors.New("the ID token names no verified email")
)

// googleIssuers are the iss values of Google ID tokens.
var googleIssuers = []string{"https://accounts.google.com", "accounts.google.com"}

// verifiedEmail returns the email of the operator whose ID token Cloud Run verified.
func verifiedEmail(r *http.Request, now time.Time) (string, error) {
	h := r.Header.Get("X-Serverless-Authorization")
	if h == "" {
		h = r.Header.Get("Authorization")
	}
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || tok == "" {
		return "", errNoToken
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return "", errBadToken
	}
	if parts[2] != signatureRemoved {
		return "", errNotChecked
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return "", errBadToken
	}
	var c struct {
		Iss           string `json:"iss"`
		Email         string `json:"email"`
		EmailVerified any    `json:"email_verified"` // a bool; some issuers write "true"
		Exp           int64  `json:"exp"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return "", errBadToken
	}
	issuer := false
	for _, iss := range googleIssuers {
		issuer = issuer || c.Iss == iss
	}
	verified := c.EmailVerified == true || c.EmailVerified == "true"
	// Cloud Run checked the expiry; a token long expired means something else is going on.
	expired := c.Exp == 0 || now.After(time.Unix(c.Exp, 0).Add(5*time.Minute))
	if !issuer || expired {
		return "", errBadToken
	}
	if !verified || !plausibleEmail(c.Email) {
		return "", errNoEmail
	}
	return strings.ToLower(c.Email), nil
}

// plausibleEmail: one @, printable, short; what is recorded and shown.
func plausibleEmail(s string) bool {
	if len(s) > 254 || strings.Count(s, "@") != 1 || strings.HasPrefix(s, "@") || strings.HasSuffix(s, "@") {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) || unicode.IsSpace(r) {
			return false
		}
	}
	return true
}

// operator is who makes the request: the email Cloud Run verified; locally that, or the
// X-Console-Operator header, or "local". On Cloud Run without a verified identity it returns
// the reason instead.
func (h *Handler) operator(r *http.Request) (string, error) {
	email, err := verifiedEmail(r, h.now())
	if err == nil || h.CloudRun {
		return email, err
	}
	if v := strings.TrimSpace(r.Header.Get(LocalOperatorHeader)); v != "" && utf8.ValidString(v) && len(v) <= 254 {
		return strings.Map(func(r rune) rune {
			if unicode.IsPrint(r) {
				return r
			}
			return -1
		}, v), nil
	}
	return LocalOperator, nil
}

// clientIP is the address Cloud Run's front end saw (the last X-Forwarded-For hop, which the
// Google front end appends), or the peer without the header. Recorded with an action for the
// audit trail, never used to decide anything. (internal/confirm reads it the same way.)
func clientIP(r *http.Request) string {
	if xffs := r.Header.Values("X-Forwarded-For"); len(xffs) > 0 {
		hops := strings.Split(xffs[len(xffs)-1], ",")
		if last := strings.TrimSpace(hops[len(hops)-1]); last != "" && len(last) <= 64 {
			return last
		}
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}
