package config

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aulasneo/wc-openedx/internal/i18n"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func valid() map[string]string {
	return map[string]string{
		"GOOGLE_CLOUD_PROJECT":  "p",
		"WC_URL":                "https://shop.example.com",
		"WC_CONSUMER_KEY":       "ck_123",
		"WC_CONSUMER_SECRET":    "cs_456",
		"WC_WEBHOOK_SECRET":     "whsec",
		"OPENEDX_URL":           "https://lms.example.com",
		"OPENEDX_CLIENT_ID":     "id",
		"OPENEDX_CLIENT_SECRET": "lms-secret-value",
		"SENDGRID_API_KEY":      "SG.key",
		"MAIL_FROM":             "Shop <shop@example.com>",
		"CONFIRM_URL":           "https://confirm.example.com",
		"CONFIRM_SIGNING_KEY":   strings.Repeat("k", 32),
	}
}

func TestLoadDefaults(t *testing.T) {
	t.Parallel()
	c, err := Load(env(valid()))
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != 8080 || c.FirestoreDB != "(default)" || c.JobsTopic != "enrollment-jobs" ||
		c.OpenEdXEnrollStrategy != "enrollment" || c.OpenEdXDefaultMode != "audit" ||
		c.SendGridAPIURL != "https://api.sendgrid.com" || c.Language != "en" ||
		c.ConfirmLinkTTL != 720*time.Hour || c.ReconcileLookback != 72*time.Hour ||
		c.WCCompleteMixedOrders || c.WebhookReactivate || len(c.UnenrollOn) != 0 || len(c.NotifyEmails) != 0 ||
		fmt.Sprint(c.ConfirmPaymentMethods) != "[bacs cheque cod]" || c.EnrollMaxAttempts != 5 {
		t.Errorf("defaults not applied: %+v", c)
	}
}

func TestLoadReportsEveryProblem(t *testing.T) {
	t.Parallel()
	m := valid()
	delete(m, "WC_URL")
	delete(m, "SENDGRID_API_KEY")
	m["PORT"] = "eighty"
	m["LANGUAGE"] = "fr"
	m["CONFIRM_SIGNING_KEY"] = "short"
	m["CONFIRM_LINK_TTL"] = "30 days"
	m["WC_COMPLETE_MIXED_ORDERS"] = "sure"
	m["OPENEDX_URL"] = "lms.example.com"
	m["NOTIFY_EMAILS"] = "a@example.com, not-an-email"
	m["OPENEDX_ENROLL_STRATEGY"] = "magic"
	m["UNENROLL_ON"] = "refunded,failed"
	m["LOG_LEVEL"] = "loud"
	m["SUPPORT_CONTACT"] = "the Aulasneo team"
	_, err := Load(env(m))
	if err == nil {
		t.Fatal("Load accepted a broken configuration")
	}
	for _, want := range []string{
		"WC_URL: required", "SENDGRID_API_KEY: required", "PORT:", "LANGUAGE:", "CONFIRM_SIGNING_KEY: must be at least 32",
		"CONFIRM_LINK_TTL:", "WC_COMPLETE_MIXED_ORDERS:", "OPENEDX_URL:", `NOTIFY_EMAILS: "not-an-email"`,
		"OPENEDX_ENROLL_STRATEGY:", `UNENROLL_ON: "failed"`, "LOG_LEVEL:",
		`SUPPORT_CONTACT: "the Aulasneo team" is neither an email address nor an http(s) URL`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "lms-secret-value") {
		t.Error("error prints a secret")
	}
}

func TestSecretsNeverPrinted(t *testing.T) {
	t.Parallel()
	c, err := Load(env(valid()))
	if err != nil {
		t.Fatal(err)
	}
	out := c.String() + fmt.Sprintf("%v %+v", *c, c.LogValue())
	for _, secret := range []string{"ck_123", "cs_456", "whsec", "lms-secret-value", "SG.key", strings.Repeat("k", 32)} {
		if strings.Contains(out, secret) {
			t.Errorf("secret %q printed: %s", secret, out)
		}
	}
	if !strings.Contains(out, "https://shop.example.com") {
		t.Errorf("non-secret values missing: %s", out)
	}
}

