package local_test

import (
	"bytes"
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aulasneo/wc-openedx/function/local"
	"github.com/aulasneo/wc-openedx/internal/enrollment"
	"github.com/aulasneo/wc-openedx/internal/jobs"
	"github.com/aulasneo/wc-openedx/internal/sandbox"
)

var confirmHrefRE = regexp.MustCompile(`href="([^"]*[?&](?:amp;)?t=[^"]*)"`)

// tokenFromEmail returns the confirmation token of the button in the email's HTML.
func tokenFromEmail(t testing.TB, st *local.Stack, m sandbox.SentMessage) string {
	t.Helper()
	match := confirmHrefRE.FindStringSubmatch(m.HTML)
	if match == nil {
		t.Fatalf("no confirmation link in the email:\n%s", m.HTML)
	}
	link := html.UnescapeString(match[1])
	if !strings.HasPrefix(link, st.Config.ConfirmURL) {
		t.Fatalf("link %s is not the Confirm function %s", link, st.Config.ConfirmURL)
	}
	u, _ := url.Parse(link)
	return u.Query().Get("t")
}

// confirmPage GETs or POSTs the Confirm function and returns the status and page.
func confirmPage(t testing.TB, st *local.Stack, method, token string) (int, string) {
	t.Helper()
	var resp *http.Response
	var err error
	if method == http.MethodPost {
		resp, err = http.PostForm(st.Config.ConfirmURL, url.Values{"t": {token}})
	} else {
		resp, err = http.Get(st.Config.ConfirmURL + "?t=" + url.QueryEscape(token))
	}
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	if resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("Referrer-Policy") != "no-referrer" {
		t.Errorf("confirm page headers: %v", resp.Header)
	}
	return resp.StatusCode, b.String()
}

func emailsTo(st *local.Stack, order string) []sandbox.SentMessage {
	var out []sandbox.SentMessage
	for _, m := range st.Mail.Messages() {
		if strings.Contains(m.Subject, "#"+order) {
			out = append(out, m)
		}
	}
	return out
}

func TestBankTransferConfirmedByLink(t *testing.T) {
	t.Parallel()
	st := newStack(t)
	id := st.Shop.CreateOrder(bacsOrder(course("Intro to Python", coursePy)))
	o, _ := st.Shop.Order(id)
	waitFor(t, "confirmation email", 30*time.Second, func() bool { return len(emailsTo(st, o.Number)) == 1 })
	m := emailsTo(st, o.Number)[0]
	for _, want := range []string{o.Number, "Ana García", learner, "Intro to Python", "149.00", "USD", "Direct bank transfer", "Confirm payment received"} {
		if !strings.Contains(m.HTML, html.EscapeString(want)) || !strings.Contains(m.Text, want) {
			t.Errorf("email lacks %q", want)
		}
	}
	if len(m.To) != 1 || m.To[0] != "shop-admin@example.com" {
		t.Errorf("email to %v; want the shop's new-order recipients", m.To)
	}
	// Later updates with the same status, and a redelivery, send nothing more.
	st.Shop.UpdateOrder(id, func(o *sandbox.OrderState) { o.FirstName = "Ana María" })
	st.Shop.DeliverAgain(id, "order.updated")
	st.Shop.Wait()
	tok := tokenFromEmail(t, st, m)

	// GET shows the order and changes nothing (mail scanners follow links).
	for range 2 {
		code, page := confirmPage(t, st, http.MethodGet, tok)
		if code != 200 || !strings.Contains(page, o.Number) || !strings.Contains(page, `id="confirm"`) {
			t.Fatalf("GET answered %d:\n%s", code, page)
		}
	}
	time.Sleep(time.Second)
	if len(st.LMS.Log.Calls("enroll")) != 0 || status(st, id) != "on-hold" {
		t.Fatal("something was enrolled before the confirmation")
	}
	code, page := confirmPage(t, st, http.MethodPost, tok)
	if code != 200 || !strings.Contains(page, `id="confirmed"`) {
		t.Fatalf("POST answered %d:\n%s", code, page)
	}
	waitFor(t, "order completed", 30*time.Second, func() bool { return status(st, id) == "completed" })
	code, page = confirmPage(t, st, http.MethodPost, tok)
	if code != 200 || !strings.Contains(page, `id="already-confirmed"`) {
		t.Fatalf("second POST answered %d:\n%s", code, page)
	}
	time.Sleep(time.Second)
	if s := st.LMS.Stats(); s.Created != 1 || len(st.LMS.Log.Calls("enroll")) != 1 {
		t.Errorf("LMS %+v; want exactly one enrollment", s)
	}
	rec := record(t, st, id)
	if rec.Confirmed == nil || rec.Confirmed.UserAgent == "" || rec.Confirmed.IP == "" || rec.PaidBy != enrollment.PaidByConfirm {
		t.Errorf("confirmation not recorded: %+v", rec.Confirmed)
	}
	if n := len(emailsTo(st, o.Number)); n != 1 {
		t.Errorf("%d confirmation emails, want 1", n)
	}
	// The audit trail, once each, where the admin looks: to whom the email went, and when and
	// from which IP the payment was confirmed through its link.
	n := notes(st, id)
	if c := strings.Count(n, "Payment confirmation email sent to shop-admin@example.com."); c != 1 {
		t.Errorf("%d notes saying to whom the email went, want 1:\n%s", c, n)
	}
	confirmed := "Payment confirmed through the link of the confirmation email on " +
		rec.Confirmed.At.UTC().Format("January 2, 2006, 3:04 PM") + " UTC, from the IP address " + rec.Confirmed.IP + "."
	if c := strings.Count(n, confirmed); c != 1 {
		t.Errorf("%d notes %q, want 1:\n%s", c, confirmed, n)
	}
	if !strings.Contains(page, "The payment was confirmed through this link on "+rec.Confirmed.At.UTC().Format("January 2, 2006, 3:04 PM")) {
		t.Errorf("the already-confirmed page does not say when:\n%s", page)
	}
}

