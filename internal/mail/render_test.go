package mail

import (
	"html"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aulasneo/wc-openedx/internal/enrollment"
)

func TestRenderEveryKind(t *testing.T) {
	t.Parallel()
	o := testOrder()
	o.Billing = enrollment.Person{Email: "buyer@example.com"} // no name
	o.DateCreated = time.Time{}
	for _, lang := range []string{"en", "es", "", "fr"} {
		m := New(Config{From: "shop@shop.example.com", Language: lang})
		msgs := map[Kind]func() (Message, error){
			KindConfirmationRequest: func() (Message, error) { return m.RenderConfirmationRequest(o, "https://c.example/x") },
			KindFailureReport: func() (Message, error) {
				return m.RenderFailureReport(o, []enrollment.LineFailure{{LineName: "L", Course: "C", Reason: "R", Attempts: 1}}, "")
			},
			KindFailureReport + "+retry": func() (Message, error) {
				return m.RenderFailureReport(o, []enrollment.LineFailure{{LineName: "L", Course: "C", Reason: "R", Attempts: 1}}, "https://c.example/r")
			},
			KindWebhookAlert: func() (Message, error) { return m.RenderWebhookAlert("", []string{"p"}) },
			KindLegacyWebhook: func() (Message, error) {
				return m.RenderLegacyWebhookAlert("", []enrollment.LegacyWebhook{{ID: "3", Topic: "order.created"}})
			},
			KindUnreadableOrder: func() (Message, error) {
				return m.RenderUnreadableOrderAlert("", []enrollment.UnreadableOrder{{Ref: "1002", Problem: "p"}})
			},
		}
		for kind, render := range msgs {
			msg, err := render()
			if err != nil {
				t.Fatalf("%q %s: %v", lang, kind, err)
			}
			for part, s := range map[string]string{"subject": msg.Subject, "text": msg.Text, "html": msg.HTML} {
				if s == "" || strings.Contains(s, "%!") || strings.Contains(s, "{{") || strings.Contains(s, "<no value>") {
					t.Errorf("%q %s %s is broken:\n%s", lang, kind, part, s)
				}
			}
			if !strings.HasPrefix(msg.Subject, "[WooCommerce] ") {
				t.Errorf("%q %s: subject %q, want the fallback shop name", lang, kind, msg.Subject)
			}
			if !strings.HasPrefix(msg.HTML, "<!DOCTYPE html>") || !strings.Contains(msg.HTML, "<!--[if mso]>") {
				t.Errorf("%q %s: html lacks the doctype or the Outlook table", lang, kind)
			}
		}
	}
}

func TestConfirmationSubjectPerMethod(t *testing.T) {
	t.Parallel()
	want := map[string][2]string{
		"bacs":     {"confirm the bank transfer", "confirme la transferencia"},
		"cheque":   {"confirm the cheque payment", "confirme el pago con cheque"},
		"cod":      {"confirm the cash on delivery payment", "confirme el pago contra reembolso"},
		"other_gw": {"confirm the payment", "confirme el pago"},
	}
	for method, w := range want {
		for i, lang := range []string{"en", "es"} {
			o := testOrder()
			o.PaymentMethod = method
			msg, err := New(Config{From: "s@x.example", ShopName: "S", Language: lang}).RenderConfirmationRequest(o, "https://c.example")
			if err != nil || !strings.HasSuffix(msg.Subject, ": "+w[i]) {
				t.Errorf("%s %s: subject %q %v", method, lang, msg.Subject, err)
			}
		}
	}
}

