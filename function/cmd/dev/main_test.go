package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
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
	"syscall"
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

// goBuild builds the package in dir (relative to this one) into a temporary directory.
func goBuild(t *testing.T, dir, name string) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatal("no go command to build the binary")
	}
	bin := filepath.Join(t.TempDir(), name)
	if out, err := exec.Command(goBin, "build", "-o", bin, dir).CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", dir, err, out)
	}
	return bin
}

// devEnv is the environment of a newcomer's shell: this one without the service's settings
// and without the emulators' variables (so the command starts its own emulators), with TMPDIR
// set to tmp, plus extra.
func devEnv(tmp string, extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "WC_URL", "OPENEDX_URL", "SENDGRID_API_KEY", "LOG_LEVEL", "GOOGLE_CLOUD_PROJECT", "CONFIRM_URL", "WEBHOOK_URL",
			"LANGUAGE", "FIRESTORE_EMULATOR_HOST", "PUBSUB_EMULATOR_HOST", "TMPDIR":
			continue
		}
		env = append(env, kv)
	}
	return append(append(env, "TMPDIR="+tmp), extra...)
}

// startDev starts the dev command bin with env and args. It returns the command, its output
// as it comes, its stderr, and a channel that gets the command's exit (cmd.Wait) once its
// output is closed.
func startDev(t *testing.T, bin string, env []string, args ...string) (*exec.Cmd, *output, *lockedBuffer, <-chan error) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	out := readOutput(stdout)
	exited := make(chan error, 1)
	go func() { <-out.close; exited <- cmd.Wait() }()
	return cmd, out, stderr, exited
}

