package local_test

import (
	"context"
	"html"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aulasneo/wc-openedx/internal/enrollment"
	"github.com/aulasneo/wc-openedx/internal/sandbox"
)

// Everything the shop's people read follows LANGUAGE (SPEC §2.9). Each language runs the
// paths that write to them: a card order enrolled, a buyer without an account, an unknown
// course, a bad SKU, an order whose email a plugin retyped, a bank transfer confirmed through
// the link (its pages too), a confirmation email SendGrid refused, a completion the shop
// refused, a refund that takes access away, a cancellation whose access another order keeps,
// and the sweep's webhook, legacy-webhook and unreadable-order alerts. Then every note of the
// sandbox shop, every message of the sandbox mailbox and every page shown must be free of the
// other language's prose. Quoted text (what Open edX, WooCommerce or SendGrid said, webhook
// names), addresses, URLs, course ids, identifiers and the shop's own words (its name, product
// names, payment method titles) are not prose of the service and are left out of the check.
func TestEverythingTheShopReadsIsInItsLanguage(t *testing.T) {
	t.Parallel()
	for _, lc := range []languageCase{
		{
			name: "es", locale: "es_AR", support: "https://aulasneo.example/soporte",
			card: "Tarjeta de crédito", bacs: "Transferencia bancaria directa",
			foreign: englishWords,
			want: map[string][]string{
				"confirmation email": {"149,00 USD", "Transferencia bancaria directa", "Pulse el botón solo después de comprobar que el pago se acreditó."},
				"failure note":       {"«En espera» y pulse «Actualizar»", "solicite soporte a https://aulasneo.example/soporte"},
				"failure email":      {"pulse «Actualizar»", "solicite soporte a https://aulasneo.example/soporte"},
				"audit notes":        {"Correo de confirmación del pago enviado a shop-admin@example.com.", "Pago confirmado con el enlace del correo de confirmación el ", " de 20"},
			},
		},
		{
			name: "en", locale: "en_US.UTF-8", support: "support@aulasneo.example",
			card: "Credit card", bacs: "Direct bank transfer",
			foreign: spanishWords,
			want: map[string][]string{
				"confirmation email": {"149.00 USD", "Direct bank transfer", "Press the button only after checking that the payment has arrived."},
				"failure note":       {"On hold and click Update", "ask support@aulasneo.example for support"},
				"failure email":      {"click Update", "ask support@aulasneo.example for support"},
				"audit notes":        {"Payment confirmation email sent to shop-admin@example.com.", "Payment confirmed through the link of the confirmation email on "},
			},
		},
	} {
		t.Run(lc.name, func(t *testing.T) {
			t.Parallel()
			lc.run(t)
		})
	}
}

type languageCase struct {
	name, locale, support string
	card, bacs            string          // the shop's payment method titles, in its language
	foreign               map[string]bool // words of the other language
	want                  map[string][]string
}

// shopWords are the shop's own words in the orders: not the service's prose.
var shopWords = []string{"Aulasneo", "Ana García", "Python 101", "Go 201", "ML 301", "Test"}

