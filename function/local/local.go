// Package local runs the whole service on one machine: the five functions on one HTTP
// server, the jobs topic and push subscriptions in the Pub/Sub emulator, Firestore in its
// emulator, and simulated WooCommerce, Open edX and SendGrid (internal/sandbox) for whichever
// of WC_URL, OPENEDX_URL and SENDGRID_API_KEY is not configured. function/cmd/dev and the
// end-to-end tests use it. The emulator variables must be set (see internal/emulator).
package local

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/aulasneo/wc-openedx/function"
	"github.com/aulasneo/wc-openedx/internal/config"
	"github.com/aulasneo/wc-openedx/internal/jobs"
	"github.com/aulasneo/wc-openedx/internal/sandbox"
)

// Credentials of the simulated systems.
const (
	SimClientID       = "local-lms-client"
	SimClientSecret   = "local-lms-secret"
	SimConsumerKey    = "ck_local"
	SimConsumerSecret = "cs_local"
	SimWebhookSecret  = "local-webhook-secret"
	SimSendGridKey    = "SG.local-key"
)

// Options configure a Stack.
type Options struct {
	// Env is the configuration source (os.LookupEnv for cmd/dev, a map for tests).
	Env func(string) (string, bool)
	// Addr is where the functions listen; 127.0.0.1:0 when empty.
	Addr string
	Log  *slog.Logger
	// Lease and PubSubHost are passed to the App (tests: short leases, a fault proxy).
	Lease      time.Duration
	PubSubHost string
	// PublishTimeout and OutboxGrace are passed to the App (tests of a Pub/Sub outage).
	PublishTimeout, OutboxGrace time.Duration
	// LMSTimeout is passed to the App (tests of a hanging LMS shorten it).
	LMSTimeout time.Duration
	// NoWebhooks leaves the simulated shop without webhooks (tests that deliver by hand).
	NoWebhooks bool
	// ShopTLS serves the simulated shop over https, with a certificate only the service's
	// shop client trusts: WooCommerce then takes HTTP Basic auth and query-string keys
	// (is_ssl), where over http it takes OAuth 1.0a only.
	ShopTLS bool
}

// Stack is a running local service.
type Stack struct {
	URL    string // base URL of the functions: URL+"/Webhook", …
	Config *config.Config
	App    *function.App
	LMS    *sandbox.LMS      // nil when OPENEDX_URL is configured
	Shop   *sandbox.Shop     // nil when WC_URL is configured
	Mail   *sandbox.SendGrid // nil when SENDGRID_API_KEY is configured
	// Simulated names the systems that are simulated, for the start-up message.
	Simulated []string

	mux     *http.ServeMux
	servers []*http.Server
	closers []func()
}

// Start brings the stack up.
func Start(ctx context.Context, opt Options) (*Stack, error) {
	if opt.Env == nil {
		opt.Env = func(string) (string, bool) { return "", false }
	}
	if opt.Addr == "" {
		opt.Addr = "127.0.0.1:0"
	}
	st := &Stack{}
	ok := false
	defer func() {
		if !ok {
			st.Close()
		}
	}()
	l, err := net.Listen("tcp", opt.Addr)
	if err != nil {
		return nil, err
	}
	st.URL = "http://" + l.Addr().String()
	mux := http.NewServeMux()
	st.mux = mux
	st.serve(l, mux)

	var shopClient *http.Client // nil: the default client
	env := func(k string) string { v, _ := opt.Env(k); return strings.TrimSpace(v) }
	var sim simulated
	if env("OPENEDX_URL") == "" {
		st.LMS = sandbox.NewLMS()
		st.LMS.AddClient(SimClientID, SimClientSecret, true)
		if sim.lms, err = st.listen(st.LMS); err != nil {
			return nil, err
		}
		st.Simulated = append(st.Simulated, "Open edX at "+sim.lms)
	}
	if env("SENDGRID_API_KEY") == "" {
		st.Mail = sandbox.NewSendGrid(SimSendGridKey)
		if sim.mail, err = st.listen(st.Mail); err != nil {
			return nil, err
		}
		mux.Handle("/mailbox/", http.StripPrefix("/mailbox", st.Mail.MailboxHandler()))
		st.Simulated = append(st.Simulated, "SendGrid (emails at "+st.URL+"/mailbox/)")
	}
	if env("WC_URL") == "" {
		st.Shop = sandbox.NewShop(sandbox.ShopConfig{
			ConsumerKey: SimConsumerKey, ConsumerSecret: SimConsumerSecret,
			WebhookSecret: SimWebhookSecret, Recipients: "shop-admin@example.com",
		})
		if opt.ShopTLS {
			srv := httptest.NewUnstartedServer(st.Shop)
			srv.StartTLS()
			st.closers = append(st.closers, srv.Close)
			sim.shop, shopClient = srv.URL, srv.Client()
		} else if sim.shop, err = st.listen(st.Shop); err != nil {
			return nil, err
		}
		st.Shop.SetHomeURL(sim.shop)
		st.Simulated = append(st.Simulated, "WooCommerce at "+sim.shop)
	}
	set := settings(env, st.URL, sim)

	cfg, err := config.Load(overlay(set, opt.Env))
	if err != nil {
		return nil, err
	}
	st.Config = cfg
	appOpt := function.Options{Log: opt.Log, Lease: opt.Lease, PublishTimeout: opt.PublishTimeout, OutboxGrace: opt.OutboxGrace, LMSTimeout: opt.LMSTimeout, ShopHTTPClient: shopClient}
	if opt.PubSubHost != "" {
		appOpt.PubSubOptions = jobs.EmulatorAt(opt.PubSubHost)
	}
	app, err := function.New(ctx, cfg, appOpt)
	if err != nil {
		return nil, err
	}
	st.App = app
	admin, err := jobs.NewPublisher(ctx, cfg.Project, cfg.JobsTopic)
	if err != nil {
		return nil, err
	}
	defer admin.Close()
	if err := jobs.Setup(ctx, admin.Client(), cfg.Project, cfg.JobsTopic, st.URL+"/"+function.NameEnroll, cfg.EnrollMaxAttempts); err != nil {
		return nil, err
	}
	mux.Handle("/", app.Routes())

	// The simulated shop's and LMS's pages speak the service's language, as a shop whose
	// people read Spanish runs WordPress and Open edX in Spanish.
	if st.Shop != nil {
		st.Shop.SetLanguage(string(cfg.Language))
	}
	if st.LMS != nil {
		st.LMS.SetLanguage(string(cfg.Language))
	}
	if st.Shop != nil && !opt.NoWebhooks {
		for _, t := range []struct{ name, topic string }{{"Order created", "order.created"}, {"Order updated", "order.updated"}} {
			st.Shop.AddWebhook(t.name, t.topic, st.URL+"/"+function.NameWebhook)
		}
	}
	ok = true
	return st, nil
}

