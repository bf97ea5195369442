package local_test

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aulasneo/wc-openedx/internal/enrollment"
)

// TestBrowserRetryLink drives the Retry button of a failure email (SPEC §2.5b) in Chromium,
// in Spanish: the email, the page that lists the failed line (opening it changes nothing),
// the retry once the course exists, and the link used again. With UPDATE_SCREENSHOTS=1 it
// writes docs/email-failure-es.png, docs/retry-page-es.png, docs/retried-es.png and
// docs/already-retried-es.png.
func TestBrowserRetryLink(t *testing.T) {
	update := os.Getenv("UPDATE_SCREENSHOTS") != ""
	start := time.Now()
	browser := brNewBrowser(t)
	t.Cleanup(func() { t.Logf("browser test took %v", time.Since(start).Round(time.Millisecond)) })
	const (
		lang    = "es"
		missing = "course-v1:ExampleX+ML401+2026_T1"
		button  = "Reintentar los cursos que fallaron"
	)
	st := newStack(t, withEnv("LANGUAGE", lang), withEnv("CONFIRM_SIGNING_KEY", "screenshot-signing-key-0123456789abcdef"))
	spec := cardOrder(course("Intro to Python", coursePy), course("Machine Learning avanzado", missing))
	spec.Lines[1].ProductID, spec.Lines[1].Total = 94, "249.00"
	id := st.Shop.CreateOrder(spec)
	o, _ := st.Shop.Order(id)
	msg := failureEmail(t, st, o.Number)
	link := brButtonLink(t, st, msg, button)

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
	if code := brOpen(t, mailTab, st.URL+"/mailbox/?"+url.Values{"id": {msg.ID}, "part": {"html"}}.Encode()); code != http.StatusOK {
		t.Fatalf("open the email: HTTP %d", code)
	}
	shoot(mailTab, "email-failure", brEmailWidth)

	// The admin opens the link: the failed line and its reason; nothing changes.
	orderSettled(t, st, id)
	calls := len(st.LMS.Log.Calls("enroll"))
	tab := brNewTab(t, browser, brPageWidth)
	if code := brOpen(t, tab, link); code != http.StatusOK {
		t.Fatalf("GET link: HTTP %d, want 200", code)
	}
	brExpectPage(t, tab, "retry-summary", "Reintentar las inscripciones que fallaron")
	if got, want := brText(t, tab, "#order-number"), "Pedido #"+o.Number; got != want {
		t.Errorf("#order-number %q, want %q", got, want)
	}
	failed := brText(t, tab, "#failed-lines")
	if !strings.Contains(failed, "Machine Learning avanzado") || !strings.Contains(failed, missing) || strings.Contains(failed, "Intro to Python") {
		t.Errorf("#failed-lines says %q; want the failed line only", failed)
	}
	if got := brText(t, tab, "button#retry"); got != button {
		t.Errorf("button#retry says %q, want %q", got, button)
	}
	if brHas(t, tab, "button#confirm") {
		t.Error("the Retry page has a Confirm button")
	}
	shoot(tab, "retry-page", brPageWidth)
	time.Sleep(300 * time.Millisecond)
	if rec := record(t, st, id); len(rec.Actions) != 0 || len(st.LMS.Log.Calls("enroll")) != calls {
		t.Fatalf("opening the link changed something: actions %+v", rec.Actions)
	}

	// The operator creates the course; the admin presses the button.
	st.LMS.AddCourse(missing, "audit")
	if code := brSubmit(t, tab, "button#retry"); code != http.StatusOK {
		t.Fatalf("POST retry: HTTP %d, want 200", code)
	}
	brExpectPage(t, tab, "retry-queued", "Reintento en curso")
	if !brHas(t, tab, "#retried-by") || brHas(t, tab, "button#retry") {
		t.Error("the queued page does not say when and from where, or still has the button")
	}
	shoot(tab, "retried", brPageWidth)
	waitFor(t, "order completed", 30*time.Second, func() bool { return status(st, id) == "completed" })
	if s := st.LMS.Stats(); s.Created != 2 {
		t.Errorf("LMS stats %+v, want the two courses enrolled once each", s)
	}
	rec := record(t, st, id)
	if len(rec.Actions) != 1 || rec.Actions[0].By.Via != enrollment.ViaRetryLink ||
		!strings.Contains(rec.Actions[0].By.UserAgent, "Chrome") || rec.Actions[0].By.IP != "127.0.0.1" {
		t.Errorf("retry recorded as %+v, want one by the browser from 127.0.0.1", rec.Actions)
	}

	// The link again: already retried, no button.
	if code := brOpen(t, tab, link); code != http.StatusOK {
		t.Fatalf("GET link again: HTTP %d", code)
	}
	brExpectPage(t, tab, "already-retried", "Ya se reintentó")
	if brHas(t, tab, "button#retry") {
		t.Error("the already-retried page has a Retry button")
	}
	shoot(tab, "already-retried", brPageWidth)
	time.Sleep(time.Second)
	if s := st.LMS.Stats(); s.Created != 2 || len(record(t, st, id).Actions) != 1 {
		t.Errorf("after the link again: LMS %+v", s)
	}
	if c := strings.Count(notes(st, id), "El cliente quedó inscrito en Open edX"); c != 1 {
		t.Errorf("%d enrolled notes, want 1", c)
	}
}
