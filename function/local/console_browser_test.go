package local_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/aulasneo/wc-openedx/internal/enrollment"
)

// The Console in a real Chromium (SPEC §1, issue 14): the list filtered to failed orders
// shows the failed order's reason; its page shows its timeline; retrying it after the course
// is fixed enrolls once and completes once; resending a confirmation email sends one email;
// both actions are recorded with who did them. With UPDATE_SCREENSHOTS=1 it writes the
// list, an order page and the health page (in Spanish) to docs/console-*.png.

// brOperator is the operator the browser is, as Cloud Run would name them.
const brOperator = "marta.operadora@example.com"

// brAsOperator makes every request of the tab carry the operator's ID token as Cloud Run
// passes it on (`gcloud run services proxy` adds the token; Cloud Run checks it and removes
// its signature).
func brAsOperator(t *testing.T, tab context.Context, email string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, brTimeout)
	defer cancel()
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatalf("browser: enable network: %v", err)
	}
	hdr := network.Headers{"X-Serverless-Authorization": "Bearer " + operatorToken(email)}
	if _, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: hdr}); err != nil {
		t.Fatalf("browser: set the operator's header: %v", err)
	}
}

// brTexts returns the visible text of every element matching sel.
func brTexts(t *testing.T, tab context.Context, sel string) []string {
	t.Helper()
	return brRun(t, tab, "read "+sel, chromedp.Evaluate[[]string](fmt.Sprintf(
		`[...document.querySelectorAll(%q)].map(e => e.innerText.trim())`, sel)))
}

