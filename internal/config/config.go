// Package config loads the service's configuration (SPEC §3) from the environment, once, and
// validates all of it together so a misconfigured deployment says everything that is wrong in
// one message.
package config

import (
	"fmt"
	"log/slog"
	"net/mail"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aulasneo/wc-openedx/internal/i18n"
)

// Function targets (FUNCTION_TARGET), as the function package registers them.
const (
	Webhook = "Webhook"
	Enroll  = "Enroll"
	Confirm = "Confirm"
	Sweep   = "Sweep"
	Console = "Console"
)

// Functions lists every function target.
var Functions = []string{Webhook, Enroll, Confirm, Sweep, Console}

// Config is every setting of the service. Each field names its environment variable in the
// `env` tag; `default` is used when the variable is unset or empty; `required` fields must be
// set; `secret` fields are never printed (see LogValue); `fn` lists the functions that read
// it ("all": every one). A process serving one function (FUNCTION_TARGET) reads only that
// function's variables and leaves the others zero (SPEC §2.6): the Webhook never holds the
// REST keys, the LMS client or the SendGrid key; Confirm holds the signing key and nothing
// of the shop's, the LMS's or SendGrid's credentials.
type Config struct {
	// Target is the one function this process serves; "" serves all of them (local runs,
	// tests), which reads every variable.
	Target string `env:"FUNCTION_TARGET" fn:"all"`
	// CloudRunService is set by Cloud Run (K_SERVICE): the process runs in production.
	CloudRunService string `env:"K_SERVICE" fn:"all"`

	Port             int    `env:"PORT" default:"8080" fn:"all"`
	Project          string `env:"GOOGLE_CLOUD_PROJECT" required:"true" fn:"all"`
	FirestoreDB      string `env:"FIRESTORE_DATABASE" default:"(default)" fn:"all"`
	FirestoreEmuHost string `env:"FIRESTORE_EMULATOR_HOST" fn:"all"`
	PubsubEmuHost    string `env:"PUBSUB_EMULATOR_HOST" fn:"all"`
	JobsTopic        string `env:"JOBS_TOPIC" default:"enrollment-jobs" fn:"all"`

	WCURL                 string `env:"WC_URL" required:"true" fn:"all"`
	WCConsumerKey         string `env:"WC_CONSUMER_KEY" required:"true" secret:"true" fn:"Enroll,Sweep"`
	WCConsumerSecret      string `env:"WC_CONSUMER_SECRET" required:"true" secret:"true" fn:"Enroll,Sweep"`
	WCWebhookSecret       string `env:"WC_WEBHOOK_SECRET" required:"true" secret:"true" fn:"Webhook"`
	WCCompleteMixedOrders bool   `env:"WC_COMPLETE_MIXED_ORDERS" default:"false" fn:"Enroll"`

	OpenEdXURL            string `env:"OPENEDX_URL" required:"true" fn:"Enroll"`
	OpenEdXClientID       string `env:"OPENEDX_CLIENT_ID" required:"true" secret:"true" fn:"Enroll"`
	OpenEdXClientSecret   string `env:"OPENEDX_CLIENT_SECRET" required:"true" secret:"true" fn:"Enroll"`
	OpenEdXEnrollStrategy string `env:"OPENEDX_ENROLL_STRATEGY" default:"enrollment" fn:"Enroll"`
	OpenEdXDefaultMode    string `env:"OPENEDX_DEFAULT_MODE" default:"audit" fn:"Webhook,Enroll,Sweep"`

	SendGridAPIKey string `env:"SENDGRID_API_KEY" required:"true" secret:"true" fn:"Enroll,Sweep"`
	SendGridAPIURL string `env:"SENDGRID_API_URL" default:"https://api.sendgrid.com" fn:"Enroll,Sweep"`
	MailFrom       string `env:"MAIL_FROM" required:"true" fn:"Enroll,Confirm,Sweep"`

	ConfirmPaymentMethods []string `env:"CONFIRM_PAYMENT_METHODS" default:"bacs,cheque,cod" fn:"Webhook,Enroll,Sweep"`
	NotifyEmails          []string `env:"NOTIFY_EMAILS" fn:"Enroll,Sweep"`
	// Language is LANGUAGE: en or es, or a locale of one (es_AR, es_ES.UTF-8, es_ES:es).
	Language i18n.Lang `env:"LANGUAGE" default:"en" fn:"Enroll,Confirm,Sweep,Console"`
	// SupportContact is whom the failure notes and emails name as the next step when a
	// retry does not help: an email address or an http(s) URL; unset names none.
	SupportContact    string        `env:"SUPPORT_CONTACT" fn:"Enroll"`
	ConfirmURL        string        `env:"CONFIRM_URL" required:"true" fn:"Enroll"`
	ConfirmSigningKey string        `env:"CONFIRM_SIGNING_KEY" required:"true" secret:"true" fn:"Enroll,Confirm"`
	ConfirmLinkTTL    time.Duration `env:"CONFIRM_LINK_TTL" default:"720h" fn:"Enroll,Confirm"`

	PushAudience       string `env:"PUSH_AUDIENCE" fn:"Enroll,Sweep"`
	PushServiceAccount string `env:"PUSH_SERVICE_ACCOUNT" fn:"Enroll,Sweep"`
	// EnrollMaxAttempts is the push subscription's max_delivery_attempts: on that attempt a
	// transient failure is final (the message is about to be dead-lettered).
	EnrollMaxAttempts int `env:"ENROLL_MAX_ATTEMPTS" default:"5" fn:"Enroll"`

	WebhookURL        string        `env:"WEBHOOK_URL" fn:"Sweep"`
	ReconcileLookback time.Duration `env:"RECONCILE_LOOKBACK" default:"72h" fn:"Sweep"`
	WebhookReactivate bool          `env:"WEBHOOK_REACTIVATE" default:"false" fn:"Sweep"`
	UnenrollOn        []string      `env:"UNENROLL_ON" fn:"Webhook,Enroll,Sweep"`

	LogLevel slog.Level `env:"LOG_LEVEL" default:"info" fn:"all"`
}

