// Command dev is the local run (SPEC §4): the whole service on one machine.
//
//	go run ./function/cmd/dev          # serve the five functions, simulating what is not configured
//	go run ./function/cmd/dev -demo    # also push three sample orders through and show what happened
//
// It starts the Firestore and Pub/Sub emulators when FIRESTORE_EMULATOR_HOST and
// PUBSUB_EMULATOR_HOST are unset (and stops them on exit), stands in simulated WooCommerce,
// Open edX and SendGrid for whichever of WC_URL, OPENEDX_URL and SENDGRID_API_KEY is unset,
// creates the jobs topic and its push subscription to /Enroll, serves /Webhook, /Enroll,
// /Confirm and /Sweep, and calls /Sweep every minute as Cloud Scheduler would. Its index page,
// at /, links them and the simulated systems' pages (the shop's orders, the mailbox, the LMS's
// courses). A setting config.Load refuses stops it before anything starts, with the message
// the production server prints; stopping it (Ctrl-C, SIGTERM) stops the emulators it started
// and removes its temporary files.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aulasneo/wc-openedx/function"
	"github.com/aulasneo/wc-openedx/function/local"
	"github.com/aulasneo/wc-openedx/internal/console"
	"github.com/aulasneo/wc-openedx/internal/emulator"
	"github.com/aulasneo/wc-openedx/internal/sandbox"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// flags are the command line.
type flags struct {
	addr  string
	demo  bool
	sweep time.Duration
	// started, when set, is called with the running stack before the banner (tests).
	started func(*local.Stack)
}

func parseFlags(args []string, stderr io.Writer) (flags, error) {
	var f flags
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: go run ./function/cmd/dev [-demo] [-addr host:port] [-sweep interval]\n\n"+
			"Runs the whole service locally. Firestore and Pub/Sub emulators are started when\n"+
			"FIRESTORE_EMULATOR_HOST / PUBSUB_EMULATOR_HOST are unset; WooCommerce, Open edX and\n"+
			"SendGrid are simulated when WC_URL / OPENEDX_URL / SENDGRID_API_KEY are unset.\n\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&f.addr, "addr", "127.0.0.1:8080", "where the functions listen (host:port; port 0 picks a free one)")
	fs.BoolVar(&f.demo, "demo", false, "push three sample orders (card, bank transfer, unknown course) through the simulated shop and show the outcome")
	fs.DurationVar(&f.sweep, "sweep", time.Minute, "how often to call /Sweep, as Cloud Scheduler would (0 disables)")
	if err := fs.Parse(args); err != nil {
		return f, err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return f, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if f.sweep < 0 {
		return f, errors.New("-sweep must not be negative")
	}
	return f, nil
}

// run is main without os.Exit, so that every deferred clean-up (emulators above all) runs.
func run(args []string, stdout, stderr io.Writer) int {
	f, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "dev:", err)
		return 2
	}
	ctx, stopSignals := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stopSignals()
	err = serve(ctx, f, stdout, stderr)
	var bad badConfig
	switch {
	case errors.As(err, &bad):
		// Word for word what the production server prints (function/cmd/server).
		fmt.Fprintln(stderr, bad.error)
		return 1
	case err != nil:
		fmt.Fprintln(stderr, "dev:", err)
		return 1
	}
	return 0
}

// badConfig is a configuration that config.Load refuses.
type badConfig struct{ error }

