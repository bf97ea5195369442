// Package openedx is the Open edX LMS client: it enrolls learners (enrollment.LMS) with the
// Enrollment API or the bulk enroll API, authenticating with OAuth2 client credentials and
// a JWT access token (protocols.md C and H).
//
// The LMS must have an OAuth application (client credentials grant) whose user is global
// staff (is_staff): the Enrollment API only lets staff enroll other users and use modes
// other than audit and honor, and the enrollment_allowed and bulk enroll APIs are staff only.
//
// Every error returned is either permanent (enrollment.IsPermanent: retrying cannot help,
// e.g. unknown course, closed enrollment, invalid mode, rejected credentials) or transient
// (network errors, timeouts, 429, 5xx). Messages say what happened in plain words and quote
// the LMS's own message.
package openedx

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aulasneo/wc-openedx/internal/enrollment"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// Strategies for Config.Strategy.
const (
	// StrategyEnrollment looks the learner up by email, then uses the Enrollment API, or
	// enrollment_allowed with auto_enroll when there is no account yet (the default).
	StrategyEnrollment = "enrollment"
	// StrategyBulk uses the bulk enroll API (FEATURES['ENABLE_BULK_ENROLLMENT_VIEW']). It
	// cannot choose the mode: the learner gets the course's default mode (audit or honor),
	// whatever the SKU says, and it records no order number on the enrollment.
	StrategyBulk = "bulk"
)

// DefaultTimeout bounds each HTTP request to the LMS when Config.Timeout is 0.
const DefaultTimeout = 20 * time.Second

// Order attribute recorded on each enrollment the Enrollment API creates. edx-platform
// accepts any namespace (it only checks that namespace, name and value are present; only
// the "credit" mode requires a particular attribute), stores it as a
// CourseEnrollmentAttribute (value up to 255 characters) and shows it in the Django admin.
// It is written only when the call creates or changes the enrollment: re-posting an
// enrollment that is already active leaves the attributes of the first order.
//
// The namespace is our own: the "order" namespace belongs to the LMS's ecommerce service
// (common/djangoapps/student/models/course_enrollment.py get_order_attribute_value reads
// order/order_number, and get_order_attribute_from_ecommerce then asks the ecommerce
// service about that order, e.g. from refundable() on the learner dashboard).
const (
	attrNamespace = "woocommerce"
	attrName      = "order_number"
)

// Config configures a Client.
type Config struct {
	BaseURL      string // the LMS root, e.g. https://lms.example.com
	ClientID     string // OAuth application (client credentials grant) of a staff user
	ClientSecret string
	Strategy     string       // StrategyEnrollment ("" means this) or StrategyBulk
	HTTPClient   *http.Client // optional; http.DefaultClient when nil
	Timeout      time.Duration
}

// Client talks to one LMS. It is safe for concurrent use.
type Client struct {
	base     string
	strategy string
	http     *http.Client
	timeout  time.Duration
	tokens   *tokens
	throttle throttle
}

var _ enrollment.LMS = (*Client)(nil)

// New returns a client for cfg.
func New(cfg Config) *Client {
	base := strings.TrimRight(cfg.BaseURL, "/")
	hc := cfg.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	strategy := cfg.Strategy
	if strategy == "" {
		strategy = StrategyEnrollment
	}
	return &Client{
		base:     base,
		strategy: strategy,
		http:     hc,
		timeout:  timeout,
		tokens: &tokens{
			cfg: clientcredentials.Config{
				ClientID:       cfg.ClientID,
				ClientSecret:   cfg.ClientSecret,
				TokenURL:       base + "/oauth2/access_token",
				EndpointParams: url.Values{"token_type": {"jwt"}},
				AuthStyle:      oauth2.AuthStyleInParams,
			},
			httpClient: hc,
		},
	}
}

// Enroll enrolls the learner with this email in c (enrollment.LMS).
func (c *Client) Enroll(ctx context.Context, email string, course enrollment.Course, orderNumber string) (enrollment.EnrollResult, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	if email == "" {
		return enrollment.EnrollResult{}, enrollment.Permanent(enrollment.Explain("lms.no_email"))
	}
	var (
		res enrollment.EnrollResult
		err error
	)
	if c.strategy == StrategyBulk {
		res, err = c.bulkEnroll(ctx, email, course.Key)
	} else {
		res, err = c.enroll(ctx, email, course, orderNumber)
	}
	// The errors already name the course and say what the LMS answered; the caller knows
	// the learner, and the message ends up in the shop admin's order note.
	return res, err
}

