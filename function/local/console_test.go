package local_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aulasneo/wc-openedx/function/local"
	"github.com/aulasneo/wc-openedx/internal/enrollment"
	"github.com/aulasneo/wc-openedx/internal/sandbox"
)

// The Console against the whole local service: the emulators, the sandboxes, the worker.

// consoleGet fetches a Console page as an operator; the body as a browser shows it.
func consoleGet(t *testing.T, st *local.Stack, query string) (int, string) {
	t.Helper()
	resp, err := http.Get(st.URL + "/Console" + query)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, html.UnescapeString(string(b))
}

var consoleKeyRE = regexp.MustCompile(`name="key" value="([^"]+)"`)

// consoleForm opens the confirmation page of an action and returns its form.
func consoleForm(t *testing.T, st *local.Stack, action string, id int64) url.Values {
	t.Helper()
	code, body := consoleGet(t, st, fmt.Sprintf("?p=%s&id=%d", action, id))
	m := consoleKeyRE.FindStringSubmatch(body)
	if code != http.StatusOK || m == nil {
		t.Fatalf("%s page of order %d: HTTP %d\n%s", action, id, code, body)
	}
	return url.Values{"action": {action}, "id": {strconv.FormatInt(id, 10)}, "key": {m[1]}}
}

// consolePost submits a Console form as the operator's browser does (same origin).
func consolePost(t *testing.T, st *local.Stack, form url.Values, operator string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, st.URL+"/Console", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	if operator != "" {
		req.Header.Set("X-Console-Operator", operator)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, html.UnescapeString(string(b))
}

// requestEmails are the payment confirmation requests sent about order number.
func requestEmails(st *local.Stack, number string) []sandbox.SentMessage {
	var out []sandbox.SentMessage
	for _, m := range st.Mail.Messages() {
		if strings.Contains(m.Subject, "#"+number+":") && strings.Contains(m.HTML, st.Config.ConfirmURL) {
			out = append(out, m)
		}
	}
	return out
}

// TestConsoleResendSendsOneMoreEmail: the resend action makes the worker send the
// confirmation email exactly once more (its state is queued again, and processEmail sends a
// queued email), a replay of the form sends nothing, and the new email's link confirms.
func TestConsoleResendSendsOneMoreEmail(t *testing.T) {
	t.Parallel()
	st := newStack(t)
	id := st.Shop.CreateOrder(bacsOrder(course("Intro to Python", coursePy)))
	o, _ := st.Shop.Order(id)
	waitFor(t, "the confirmation email", 30*time.Second, func() bool { return len(requestEmails(st, o.Number)) == 1 })
	waitFor(t, "the email recorded as sent", 10*time.Second, func() bool { return record(t, st, id).Email.State == enrollment.EmailSent })

	form := consoleForm(t, st, "resend", id)
	code, body := consolePost(t, st, form, "operator@example.com")
	if code != http.StatusOK || !strings.Contains(body, `data-state="done"`) {
		t.Fatalf("resend: HTTP %d\n%s", code, body)
	}
	waitFor(t, "the second confirmation email", 30*time.Second, func() bool {
		return len(requestEmails(st, o.Number)) == 2 && record(t, st, id).Email.State == enrollment.EmailSent
	})
	// The form again, and time for anything else to arrive.
	code, body = consolePost(t, st, form, "operator@example.com")
	if code != http.StatusOK || !strings.Contains(body, `data-state="replayed"`) {
		t.Errorf("replayed resend: HTTP %d\n%s", code, body)
	}
	time.Sleep(2 * time.Second)
	msgs := requestEmails(st, o.Number)
	if len(msgs) != 2 {
		t.Fatalf("%d confirmation emails, want exactly 2 (the first and one resend)", len(msgs))
	}
	rec := record(t, st, id)
	if len(rec.Actions) != 1 || rec.Actions[0].Kind != enrollment.ActionResend || rec.Actions[0].By.Who != "operator@example.com" ||
		rec.Email.State != enrollment.EmailSent || rec.Email.Resends != 1 {
		t.Errorf("record: actions %+v, email %+v", rec.Actions, rec.Email)
	}
	// Both emails are on the order's timeline.
	_, body = consoleGet(t, st, fmt.Sprintf("?p=order&id=%d", id))
	if n := strings.Count(body, `<tr data-kind="email"><td class="when">`); n != 2 {
		t.Errorf("the timeline shows %d emails, want 2", n)
	}
	if !strings.Contains(body, "Confirmation email asked again by operator@example.com") {
		t.Error("the timeline does not show the resend and who asked")
	}
	// The resent email's button confirms the payment: one enrollment, one completion.
	link := brButtonLink(t, st, msgs[1], "Confirm payment received")
	u, _ := url.Parse(link)
	code, _ = brPlainHTTP(t, http.MethodPost, st.Config.ConfirmURL, url.Values{"t": {u.Query().Get("t")}})
	if code != http.StatusOK {
		t.Fatalf("confirm with the resent link: HTTP %d", code)
	}
	waitFor(t, "order completed", 30*time.Second, func() bool { return status(st, id) == "completed" })
	if s := st.LMS.Stats(); s.Created != 1 {
		t.Errorf("LMS %+v, want one enrollment", s)
	}
}

// TestConsoleShowsDeadLetters: a job whose retries ran out is on the health page (the
// Enroll function records the dead-lettered run) and on the order's timeline.
func TestConsoleShowsDeadLetters(t *testing.T) {
	t.Parallel()
	st := newStack(t)
	st.LMS.Faults.Inject("enroll", sandbox.Fault{Status: 429, Body: `{"detail":"Request was throttled."}`})
	id := st.Shop.CreateOrder(cardOrder(course("Intro to Python", coursePy)))
	waitFor(t, "the failure note", 90*time.Second, func() bool { return strings.Contains(notes(st, id), "enrollment failed") })
	waitFor(t, "the dead letter on the health page", 30*time.Second, func() bool {
		_, body := consoleGet(t, st, "?p=health")
		return strings.Contains(body, fmt.Sprintf(`<a href="/Console?id=%d&p=order">#%d</a></td><td>enroll-%d-1 (enroll)</td>`, id, id, id))
	})
	_, body := consoleGet(t, st, fmt.Sprintf("?p=order&id=%d", id))
	if !strings.Contains(body, "retries exhausted (dead letter)") {
		t.Error("the order's timeline does not show the dead-lettered run")
	}
	if !strings.Contains(body, `id="stage" class="pill stage-failed">Failed</span>`) || !strings.Contains(body, "could not be reached after") {
		t.Error("the order page does not say the order failed and why")
	}
}

// operatorToken is the ID token of a gcloud user as Cloud Run passes it to the container,
// its signature removed (internal/console/identity.go).
func operatorToken(email string) string {
	h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"RS256","kid":"k","typ":"JWT"}`))
	c, _ := json.Marshal(map[string]any{
		"iss": "https://accounts.google.com", "aud": "32555940559.apps.googleusercontent.com",
		"email": email, "email_verified": true, "iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix(),
	})
	return h + "." + base64.RawURLEncoding.EncodeToString(c) + ".SIGNATURE_REMOVED_BY_GOOGLE"
}
