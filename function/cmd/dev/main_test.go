package main

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// output collects the lines a process prints and lets a test wait for one.
type output struct {
	mu    sync.Mutex
	buf   strings.Builder
	more  chan struct{} // receives after every line
	close chan struct{} // closed at EOF
}

func readOutput(r io.Reader) *output {
	o := &output{more: make(chan struct{}, 1), close: make(chan struct{})}
	go func() {
		defer close(o.close)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			o.mu.Lock()
			o.buf.WriteString(sc.Text() + "\n")
			o.mu.Unlock()
			select {
			case o.more <- struct{}{}:
			default:
			}
		}
	}()
	return o
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// waitFor waits until the output contains s; it fails the test at EOF or after d.
func (o *output) waitFor(t *testing.T, s string, d time.Duration) {
	t.Helper()
	deadline := time.After(d)
	for !strings.Contains(o.String(), s) {
		select {
		case <-o.more:
		case <-o.close:
			if !strings.Contains(o.String(), s) {
				t.Fatalf("the output ended without %q:\n%s", s, o)
			}
		case <-deadline:
			t.Fatalf("no %q after %v:\n%s", s, d, o)
		}
	}
}

// lockedBuffer is a bytes.Buffer safe for the exec package's copying goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestDemo runs the command as a newcomer would (`go run ./function/cmd/dev -demo`): the three
// sample orders reach their outcomes, the printed confirmation link confirms the bank transfer,
// and Ctrl-C stops everything, emulators included.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the emulators and the whole service")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build the binary")
	}
	if os.Getenv("FIRESTORE_EMULATOR_HOST") == "" || os.Getenv("PUBSUB_EMULATOR_HOST") == "" {
		if _, err := exec.LookPath("gcloud"); err != nil {
			t.Skip("needs the Google Cloud CLI for the emulators")
		}
	}
	bin := filepath.Join(t.TempDir(), "dev")
	if out, err := exec.Command(goBin, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	cmd := exec.Command(bin, "-demo", "-addr", "127.0.0.1:0")
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "WC_URL", "OPENEDX_URL", "SENDGRID_API_KEY", "LOG_LEVEL", "GOOGLE_CLOUD_PROJECT", "CONFIRM_URL", "WEBHOOK_URL":
			continue
		}
		cmd.Env = append(cmd.Env, kv)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	out := readOutput(stdout)
	exited := make(chan error, 1)
	go func() { <-out.close; exited <- cmd.Wait() }()
	stopped := false
	t.Cleanup(func() {
		if stopped {
			return
		}
		// Ctrl-C, so that it stops its emulators; kill only if it hangs.
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("stderr:\n%s", stderr.String())
		}
	})

	out.waitFor(t, "The service keeps running", 3*time.Minute)
	got := out.String()
	for _, want := range []string{
		"Webhook  http://127.0.0.1:",
		"WooCommerce at http://127.0.0.1:",
		"already registered to /Webhook",
		"Ctrl-C to stop.",
		// The card order.
		"Order #1001: card payment (stripe)",
		"  status:      completed\n",
		"  enrollments: ada in course-v1:DemoX+PY101+2026 (verified)",
		"  notes:       Enrolled in Open edX:",
		// The bank transfer.
		"Order #1002: bank transfer (bacs)",
		"  status:      on-hold\n",
		"Order #1002: confirm the bank transfer\" to shop-admin@example.com",
		"  confirm:     http://127.0.0.1:",
		`press "Confirm payment received"`,
		// The unknown course.
		"Order #1003: card payment (stripe), course-v1:DemoX+NOPE+2026",
		"  notes:       Open edX enrollment failed.",
		"- course-v1:DemoX+NOPE+2026",
		"Order #1003: enrollment in 1 course failed",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the output lacks %q", want)
		}
	}
	if n := strings.Count(got, "outcome:     as expected"); n != 3 {
		t.Errorf("%d outcomes as expected, want 3", n)
	}
	if b := block(got, "Order #1002:"); !strings.Contains(b, "enrollments: none") {
		t.Errorf("the bank transfer was enrolled before anyone confirmed it:\n%s", b)
	}
	if t.Failed() {
		t.Fatalf("output:\n%s", got)
	}

	// Open the link as a browser would: GET shows the button, POST confirms.
	link := regexp.MustCompile(`confirm:\s+(\S+)`).FindStringSubmatch(got)[1]
	resp, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), "Confirm payment received") {
		t.Fatalf("GET %s: %s\n%s", link, resp.Status, page)
	}
	u, _ := url.Parse(link)
	token := u.Query().Get("t")
	u.RawQuery = ""
	resp, err = http.PostForm(u.String(), url.Values{"t": {token}})
	if err != nil {
		t.Fatal(err)
	}
	page, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: %s\n%s", u, resp.Status, page)
	}
	out.waitFor(t, "Order #1002 (bank transfer): payment confirmed, enrolled and completed.\n"+
		"  status:      completed\n"+
		"  enrollments: ada in course-v1:DemoX+DATA201+2026 (audit)\n", 30*time.Second)

	// Ctrl-C: exits 0, and the emulators it started are gone.
	emulators := regexp.MustCompile(`Emulators: Firestore (\S+), Pub/Sub (\S+) \(output`).FindStringSubmatch(got)
	stopped = true
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit after Ctrl-C: %v\nstderr:\n%s", err, stderr.String())
		}
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("still running 15 s after Ctrl-C\noutput:\n%s", out)
	}
	if !strings.Contains(out.String(), "Stopping…") {
		t.Errorf("no stopping message:\n%s", out)
	}
	if emulators != nil {
		for _, host := range emulators[1:] {
			if c, err := net.DialTimeout("tcp", host, time.Second); err == nil {
				c.Close()
				t.Errorf("an emulator still listens on %s", host)
			}
			if pids := processesWith(host); len(pids) > 0 {
				t.Errorf("emulator processes left for %s: %v", host, pids)
			}
		}
	}
}

// block returns the part of out from the line starting with head to the next blank line.
func block(out, head string) string {
	i := strings.Index(out, head)
	if i < 0 {
		return ""
	}
	b, _, _ := strings.Cut(out[i:], "\n\n")
	return b
}

// processesWith lists the processes (gcloud, the emulator scripts, Java) started for the
// emulator on host: their command lines hold --host-port=HOST:PORT or --port=PORT. Linux only.
func processesWith(host string) []string {
	_, port, _ := net.SplitHostPort(host)
	files, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	var pids []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, a := range strings.Split(string(b), "\x00") {
			if a == "--host-port="+host || a == "--port="+port {
				pids = append(pids, filepath.Base(filepath.Dir(f)))
				break
			}
		}
	}
	return pids
}
