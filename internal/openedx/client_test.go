package openedx_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aulasneo/wc-openedx/internal/enrollment"
	"github.com/aulasneo/wc-openedx/internal/i18n"
	"github.com/aulasneo/wc-openedx/internal/openedx"
	"github.com/aulasneo/wc-openedx/internal/sandbox"
)

const (
	courseKey = "course-v1:Aulasneo+PY101+2025"
	alice     = "alice@example.com"
)

var audit = enrollment.Course{Key: courseKey, Mode: "audit"}

// newLMS starts a sandbox LMS with a staff client "svc", the user alice and a course with
// audit and verified modes.
func newLMS(t *testing.T) (*sandbox.LMS, string) {
	t.Helper()
	lms := sandbox.NewLMS()
	lms.AddClient("svc", "s3cret", true)
	lms.AddUser("alice", alice)
	lms.AddCourse(courseKey, "audit", "verified")
	srv := httptest.NewServer(lms)
	t.Cleanup(srv.Close)
	return lms, srv.URL
}

func newClient(url string, mod ...func(*openedx.Config)) *openedx.Client {
	cfg := openedx.Config{BaseURL: url, ClientID: "svc", ClientSecret: "s3cret", Timeout: 5 * time.Second}
	for _, m := range mod {
		m(&cfg)
	}
	return openedx.New(cfg)
}

func statuses(calls []sandbox.Call) []int {
	var out []int
	for _, c := range calls {
		out = append(out, c.Status)
	}
	return out
}

func TestEnrollExistingUser(t *testing.T) {
	t.Parallel()
	lms, url := newLMS(t)
	res, err := newClient(url).Enroll(context.Background(), " Alice@Example.com ", enrollment.Course{Key: courseKey, Mode: "verified"}, "1001")
	if err != nil {
		t.Fatal(err)
	}
	if res != (enrollment.EnrollResult{Username: "alice"}) {
		t.Errorf("result = %+v", res)
	}
	es := lms.Enrollments()
	if len(es) != 1 || es[0].User != "alice" || es[0].Course != courseKey || es[0].Mode != "verified" || !es[0].IsActive {
		t.Fatalf("enrollments = %+v", es)
	}
	// Our own namespace: "order" would make the LMS ask its ecommerce service about the order.
	want := sandbox.LMSAttribute{Namespace: "woocommerce", Name: "order_number", Value: "1001"}
	if len(es[0].Attributes) != 1 || es[0].Attributes[0] != want {
		t.Errorf("attributes = %+v, want %+v", es[0].Attributes, want)
	}
	enrolls := lms.Log.Calls("enroll")
	if len(enrolls) != 1 {
		t.Fatalf("enroll calls = %d", len(enrolls))
	}
	if h := enrolls[0].Header.Get("Authorization"); !strings.HasPrefix(h, "JWT ") {
		t.Errorf("Authorization = %q, want JWT <token>", h)
	}
	if q := lms.Log.Calls("account")[0].Query.Get("email"); q != alice {
		t.Errorf("lookup email = %q", q)
	}
	tok := lms.Log.Calls("token")[0]
	if !strings.Contains(string(tok.Body), "token_type=jwt") || !strings.Contains(string(tok.Body), "grant_type=client_credentials") {
		t.Errorf("token request body = %s", tok.Body)
	}
}

func TestRepostIsIdempotent(t *testing.T) {
	t.Parallel()
	lms, url := newLMS(t)
	c := newClient(url)
	for i := range 2 {
		if _, err := c.Enroll(context.Background(), alice, audit, "1001"); err != nil {
			t.Fatalf("enroll %d: %v", i, err)
		}
	}
	if s := lms.Stats(); s.Created != 1 || s.Repeated != 1 {
		t.Errorf("stats = %+v, want one created and one repeated", s)
	}
}