func (c *Client) enroll(ctx context.Context, email string, course enrollment.Course, orderNumber string) (enrollment.EnrollResult, error) {
	username, err := c.lookupUsername(ctx, email)
	if err != nil {
		return enrollment.EnrollResult{}, err
	}
	if username == "" {
		return c.allow(ctx, email, course.Key)
	}
	body := map[string]any{
		"user":           username,
		"is_active":      true,
		"course_details": map[string]string{"course_id": course.Key},
	}
	if course.Mode != "" {
		body["mode"] = course.Mode
	}
	if orderNumber != "" {
		body["enrollment_attributes"] = []map[string]string{
			{"namespace": attrNamespace, "name": attrName, "value": orderNumber},
		}
	}
	resp, err := c.do(ctx, http.MethodPost, "/api/enrollment/v1/enrollment", nil, body)
	if err != nil {
		return enrollment.EnrollResult{}, err
	}
	switch resp.status {
	case http.StatusOK:
		return enrollment.EnrollResult{Username: username}, nil
	case http.StatusNotAcceptable:
		// The account vanished between the lookup and the enrollment (or the lookup saw an
		// account the enrollment API cannot find): enroll on registration instead.
		return c.allow(ctx, email, course.Key)
	case http.StatusBadRequest:
		if strings.Contains(lmsMessage(resp.body), msgCreateFailed) {
			return c.alreadyEnrolled(ctx, username, course, resp)
		}
	}
	return enrollment.EnrollResult{}, c.enrollmentError(resp, course.Key, course.Mode)
}

// alreadyEnrolled tells apart the two causes of the generic 400 of the enroll path.
// CourseEnrollment.enroll checks "enrollment closed" (and "course full") before "already
// enrolled", so a second order or a retry for a course whose enrollment has closed is
// refused like a new enrollment would be. A read of the enrollment settles it: active in the
// requested mode means the learner already has what the order grants.
func (c *Client) alreadyEnrolled(ctx context.Context, username string, course enrollment.Course, refused *response) (enrollment.EnrollResult, error) {
	e, err := c.readEnrollment(ctx, username, course.Key)
	if err != nil {
		ex := lmsError(refused, "lms.already_unknown")
		ex.Err = err
		return enrollment.EnrollResult{}, fmt.Errorf("%s: %w", course.Key, ex)
	}
	if e != nil && e.IsActive && (course.Mode == "" || e.Mode == course.Mode) {
		return enrollment.EnrollResult{Username: username}, nil
	}
	return enrollment.EnrollResult{}, c.enrollmentError(refused, course.Key, course.Mode)
}

// Enrollment reports whether the learner with this email has an active enrollment in
// courseKey (GET /api/enrollment/v1/enrollment/{username},{course_id}). A learner without an
// account has none. The worker asks before retrying a call whose outcome it could not see
// (a timeout), so that a retry never enrolls twice.
func (c *Client) Enrollment(ctx context.Context, email, courseKey string) (enrollment.EnrollResult, bool, error) {
	username, err := c.lookupUsername(ctx, email)
	if err != nil || username == "" {
		return enrollment.EnrollResult{}, false, err
	}
	e, err := c.readEnrollment(ctx, username, courseKey)
	if err != nil || e == nil {
		return enrollment.EnrollResult{}, false, err
	}
	return enrollment.EnrollResult{Username: username}, e.IsActive, nil
}

// lmsEnrollment is what the service reads of an enrollment.
type lmsEnrollment struct {
	Mode     string `json:"mode"`
	IsActive bool   `json:"is_active"`
}

// readEnrollment reads one enrollment (enrollments/views.py EnrollmentView.get); nil when
// there is none, which the LMS answers with 200 and an empty body.
func (c *Client) readEnrollment(ctx context.Context, username, courseKey string) (*lmsEnrollment, error) {
	resp, err := c.do(ctx, http.MethodGet, "/api/enrollment/v1/enrollment/"+url.PathEscape(username)+","+courseKey, nil, nil)
	if err != nil {
		return nil, err
	}
	if resp.status != http.StatusOK {
		return nil, fmt.Errorf("read the enrollment: %w", c.statusError(resp))
	}
	if b := bytes.TrimSpace(resp.body); len(b) == 0 || string(b) == "null" {
		return nil, nil
	}
	var e lmsEnrollment
	if err := json.Unmarshal(resp.body, &e); err != nil {
		return nil, fmt.Errorf("read the enrollment: %w", unreadable(resp, err))
	}
	return &e, nil
}

