package mail

import (
	"context"
	"encoding/json"
	"errors"
	"html"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aulasneo/wc-openedx/internal/enrollment"
	"github.com/aulasneo/wc-openedx/internal/sandbox"
)

const testKey = "SG.test-key"

func testOrder() *enrollment.Order {
	return &enrollment.Order{
		ID: 727, Number: "727", Status: "on-hold", Currency: "USD", Total: "98.00",
		PaymentMethod: "bacs", PaymentMethodTitle: "Direct bank transfer",
		DateCreated: time.Date(2025, 3, 5, 14, 7, 0, 0, time.UTC),
		Billing:     enrollment.Person{FirstName: "Ana", LastName: "Pérez", Email: "ana@example.com"},
		Lines: []enrollment.LineItem{
			{ID: 1, Name: "Python 101", Quantity: 1, Total: "49.00", SKU: "course-v1:Org+PY101+2025"},
			{ID: 2, Name: "Data <script>alert(1)</script> & AI", Quantity: 2, Total: "49.00", SKU: "course-v1:Org+DA+2025"},
		},
	}
}

// newTest starts a simulated SendGrid and a Mailer pointed at it.
func newTest(t *testing.T, cfg Config) (*sandbox.SendGrid, *Mailer) {
	t.Helper()
	sg := sandbox.NewSendGrid(testKey)
	srv := httptest.NewServer(sg)
	t.Cleanup(srv.Close)
	if cfg.APIKey == "" {
		cfg.APIKey = testKey
	}
	if cfg.From == "" {
		cfg.From = "Aula Shop <shop@shop.example.com>"
	}
	cfg.APIURL = srv.URL
	// The server's own client: srv.Close closes the idle connections of
	// http.DefaultTransport, which would break a parallel test's request in flight.
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = srv.Client()
	}
	return sg, New(cfg)
}

func onlyMessage(t *testing.T, sg *sandbox.SendGrid) sandbox.SentMessage {
	t.Helper()
	msgs := sg.Messages()
	if len(msgs) != 1 {
		t.Fatalf("SendGrid kept %d messages, want 1", len(msgs))
	}
	return msgs[0]
}

func containsAll(t *testing.T, what, s string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(s, w) {
			t.Errorf("%s does not contain %q:\n%s", what, w, s)
		}
	}
}

func TestSendConfirmationRequest(t *testing.T) {
	t.Parallel()
	const link = "https://confirm.example.com/Confirm?t=eyJvIjo3Mjd9.c2ln&x=1"
	tests := []struct {
		lang, subject string
		text, html    []string
	}{
		{"en", "[Aula Shop] Order #727: confirm the bank transfer",
			[]string{"March 5, 2025, 2:07 PM", "Order total: 98.00 USD", "49.00 USD", "Confirm payment received:\n" + link, "expires in 30 days", "changes nothing"},
			[]string{">Confirm payment received</a>", "March 5, 2025, 2:07 PM", "Order total", "98.00 USD", "expires in 30 days", "changes nothing"}},
		{"es", "[Aula Shop] Pedido #727: confirme la transferencia",
			[]string{"5 de marzo de 2025, 14:07", "Total del pedido: 98,00 USD", "49,00 USD", "Confirmar pago recibido:\n" + link, "vence en 30 días", "no cambia nada"},
			[]string{">Confirmar pago recibido</a>", "5 de marzo de 2025, 14:07", "Total del pedido", "98,00 USD", "vence en 30 días", "no cambia nada", `lang="es"`}},
	}
	for _, tt := range tests {
		t.Run(tt.lang, func(t *testing.T) {
			t.Parallel()
			sg, m := newTest(t, Config{Language: tt.lang, LinkTTL: 720 * time.Hour})
			to := []string{"admin@shop.example.com", " Ops <ops@shop.example.com>", "ADMIN@shop.example.com", ""}
			if err := m.SendConfirmationRequest(context.Background(), to, testOrder(), link); err != nil {
				t.Fatal(err)
			}
			got := onlyMessage(t, sg)
			if got.From != "shop@shop.example.com" || got.FromName != "Aula Shop" {
				t.Errorf("from = %q <%s>", got.FromName, got.From)
			}
			if !slices.Equal(got.To, []string{"admin@shop.example.com", "ops@shop.example.com"}) {
				t.Errorf("to = %q, want both addresses once", got.To)
			}
			if got.Subject != tt.subject {
				t.Errorf("subject = %q, want %q", got.Subject, tt.subject)
			}
			containsAll(t, "text", got.Text, append([]string{"#727", "Python 101", "Data <script>alert(1)</script> & AI",
				"Ana Pérez <ana@example.com>", "Direct bank transfer"}, tt.text...)...)
			containsAll(t, "html", got.HTML, append([]string{"#727", "Python 101", "Ana Pérez", "ana@example.com",
				"Direct bank transfer", "max-width:600px",
				`href="` + html.EscapeString(link) + `"`,                // the button and the text link
				">" + html.EscapeString(link) + "</a>"}, tt.html...)...) // the link shown as text
			if n := strings.Count(got.HTML, `href="`+html.EscapeString(link)+`"`); n != 2 {
				t.Errorf("html links to the confirmation %d times, want 2 (button and text)", n)
			}
		})
	}
}

