package function

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"google.golang.org/api/idtoken"
)

// pushAuth checks the Google OIDC token of Pub/Sub push and Cloud Scheduler requests
// (SPEC §2.6). With no audience configured it lets everything through (emulators, local
// runs); Cloud Run IAM still guards production.
type pushAuth struct {
	audience       string
	serviceAccount string
	validator      *idtoken.Validator
}

func newPushAuth(ctx context.Context, audience, serviceAccount string, opts ...idtoken.ClientOption) (*pushAuth, error) {
	a := &pushAuth{audience: audience, serviceAccount: serviceAccount}
	if audience == "" {
		return a, nil
	}
	v, err := idtoken.NewValidator(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("OIDC validator: %w", err)
	}
	a.validator = v
	return a, nil
}

var errNoBearer = errors.New("missing Authorization: Bearer token")

// check returns nil when the request may call a private function.
func (a *pushAuth) check(r *http.Request) error {
	if a.validator == nil {
		return nil
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" {
		return errNoBearer
	}
	p, err := a.validator.Validate(r.Context(), tok, a.audience)
	if err != nil {
		return fmt.Errorf("OIDC token rejected: %w", err)
	}
	if a.serviceAccount != "" {
		// idtoken does not check the email claim (protocols.md E).
		email, _ := p.Claims["email"].(string)
		verified, _ := p.Claims["email_verified"].(bool)
		if !strings.EqualFold(email, a.serviceAccount) || !verified {
			return fmt.Errorf("OIDC token is for %q, not %s", email, a.serviceAccount)
		}
	}
	return nil
}