// needs reports whether function fn reads field f of Config ("": every function).
func needs(f reflect.StructField, fn string) bool {
	tag := f.Tag.Get("fn")
	return fn == "" || tag == "all" || slices.Contains(strings.Split(tag, ","), fn)
}

// Serves reports whether this process serves function fn.
func (c *Config) Serves(fn string) bool { return c.Target == "" || c.Target == fn }

// Variable describes one environment variable the service reads.
type Variable struct {
	Name      string
	Required  bool
	Secret    bool
	Default   string
	Functions []string // the functions that read it
}

// Variables lists every environment variable of Config, in declaration order. Terraform tests
// use it so that a new variable without provisioning fails.
func Variables() []Variable {
	t := reflect.TypeFor[Config]()
	vars := make([]Variable, 0, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		var fns []string
		for _, fn := range Functions {
			if needs(f, fn) {
				fns = append(fns, fn)
			}
		}
		vars = append(vars, Variable{
			Name:      f.Tag.Get("env"),
			Required:  f.Tag.Get("required") == "true",
			Secret:    f.Tag.Get("secret") == "true",
			Default:   f.Tag.Get("default"),
			Functions: fns,
		})
	}
	return vars
}

// Load reads the configuration with lookup (os.LookupEnv in production) and validates it:
// with FUNCTION_TARGET set, only the variables of that function (the others stay zero,
// whatever the environment holds); without it, every variable. The error lists every
// problem, one per line, each naming its variable.
func Load(lookup func(string) (string, bool)) (*Config, error) {
	var c Config
	var problems []string
	target, _ := lookup("FUNCTION_TARGET")
	target = strings.TrimSpace(target)
	if target != "" && !slices.Contains(Functions, target) {
		return nil, fmt.Errorf("invalid configuration:\n  FUNCTION_TARGET: %q is not one of %s", target, strings.Join(Functions, ", "))
	}
	v := reflect.ValueOf(&c).Elem()
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if !needs(f, target) {
			continue
		}
		name := f.Tag.Get("env")
		raw, _ := lookup(name)
		raw = strings.TrimSpace(raw)
		if raw == "" {
			if f.Tag.Get("required") == "true" {
				problems = append(problems, name+": required but not set")
				continue
			}
			raw = f.Tag.Get("default")
		}
		if err := setField(v.Field(i), raw); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", name, err))
		}
	}
	problems = append(problems, c.validate()...)
	if len(problems) > 0 {
		return nil, fmt.Errorf("invalid configuration:\n  %s", strings.Join(problems, "\n  "))
	}
	return &c, nil
}

func setField(f reflect.Value, raw string) error {
	switch f.Interface().(type) {
	case string:
		f.SetString(raw)
	case bool:
		if raw == "" {
			f.SetBool(false)
			return nil
		}
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return fmt.Errorf("%q is not a boolean (use true or false)", raw)
		}
		f.SetBool(b)
	case int:
		n, err := strconv.Atoi(raw)
		if err != nil {
			return fmt.Errorf("%q is not a whole number", raw)
		}
		f.SetInt(int64(n))
	case time.Duration:
		d, err := time.ParseDuration(raw)
		if err != nil || d <= 0 {
			return fmt.Errorf("%q is not a positive Go duration (e.g. 720h, 15m)", raw)
		}
		f.SetInt(int64(d))
	case []string:
		f.Set(reflect.ValueOf(splitList(raw)))
	case i18n.Lang:
		l, err := i18n.Parse(raw)
		if err != nil {
			return err
		}
		f.Set(reflect.ValueOf(l))
	case slog.Level:
		var l slog.Level
		if err := l.UnmarshalText([]byte(raw)); err != nil {
			return fmt.Errorf("%q is not one of debug, info, warn, error", raw)
		}
		f.Set(reflect.ValueOf(l))
	default:
		return fmt.Errorf("unsupported type %s", f.Type())
	}
	return nil
}