func TestBankTransferMovedToProcessingByAdmin(t *testing.T) {
	t.Parallel()
	st := newStack(t, withEnv("LANGUAGE", "es"))
	id := st.Shop.CreateOrder(bacsOrder(course("Intro to Python", coursePy)))
	o, _ := st.Shop.Order(id)
	waitFor(t, "confirmation email", 30*time.Second, func() bool { return len(emailsTo(st, o.Number)) == 1 })
	m := emailsTo(st, o.Number)[0]
	if !strings.Contains(m.Subject, "Pedido") {
		t.Errorf("LANGUAGE=es but the subject is %q", m.Subject)
	}
	st.Shop.SetStatus(id, "processing")
	waitFor(t, "order completed", 30*time.Second, func() bool { return status(st, id) == "completed" })
	code, page := confirmPage(t, st, http.MethodGet, tokenFromEmail(t, st, m))
	if code != 200 || !strings.Contains(page, `id="handled"`) {
		t.Fatalf("GET after the admin's move answered %d:\n%s", code, page)
	}
	code, page = confirmPage(t, st, http.MethodPost, tokenFromEmail(t, st, m))
	if code != 200 || !strings.Contains(page, `id="handled"`) {
		t.Fatalf("POST after the admin's move answered %d:\n%s", code, page)
	}
	time.Sleep(time.Second)
	if s := st.LMS.Stats(); s.Created != 1 {
		t.Errorf("LMS %+v", s)
	}
}

func TestPaymentsThatNeedConfirmation(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, method, status string
		wantEmail            bool
	}{
		{"cheque on-hold", "cheque", "on-hold", true},
		{"cash on delivery arrives processing", "cod", "processing", true},
		{"bank transfer still pending", "bacs", "pending", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			st := newStack(t)
			spec := bacsOrder(course("Intro to Python", coursePy))
			spec.PaymentMethod, spec.Status = c.method, c.status
			id := st.Shop.CreateOrder(spec)
			o, _ := st.Shop.Order(id)
			st.Shop.Wait()
			if c.wantEmail {
				waitFor(t, "confirmation email", 30*time.Second, func() bool { return len(emailsTo(st, o.Number)) == 1 })
			} else {
				time.Sleep(2 * time.Second)
				if n := len(st.Mail.Messages()); n != 0 {
					t.Errorf("%d emails for a pending order", n)
				}
			}
			time.Sleep(time.Second)
			if len(st.LMS.Log.Calls("enroll")) != 0 || status(st, id) == "completed" {
				t.Errorf("an unconfirmed %s order was enrolled", c.method)
			}
		})
	}
}