func TestTokenIsCached(t *testing.T) {
	t.Parallel()
	lms, url := newLMS(t)
	c := newClient(url)
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for i := range 10 {
		wg.Go(func() {
			_, err := c.Enroll(context.Background(), alice, audit, fmt.Sprint(i))
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := len(lms.Log.Calls("token")); n != 1 {
		t.Errorf("token calls = %d, want 1", n)
	}
}

func TestTokenRefreshedBeforeExpiry(t *testing.T) {
	t.Parallel()
	lms, url := newLMS(t)
	lms.SetTokenTTL(2 * time.Second) // within oauth2's expiry margin: never reused
	c := newClient(url)
	for range 2 {
		if _, err := c.Enroll(context.Background(), alice, audit, "1"); err != nil {
			t.Fatal(err)
		}
	}
	// A token that expires within oauth2's margin is never reused: one per API call.
	if n, api := len(lms.Log.Calls("token")), len(lms.Log.Calls("account", "enroll")); n != api || n != 4 {
		t.Errorf("token calls = %d, API calls = %d, want 4 each", n, api)
	}
}

func TestRefreshOnceOn401(t *testing.T) {
	t.Parallel()
	lms, url := newLMS(t)
	c := newClient(url)
	ctx := context.Background()
	if _, err := c.Enroll(ctx, alice, audit, "1"); err != nil {
		t.Fatal(err)
	}
	lms.ExpireTokens()
	if _, err := c.Enroll(ctx, alice, enrollment.Course{Key: courseKey, Mode: "verified"}, "2"); err != nil {
		t.Fatalf("after the token was revoked: %v", err)
	}
	if n := len(lms.Log.Calls("token")); n != 2 {
		t.Errorf("token calls = %d, want 2", n)
	}
	if got := statuses(lms.Log.Calls("account")); fmt.Sprint(got) != "[200 401 200]" {
		t.Errorf("account statuses = %v, want [200 401 200]", got)
	}
	if es := lms.Enrollments(); es[0].Mode != "verified" {
		t.Errorf("mode = %q, want verified", es[0].Mode)
	}
}

func TestAllowedWhenNoAccount(t *testing.T) {
	t.Parallel()
	lms, url := newLMS(t)
	c := newClient(url)
	ctx := context.Background()
	for i := range 2 {
		res, err := c.Enroll(ctx, "newbie@example.com", audit, "7")
		if err != nil {
			t.Fatalf("enroll %d: %v", i, err)
		}
		if res != (enrollment.EnrollResult{Allowed: true}) {
			t.Errorf("enroll %d: result = %+v", i, res)
		}
	}
	if got := statuses(lms.Log.Calls("allowed")); fmt.Sprint(got) != "[201 409]" {
		t.Errorf("allowed statuses = %v, want [201 409]", got)
	}
	al := lms.Allowed()
	if len(al) != 1 || al[0].Email != "newbie@example.com" || al[0].Course != courseKey || !al[0].AutoEnroll {
		t.Fatalf("allowed = %+v", al)
	}
	lms.AddUser("newbie", "newbie@example.com")
	es := lms.Enrollments()
	if len(es) != 1 || es[0].User != "newbie" || !es[0].IsActive {
		t.Errorf("after registration, enrollments = %+v", es)
	}
}

func TestFallBackToAllowedOn406(t *testing.T) {
	t.Parallel()
	lms, url := newLMS(t)
	// The lookup finds an account that the enrollment API then does not know.
	lms.Faults.Inject("account", sandbox.Fault{Status: 200, Body: `[{"username":"ghost","email":"ghost@example.com"}]`, Times: 1})
	res, err := newClient(url).Enroll(context.Background(), "ghost@example.com", audit, "9")
	if err != nil {
		t.Fatal(err)
	}
	if !res.Allowed {
		t.Errorf("result = %+v, want Allowed", res)
	}
	if got := statuses(lms.Log.Calls("enroll", "allowed")); fmt.Sprint(got) != "[406 201]" {
		t.Errorf("statuses = %v, want [406 201]", got)
	}
}

// TestErrorClasses checks that each failure is classed permanent or transient and says why.
func TestErrorClasses(t *testing.T) {
	t.Parallel()
	htmlBadGateway := "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
	tests := []struct {
		name      string
		setup     func(*sandbox.LMS)
		cfg       func(*openedx.Config)
		email     string
		course    enrollment.Course
		permanent bool
		want      []string
	}{
		{
			name:      "unknown course",
			course:    enrollment.Course{Key: "course-v1:X+Y+Z", Mode: "audit"},
			permanent: true,
			want:      []string{`course-v1:X+Y+Z: Open edX has no such course (Open edX answered 400: “No course 'course-v1:X+Y+Z' found for enrollment”)`},
		},
		{
			name:      "malformed course key",
			course:    enrollment.Course{Key: "course-v1:nope", Mode: "audit"},
			permanent: true,
			want:      []string{"Open edX has no such course", "No course 'course-v1:nope' found"},
		},
		{
			name:      "invalid mode",
			course:    enrollment.Course{Key: courseKey, Mode: "professional"},
			permanent: true,
			want:      []string{`invalid mode “professional”`, "The [professional] course mode is expired or otherwise unavailable"},
		},
		{
			name:      "enrollment closed",
			setup:     func(l *sandbox.LMS) { l.CloseEnrollment(courseKey) },
			permanent: true,
			want:      []string{"enrollment closed or course full", "An error occurred while creating the new course enrollment for user 'alice'"},
		},
		{
			name:      "client user not staff",
			setup:     func(l *sandbox.LMS) { l.AddClient("svc", "s3cret", false) },
			permanent: true,
			want:      []string{"answered 404)", "OPENEDX_CLIENT_ID", "is_staff"},
		},
		{
			name:      "client user not staff, no account",
			setup:     func(l *sandbox.LMS) { l.AddClient("svc", "s3cret", false) },
			email:     "newbie@example.com",
			permanent: true,
			want:      []string{"403", "You do not have permission", "is_staff"},
		},
		{
			name: "forbidden mode",
			setup: func(l *sandbox.LMS) {
				l.Faults.Inject("enroll", sandbox.Fault{Status: 403, Times: 1,
					Body: `{"message":"User does not have permission to create enrollment with mode [verified]."}`})
			},
			course:    enrollment.Course{Key: courseKey, Mode: "verified"},
			permanent: true,
			want:      []string{`forbade the enrollment in mode “verified”`, "User does not have permission", "is_staff"},
		},
		{
			name: "401 after refresh",
			setup: func(l *sandbox.LMS) {
				l.Faults.Inject("account", sandbox.Fault{Status: 401, Body: `{"detail":"Error decoding token."}`, Times: 2})
			},
			permanent: true,
			want:      []string{"Open edX rejected the credentials even with a fresh access token", "Error decoding token."},
		},
		{
			name:      "wrong client secret",
			cfg:       func(c *openedx.Config) { c.ClientSecret = "wrong" },
			permanent: true,
			want:      []string{"rejected the OAuth client id and secret", "401", "invalid_client"},
		},
		{
			name:   "token endpoint down",
			setup:  func(l *sandbox.LMS) { l.Faults.Inject("token", sandbox.Fault{Status: 503, Body: "upstream", Times: 1}) },
			want:   []string{"access token", "503"},
			course: audit,
		},
		{
			name: "rate limited",
			setup: func(l *sandbox.LMS) {
				l.Faults.Inject("enroll", sandbox.Fault{Status: 429, Body: `{"detail":"Request was throttled. Expected available in 5 seconds."}`, Times: 1})
			},
			want: []string{"rate limiting", "429", "Request was throttled"},
		},
		{
			name: "server error",
			setup: func(l *sandbox.LMS) {
				l.Faults.Inject("account", sandbox.Fault{Status: 500, Body: `{"message":"boom"}`, Times: 1})
			},
			want: []string{"look up the LMS account", "500", "boom"},
		},
		{
			name: "nginx 502 page",
			setup: func(l *sandbox.LMS) {
				l.Faults.Inject("enroll", sandbox.Fault{Status: 502, Body: htmlBadGateway, Times: 1,
					Header: http.Header{"Content-Type": {"text/html"}}})
			},
			want: []string{"502", "HTML page: 502 Bad Gateway"},
		},
		{
			name:  "timeout",
			setup: func(l *sandbox.LMS) { l.Faults.Inject("enroll", sandbox.Fault{Delay: 2 * time.Second, Times: 1}) },
			cfg:   func(c *openedx.Config) { c.Timeout = 200 * time.Millisecond },
			want:  []string{"/api/enrollment/v1/enrollment", "deadline exceeded"},
		},
		{
			name:      "no email",
			email:     "  ",
			permanent: true,
			want:      []string{"no email"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			lms, url := newLMS(t)
			if tt.setup != nil {
				tt.setup(lms)
			}
			var mods []func(*openedx.Config)
			if tt.cfg != nil {
				mods = append(mods, tt.cfg)
			}
			email := tt.email
			if email == "" {
				email = alice
			}
			course := tt.course
			if course.Key == "" {
				course = audit
			}
			_, err := newClient(url, mods...).Enroll(context.Background(), email, course, "1001")
			if err == nil {
				t.Fatal("no error")
			}
			if got := enrollment.IsPermanent(err); got != tt.permanent {
				t.Errorf("permanent = %v, want %v (%v)", got, tt.permanent, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			// Every class has its sentence in the shop's language (SPEC §2.9).
			es := enrollment.Describe(i18n.Spanish, err)
			if es == enrollment.Describe(i18n.English, err) || strings.Contains(es, "%!") || strings.HasPrefix(es, "error inesperado") {
				t.Errorf("Spanish reason %q", es)
			}
			if e := strings.TrimSpace(email); e != "" && strings.Contains(strings.ToLower(err.Error()), strings.ToLower(e)) {
				t.Errorf("error %q carries the learner's email", err)
			}
			// Errors reach order notes, emails and logs: no client id, no secret (SPEC §2.6).
			if strings.Contains(err.Error(), "svc") || strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error %q carries the OAuth client id or secret", err)
			}
			if es := lms.Enrollments(); len(es) != 0 {
				t.Errorf("enrollments = %+v, want none", es)
			}
		})
	}
}

func TestTimeoutIsDeadline(t *testing.T) {
	t.Parallel()
	lms, url := newLMS(t)
	lms.Faults.Inject("account", sandbox.Fault{Delay: time.Second, Times: 1})
	start := time.Now()
	_, err := newClient(url, func(c *openedx.Config) { c.Timeout = 100 * time.Millisecond }).
		Enroll(context.Background(), alice, audit, "1")
	if !errors.Is(err, context.DeadlineExceeded) || enrollment.IsPermanent(err) {
		t.Errorf("err = %v, want a transient deadline error", err)
	}
	if d := time.Since(start); d > 900*time.Millisecond {
		t.Errorf("took %v; the per-request timeout was not applied", d)
	}
}

func TestNetworkErrorIsTransient(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	_, err := newClient(url).Enroll(context.Background(), alice, audit, "1")
	if err == nil || enrollment.IsPermanent(err) {
		t.Errorf("err = %v, want transient", err)
	}
}

func TestBulk(t *testing.T) {
	t.Parallel()
	bulk := func(c *openedx.Config) { c.Strategy = openedx.StrategyBulk }
	ctx := context.Background()

	t.Run("existing user", func(t *testing.T) {
		t.Parallel()
		lms, url := newLMS(t)
		res, err := newClient(url, bulk).Enroll(ctx, alice, enrollment.Course{Key: courseKey, Mode: "verified"}, "1")
		if err != nil || res.Allowed {
			t.Fatalf("res = %+v, err = %v", res, err)
		}
		es := lms.Enrollments()
		if len(es) != 1 || es[0].User != "alice" || es[0].Mode != "audit" || !es[0].IsActive {
			t.Errorf("enrollments = %+v (bulk uses the course default mode)", es)
		}
		var body map[string]any
		if err := json.Unmarshal(lms.Log.Calls("bulk")[0].Body, &body); err != nil {
			t.Fatal(err)
		}
		if body["identifiers"] != alice || body["courses"] != courseKey || body["action"] != "enroll" ||
			body["auto_enroll"] != true || body["email_students"] != false {
			t.Errorf("bulk body = %v", body)
		}
	})
	t.Run("no account", func(t *testing.T) {
		t.Parallel()
		lms, url := newLMS(t)
		res, err := newClient(url, bulk).Enroll(ctx, "newbie@example.com", audit, "1")
		if err != nil || !res.Allowed {
			t.Fatalf("res = %+v, err = %v", res, err)
		}
		if al := lms.Allowed(); len(al) != 1 || !al[0].AutoEnroll {
			t.Errorf("allowed = %+v", al)
		}
	})
	errCases := []struct {
		name, email, course, fault string
		permanent                  bool
		want                       string
	}{
		{name: "invalid identifier", email: "not-an-email", course: courseKey, permanent: true, want: "not a valid email"},
		{name: "unknown course", email: alice, course: "course-v1:X+Y+Z", permanent: true, want: "Open edX has no such course"},
		{name: "result error", email: alice, course: courseKey, permanent: true, want: "reported an error",
			fault: `{"action":"enroll","courses":{"` + courseKey + `":{"results":[{"identifier":"alice@example.com","error":true}]}}}`},
		{name: "503", email: alice, course: courseKey, fault: "503", want: "503"},
	}
	for _, tt := range errCases {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			lms, url := newLMS(t)
			switch tt.fault {
			case "":
			case "503":
				lms.Faults.Inject("bulk", sandbox.Fault{Status: 503, Body: "<html><title>Service Unavailable</title></html>", Times: 1})
			default:
				lms.Faults.Inject("bulk", sandbox.Fault{Status: 200, Body: tt.fault, Times: 1})
			}
			_, err := newClient(url, bulk).Enroll(ctx, tt.email, enrollment.Course{Key: tt.course, Mode: "audit"}, "1")
			if err == nil {
				t.Fatal("no error")
			}
			if enrollment.IsPermanent(err) != tt.permanent || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v (permanent %v), want permanent %v saying %q", err, enrollment.IsPermanent(err), tt.permanent, tt.want)
			}
		})
	}
}

func TestUnenroll(t *testing.T) {
	t.Parallel()
	lms, url := newLMS(t)
	c := newClient(url)
	ctx := context.Background()
	if _, err := c.Enroll(ctx, alice, enrollment.Course{Key: courseKey, Mode: "verified"}, "1"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Enroll(ctx, "newbie@example.com", audit, "2"); err != nil {
		t.Fatal(err)
	}

	if err := c.Unenroll(ctx, alice, courseKey); err != nil {
		t.Fatal(err)
	}
	es := lms.Enrollments()
	if len(es) != 1 || es[0].IsActive || es[0].Mode != "verified" {
		t.Errorf("enrollments = %+v, want alice's verified enrollment inactive", es)
	}
	last := lms.Log.Calls("enroll")
	if b := string(last[len(last)-1].Body); strings.Contains(b, `"mode"`) || !strings.Contains(b, `"is_active":false`) {
		t.Errorf("deactivation body = %s, want is_active false and no mode", b)
	}
	if s := lms.Stats(); s.Deactivated != 1 {
		t.Errorf("stats = %+v", s)
	}

	if err := c.Unenroll(ctx, "newbie@example.com", courseKey); err != nil {
		t.Fatal(err)
	}
	if al := lms.Allowed(); len(al) != 0 {
		t.Errorf("allowed = %+v, want none", al)
	}
	if err := c.Unenroll(ctx, "nobody@example.com", courseKey); err != nil {
		t.Errorf("nothing to undo: %v", err)
	}
	// The allowed record is deleted for every learner, account or not: alice had none.
	if got := statuses(lms.Log.Calls("unenroll-allowed")); fmt.Sprint(got) != "[404 204 404]" {
		t.Errorf("delete statuses = %v", got)
	}
}

func TestEnrollmentLookup(t *testing.T) {
	t.Parallel()
	_, url := newLMS(t)
	c := newClient(url)
	ctx := context.Background()
	if _, active, err := c.Enrollment(ctx, alice, courseKey); err != nil || active {
		t.Fatalf("before enrolling: active=%v err=%v", active, err)
	}
	if _, err := c.Enroll(ctx, alice, audit, "1"); err != nil {
		t.Fatal(err)
	}
	res, active, err := c.Enrollment(ctx, alice, courseKey)
	if err != nil || !active || res.Username != "alice" {
		t.Fatalf("after enrolling: %+v active=%v err=%v", res, active, err)
	}
	if _, active, err := c.Enrollment(ctx, "nobody@example.com", courseKey); err != nil || active {
		t.Fatalf("learner without account: active=%v err=%v", active, err)
	}
	if err := c.Unenroll(ctx, alice, courseKey); err != nil {
		t.Fatal(err)
	}
	if _, active, err := c.Enrollment(ctx, alice, courseKey); err != nil || active {
		t.Fatalf("after unenrolling: active=%v err=%v", active, err)
	}
}

// routes lists the routes of the calls the LMS answered, in order.
func routes(lms *sandbox.LMS) []string {
	var out []string
	for _, c := range lms.Log.Calls() {
		out = append(out, c.Route)
	}
	return out
}

// A second order (or a retry) for a course whose enrollment has closed gets the generic 400:
// the LMS checks "closed" before "already enrolled". A read tells them apart.
func TestEnrollClosedCourse(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("already enrolled in the mode", func(t *testing.T) {
		t.Parallel()
		lms, url := newLMS(t)
		c := newClient(url)
		if _, err := c.Enroll(ctx, alice, audit, "1"); err != nil {
			t.Fatal(err)
		}
		lms.CloseEnrollment(courseKey)
		res, err := c.Enroll(ctx, alice, audit, "2")
		if err != nil || res != (enrollment.EnrollResult{Username: "alice"}) {
			t.Fatalf("res = %+v, err = %v; want enrolled", res, err)
		}
		if got := statuses(lms.Log.Calls("enroll", "get-enrollment")); fmt.Sprint(got) != "[200 400 200]" {
			t.Errorf("enroll and read statuses = %v, want [200 400 200]", got)
		}
	})
	t.Run("not enrolled", func(t *testing.T) {
		t.Parallel()
		lms, url := newLMS(t)
		lms.CloseEnrollment(courseKey)
		_, err := newClient(url).Enroll(ctx, alice, audit, "1")
		if !enrollment.IsPermanent(err) || !strings.Contains(err.Error(), "enrollment closed or course full") ||
			!strings.Contains(err.Error(), "An error occurred while creating the new course enrollment") {
			t.Errorf("err = %v, want the permanent closed failure quoting the LMS", err)
		}
		if n := len(lms.Log.Calls("get-enrollment")); n != 1 {
			t.Errorf("%d reads, want 1", n)
		}
	})
	t.Run("enrolled but deactivated", func(t *testing.T) {
		t.Parallel()
		lms, url := newLMS(t)
		c := newClient(url)
		if _, err := c.Enroll(ctx, alice, audit, "1"); err != nil {
			t.Fatal(err)
		}
		lms.Unenroll("alice", courseKey)
		lms.CloseEnrollment(courseKey)
		// Staff reactivating goes through update_enrollment, which has no closed check.
		if _, err := c.Enroll(ctx, alice, audit, "2"); err != nil {
			t.Fatal(err)
		}
		if es := lms.Enrollments(); !es[0].IsActive {
			t.Errorf("enrollment %+v, want active again", es[0])
		}
	})
	t.Run("the read fails", func(t *testing.T) {
		t.Parallel()
		lms, url := newLMS(t)
		c := newClient(url)
		if _, err := c.Enroll(ctx, alice, audit, "1"); err != nil {
			t.Fatal(err)
		}
		lms.CloseEnrollment(courseKey)
		lms.Faults.Inject("get-enrollment", sandbox.Fault{Status: 503, Body: "busy", Times: 1})
		_, err := c.Enroll(ctx, alice, audit, "2")
		if err == nil || enrollment.IsPermanent(err) || !strings.Contains(err.Error(), "could not be read") {
			t.Errorf("err = %v, want a transient error saying the read failed", err)
		}
	})
}

// The bulk API gives an account that is not activated yet an allowed record (after.allowed
// with after.user): that is success, and the LMS enrolls the learner on activation.
func TestBulkAccountNotActivated(t *testing.T) {
	t.Parallel()
	lms, url := newLMS(t)
	lms.AddInactiveUser("carol", "carol@example.com")
	res, err := newClient(url, func(c *openedx.Config) { c.Strategy = openedx.StrategyBulk }).
		Enroll(context.Background(), "carol@example.com", audit, "1")
	if err != nil || res != (enrollment.EnrollResult{Allowed: true}) {
		t.Fatalf("res = %+v, err = %v; want Allowed", res, err)
	}
	if es := lms.Enrollments(); len(es) != 0 {
		t.Errorf("enrollments = %+v, want none before activation", es)
	}
	lms.ActivateUser("carol")
	if es := lms.Enrollments(); len(es) != 1 || es[0].User != "carol" || !es[0].IsActive {
		t.Errorf("after activation, enrollments = %+v", es)
	}
	if al := lms.Allowed(); len(al) != 1 || al[0].User != "carol" {
		t.Errorf("allowed = %+v, want the record kept and linked to carol", al)
	}
}

// A token-endpoint answer that is not an OAuth error document is transient.
func TestTokenEndpointAnswers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("rate limit page", func(t *testing.T) {
		t.Parallel()
		lms, url := newLMS(t)
		lms.Faults.Inject("token", sandbox.RateLimitedPage(1))
		c := newClient(url)
		_, err := c.Enroll(ctx, alice, audit, "1")
		if err == nil || enrollment.IsPermanent(err) || !strings.Contains(err.Error(), "403") || !strings.Contains(err.Error(), "403 Forbidden") {
			t.Fatalf("err = %v, want a transient error quoting the 403 page", err)
		}
		if _, err := c.Enroll(ctx, alice, audit, "1"); err != nil {
			t.Errorf("once the limit has passed: %v", err)
		}
	})
	t.Run("OAuth error in a 403", func(t *testing.T) {
		t.Parallel()
		lms, url := newLMS(t)
		lms.Faults.Inject("token", sandbox.Fault{Status: 403, Body: `{"error":"unauthorized_client"}`, Times: 1})
		_, err := newClient(url).Enroll(ctx, alice, audit, "1")
		if !enrollment.IsPermanent(err) || !strings.Contains(err.Error(), "unauthorized_client") {
			t.Errorf("err = %v, want permanent", err)
		}
	})
	t.Run("429 with a short Retry-After", func(t *testing.T) {
		t.Parallel()
		lms, url := newLMS(t)
		lms.Faults.Inject("token", sandbox.Throttled(time.Second, 1))
		if _, err := newClient(url).Enroll(ctx, alice, audit, "1"); err != nil {
			t.Fatalf("the client should have waited the second out: %v", err)
		}
		if got := statuses(lms.Log.Calls("token")); fmt.Sprint(got) != "[429 200]" {
			t.Errorf("token statuses = %v", got)
		}
	})
	t.Run("plain-text 5xx", func(t *testing.T) {
		t.Parallel()
		lms, url := newLMS(t)
		lms.Faults.Inject("token", sandbox.Fault{Status: 502, Body: "Bad Gateway", Times: 1,
			Header: http.Header{"Content-Type": {"text/plain"}}})
		_, err := newClient(url).Enroll(ctx, alice, audit, "1")
		if err == nil || enrollment.IsPermanent(err) {
			t.Errorf("err = %v, want transient", err)
		}
	})
}

// A 429's Retry-After is waited out inside the call when short; a long one is returned as a
// transient error, and the LMS is not called again until it has passed.
func TestThrottle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("short", func(t *testing.T) {
		t.Parallel()
		lms, url := newLMS(t)
		lms.Faults.Inject("enroll", sandbox.Throttled(time.Second, 1))
		if _, err := newClient(url).Enroll(ctx, alice, audit, "1"); err != nil {
			t.Fatal(err)
		}
		if got := statuses(lms.Log.Calls("enroll")); fmt.Sprint(got) != "[429 200]" {
			t.Errorf("enroll statuses = %v", got)
		}
	})
	t.Run("long", func(t *testing.T) {
		t.Parallel()
		lms, url := newLMS(t)
		lms.Faults.Inject("enroll", sandbox.Throttled(time.Minute, 1))
		c := newClient(url)
		_, err := c.Enroll(ctx, alice, audit, "1")
		if err == nil || enrollment.IsPermanent(err) || !strings.Contains(err.Error(), "during the next 1m0s") ||
			!strings.Contains(err.Error(), "Expected available in 60 seconds") {
			t.Fatalf("err = %v, want a transient error with the wait and the LMS's message", err)
		}
		calls := len(lms.Log.Calls())
		if _, err := c.Enroll(ctx, "newbie@example.com", audit, "2"); err == nil || enrollment.IsPermanent(err) {
			t.Errorf("a call during the wait: err = %v, want transient", err)
		}
		if n := len(lms.Log.Calls()); n != calls {
			t.Errorf("%d calls reached the LMS during the wait", n-calls)
		}
	})
	t.Run("longer than the context allows", func(t *testing.T) {
		t.Parallel()
		lms, url := newLMS(t)
		lms.Faults.Inject("account", sandbox.Throttled(2*time.Second, 1))
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		_, err := newClient(url).Enroll(ctx, alice, audit, "1")
		if err == nil || enrollment.IsPermanent(err) || !strings.Contains(err.Error(), "rate limiting") {
			t.Errorf("err = %v, want the transient throttle error", err)
		}
		if n := len(lms.Log.Calls("account")); n != 1 {
			t.Errorf("%d lookups", n)
		}
	})
	t.Run("no Retry-After", func(t *testing.T) {
		t.Parallel()
		lms, url := newLMS(t)
		lms.Faults.Inject("enroll", sandbox.Fault{Status: 429, Body: `{"detail":"Request was throttled."}`, Times: 1})
		c := newClient(url)
		if _, err := c.Enroll(ctx, alice, audit, "1"); err == nil || enrollment.IsPermanent(err) {
			t.Fatalf("err = %v, want transient", err)
		}
		if _, err := c.Enroll(ctx, alice, audit, "1"); err != nil {
			t.Errorf("next call: %v", err)
		}
	})
}