// simulated holds the URLs of the simulated systems; "" where the real one is configured.
type simulated struct{ lms, mail, shop string }

// settings are the variables a local run sets on top of the environment: defaults for what
// a newcomer has not configured, and the address and credentials of each simulated system.
func settings(env func(string) string, self string, sim simulated) map[string]string {
	set := map[string]string{}
	def := func(k, v string) {
		if env(k) == "" {
			set[k] = v
		}
	}
	def("GOOGLE_CLOUD_PROJECT", "local-dev")
	def("CONFIRM_URL", self+"/"+function.NameConfirm)
	def("WEBHOOK_URL", self+"/"+function.NameWebhook)
	def("CONFIRM_SIGNING_KEY", randomKey())
	def("MAIL_FROM", "Local Shop <shop@example.com>")
	def("NOTIFY_EMAILS", "admin@example.com")
	if sim.lms != "" {
		set["OPENEDX_URL"], set["OPENEDX_CLIENT_ID"], set["OPENEDX_CLIENT_SECRET"] = sim.lms, SimClientID, SimClientSecret
	}
	if sim.mail != "" {
		set["SENDGRID_API_KEY"], set["SENDGRID_API_URL"] = SimSendGridKey, sim.mail
	}
	if sim.shop != "" {
		set["WC_URL"], set["WC_CONSUMER_KEY"], set["WC_CONSUMER_SECRET"], set["WC_WEBHOOK_SECRET"] = sim.shop, SimConsumerKey, SimConsumerSecret, SimWebhookSecret
	}
	return set
}

// CheckConfig loads and checks the configuration as Start would, with the local defaults and
// the simulated systems in place, and starts nothing. Its error is config.Load's, the
// message the production server prints for the same settings; function/cmd/dev calls it
// before it starts the emulators, so a mistyped setting stops it at once.
func CheckConfig(lookup func(string) (string, bool)) error {
	env := func(k string) string { v, _ := lookup(k); return strings.TrimSpace(v) }
	const placeholder = "http://127.0.0.1:1" // where a simulated system will listen
	var sim simulated
	if env("OPENEDX_URL") == "" {
		sim.lms = placeholder
	}
	if env("SENDGRID_API_KEY") == "" {
		sim.mail = placeholder
	}
	if env("WC_URL") == "" {
		sim.shop = placeholder
	}
	_, err := config.Load(overlay(settings(env, placeholder, sim), lookup))
	return err
}

// overlay looks a variable up in set first, then with lookup.
func overlay(set map[string]string, lookup func(string) (string, bool)) func(string) (string, bool) {
	return func(k string) (string, bool) {
		if v, ok := set[k]; ok {
			return v, true
		}
		return lookup(k)
	}
}

// Handle adds a route to the functions' server (function/cmd/dev adds its index page).
func (st *Stack) Handle(pattern string, h http.Handler) { st.mux.Handle(pattern, h) }

func (st *Stack) listen(h http.Handler) (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	st.serve(l, h)
	return "http://" + l.Addr().String(), nil
}

func (st *Stack) serve(l net.Listener, h http.Handler) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	st.servers = append(st.servers, srv)
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			slog.Error("local server stopped", "addr", l.Addr(), "error", err)
		}
	}()
}

// Close stops the servers and the App.
func (st *Stack) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, s := range st.servers {
		_ = s.Shutdown(ctx)
	}
	for _, c := range st.closers {
		c()
	}
	if st.App != nil {
		_ = st.App.Close()
	}
}

// Sweep calls the Sweep function as Cloud Scheduler does.
func (st *Stack) Sweep(ctx context.Context) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, st.URL+"/"+function.NameSweep, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, fmt.Errorf("sweep answered %s", resp.Status)
	}
	return resp.StatusCode, nil
}

func randomKey() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