func TestConfirmationRecipientsFallBack(t *testing.T) {
	t.Parallel()
	t.Run("empty setting", func(t *testing.T) {
		t.Parallel()
		st := newStack(t, withEnv("NOTIFY_EMAILS", "ops@example.com, boss@example.com"))
		st.Shop.SetRecipients("")
		id := st.Shop.CreateOrder(bacsOrder(course("Intro to Python", coursePy)))
		o, _ := st.Shop.Order(id)
		waitFor(t, "email", 30*time.Second, func() bool { return len(emailsTo(st, o.Number)) == 1 })
		if to := emailsTo(st, o.Number)[0].To; strings.Join(to, ",") != "ops@example.com,boss@example.com" {
			t.Errorf("to %v", to)
		}
	})
	t.Run("unreadable setting", func(t *testing.T) {
		t.Parallel()
		st := newStack(t, withEnv("NOTIFY_EMAILS", "ops@example.com"))
		st.Shop.Faults.Inject("recipients", sandbox.Fault{Status: 500, Body: `{"code":"x","message":"boom","data":{"status":500}}`})
		id := st.Shop.CreateOrder(bacsOrder(course("Intro to Python", coursePy)))
		o, _ := st.Shop.Order(id)
		waitFor(t, "email", 30*time.Second, func() bool { return len(emailsTo(st, o.Number)) == 1 })
		if to := emailsTo(st, o.Number)[0].To; strings.Join(to, ",") != "ops@example.com" {
			t.Errorf("to %v", to)
		}
	})
}

// The email job delivered many times, at once and again later, sends one email; SendGrid
// failures that are transient are retried until it is sent.
func TestConfirmationEmailOnce(t *testing.T) {
	t.Parallel()
	st := newStack(t)
	st.Mail.Faults.Inject("send", sandbox.Fault{Status: 429, Body: `{"errors":[{"message":"too many requests"}]}`, Times: 1})
	st.Mail.Faults.Inject("send", sandbox.Fault{Status: 503, Body: "upstream unavailable", Times: 1})
	id := st.Shop.CreateOrder(bacsOrder(course("Intro to Python", coursePy)))
	o, _ := st.Shop.Order(id)
	job := enrollment.Job{ID: "email-x", Kind: enrollment.JobEmail, OrderID: id}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Post(st.URL+"/Enroll", "application/json", bytes.NewReader(jobs.EncodePush(job, "projects/p/subscriptions/s", 1)))
			if err == nil {
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	waitFor(t, "the email", 30*time.Second, func() bool { return len(emailsTo(st, o.Number)) == 1 })
	waitFor(t, "the email recorded as sent", 10*time.Second, func() bool { return record(t, st, id).Email.State == enrollment.EmailSent })
	for range 3 {
		resp, err := http.Post(st.URL+"/Enroll", "application/json", bytes.NewReader(jobs.EncodePush(job, "projects/p/subscriptions/s", 2)))
		if err != nil || resp.StatusCode != http.StatusNoContent {
			t.Fatalf("redelivered email job: %v %v", resp, err)
		}
		resp.Body.Close()
	}
	time.Sleep(time.Second)
	if n := len(emailsTo(st, o.Number)); n != 1 {
		t.Errorf("%d emails, want 1", n)
	}
	if n := len(st.Mail.Log.Calls("send")); n < 3 {
		t.Errorf("%d send calls; the 429 and 503 should have been retried", n)
	}
	rec, _ := st.App.Store.Get(context.Background(), id)
	if rec.Email.State != enrollment.EmailSent {
		t.Errorf("email state %+v", rec.Email)
	}
}

func TestConfirmLinkErrors(t *testing.T) {
	t.Parallel()
	st := newStack(t)
	id := st.Shop.CreateOrder(bacsOrder(course("Intro to Python", coursePy)))
	o, _ := st.Shop.Order(id)
	waitFor(t, "email", 30*time.Second, func() bool { return len(emailsTo(st, o.Number)) == 1 })
	tok := tokenFromEmail(t, st, emailsTo(st, o.Number)[0])
	expired := st.App.Signer.Sign(id, time.Now().Add(-st.Config.ConfirmLinkTTL-time.Hour))
	forged := tok[:len(tok)-2] + map[bool]string{true: "AA", false: "BB"}[!strings.HasSuffix(tok, "AA")]
	for _, c := range []struct {
		name, token string
		want        int
		id          string
	}{
		{"expired", expired, 410, `id="expired"`},
		{"forged", forged, 403, `id="forged"`},
		{"malformed", "hello", 400, `id="invalid"`},
		{"missing", "", 400, `id="invalid"`},
	} {
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			code, page := confirmPage(t, st, method, c.token)
			if code != c.want || !strings.Contains(page, c.id) {
				t.Errorf("%s %s answered %d:\n%.300s", method, c.name, code, page)
			}
		}
	}
	time.Sleep(time.Second)
	if rec := record(t, st, id); rec.Confirmed != nil || len(st.LMS.Log.Calls("enroll")) != 0 {
		t.Error("a bad link confirmed the order")
	}
}