func (lc languageCase) run(t *testing.T) {
	st := newStack(t, withEnv("LANGUAGE", lc.locale), withEnv("SUPPORT_CONTACT", lc.support),
		withEnv("UNENROLL_ON", "refunded,cancelled"), withEnv("MAIL_FROM", "Aulasneo <cursos@aulasneo.example>"))
	if string(st.Config.Language) != lc.name {
		t.Fatalf("LANGUAGE=%s read as %q", lc.locale, st.Config.Language)
	}
	card := func(email string, lines ...sandbox.LineSpec) sandbox.OrderSpec {
		s := cardOrder(lines...)
		s.PaymentMethodTitle, s.Email = lc.card, ptr(email)
		return s
	}
	bacs := func(lines ...sandbox.LineSpec) sandbox.OrderSpec {
		s := bacsOrder(lines...)
		s.PaymentMethodTitle = lc.bacs
		return s
	}
	var orders []int64
	var pages []string
	place := func(spec sandbox.OrderSpec) int64 {
		id := st.Shop.CreateOrder(spec)
		orders = append(orders, id)
		return id
	}
	notesOf := func(id int64) string { return notes(st, id) }
	// stored is the order's record, an empty one while the service has none.
	stored := func(id int64) *enrollment.OrderRecord {
		rec, err := st.App.Store.Get(context.Background(), id)
		if err != nil {
			return &enrollment.OrderRecord{}
		}
		return rec
	}

	// One at a time, as their faults hit whatever call comes next.
	// SendGrid refuses the confirmation email: a note says so and what to do.
	st.Mail.Faults.Inject("send", sandbox.Fault{Status: 400, Body: `{"errors":[{"message":"The from address does not match a verified Sender Identity.","field":"from"}]}`, Times: 1})
	refused := place(bacs(course("Python 101", coursePy)))
	waitFor(t, "the note that the confirmation email failed", 30*time.Second, func() bool { return len(st.Shop.Notes(refused)) == 1 })
	// The shop refuses to complete an enrolled order: a note and an email say so.
	st.Shop.Faults.Inject("update-order", sandbox.Fault{Status: 400, Body: `{"code":"rest_invalid_param","message":"Invalid parameter(s): status","data":{"status":400}}`, Times: 1})
	notCompleted := place(card("beto@example.com", course("Python 101", coursePy)))
	waitFor(t, "the completion refused", 30*time.Second, func() bool {
		return stored(notCompleted).Completion.Mailed && len(st.Shop.Notes(notCompleted)) == 1
	})

	enrolled := place(card(learner, course("Python 101", coursePy)))
	allowed := place(card("nueva@example.com", course("Go 201", courseGo)))
	unknown := place(card(learner, course("Test", "course-v1:ExampleX+NEW1+2026_T1")))
	badSKU := place(card(learner, course("Test", "course-v1:broken")))
	oddEmail := card(learner, course("Test", coursePy))
	oddEmail.Fields = sandbox.Fields{"billing": map[string]any{"first_name": "Ana", "email": map[string]string{"address": learner}}}
	unreadable := place(oddEmail)
	keeps := place(card(learner, course("Go 201", courseGo)))
	kept := place(card(learner, course("Go 201", courseGo)))
	confirmed := place(bacs(course("ML 301", courseMl)))

	// The bank transfer, confirmed through the link; its pages are read too.
	o, _ := st.Shop.Order(confirmed)
	waitFor(t, "the confirmation email", 30*time.Second, func() bool { return len(emailsTo(st, o.Number)) == 1 })
	tok := tokenFromEmail(t, st, emailsTo(st, o.Number)[0])
	for _, method := range []string{http.MethodGet, http.MethodPost, http.MethodPost} {
		code, page := confirmPage(t, st, method, tok)
		if code != http.StatusOK {
			t.Fatalf("%s answered %d", method, code)
		}
		pages = append(pages, page)
	}
	for _, id := range []int64{enrolled, allowed, keeps, kept, confirmed} {
		waitFor(t, "order "+strconv.FormatInt(id, 10)+" completed", 60*time.Second, func() bool {
			return status(st, id) == "completed" && stored(id).Completion.Noted
		})
	}
	for _, id := range []int64{unknown, badSKU, unreadable} {
		waitFor(t, "the failure of order "+strconv.FormatInt(id, 10)+" reported", 60*time.Second, func() bool {
			rec := stored(id)
			return len(rec.Lines) > 0 && rec.Lines[0].Mailed > 0 && rec.Lines[0].Reported > 0
		})
	}
	waitFor(t, "the payment confirmation noted", 30*time.Second, func() bool { return stored(confirmed).ConfirmNoted })

	// The failure email's Retry link (SPEC §2.5b): its page, the page after pressing the
	// button, and the page of the link used again.
	uo, _ := st.Shop.Order(unknown)
	retry := retryToken(t, st, failureEmail(t, st, uo.Number))
	for _, method := range []string{http.MethodGet, http.MethodPost, http.MethodPost} {
		code, page := confirmPage(t, st, method, retry)
		if code != http.StatusOK {
			t.Fatalf("Retry %s answered %d", method, code)
		}
		pages = append(pages, page)
	}
	waitFor(t, "the retried order failed again and reported", 60*time.Second, func() bool {
		rec := stored(unknown)
		return len(rec.Lines) > 0 && rec.Lines[0].FailedGen > 1 && rec.Lines[0].Mailed == rec.Lines[0].FailedGen && rec.Lines[0].Reported == rec.Lines[0].FailedGen
	})

	// Access taken away by a refund; kept on a cancellation, as another order grants it.
	st.Shop.Refund(enrolled, "refund", nil)
	st.Shop.SetStatus(kept, "cancelled")
	for _, id := range []int64{enrolled, kept} {
		waitFor(t, "the access note of order "+strconv.FormatInt(id, 10), 60*time.Second, func() bool {
			rec := stored(id)
			return len(rec.Lines) > 0 && rec.Lines[0].Noted
		})
	}

	// The sweep's alerts: a paused webhook, a webhook on a legacy API version, an order whose
	// id a plugin wrote as text.
	st.Shop.SetLegacyRESTAPI(true)
	st.Shop.SetWebhookAPIVersion(1, "legacy_v3")
	st.Shop.SetWebhookStatus(2, "paused")
	legacy := place(card("carla@example.com", course("Python 101", coursePy)))
	pending := card(learner, course("Go 201", courseGo))
	pending.Status = "pending"
	bad := st.Shop.CreateOrder(pending)
	st.Shop.UpdateOrder(bad, func(o *sandbox.OrderState) { o.Fields = sandbox.Fields{"id": strconv.FormatInt(bad, 10)} })
	st.Shop.Wait()
	sweep(t, st)
	waitFor(t, "the legacy webhook's order completed by reconciliation", 60*time.Second, func() bool {
		return status(st, legacy) == "completed" && stored(legacy).Completion.Noted
	})
	alerts := func() (n int) {
		for _, m := range st.Mail.Messages() {
			if !strings.Contains(m.Subject, "#") { // the alerts name no order
				n++
			}
		}
		return n
	}
	waitFor(t, "the three alerts", 30*time.Second, func() bool {
		if alerts() < 3 {
			sweep(t, st)
		}
		return alerts() == 3
	})

	// What the shop's people read.
	var texts []readText
	for _, id := range orders {
		for _, n := range st.Shop.Notes(id) {
			texts = append(texts, readText{"note on order " + strconv.FormatInt(id, 10), n.Note})
		}
	}
	for _, m := range st.Mail.Messages() {
		texts = append(texts, readText{"email " + m.Subject, m.Subject + "\n" + m.Text},
			readText{"html email " + m.Subject, htmlText(m.HTML)})
	}
	for i, p := range pages {
		texts = append(texts, readText{"Confirm or Retry page " + strconv.Itoa(i+1), htmlText(p)})
	}
	for _, x := range texts {
		checkProse(t, x, lc.foreign)
	}

	// Every path wrote something, in the expected words.
	mails := st.Mail.Messages()
	// The confirmation emails of both bank transfers (one refused), 3 line failures and the
	// failure of the retried line, one completion failure, 3 alerts: SendGrid accepted
	// 1 + 4 + 1 + 3 of them; the refused one is not in its mailbox.
	if len(mails) != 9 {
		var subjects []string
		for _, m := range mails {
			subjects = append(subjects, m.Subject)
		}
		t.Errorf("%d emails, want 9: %q", len(mails), subjects)
	}
	for _, id := range orders {
		if len(st.Shop.Notes(id)) == 0 {
			t.Errorf("order %d has no note", id)
		}
	}
	has := func(what, text string) {
		t.Helper()
		for _, w := range lc.want[what] {
			if !strings.Contains(text, w) {
				t.Errorf("%s lacks %q:\n%s", what, w, text)
			}
		}
	}
	has("confirmation email", emailsTo(st, o.Number)[0].Text)
	has("failure note", notesOf(unknown))
	has("audit notes", notesOf(confirmed))
	for _, m := range mails {
		if strings.Contains(m.Subject, "#"+strconv.FormatInt(unknown, 10)+":") {
			has("failure email", m.Text)
		}
	}
	if n := notesOf(notCompleted); !strings.Contains(n, lc.support) || !strings.Contains(n, "Invalid parameter(s): status") {
		t.Errorf("the completion note names neither the support contact nor the shop's answer:\n%s", n)
	}
	if n := notesOf(refused); !strings.Contains(n, "The from address does not match a verified Sender Identity.") {
		t.Errorf("the note does not quote SendGrid:\n%s", n)
	}
	if n := notesOf(unknown); !strings.Contains(n, "No course 'course-v1:ExampleX+NEW1+2026_T1' found for enrollment") {
		t.Errorf("the failure note does not quote Open edX:\n%s", n)
	}
	if n := notesOf(kept); !strings.Contains(n, "#"+strconv.FormatInt(keeps, 10)) {
		t.Errorf("the note does not name the order that keeps access:\n%s", n)
	}
	if n := notesOf(confirmed); strings.Count(n, "shop-admin@example.com") != 1 {
		t.Errorf("the email-sent note is not there once:\n%s", n)
	}
}