func serve(ctx context.Context, f flags, stdout, stderr io.Writer) error {
	env := func(k string) string { return strings.TrimSpace(os.Getenv(k)) }
	if f.demo {
		var real []string
		for _, k := range []string{"WC_URL", "OPENEDX_URL", "SENDGRID_API_KEY"} {
			if env(k) != "" {
				real = append(real, k)
			}
		}
		if len(real) > 0 {
			return fmt.Errorf("-demo needs the simulated shop, LMS and SendGrid (it creates orders, courses and emails in them): "+
				"unset %s, or run without -demo", strings.Join(real, ", "))
		}
	}
	if f.demo && env("GOOGLE_CLOUD_PROJECT") == "" {
		// A project of its own, so that a demo against emulators that outlive it (their
		// variables set) does not meet the orders of an earlier demo: the shop numbers from 1001.
		b := make([]byte, 4)
		_, _ = rand.Read(b)
		os.Setenv("GOOGLE_CLOUD_PROJECT", "local-demo-"+hex.EncodeToString(b))
	}
	// Fail before the emulators' 10 s when a setting is wrong or the address is taken.
	if err := local.CheckConfig(os.LookupEnv); err != nil {
		return badConfig{err}
	}
	l, err := net.Listen("tcp", f.addr)
	if err != nil {
		return fmt.Errorf("cannot listen on %s (%v); pick another address with -addr, e.g. -addr 127.0.0.1:0", f.addr, err)
	}
	l.Close()

	// The app's logs: human-readable, on stderr, at LOG_LEVEL. For -demo without LOG_LEVEL,
	// the console only gets warnings until the summary is printed, and the demo's own logs go
	// to a file (the unknown course's failure is an expected warning): the summary stays
	// readable, and nothing is lost.
	level := new(slog.LevelVar)
	quietDemo := f.demo && env("LOG_LEVEL") == ""
	if quietDemo {
		level.Set(slog.LevelWarn)
	} else if err := level.UnmarshalText([]byte(env("LOG_LEVEL"))); err != nil {
		level.Set(slog.LevelInfo) // config.Load names the bad value
	}
	logw := &switchWriter{w: stderr}
	log := slog.New(slog.NewTextHandler(logw, &slog.HandlerOptions{Level: level}))
	slog.SetDefault(log)

	// The emulators' output and the demo's logs go to files in a directory of this run's own,
	// removed when it stops (after the emulators, which write to it until they are stopped).
	tmp, err := os.MkdirTemp("", "wc-openedx-dev-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	emus, err := startEmulators(ctx, stdout, tmp)
	if err != nil {
		if ctx.Err() != nil {
			fmt.Fprintln(stdout, "Interrupted while the emulators were starting; they are stopped.")
			return nil
		}
		return err
	}
	defer emus.stop(stdout)

	st, err := local.Start(ctx, local.Options{Env: os.LookupEnv, Addr: f.addr, Log: log})
	if err != nil {
		if ctx.Err() != nil {
			fmt.Fprintln(stdout, "Interrupted while starting.")
			return nil
		}
		return fmt.Errorf("start: %w", err)
	}
	defer st.Close()
	st.Handle("GET /{$}", indexHandler(st, f.sweep))
	if f.started != nil {
		f.started(st)
	}
	if !quietDemo {
		level.Set(st.Config.LogLevel)
	}

	printBanner(stdout, st, f, emus)

	if f.sweep > 0 {
		go sweepEvery(ctx, st, f.sweep, log)
	}
	if f.demo {
		var demoLog *os.File
		if quietDemo {
			if demoLog, err = os.Create(filepath.Join(tmp, "demo.log")); err != nil {
				return err
			}
			defer demoLog.Close()
			level.Set(st.Config.LogLevel)
			logw.set(demoLog)
		}
		err := runDemo(ctx, stdout, st, func() {
			if demoLog != nil {
				fmt.Fprintf(stdout, "The service's logs during the demo are in %s (removed when this stops); from now on they go to the console.\n", demoLog.Name())
				logw.set(stderr)
			}
		})
		logw.set(stderr)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}

	<-ctx.Done()
	fmt.Fprintln(stdout, "\nStopping…")
	return nil
}

// switchWriter is the log's destination, which the demo changes.
type switchWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *switchWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func (s *switchWriter) set(w io.Writer) {
	s.mu.Lock()
	s.w = w
	s.mu.Unlock()
}

// emulators are the emulators this run started.
type emulators struct {
	started []string // "Firestore 127.0.0.1:1234"
	logPath string
	logFile *os.File
	stopFn  func()
}

// startEmulators starts the emulators whose variables are unset, with their output in a log
// file in dir.
func startEmulators(ctx context.Context, stdout io.Writer, dir string) (*emulators, error) {
	e := &emulators{stopFn: func() {}}
	var missing []emulator.Kind
	for _, k := range []emulator.Kind{emulator.Firestore, emulator.PubSub} {
		if os.Getenv(k.Env) == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) == 0 {
		return e, nil
	}
	lf, err := os.Create(filepath.Join(dir, "emulators.log"))
	if err != nil {
		return nil, err
	}
	e.logFile, e.logPath = lf, lf.Name()
	fmt.Fprintf(stdout, "Starting the Firestore and Pub/Sub emulators (about 10 s)… their output goes to %s\n", e.logPath)
	stop, err := emulator.Ensure(ctx, lf, missing...)
	if err != nil {
		lf.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		// The log goes with the run's directory: show its end now.
		return nil, fmt.Errorf("%w\n(the emulators come with the Google Cloud CLI: gcloud components install cloud-firestore-emulator pubsub-emulator beta; they need Java)\nThe end of their output:\n%s", err, tail(e.logPath, 20))
	}
	e.stopFn = stop
	for _, k := range missing {
		e.started = append(e.started, emulatorTitle(k)+" "+os.Getenv(k.Env))
	}
	return e, nil
}

// tail returns the last n lines of the file at path, indented.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "  (" + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "  " + strings.Join(lines, "\n  ")
}