func TestConfirmLinkOfCancelledOrder(t *testing.T) {
	t.Parallel()
	st := newStack(t)
	id := st.Shop.CreateOrder(bacsOrder(course("Intro to Python", coursePy)))
	o, _ := st.Shop.Order(id)
	waitFor(t, "email", 30*time.Second, func() bool { return len(emailsTo(st, o.Number)) == 1 })
	tok := tokenFromEmail(t, st, emailsTo(st, o.Number)[0])
	st.Shop.SetStatus(id, "cancelled")
	st.Shop.Wait()
	waitFor(t, "cancel recorded", 10*time.Second, func() bool { return record(t, st, id).Status == "cancelled" })
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		code, page := confirmPage(t, st, method, tok)
		if code != http.StatusConflict || !strings.Contains(page, `id="closed"`) {
			t.Errorf("%s on a cancelled order answered %d:\n%.300s", method, code, page)
		}
	}
	time.Sleep(time.Second)
	if len(st.LMS.Log.Calls("enroll")) != 0 || status(st, id) != "cancelled" || record(t, st, id).Confirmed != nil {
		t.Error("a cancelled order was confirmed")
	}
}

// An enroll job for a bank-transfer order nobody confirmed enrolls nothing, whoever sent it
// (SPEC §2.6): a forged or stray push cannot skip the confirmation.
func TestEnrollJobForUnconfirmedOrderEnrollsNothing(t *testing.T) {
	t.Parallel()
	var logs logBuffer
	st := newStack(t, withLogs(&logs))
	id := st.Shop.CreateOrder(bacsOrder(course("Intro to Python", coursePy)))
	waitFor(t, "the confirmation email", 30*time.Second, func() bool { return len(st.Mail.Messages()) == 1 })
	rec := record(t, st, id)
	if err := st.App.Publisher.Publish(context.Background(), enrollment.Job{
		ID: "forged-1", Kind: enrollment.JobEnroll, OrderID: id, Gen: rec.EnrollGen + 1, CreatedAt: time.Now(),
	}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the forged job to be acknowledged", 30*time.Second, func() bool {
		return strings.Contains(logs.String(), `"msg":"job done","order":`+strconv.FormatInt(id, 10)+`,"job":"forged-1"`)
	})
	st.Shop.Wait()
	if n := len(st.LMS.Log.Calls("enroll")) + len(st.LMS.Log.Calls("allowed")); n != 0 {
		t.Errorf("%d LMS enrollment calls for an unconfirmed bank transfer", n)
	}
	if s := status(st, id); s != "on-hold" {
		t.Errorf("order is %q, want on-hold", s)
	}
	if r := record(t, st, id); r.Lines[0].State != enrollment.LinePending {
		t.Errorf("line state %q, want pending", r.Lines[0].State)
	}
}
