package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/aulasneo/wc-openedx/function/local"
	"github.com/aulasneo/wc-openedx/internal/browsertest"
)

// TestBrowserDevRetry runs the local run's demo in Spanish and does, in Chromium, what the
// demo's console tells a newcomer to do with the order that failed for want of its course:
// from the index page to the shop's orders, create the course in the simulated Open edX,
// then the retry step of the shop's guide (En espera, «Actualizar», Procesando,
// «Actualizar»), until the shop's order screen shows the order Completado with the
// enrollment note. It checks that the console names the buttons as the pages do, and with
// UPDATE_SCREENSHOTS=1 writes docs/dev-index-es.png and docs/shop-orders-es.png.
func TestBrowserDevRetry(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole service and a browser")
	}
	// A newcomer's shell that chose Spanish; the emulators are those of the environment when
	// set (CI), else the run starts its own.
	for _, k := range []string{"WC_URL", "OPENEDX_URL", "SENDGRID_API_KEY", "LOG_LEVEL", "GOOGLE_CLOUD_PROJECT", "CONFIRM_URL", "WEBHOOK_URL"} {
		t.Setenv(k, "")
	}
	t.Setenv("LANGUAGE", "es_AR")
	// The browser first, so that its files are not in the run's TMPDIR.
	browser := browsertest.NewBrowser(t)
	tab := browsertest.NewTab(t, browser, 1000)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)

	ctx, stop := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	out := readOutput(pr)
	stacks := make(chan *local.Stack, 1)
	done := make(chan struct{}) // closed when serve returns, with its error in served
	var served error
	var stderr lockedBuffer
	f, err := parseFlags([]string{"-demo", "-addr", "127.0.0.1:0"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	f.started = func(st *local.Stack) { stacks <- st }
	go func() {
		defer close(done)
		served = serve(ctx, f, pw, &stderr)
		pw.Close()
	}()
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			stop()
			<-done
		}
		if t.Failed() {
			t.Logf("output:\n%s\nstderr:\n%s", out, stderr.String())
		}
	})
	var st *local.Stack
	select {
	case st = <-stacks:
	case <-done:
		t.Fatalf("the local run stopped: %v\n%s", served, stderr.String())
	case <-time.After(3 * time.Minute):
		t.Fatal("the local run did not start within 3 minutes")
	}
	out.waitFor(t, "The service keeps running", 3*time.Minute)
	console := out.String()

	// The console names the buttons and statuses in Spanish, as the pages do.
	for _, want := range []string{
		"press «Confirmar pago recibido»",
		"and press «Crear curso»",
		"to «En espera» and press «Actualizar»",
		"set it to «Procesando» and press «Actualizar»",
	} {
		if !strings.Contains(console, want) {
			t.Errorf("the console does not say %q", want)
		}
	}
	failed := regexp.MustCompile(`Order #(\d+): card payment \(stripe\), ` + regexp.QuoteMeta(demoCourseNope)).FindStringSubmatch(console)
	create := regexp.MustCompile(`create the course in the simulated Open edX: open (\S+)`).FindStringSubmatch(console)
	link := regexp.MustCompile(`confirm:\s+(\S+)`).FindStringSubmatch(console)
	if failed == nil || create == nil || link == nil {
		t.Fatalf("the console lacks the failed order, the course page or the confirmation link:\n%s", console)
	}
	number := failed[1]
	section := "section#order-" + number

	// The confirmation page's button is the one the console names.
	if code := browsertest.Open(t, tab, link[1]); code != 200 {
		t.Fatalf("GET the confirmation link: HTTP %d", code)
	}
	if got := browsertest.Text(t, tab, "button#confirm"); got != confirmButton("es") {
		t.Errorf("the Confirm page's button says %q, the console %q", got, confirmButton("es"))
	}

	// The index page.
	if code := browsertest.Open(t, tab, st.URL+"/"); code != 200 {
		t.Fatalf("GET /: HTTP %d", code)
	}
	if got := browsertest.Text(t, tab, "h1#title"); got != "wc-openedx · ejecución local" {
		t.Errorf("index title %q", got)
	}
	for id, want := range map[string]string{
		"fn-Webhook": st.URL + "/Webhook", "fn-Enroll": st.URL + "/Enroll", "fn-Confirm": st.URL + "/Confirm",
		"fn-Sweep": st.URL + "/Sweep", "fn-Console": st.URL + "/Console", "mailbox": st.URL + "/mailbox/",
		"shop-orders": st.Shop.AdminOrdersURL(), "lms-courses": st.Config.OpenEdXURL + "/sandbox/courses",
	} {
		if got := browsertest.Eval[string](t, tab, fmt.Sprintf(`(document.getElementById(%q) || {}).href || ""`, id)); got != want {
			t.Errorf("index link %s goes to %q, want %q", id, got, want)
		}
	}
	browsertest.Shoot(t, tab, 1000, filepath.Join("..", "..", "..", "docs", "dev-index-es.png"))

	// The shop's orders, from the index: the order failed, and its note says why.
	if code := browsertest.Click(t, tab, "a#shop-orders"); code != 200 {
		t.Fatalf("open the shop's orders: HTTP %d", code)
	}
	if got := browsertest.Text(t, tab, section+" mark.order-status"); got != "Procesando" {
		t.Errorf("the failed order shows %q, want Procesando", got)
	}
	notes := func() []string {
		return browsertest.Eval[[]string](t, tab, fmt.Sprintf(`[...document.querySelectorAll(%q)].map(n => n.textContent)`, section+" .note_content"))
	}
	before := notes()
	if len(before) == 0 || !strings.Contains(before[0], demoCourseNope) {
		t.Fatalf("the failed order's notes do not name the course: %q", before)
	}

	// The fix: create the course, from the link the console printed (the form is filled in).
	if code := browsertest.Open(t, tab, create[1]); code != 200 {
		t.Fatalf("open the courses page: HTTP %d", code)
	}
	if got := browsertest.Eval[string](t, tab, `document.getElementById("course_id").value`); got != demoCourseNope {
		t.Errorf("the course form holds %q, want %q", got, demoCourseNope)
	}
	if got := browsertest.Text(t, tab, "button#create"); got != "Crear curso" {
		t.Errorf("the create button says %q", got)
	}
	if code := browsertest.Click(t, tab, "button#create"); code != 200 {
		t.Fatalf("create the course: HTTP %d", code)
	}
	if got := browsertest.Text(t, tab, "#created"); !strings.Contains(got, demoCourseNope) {
		t.Errorf("after creating, the page says %q", got)
	}

	// The retry step of the guide: En espera, «Actualizar»; Procesando, «Actualizar».
	save := func(status, label string) {
		t.Helper()
		if code := browsertest.Open(t, tab, st.Shop.AdminOrdersURL()); code != 200 {
			t.Fatalf("open the shop's orders: HTTP %d", code)
		}
		browsertest.Do(t, tab, "choose "+status, chromedp.SetValue(section+" select[name=order_status]", status))
		button := section + " button[name=save]"
		if got := browsertest.Text(t, tab, button); got != "Actualizar" {
			t.Errorf("the save button says %q, want Actualizar", got)
		}
		if code := browsertest.Click(t, tab, button); code != 200 {
			t.Fatalf("save %s: HTTP %d", status, code)
		}
		if got := browsertest.Text(t, tab, "#message"); got != "Pedido actualizado." {
			t.Errorf("after saving, the notice says %q", got)
		}
		if got := browsertest.Text(t, tab, section+" mark.order-status"); got != label {
			t.Errorf("after saving %s the order shows %q, want %q", status, got, label)
		}
		// As the guide says, wait a few seconds: here, until the shop has delivered the change.
		st.Shop.Wait()
	}
	save("wc-on-hold", "En espera")
	save("wc-processing", "Procesando")

	// The order is enrolled and completed: the screen shows it Completado, with a new note
	// listing the enrollment.
	deadline := time.Now().Add(time.Minute)
	for {
		browsertest.Open(t, tab, st.Shop.AdminOrdersURL())
		status := browsertest.Text(t, tab, section+" mark.order-status")
		now := notes()
		if status == "Completado" && len(now) > len(before) && strings.Contains(now[0], demoCourseNope+" (audit)") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the order shows %q with notes %q a minute after the retry", status, now)
		}
		time.Sleep(500 * time.Millisecond)
	}
	var enrolled bool
	for _, e := range st.LMS.Enrollments() {
		enrolled = enrolled || (e.User == demoUser && e.Course == demoCourseNope && e.IsActive)
	}
	if !enrolled {
		t.Errorf("the LMS has no enrollment of %s in %s", demoUser, demoCourseNope)
	}
	out.waitFor(t, "Order #"+number+" (retried): enrolled and completed.", 30*time.Second)
	browsertest.Shoot(t, tab, 1000, filepath.Join("..", "..", "..", "docs", "shop-orders-es.png"))

	// Stopping leaves nothing in TMPDIR.
	stopped = true
	stop()
	select {
	case <-done:
		if served != nil {
			t.Errorf("the local run stopped with %v", served)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the local run did not stop within 30 s")
	}
	if left := leftIn(t, tmp); len(left) > 0 {
		t.Errorf("left in TMPDIR: %v", left)
	}
}