type readText struct{ where, text string }

var (
	// Not the service's prose: quotations (the LMS's, the shop's or SendGrid's words, webhook
	// names), addresses, URLs, course ids, environment variables, dotted or underscored
	// identifiers (order.created, billing.email, is_staff) and bracketed code.
	quotedRE     = regexp.MustCompile(`“[^”]*”|«[^»]*»|"[^"]*"|\[[^\]]*\]|\{[^}]*\}`)
	nonProseRE   = regexp.MustCompile(`https?://\S+|[^\s<>()]+@[^\s<>()]+|course-v1:\S+|[\p{L}0-9]+(?:[._][\p{L}0-9]+)+`)
	wordRE       = regexp.MustCompile(`\p{L}+`)
	leakRE       = regexp.MustCompile(`%!|\b(?:note|reason|lms|shop|mail|said|hook|conf|fail|page|label|unread|legacy|sku|console|dev)\.[a-z_]+(?:\.[a-z_]+)*\b`)
	styleRE      = regexp.MustCompile(`(?s)<style.*?</style>|<!--.*?-->`)
	tagRE        = regexp.MustCompile(`<[^>]*>`)
	englishProse = []string{
		"the", "and", "of", "to", "is", "was", "has", "have", "not", "could", "please", "your", "you",
		"order", "orders", "payment", "paid", "enroll", "enrolled", "enrollment", "failed", "customer",
		"buyer", "learner", "click", "update", "hold", "processing", "completed", "with", "this", "that",
		"from", "sent", "confirm", "confirmed", "access", "removed", "retry", "reason", "course",
		"courses", "attempts", "what", "how", "link", "button", "when", "which", "after", "been", "an",
		"for", "by", "on", "it", "in", "email", "shop", "service", "settings", "received", "expires",
		"days", "need", "attention", "found", "skipped", "read", "support",
	}
	spanishProse = []string{
		"el", "la", "los", "las", "del", "que", "y", "en", "pedido", "pedidos", "pago", "cliente",
		"inscrito", "inscripción", "inscribir", "curso", "cursos", "correo", "enlace", "se", "su",
		"usted", "para", "con", "por", "falló", "pulse", "actualizar", "procesando", "espera",
		"completado", "motivo", "intentos", "tienda", "servicio", "soporte", "confirmado", "ajustes",
		"acceso", "cancelado", "reembolsado", "de",
	}
	englishWords = wordSet(englishProse)
	spanishWords = wordSet(spanishProse)
)

