package sandbox

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

const lmsTestCourse = "course-v1:Org+C1+2025"

// lmsFixture starts an LMS with a staff client "staff", a non-staff client "plain", the
// user bob and an open course with audit and verified modes.
func lmsFixture(t *testing.T) (*LMS, *httptest.Server) {
	t.Helper()
	l := NewLMS()
	l.AddClient("staff", "pw", true)
	l.AddClient("plain", "pw", false)
	l.AddUser("bob", "bob@example.com")
	l.AddCourse(lmsTestCourse, "audit", "verified")
	srv := httptest.NewServer(l)
	t.Cleanup(srv.Close)
	return l, srv
}

func lmsGetToken(t *testing.T, srv *httptest.Server, client string) string {
	t.Helper()
	res, err := http.PostForm(srv.URL+"/oauth2/access_token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {client}, "client_secret": {"pw"}, "token_type": {"jwt"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
		TokenType   string `json:"token_type"`
		Scope       string `json:"scope"`
	}
	if err := json.NewDecoder(res.Body).Decode(&tok); err != nil || res.StatusCode != 200 {
		t.Fatalf("token: %d %v", res.StatusCode, err)
	}
	if tok.TokenType != "JWT" || tok.ExpiresIn != 3600 || tok.AccessToken == "" || tok.Scope == "" {
		t.Fatalf("token = %+v", tok)
	}
	return tok.AccessToken
}