// lookupUsername returns the username of the account with this email, "" when none.
func (c *Client) lookupUsername(ctx context.Context, email string) (string, error) {
	resp, err := c.do(ctx, http.MethodGet, "/api/user/v1/accounts", url.Values{"email": {email}}, nil)
	if err != nil {
		return "", err
	}
	switch resp.status {
	case http.StatusOK:
		var accounts []struct {
			Username string `json:"username"`
		}
		if err := json.Unmarshal(resp.body, &accounts); err != nil {
			return "", fmt.Errorf("look up the LMS account: %w", unreadable(resp, err))
		}
		if len(accounts) == 0 {
			return "", nil
		}
		return accounts[0].Username, nil
	case http.StatusNotFound:
		return "", nil
	}
	return "", fmt.Errorf("look up the LMS account: %w", c.statusError(resp))
}

// allow records a CourseEnrollmentAllowed with auto_enroll, so the LMS enrolls the learner
// when they register. An existing record (409) counts as success. An LMS older than Quince
// has no enrollment_allowed API (Django's HTML 404): the bulk enroll API, when enabled, does
// the same (instructor/enrollment.py enroll_email records the allowed record).
func (c *Client) allow(ctx context.Context, email, courseKey string) (enrollment.EnrollResult, error) {
	body := map[string]any{"email": email, "course_id": courseKey, "auto_enroll": true}
	resp, err := c.do(ctx, http.MethodPost, allowedPath, nil, body)
	if err != nil {
		return enrollment.EnrollResult{}, err
	}
	switch resp.status {
	case http.StatusCreated, http.StatusOK, http.StatusConflict:
		return enrollment.EnrollResult{Allowed: true}, nil
	case http.StatusNotFound:
		if !isJSON(resp.body) {
			res, err := c.bulkEnroll(ctx, email, courseKey)
			if errors.Is(err, errNoBulkAPI) {
				// Both URLs answered Django's HTML 404.
				return enrollment.EnrollResult{}, enrollment.Permanent(fmt.Errorf("%s: %w", courseKey, lmsError(resp, "lms.no_allowed_api")))
			}
			return res, err
		}
	}
	return enrollment.EnrollResult{}, fmt.Errorf("allow enrollment on registration: %w", c.statusError(resp))
}

const allowedPath = "/api/enrollment/v1/enrollment_allowed/"

// Unenroll takes the learner's access to course away (SPEC §2.8). It reads the enrollment
// first and deactivates it only when it is active: the LMS sends a deactivation of an
// inactive or missing enrollment through its enroll path, which enrolls first and fails once
// enrollment has closed. Then it always deletes the learner's enrollment_allowed record,
// account or not: the LMS enrolls from it again when the account is activated or its email
// changes (user_post_save_callback), and the record stays after it has been used. Nothing
// to undo is not an error. Errors name the course, never the learner.
func (c *Client) Unenroll(ctx context.Context, email, course string) error {
	email = strings.ToLower(strings.TrimSpace(email))
	if email == "" {
		return enrollment.Permanent(fmt.Errorf("unenroll: %w", enrollment.Explain("lms.no_email")))
	}
	username, err := c.lookupUsername(ctx, email)
	if err != nil {
		return err
	}
	if username != "" {
		if err := c.deactivate(ctx, username, course); err != nil {
			return err
		}
	}
	return c.disallow(ctx, email, course)
}

// deactivate deactivates the learner's enrollment in course if a read shows it active.
func (c *Client) deactivate(ctx context.Context, username, course string) error {
	e, err := c.readEnrollment(ctx, username, course)
	if err != nil {
		return fmt.Errorf("%s: %w", course, err)
	}
	if e == nil || !e.IsActive {
		return nil
	}
	// No mode: sending one that differs from the current mode makes the LMS refuse
	// ("Enrollment mode mismatch").
	body := map[string]any{
		"user":           username,
		"is_active":      false,
		"course_details": map[string]string{"course_id": course},
	}
	resp, err := c.do(ctx, http.MethodPost, "/api/enrollment/v1/enrollment", nil, body)
	if err != nil {
		return err
	}
	switch resp.status {
	case http.StatusOK, http.StatusNotAcceptable: // 406: the account is gone
		return nil
	}
	return c.enrollmentError(resp, course, "")
}