func wordSet(ws []string) map[string]bool {
	m := map[string]bool{}
	for _, w := range ws {
		m[w] = true
	}
	return m
}

// htmlText is what a reader sees of an HTML page or email.
func htmlText(s string) string {
	s = styleRE.ReplaceAllString(s, " ")
	s = tagRE.ReplaceAllString(s, " ")
	return html.UnescapeString(s)
}

// checkProse fails when x holds words of the other language (foreign), a format error or a
// catalogue key.
func checkProse(t *testing.T, x readText, foreign map[string]bool) {
	t.Helper()
	if leak, words := proseProblems(x.text, foreign); leak != "" || len(words) > 0 {
		t.Errorf("%s holds %q and words of the other language %q:\n%s", x.where, leak, words, x.text)
	}
}

// proseProblems returns a format error or catalogue key in text, and the words of the
// foreign language in its prose.
func proseProblems(text string, foreign map[string]bool) (leak string, words []string) {
	leak = leakRE.FindString(text)
	prose := text
	for _, w := range shopWords {
		prose = strings.ReplaceAll(prose, w, " ")
	}
	prose = quotedRE.ReplaceAllString(prose, " ")
	prose = nonProseRE.ReplaceAllString(prose, " ")
	for _, w := range wordRE.FindAllString(prose, -1) {
		if lw := strings.ToLower(w); foreign[lw] && !slices.Contains(words, lw) {
			words = append(words, lw)
		}
	}
	return leak, words
}

// The prose check itself: it finds the other language in a sentence, and leaves quotations,
// addresses and identifiers alone.
func TestProseCheck(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		text    string
		foreign map[string]bool
		bad     bool
	}{
		{"Falló la inscripción en Open edX: el curso no existe.", englishWords, false},
		{"Open edX enrollment failed.", englishWords, true},
		{"- course-v1:X+Y+Z (Python 101): Open edX no tiene ese curso (Open edX respondió 400: «No course found for the enrollment»)", englishWords, false},
		{"Correo enviado a the.order@example.com desde https://the.example/order, campo billing.email", englishWords, false},
		{"Pedido #12: confirme the bank transfer", englishWords, true},
		{"The order could not be completed (WooCommerce answered 400: “Pedido no válido”)", spanishWords, false},
		{"The order de la tienda", spanishWords, true},
		{"Open edX enrollment failed: note.failed", spanishWords, true},
		{"Total: %!s(MISSING)", spanishWords, true},
	} {
		leak, words := proseProblems(c.text, c.foreign)
		if got := leak != "" || len(words) > 0; got != c.bad {
			t.Errorf("%q: problems %q %q, want some: %v", c.text, leak, words, c.bad)
		}
	}
}
