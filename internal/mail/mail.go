// Package mail sends the service's emails through SendGrid's v3 mail send API: the request
// to confirm a payment a person must check (SPEC §2.5), the report of failed enrollments
// (SPEC §2.4), the webhook health alert (SPEC §2.7), and the alerts about a webhook set to a
// legacy API version and about orders reconciliation could not read (SPEC §2.1). Each email
// has an HTML and a plain-text part, in English or Spanish, rendered from the embedded
// templates.
//
// Errors are transient (network errors, timeouts, 408, 429, 5xx) or permanent
// (enrollment.IsPermanent: any other rejection, with SendGrid's messages in the text).
// Nothing retries here; the caller's job queue does.
package mail

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	netmail "net/mail"
	"regexp"
	"strings"
	"time"

	"github.com/sendgrid/rest"
	"github.com/sendgrid/sendgrid-go"
	sgmail "github.com/sendgrid/sendgrid-go/helpers/mail"

	"github.com/aulasneo/wc-openedx/internal/enrollment"
	"github.com/aulasneo/wc-openedx/internal/i18n"
)

// DefaultTimeout bounds one call to SendGrid when Config.Timeout is zero.
const DefaultTimeout = 15 * time.Second

// Config is what the Mailer needs.
type Config struct {
	APIKey string
	// APIURL is the API base URL, e.g. https://api.sendgrid.com (the default) or a
	// sandbox's URL.
	APIURL string
	// From is the sender, "Name <addr>" or "addr".
	From string
	// ShopName appears in subjects ("[Shop] Order #727: …") and in the emails.
	ShopName string
	// Language is LANGUAGE: "en" (default), "es", or a locale of one (internal/i18n).
	Language string
	// SupportContact is SUPPORT_CONTACT (an email or a URL): the failure email names it as the
	// next step when a retry does not help; "" names none.
	SupportContact string
	// LinkTTL is how long confirmation links last, shown in the email; 0 leaves it vague.
	LinkTTL time.Duration
	// SandboxMode asks SendGrid to validate the emails without delivering them (200 OK).
	SandboxMode bool
	// HTTPClient is used for the calls; nil means a client of its own.
	HTTPClient *http.Client
	// Timeout bounds each call, whatever the client; 0 means DefaultTimeout.
	Timeout time.Duration
}

// Mailer sends the service's emails with SendGrid. It is safe for concurrent use.
type Mailer struct {
	cfg     Config
	lang    i18n.Lang
	from    *sgmail.Email
	fromErr error
	client  *rest.Client
	url     string
}

var (
	_ enrollment.Mailer  = (*Mailer)(nil)
	_ enrollment.Alerter = (*Mailer)(nil)
)

// New returns a Mailer for cfg. A From that does not parse makes every send fail
// permanently; config validation is expected to have caught it.
func New(cfg Config) *Mailer {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	m := &Mailer{cfg: cfg, lang: i18n.Of(cfg.Language)}
	if a, err := netmail.ParseAddress(strings.TrimSpace(cfg.From)); err != nil {
		m.fromErr = enrollment.Permanent(fmt.Errorf("mail: sender %q: %w", cfg.From,
			&enrollment.Explained{Key: "mail.bad_sender", By: enrollment.ByError, Said: err.Error(), Err: err}))
	} else {
		m.from = sgmail.NewEmail(a.Name, a.Address)
		if m.cfg.ShopName == "" {
			m.cfg.ShopName = a.Name
		}
	}
	if m.cfg.ShopName == "" {
		m.cfg.ShopName = "WooCommerce"
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: cfg.Timeout}
	}
	// A client per Mailer: sendgrid.DefaultClient is a package global shared by everyone.
	m.client = &rest.Client{HTTPClient: hc}
	m.url = strings.TrimRight(strings.TrimSpace(cfg.APIURL), "/")
	return m
}

