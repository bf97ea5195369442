package local_test

import (
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/aulasneo/wc-openedx/function/local"
	"github.com/aulasneo/wc-openedx/internal/browsertest"
	"github.com/aulasneo/wc-openedx/internal/confirm"
	"github.com/aulasneo/wc-openedx/internal/enrollment"
	"github.com/aulasneo/wc-openedx/internal/sandbox"
)

// Browser tests: a real headless Chromium drives the confirmation email's link and the
// Confirm page (SPEC §2.5). CI installs Chromium; a missing browser fails the tests rather
// than skipping them.

// brTimeout bounds every browser step.
const brTimeout = browsertest.Timeout

// Viewport widths of the pages and of the email.
const (
	brPageWidth  = 1000
	brEmailWidth = 800
)

// brPageWords are the words the tests expect on the Confirm pages and in the email, per
// language.
type brPageWords struct {
	Summary, Confirmed, Already, Forged, Expired, Invalid string // h1#title of each page
	Button                                                string // the email's button and button#confirm
	Order                                                 string // "Order" before the number
}

var brWords = map[string]brPageWords{
	"en": {
		Summary: "Confirm payment", Confirmed: "Payment confirmed", Already: "Payment already confirmed",
		Forged: "This link is not valid", Expired: "This link has expired", Invalid: "This link is incomplete or damaged",
		Button: "Confirm payment received", Order: "Order",
	},
	"es": {
		Summary: "Confirmar pago", Confirmed: "Pago confirmado", Already: "El pago ya estaba confirmado",
		Forged: "Este enlace no es válido", Expired: "Este enlace ha vencido", Invalid: "Este enlace está incompleto o dañado",
		Button: "Confirmar pago recibido", Order: "Pedido",
	},
}

// brNewBrowser starts one headless Chromium for the test (internal/browsertest).
func brNewBrowser(t *testing.T) context.Context { return browsertest.NewBrowser(t) }

// brNewTab opens a tab of the browser with a viewport width wide; it closes at cleanup.
func brNewTab(t *testing.T, browser context.Context, width int64) context.Context {
	return browsertest.NewTab(t, browser, width)
}

// brRun runs one browser step with the step timeout and fails the test on error.
func brRun[T any](t *testing.T, tab context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	return browsertest.Run(t, tab, what, a)
}

// brDo runs browser steps that return nothing.
func brDo(t *testing.T, tab context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	browsertest.Do(t, tab, what, steps...)
}

// brOpen navigates the tab to u and returns the HTTP status of the document.
func brOpen(t *testing.T, tab context.Context, u string) int {
	t.Helper()
	return browsertest.Open(t, tab, u)
}

// brSubmit clicks the button sel, waits for the page the form answers with, and returns its
// HTTP status.
func brSubmit(t *testing.T, tab context.Context, sel string) int {
	t.Helper()
	return browsertest.Click(t, tab, sel)
}

// brText returns the visible text of the element sel, waiting for it to be visible.
func brText(t *testing.T, tab context.Context, sel string) string {
	t.Helper()
	return browsertest.Text(t, tab, sel)
}

// brMainID is the id of the page's <main>, which names the page (internal/confirm).
func brMainID(t *testing.T, tab context.Context) string {
	t.Helper()
	return brRun(t, tab, "read main#id", chromedp.Evaluate[string](`(document.querySelector("main") || {}).id || ""`))
}

// brHas tells whether the page has an element matching sel now.
func brHas(t *testing.T, tab context.Context, sel string) bool {
	t.Helper()
	return browsertest.Has(t, tab, sel)
}

// brExpectPage checks that the tab shows the page id with its title in lang.
func brExpectPage(t *testing.T, tab context.Context, id, title string) {
	t.Helper()
	brDo(t, tab, "wait for main#"+id, chromedp.WaitVisible("main#"+id))
	if got := brText(t, tab, "h1#title"); got != title {
		t.Errorf("main#%s: title %q, want %q", id, got, title)
	}
}

// brConfirmationEmail waits for the confirmation request about order number and returns it.
func brConfirmationEmail(t *testing.T, st *local.Stack, number string) sandbox.SentMessage {
	t.Helper()
	var msg sandbox.SentMessage
	waitFor(t, "the confirmation email", 30*time.Second, func() bool {
		for _, m := range st.Mail.Messages() {
			if strings.Contains(m.Subject, "#"+number+":") && strings.Contains(m.HTML, st.Config.ConfirmURL) {
				msg = m
				return true
			}
		}
		return false
	})
	return msg
}