func TestRequestShape(t *testing.T) {
	t.Parallel()
	sg, m := newTest(t, Config{})
	if err := m.SendConfirmationRequest(context.Background(), []string{"admin@shop.example.com"}, testOrder(), "https://c.example/x"); err != nil {
		t.Fatal(err)
	}
	calls := sg.Log.Calls("send")
	if len(calls) != 1 {
		t.Fatalf("%d calls", len(calls))
	}
	c := calls[0]
	if c.Header.Get("Authorization") != "Bearer "+testKey || c.Path != "/v3/mail/send" || c.Method != http.MethodPost {
		t.Errorf("request %s %s auth %q", c.Method, c.Path, c.Header.Get("Authorization"))
	}
	var body struct {
		Personalizations []struct {
			To []struct{ Email string } `json:"to"`
		} `json:"personalizations"`
		Content  []struct{ Type string } `json:"content"`
		Tracking struct {
			Click struct {
				Enable *bool `json:"enable"`
			} `json:"click_tracking"`
		} `json:"tracking_settings"`
		MailSettings *json.RawMessage `json:"mail_settings"`
	}
	if err := json.Unmarshal(c.Body, &body); err != nil {
		t.Fatal(err)
	}
	if len(body.Personalizations) != 1 || len(body.Content) != 2 || body.Content[0].Type != "text/plain" || body.Content[1].Type != "text/html" {
		t.Errorf("body = %s", c.Body)
	}
	if body.Tracking.Click.Enable == nil || *body.Tracking.Click.Enable {
		t.Errorf("click tracking must be off so SendGrid does not rewrite the confirmation link: %s", c.Body)
	}
	if body.MailSettings != nil {
		t.Errorf("no sandbox mode unless configured: %s", c.Body)
	}
}

func TestEscaping(t *testing.T) {
	t.Parallel()
	o := testOrder()
	o.Billing.FirstName = `"><img src=x onerror=alert(1)>`
	o.PaymentMethodTitle = "<b>Bank</b>"
	for _, lang := range []string{"en", "es"} {
		m := New(Config{From: "shop@shop.example.com", ShopName: "<i>Shop</i>", Language: lang})
		for name, render := range map[string]func() (Message, error){
			"confirmation": func() (Message, error) { return m.RenderConfirmationRequest(o, "javascript:alert(1)") },
			"failure": func() (Message, error) {
				return m.RenderFailureReport(o, []enrollment.LineFailure{{LineName: "<script>x</script>", Course: "<c>", Reason: "<r>", Attempts: 1}}, "javascript:alert(1)")
			},
			"webhook": func() (Message, error) {
				return m.RenderWebhookAlert("https://shop.example.com", []string{"<script>p</script>"})
			},
		} {
			msg, err := render()
			if err != nil {
				t.Fatalf("%s %s: %v", lang, name, err)
			}
			for _, bad := range []string{"<script", "<img", "<b>Bank", "<i>Shop", `href="javascript:`} {
				if strings.Contains(msg.HTML, bad) {
					t.Errorf("%s %s: html contains unescaped %q", lang, name, bad)
				}
			}
			if name == "confirmation" && !strings.Contains(msg.HTML, "Data &lt;script&gt;alert(1)&lt;/script&gt; &amp; AI") {
				t.Errorf("%s: product name not shown escaped", lang)
			}
		}
	}
}

