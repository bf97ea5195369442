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
	"strconv"
	"strings"
	"time"
)

// Config is every setting of the service. Each field names its environment variable in the
// `env` tag; `default` is used when the variable is unset or empty; `required` fields must be
// set; `secret` fields are never printed (see LogValue).
type Config struct {
	Port             int    `env:"PORT" default:"8080"`
	Project          string `env:"GOOGLE_CLOUD_PROJECT" required:"true"`
	FirestoreDB      string `env:"FIRESTORE_DATABASE" default:"(default)"`
	FirestoreEmuHost string `env:"FIRESTORE_EMULATOR_HOST"`
	PubsubEmuHost    string `env:"PUBSUB_EMULATOR_HOST"`
	JobsTopic        string `env:"JOBS_TOPIC" default:"enrollment-jobs"`

	WCURL                 string `env:"WC_URL" required:"true"`
	WCConsumerKey         string `env:"WC_CONSUMER_KEY" required:"true" secret:"true"`
	WCConsumerSecret      string `env:"WC_CONSUMER_SECRET" required:"true" secret:"true"`
	WCWebhookSecret       string `env:"WC_WEBHOOK_SECRET" required:"true" secret:"true"`
	WCCompleteMixedOrders bool   `env:"WC_COMPLETE_MIXED_ORDERS" default:"false"`

	OpenEdXURL            string `env:"OPENEDX_URL" required:"true"`
	OpenEdXClientID       string `env:"OPENEDX_CLIENT_ID" required:"true" secret:"true"`
	OpenEdXClientSecret   string `env:"OPENEDX_CLIENT_SECRET" required:"true" secret:"true"`
	OpenEdXEnrollStrategy string `env:"OPENEDX_ENROLL_STRATEGY" default:"enrollment"`
	OpenEdXDefaultMode    string `env:"OPENEDX_DEFAULT_MODE" default:"audit"`

	SendGridAPIKey string `env:"SENDGRID_API_KEY" required:"true" secret:"true"`
	SendGridAPIURL string `env:"SENDGRID_API_URL" default:"https://api.sendgrid.com"`
	MailFrom       string `env:"MAIL_FROM" required:"true"`

	ConfirmPaymentMethods []string      `env:"CONFIRM_PAYMENT_METHODS" default:"bacs,cheque,cod"`
	NotifyEmails          []string      `env:"NOTIFY_EMAILS"`
	Language              string        `env:"LANGUAGE" default:"en"`
	ConfirmURL            string        `env:"CONFIRM_URL" required:"true"`
	ConfirmSigningKey     string        `env:"CONFIRM_SIGNING_KEY" required:"true" secret:"true"`
	ConfirmLinkTTL        time.Duration `env:"CONFIRM_LINK_TTL" default:"720h"`

	PushAudience       string `env:"PUSH_AUDIENCE"`
	PushServiceAccount string `env:"PUSH_SERVICE_ACCOUNT"`
	// EnrollMaxAttempts is the push subscription's max_delivery_attempts: on that attempt a
	// transient failure is final (the message is about to be dead-lettered).
	EnrollMaxAttempts int `env:"ENROLL_MAX_ATTEMPTS" default:"5"`

	WebhookURL        string        `env:"WEBHOOK_URL"`
	ReconcileLookback time.Duration `env:"RECONCILE_LOOKBACK" default:"72h"`
	WebhookReactivate bool          `env:"WEBHOOK_REACTIVATE" default:"false"`
	UnenrollOn        []string      `env:"UNENROLL_ON"`

	LogLevel slog.Level `env:"LOG_LEVEL" default:"info"`
}

// Variable describes one environment variable the service reads.
type Variable struct {
	Name     string
	Required bool
	Secret   bool
	Default  string
}

// Variables lists every environment variable of Config, in declaration order. Terraform tests
// use it so that a new variable without provisioning fails.
func Variables() []Variable {
	t := reflect.TypeFor[Config]()
	vars := make([]Variable, 0, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		vars = append(vars, Variable{
			Name:     f.Tag.Get("env"),
			Required: f.Tag.Get("required") == "true",
			Secret:   f.Tag.Get("secret") == "true",
			Default:  f.Tag.Get("default"),
		})
	}
	return vars
}

// Load reads the configuration with lookup (os.LookupEnv in production) and validates it.
// The error lists every problem, one per line, each naming its variable.
func Load(lookup func(string) (string, bool)) (*Config, error) {
	var c Config
	var problems []string
	v := reflect.ValueOf(&c).Elem()
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
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
	if c.OpenEdXEnrollStrategy != "enrollment" && c.OpenEdXEnrollStrategy != "bulk" {
		p = append(p, fmt.Sprintf("OPENEDX_ENROLL_STRATEGY: %q must be enrollment or bulk", c.OpenEdXEnrollStrategy))
	}
	if c.Language != "en" && c.Language != "es" {
		p = append(p, fmt.Sprintf("LANGUAGE: %q must be en or es", c.Language))
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
	if c.EnrollMaxAttempts < 5 || c.EnrollMaxAttempts > 100 {
		p = append(p, fmt.Sprintf("ENROLL_MAX_ATTEMPTS: %d must be between 5 and 100, as Pub/Sub's max_delivery_attempts", c.EnrollMaxAttempts))
	}
	for _, s := range c.UnenrollOn {
		if s != "refunded" && s != "cancelled" {
			p = append(p, fmt.Sprintf("UNENROLL_ON: %q must be refunded or cancelled", s))
		}
	}
	if len(c.JobsTopic) < 3 {
		p = append(p, fmt.Sprintf("JOBS_TOPIC: %q is too short (Pub/Sub ids have at least 3 characters)", c.JobsTopic))
	}
	return p
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