var brAnchorRE = regexp.MustCompile(`(?s)<a\s[^>]*?href="([^"]*)"[^>]*>(.*?)</a>`)

// brButtonLink returns the href of the email's button (the link whose text is label) and
// checks that every other link to the Confirm function in the email is the same.
func brButtonLink(t *testing.T, st *local.Stack, msg sandbox.SentMessage, label string) string {
	t.Helper()
	var button string
	for _, m := range brAnchorRE.FindAllStringSubmatch(msg.HTML, -1) {
		href := html.UnescapeString(m[1])
		if strings.TrimSpace(html.UnescapeString(m[2])) == label {
			if button != "" && button != href {
				t.Fatalf("two buttons %q with different links: %q and %q", label, button, href)
			}
			button = href
		}
	}
	if button == "" {
		t.Fatalf("no button %q in the email:\n%s", label, msg.HTML)
	}
	if !strings.HasPrefix(button, st.Config.ConfirmURL+"?") {
		t.Fatalf("button links to %q, not to the Confirm function %s", button, st.Config.ConfirmURL)
	}
	for _, m := range brAnchorRE.FindAllStringSubmatch(msg.HTML, -1) {
		if href := html.UnescapeString(m[1]); strings.HasPrefix(href, st.Config.ConfirmURL) && href != button {
			t.Errorf("the email links to the Confirm function twice, differently: %q and %q", button, href)
		}
	}
	if !strings.Contains(msg.Text, button) {
		t.Errorf("the text part lacks the link %s", button)
	}
	return button
}

// brWithToken returns link with its token replaced by f(token).
func brWithToken(t *testing.T, link string, f func(string) string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	tok := q.Get("t")
	if tok == "" {
		t.Fatalf("link %s carries no token", link)
	}
	q.Set("t", f(tok))
	u.RawQuery = q.Encode()
	return u.String()
}

// brForge flips the first character of the token's MAC part, so the token keeps its shape
// (and strict base64 encoding) but its signature no longer matches.
func brForge(t *testing.T, tok string) string {
	t.Helper()
	payload, mac, ok := strings.Cut(tok, ".")
	if !ok || mac == "" {
		t.Fatalf("token %q has no MAC part", tok)
	}
	c := byte('A')
	if mac[0] == 'A' {
		c = 'B'
	}
	return payload + "." + string(c) + mac[1:]
}