// lmsDo sends body as JSON with the token and returns the status and the body.
func lmsDo(t *testing.T, srv *httptest.Server, tok, method, path, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if tok != "" {
		req.Header.Set("Authorization", "JWT "+tok)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func TestLMSToken(t *testing.T) {
	t.Parallel()
	l, srv := lmsFixture(t)
	lmsGetToken(t, srv, "staff")
	res, err := http.PostForm(srv.URL+"/oauth2/access_token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {"staff"}, "client_secret": {"nope"},
	})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 401 || !strings.Contains(string(b), `"invalid_client"`) {
		t.Errorf("bad secret: %d %s", res.StatusCode, b)
	}
	if got := l.Log.Calls("token"); len(got) != 2 || got[1].Status != 401 {
		t.Errorf("log = %+v", got)
	}
}

func TestLMSAuth(t *testing.T) {
	t.Parallel()
	l, srv := lmsFixture(t)
	tok := lmsGetToken(t, srv, "staff")
	if st, b := lmsDo(t, srv, "", "GET", "/api/user/v1/accounts?email=bob@example.com", ""); st != 401 || !strings.Contains(b, "not provided") {
		t.Errorf("no header: %d %s", st, b)
	}
	if st, b := lmsDo(t, srv, tok, "GET", "/api/user/v1/accounts?email=BOB@example.com", ""); st != 200 || !strings.Contains(b, `"username":"bob"`) {
		t.Errorf("lookup: %d %s", st, b)
	}
	if st, _ := lmsDo(t, srv, tok, "GET", "/api/user/v1/accounts?email=x@example.com", ""); st != 404 {
		t.Errorf("unknown email: %d", st)
	}
	l.ExpireTokens()
	if st, _ := lmsDo(t, srv, tok, "GET", "/api/user/v1/accounts?email=bob@example.com", ""); st != 401 {
		t.Errorf("revoked token: %d", st)
	}
}

func TestLMSEnrollmentAPI(t *testing.T) {
	t.Parallel()
	enroll := func(mode, active string) string {
		b := `{"user":"bob","course_details":{"course_id":"` + lmsTestCourse + `"}`
		if mode != "" {
			b += `,"mode":"` + mode + `"`
		}
		if active != "" {
			b += `,"is_active":` + active
		}
		return b + `}`
	}
	const path = "/api/enrollment/v1/enrollment"
	tests := []struct {
		name       string
		client     string
		setup      func(*LMS, string, *httptest.Server)
		body       string
		path       string
		status     int
		want       string
		wantActive bool // bob's enrollment afterwards
	}{
		{name: "create", body: enroll("verified", "true"), status: 200, want: `"mode":"verified"`, wantActive: true},
		{name: "default mode", body: enroll("", ""), status: 200, want: `"mode":"audit"`, wantActive: true},
		{name: "trailing slash", body: enroll("audit", "true"), path: path + "/", status: 404, want: "Not Found"},
		{name: "no course", body: `{"user":"bob"}`, status: 400, want: "Course ID must be specified to create a new enrollment."},
		{name: "unknown course", body: strings.Replace(enroll("audit", "true"), "C1", "C9", 1), status: 400,
			want: "No course 'course-v1:Org+C9+2025' found for enrollment"},
		{name: "bad mode", body: enroll("credit", "true"), status: 400,
			want: "The [credit] course mode is expired or otherwise unavailable for course run [" + lmsTestCourse + "]."},
		{name: "no such user", body: strings.Replace(enroll("audit", "true"), "bob", "zed", 1), status: 406, want: "The user zed does not exist."},
		{name: "not staff", client: "plain", body: enroll("audit", "true"), status: 404},
		{name: "is_active not boolean", body: enroll("audit", `"yes"`), status: 400, want: "'yes' is an invalid enrollment activation status."},
		{name: "closed", setup: func(l *LMS, _ string, _ *httptest.Server) { l.CloseEnrollment(lmsTestCourse) },
			body: enroll("audit", "true"), status: 400,
			want: "An error occurred while creating the new course enrollment for user 'bob' in course '" + lmsTestCourse + "'"},
		{name: "re-post", setup: func(l *LMS, tok string, srv *httptest.Server) {
			lmsDo(t, srv, tok, "POST", path, enroll("audit", "true"))
		},
			body: enroll("audit", "true"), status: 200, want: `"is_active":true`, wantActive: true},
		{name: "re-post after close", setup: func(l *LMS, tok string, srv *httptest.Server) {
			lmsDo(t, srv, tok, "POST", path, enroll("audit", "true"))
			l.CloseEnrollment(lmsTestCourse)
		}, body: enroll("audit", "true"), status: 400, want: "An error occurred while creating", wantActive: true},
		{name: "deactivate", setup: func(l *LMS, tok string, srv *httptest.Server) {
			lmsDo(t, srv, tok, "POST", path, enroll("verified", "true"))
		},
			body: enroll("", "false"), status: 200, want: `"is_active":false`},
		{name: "deactivate inactive after close", setup: func(l *LMS, tok string, srv *httptest.Server) {
			lmsDo(t, srv, tok, "POST", path, enroll("audit", "true"))
			l.Unenroll("bob", lmsTestCourse)
			l.CloseEnrollment(lmsTestCourse)
		}, body: enroll("", "false"), status: 400, want: "An error occurred while creating the new course enrollment"},
		{name: "deactivate missing after close", setup: func(l *LMS, _ string, _ *httptest.Server) { l.CloseEnrollment(lmsTestCourse) },
			body: enroll("", "false"), status: 400, want: "An error occurred while creating the new course enrollment"},
		{name: "deactivate other mode", setup: func(l *LMS, tok string, srv *httptest.Server) {
			lmsDo(t, srv, tok, "POST", path, enroll("verified", "true"))
		},
			body: enroll("audit", "false"), status: 400, want: "Enrollment mode mismatch: active mode=verified, requested mode=audit. Won't deactivate.", wantActive: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l, srv := lmsFixture(t)
			client := tt.client
			if client == "" {
				client = "staff"
			}
			tok := lmsGetToken(t, srv, client)
			if tt.setup != nil {
				tt.setup(l, lmsGetToken(t, srv, "staff"), srv)
			}
			p := tt.path
			if p == "" {
				p = path
			}
			st, b := lmsDo(t, srv, tok, "POST", p, tt.body)
			if st != tt.status || !strings.Contains(b, tt.want) {
				t.Errorf("answer %d %s, want %d with %q", st, b, tt.status, tt.want)
			}
			if tt.status == 404 && tt.path == "" && strings.TrimSpace(b) != "" {
				t.Errorf("404 body = %q, want empty", b)
			}
			active := false
			for _, e := range l.Enrollments() {
				active = active || (e.User == "bob" && e.IsActive)
			}
			if active != tt.wantActive {
				t.Errorf("bob active = %v, want %v (%+v)", active, tt.wantActive, l.Enrollments())
			}
		})
	}
}