// disallow deletes the learner's enrollment_allowed record for course; none is fine. An LMS
// without the enrollment_allowed API (before Quince) deletes it through the bulk API's
// unenroll action (instructor/enrollment.py unenroll_email), when that is enabled; with
// neither, the service cannot have recorded one.
func (c *Client) disallow(ctx context.Context, email, course string) error {
	body := map[string]any{"email": email, "course_id": course}
	resp, err := c.do(ctx, http.MethodDelete, allowedPath, nil, body)
	if err != nil {
		return err
	}
	switch resp.status {
	case http.StatusNoContent, http.StatusOK:
		return nil
	case http.StatusNotFound:
		if isJSON(resp.body) {
			return nil // nothing to delete
		}
		if err := c.bulkUnenroll(ctx, email, course); err != nil && !errors.Is(err, errNoBulkAPI) {
			return err
		}
		return nil
	}
	return fmt.Errorf("%s: delete the enrollment_allowed record: %w", course, c.statusError(resp))
}

// response is an LMS answer, already read.
type response struct {
	status int
	header http.Header
	body   []byte
}

// maxBody bounds how much of an answer is read.
const maxBody = 1 << 20

// do sends one API request with the access token and reads the answer. A 401 drops the
// token and retries once with a fresh one; a second 401 is permanent. A 429 with a
// Retry-After (from the API or the token endpoint) is waited out inside the call when it is
// short, and otherwise returned as a transient error; the wait is remembered, so calls
// made before it has passed do not reach the LMS (see maxInlineWait). Network errors and
// timeouts are returned as transient errors; every answer else is returned for the caller
// to classify.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, body any) (*response, error) {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return nil, enrollment.Permanent(fmt.Errorf("encode the request: %w", netError("lms.request", err)))
		}
	}
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	refreshed, waits := false, 0
	for {
		if d, msg := c.throttle.remaining(); d > 0 {
			if err := waitOut(ctx, d, msg, &waits); err != nil {
				return nil, err
			}
			continue
		}
		resp, tok, err := c.try(ctx, method, u, payload)
		var te *throttledError
		if errors.As(err, &te) { // the token endpoint answered 429 with a Retry-After
			c.throttle.set(time.Now().Add(te.wait), te.msg)
			continue
		}
		if err != nil {
			return nil, err
		}
		if resp.status == http.StatusTooManyRequests {
			if d := retryAfter(resp.header); d > 0 {
				c.throttle.set(time.Now().Add(d), lmsMessage(resp.body))
				continue
			}
			return resp, nil // no Retry-After: the caller's statusError makes it transient
		}
		if resp.status != http.StatusUnauthorized {
			return resp, nil
		}
		c.tokens.invalidate(tok)
		if refreshed {
			return nil, enrollment.Permanent(fmt.Errorf("%s %s: %w", method, path, lmsError(resp, "lms.credentials_fresh")))
		}
		refreshed = true
	}
}

// try makes one attempt, bounded by the client's timeout.
func (c *Client) try(ctx context.Context, method, u string, payload []byte) (*response, *oauth2.Token, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	tok, err := c.tokens.get(ctx)
	if err != nil {
		return nil, nil, err
	}
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, nil, enrollment.Permanent(fmt.Errorf("build the request: %w", netError("lms.request", err)))
	}
	req.Header.Set("Accept", "application/json")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	// Type() keeps "JWT" as the LMS wrote it: Authorization: JWT <token>.
	req.Header.Set("Authorization", tok.Type()+" "+tok.AccessToken)
	res, err := c.http.Do(req)
	if err != nil {
		// net/http's *url.Error quotes the whole URL, the learner's ?email= included: keep
		// the path (above) and the cause only (SPEC §2.6).
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err
		}
		return nil, nil, fmt.Errorf("%s %s: %w", method, req.URL.Path, unreachable(err))
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, maxBody))
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: read the answer: %w", method, req.URL.Path, netError("lms.unreadable", err))
	}
	return &response{status: res.StatusCode, header: res.Header, body: b}, tok, nil
}
