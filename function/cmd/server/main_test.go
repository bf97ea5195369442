package main_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aulasneo/wc-openedx/internal/emulator"
	"github.com/aulasneo/wc-openedx/internal/store"
	"github.com/aulasneo/wc-openedx/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// build compiles the production server once for the tests.
func build(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "server")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func freePort(t *testing.T) string {
	port, err := emulator.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprint(port)
}

// env is a complete configuration; the external systems are never called by these tests.
func env(t *testing.T, port string, extra ...string) []string {
	base := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"FIRESTORE_EMULATOR_HOST=" + os.Getenv("FIRESTORE_EMULATOR_HOST"),
		"PUBSUB_EMULATOR_HOST=" + os.Getenv("PUBSUB_EMULATOR_HOST"),
		"PORT=" + port, "GOOGLE_CLOUD_PROJECT=" + testenv.Project(t),
		"WC_URL=https://shop.example.com", "WC_CONSUMER_KEY=ck", "WC_CONSUMER_SECRET=cs", "WC_WEBHOOK_SECRET=whsec",
		"OPENEDX_URL=https://lms.example.com", "OPENEDX_CLIENT_ID=id", "OPENEDX_CLIENT_SECRET=secret",
		"SENDGRID_API_KEY=SG.x", "MAIL_FROM=Shop <shop@example.com>", "CONFIRM_URL=https://confirm.example.com",
		"CONFIRM_SIGNING_KEY=" + strings.Repeat("k", 32),
	}
	return append(base, extra...)
}

// start runs the server and waits until it answers.
func start(t *testing.T, bin string, environ []string, port string) {
	t.Helper()
	cmd := exec.Command(bin)
	cmd.Env = environ
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.Dial("tcp", "127.0.0.1:"+port)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not listen on %s:\n%s", port, out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func ping(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Post(url, "application/x-www-form-urlencoded", strings.NewReader("webhook_id=7"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestServesEveryFunctionAtItsName(t *testing.T) {
	bin := build(t)
	port := freePort(t)
	start(t, bin, env(t, port), port)
	base := "http://127.0.0.1:" + port
	if code := ping(t, base+"/Webhook"); code != 200 {
		t.Errorf("/Webhook ping answered %d", code)
	}
	for path, want := range map[string]int{"/Confirm": 400, "/Sweep": 405, "/Enroll": 405, "/Console": 200} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s answered %d, want %d", path, resp.StatusCode, want)
		}
	}
}

func TestFunctionTargetServesOneFunctionAtRoot(t *testing.T) {
	bin := build(t)
	for _, target := range []string{"Webhook", "Confirm"} {
		t.Run(target, func(t *testing.T) {
			port := freePort(t)
			start(t, bin, env(t, port, "FUNCTION_TARGET="+target), port)
			code := ping(t, "http://127.0.0.1:"+port+"/")
			if target == "Webhook" && code != 200 {
				t.Errorf("Webhook at / answered the ping %d", code)
			}
			if target == "Confirm" && code != 400 { // the Confirm page: a POST without a token
				t.Errorf("Confirm at / answered %d", code)
			}
		})
	}
}

func TestMisconfigurationStopsWithEveryProblem(t *testing.T) {
	bin := build(t)
	port := freePort(t)
	var environ []string
	for _, kv := range env(t, port, "LANGUAGE=fr") {
		if !strings.HasPrefix(kv, "WC_URL=") && !strings.HasPrefix(kv, "CONFIRM_SIGNING_KEY=") {
			environ = append(environ, kv)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin)
	cmd.Env = environ
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("the server started without WC_URL:\n%s", out)
	}
	for _, want := range []string{"WC_URL: required", "CONFIRM_SIGNING_KEY: required", "LANGUAGE:"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output does not name %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "whsec") || strings.Contains(string(out), "SG.x") {
		t.Errorf("a secret was printed:\n%s", out)
	}
}

