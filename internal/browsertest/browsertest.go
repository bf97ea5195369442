// Package browsertest drives Debian's Chromium from tests with chromedp: one headless browser
// per test, tabs of a given width, steps bounded by a timeout, whole-page screenshots that
// are checked to be rendered. A missing browser fails the test rather than skipping it (CI
// installs Chromium). Written after the helpers of function/local/browser_test.go.
package browsertest

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// ChromiumPath is where Debian's chromium package puts the browser.
const ChromiumPath = "/usr/bin/chromium"

// Timeout bounds every browser step.
const Timeout = 30 * time.Second

// UpdateScreenshots reports whether screenshots are to be written to docs/
// (UPDATE_SCREENSHOTS=1, as function/local's screenshot test).
func UpdateScreenshots() bool { return os.Getenv("UPDATE_SCREENSHOTS") != "" }

// NewBrowser starts one headless Chromium for the test, with a fresh profile, and returns a
// context whose children (NewTab) are tabs of that browser. It stops at cleanup.
func NewBrowser(t testing.TB) context.Context {
	t.Helper()
	if _, err := os.Stat(ChromiumPath); err != nil {
		t.Fatalf("browser tests need Chromium at %s (install it with `apt-get install -y chromium`, or run .ci/run): %v", ChromiumPath, err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(ChromiumPath),
		chromedp.NoSandbox,
		chromedp.Flag("disable-background-networking", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1000, 800),
	)
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(func() { bcancel(); acancel() })
	// The first Run starts the browser, which lives as long as the context of that call: it
	// gets no timeout of its own, so bound it from outside.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(bctx) }()
	select {
	case err := <-started:
		if err != nil {
			t.Fatalf("start Chromium (%s): %v", ChromiumPath, err)
		}
	case <-time.After(Timeout):
		t.Fatalf("Chromium (%s) did not start within %v", ChromiumPath, Timeout)
	}
	return bctx
}

// NewTab opens a tab of the browser with a viewport width wide; it closes at cleanup.
func NewTab(t testing.TB, browser context.Context, width int64) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(width, 800)); err != nil {
		t.Fatalf("browser: open a tab: %v", err)
	}
	return ctx
}

// Run runs one browser step with the step timeout and fails the test on error.
func Run[T any](t testing.TB, tab context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, Timeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("browser: %s: %v", what, err)
	}
	return v
}

// Do runs browser steps that return nothing.
func Do(t testing.TB, tab context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	Run(t, tab, what, chromedp.Steps(steps...))
}

// Open navigates the tab to u and returns the HTTP status of the document.
func Open(t testing.TB, tab context.Context, u string) int {
	t.Helper()
	resp := Run(t, tab, "open "+u, chromedp.NavigateResponse(u))
	return int(resp.Status)
}

// Click clicks the element sel (a link or a form's button), waits for the page it leads to,
// and returns the HTTP status of that page (after redirects).
func Click(t testing.TB, tab context.Context, sel string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, Timeout)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(sel, chromedp.NodeVisible))
	if err != nil {
		t.Fatalf("browser: click %s: %v", sel, err)
	}
	return int(resp.Status)
}

// Text returns the visible text of the element sel, waiting for it to be visible.
func Text(t testing.TB, tab context.Context, sel string) string {
	t.Helper()
	return strings.TrimSpace(Run(t, tab, "read "+sel, chromedp.Text(sel, chromedp.NodeVisible)))
}

// Eval evaluates a JavaScript expression in the page.
func Eval[T any](t testing.TB, tab context.Context, expr string) T {
	t.Helper()
	return Run(t, tab, "evaluate "+expr, chromedp.Evaluate[T](expr))
}

// Has tells whether the page has an element matching sel now.
func Has(t testing.TB, tab context.Context, sel string) bool {
	t.Helper()
	return Eval[bool](t, tab, fmt.Sprintf(`document.querySelector(%q) !== null`, sel))
}

// Shoot captures the whole page at the given CSS width, checks the image, and with
// UPDATE_SCREENSHOTS set writes it to path.
func Shoot(t testing.TB, tab context.Context, width int64, path string) {
	t.Helper()
	b := Screenshot(t, tab, width)
	if !UpdateScreenshots() {
		return
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s (%d bytes)", filepath.Clean(path), len(b))
}

// Screenshot captures the whole page at the given CSS width as a PNG and checks that it is a
// rendered page of that size.
func Screenshot(t testing.TB, tab context.Context, width int64) []byte {
	t.Helper()
	// Measure in a short viewport, so the height is the content's, not the window's.
	Do(t, tab, "shrink the viewport", chromedp.EmulateViewport(width, 100))
	height := Eval[int64](t, tab,
		`Math.ceil(Math.max(document.documentElement.scrollHeight, document.body ? document.body.scrollHeight : 0))`)
	if height < 100 || height > 10000 {
		t.Fatalf("page height %d px: the page did not render", height)
	}
	Do(t, tab, "size the viewport", chromedp.EmulateViewport(width, height))
	b := Run(t, tab, "screenshot", chromedp.CaptureScreenshot())
	Do(t, tab, "restore the viewport", chromedp.EmulateViewport(width, 800))
	if !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("screenshot is not a PNG (%d bytes)", len(b))
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if got := img.Bounds().Size(); int64(got.X) != width || int64(got.Y) != height {
		t.Errorf("screenshot is %dx%d, want %dx%d", got.X, got.Y, width, height)
	}
	// A blank capture has one colour; a rendered page has text.
	first := img.At(0, 0)
	for y := img.Bounds().Min.Y; y < img.Bounds().Max.Y; y += 3 {
		for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x += 3 {
			if img.At(x, y) != first {
				return b
			}
		}
	}
	t.Fatal("the screenshot is blank")
	return nil
}
