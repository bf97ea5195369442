package function

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	netmail "net/mail"
	"net/url"
	"os"
	"time"

	"google.golang.org/api/idtoken"
	"google.golang.org/api/option"

	"github.com/aulasneo/wc-openedx/internal/config"
	"github.com/aulasneo/wc-openedx/internal/confirm"
	"github.com/aulasneo/wc-openedx/internal/console"
	"github.com/aulasneo/wc-openedx/internal/enrollment"
	"github.com/aulasneo/wc-openedx/internal/jobs"
	"github.com/aulasneo/wc-openedx/internal/mail"
	"github.com/aulasneo/wc-openedx/internal/openedx"
	"github.com/aulasneo/wc-openedx/internal/store"
	"github.com/aulasneo/wc-openedx/internal/woocommerce"
)

// Function names, as registered with the Functions Framework and as FUNCTION_TARGET values.
const (
	NameWebhook = config.Webhook
	NameEnroll  = config.Enroll
	NameConfirm = config.Confirm
	NameSweep   = config.Sweep
	NameConsole = config.Console
)

// jobTimeout bounds one job; it stays below the production ack deadline (300 s). A job may
// outlast a claim's lease (enrollment.DefaultLease): each claim covers one piece of work,
// bounded on its own, and a job waiting for another worker's claim stops in time.
const jobTimeout = 240 * time.Second

// App is the service wired from its configuration: the five functions and what they share.
type App struct {
	Config    *config.Config
	Log       *slog.Logger
	Store     *store.Store
	Publisher *jobs.Publisher
	Service   *enrollment.Service
	Shop      *woocommerce.Client
	Signer    *confirm.Signer

	verifier *woocommerce.Verifier
	auth     *pushAuth
	confirm  http.Handler
	console  http.Handler
}

// Options change how New wires the App; tests use them.
type Options struct {
	Log *slog.Logger
	// IDTokenOptions configure the OIDC validator (tests point it at a local key set).
	IDTokenOptions []idtoken.ClientOption
	// Lease overrides the claim lease (tests that kill workers shorten it).
	Lease time.Duration
	Now   func() time.Time
	// PublishTimeout and OutboxGrace override the service's (tests of a Pub/Sub outage).
	PublishTimeout, OutboxGrace time.Duration
	// PubSubOptions reach Pub/Sub some other way (tests put a fault proxy in between).
	PubSubOptions []option.ClientOption
	// LMSTimeout overrides the LMS client's per-request timeout (openedx.DefaultTimeout when
	// 0); tests of a hanging LMS shorten it.
	LMSTimeout time.Duration
	// ShopHTTPClient reaches the shop's REST API (tests: one that trusts a test shop's TLS
	// certificate); http.DefaultClient when nil.
	ShopHTTPClient *http.Client
}