func TestLMSStatsAndAllowed(t *testing.T) {
	t.Parallel()
	l, srv := lmsFixture(t)
	tok := lmsGetToken(t, srv, "staff")
	body := `{"user":"bob","mode":"audit","is_active":true,"course_details":{"course_id":"` + lmsTestCourse + `"},` +
		`"enrollment_attributes":[{"namespace":"order","name":"order_number","value":"1"}]}`
	lmsDo(t, srv, tok, "POST", "/api/enrollment/v1/enrollment", body)
	lmsDo(t, srv, tok, "POST", "/api/enrollment/v1/enrollment", strings.Replace(body, `"value":"1"`, `"value":"2"`, 1))
	if s := l.Stats(); s != (LMSStats{Created: 1, Repeated: 1}) {
		t.Errorf("stats = %+v", s)
	}
	if es := l.Enrollments(); es[0].Attributes[0].Value != "1" {
		t.Errorf("a re-post changed the attributes: %+v", es[0].Attributes)
	}

	allowed := `{"email":"new@example.com","course_id":"` + lmsTestCourse + `","auto_enroll":true}`
	plain := lmsGetToken(t, srv, "plain")
	if st, _ := lmsDo(t, srv, plain, "POST", "/api/enrollment/v1/enrollment_allowed/", allowed); st != 403 {
		t.Errorf("non-staff allowed: %d", st)
	}
	for _, want := range []int{201, 409} {
		if st, b := lmsDo(t, srv, tok, "POST", "/api/enrollment/v1/enrollment_allowed/", allowed); st != want {
			t.Errorf("allowed: %d %s, want %d", st, b, want)
		}
	}
	l.AddUser("newbie", "new@example.com")
	if es := l.Enrollments(); len(es) != 2 || es[1].User != "newbie" || es[1].Mode != "audit" || !es[1].IsActive {
		t.Errorf("registration did not enroll: %+v", es)
	}
	for _, want := range []int{204, 404} {
		if st, b := lmsDo(t, srv, tok, "DELETE", "/api/enrollment/v1/enrollment_allowed/", allowed); st != want {
			t.Errorf("delete: %d %s, want %d", st, b, want)
		}
	}
	if got := len(l.Log.Calls("unenroll-allowed")); got != 2 {
		t.Errorf("unenroll-allowed calls = %d", got)
	}
}

func TestLMSBulk(t *testing.T) {
	t.Parallel()
	l, srv := lmsFixture(t)
	tok := lmsGetToken(t, srv, "staff")
	body := `{"identifiers":"bob@example.com,new@example.com,junk","courses":"` + lmsTestCourse +
		`","action":"enroll","auto_enroll":true,"email_students":false}`
	if st, _ := lmsDo(t, srv, lmsGetToken(t, srv, "plain"), "POST", "/api/bulk_enroll/v1/bulk_enroll/", body); st != 403 {
		t.Errorf("non-staff bulk: %d", st)
	}
	st, b := lmsDo(t, srv, tok, "POST", "/api/bulk_enroll/v1/bulk_enroll/", body)
	if st != 200 {
		t.Fatalf("bulk: %d %s", st, b)
	}
	var out struct {
		Courses map[string]struct {
			Results []map[string]any `json:"results"`
		} `json:"courses"`
	}
	if err := json.Unmarshal([]byte(b), &out); err != nil {
		t.Fatal(err)
	}
	rs := out.Courses[lmsTestCourse].Results
	if len(rs) != 3 {
		t.Fatalf("results = %v", rs)
	}
	if a := rs[0]["after"].(map[string]any); a["enrollment"] != true || a["user"] != true {
		t.Errorf("bob: %v", rs[0])
	}
	if a := rs[1]["after"].(map[string]any); a["allowed"] != true || a["user"] != false || a["auto_enroll"] != true {
		t.Errorf("new: %v", rs[1])
	}
	if rs[2]["invalidIdentifier"] != true {
		t.Errorf("junk: %v", rs[2])
	}
	if st, b := lmsDo(t, srv, tok, "POST", "/api/bulk_enroll/v1/bulk_enroll/", strings.Replace(body, "C1", "C9", 1)); st != 404 || !strings.Contains(b, "Not found.") {
		t.Errorf("unknown course: %d %s", st, b)
	}
	if s := l.Stats(); s.Created != 1 {
		t.Errorf("stats = %+v", s)
	}
}

// A deactivation of an inactive or missing enrollment goes through the enroll path: the
// enrollment is created or reactivated, then deactivated.
func TestLMSDeactivationThroughEnrollPath(t *testing.T) {
	t.Parallel()
	l, srv := lmsFixture(t)
	tok := lmsGetToken(t, srv, "staff")
	body := `{"user":"bob","is_active":false,"course_details":{"course_id":"` + lmsTestCourse + `"}}`
	if st, b := lmsDo(t, srv, tok, "POST", "/api/enrollment/v1/enrollment", body); st != 200 || !strings.Contains(b, `"is_active":false`) {
		t.Fatalf("deactivate missing: %d %s", st, b)
	}
	if s := l.Stats(); s != (LMSStats{Created: 1, Deactivated: 1}) {
		t.Errorf("missing: stats = %+v, want created then deactivated", s)
	}
	if st, _ := lmsDo(t, srv, tok, "POST", "/api/enrollment/v1/enrollment", body); st != 200 {
		t.Fatalf("deactivate inactive: %d", st)
	}
	if s := l.Stats(); s != (LMSStats{Created: 1, Reactivated: 1, Deactivated: 2}) {
		t.Errorf("inactive: stats = %+v, want reactivated then deactivated", s)
	}
}

