package sandbox

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/mail"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// LMS is a simulated Open edX LMS (protocols.md C). It reproduces, as edx-platform does:
//
//   - POST /oauth2/access_token: form-encoded client_credentials; client id and secret in the
//     form or in Basic auth; token_type=jwt (or the X-Token-Type header) gives
//     {"access_token","expires_in","token_type":"JWT","scope"}, otherwise a Bearer token.
//     A wrong client answers 401 {"error":"invalid_client"}. Over its rate limit the real
//     endpoint answers an HTML 403 page, not an OAuth error: inject RateLimitedPage on "token".
//   - Every API route requires "Authorization: JWT <token>" (or "Bearer <token>" for an
//     opaque token) that is valid and unexpired; otherwise 401 {"detail": ...} like DRF. A
//     DRF throttle answers 429 with Retry-After: inject Throttled on any API route.
//   - GET /api/user/v1/accounts?email=: 200 with a list of accounts (activated or not), 404
//     when none.
//   - POST /api/enrollment/v1/enrollment (no trailing slash; with one it is a 404 page), with
//     the checks in the order of EnrollmentListView.post and enrollments/data.py: missing
//     course id 400; a caller that is not staff enrolling someone else 404 with an empty body;
//     a mode other than audit/honor without staff 403; unknown user 406; is_active not a
//     boolean 400; deactivating with another mode 400 "Enrollment mode mismatch"; unknown
//     course or bad key 400 "No course ... found for enrollment"; unavailable mode 400;
//     closed enrollment 400 "An error occurred while creating ..." (checked before "already
//     enrolled", so re-posting after enrollment closed is a 400 too); re-posting an active
//     enrollment 200 with the existing record and its attributes unchanged. Staff changing
//     the mode or activation of an existing enrollment goes through update_enrollment (no
//     closed check); anything else, including a deactivation of an inactive or missing
//     enrollment, goes through add_enrollment, which enrolls first.
//   - GET /api/enrollment/v1/enrollment/{username},{course_id}: the enrollment, or 200 with an
//     empty body when there is none.
//   - /api/enrollment/v1/enrollment_allowed/ (staff only, 403 otherwise): POST 201, 409 for a
//     duplicate (email, course); DELETE 204, 404 {"message"} when there is none. It exists
//     from Quince on: SetEnrollmentAllowedAPI(false) makes it Django's HTML 404, as before.
//   - POST /api/bulk_enroll/v1/bulk_enroll/ (staff only): JSON or form; an unknown course is a
//     404 {"detail":"Not found."}; activated accounts are enrolled in the course's default
//     mode even when enrollment is closed (an instructor action); unknown emails and accounts
//     not activated yet get an allowed record; other identifiers are invalidIdentifier.
//     SetBulkEnrollAPI(false) makes it Django's HTML 404, as without
//     FEATURES['ENABLE_BULK_ENROLLMENT_VIEW'].
//   - Accounts: AddUser registers an activated account, AddInactiveUser one that is not
//     activated yet; ActivateUser and ChangeEmail enroll the account from its auto_enroll
//     allowed records (enrollment open), which stay, linked to the account.
//
// A page for people (openedx_admin.go) lists the courses and enrollments and creates courses.
//
// Not reproduced: rate limits (only their answers, as faults), course capacity, embargo,
// cohorts, email_opt_in, the X-Edx-Api-Key header.
//
// Routes in Log and Faults: "token", "account", "enroll" (also deactivation),
// "get-enrollment", "allowed", "unenroll-allowed", "bulk"; unknown paths are "unknown".
type LMS struct {
	Log    CallLog
	Faults Faults

	mu          sync.Mutex
	tokenTTL    time.Duration
	clients     map[string]lmsClient
	tokens      map[string]lmsToken
	users       []lmsUser
	courses     map[string]*lmsCourse
	enrollments []*LMSEnrollment
	allowed     []*LMSAllowed
	stats       LMSStats
	noAllowed   bool // no enrollment_allowed API (before Quince)
	noBulk      bool // FEATURES['ENABLE_BULK_ENROLLMENT_VIEW'] off
	holds       map[string]*lmsHold
	lang        string // the courses page's language, "en" or "es" (see SetLanguage)
	adminNonce  string // the courses page's form token
}

// lmsHold keeps one request of a route waiting (Hold).
type lmsHold struct{ arrived, release chan struct{} }

// LMSEnrollment is an enrollment as the LMS stores it.
type LMSEnrollment struct {
	User       string // username
	Course     string
	Mode       string
	IsActive   bool
	Attributes []LMSAttribute
	Created    time.Time
}

// LMSAttribute is a CourseEnrollmentAttribute.
type LMSAttribute struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Value     string `json:"value"`
}

// LMSAllowed is a CourseEnrollmentAllowed record.
type LMSAllowed struct {
	Email      string
	Course     string
	AutoEnroll bool
	User       string // set when a registration used the record
	Created    time.Time
}

