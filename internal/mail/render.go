package mail

import (
	"bytes"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/aulasneo/wc-openedx/internal/enrollment"
	"github.com/aulasneo/wc-openedx/internal/i18n"
)

// Message is one rendered email: what Render* returns and what is sent.
type Message struct {
	Subject string
	Text    string // the text/plain part
	HTML    string // the text/html part
}

// Kind names an email the service sends; each has an HTML and a text template.
type Kind string

// The emails of the service.
const (
	KindConfirmationRequest Kind = "confirmation"
	KindFailureReport       Kind = "failure"
	KindWebhookAlert        Kind = "webhook"
	KindLegacyWebhook       Kind = "legacy"
	KindUnreadableOrder     Kind = "unreadable"
)

//go:embed templates
var templateFS embed.FS

var (
	htmlTemplates = map[Kind]*htmltemplate.Template{}
	textTemplates = map[Kind]*texttemplate.Template{}
)

func init() {
	// Conditional comments for Outlook's Word engine, which ignores max-width: a fixed
	// 600px ghost table. html/template drops comments written in a template, so they are
	// inserted as trusted constants.
	htmlFuncs := htmltemplate.FuncMap{
		"msoOpen": func() htmltemplate.HTML {
			return `<!--[if mso]><table role="presentation" width="600" align="center" cellpadding="0" cellspacing="0" border="0"><tr><td><![endif]-->`
		},
		"msoClose": func() htmltemplate.HTML { return `<!--[if mso]></td></tr></table><![endif]-->` },
		"mailto":   mailto,
	}
	for _, k := range []Kind{KindConfirmationRequest, KindFailureReport, KindWebhookAlert, KindLegacyWebhook, KindUnreadableOrder} {
		htmlTemplates[k] = htmltemplate.Must(htmltemplate.New("layout.html.tmpl").
			Option("missingkey=error").Funcs(htmlFuncs).
			ParseFS(templateFS, "templates/layout.html.tmpl", "templates/"+string(k)+".html.tmpl"))
		textTemplates[k] = texttemplate.Must(texttemplate.New("layout.txt.tmpl").
			Option("missingkey=error").
			ParseFS(templateFS, "templates/layout.txt.tmpl", "templates/"+string(k)+".txt.tmpl"))
	}
}