// Taking access away reads first, deactivates only an active enrollment, and always deletes
// the allowed record.
func TestUnenrollReadsFirst(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("inactive enrollment, enrollment closed", func(t *testing.T) {
		t.Parallel()
		lms, url := newLMS(t)
		c := newClient(url)
		if _, err := c.Enroll(ctx, alice, audit, "1"); err != nil {
			t.Fatal(err)
		}
		lms.Unenroll("alice", courseKey) // e.g. an admin did it in the LMS
		lms.CloseEnrollment(courseKey)
		lms.Log.Reset()
		if err := c.Unenroll(ctx, alice, courseKey); err != nil {
			t.Fatalf("nothing to deactivate: %v", err)
		}
		if got := routes(lms); fmt.Sprint(got) != "[account get-enrollment unenroll-allowed]" {
			t.Errorf("calls = %v, want a read and no deactivation", got)
		}
	})
	t.Run("inactive enrollment, enrollment open", func(t *testing.T) {
		t.Parallel()
		lms, url := newLMS(t)
		c := newClient(url)
		if _, err := c.Enroll(ctx, alice, audit, "1"); err != nil {
			t.Fatal(err)
		}
		lms.Unenroll("alice", courseKey)
		before := lms.Stats()
		if err := c.Unenroll(ctx, alice, courseKey); err != nil {
			t.Fatal(err)
		}
		// A deactivation would have gone through the enroll path: reactivated, then deactivated.
		if s := lms.Stats(); s != before {
			t.Errorf("stats %+v, were %+v: the enrollment was touched", s, before)
		}
	})
	t.Run("registered from an allowed record", func(t *testing.T) {
		t.Parallel()
		lms, url := newLMS(t)
		c := newClient(url)
		if _, err := c.Enroll(ctx, "newbie@example.com", audit, "1"); err != nil {
			t.Fatal(err)
		}
		lms.AddUser("newbie", "newbie@example.com") // enrolled from the record, which stays
		if err := c.Unenroll(ctx, "newbie@example.com", courseKey); err != nil {
			t.Fatal(err)
		}
		if al := lms.Allowed(); len(al) != 0 {
			t.Errorf("allowed = %+v, want it deleted", al)
		}
		lms.ChangeEmail("newbie", "newbie@example.org")
		if es := lms.Enrollments(); len(es) != 1 || es[0].IsActive {
			t.Errorf("enrollments = %+v, want newbie's inactive after an email change", es)
		}
	})
}