func emulatorTitle(k emulator.Kind) string {
	if k.Name == emulator.PubSub.Name {
		return "Pub/Sub"
	}
	return "Firestore"
}

func (e *emulators) stop(stdout io.Writer) {
	if len(e.started) > 0 {
		fmt.Fprintln(stdout, "Stopping the emulators…")
	}
	e.stopFn()
	if e.logFile != nil {
		e.logFile.Close()
	}
}

// sweepEvery calls /Sweep every d, as Cloud Scheduler does in production.
func sweepEvery(ctx context.Context, st *local.Stack, d time.Duration, log *slog.Logger) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			sctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
			_, err := st.Sweep(sctx)
			cancel()
			if err != nil && ctx.Err() == nil {
				log.Error("scheduled sweep failed", "error", err)
			}
		}
	}
}

func printBanner(w io.Writer, st *local.Stack, f flags, emus *emulators) {
	cfg := st.Config
	fn := func(name string) string { return st.URL + "/" + name }
	fmt.Fprintf(w, "\nwc-openedx is running at %s (project %s)\n", st.URL, cfg.Project)
	fmt.Fprintf(w, "Open %s/ in a browser: it links every function and the simulated systems' pages.\n\n", st.URL)
	fmt.Fprintln(w, "Functions:")
	fmt.Fprintf(w, "  Webhook  %s\n", fn(function.NameWebhook))
	fmt.Fprintf(w, "  Enroll   %s  (push subscription of topic %s)\n", fn(function.NameEnroll), cfg.JobsTopic)
	fmt.Fprintf(w, "  Confirm  %s\n", fn(function.NameConfirm))
	if f.sweep > 0 {
		fmt.Fprintf(w, "  Sweep    %s  (called every %s, as Cloud Scheduler would)\n", fn(function.NameSweep), every("en", f.sweep))
	} else {
		fmt.Fprintf(w, "  Sweep    %s  (not called: -sweep 0)\n", fn(function.NameSweep))
	}
	fmt.Fprintf(w, "  Console  %s  (the operators' console; actions are recorded as %q)\n", fn(function.NameConsole), console.LocalOperator)
	if len(emus.started) > 0 {
		fmt.Fprintf(w, "Emulators: %s (output in %s; stopped, and the file removed, when this stops)\n", strings.Join(emus.started, ", "), emus.logPath)
	} else {
		fmt.Fprintf(w, "Emulators: Firestore %s, Pub/Sub %s (from the environment)\n", cfg.FirestoreEmuHost, cfg.PubsubEmuHost)
	}

	fmt.Fprintln(w, "\nSimulated (set the variable in parentheses to use the real system):")
	if st.LMS != nil {
		fmt.Fprintf(w, "  - Open edX at %s  (OPENEDX_URL); its courses and enrollments: %s\n",
			simURL(st.Simulated, "Open edX at "), sandbox.LMSCoursesURL(cfg.OpenEdXURL, ""))
	}
	if st.Mail != nil {
		fmt.Fprintf(w, "  - SendGrid: nothing leaves this machine; read the emails at %s/mailbox/  (SENDGRID_API_KEY)\n", st.URL)
	}
	if st.Shop != nil {
		fmt.Fprintf(w, "  - WooCommerce at %s  (WC_URL); its two webhooks, Order created and Order updated, are already registered to /Webhook;\n"+
			"    its orders, with their notes and status: %s\n", simURL(st.Simulated, "WooCommerce at "), st.Shop.AdminOrdersURL())
	}
	if st.LMS == nil && st.Mail == nil && st.Shop == nil {
		fmt.Fprintln(w, "  nothing")
	}
	var real []string
	if st.Shop == nil {
		real = append(real, "WooCommerce at "+cfg.WCURL)
	}
	if st.LMS == nil {
		real = append(real, "Open edX at "+cfg.OpenEdXURL)
	}
	if st.Mail == nil {
		real = append(real, "SendGrid at "+cfg.SendGridAPIURL)
	}
	if len(real) > 0 {
		fmt.Fprintf(w, "Real: %s\n", strings.Join(real, ", "))
	}

	if st.Shop == nil {
		hook := cfg.WebhookURL
		fmt.Fprintln(w, "\nConnect your shop: in WooCommerce > Settings > Advanced > Webhooks, add two webhooks:")
		fmt.Fprintln(w, `  1. Name "Order created", Status Active, Topic "Order created"`)
		fmt.Fprintln(w, `  2. Name "Order updated", Status Active, Topic "Order updated"`)
		fmt.Fprintf(w, "  both with API version \"WP REST API Integration v3\", Delivery URL %s,\n", hook)
		fmt.Fprintln(w, "  Secret: the value of WC_WEBHOOK_SECRET.")
		if !publicURL(hook) {
			fmt.Fprintln(w, "  WordPress refuses delivery URLs on loopback or private addresses and ports other than")
			fmt.Fprintln(w, "  80, 443 and 8080: expose this server through a public HTTPS tunnel (cloudflared, ngrok…),")
			fmt.Fprintln(w, "  set WEBHOOK_URL and CONFIRM_URL to the tunnel's /Webhook and /Confirm, and restart.")
		}
	} else if !f.demo {
		fmt.Fprintln(w, "\nThe simulated shop and LMS start empty: run with -demo to push sample orders through.")
	}
	fmt.Fprintln(w, "\nCtrl-C to stop.")
}

// simURL finds the URL in the stack's description of a simulated system.
func simURL(simulated []string, prefix string) string {
	for _, s := range simulated {
		if rest, ok := strings.CutPrefix(s, prefix); ok {
			return rest
		}
	}
	return "?"
}

// publicURL reports whether WordPress could deliver to u: a public host on port 80, 443 or 8080.
func publicURL(u string) bool {
	p, err := url.Parse(u)
	if err != nil || p.Hostname() == "" {
		return false
	}
	if port := p.Port(); port != "" && port != "80" && port != "443" && port != "8080" {
		return false
	}
	host := p.Hostname()
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return false
	}
	if ip := net.ParseIP(host); ip != nil {
		return !(ip.IsLoopback() || ip.IsPrivate() || ip.IsUnspecified() || ip.IsLinkLocalUnicast())
	}
	return true
}