// mailto is a mailto: link to exactly one address, whatever the buyer typed. RFC 6068 gives
// '?', '&', ',' and '%' meanings in a mailto URI (headers, more recipients, escapes), and
// html/template leaves them alone in a URL, so an address such as
// x?cc=other@evil.example&subject=hi@shop.example would add a recipient and a subject to the
// staff's reply. Every byte outside a plain address's letters is percent-encoded.
func mailto(addr string) htmltemplate.URL {
	const plain = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.@_+-"
	var b strings.Builder
	b.WriteString("mailto:")
	for i := 0; i < len(addr); i++ {
		if c := addr[i]; strings.IndexByte(plain, c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return htmltemplate.URL(b.String())
}

// view is the data of every template.
type view struct {
	Lang      i18n.Lang
	Shop      string
	Subject   string
	Preheader string

	Order    *orderView
	Link     string // the confirmation link, or the Retry link of a failure report ("": none)
	Failures []enrollment.LineFailure
	Problems []string
	ShopURL  string
	AdminURL string // WooCommerce > Settings > Advanced > Webhooks
	LinkTTL  time.Duration
	Support  string // SUPPORT_CONTACT: whom to ask when a retry does not help, "" for none
}

type orderView struct {
	Number        string
	Date          string
	CustomerName  string
	CustomerEmail string
	PaymentTitle  string
	Currency      string
	Total         string
	Lines         []lineView
}

type lineView struct {
	Name     string
	Quantity string
	Total    string
}

// T formats the message key of the view's language with args (internal/i18n).
func (v *view) T(key string, args ...any) (string, error) {
	f, ok := v.Lang.Lookup(key)
	if !ok {
		return "", fmt.Errorf("mail: no %q text for language %q", key, v.Lang)
	}
	return fmt.Sprintf(f, args...), nil
}

// Money writes an amount with the order's currency code, as the language writes numbers.
func (v *view) Money(amount string) string {
	if v.Order == nil {
		return v.Lang.Money(amount, "")
	}
	return v.Lang.Money(amount, v.Order.Currency)
}

// button is the data of the "button" template.
type button struct{ URL, Label string }

// Button makes the data of the "button" template.
func (v *view) Button(url, label string) button { return button{URL: url, Label: label} }

// Expiry is the line saying how long the email's link lasts: the text key ("conf.expires",
// "fail.retry.expires") with the link's lifetime, or key+"_soon" when the lifetime is unknown.
func (v *view) Expiry(key string) (string, error) {
	if v.LinkTTL <= 0 {
		return v.T(key + "_soon")
	}
	return v.T(key, v.Lang.Duration(v.LinkTTL))
}

func newOrderView(lang i18n.Lang, o *enrollment.Order) *orderView {
	ov := &orderView{
		Number:        o.DisplayNumber(),
		Date:          lang.Date(o.DateCreated),
		CustomerName:  o.Billing.Name(),
		CustomerEmail: strings.TrimSpace(o.Billing.Email),
		PaymentTitle:  o.PaymentMethodTitle,
		Currency:      o.Currency,
		Total:         o.Total,
	}
	if ov.PaymentTitle == "" {
		ov.PaymentTitle = o.PaymentMethod
	}
	for _, l := range o.Lines {
		ov.Lines = append(ov.Lines, lineView{Name: l.Name, Quantity: l.DisplayQuantity(), Total: l.Total})
	}
	return ov
}

func render(k Kind, v *view) (Message, error) {
	var h, t bytes.Buffer
	if err := htmlTemplates[k].Execute(&h, v); err != nil {
		return Message{}, fmt.Errorf("mail: render %s html: %w", k, err)
	}
	if err := textTemplates[k].Execute(&t, v); err != nil {
		return Message{}, fmt.Errorf("mail: render %s text: %w", k, err)
	}
	return Message{Subject: v.Subject, Text: t.String(), HTML: h.String()}, nil
}

// RenderConfirmationRequest renders the email asking the new-order recipients to confirm
// that the payment of o arrived (SPEC §2.5), without sending it.
func (m *Mailer) RenderConfirmationRequest(o *enrollment.Order, confirmLink string) (Message, error) {
	v := &view{Lang: m.lang, Shop: m.cfg.ShopName, Order: newOrderView(m.lang, o), Link: confirmLink, LinkTTL: m.cfg.LinkTTL}
	key := "conf.subject"
	switch o.PaymentMethod {
	case "bacs", "cheque", "cod":
		key += "." + o.PaymentMethod
	}
	var err error
	if v.Subject, err = v.T(key, m.cfg.ShopName, v.Order.Number); err != nil {
		return Message{}, err
	}
	if v.Preheader, err = v.T("conf.preheader", v.Money(o.Total)); err != nil {
		return Message{}, err
	}
	return render(KindConfirmationRequest, v)
}

// RenderFailureReport renders the email that says which course lines of o failed, why, and
// how to retry (SPEC §2.4), without sending it. With a retryLink it carries the Retry button
// (SPEC §2.5b); the move On hold → Processing is still offered.
func (m *Mailer) RenderFailureReport(o *enrollment.Order, failures []enrollment.LineFailure, retryLink string) (Message, error) {
	v := &view{Lang: m.lang, Shop: m.cfg.ShopName, Order: newOrderView(m.lang, o), Failures: failures, Link: retryLink, LinkTTL: m.cfg.LinkTTL, Support: m.cfg.SupportContact}
	var err error
	if len(failures) == 1 {
		v.Subject, err = v.T("fail.subject.one", m.cfg.ShopName, v.Order.Number)
	} else {
		v.Subject, err = v.T("fail.subject.many", m.cfg.ShopName, v.Order.Number, len(failures))
	}
	if err != nil {
		return Message{}, err
	}
	if v.Preheader, err = v.T("fail.preheader", v.Order.Number); err != nil {
		return Message{}, err
	}
	return render(KindFailureReport, v)
}

// RenderWebhookAlert renders the email that says the shop's webhooks need attention and how
// to fix them (SPEC §2.7), without sending it.
func (m *Mailer) RenderWebhookAlert(shopURL string, problems []string) (Message, error) {
	shopURL = strings.TrimRight(strings.TrimSpace(shopURL), "/")
	v := &view{Lang: m.lang, Shop: m.cfg.ShopName, Problems: problems, ShopURL: shopURL, AdminURL: webhooksAdminURL(shopURL)}
	var err error
	if v.Subject, err = v.T("hook.subject", m.cfg.ShopName); err != nil {
		return Message{}, err
	}
	if v.Preheader, err = v.T("hook.preheader"); err != nil {
		return Message{}, err
	}
	return render(KindWebhookAlert, v)
}

// webhooksAdminURL is WooCommerce > Settings > Advanced > Webhooks of the shop ("" without one):
// the page WooCommerce itself links to and redirects to as
// admin_url( 'admin.php?page=wc-settings&tab=advanced&section=webhooks' ) (woocommerce/woocommerce,
// plugins/woocommerce/includes/admin/class-wc-admin-webhooks.php: is_webhook_settings_page,
// bulk_delete).
func webhooksAdminURL(shopURL string) string {
	if shopURL == "" {
		return ""
	}
	return shopURL + "/wp-admin/admin.php?page=wc-settings&tab=advanced&section=webhooks"
}

// RenderLegacyWebhookAlert renders the email that says which webhooks deliver the legacy
// payload and how to set their API version (SPEC §2.1), without sending it.
func (m *Mailer) RenderLegacyWebhookAlert(shopURL string, hooks []enrollment.LegacyWebhook) (Message, error) {
	shopURL = strings.TrimRight(strings.TrimSpace(shopURL), "/")
	v := &view{Lang: m.lang, Shop: m.cfg.ShopName, ShopURL: shopURL, AdminURL: webhooksAdminURL(shopURL)}
	for _, h := range hooks {
		var line string
		var err error
		switch {
		case h.ID == "":
			line, err = v.T("legacy.hook_unknown", h.Topic)
		case h.Name != "":
			line, err = v.T("legacy.hook_named", h.ID, h.Name, h.Topic)
		default:
			line, err = v.T("legacy.hook", h.ID, h.Topic)
		}
		if err != nil {
			return Message{}, err
		}
		v.Problems = append(v.Problems, line)
	}
	var err error
	if v.Subject, err = v.T("legacy.subject", m.cfg.ShopName); err != nil {
		return Message{}, err
	}
	if v.Preheader, err = v.T("legacy.preheader"); err != nil {
		return Message{}, err
	}
	return render(KindLegacyWebhook, v)
}

// RenderUnreadableOrderAlert renders the email that lists the orders reconciliation could not
// read and skipped (SPEC §2.1), without sending it.
func (m *Mailer) RenderUnreadableOrderAlert(shopURL string, orders []enrollment.UnreadableOrder) (Message, error) {
	shopURL = strings.TrimRight(strings.TrimSpace(shopURL), "/")
	v := &view{Lang: m.lang, Shop: m.cfg.ShopName, ShopURL: shopURL}
	for _, o := range orders {
		var line string
		var err error
		if o.Ref == "" {
			line, err = v.T("unread.order_noid", o.Problem)
		} else {
			line, err = v.T("unread.order", o.Ref, o.Problem)
		}
		if err != nil {
			return Message{}, err
		}
		v.Problems = append(v.Problems, line)
	}
	var err error
	if len(orders) == 1 {
		v.Subject, err = v.T("unread.subject.one", m.cfg.ShopName)
	} else {
		v.Subject, err = v.T("unread.subject.many", m.cfg.ShopName, len(orders))
	}
	if err != nil {
		return Message{}, err
	}
	if v.Preheader, err = v.T("unread.preheader"); err != nil {
		return Message{}, err
	}
	return render(KindUnreadableOrder, v)
}