// An LMS older than Quince has no enrollment_allowed API: a buyer without an account goes
// through the bulk API when it is enabled; otherwise the failure names the API and the fix.
func TestOlderLMS(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const buyer = "newbie@example.com"
	t.Run("bulk enabled", func(t *testing.T) {
		t.Parallel()
		lms, url := newLMS(t)
		lms.SetEnrollmentAllowedAPI(false)
		c := newClient(url)
		res, err := c.Enroll(ctx, buyer, audit, "1")
		if err != nil || !res.Allowed {
			t.Fatalf("res = %+v, err = %v; want Allowed through the bulk API", res, err)
		}
		if got := statuses(lms.Log.Calls("unknown", "bulk")); fmt.Sprint(got) != "[404 200]" {
			t.Errorf("statuses = %v, want the allowed API's 404 then bulk", got)
		}
		if al := lms.Allowed(); len(al) != 1 || !al[0].AutoEnroll {
			t.Fatalf("allowed = %+v", al)
		}
		if err := c.Unenroll(ctx, buyer, courseKey); err != nil {
			t.Fatal(err)
		}
		if al := lms.Allowed(); len(al) != 0 {
			t.Errorf("allowed = %+v, want it deleted through the bulk API", al)
		}
	})
	t.Run("bulk disabled", func(t *testing.T) {
		t.Parallel()
		lms, url := newLMS(t)
		lms.SetEnrollmentAllowedAPI(false)
		lms.SetBulkEnrollAPI(false)
		c := newClient(url)
		_, err := c.Enroll(ctx, buyer, audit, "1")
		if !enrollment.IsPermanent(err) {
			t.Fatalf("err = %v, want permanent", err)
		}
		for _, w := range []string{"enrollment_allowed API", "Quince", "ENABLE_BULK_ENROLLMENT_VIEW", courseKey, "Not Found"} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q does not say %q", err, w)
			}
		}
		if strings.Contains(err.Error(), buyer) {
			t.Errorf("error %q carries the learner's email", err)
		}
		if err := c.Unenroll(ctx, buyer, courseKey); err != nil {
			t.Errorf("unenroll with neither API: %v", err)
		}
	})
}