// SendConfirmationRequest emails the summary of o with the button that opens confirmLink.
func (m *Mailer) SendConfirmationRequest(ctx context.Context, to []string, o *enrollment.Order, confirmLink string) error {
	msg, err := m.RenderConfirmationRequest(o, confirmLink)
	if err != nil {
		return enrollment.Permanent(&enrollment.Explained{Key: "mail.render", By: enrollment.ByError, Said: err.Error(), Err: err})
	}
	if err := m.send(ctx, KindConfirmationRequest, to, msg); err != nil {
		return fmt.Errorf("confirmation request for order %s: %w", o.DisplayNumber(), err)
	}
	return nil
}

// SendFailureReport emails which course lines of o failed, why, and how to retry, with the
// Retry button opening retryLink when it is not "".
func (m *Mailer) SendFailureReport(ctx context.Context, to []string, o *enrollment.Order, failures []enrollment.LineFailure, retryLink string) error {
	msg, err := m.RenderFailureReport(o, failures, retryLink)
	if err != nil {
		return enrollment.Permanent(&enrollment.Explained{Key: "mail.render", By: enrollment.ByError, Said: err.Error(), Err: err})
	}
	if err := m.send(ctx, KindFailureReport, to, msg); err != nil {
		return fmt.Errorf("failure report for order %s: %w", o.DisplayNumber(), err)
	}
	return nil
}

// SendWebhookAlert emails that the shop's webhooks need attention (each of problems in
// plain words) and how to re-activate them.
func (m *Mailer) SendWebhookAlert(ctx context.Context, to []string, shopURL string, problems []string) error {
	msg, err := m.RenderWebhookAlert(shopURL, problems)
	if err != nil {
		return enrollment.Permanent(&enrollment.Explained{Key: "mail.render", By: enrollment.ByError, Said: err.Error(), Err: err})
	}
	if err := m.send(ctx, KindWebhookAlert, to, msg); err != nil {
		return fmt.Errorf("webhook alert: %w", err)
	}
	return nil
}

// SendLegacyWebhookAlert emails which webhooks deliver the legacy payload and how to set
// their API version.
func (m *Mailer) SendLegacyWebhookAlert(ctx context.Context, to []string, shopURL string, hooks []enrollment.LegacyWebhook) error {
	msg, err := m.RenderLegacyWebhookAlert(shopURL, hooks)
	if err != nil {
		return enrollment.Permanent(&enrollment.Explained{Key: "mail.render", By: enrollment.ByError, Said: err.Error(), Err: err})
	}
	if err := m.send(ctx, KindLegacyWebhook, to, msg); err != nil {
		return fmt.Errorf("legacy webhook alert: %w", err)
	}
	return nil
}

// SendUnreadableOrderAlert emails which orders reconciliation could not read.
func (m *Mailer) SendUnreadableOrderAlert(ctx context.Context, to []string, shopURL string, orders []enrollment.UnreadableOrder) error {
	msg, err := m.RenderUnreadableOrderAlert(shopURL, orders)
	if err != nil {
		return enrollment.Permanent(&enrollment.Explained{Key: "mail.render", By: enrollment.ByError, Said: err.Error(), Err: err})
	}
	if err := m.send(ctx, KindUnreadableOrder, to, msg); err != nil {
		return fmt.Errorf("unreadable order alert: %w", err)
	}
	return nil
}