// leftIn lists what is left in dir.
func leftIn(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// A mistyped setting stops the local run at once, before any emulator starts, with the
// message the production server prints for it, word for word, and a non-zero exit (it used
// to panic in local.Start's clean-up, leaving the emulators running).
func TestBadSettingStopsAsProductionDoes(t *testing.T) {
	dev := goBuild(t, ".", "dev")
	server := goBuild(t, "../server", "server")
	// What production needs besides the setting under test; the local run simulates it.
	production := []string{
		"GOOGLE_CLOUD_PROJECT=p", "WC_URL=https://shop.example.com", "WC_CONSUMER_KEY=ck", "WC_CONSUMER_SECRET=cs",
		"WC_WEBHOOK_SECRET=whsec", "OPENEDX_URL=https://lms.example.com", "OPENEDX_CLIENT_ID=id",
		"OPENEDX_CLIENT_SECRET=secret", "SENDGRID_API_KEY=SG.x", "MAIL_FROM=Shop <shop@example.com>",
		"CONFIRM_URL=https://confirm.example.com", "CONFIRM_SIGNING_KEY=" + strings.Repeat("k", 32),
	}
	for _, tc := range []struct {
		name string
		bad  []string // set for both
		want []string // in the message
	}{
		{"language", []string{"LANGUAGE=xx"}, []string{`LANGUAGE: "xx"`}},
		{"ttl", []string{"CONFIRM_LINK_TTL=abc"}, []string{`CONFIRM_LINK_TTL: "abc" is not a positive Go duration`}},
		{"strategy", []string{"OPENEDX_ENROLL_STRATEGY=nope"}, []string{`OPENEDX_ENROLL_STRATEGY: "nope"`}},
		{"several", []string{"LANGUAGE=fr", "LOG_LEVEL=loud", "ENROLL_MAX_ATTEMPTS=2"}, []string{"LANGUAGE:", "LOG_LEVEL:", "ENROLL_MAX_ATTEMPTS:"}},
		// A real shop at a malformed URL: its keys are set too, as whoever sets WC_URL does.
		{"shop url", []string{"WC_URL=shop.example.com", "WC_CONSUMER_KEY=ck", "WC_CONSUMER_SECRET=cs", "WC_WEBHOOK_SECRET=whsec"},
			[]string{`WC_URL: "shop.example.com" is not an http(s) URL`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			srv := exec.CommandContext(ctx, server)
			srv.Env = append(append([]string{"PATH=" + os.Getenv("PATH")}, production...), tc.bad...)
			var srvOut bytes.Buffer
			srv.Stdout, srv.Stderr = &srvOut, &srvOut
			if err := srv.Run(); exitCode(err) != 1 {
				t.Fatalf("the production server exited with %v:\n%s", err, srvOut.String())
			}

			tmp := t.TempDir()
			cmd := exec.CommandContext(ctx, dev, "-addr", "127.0.0.1:0")
			cmd.Env = devEnv(tmp, tc.bad...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			if code := exitCode(err); code != 1 {
				t.Errorf("exit code %d (%v), want 1", code, err)
			}
			if stderr.String() != srvOut.String() {
				t.Errorf("the local run printed\n%s\nthe production server\n%s", stderr.String(), srvOut.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("the message does not say %q:\n%s", w, stderr.String())
				}
			}
			if strings.Contains(stderr.String(), "panic") || strings.Contains(stdout.String(), "Starting the Firestore") {
				t.Errorf("it panicked or started the emulators:\nstdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
			}
			if left := leftIn(t, tmp); len(left) > 0 {
				t.Errorf("left in TMPDIR: %v", left)
			}
		})
	}
}

// exitCode is the process's exit code; -1 when it did not run or was killed.
func exitCode(err error) int {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	}
	return -1
}

// TestDemo runs the command as a newcomer would (`go run ./function/cmd/dev -demo`, nothing
// set up): it starts its own emulators, the three sample orders reach their outcomes, the
// printed confirmation link confirms the bank transfer, and Ctrl-C stops everything, leaving
// no emulator process and nothing in TMPDIR.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the emulators and the whole service")
	}
	if _, err := exec.LookPath("gcloud"); err != nil {
		t.Fatal("needs the Google Cloud CLI for the emulators")
	}
	bin := goBuild(t, ".", "dev")
	tmp := t.TempDir()
	cmd, out, stderr, exited := startDev(t, bin, devEnv(tmp), "-demo", "-addr", "127.0.0.1:0")
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
		"Console  http://127.0.0.1:",
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
		// How to fix and retry it by hand, with the buttons' names.
		"  retry:       the course does not exist in the LMS.",
		"/sandbox/courses?course_id=course-v1%3ADemoX%2BNOPE%2B2026\n",
		`and press "Create course";`,
		`set order #1003 to "On hold" and press "Update"; wait a few seconds;`,
		`3. set it to "Processing" and press "Update".`,
		// Where to find everything.
		"in a browser: it links every function and the simulated systems' pages.",
		"its orders, with their notes and status: http://127.0.0.1:",
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
	if emulators == nil {
		t.Errorf("no emulators started by the command in the output:\n%s", out)
	} else {
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
	if left := leftIn(t, tmp); len(left) > 0 {
		t.Errorf("left in TMPDIR: %v", left)
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

// processesMarked lists the processes whose environment holds mark: the command's and the
// emulators' it started (gcloud and Java inherit its environment). Linux only.
func processesMarked(mark string) []string {
	files, _ := filepath.Glob("/proc/[0-9]*/environ")
	var pids []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, kv := range strings.Split(string(b), "\x00") {
			if kv == mark {
				pids = append(pids, filepath.Base(filepath.Dir(f)))
				break
			}
		}
	}
	return pids
}

// SIGTERM (what a process manager or `kill` sends) stops the local run as Ctrl-C does,
// whether it comes once everything runs or while the emulators are still starting: exit 0,
// no process of its own left (emulators included), nothing left in TMPDIR.
func TestStopsCleanlyOnSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the emulators")
	}
	if _, err := exec.LookPath("gcloud"); err != nil {
		t.Fatal("needs the Google Cloud CLI for the emulators")
	}
	bin := goBuild(t, ".", "dev")
	for _, tc := range []struct {
		name, when string // stop once the output holds when
	}{
		{"running", "Ctrl-C to stop."},
		{"starting", "Starting the Firestore and Pub/Sub emulators"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tmp := t.TempDir()
			mark := "WC_OPENEDX_DEV_TEST=" + filepath.Base(tmp)
			cmd, out, stderr, exited := startDev(t, bin, devEnv(tmp, mark), "-addr", "127.0.0.1:0")
			t.Cleanup(func() {
				_ = cmd.Process.Kill()
				if t.Failed() {
					t.Logf("output:\n%s\nstderr:\n%s", out, stderr.String())
				}
			})
			out.waitFor(t, tc.when, 3*time.Minute)
			if tc.name == "starting" && strings.Contains(out.String(), "Emulators:") {
				t.Log("the emulators were up before the signal; this case ran as the other one")
			}
			// The mark finds the command, and once running its emulators (gcloud, Java).
			want := 1
			if tc.name == "running" {
				want = 3
			}
			if pids := processesMarked(mark); len(pids) < want {
				t.Fatalf("the mark finds %d processes (%v) before the signal, want at least %d", len(pids), pids, want)
			}
			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-exited:
				if err != nil {
					t.Errorf("exit after SIGTERM: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("still running 30 s after SIGTERM")
			}
			if pids := processesMarked(mark); len(pids) > 0 {
				t.Errorf("processes left: %v", pids)
			}
			if left := leftIn(t, tmp); len(left) > 0 {
				t.Errorf("left in TMPDIR: %v", left)
			}
		})
	}
}