// LMSStats counts the enrollment calls that changed something, which the real API does not
// tell apart from idempotent re-posts (both answer 200).
type LMSStats struct {
	Created     int // a new active enrollment (Enrollment API, bulk, or registration)
	Reactivated int // an inactive enrollment made active again
	Repeated    int // a re-post of an active enrollment: 200, nothing changed
	Deactivated int // is_active false on an active enrollment
}

type lmsClient struct {
	secret string
	staff  bool
}

type lmsToken struct {
	client  string
	jwt     bool
	expires time.Time
}

type lmsUser struct {
	username, email string
	active          bool // the account is activated (User.is_active)
}

type lmsCourse struct {
	modes  []string
	closed bool
}

// NewLMS returns an empty LMS with a token lifetime of an hour.
func NewLMS() *LMS {
	return &LMS{
		tokenTTL: time.Hour,
		clients:  map[string]lmsClient{},
		tokens:   map[string]lmsToken{},
		courses:  map[string]*lmsCourse{},
	}
}

// SetTokenTTL sets the lifetime (expires_in) of tokens issued from now on.
func (l *LMS) SetTokenTTL(d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.tokenTTL = d
}

// ExpireTokens revokes every token issued so far: the next API call with one answers 401.
func (l *LMS) ExpireTokens() {
	l.mu.Lock()
	defer l.mu.Unlock()
	clear(l.tokens)
}

// AddClient registers an OAuth application (client credentials) whose user is global staff
// when staff is true.
func (l *LMS) AddClient(id, secret string, staff bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.clients[id] = lmsClient{secret: secret, staff: staff}
}

// AddUser registers an activated account, as registration does when the email needs no
// confirmation (Registration.activate): its auto_enroll allowed records enroll it.
func (l *LMS) AddUser(username, email string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.users = append(l.users, lmsUser{username: username, email: email, active: true})
	l.autoEnroll(&l.users[len(l.users)-1])
}

// AddInactiveUser registers an account that is not activated yet (the learner has not
// followed the activation email). The Enrollment API enrolls it like any account; the bulk
// API gives it an allowed record instead (instructor/enrollment.py enroll_email).
func (l *LMS) AddInactiveUser(username, email string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.users = append(l.users, lmsUser{username: username, email: email})
}

// ActivateUser activates an account, as the activation link does (Registration.activate
// saves User.is_active): its auto_enroll allowed records enroll it.
func (l *LMS) ActivateUser(username string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if u := l.user(username); u != nil && !u.active {
		u.active = true
		l.autoEnroll(u)
	}
}

// ChangeEmail changes an account's email, as a confirmed email change does: an activated
// account is enrolled from the auto_enroll allowed records of its new email and of its own.
func (l *LMS) ChangeEmail(username, email string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if u := l.user(username); u != nil && u.email != email {
		u.email = email
		if u.active {
			l.autoEnroll(u)
		}
	}
}

// autoEnroll is common/djangoapps/student/models/user.py user_post_save_callback, run when
// an account's is_active or email changes and it is active: for each auto_enroll allowed
// record of the account (CourseEnrollmentAllowed.for_user: its email, or linked to it), an
// account already enrolled only gets the record linked; a course whose enrollment has closed
// is skipped; otherwise CourseEnrollment.enroll (default mode), whose
// get_or_create_enrollment links the record. The record stays. l.mu must be held.
func (l *LMS) autoEnroll(u *lmsUser) {
	if !u.active {
		return
	}
	for _, a := range l.allowed {
		if !a.AutoEnroll || !(strings.EqualFold(a.Email, u.email) || a.User == u.username) {
			continue
		}
		c := l.courses[a.Course]
		if e := l.find(u.username, a.Course); e != nil && e.IsActive {
			if a.User == "" {
				a.User = u.username
			}
			continue
		}
		if c == nil || c.closed {
			continue
		}
		l.activate(u.username, a.Course, lmsDefaultMode(c), nil)
		a.User = u.username
	}
}

// user returns the account with this username; l.mu must be held.
func (l *LMS) user(username string) *lmsUser {
	for i := range l.users {
		if l.users[i].username == username {
			return &l.users[i]
		}
	}
	return nil
}

// Unenroll deactivates an enrollment as an admin or the learner would
// (CourseEnrollment.unenroll: update_enrollment with is_active false, no closed check).
func (l *LMS) Unenroll(username, course string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e := l.find(username, course); e != nil && e.IsActive {
		e.IsActive = false
		l.stats.Deactivated++
	}
}

// SetEnrollmentAllowedAPI says whether the LMS has /api/enrollment/v1/enrollment_allowed/
// (openedx/core/djangoapps/enrollments/urls.py, EnrollmentAllowedView, from Quince on).
// Without it the URL is Django's HTML 404 page, as on older releases.
func (l *LMS) SetEnrollmentAllowedAPI(on bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.noAllowed = !on
}