// New connects to Firestore and Pub/Sub and builds the App: every function when
// cfg.Target is empty, otherwise only what that function needs (SPEC §2.6), so a process
// serving one function holds no client, and no credential, of the others.
func New(ctx context.Context, cfg *config.Config, opt Options) (*App, error) {
	log := opt.Log
	if log == nil {
		log = NewLogger(os.Stdout, cfg.LogLevel, cfg.Project)
	}
	a := &App{Config: cfg, Log: log}
	var err error
	if cfg.Serves(NameWebhook) {
		if a.verifier, err = woocommerce.NewVerifier(cfg.WCWebhookSecret, cfg.WCURL); err != nil {
			return nil, err
		}
	}
	if cfg.Serves(NameEnroll) || cfg.Serves(NameSweep) {
		if a.auth, err = newPushAuth(ctx, cfg.PushAudience, cfg.PushServiceAccount, opt.IDTokenOptions...); err != nil {
			return nil, err
		}
	}
	if a.Store, err = store.New(ctx, cfg.Project, cfg.FirestoreDB); err != nil {
		return nil, err
	}
	if a.Publisher, err = jobs.NewPublisher(ctx, cfg.Project, cfg.JobsTopic, opt.PubSubOptions...); err != nil {
		a.Store.Close()
		return nil, err
	}
	now := opt.Now
	if now == nil {
		now = time.Now
	}
	svc := &enrollment.Service{
		// SweepStore too: the Webhook records the notices the sweep emails (legacy webhooks).
		Store: a.Store, Publisher: a.Publisher, SweepStore: a.Store,
		Settings: enrollment.Settings{
			DefaultMode:    cfg.OpenEdXDefaultMode,
			ConfirmMethods: cfg.ConfirmPaymentMethods,
			CompleteMixed:  cfg.WCCompleteMixedOrders,
			NotifyEmails:   cfg.NotifyEmails,
			MaxAttempts:    cfg.EnrollMaxAttempts,
			Lease:          opt.Lease,
			PublishTimeout: opt.PublishTimeout,
			OutboxGrace:    opt.OutboxGrace,
			UnenrollOn:     cfg.UnenrollOn,
			Language:       cfg.Language,
			SupportContact: cfg.SupportContact,
		},
		Now: now,
		Log: log,
	}
	a.Service = svc
	if cfg.Serves(NameEnroll) || cfg.Serves(NameSweep) {
		a.Shop = woocommerce.New(woocommerce.Config{BaseURL: cfg.WCURL, ConsumerKey: cfg.WCConsumerKey, ConsumerSecret: cfg.WCConsumerSecret, HTTPClient: opt.ShopHTTPClient, Log: log})
		mailer := mail.New(mail.Config{APIKey: cfg.SendGridAPIKey, APIURL: cfg.SendGridAPIURL, From: cfg.MailFrom, ShopName: shopName(cfg), Language: string(cfg.Language), SupportContact: cfg.SupportContact, LinkTTL: cfg.ConfirmLinkTTL})
		// Notes and emails about an order are also events of it (the Console's timeline).
		rec := enrollment.Recorder{Log: a.Store, Now: now, Slog: log}
		svc.Shop, svc.Mailer = rec.Shop(a.Shop), rec.Mailer(mailer)
		// Reconciliation and webhook health (SPEC §2.7).
		svc.ShopAdmin, svc.Alerter = a.Shop, mailer
		svc.SweepSettings = enrollment.SweepSettings{
			ShopURL:           cfg.WCURL,
			WebhookURL:        cfg.WebhookURL,
			ReconcileLookback: cfg.ReconcileLookback,
			WebhookReactivate: cfg.WebhookReactivate,
		}
	}
	if cfg.Serves(NameEnroll) {
		svc.LMS = openedx.New(openedx.Config{BaseURL: cfg.OpenEdXURL, ClientID: cfg.OpenEdXClientID, ClientSecret: cfg.OpenEdXClientSecret, Strategy: cfg.OpenEdXEnrollStrategy, Timeout: opt.LMSTimeout})
	}
	if cfg.Serves(NameEnroll) || cfg.Serves(NameConfirm) {
		a.Signer = confirm.NewSigner([]byte(cfg.ConfirmSigningKey), cfg.ConfirmLinkTTL)
	}
	if cfg.Serves(NameEnroll) {
		svc.ConfirmLink = func(orderID int64) string { return confirm.Link(cfg.ConfirmURL, a.Signer.Sign(orderID, now())) }
		// The failure email's Retry button opens the same Confirm function (SPEC §2.5b).
		svc.RetryLink = func(orderID int64) string { return confirm.Link(cfg.ConfirmURL, a.Signer.SignRetry(orderID, now())) }
	}
	if cfg.Serves(NameConfirm) {
		a.confirm = &confirm.Handler{Signer: a.Signer, Confirmer: svc, Retrier: svc, Language: string(cfg.Language), ShopName: shopName(cfg), Now: now, Log: log}
	}
	if cfg.Serves(NameConsole) {
		// Reads Firestore and queues jobs; holds no credential of the shop, the LMS or
		// SendGrid. On Cloud Run the operator is who Cloud Run verified (internal/console).
		a.console = &console.Handler{Store: a.Store, Actions: svc, Language: string(cfg.Language), ShopName: shopName(cfg), ShopURL: cfg.WCURL, CloudRun: cfg.CloudRunService != "", Now: now, Log: log}
	}
	return a, nil
}

// shopName is how emails and pages name the shop: the display name of MAIL_FROM ("Aulasneo
// Shop <shop@…>"), else the shop's host name.
func shopName(cfg *config.Config) string {
	if a, err := netmail.ParseAddress(cfg.MailFrom); err == nil && a.Name != "" {
		return a.Name
	}
	if u, err := url.Parse(cfg.WCURL); err == nil && u.Hostname() != "" {
		return u.Hostname()
	}
	return cfg.WCURL
}

// Close releases the clients.
func (a *App) Close() error {
	return errors.Join(a.Publisher.Close(), a.Store.Close())
}

// Handler returns the handler of one function by name: an error for a function this
// process was not built to serve.
func (a *App) Handler(name string) (http.Handler, error) {
	if !a.Config.Serves(name) {
		return nil, fmt.Errorf("this process serves %s only (FUNCTION_TARGET), not %s", a.Config.Target, name)
	}
	var h http.HandlerFunc
	switch name {
	case NameWebhook:
		h = a.webhook
	case NameEnroll:
		h = a.enroll
	case NameConfirm:
		h = a.confirm.ServeHTTP
	case NameSweep:
		h = a.sweep
	case NameConsole:
		h = a.console.ServeHTTP
	default:
		return nil, fmt.Errorf("no function %q", name)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h(w, withTrace(r)) }), nil
}

// Routes serves every function at /<Name>, as the Functions Framework does without
// FUNCTION_TARGET.
func (a *App) Routes() http.Handler {
	mux := http.NewServeMux()
	for _, n := range config.Functions {
		if h, err := a.Handler(n); err == nil {
			mux.Handle("/"+n, h)
		}
	}
	return mux
}