// The customer's address is a mailto: link to that one address: one the buyer wrote to
// smuggle in recipients or headers (RFC 6068 ?, &, ,) adds neither.
func TestMailtoCannotAddRecipientsOrHeaders(t *testing.T) {
	t.Parallel()
	o := testOrder()
	o.Billing.Email = "x?cc=other@evil.example&subject=hi@shop.example"
	msg, err := New(Config{From: "shop@shop.example.com", Language: "en"}).RenderConfirmationRequest(o, "https://c.example/x")
	if err != nil {
		t.Fatal(err)
	}
	hrefs := regexp.MustCompile(`href="(mailto:[^"]*)"`).FindAllStringSubmatch(msg.HTML, -1)
	if len(hrefs) != 1 {
		t.Fatalf("%d mailto links, want 1:\n%s", len(hrefs), msg.HTML)
	}
	href := html.UnescapeString(hrefs[0][1])
	u, err := url.Parse(href)
	if err != nil {
		t.Fatal(err)
	}
	if u.RawQuery != "" || strings.ContainsAny(u.Opaque, "?&,") {
		t.Errorf("mailto link %q carries headers or more recipients (query %q)", href, u.RawQuery)
	}
	if to, _ := url.PathUnescape(u.Opaque); to != o.Billing.Email {
		t.Errorf("mailto link %q is not to the one address %q (got %q)", href, o.Billing.Email, to)
	}
	for _, plain := range []string{"ana.garcia+курсы@example.com", "o'brien@example.com", "a,b@example.com"} {
		got := string(mailto(plain))
		u, _ := url.Parse(got)
		if to, _ := url.PathUnescape(u.Opaque); to != plain || u.RawQuery != "" || strings.Contains(u.Opaque, ",") {
			t.Errorf("mailto(%q) = %q", plain, got)
		}
	}
}

// The legacy-version alert names each webhook and the fix, in both languages.
func TestLegacyWebhookAlert(t *testing.T) {
	t.Parallel()
	hooks := []enrollment.LegacyWebhook{{ID: "3", Name: "Order created", Topic: "order.created"}, {ID: "4", Topic: "order.updated"}, {Topic: "order.updated"}}
	for lang, want := range map[string][]string{
		"en": {"Webhook #3 “Order created” (order.created)", "Webhook #4 (order.updated)", "did not send its id", "WP REST API Integration v3", "legacy API version"},
		"es": {"Webhook #3 «Order created» (order.created)", "Webhook #4 (order.updated)", "no envió su id", "WP REST API Integration v3", "versión de API antigua"},
	} {
		msg, err := New(Config{From: "Shop <s@x.example>", Language: lang}).RenderLegacyWebhookAlert("https://shop.example/", hooks)
		if err != nil {
			t.Fatal(err)
		}
		for _, part := range []string{msg.Subject + msg.Text, msg.HTML} {
			for _, w := range want {
				if !strings.Contains(part, w) && !strings.Contains(part, strings.ReplaceAll(w, "“", "&#34;")) {
					t.Errorf("%s: lacks %q:\n%s", lang, w, part)
				}
			}
		}
		if !strings.Contains(msg.Text, "https://shop.example/wp-admin/admin.php?page=wc-settings&tab=advanced&section=webhooks") {
			t.Errorf("%s: no link to the webhook settings:\n%s", lang, msg.Text)
		}
	}
}

func TestUnreadableOrderAlert(t *testing.T) {
	t.Parallel()
	orders := []enrollment.UnreadableOrder{{Ref: "1002", Problem: `the order's "id" is text "1002"`}, {Problem: `the order has no "id"`}}
	for lang, want := range map[string][]string{
		"en": {"could not read 2 orders", "Order 1002: the order", "An order without an id"},
		"es": {"no pudo leer 2 pedidos", "Pedido 1002: the order", "Un pedido sin id"},
	} {
		msg, err := New(Config{From: "Shop <s@x.example>", Language: lang}).RenderUnreadableOrderAlert("https://shop.example", orders)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range want {
			if !strings.Contains(msg.Subject+msg.Text, w) {
				t.Errorf("%s: lacks %q:\n%s\n%s", lang, w, msg.Subject, msg.Text)
			}
		}
	}
}