// SetBulkEnrollAPI says whether /api/bulk_enroll/v1/ is routed (lms/urls.py includes it only
// when FEATURES['ENABLE_BULK_ENROLLMENT_VIEW'] is set). Without it the URL is Django's HTML
// 404 page.
func (l *LMS) SetBulkEnrollAPI(on bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.noBulk = !on
}

// RateLimitedPage is the token endpoint's answer over its rate limit, for the next times
// requests (0: until cleared). openedx/core/djangoapps/oauth_dispatch/views.py wraps
// AccessTokenView.dispatch in django-ratelimit's ratelimit(..., block=True), which raises
// Ratelimited, a PermissionDenied: Django answers its HTML 403 page, not an OAuth error.
func RateLimitedPage(times int) Fault {
	return Fault{
		Status: http.StatusForbidden, Times: times,
		Header: http.Header{"Content-Type": {"text/html; charset=utf-8"}},
		Body:   "\n<!doctype html>\n<html lang=\"en\">\n<head>\n  <title>403 Forbidden</title>\n</head>\n<body>\n  <h1>403 Forbidden</h1><p></p>\n</body>\n</html>\n",
	}
}

// Throttled is a DRF throttle's answer (the API views' EnrollmentUserThrottle, a
// UserRateThrottle) for the next times requests (0: until cleared): rest_framework/views.py
// exception_handler answers Throttled with 429, {"detail":"Request was throttled. Expected
// available in N seconds."} and Retry-After: N (the wait rounded up to whole seconds).
func Throttled(wait time.Duration, times int) Fault {
	secs := int((wait + time.Second - 1) / time.Second)
	unit := "seconds" // rest_framework/exceptions.py Throttled.extra_detail_plural
	if secs == 1 {
		unit = "second"
	}
	return Fault{
		Status: http.StatusTooManyRequests, Times: times,
		Header: http.Header{"Retry-After": {strconv.Itoa(secs)}},
		Body:   fmt.Sprintf(`{"detail":"Request was throttled. Expected available in %d %s."}`, secs, unit),
	}
}

// AddCourse adds a course open for enrollment with these modes (audit when none is given).
func (l *LMS) AddCourse(key string, modes ...string) {
	if len(modes) == 0 {
		modes = []string{"audit"}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.courses[key] = &lmsCourse{modes: modes}
}

// CloseEnrollment closes enrollment in a course (its enrollment end has passed).
func (l *LMS) CloseEnrollment(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if c := l.courses[key]; c != nil {
		c.closed = true
	}
}

// Enrollments returns a copy of every enrollment, oldest first.
func (l *LMS) Enrollments() []LMSEnrollment {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]LMSEnrollment, 0, len(l.enrollments))
	for _, e := range l.enrollments {
		c := *e
		c.Attributes = slices.Clone(e.Attributes)
		out = append(out, c)
	}
	return out
}

// Allowed returns a copy of every enrollment_allowed record, oldest first.
func (l *LMS) Allowed() []LMSAllowed {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]LMSAllowed, 0, len(l.allowed))
	for _, a := range l.allowed {
		out = append(out, *a)
	}
	return out
}

// Stats counts the enrollment calls that created, reactivated, repeated or deactivated.
func (l *LMS) Stats() LMSStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.stats
}

// Hold makes the next request to route wait, before anything else happens to it, until
// release is called (or its client goes away); arrived is closed when it has come. Tests use
// it to keep a call in flight while something else happens.
func (l *LMS) Hold(route string) (arrived <-chan struct{}, release func()) {
	h := &lmsHold{arrived: make(chan struct{}), release: make(chan struct{})}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.holds == nil {
		l.holds = map[string]*lmsHold{}
	}
	l.holds[route] = h
	var once sync.Once
	return h.arrived, func() { once.Do(func() { close(h.release) }) }
}

// wait holds the request if a Hold is set for its route.
func (l *LMS) wait(r *http.Request, route string) {
	l.mu.Lock()
	h := l.holds[route]
	delete(l.holds, route)
	l.mu.Unlock()
	if h == nil {
		return
	}
	close(h.arrived)
	select {
	case <-h.release:
	case <-r.Context().Done():
	}
}

// ServeHTTP answers as the LMS would.
func (l *LMS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/sandbox/") { // the sandbox's own page, not the LMS's
		l.serveAdmin(w, r)
		return
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	r.Body = io.NopCloser(bytes.NewReader(body))
	route, handle := l.route(r)
	rec := &lmsRecorder{ResponseWriter: w, status: http.StatusOK}
	defer func() {
		l.Log.Add(Call{Route: route, Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(),
			Header: r.Header.Clone(), Body: body, Status: rec.status})
	}()
	l.wait(r, route)
	if answered, status := l.Faults.Apply(rec, r, route); answered {
		rec.status = status // 0 when the client went away during a delay
		return
	}
	if route != "token" && route != "unknown" {
		client, ok := l.authenticate(rec, r)
		if !ok {
			return
		}
		handle(rec, r, body, client)
		return
	}
	handle(rec, r, body, "")
}

