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
	"github.com/aulasneo/wc-openedx/internal/enrollment"
	"github.com/aulasneo/wc-openedx/internal/jobs"
	"github.com/aulasneo/wc-openedx/internal/mail"
	"github.com/aulasneo/wc-openedx/internal/openedx"
	"github.com/aulasneo/wc-openedx/internal/store"
	"github.com/aulasneo/wc-openedx/internal/woocommerce"
)

// Function names, as registered with the Functions Framework and as FUNCTION_TARGET values.
const (
	NameWebhook = "Webhook"
	NameEnroll  = "Enroll"
	NameConfirm = "Confirm"
	NameSweep   = "Sweep"
)

// jobTimeout bounds one job; it stays below the production ack deadline (300 s). A job may
// outlast a claim's lease (enrollment.DefaultLease): each claim covers one piece of work,
// bounded on its own, and a job waiting for another worker's claim stops in time.
const jobTimeout = 240 * time.Second

// App is the service wired from its configuration: the four functions and what they share.
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

// New connects to Firestore and Pub/Sub and builds the App.
func New(ctx context.Context, cfg *config.Config, opt Options) (*App, error) {
	log := opt.Log
	if log == nil {
		log = NewLogger(os.Stdout, cfg.LogLevel, cfg.Project)
	}
	verifier, err := woocommerce.NewVerifier(cfg.WCWebhookSecret, cfg.WCURL)
	if err != nil {
		return nil, err
	}
	auth, err := newPushAuth(ctx, cfg.PushAudience, cfg.PushServiceAccount, opt.IDTokenOptions...)
	if err != nil {
		return nil, err
	}
	st, err := store.New(ctx, cfg.Project, cfg.FirestoreDB)
	if err != nil {
		return nil, err
	}
	pub, err := jobs.NewPublisher(ctx, cfg.Project, cfg.JobsTopic, opt.PubSubOptions...)
	if err != nil {
		st.Close()
		return nil, err
	}
	shop := woocommerce.New(woocommerce.Config{BaseURL: cfg.WCURL, ConsumerKey: cfg.WCConsumerKey, ConsumerSecret: cfg.WCConsumerSecret, HTTPClient: opt.ShopHTTPClient, Log: log})
	lms := openedx.New(openedx.Config{BaseURL: cfg.OpenEdXURL, ClientID: cfg.OpenEdXClientID, ClientSecret: cfg.OpenEdXClientSecret, Strategy: cfg.OpenEdXEnrollStrategy, Timeout: opt.LMSTimeout})
	mailer := mail.New(mail.Config{APIKey: cfg.SendGridAPIKey, APIURL: cfg.SendGridAPIURL, From: cfg.MailFrom, ShopName: shopName(cfg), Language: cfg.Language, LinkTTL: cfg.ConfirmLinkTTL})
	signer := confirm.NewSigner([]byte(cfg.ConfirmSigningKey), cfg.ConfirmLinkTTL)
	now := opt.Now
	if now == nil {
		now = time.Now
	}
	svc := &enrollment.Service{
		Store: st, Publisher: pub, LMS: lms, Shop: shop, Mailer: mailer,
		ConfirmLink: func(orderID int64) string { return confirm.Link(cfg.ConfirmURL, signer.Sign(orderID, now())) },
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
		},
		Now: now,
		Log: log,
		// Reconciliation and webhook health (SPEC §2.7).
		ShopAdmin: shop, Alerter: mailer, SweepStore: st,
		SweepSettings: enrollment.SweepSettings{
			ShopURL:           cfg.WCURL,
			WebhookURL:        cfg.WebhookURL,
			ReconcileLookback: cfg.ReconcileLookback,
			WebhookReactivate: cfg.WebhookReactivate,
		},
	}
	a := &App{
		Config: cfg, Log: log, Store: st, Publisher: pub, Service: svc, Shop: shop, Signer: signer,
		verifier: verifier, auth: auth,
	}
	a.confirm = &confirm.Handler{Signer: signer, Confirmer: svc, Language: cfg.Language, ShopName: shopName(cfg), Now: now, Log: log}
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

// Handler returns the handler of one function by name.
func (a *App) Handler(name string) (http.Handler, error) {
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
	default:
		return nil, fmt.Errorf("no function %q", name)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h(w, withTrace(r)) }), nil
}

// Routes serves every function at /<Name>, as the Functions Framework does without
// FUNCTION_TARGET.
func (a *App) Routes() http.Handler {
	mux := http.NewServeMux()
	for _, n := range []string{NameWebhook, NameEnroll, NameConfirm, NameSweep} {
		h, _ := a.Handler(n)
		mux.Handle("/"+n, h)
	}
	return mux
}