// splitList splits a comma-separated list, trimming spaces and dropping empty items.
func splitList(raw string) []string {
	var out []string
	for _, s := range strings.Split(raw, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func (c *Config) validate() []string {
	var p []string
	if c.Port < 1 || c.Port > 65535 {
		p = append(p, fmt.Sprintf("PORT: %d is not a TCP port", c.Port))
	}
	checkURL := func(name, u string) {
		if u == "" {
			return
		}
		pu, err := url.Parse(u)
		if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			p = append(p, fmt.Sprintf("%s: %q is not an http(s) URL", name, u))
		}
	}
	checkURL("WC_URL", c.WCURL)
	checkURL("OPENEDX_URL", c.OpenEdXURL)
	checkURL("SENDGRID_API_URL", c.SendGridAPIURL)
	checkURL("CONFIRM_URL", c.ConfirmURL)
	checkURL("WEBHOOK_URL", c.WebhookURL)
	checkURL("PUSH_AUDIENCE", c.PushAudience)
	// Only the variables this process read are checked; the others are zero.
	if c.Serves(Enroll) && c.OpenEdXEnrollStrategy != "enrollment" && c.OpenEdXEnrollStrategy != "bulk" {
		p = append(p, fmt.Sprintf("OPENEDX_ENROLL_STRATEGY: %q must be enrollment or bulk", c.OpenEdXEnrollStrategy))
	}
	if s := c.SupportContact; s != "" && !isContact(s) {
		p = append(p, fmt.Sprintf("SUPPORT_CONTACT: %q is neither an email address nor an http(s) URL", s))
	}
	if c.MailFrom != "" {
		if _, err := mail.ParseAddress(c.MailFrom); err != nil {
			p = append(p, fmt.Sprintf("MAIL_FROM: %q is not an address (use addr or Name <addr>)", c.MailFrom))
		}
	}
	for _, e := range c.NotifyEmails {
		if _, err := mail.ParseAddress(e); err != nil {
			p = append(p, fmt.Sprintf("NOTIFY_EMAILS: %q is not an email address", e))
		}
	}
	if c.ConfirmSigningKey != "" && len(c.ConfirmSigningKey) < 32 {
		p = append(p, fmt.Sprintf("CONFIRM_SIGNING_KEY: must be at least 32 bytes (got %d)", len(c.ConfirmSigningKey)))
	}
	if c.Serves(Enroll) && (c.EnrollMaxAttempts < 5 || c.EnrollMaxAttempts > 100) {
		p = append(p, fmt.Sprintf("ENROLL_MAX_ATTEMPTS: %d must be between 5 and 100, as Pub/Sub's max_delivery_attempts", c.EnrollMaxAttempts))
	}
	for _, s := range c.UnenrollOn {
		if s != "refunded" && s != "cancelled" {
			p = append(p, fmt.Sprintf("UNENROLL_ON: %q must be refunded or cancelled", s))
		}
	}
	// Fail closed (SPEC §2.6): on Cloud Run, the private functions check the caller's
	// OIDC token; without its audience and account the check would let anyone in.
	if c.CloudRunService != "" && (c.Serves(Enroll) || c.Serves(Sweep)) {
		for _, v := range []struct{ name, val string }{
			{"PUSH_AUDIENCE", c.PushAudience}, {"PUSH_SERVICE_ACCOUNT", c.PushServiceAccount},
		} {
			if v.val == "" {
				p = append(p, fmt.Sprintf("%s: required on Cloud Run (K_SERVICE=%s) for %s: without it anyone could call the private function", v.name, c.CloudRunService, strings.Join(c.privateServed(), " and ")))
			}
		}
	}
	if len(c.JobsTopic) < 3 {
		p = append(p, fmt.Sprintf("JOBS_TOPIC: %q is too short (Pub/Sub ids have at least 3 characters)", c.JobsTopic))
	}
	return p
}

// isContact reports whether s is a plain email address or an http(s) URL.
func isContact(s string) bool {
	if a, err := mail.ParseAddress(s); err == nil && a.Address == s {
		return true
	}
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

func (c *Config) privateServed() []string {
	var out []string
	for _, fn := range []string{Enroll, Sweep} {
		if c.Serves(fn) {
			out = append(out, fn)
		}
	}
	return out
}

// LogValue prints the configuration with every secret replaced, so a Config can be logged.
func (c Config) LogValue() slog.Value {
	var attrs []slog.Attr
	v := reflect.ValueOf(c)
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		val := fmt.Sprint(v.Field(i).Interface())
		if f.Tag.Get("secret") == "true" {
			if val != "" {
				val = "[redacted]"
			}
		}
		attrs = append(attrs, slog.String(f.Tag.Get("env"), val))
	}
	return slog.GroupValue(attrs...)
}

// String never shows secrets either.
func (c Config) String() string { return c.LogValue().String() }