func TestSendFailureReport(t *testing.T) {
	t.Parallel()
	failures := []enrollment.LineFailure{
		{LineName: "Python 101", Course: "course-v1:Org+PY101+2025", Reason: "course not found", Attempts: 1},
		{LineName: "Bad SKU", Course: "course-v1:broken", Reason: "SKU does not parse", Attempts: 5},
	}
	const link = "https://confirm.example/Confirm?t=RETRY.TOKEN"
	tests := []struct {
		lang, support, subject, link string
		want, not                    []string
	}{
		{"en", "help@aulasneo.example", "[Aula Shop] Order #727: enrollment in 2 courses failed", "",
			[]string{"On hold", "Processing", "click Update", "Open edX", "SKU", "Attempts",
				"If the order is not Completed a few seconds later, ask help@aulasneo.example for support."},
			[]string{"Retry the failed courses", "expires"}},
		{"es", "https://aulasneo.example/soporte", "[Aula Shop] Pedido #727: falló la inscripción en 2 cursos", "",
			[]string{"«En espera»", "«Procesando»", "pulse «Actualizar»", "Open edX", "SKU", "Intentos",
				"Si unos segundos después el pedido no pasa a «Completado», solicite soporte a https://aulasneo.example/soporte."},
			[]string{"Reintentar los cursos", "vence"}},
		// SPEC §2.5b: the Retry button, and the move On hold → Processing still offered.
		{"en", "", "[Aula Shop] Order #727: enrollment in 2 courses failed", link,
			[]string{"Retry the failed courses", link, "used once and expires in 30 days", "On hold", "Processing", "click Update", "SKU", "Attempts"}, nil},
		{"es", "", "[Aula Shop] Pedido #727: falló la inscripción en 2 cursos", link,
			[]string{"Reintentar los cursos que fallaron", link, "una sola vez y vence en 30 días", "«En espera»", "«Procesando»", "pulse «Actualizar»", "SKU", "Intentos"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.lang+map[bool]string{true: "-retry-button"}[tt.link != ""], func(t *testing.T) {
			t.Parallel()
			sg, m := newTest(t, Config{Language: tt.lang, SupportContact: tt.support, LinkTTL: 720 * time.Hour})
			if err := m.SendFailureReport(context.Background(), []string{"admin@shop.example.com"}, testOrder(), failures, tt.link); err != nil {
				t.Fatal(err)
			}
			got := onlyMessage(t, sg)
			if got.Subject != tt.subject {
				t.Errorf("subject = %q, want %q", got.Subject, tt.subject)
			}
			want := append([]string{"#727", "Python 101", "course-v1:Org+PY101+2025", "course not found",
				"Bad SKU", "course-v1:broken", "SKU does not parse", "5"}, tt.want...)
			containsAll(t, "text", got.Text, want...)
			containsAll(t, "html", html.UnescapeString(got.HTML), want...)
			for _, not := range tt.not {
				if strings.Contains(got.Text, not) || strings.Contains(html.UnescapeString(got.HTML), not) {
					t.Errorf("the email without a link shows %q", not)
				}
			}
			if tt.link != "" && !strings.Contains(got.HTML, `href="`+link+`"`) {
				t.Errorf("no button to %s in the html", link)
			}
		})
	}
	m := New(Config{From: "shop@shop.example.com", ShopName: "S"})
	one, err := m.RenderFailureReport(testOrder(), failures[:1], "")
	if err != nil || one.Subject != "[S] Order #727: enrollment in 1 course failed" {
		t.Errorf("one failure: %q %v", one.Subject, err)
	}
	// Without SUPPORT_CONTACT the email names no one.
	if strings.Contains(one.Text, "support") || strings.Contains(one.HTML, "support") {
		t.Errorf("no SUPPORT_CONTACT, yet the email names support:\n%s", one.Text)
	}
}

func TestSendWebhookAlert(t *testing.T) {
	t.Parallel()
	for _, lang := range []string{"en", "es"} {
		t.Run(lang, func(t *testing.T) {
			t.Parallel()
			sg, m := newTest(t, Config{Language: lang, ShopName: "Aula Shop"})
			problems := []string{"order.created webhook is disabled", "order.updated webhook delivers to https://elsewhere.example"}
			if err := m.SendWebhookAlert(context.Background(), []string{"admin@shop.example.com"}, "https://shop.example.com/", problems); err != nil {
				t.Fatal(err)
			}
			got := onlyMessage(t, sg)
			admin := "https://shop.example.com/wp-admin/admin.php?page=wc-settings&tab=advanced&section=webhooks"
			want := map[string][]string{
				"en": {"[Aula Shop] Your WooCommerce webhooks need attention", "WooCommerce > Settings > Advanced > Webhooks", "Active"},
				"es": {"[Aula Shop] Los webhooks de WooCommerce necesitan atención", "WooCommerce > Ajustes > Avanzado > Webhooks", "Activo"},
			}[lang]
			if got.Subject != want[0] {
				t.Errorf("subject = %q", got.Subject)
			}
			containsAll(t, "text", got.Text, append(problems, admin, want[1], want[2])...)
			containsAll(t, "html", html.UnescapeString(got.HTML), append(problems, `href="`+admin+`"`, want[1], want[2])...)
		})
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	const nginx413 = "<html>\r\n<head><title>413 Request Entity Too Large</title></head>\r\n<body></body></html>"
	tests := []struct {
		name      string
		cfg       Config
		fault     *sandbox.Fault
		permanent bool
		message   string // in the error text
	}{
		{name: "400 invalid sender", cfg: Config{From: "Shop <shop@localhost>"}, permanent: true,
			message: "from.email: Does not contain a valid address."},
		{name: "401 wrong key", cfg: Config{APIKey: "SG.revoked"}, permanent: true,
			message: "The provided authorization grant is invalid, expired, or revoked"},
		{name: "403", fault: &sandbox.Fault{Status: 403, Body: `{"errors":[{"field":null,"message":"The from address does not match a verified Sender Identity."}]}`},
			permanent: true, message: "The from address does not match a verified Sender Identity."},
		{name: "413", fault: &sandbox.Fault{Status: 413, Body: nginx413, Header: http.Header{"Content-Type": {"text/html"}}},
			permanent: true, message: "413 Request Entity Too Large"},
		{name: "429", fault: &sandbox.Fault{Status: 429, Body: `{"errors":[{"field":null,"message":"too many requests"}]}`},
			message: "too many requests"},
		{name: "500", fault: &sandbox.Fault{Status: 500, Body: `{"errors":[{"field":null,"message":"internal error"}]}`},
			message: "internal error"},
		{name: "503 without body", fault: &sandbox.Fault{Status: 503}, message: "503"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sg, m := newTest(t, tt.cfg)
			if tt.fault != nil {
				sg.Faults.Inject("send", *tt.fault)
			}
			err := m.SendConfirmationRequest(context.Background(), []string{"admin@shop.example.com"}, testOrder(), "https://c.example/x")
			if err == nil {
				t.Fatal("no error")
			}
			if enrollment.IsPermanent(err) != tt.permanent {
				t.Errorf("permanent = %v, want %v: %v", enrollment.IsPermanent(err), tt.permanent, err)
			}
			if !strings.Contains(err.Error(), tt.message) || !strings.Contains(err.Error(), "order 727") {
				t.Errorf("error %q lacks %q or the order", err, tt.message)
			}
			var apiErr *APIError
			if !errors.As(err, &apiErr) {
				t.Errorf("error %v is not an *APIError", err)
			}
			if n := len(sg.Messages()); n != 0 {
				t.Errorf("kept %d messages", n)
			}
		})
	}
}

func TestSandboxModeIsSuccess(t *testing.T) {
	t.Parallel()
	sg, m := newTest(t, Config{SandboxMode: true})
	if err := m.SendConfirmationRequest(context.Background(), []string{"admin@shop.example.com"}, testOrder(), "https://c.example/x"); err != nil {
		t.Fatalf("200 in sandbox mode must be success: %v", err)
	}
	if calls := sg.Log.Calls("send"); len(calls) != 1 || calls[0].Status != http.StatusOK {
		t.Errorf("calls = %+v, want one answered 200", calls)
	}
	if n := len(sg.Messages()); n != 0 {
		t.Errorf("sandbox mode delivered %d messages", n)
	}
}

func TestTimeoutIsTransient(t *testing.T) {
	t.Parallel()
	sg, m := newTest(t, Config{Timeout: 100 * time.Millisecond})
	sg.Faults.Inject("send", sandbox.Fault{Delay: 3 * time.Second, Times: 1})
	start := time.Now()
	err := m.SendConfirmationRequest(context.Background(), []string{"admin@shop.example.com"}, testOrder(), "https://c.example/x")
	if err == nil || enrollment.IsPermanent(err) {
		t.Fatalf("err = %v, want a transient error", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v, the timeout is 100ms", d)
	}
}

func TestCallerContextAndCustomClient(t *testing.T) {
	t.Parallel()
	sg := sandbox.NewSendGrid(testKey)
	srv := httptest.NewServer(sg)
	defer srv.Close()
	sg.Faults.Inject("send", sandbox.Fault{Delay: 3 * time.Second, Times: 1})
	m := New(Config{APIKey: testKey, APIURL: srv.URL + "/", From: "shop@shop.example.com", HTTPClient: srv.Client()})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := m.SendFailureReport(ctx, []string{"admin@shop.example.com"}, testOrder(), nil, "")
	if err == nil || enrollment.IsPermanent(err) {
		t.Fatalf("err = %v, want a transient error when the caller's context ends", err)
	}
	// The next call goes through, on the same client, to the trimmed URL.
	if err := m.SendWebhookAlert(context.Background(), []string{"admin@shop.example.com"}, "https://shop.example.com", []string{"x"}); err != nil {
		t.Fatal(err)
	}
}

func TestNetworkErrorIsTransient(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	m := New(Config{APIKey: testKey, APIURL: url, From: "shop@shop.example.com"})
	err := m.SendConfirmationRequest(context.Background(), []string{"admin@shop.example.com"}, testOrder(), "https://c.example/x")
	if err == nil || enrollment.IsPermanent(err) {
		t.Fatalf("err = %v, want a transient error", err)
	}
}

func TestPermanentBeforeSending(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		from string
		to   []string
	}{
		{"sender does not parse", "not an address", []string{"admin@shop.example.com"}},
		{"no recipients", "shop@shop.example.com", nil},
		{"no valid recipient", "shop@shop.example.com", []string{"", "nope"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sg, m := newTest(t, Config{From: tt.from})
			err := m.SendConfirmationRequest(context.Background(), tt.to, testOrder(), "https://c.example/x")
			if !enrollment.IsPermanent(err) {
				t.Errorf("err = %v, want permanent", err)
			}
			if n := len(sg.Log.Calls()); n != 0 {
				t.Errorf("%d calls to SendGrid, want none", n)
			}
		})
	}
}