func TestVariablesListsEveryField(t *testing.T) {
	t.Parallel()
	names := map[string]Variable{}
	for _, v := range Variables() {
		names[v.Name] = v
	}
	for _, n := range []string{"PORT", "GOOGLE_CLOUD_PROJECT", "WC_URL", "CONFIRM_SIGNING_KEY", "UNENROLL_ON", "LOG_LEVEL"} {
		if _, ok := names[n]; !ok {
			t.Errorf("Variables() lacks %s", n)
		}
	}
	if !names["WC_WEBHOOK_SECRET"].Secret || names["WC_URL"].Secret || !names["WC_URL"].Required {
		t.Errorf("tags wrong: %+v", names)
	}
}

// A process serving one function reads only that function's variables (SPEC §2.6).
func TestLoadPerFunction(t *testing.T) {
	t.Parallel()
	webhookOnly := map[string]string{
		"FUNCTION_TARGET":      "Webhook",
		"GOOGLE_CLOUD_PROJECT": "p",
		"WC_URL":               "https://shop.example.com",
		"WC_WEBHOOK_SECRET":    "whsec",
	}
	c, err := Load(env(webhookOnly))
	if err != nil {
		t.Fatalf("Webhook with only its variables: %v", err)
	}
	if c.WCWebhookSecret != "whsec" || !c.Serves(Webhook) || c.Serves(Enroll) {
		t.Errorf("webhook config wrong: %+v", c)
	}

	// Whatever else the environment holds, the Webhook process does not keep it.
	all := valid()
	all["FUNCTION_TARGET"] = "Webhook"
	c, err = Load(env(all))
	if err != nil {
		t.Fatal(err)
	}
	if c.WCConsumerKey != "" || c.WCConsumerSecret != "" || c.OpenEdXClientSecret != "" || c.SendGridAPIKey != "" || c.ConfirmSigningKey != "" {
		t.Errorf("the Webhook process holds other functions' secrets: %+v", c)
	}

	all["FUNCTION_TARGET"] = "Confirm"
	c, err = Load(env(all))
	if err != nil {
		t.Fatal(err)
	}
	if c.ConfirmSigningKey == "" || c.WCConsumerKey != "" || c.WCWebhookSecret != "" || c.OpenEdXClientID != "" || c.SendGridAPIKey != "" {
		t.Errorf("the Confirm process holds the wrong secrets: %+v", c)
	}

	confirmOnly := map[string]string{"FUNCTION_TARGET": "Confirm", "GOOGLE_CLOUD_PROJECT": "p", "WC_URL": "https://s.example.com", "MAIL_FROM": "s@example.com"}
	_, err = Load(env(confirmOnly))
	if err == nil || !strings.Contains(err.Error(), "CONFIRM_SIGNING_KEY: required") || strings.Contains(err.Error(), "WC_WEBHOOK_SECRET") {
		t.Errorf("Confirm without its key: %v", err)
	}

	// The Console reads Firestore and queues jobs: no secret at all, and on Cloud Run no
	// push check (Cloud Run's IAM and the operator's identity guard it).
	consoleOnly := map[string]string{"FUNCTION_TARGET": "Console", "K_SERVICE": "console", "GOOGLE_CLOUD_PROJECT": "p", "WC_URL": "https://s.example.com", "LANGUAGE": "es"}
	c, err = Load(env(consoleOnly))
	if err != nil || !c.Serves(Console) || c.Language != "es" {
		t.Errorf("Console with only its variables: %+v, %v", c, err)
	}
	all["FUNCTION_TARGET"] = "Console"
	c, err = Load(env(all))
	if err != nil {
		t.Fatal(err)
	}
	if c.WCConsumerKey != "" || c.WCConsumerSecret != "" || c.WCWebhookSecret != "" || c.OpenEdXClientSecret != "" || c.SendGridAPIKey != "" || c.ConfirmSigningKey != "" || c.MailFrom != "" {
		t.Errorf("the Console process holds what it does not need: %+v", c)
	}

	all["FUNCTION_TARGET"] = "Checkout"
	if _, err := Load(env(all)); err == nil || !strings.Contains(err.Error(), `FUNCTION_TARGET: "Checkout"`) {
		t.Errorf("unknown target: %v", err)
	}
}