// A Webhook process started with only its own variables (SPEC §2.6: no REST keys, no LMS,
// no SendGrid, no signing key) records a signed delivery and answers 200.
func TestWebhookRunsWithOnlyItsVariables(t *testing.T) {
	bin := build(t)
	port := freePort(t)
	project := testenv.Project(t)
	environ := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"FIRESTORE_EMULATOR_HOST=" + os.Getenv("FIRESTORE_EMULATOR_HOST"),
		"PUBSUB_EMULATOR_HOST=" + os.Getenv("PUBSUB_EMULATOR_HOST"),
		"PORT=" + port, "GOOGLE_CLOUD_PROJECT=" + project,
		"FUNCTION_TARGET=Webhook", "WC_URL=https://shop.example.com", "WC_WEBHOOK_SECRET=whsec",
	}
	start(t, bin, environ, port)
	body := []byte(`{"id":727,"status":"pending","date_modified_gmt":"2024-11-05T14:32:14","line_items":[]}`)
	mac := hmac.New(sha256.New, []byte("whsec"))
	mac.Write(body)
	req, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1:"+port+"/", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-WC-Webhook-Topic", "order.created")
	req.Header.Set("X-WC-Webhook-Source", "https://shop.example.com/")
	req.Header.Set("X-WC-Webhook-Signature", base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(answer), `"outcome"`) {
		t.Errorf("signed delivery answered %d %s", resp.StatusCode, answer)
	}
	// A delivery of a webhook set to a legacy API version: 200, and the notice the sweep
	// emails is recorded by this process, which holds no SendGrid key.
	legacy := []byte(`{"order":{"id":728,"status":"processing"}}`)
	mac = hmac.New(sha256.New, []byte("whsec"))
	mac.Write(legacy)
	req, _ = http.NewRequest(http.MethodPost, "http://127.0.0.1:"+port+"/", bytes.NewReader(legacy))
	req.Header.Set("X-WC-Webhook-Topic", "order.updated")
	req.Header.Set("X-WC-Webhook-ID", "12")
	req.Header.Set("X-WC-Webhook-Source", "https://shop.example.com/")
	req.Header.Set("X-WC-Webhook-Signature", base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("legacy delivery answered %d", resp.StatusCode)
	}
	st, err := store.New(context.Background(), project, "(default)")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sw, err := st.LoadSweep(context.Background())
	if err != nil || len(sw.Notices) != 1 || sw.Notices[0].Ref != "12" {
		t.Errorf("notices recorded by the Webhook process: %+v (%v); want the legacy webhook #12", sw.Notices, err)
	}

	// The Webhook process serves nothing else.
	resp, err = http.Post("http://127.0.0.1:"+port+"/Enroll", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusNoContent {
		t.Errorf("the Webhook process ran a job at /Enroll")
	}
}

// On Cloud Run (K_SERVICE set) a process serving Enroll or Sweep without the push check's
// variables refuses to start, naming them (SPEC §2.6, fail closed).
func TestPrivateFunctionFailsClosedOnCloudRun(t *testing.T) {
	bin := build(t)
	for _, target := range []string{"Enroll", "Sweep"} {
		t.Run(target, func(t *testing.T) {
			port := freePort(t)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin)
			cmd.Env = env(t, port, "FUNCTION_TARGET="+target, "K_SERVICE="+strings.ToLower(target))
			out, err := cmd.CombinedOutput()
			if err == nil || ctx.Err() != nil {
				t.Fatalf("%s started on Cloud Run without PUSH_AUDIENCE (err %v):\n%s", target, err, out)
			}
			for _, want := range []string{"PUSH_AUDIENCE: required on Cloud Run", "PUSH_SERVICE_ACCOUNT: required on Cloud Run"} {
				if !strings.Contains(string(out), want) {
					t.Errorf("output does not say %q:\n%s", want, out)
				}
			}
		})
	}
}

// consoleToken is an operator's ID token as Cloud Run passes it to the container: checked,
// its signature removed.
func consoleToken(email string) string {
	enc := base64.RawURLEncoding.EncodeToString
	claims := fmt.Sprintf(`{"iss":"https://accounts.google.com","aud":"32555940559.apps.googleusercontent.com","email":%q,"email_verified":true,"exp":%d}`, email, time.Now().Add(time.Hour).Unix())
	return enc([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." + enc([]byte(claims)) + ".SIGNATURE_REMOVED_BY_GOOGLE"
}

// The Console starts on Cloud Run with only its variables (no secret, no push check), and
// there refuses whoever Cloud Run did not verify (issue 14: fail closed).
func TestConsoleOnCloudRun(t *testing.T) {
	bin := build(t)
	port := freePort(t)
	environ := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"FIRESTORE_EMULATOR_HOST=" + os.Getenv("FIRESTORE_EMULATOR_HOST"),
		"PUBSUB_EMULATOR_HOST=" + os.Getenv("PUBSUB_EMULATOR_HOST"),
		"PORT=" + port, "GOOGLE_CLOUD_PROJECT=" + testenv.Project(t),
		"FUNCTION_TARGET=Console", "K_SERVICE=console", "WC_URL=https://shop.example.com", "LANGUAGE=es",
	}
	start(t, bin, environ, port)
	get := func(hdr ...string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:"+port+"/?p=health", nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get(); code != http.StatusForbidden || !strings.Contains(body, `<main id="forbidden">`) {
		t.Errorf("without an identity: HTTP %d, want 403\n%s", code, body)
	}
	if code, _ := get("X-Console-Operator", "someone@example.com"); code != http.StatusForbidden {
		t.Errorf("with the local operator header on Cloud Run: HTTP %d, want 403", code)
	}
	code, body := get("X-Serverless-Authorization", "Bearer "+consoleToken("ops@example.com"))
	if code != http.StatusOK || !strings.Contains(body, `<main id="health">`) || !strings.Contains(body, "Usted opera como ops@example.com") {
		t.Errorf("with Cloud Run's identity: HTTP %d\n%s", code, body)
	}
	resp, err := http.PostForm("http://127.0.0.1:"+port+"/", url.Values{"action": {"retry"}, "id": {"1"}, "key": {"console-00000000000000000000000000000000"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("an action without an identity: HTTP %d, want 403", resp.StatusCode)
	}
}