func TestBrowserConsole(t *testing.T) {
	update := os.Getenv("UPDATE_SCREENSHOTS") != ""
	start := time.Now()
	browser := brNewBrowser(t)
	t.Cleanup(func() { t.Logf("browser test took %v", time.Since(start).Round(time.Millisecond)) })
	st := newStack(t, withEnv("LANGUAGE", "es"))
	shoot := func(tab context.Context, name string) {
		t.Helper()
		b := brScreenshot(t, tab, brPageWidth+200)
		if update {
			path := filepath.Join("..", "..", "docs", name+"-es.png")
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("wrote %s (%d bytes)", path, len(b))
		}
	}

	// Some history: a completed order, a bank transfer waiting, and order #… whose course
	// does not exist in the LMS yet.
	const missing = "course-v1:ExampleX+DS401+2026_T1"
	done := st.Shop.CreateOrder(cardOrder(course("Go para backend", courseGo)))
	waitFor(t, "the first order completed", 30*time.Second, func() bool { return status(st, done) == "completed" })
	bacs := st.Shop.CreateOrder(bacsOrder(course("Introducción a Python", coursePy)))
	bo, _ := st.Shop.Order(bacs)
	waitFor(t, "the confirmation email", 30*time.Second, func() bool { return len(requestEmails(st, bo.Number)) == 1 })
	waitFor(t, "the email recorded as sent", 10*time.Second, func() bool { return record(t, st, bacs).Email.State == enrollment.EmailSent })
	spec := cardOrder(course("Ciencia de datos", missing), course("Introducción a Python", coursePy))
	spec.FirstName, spec.LastName = "Lucía", "Fernández"
	failed := st.Shop.CreateOrder(spec)
	fo, _ := st.Shop.Order(failed)
	waitFor(t, "the failure note", 30*time.Second, func() bool { return strings.Contains(notes(st, failed), "Falló la inscripción") })
	waitFor(t, "the failure email", 30*time.Second, func() bool { return len(st.Mail.Messages()) == 2 })
	if _, err := st.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, reason := record(t, st, failed).CurrentStage()
	if !strings.Contains(reason, missing) {
		t.Fatalf("the order failed for %q", reason)
	}

	tab := brNewTab(t, browser, brPageWidth+200)
	brAsOperator(t, tab, brOperator)

	// The list, filtered to failed orders, shows the order and why.
	if code := brOpen(t, tab, st.URL+"/Console"); code != http.StatusOK {
		t.Fatalf("GET /Console: HTTP %d", code)
	}
	brDo(t, tab, "wait for the list", chromedp.WaitVisible("main#orders table#orders"))
	if got := brText(t, tab, "#operator"); !strings.Contains(got, brOperator) {
		t.Errorf("the header names %q, want the operator %s", got, brOperator)
	}
	shoot(tab, "console-orders")
	found := time.Now() // "order #… did not enroll": the operator looks for why
	if code := brSubmit(t, tab, "a#stage-failed"); code != http.StatusOK {
		t.Fatalf("the failed filter: HTTP %d", code)
	}
	brDo(t, tab, "wait for the failed list", chromedp.WaitVisible("a#stage-failed.current"))
	rows := brTexts(t, tab, "table#orders tbody tr")
	if len(rows) != 1 || !strings.Contains(rows[0], "#"+fo.Number) || !strings.Contains(rows[0], reason) {
		t.Fatalf("the failed orders are %q; want only #%s with its reason %q", rows, fo.Number, reason)
	}

	// Its page: the reason, the lines and the timeline.
	if code := brSubmit(t, tab, fmt.Sprintf("tr#order-%d a.order-link", failed)); code != http.StatusOK {
		t.Fatalf("open the order: HTTP %d", code)
	}
	brDo(t, tab, "wait for the order page", chromedp.WaitVisible("main#order"))
	if got := brText(t, tab, "#reason"); got != reason {
		t.Errorf("#reason %q, want %q", got, reason)
	}
	t.Logf("from the list to the cause of order #%s: two clicks, %v in the browser", fo.Number, time.Since(found).Round(time.Millisecond))
	kinds := brRun(t, tab, "read the timeline", chromedp.Evaluate[[]string](`[...document.querySelectorAll("#timeline tbody tr")].map(r => r.dataset.kind)`))
	for _, k := range []string{"delivery", "status", "job", "enrollment", "note", "email"} {
		if !strings.Contains(strings.Join(kinds, " "), k) {
			t.Errorf("the timeline has no %s entry: %v", k, kinds)
		}
	}
	timeline := strings.Join(brTexts(t, tab, "#timeline tbody tr"), "\n")
	for _, want := range []string{"Webhook order.created recibido", "Trabajo en cola: enroll", "Nota privada publicada en el pedido", "Correo de aviso de fallo enviado", "Inscrito en " + coursePy} {
		if !strings.Contains(timeline, want) {
			t.Errorf("the timeline lacks %q:\n%s", want, timeline)
		}
	}
	shoot(tab, "console-order")

	// The course is created in the LMS; the operator retries the failed line.
	st.LMS.AddCourse(missing, "audit")
	enrollsBefore := len(st.LMS.Log.Calls("enroll"))
	if code := brSubmit(t, tab, "a#retry"); code != http.StatusOK {
		t.Fatalf("open the retry page: HTTP %d", code)
	}
	brDo(t, tab, "wait for the retry page", chromedp.WaitVisible("main#retry button#do"))
	if got := brText(t, tab, "#by"); !strings.Contains(got, brOperator) {
		t.Errorf("the retry page says %q; it should name the operator", got)
	}
	if code := brSubmit(t, tab, "button#do"); code != http.StatusOK {
		t.Fatalf("retry: HTTP %d", code)
	}
	brDo(t, tab, "wait for the result", chromedp.WaitVisible("main#result"))
	waitFor(t, "the order completed", 30*time.Second, func() bool {
		stage, _ := record(t, st, failed).CurrentStage()
		return status(st, failed) == "completed" && stage == enrollment.StageCompleted
	})
	time.Sleep(time.Second) // anything more would have happened by now
	st.Shop.Wait()
	var enrolls, completions int
	for _, c := range st.LMS.Log.Calls("enroll")[enrollsBefore:] {
		if c.Status < 300 {
			enrolls++
		}
	}
	for _, c := range st.Shop.Log.Calls("update-order") {
		if c.Status == 200 && strings.HasSuffix(c.Path, fmt.Sprintf("/orders/%d", failed)) {
			completions++
		}
	}
	if enrolls != 1 || completions != 1 {
		t.Errorf("after the retry: %d successful enrollment calls and %d completions, want 1 and 1", enrolls, completions)
	}
	rec := record(t, st, failed)
	if len(rec.Actions) != 1 || rec.Actions[0].Kind != enrollment.ActionRetry || rec.Actions[0].By.Who != brOperator ||
		rec.Actions[0].By.Via != enrollment.ViaConsole || !strings.Contains(rec.Actions[0].By.UserAgent, "Chrome") {
		t.Errorf("the retry is recorded as %+v", rec.Actions)
	}
	if rec.Stage != enrollment.StageCompleted {
		t.Errorf("after the retry the order's stored stage is %s", rec.Stage)
	}

	// The resend on the bank transfer sends one email, recorded with who asked.
	if code := brOpen(t, tab, fmt.Sprintf("%s/Console?p=order&id=%d", st.URL, bacs)); code != http.StatusOK {
		t.Fatalf("open the bank transfer: HTTP %d", code)
	}
	if code := brSubmit(t, tab, "a#resend"); code != http.StatusOK {
		t.Fatalf("open the resend page: HTTP %d", code)
	}
	if code := brSubmit(t, tab, "button#do"); code != http.StatusOK {
		t.Fatalf("resend: HTTP %d", code)
	}
	brDo(t, tab, "wait for the result", chromedp.WaitVisible("main#result"))
	waitFor(t, "the resent email", 30*time.Second, func() bool { return len(requestEmails(st, bo.Number)) == 2 })
	time.Sleep(time.Second)
	if n := len(requestEmails(st, bo.Number)); n != 2 {
		t.Errorf("%d confirmation emails, want 2 (one resend)", n)
	}
	if a := record(t, st, bacs).Actions; len(a) != 1 || a[0].Kind != enrollment.ActionResend || a[0].By.Who != brOperator {
		t.Errorf("the resend is recorded as %+v", a)
	}
	if code := brOpen(t, tab, fmt.Sprintf("%s/Console?p=order&id=%d", st.URL, bacs)); code != http.StatusOK {
		t.Fatalf("reopen the bank transfer: HTTP %d", code)
	}
	if tl := strings.Join(brTexts(t, tab, "#timeline tbody tr"), "\n"); !strings.Contains(tl, "Reenvío del correo de confirmación pedido por "+brOperator) {
		t.Errorf("the timeline does not show the resend by %s:\n%s", brOperator, tl)
	}

	// The health page.
	if code := brSubmit(t, tab, "a#nav-health"); code != http.StatusOK {
		t.Fatalf("health: HTTP %d", code)
	}
	brDo(t, tab, "wait for the health page", chromedp.WaitVisible("main#health"))
	if brHas(t, tab, "#sweep-never") {
		t.Error("the health page does not show the sweep that ran")
	}
	shoot(tab, "console-health")
}