type lmsHandler func(w http.ResponseWriter, r *http.Request, body []byte, client string)

func (l *LMS) route(r *http.Request) (string, lmsHandler) {
	p := r.URL.Path
	l.mu.Lock()
	noAllowed, noBulk := l.noAllowed, l.noBulk
	l.mu.Unlock()
	switch {
	case noAllowed && strings.HasPrefix(p, "/api/enrollment/v1/enrollment_allowed"),
		noBulk && strings.HasPrefix(p, "/api/bulk_enroll/"):
		return "unknown", lmsNotFoundPage // not routed on this LMS
	case (p == "/oauth2/access_token" || p == "/oauth2/access_token/") && r.Method == http.MethodPost:
		return "token", l.token
	case p == "/api/user/v1/accounts" && r.Method == http.MethodGet:
		return "account", l.accounts
	case p == "/api/enrollment/v1/enrollment" && r.Method == http.MethodPost:
		return "enroll", l.enroll
	case strings.HasPrefix(p, "/api/enrollment/v1/enrollment/") && strings.Contains(p, ",") && r.Method == http.MethodGet:
		return "get-enrollment", l.getEnrollment
	case p == "/api/enrollment/v1/enrollment_allowed/" && r.Method == http.MethodPost:
		return "allowed", l.allow
	case p == "/api/enrollment/v1/enrollment_allowed/" && r.Method == http.MethodDelete:
		return "unenroll-allowed", l.disallow
	case p == "/api/bulk_enroll/v1/bulk_enroll/" && r.Method == http.MethodPost:
		return "bulk", l.bulk
	}
	return "unknown", lmsNotFoundPage
}

// lmsNotFoundPage is Django's 404 page (DEBUG off).
func lmsNotFoundPage(w http.ResponseWriter, r *http.Request, _ []byte, _ string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusNotFound)
	fmt.Fprintf(w, "<!doctype html>\n<html lang=\"en\">\n<head>\n  <title>Not Found</title>\n</head>\n<body>\n  <h1>Not Found</h1><p>The requested resource was not found on this server.</p>\n</body>\n</html>\n")
}

func (l *LMS) token(w http.ResponseWriter, r *http.Request, _ []byte, _ string) {
	if err := r.ParseForm(); err != nil {
		lmsJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request"})
		return
	}
	id, secret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	if u, p, ok := r.BasicAuth(); ok {
		id, secret = u, p
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	c, ok := l.clients[id]
	if !ok || c.secret != secret {
		lmsJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client"})
		return
	}
	if gt := r.PostForm.Get("grant_type"); gt != "client_credentials" {
		lmsJSON(w, http.StatusBadRequest, map[string]string{"error": "unsupported_grant_type"})
		return
	}
	tt := r.PostForm.Get("token_type")
	if tt == "" {
		tt = r.Header.Get("X-Token-Type")
	}
	jwt := strings.EqualFold(tt, "jwt")
	tok := lmsNewToken(jwt)
	l.tokens[tok] = lmsToken{client: id, jwt: jwt, expires: time.Now().Add(l.tokenTTL)}
	typ := "Bearer"
	if jwt {
		typ = "JWT"
	}
	lmsJSON(w, http.StatusOK, map[string]any{
		"access_token": tok,
		"expires_in":   int(l.tokenTTL / time.Second),
		"token_type":   typ,
		"scope":        "read write email profile",
	})
}

func lmsNewToken(jwt bool) string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	s := base64.RawURLEncoding.EncodeToString(b)
	if jwt {
		return "eyJhbGciOiJSUzUxMiIsImtpZCI6InNhbmRib3gifQ.eyJzYW5kYm94Ijp0cnVlfQ." + s
	}
	return s
}

// authenticate checks the Authorization header as DRF with JwtAuthentication and
// BearerAuthentication does; it answers 401 itself and returns the client id.
func (l *LMS) authenticate(w http.ResponseWriter, r *http.Request) (string, bool) {
	scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	deny := func(detail string) (string, bool) {
		w.Header().Set("WWW-Authenticate", `JWT realm="api"`)
		lmsJSON(w, http.StatusUnauthorized, map[string]string{"detail": detail})
		return "", false
	}
	if scheme == "" {
		return deny("Authentication credentials were not provided.")
	}
	l.mu.Lock()
	t, ok := l.tokens[tok]
	l.mu.Unlock()
	switch {
	case !ok || (t.jwt != strings.EqualFold(scheme, "JWT")) || (!t.jwt && !strings.EqualFold(scheme, "Bearer")):
		if strings.EqualFold(scheme, "JWT") {
			return deny("Error decoding token.")
		}
		return deny("Invalid token")
	case time.Now().After(t.expires):
		if t.jwt {
			return deny("Signature has expired.")
		}
		return deny("The provided access token has expired.")
	}
	return t.client, true
}