// send posts msg to every address of to, in one personalization. Duplicate addresses (which
// SendGrid rejects) and addresses that do not parse are left out; none left is permanent.
func (m *Mailer) send(ctx context.Context, kind Kind, to []string, msg Message) error {
	if m.fromErr != nil {
		return m.fromErr
	}
	p := sgmail.NewPersonalization()
	seen := map[string]bool{}
	var bad []string
	for _, s := range to {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		a, err := netmail.ParseAddress(s)
		if err != nil {
			bad = append(bad, s)
			continue
		}
		if key := strings.ToLower(a.Address); !seen[key] {
			seen[key] = true
			p.AddTos(sgmail.NewEmail(a.Name, a.Address))
		}
	}
	if len(p.To) == 0 {
		return enrollment.Permanent(fmt.Errorf("mail: %w", &enrollment.Explained{Key: "mail.no_recipient", By: enrollment.ByError, Said: strings.Join(bad, ", ")}))
	}

	v3 := sgmail.NewV3Mail()
	v3.SetFrom(m.from)
	v3.Subject = msg.Subject
	v3.AddPersonalizations(p)
	// text/plain must come before text/html (SendGrid rejects the other order).
	v3.AddContent(sgmail.NewContent("text/plain", msg.Text), sgmail.NewContent("text/html", msg.HTML))
	v3.AddCategories("wc-openedx", string(kind))
	// Click tracking would rewrite the confirmation link through SendGrid's redirect domain,
	// exposing the token to another party and breaking the plain-text copy of it.
	v3.SetTrackingSettings(sgmail.NewTrackingSettings().
		SetClickTracking(sgmail.NewClickTrackingSetting().SetEnable(false).SetEnableText(false)))
	if m.cfg.SandboxMode {
		v3.SetMailSettings(sgmail.NewMailSettings().SetSandboxMode(sgmail.NewSetting(true)))
	}

	req := sendgrid.GetRequest(m.cfg.APIKey, "/v3/mail/send", m.url)
	req.Method = rest.Post
	req.Body = sgmail.GetRequestBody(v3)

	ctx, cancel := context.WithTimeout(ctx, m.cfg.Timeout)
	defer cancel()
	resp, err := m.client.SendWithContext(ctx, req)
	if err != nil {
		return fmt.Errorf("sendgrid: %w", &enrollment.Explained{Key: "mail.unreachable", By: enrollment.ByError, Said: err.Error(), Err: err})
	}
	return responseError(resp)
}

// APIError is a SendGrid answer other than 2xx.
type APIError struct {
	StatusCode int
	Messages   []string // SendGrid's error messages, "field: message" when it names a field
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("sendgrid: HTTP %d %s", e.StatusCode, http.StatusText(e.StatusCode))
	if len(e.Messages) > 0 {
		s += ": " + strings.Join(e.Messages, "; ")
	}
	return s
}

// Explain says what the answer means in the shop's people's words, quoting SendGrid's.
func (e *APIError) Explain() *enrollment.Explained {
	ex := &enrollment.Explained{Key: "mail.rejected", By: enrollment.ByMail, Status: e.StatusCode, Said: strings.Join(e.Messages, "; ")}
	switch {
	case e.StatusCode == http.StatusUnauthorized || e.StatusCode == http.StatusForbidden:
		ex.Key = "mail.auth"
	case e.Transient():
		ex.Key = "mail.failed"
	}
	return ex
}

// Transient reports whether retrying later may succeed: 408, 429 and 5xx.
func (e *APIError) Transient() bool {
	return e.StatusCode == http.StatusRequestTimeout || e.StatusCode == http.StatusTooManyRequests ||
		e.StatusCode >= 500
}

var titleRE = regexp.MustCompile(`(?is)<title>(.*?)</title>`)

// responseError turns SendGrid's answer into nil (2xx: 202 sent, 200 sandbox mode), a
// transient *APIError, or a permanent one.
func responseError(resp *rest.Response) error {
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	e := &APIError{StatusCode: resp.StatusCode}
	var body struct {
		Errors []struct {
			Field   *string `json:"field"`
			Message string  `json:"message"`
		} `json:"errors"`
	}
	if json.Unmarshal([]byte(resp.Body), &body) == nil && len(body.Errors) > 0 {
		for _, x := range body.Errors {
			msg := x.Message
			if x.Field != nil && *x.Field != "" {
				msg = *x.Field + ": " + msg
			}
			e.Messages = append(e.Messages, msg)
		}
	} else if m := titleRE.FindStringSubmatch(resp.Body); m != nil {
		// A proxy's HTML page, such as nginx's 413 Request Entity Too Large.
		e.Messages = []string{strings.TrimSpace(m[1])}
	} else if b := strings.TrimSpace(resp.Body); b != "" {
		if len(b) > 300 {
			b = b[:300] + "…"
		}
		e.Messages = []string{b}
	}
	if e.Transient() {
		return e
	}
	return enrollment.Permanent(e)
}
