package openedx

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/aulasneo/wc-openedx/internal/enrollment"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// tokens caches the client-credentials token. clientcredentials.Config.TokenSource caches
// too, but cannot be told to drop a token the LMS has just refused (a 401), so the cache is
// kept here: a token is reused until shortly before it expires (oauth2.Token.Valid allows a
// few seconds of margin) or until invalidate drops it.
type tokens struct {
	cfg        clientcredentials.Config
	httpClient *http.Client

	mu  sync.Mutex
	tok *oauth2.Token
}

// get returns the cached token, fetching a new one when there is none or it is about to
// expire. Fetches are serialised, so many concurrent enrollments make one token call.
func (t *tokens) get(ctx context.Context) (*oauth2.Token, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tok.Valid() {
		return t.tok, nil
	}
	tok, err := t.cfg.Token(context.WithValue(ctx, oauth2.HTTPClient, t.httpClient))
	if err != nil {
		return nil, tokenError(err)
	}
	t.tok = tok
	return tok, nil
}

// invalidate drops stale if it is still the cached token (another request may already have
// replaced it), so that the next get fetches a fresh one.
func (t *tokens) invalidate(stale *oauth2.Token) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.tok != nil && stale != nil && t.tok.AccessToken == stale.AccessToken {
		t.tok = nil
	}
}

// tokenError classifies a failure of the token endpoint. Only an OAuth error document
// (RFC 6749 5.2, {"error": ...}) in a 4xx answer means the LMS refused the client: that is
// permanent (e.g. invalid_client). Any other answer is transient: django-ratelimit's HTML 403
// page (edx-platform openedx/core/djangoapps/oauth_dispatch/views.py: AccessTokenView is
// rate limited with block=True, whose Ratelimited is a PermissionDenied), a 429 (its Retry-After is honoured like an API's), a 5xx, a proxy's
// page, and network failures.
func tokenError(err error) error {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.Response == nil {
		return fmt.Errorf("get an LMS access token: %w", unreachable(err))
	}
	status := re.Response.StatusCode
	msg := re.ErrorCode
	if re.ErrorDescription != "" {
		msg += ": " + re.ErrorDescription
	}
	if msg == "" {
		msg = lmsMessage(re.Body)
	}
	explained := func(key string) error {
		return fmt.Errorf("get an LMS access token: %w", &enrollment.Explained{Key: key, By: enrollment.ByLMS, Status: status, Said: msg})
	}
	switch {
	case status == http.StatusTooManyRequests:
		if d := retryAfter(re.Response.Header); d > 0 {
			return &throttledError{wait: d, msg: msg}
		}
		return explained("lms.rate_limited")
	case status >= 400 && status < 500 && re.ErrorCode != "":
		return enrollment.Permanent(explained("lms.token_rejected"))
	case status == http.StatusForbidden:
		return explained("lms.token_refused")
	default:
		return explained("lms.token_failed")
	}
}