// brPlainHTTP answers what a plain HTTP client gets for method on u (form: POST body).
func brPlainHTTP(t *testing.T, method, u string, form url.Values) (int, string) {
	t.Helper()
	var resp *http.Response
	var err error
	if method == http.MethodPost {
		resp, err = http.PostForm(u, form)
	} else {
		resp, err = http.Get(u)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// brExpectUntouched checks that order id is still waiting for the confirmation: not enrolled,
// not completed, no confirmation recorded.
func brExpectUntouched(t *testing.T, st *local.Stack, id int64) {
	t.Helper()
	st.Shop.Wait()
	if s := st.LMS.Stats(); s.Created != 0 {
		t.Errorf("LMS stats %+v, want nothing enrolled", s)
	}
	if n := len(st.LMS.Log.Calls("enroll")); n != 0 {
		t.Errorf("%d enrollment calls, want none", n)
	}
	if s := status(st, id); s != "on-hold" {
		t.Errorf("order status %q, want on-hold", s)
	}
	if rec := record(t, st, id); rec.Confirmed != nil || rec.PaidBy != "" {
		t.Errorf("record: confirmed %+v, paid by %q; want neither", rec.Confirmed, rec.PaidBy)
	}
}

func TestBrowserConfirmsBankTransfer(t *testing.T) {
	start := time.Now()
	browser := brNewBrowser(t)
	t.Cleanup(func() { t.Logf("browser test took %v", time.Since(start).Round(time.Millisecond)) })
	for _, lang := range []string{"en", "es"} {
		t.Run(lang, func(t *testing.T) {
			t.Parallel()
			w := brWords[lang]
			st := newStack(t, withEnv("LANGUAGE", lang))
			id := st.Shop.CreateOrder(bacsOrder(course("Intro to Python", coursePy)))
			o, _ := st.Shop.Order(id)
			msg := brConfirmationEmail(t, st, o.Number)
			link := brButtonLink(t, st, msg, w.Button)

			// The admin opens the link: the summary, and nothing changes.
			tab := brNewTab(t, browser, brPageWidth)
			if code := brOpen(t, tab, link); code != http.StatusOK {
				t.Fatalf("GET link: HTTP %d, want 200", code)
			}
			brExpectPage(t, tab, "summary", w.Summary)
			if got, want := brText(t, tab, "#order-number"), w.Order+" #"+o.Number; got != want {
				t.Errorf("#order-number %q, want %q", got, want)
			}
			if got := brText(t, tab, "button#confirm"); got != w.Button {
				t.Errorf("button#confirm says %q, want %q", got, w.Button)
			}
			if got := brText(t, tab, "#customer-email"); got != learner {
				t.Errorf("#customer-email %q, want %q", got, learner)
			}
			// A second tab on the same link keeps a form that will be stale after the confirmation.
			stale := brNewTab(t, browser, brPageWidth)
			if code := brOpen(t, stale, link); code != http.StatusOK {
				t.Fatalf("GET link in a second tab: HTTP %d", code)
			}
			brDo(t, stale, "wait for the second tab's button", chromedp.WaitVisible("button#confirm"))
			time.Sleep(300 * time.Millisecond) // anything a GET had queued would have run by now
			brExpectUntouched(t, st, id)

			// The admin confirms.
			if code := brSubmit(t, tab, "button#confirm"); code != http.StatusOK {
				t.Fatalf("POST confirm: HTTP %d, want 200", code)
			}
			brExpectPage(t, tab, "confirmed", w.Confirmed)
			body := brText(t, tab, "main#confirmed")
			t.Logf("main#confirmed says: %q", body)
			if !strings.Contains(body, "#"+o.Number) {
				t.Errorf("the confirmed page does not name order #%s: %q", o.Number, body)
			}
			if brHas(t, tab, "button#confirm") {
				t.Error("the confirmed page still has a Confirm button")
			}
			waitFor(t, "order completed", 30*time.Second, func() bool { return status(st, id) == "completed" })
			if s := st.LMS.Stats(); s.Created != 1 {
				t.Errorf("LMS stats %+v, want exactly one created enrollment", s)
			}
			if n := len(st.LMS.Log.Calls("enroll")); n != 1 {
				t.Errorf("%d enrollment calls, want 1", n)
			}
			if e := st.LMS.Enrollments(); len(e) != 1 || e[0].User != learnerID || e[0].Course != coursePy || !e[0].IsActive {
				t.Errorf("enrollments %+v", e)
			}
			rec := record(t, st, id)
			if rec.PaidBy != enrollment.PaidByConfirm || rec.Confirmed == nil {
				t.Fatalf("record: paid by %q, confirmation %+v", rec.PaidBy, rec.Confirmed)
			}
			if !strings.Contains(rec.Confirmed.UserAgent, "Chrome") || rec.Confirmed.IP != "127.0.0.1" {
				t.Errorf("confirmation recorded as %+v, want the browser's user agent and 127.0.0.1", *rec.Confirmed)
			}

			// Back, and submit again if the browser shows the old form (it may instead load the
			// page anew, which then says the payment is already confirmed).
			// The form posted to the bare URL, so Back returns to the link's own page
			// (GET), which the browser may restore without a load event: press Back and
			// wait for the page to change rather than for a load.
			brDo(t, tab, "go back", chromedp.Evaluate[chromedp.Void](`history.back()`))
			waitFor(t, "the page before the confirmation", 20*time.Second, func() bool {
				id, err := chromedp.Run(tab, chromedp.Evaluate[string](`(document.querySelector("main") || {}).id || ""`))
				return err == nil && id != "confirmed" && id != ""
			})
			switch id := brMainID(t, tab); id {
			case "summary":
				// The browser restored the page from its back-forward cache, which
				// chromedp's DOM queries do not follow: press the button from the page's
				// own script, then wait for the answer page below.
				brDo(t, tab, "submit the old form again", chromedp.Evaluate[chromedp.Void](`document.querySelector("button#confirm").click()`))
				waitFor(t, "the answer to the old form", 20*time.Second, func() bool {
					id, err := chromedp.Run(tab, chromedp.Evaluate[string](`(document.querySelector("main") || {}).id || ""`))
					return err == nil && id == "already-confirmed"
				})
				t.Log("Back showed the old form; submitted it again")
			case "already-confirmed":
				t.Log("Back loaded the page anew")
			default:
				t.Fatalf("after Back the page is main#%s", id)
			}
			brExpectPage(t, tab, "already-confirmed", w.Already)

			// The stale form of the second tab.
			if code := brSubmit(t, stale, "button#confirm"); code != http.StatusOK {
				t.Fatalf("POST from the stale tab: HTTP %d, want 200", code)
			}
			brExpectPage(t, stale, "already-confirmed", w.Already)

			// The link again.
			if code := brOpen(t, tab, link); code != http.StatusOK {
				t.Fatalf("GET link again: HTTP %d, want 200", code)
			}
			brExpectPage(t, tab, "already-confirmed", w.Already)
			if got, want := brText(t, tab, "#order-number"), w.Order+" #"+o.Number; got != want {
				t.Errorf("#order-number %q, want %q", got, want)
			}
			if brHas(t, tab, "button#confirm") {
				t.Error("the already-confirmed page has a Confirm button")
			}

			// Nothing more was enrolled or changed.
			time.Sleep(time.Second)
			st.Shop.Wait()
			if s := st.LMS.Stats(); s.Created != 1 {
				t.Errorf("after the repeats: LMS stats %+v, want exactly one created enrollment", s)
			}
			if n := len(st.LMS.Log.Calls("enroll")); n != 1 {
				t.Errorf("after the repeats: %d enrollment calls, want 1", n)
			}
			if got := record(t, st, id).Confirmed; got == nil || !got.At.Equal(rec.Confirmed.At) {
				t.Errorf("the confirmation changed: %+v, was %+v", got, rec.Confirmed)
			}
			if s := status(st, id); s != "completed" {
				t.Errorf("order status %q, want completed", s)
			}
		})
	}
}

func TestBrowserForgedLink(t *testing.T) {
	start := time.Now()
	browser := brNewBrowser(t)
	t.Cleanup(func() { t.Logf("browser test took %v", time.Since(start).Round(time.Millisecond)) })
	for _, lang := range []string{"en", "es"} {
		t.Run(lang, func(t *testing.T) {
			t.Parallel()
			w := brWords[lang]
			st := newStack(t, withEnv("LANGUAGE", lang))
			id := st.Shop.CreateOrder(bacsOrder(course("Intro to Python", coursePy)))
			o, _ := st.Shop.Order(id)
			link := brButtonLink(t, st, brConfirmationEmail(t, st, o.Number), w.Button)
			forged := brWithToken(t, link, func(tok string) string { return brForge(t, tok) })
			if forged == link {
				t.Fatal("forging did not change the link")
			}

			tab := brNewTab(t, browser, brPageWidth)
			if code := brOpen(t, tab, forged); code != http.StatusForbidden {
				t.Errorf("GET forged link in the browser: HTTP %d, want 403", code)
			}
			brExpectPage(t, tab, "forged", w.Forged)
			if brHas(t, tab, "#order-number") || brHas(t, tab, "button#confirm") || brHas(t, tab, "#order") {
				t.Error("the forged page shows order details or a Confirm button")
			}
			// The same without a browser, and a POST of the forged token.
			if code, body := brPlainHTTP(t, http.MethodGet, forged, nil); code != http.StatusForbidden || !strings.Contains(body, `id="forged"`) {
				t.Errorf("GET forged link: HTTP %d, want 403 with main#forged", code)
			}
			tok, _ := url.Parse(forged)
			if code, body := brPlainHTTP(t, http.MethodPost, st.Config.ConfirmURL, url.Values{"t": {tok.Query().Get("t")}}); code != http.StatusForbidden || !strings.Contains(body, `id="forged"`) {
				t.Errorf("POST forged token: HTTP %d, want 403 with main#forged", code)
			}
			// A cut token is malformed rather than forged.
			cut := brWithToken(t, link, func(tok string) string { return tok[:len(tok)-5] })
			if code := brOpen(t, tab, cut); code != http.StatusBadRequest {
				t.Errorf("GET cut link: HTTP %d, want 400", code)
			}
			brExpectPage(t, tab, "invalid", w.Invalid)

			time.Sleep(300 * time.Millisecond)
			brExpectUntouched(t, st, id)
			// The genuine link still offers the confirmation.
			if code := brOpen(t, tab, link); code != http.StatusOK {
				t.Fatalf("GET genuine link: HTTP %d", code)
			}
			brExpectPage(t, tab, "summary", w.Summary)
			brDo(t, tab, "wait for button#confirm", chromedp.WaitVisible("button#confirm"))
		})
	}
}

// TestBrowserScreenshots renders the confirmation email and the Confirm pages in Chromium and
// checks each screenshot is a PNG of the expected width. With UPDATE_SCREENSHOTS=1 it also
// writes them to docs/ (docs/email-confirm-en.png, docs/confirm-page-es.png, …).
func TestBrowserScreenshots(t *testing.T) {
	update := os.Getenv("UPDATE_SCREENSHOTS") != ""
	start := time.Now()
	browser := brNewBrowser(t)
	t.Cleanup(func() { t.Logf("browser test took %v", time.Since(start).Round(time.Millisecond)) })
	const key = "screenshot-signing-key-0123456789abcdef"
	for _, lang := range []string{"en", "es"} {
		t.Run(lang, func(t *testing.T) {
			t.Parallel()
			w := brWords[lang]
			st := newStack(t, withEnv("LANGUAGE", lang), withEnv("CONFIRM_SIGNING_KEY", key))
			spec := bacsOrder(course("Intro to Python", coursePy), course("Go for Backend Developers", courseGo))
			spec.Lines[1].Total = "199.00"
			if lang == "es" {
				// A Spanish shop's own title for the gateway (payment_method_title).
				spec.PaymentMethodTitle = "Transferencia bancaria directa"
			}
			id := st.Shop.CreateOrder(spec)
			o, _ := st.Shop.Order(id)
			msg := brConfirmationEmail(t, st, o.Number)
			link := brButtonLink(t, st, msg, w.Button)

			shoot := func(tab context.Context, name string, width int64) {
				t.Helper()
				b := brScreenshot(t, tab, width)
				if update {
					path := filepath.Join("..", "..", "docs", name+"-"+lang+".png")
					if err := os.WriteFile(path, b, 0o644); err != nil {
						t.Fatal(err)
					}
					t.Logf("wrote %s (%d bytes)", path, len(b))
				}
			}

			// The email as a mail client shows its HTML part.
			mailTab := brNewTab(t, browser, brEmailWidth)
			u := st.URL + "/mailbox/?" + url.Values{"id": {msg.ID}, "part": {"html"}}.Encode()
			if code := brOpen(t, mailTab, u); code != http.StatusOK {
				t.Fatalf("open the email: HTTP %d", code)
			}
			got := brRun(t, mailTab, "read the button", chromedp.Evaluate[string](fmt.Sprintf(
				`[...document.querySelectorAll("a")].filter(a => a.textContent.trim() === %q).map(a => a.href).join(" ")`, w.Button)))
			if got != link {
				t.Errorf("the browser sees the email's button link to %q, want %q", got, link)
			}
			shoot(mailTab, "email-confirm", brEmailWidth)

			tab := brNewTab(t, browser, brPageWidth)
			if code := brOpen(t, tab, link); code != http.StatusOK {
				t.Fatalf("GET link: HTTP %d", code)
			}
			brExpectPage(t, tab, "summary", w.Summary)
			if n := brRun(t, tab, "count lines", chromedp.Evaluate[int](`document.querySelectorAll("#lines tbody tr").length`)); n != 2 {
				t.Errorf("the summary shows %d lines, want 2", n)
			}
			shoot(tab, "confirm-page", brPageWidth)

			if code := brSubmit(t, tab, "button#confirm"); code != http.StatusOK {
				t.Fatalf("POST confirm: HTTP %d", code)
			}
			brExpectPage(t, tab, "confirmed", w.Confirmed)
			shoot(tab, "confirmed", brPageWidth)

			forged := brWithToken(t, link, func(tok string) string { return brForge(t, tok) })
			if code := brOpen(t, tab, forged); code != http.StatusForbidden {
				t.Errorf("GET forged link: HTTP %d, want 403", code)
			}
			brExpectPage(t, tab, "forged", w.Forged)
			shoot(tab, "forged", brPageWidth)

			// A genuine token whose lifetime is over.
			signer := confirm.NewSigner([]byte(key), st.Config.ConfirmLinkTTL)
			expired := brWithToken(t, link, func(string) string {
				return signer.Sign(id, time.Now().Add(-st.Config.ConfirmLinkTTL-time.Hour))
			})
			if code := brOpen(t, tab, expired); code != http.StatusGone {
				t.Errorf("GET expired link: HTTP %d, want 410", code)
			}
			brExpectPage(t, tab, "expired", w.Expired)
			if got, want := brText(t, tab, "#order-number"), w.Order+" #"+o.Number; got != want {
				t.Errorf("expired page: #order-number %q, want %q", got, want)
			}
			shoot(tab, "expired", brPageWidth)
		})
	}
}

// brScreenshot captures the whole page at the given CSS width as a PNG and checks that it is
// a rendered page of that size.
func brScreenshot(t *testing.T, tab context.Context, width int64) []byte {
	t.Helper()
	return browsertest.Screenshot(t, tab, width)
}