func (l *LMS) accounts(w http.ResponseWriter, r *http.Request, _ []byte, _ string) {
	email := r.URL.Query().Get("email")
	if email == "" {
		lmsJSON(w, http.StatusBadRequest, map[string]string{"developer_message": "username or email is required"})
		return
	}
	l.mu.Lock()
	var list []map[string]any
	for _, u := range l.users {
		if strings.EqualFold(u.email, email) {
			list = append(list, map[string]any{
				"username": u.username, "email": u.email, "name": "", "is_active": u.active,
				"date_joined": "2024-01-01T00:00:00Z", "country": nil, "profile_image": map[string]any{"has_image": false},
			})
		}
	}
	l.mu.Unlock()
	if len(list) == 0 {
		lmsJSON(w, http.StatusNotFound, map[string]string{"developer_message": "No user with that email address exists"})
		return
	}
	lmsJSON(w, http.StatusOK, list)
}

var lmsCourseKeyRE = regexp.MustCompile(`^course-v1:[\w\-~.:]+\+[\w\-~.:]+\+[\w\-~.:]+$|^[\w\-~.:]+/[\w\-~.:]+/[\w\-~.:]+$`)

func (l *LMS) enroll(w http.ResponseWriter, _ *http.Request, body []byte, client string) {
	var req struct {
		User          string          `json:"user"`
		Mode          *string         `json:"mode"`
		IsActive      json.RawMessage `json:"is_active"`
		CourseDetails struct {
			CourseID string `json:"course_id"`
		} `json:"course_details"`
		Attributes []map[string]string `json:"enrollment_attributes"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		lmsJSON(w, http.StatusBadRequest, map[string]string{"detail": "JSON parse error - " + err.Error()})
		return
	}
	courseID := req.CourseDetails.CourseID
	if courseID == "" {
		lmsMessage(w, http.StatusBadRequest, "Course ID must be specified to create a new enrollment.")
		return
	}
	if !lmsCourseKeyRE.MatchString(courseID) {
		lmsMessage(w, http.StatusBadRequest, fmt.Sprintf("No course '%s' found for enrollment", courseID))
		return
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	staff := l.clients[client].staff
	username := req.User
	if username == "" {
		username = client
	}
	if username != client && !staff {
		w.WriteHeader(http.StatusNotFound) // empty body
		return
	}
	if req.Mode != nil && *req.Mode != "audit" && *req.Mode != "honor" && !staff {
		lmsMessage(w, http.StatusForbidden, fmt.Sprintf("User does not have permission to create enrollment with mode [%s].", *req.Mode))
		return
	}
	if !slices.ContainsFunc(l.users, func(u lmsUser) bool { return u.username == username }) {
		lmsMessage(w, http.StatusNotAcceptable, fmt.Sprintf("The user %s does not exist.", username))
		return
	}
	var isActive *bool
	if len(req.IsActive) > 0 && string(req.IsActive) != "null" {
		var b bool
		if json.Unmarshal(req.IsActive, &b) != nil {
			var s string
			v := string(req.IsActive)
			if json.Unmarshal(req.IsActive, &s) == nil {
				v = s
			}
			lmsMessage(w, http.StatusBadRequest, fmt.Sprintf("'%s' is an invalid enrollment activation status.", v))
			return
		}
		isActive = &b
	}
	var attrs []LMSAttribute
	for _, a := range req.Attributes {
		ns, okNS := a["namespace"]
		name, okName := a["name"]
		value, okValue := a["value"]
		if !okNS || !okName { // "{namespace}:{name}".format(**attr) raises KeyError
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(w, "<h1>Server Error (500)</h1>")
			return
		}
		if !okValue {
			lmsMessage(w, http.StatusBadRequest, "'value' not in enrollment attribute")
			return
		}
		attrs = append(attrs, LMSAttribute{Namespace: ns, Name: name, Value: value})
	}

	course := l.courses[courseID]
	existing := l.find(username, courseID)
	modeChanged := existing != nil && req.Mode != nil && existing.Mode != *req.Mode
	activeChanged := existing != nil && isActive != nil && existing.IsActive != *isActive

	if staff && (modeChanged || activeChanged) { // api.update_enrollment
		if modeChanged && activeChanged && !*isActive {
			lmsMessage(w, http.StatusBadRequest, fmt.Sprintf(
				"Enrollment mode mismatch: active mode=%s, requested mode=%s. Won't deactivate.", existing.Mode, *req.Mode))
			return
		}
		if req.Mode != nil && !l.validMode(w, course, courseID, *req.Mode) {
			return
		}
		if req.Mode != nil {
			existing.Mode = *req.Mode
		}
		if isActive != nil && existing.IsActive != *isActive {
			existing.IsActive = *isActive
			if *isActive {
				l.stats.Reactivated++
			} else {
				l.stats.Deactivated++
			}
		}
		lmsSetAttributes(existing, attrs)
		lmsJSON(w, http.StatusOK, lmsEnrollmentJSON(existing, courseID, course))
		return
	}

	// api.add_enrollment
	mode := ""
	if req.Mode != nil {
		mode = *req.Mode
	} else if course != nil {
		mode = lmsDefaultMode(course)
	}
	if !l.validMode(w, course, courseID, mode) {
		return
	}
	if course.closed { // CourseEnrollment.enroll checks closed before already-enrolled
		lmsMessage(w, http.StatusBadRequest, fmt.Sprintf(
			"An error occurred while creating the new course enrollment for user '%s' in course '%s'", username, courseID))
		return
	}
	if existing != nil && existing.IsActive {
		l.stats.Repeated++
		lmsJSON(w, http.StatusOK, lmsEnrollmentJSON(existing, courseID, course))
		return
	}
	var e *LMSEnrollment
	if isActive == nil || *isActive {
		e = l.activate(username, courseID, mode, attrs)
	} else {
		// A deactivation that is not a change (the enrollment is inactive or missing), or a
		// caller that is not staff: enrollments/data.py create_course_enrollment runs
		// CourseEnrollment.enroll (which creates or reactivates the enrollment and fires the
		// enroll signals; closed enrollment was refused above), then _update_enrollment
		// deactivates it.
		e = l.activate(username, courseID, mode, attrs)
		e.IsActive = false
		l.stats.Deactivated++
	}
	lmsJSON(w, http.StatusOK, lmsEnrollmentJSON(e, courseID, course))
}

// validMode answers 400 (and reports false) when the course does not exist or lacks mode.
func (l *LMS) validMode(w http.ResponseWriter, course *lmsCourse, courseID, mode string) bool {
	if course == nil {
		lmsMessage(w, http.StatusBadRequest, fmt.Sprintf("No course '%s' found for enrollment", courseID))
		return false
	}
	if !slices.Contains(course.modes, mode) {
		lmsJSON(w, http.StatusBadRequest, map[string]any{
			"message": fmt.Sprintf(
				"The [%s] course mode is expired or otherwise unavailable for course run [%s].", mode, courseID),
			"course_details": lmsCourseDetails(courseID, course),
		})
		return false
	}
	return true
}

// activate creates or reactivates the enrollment, counting it; l.mu must be held.
func (l *LMS) activate(username, courseID, mode string, attrs []LMSAttribute) *LMSEnrollment {
	e := l.find(username, courseID)
	if e == nil {
		e = &LMSEnrollment{User: username, Course: courseID, Created: time.Now().UTC()}
		l.enrollments = append(l.enrollments, e)
		l.stats.Created++
	} else if !e.IsActive {
		l.stats.Reactivated++
	}
	e.Mode = mode
	e.IsActive = true
	lmsSetAttributes(e, attrs)
	return e
}

// getEnrollment answers GET /api/enrollment/v1/enrollment/{username},{course_id}: the
// enrollment, or 200 with an empty body when there is none (EnrollmentView.get). Another
// user's enrollment is visible to staff only; others get 404 with an empty body.
func (l *LMS) getEnrollment(w http.ResponseWriter, r *http.Request, _ []byte, client string) {
	rest := strings.TrimPrefix(r.URL.Path, "/api/enrollment/v1/enrollment/")
	username, courseID, _ := strings.Cut(rest, ",")
	l.mu.Lock()
	defer l.mu.Unlock()
	if username != client && !l.clients[client].staff {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	e := l.find(username, courseID)
	if e == nil {
		w.WriteHeader(http.StatusOK)
		return
	}
	lmsJSON(w, http.StatusOK, map[string]any{
		"created": e.Created.UTC().Format(time.RFC3339), "mode": e.Mode, "is_active": e.IsActive,
		"course_details": map[string]string{"course_id": e.Course}, "user": e.User,
	})
}

func (l *LMS) find(username, courseID string) *LMSEnrollment {
	for _, e := range l.enrollments {
		if e.User == username && e.Course == courseID {
			return e
		}
	}
	return nil
}

// lmsSetAttributes adds or updates attributes by (namespace, name).
func lmsSetAttributes(e *LMSEnrollment, attrs []LMSAttribute) {
	for _, a := range attrs {
		i := slices.IndexFunc(e.Attributes, func(b LMSAttribute) bool { return b.Namespace == a.Namespace && b.Name == a.Name })
		if i >= 0 {
			e.Attributes[i] = a
		} else {
			e.Attributes = append(e.Attributes, a)
		}
	}
}

func lmsDefaultMode(c *lmsCourse) string {
	for _, m := range []string{"audit", "honor"} {
		if slices.Contains(c.modes, m) {
			return m
		}
	}
	return "audit"
}

func lmsEnrollmentJSON(e *LMSEnrollment, courseID string, c *lmsCourse) map[string]any {
	return map[string]any{
		"created":        e.Created.Format(time.RFC3339),
		"mode":           e.Mode,
		"is_active":      e.IsActive,
		"course_details": lmsCourseDetails(courseID, c),
		"user":           e.User,
	}
}

func lmsCourseDetails(courseID string, c *lmsCourse) map[string]any {
	modes := []map[string]any{}
	if c != nil {
		for _, m := range c.modes {
			modes = append(modes, map[string]any{
				"slug": m, "name": m, "min_price": 0, "suggested_prices": "", "currency": "usd",
				"expiration_datetime": nil, "description": nil, "sku": nil, "bulk_sku": nil,
			})
		}
	}
	return map[string]any{
		"course_id": courseID, "course_name": courseID, "enrollment_start": nil, "enrollment_end": nil,
		"course_start": nil, "course_end": nil, "invite_only": false, "course_modes": modes,
	}
}

// staffOnly answers 403 like DRF's IsAdminUser/IsStaff for a client whose user is not staff.
func (l *LMS) staffOnly(w http.ResponseWriter, client string) bool {
	l.mu.Lock()
	staff := l.clients[client].staff
	l.mu.Unlock()
	if !staff {
		lmsJSON(w, http.StatusForbidden, map[string]string{"detail": "You do not have permission to perform this action."})
	}
	return staff
}

type lmsAllowedRequest struct {
	Email      string `json:"email"`
	CourseID   string `json:"course_id"`
	AutoEnroll bool   `json:"auto_enroll"`
}

// lmsParseAllowed decodes and validates like CourseEnrollmentAllowedSerializer.
func lmsParseAllowed(w http.ResponseWriter, body []byte) (lmsAllowedRequest, bool) {
	var req lmsAllowedRequest
	if err := json.Unmarshal(body, &req); err != nil {
		lmsJSON(w, http.StatusBadRequest, map[string]string{"detail": "JSON parse error - " + err.Error()})
		return req, false
	}
	errs := map[string][]string{}
	if req.Email == "" {
		errs["email"] = []string{"This field is required."}
	} else if _, err := mail.ParseAddress(req.Email); err != nil {
		errs["email"] = []string{"Enter a valid email address."}
	}
	if req.CourseID == "" {
		errs["course_id"] = []string{"This field is required."}
	}
	if len(errs) > 0 {
		lmsJSON(w, http.StatusBadRequest, errs)
		return req, false
	}
	return req, true
}

func (l *LMS) allow(w http.ResponseWriter, _ *http.Request, body []byte, client string) {
	if !l.staffOnly(w, client) {
		return
	}
	req, ok := lmsParseAllowed(w, body)
	if !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, a := range l.allowed {
		if strings.EqualFold(a.Email, req.Email) && a.Course == req.CourseID {
			lmsMessage(w, http.StatusConflict, fmt.Sprintf(
				"An enrollment allowed with email %s and course %s already exists.", req.Email, req.CourseID))
			return
		}
	}
	l.allowed = append(l.allowed, &LMSAllowed{Email: req.Email, Course: req.CourseID, AutoEnroll: req.AutoEnroll, Created: time.Now().UTC()})
	lmsJSON(w, http.StatusCreated, req)
}

func (l *LMS) disallow(w http.ResponseWriter, _ *http.Request, body []byte, client string) {
	if !l.staffOnly(w, client) {
		return
	}
	req, ok := lmsParseAllowed(w, body)
	if !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	i := slices.IndexFunc(l.allowed, func(a *LMSAllowed) bool {
		return strings.EqualFold(a.Email, req.Email) && a.Course == req.CourseID
	})
	if i < 0 {
		lmsMessage(w, http.StatusNotFound, fmt.Sprintf(
			"An enrollment allowed with email %s and course %s doesn't exists.", req.Email, req.CourseID))
		return
	}
	l.allowed = slices.Delete(l.allowed, i, i+1)
	w.WriteHeader(http.StatusNoContent)
}

type lmsBulkState struct {
	Enrollment bool `json:"enrollment"`
	AutoEnroll bool `json:"auto_enroll"`
	User       bool `json:"user"`
	Allowed    bool `json:"allowed"`
}

func (l *LMS) bulk(w http.ResponseWriter, r *http.Request, body []byte, client string) {
	if !l.staffOnly(w, client) {
		return
	}
	var req struct {
		Identifiers   string `json:"identifiers"`
		Courses       string `json:"courses"`
		Action        string `json:"action"`
		AutoEnroll    bool   `json:"auto_enroll"`
		EmailStudents bool   `json:"email_students"`
	}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(body, &req); err != nil {
			lmsJSON(w, http.StatusBadRequest, map[string]string{"detail": "JSON parse error - " + err.Error()})
			return
		}
	} else {
		_ = r.ParseForm()
		req.Identifiers, req.Courses, req.Action = r.PostForm.Get("identifiers"), r.PostForm.Get("courses"), r.PostForm.Get("action")
		req.AutoEnroll = r.PostForm.Get("auto_enroll") == "true"
		req.EmailStudents = r.PostForm.Get("email_students") == "true"
	}
	errs := map[string][]string{}
	if req.Identifiers == "" {
		errs["identifiers"] = []string{"This field is required."}
	}
	if req.Action != "enroll" && req.Action != "unenroll" {
		errs["action"] = []string{fmt.Sprintf("\"%s\" is not a valid choice.", req.Action)}
	}
	courses := lmsSplitList(req.Courses)
	if len(courses) == 0 {
		errs["courses"] = []string{"This field is required."}
	}
	for _, c := range courses {
		if !lmsCourseKeyRE.MatchString(c) {
			errs["courses"] = []string{"Invalid course id: " + c}
		}
	}
	if len(errs) > 0 {
		lmsJSON(w, http.StatusBadRequest, errs)
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range courses {
		if l.courses[c] == nil {
			lmsJSON(w, http.StatusNotFound, map[string]string{"detail": "Not found."})
			return
		}
	}
	out := map[string]any{}
	for _, cid := range courses {
		var results []any
		for _, id := range lmsSplitList(req.Identifiers) {
			results = append(results, l.bulkOne(cid, id, req.Action, req.AutoEnroll))
		}
		out[cid] = map[string]any{"action": req.Action, "auto_enroll": req.AutoEnroll, "results": results}
	}
	lmsJSON(w, http.StatusOK, map[string]any{
		"auto_enroll": req.AutoEnroll, "email_students": req.EmailStudents, "action": req.Action, "courses": out,
	})
}

// bulkOne is students_update_enrollment for one identifier (lms/djangoapps/instructor/
// views/api.py), which calls instructor/enrollment.py enroll_email or unenroll_email. The
// states are EmailEnrollmentState: "user" is whether an account has the email, "allowed"
// whether an allowed record exists for it (CourseEnrollmentAllowed.for_user: by email or
// linked to the account). l.mu must be held.
func (l *LMS) bulkOne(courseID, identifier, action string, autoEnroll bool) any {
	var user *lmsUser
	for i, u := range l.users {
		if strings.EqualFold(u.email, identifier) || u.username == identifier {
			user = &l.users[i]
			break
		}
	}
	email := identifier
	if user != nil {
		email = user.email
	} else if _, err := mail.ParseAddress(identifier); err != nil || !strings.Contains(identifier, "@") {
		return map[string]any{"identifier": identifier, "invalidIdentifier": true}
	}
	state := func() lmsBulkState {
		s := lmsBulkState{User: user != nil}
		if user != nil {
			if e := l.find(user.username, courseID); e != nil && e.IsActive {
				s.Enrollment = true
			}
		}
		for _, a := range l.allowed {
			if (strings.EqualFold(a.Email, email) || (user != nil && a.User == user.username)) && a.Course == courseID {
				s.Allowed, s.AutoEnroll = true, a.AutoEnroll
			}
		}
		return s
	}
	before := state()
	switch {
	case action == "enroll" && user != nil && user.active:
		// enroll_email enrolls only "if previous_state.user and previous_state.user.is_active",
		// through CourseEnrollment.enroll_by_email without check_access (so a closed course
		// does not stop it), in the current mode when already enrolled, else the default.
		if before.Enrollment {
			l.stats.Repeated++
		} else {
			l.activate(user.username, courseID, lmsDefaultMode(l.courses[courseID]), nil)
		}
	case action == "enroll":
		// No account, or one not activated yet: enroll_email records a
		// CourseEnrollmentAllowed (get_or_create, auto_enroll set from the request), which
		// user_post_save_callback turns into an enrollment when the account is activated.
		if i := slices.IndexFunc(l.allowed, func(a *LMSAllowed) bool {
			return strings.EqualFold(a.Email, email) && a.Course == courseID
		}); i >= 0 {
			l.allowed[i].AutoEnroll = autoEnroll
		} else {
			l.allowed = append(l.allowed, &LMSAllowed{Email: email, Course: courseID, AutoEnroll: autoEnroll, Created: time.Now().UTC()})
		}
	default: // unenroll_email: CourseEnrollment.unenroll_by_email (no closed check), then the allowed record
		if user != nil {
			if e := l.find(user.username, courseID); e != nil && e.IsActive {
				e.IsActive = false
				l.stats.Deactivated++
			}
		}
		l.allowed = slices.DeleteFunc(l.allowed, func(a *LMSAllowed) bool {
			return strings.EqualFold(a.Email, email) && a.Course == courseID
		})
	}
	return map[string]any{"identifier": identifier, "before": before, "after": state()}
}

func lmsSplitList(s string) []string {
	var out []string
	for _, p := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' }) {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func lmsMessage(w http.ResponseWriter, status int, msg string) {
	lmsJSON(w, status, map[string]string{"message": msg})
}

func lmsJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// lmsRecorder remembers the status written, for the call log.
type lmsRecorder struct {
	http.ResponseWriter
	status int
}

func (s *lmsRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}