// Accounts not activated yet: the accounts API shows them, the bulk API gives them an
// allowed record, and activation (or an email change) enrolls them from it.
func TestLMSAccountActivation(t *testing.T) {
	t.Parallel()
	l, srv := lmsFixture(t)
	tok := lmsGetToken(t, srv, "staff")
	l.AddInactiveUser("carol", "carol@example.com")
	if st, b := lmsDo(t, srv, tok, "GET", "/api/user/v1/accounts?email=carol@example.com", ""); st != 200 || !strings.Contains(b, `"is_active":false`) {
		t.Errorf("lookup: %d %s", st, b)
	}
	body := `{"identifiers":"carol@example.com","courses":"` + lmsTestCourse + `","action":"enroll","auto_enroll":true}`
	st, b := lmsDo(t, srv, tok, "POST", "/api/bulk_enroll/v1/bulk_enroll/", body)
	if st != 200 || !strings.Contains(b, `"after":{"enrollment":false,"auto_enroll":true,"user":true,"allowed":true}`) {
		t.Fatalf("bulk for an inactive account: %d %s", st, b)
	}
	if es := l.Enrollments(); len(es) != 0 {
		t.Fatalf("enrolled before activation: %+v", es)
	}

	const closed = "course-v1:Org+Closed+2025"
	l.AddCourse(closed, "audit")
	allowed := `{"email":"carol@example.com","course_id":"` + closed + `","auto_enroll":true}`
	if st, _ := lmsDo(t, srv, tok, "POST", "/api/enrollment/v1/enrollment_allowed/", allowed); st != 201 {
		t.Fatalf("allowed: %d", st)
	}
	l.CloseEnrollment(closed)

	l.ActivateUser("carol")
	es := l.Enrollments()
	if len(es) != 1 || es[0].User != "carol" || es[0].Course != lmsTestCourse || !es[0].IsActive || es[0].Mode != "audit" {
		t.Errorf("after activation: %+v, want carol enrolled in the open course only", es)
	}
	al := l.Allowed()
	if len(al) != 2 || al[0].User != "carol" || al[1].User != "" {
		t.Errorf("allowed = %+v, want both kept, the used one linked to carol", al)
	}

	// The learner loses access; an email change enrolls them again from the linked record.
	l.Unenroll("carol", lmsTestCourse)
	l.ChangeEmail("carol", "carol@example.org")
	if es := l.Enrollments(); !es[0].IsActive {
		t.Errorf("after an email change: %+v, want enrolled again from the allowed record", es)
	}
}

func TestLMSOptionalAPIs(t *testing.T) {
	t.Parallel()
	l, srv := lmsFixture(t)
	tok := lmsGetToken(t, srv, "staff")
	l.SetEnrollmentAllowedAPI(false)
	l.SetBulkEnrollAPI(false)
	allowed := `{"email":"new@example.com","course_id":"` + lmsTestCourse + `","auto_enroll":true}`
	bulk := `{"identifiers":"new@example.com","courses":"` + lmsTestCourse + `","action":"enroll"}`
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/api/enrollment/v1/enrollment_allowed/", allowed},
		{"DELETE", "/api/enrollment/v1/enrollment_allowed/", allowed},
		{"POST", "/api/bulk_enroll/v1/bulk_enroll/", bulk},
	} {
		if st, b := lmsDo(t, srv, tok, c.method, c.path, c.body); st != 404 || !strings.Contains(b, "<title>Not Found</title>") {
			t.Errorf("%s %s: %d %s, want Django's HTML 404", c.method, c.path, st, b)
		}
	}
	l.SetEnrollmentAllowedAPI(true)
	if st, _ := lmsDo(t, srv, tok, "POST", "/api/enrollment/v1/enrollment_allowed/", allowed); st != 201 {
		t.Errorf("back on: %d", st)
	}
}

func TestLMSRateLimitAnswers(t *testing.T) {
	t.Parallel()
	l, srv := lmsFixture(t)
	l.Faults.Inject("token", RateLimitedPage(1))
	res, err := http.PostForm(srv.URL+"/oauth2/access_token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {"staff"}, "client_secret": {"pw"}, "token_type": {"jwt"},
	})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 403 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") || !strings.Contains(string(b), "<h1>403 Forbidden</h1>") {
		t.Errorf("rate-limited token: %d %s %s", res.StatusCode, res.Header.Get("Content-Type"), b)
	}
	tok := lmsGetToken(t, srv, "staff")

	l.Faults.Inject("account", Throttled(1500*time.Millisecond, 1))
	req, _ := http.NewRequest("GET", srv.URL+"/api/user/v1/accounts?email=bob@example.com", nil)
	req.Header.Set("Authorization", "JWT "+tok)
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 429 || res.Header.Get("Retry-After") != "2" || !strings.Contains(string(b), "Expected available in 2 seconds.") {
		t.Errorf("throttled: %d Retry-After %q %s", res.StatusCode, res.Header.Get("Retry-After"), b)
	}
}