// On Cloud Run the private functions refuse to start without the push check (SPEC §2.6).
func TestFailClosedOnCloudRun(t *testing.T) {
	t.Parallel()
	for _, target := range []string{"Enroll", "Sweep", ""} {
		m := valid()
		m["K_SERVICE"] = "svc"
		m["FUNCTION_TARGET"] = target
		_, err := Load(env(m))
		if err == nil || !strings.Contains(err.Error(), "PUSH_AUDIENCE: required on Cloud Run") || !strings.Contains(err.Error(), "PUSH_SERVICE_ACCOUNT: required on Cloud Run") {
			t.Errorf("target %q on Cloud Run without push variables: %v", target, err)
		}
		m["PUSH_AUDIENCE"] = "https://enroll.example.com"
		m["PUSH_SERVICE_ACCOUNT"] = "push@p.iam.gserviceaccount.com"
		if _, err := Load(env(m)); err != nil {
			t.Errorf("target %q with push variables: %v", target, err)
		}
	}
	for _, target := range []string{"Webhook", "Confirm"} {
		m := valid()
		m["K_SERVICE"] = "svc"
		m["FUNCTION_TARGET"] = target
		if _, err := Load(env(m)); err != nil {
			t.Errorf("public %s on Cloud Run: %v", target, err)
		}
	}
	// Off Cloud Run (emulators, local runs) the check may be off.
	if _, err := Load(env(valid())); err != nil {
		t.Error(err)
	}
}

// LANGUAGE takes a language code or a locale of one, as a shell's LANG or LANGUAGE holds it
// (SPEC §2.9); anything else is a problem that names LANGUAGE.
func TestLoadLanguageLocaleForms(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]i18n.Lang{
		"": i18n.English, "en": i18n.English, "es": i18n.Spanish, "es_AR": i18n.Spanish, "es-ES": i18n.Spanish,
		"es_ES.UTF-8": i18n.Spanish, "es_ES:es": i18n.Spanish, "en_US.UTF-8": i18n.English, " ES ": i18n.Spanish,
	} {
		m := valid()
		m["LANGUAGE"] = in
		c, err := Load(env(m))
		if err != nil || c.Language != want {
			t.Errorf("LANGUAGE=%q: %v, %v; want %q", in, c, err, want)
		}
	}
	for _, in := range []string{"fr", "fr_FR.UTF-8", "spanish", "C"} {
		m := valid()
		m["LANGUAGE"] = in
		if _, err := Load(env(m)); err == nil || !strings.Contains(err.Error(), "LANGUAGE: ") || !strings.Contains(err.Error(), "en, es") {
			t.Errorf("LANGUAGE=%q: %v, want a problem naming LANGUAGE and the languages", in, err)
		}
	}
}

func TestLoadSupportContact(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"", "soporte@aulasneo.com", "https://aulasneo.com/soporte", "http://help.example.com"} {
		m := valid()
		m["SUPPORT_CONTACT"] = ok
		if c, err := Load(env(m)); err != nil || c.SupportContact != ok {
			t.Errorf("SUPPORT_CONTACT=%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"Aulasneo <soporte@aulasneo.com>", "ftp://files.example.com", "aulasneo.com", "call us"} {
		m := valid()
		m["SUPPORT_CONTACT"] = bad
		if _, err := Load(env(m)); err == nil || !strings.Contains(err.Error(), "SUPPORT_CONTACT: ") {
			t.Errorf("SUPPORT_CONTACT=%q accepted: %v", bad, err)
		}
	}
}
