package main

import (
	"context"
	"fmt"
	"html"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/aulasneo/wc-openedx/function/local"
	"github.com/aulasneo/wc-openedx/internal/i18n"
	"github.com/aulasneo/wc-openedx/internal/sandbox"
)

// The demo's courses, learner and products.
const (
	demoCoursePy   = "course-v1:DemoX+PY101+2026"
	demoCourseData = "course-v1:DemoX+DATA201+2026"
	demoCourseNope = "course-v1:DemoX+NOPE+2026" // not in the LMS
	demoUser       = "ada"
	demoEmail      = "ada@example.com"
)

// demoWait bounds the wait for each order's outcome.
const demoWait = 30 * time.Second

// confirmButton is the label of the Confirm page's button in lang (internal/i18n); the
// confirmation email's button says the same. TestBrowserDevRetry checks the Spanish one
// against the page the link opens, TestDemo the English one.
func confirmButton(lang string) string { return i18n.Of(lang).T("page.confirm_button") }

// quote puts a label of a button or a status in the language's quotation marks.
func quote(lang, label string) string {
	if lang == "es" {
		return "«" + label + "»"
	}
	return `"` + label + `"`
}

// demoOrder is one sample order and what it should lead to.
type demoOrder struct {
	title  string // "card payment (stripe)"
	spec   sandbox.OrderSpec
	expect string                                   // the expected outcome, in words
	done   func(st *local.Stack, o demoResult) bool // whether the outcome was reached
	id     int64
}

// demoResult is what the sandboxes show about one order.
type demoResult struct {
	order       sandbox.OrderState
	enrollments []sandbox.LMSEnrollment
	notes       []sandbox.Note
	emails      []sandbox.SentMessage
}

// demoOrders are the demo's orders as a shop in lang would hold them: at checkout
// WooCommerce copies the gateway's title into the order (WC_Order::set_payment_method with
// the gateway object), and a Spanish site's gateways carry Spanish titles, so its bank
// transfer reads "Transferencia bancaria directa".
func demoOrders(lang string) []*demoOrder {
	email := demoEmail
	words := map[string]string{"card": "Credit / Debit Card", "bacs": "Direct bank transfer",
		"py": "Python for Everyone (verified)", "data": "Data Analysis 201", "nope": "A course that does not exist"}
	if lang == "es" {
		words = map[string]string{"card": "Tarjeta de crédito o débito", "bacs": "Transferencia bancaria directa",
			"py": "Python para todos (verified)", "data": "Análisis de datos 201", "nope": "Un curso que no existe"}
	}
	line := func(name, sku string) sandbox.LineSpec {
		return sandbox.LineSpec{Name: name, ProductID: 501, Quantity: 1, Total: "149.00", SKU: &sku}
	}
	base := sandbox.OrderSpec{FirstName: "Ada", LastName: "Lovelace", Email: &email}
	card := base
	card.Status, card.PaymentMethod, card.PaymentMethodTitle, card.TransactionID = "processing", "stripe", words["card"], "pi_demo_1"
	card.Lines = []sandbox.LineSpec{line(words["py"], demoCoursePy+"|verified")}
	bacs := base
	bacs.Status, bacs.PaymentMethod, bacs.PaymentMethodTitle = "on-hold", "bacs", words["bacs"]
	bacs.Lines = []sandbox.LineSpec{line(words["data"], demoCourseData)}
	bad := card
	bad.TransactionID = "pi_demo_3"
	bad.Lines = []sandbox.LineSpec{line(words["nope"], demoCourseNope)}
	return []*demoOrder{
		{
			title: "card payment (stripe), " + demoCoursePy + "|verified", spec: card,
			expect: "enrolled in the LMS and completed in the shop",
			done: func(_ *local.Stack, r demoResult) bool {
				return r.order.Status == "completed" && len(r.enrollments) > 0 && len(r.notes) > 0
			},
		},
		{
			title: "bank transfer (bacs), " + demoCourseData, spec: bacs,
			expect: "a confirmation email; no enrollment until someone confirms the payment",
			done: func(st *local.Stack, r demoResult) bool {
				return confirmLink(r.emails, st.Config.ConfirmURL) != ""
			},
		},
		{
			title: "card payment (stripe), " + demoCourseNope + " (no such course)", spec: bad,
			expect: "a failure note on the order and a failure email",
			done: func(_ *local.Stack, r demoResult) bool {
				return len(r.notes) > 0 && len(r.emails) > 0
			},
		},
	}
}

// runDemo sets up the sandbox LMS, sends the three orders through the shop's webhooks, waits
// for their outcomes and prints them. It then watches the bank-transfer order and says when it
// was confirmed, enrolled and completed.
// printed is called once the outcomes are on the screen.
func runDemo(ctx context.Context, w io.Writer, st *local.Stack, printed func()) error {
	if st.Shop == nil || st.LMS == nil || st.Mail == nil {
		return fmt.Errorf("-demo needs the simulated shop, LMS and SendGrid")
	}
	st.LMS.AddCourse(demoCoursePy, "audit", "verified")
	st.LMS.AddCourse(demoCourseData, "audit")
	st.LMS.AddUser(demoUser, demoEmail)

	orders := demoOrders(pageLanguage(st.Config.Language))
	fmt.Fprintf(w, "\nDemo: the LMS has %s (audit, verified) and %s (audit), and the learner %s <%s>.\n",
		demoCoursePy, demoCourseData, demoUser, demoEmail)
	fmt.Fprintf(w, "Creating %d orders in the simulated shop; it signs them and delivers them to /Webhook as WooCommerce would…\n", len(orders))
	for _, o := range orders {
		o.id = st.Shop.CreateOrder(o.spec)
	}

	reached := make([]bool, len(orders))
	for i, o := range orders {
		var err error
		if reached[i], err = waitOutcome(ctx, st, o); err != nil {
			return err
		}
	}
	// Let the last deliveries (the shop's own "completed" webhook) settle before printing.
	st.Shop.Wait()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(time.Second):
	}

	for i, o := range orders {
		printOrder(w, st, o, collect(st, o.id), reached[i])
	}
	fmt.Fprintf(w, "\nAll emails: %s/mailbox/\n", st.URL)
	fmt.Fprintf(w, "Everything that runs: %s/\n", st.URL)
	if printed != nil {
		printed()
	}
	for _, o := range orders {
		switch {
		case o.spec.PaymentMethod == "bacs":
			go watchCompleted(ctx, w, st, o, "(bank transfer): payment confirmed, enrolled and completed.")
		case o.spec.Lines[0].SKU != nil && *o.spec.Lines[0].SKU == demoCourseNope:
			go watchCompleted(ctx, w, st, o, "(retried): enrolled and completed.")
		}
	}
	fmt.Fprintln(w, "The service keeps running so that the links work. Ctrl-C to stop.")
	return nil
}

// waitOutcome polls the sandboxes until the order's outcome is reached or demoWait passes.
func waitOutcome(ctx context.Context, st *local.Stack, o *demoOrder) (bool, error) {
	deadline := time.Now().Add(demoWait)
	for {
		if o.done(st, collect(st, o.id)) {
			return true, nil
		}
		if time.Now().After(deadline) {
			return false, nil
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// collect gathers what the sandboxes hold about an order.
func collect(st *local.Stack, id int64) demoResult {
	var r demoResult
	r.order, _ = st.Shop.Order(id)
	r.notes = st.Shop.Notes(id)
	for _, e := range st.LMS.Enrollments() {
		for _, a := range e.Attributes {
			if a.Value == r.order.Number {
				r.enrollments = append(r.enrollments, e)
				break
			}
		}
	}
	tag := "#" + r.order.Number + ":"
	for _, m := range st.Mail.Messages() {
		if strings.Contains(m.Subject, tag) {
			r.emails = append(r.emails, m)
		}
	}
	return r
}

func printOrder(w io.Writer, st *local.Stack, o *demoOrder, r demoResult, ok bool) {
	fmt.Fprintf(w, "\nOrder #%s: %s\n", r.order.Number, o.title)
	if ok {
		fmt.Fprintf(w, "  outcome:     as expected: %s\n", o.expect)
	} else {
		fmt.Fprintf(w, "  outcome:     NOT REACHED within %s (expected %s); the service's logs may say why\n", demoWait, o.expect)
	}
	fmt.Fprintf(w, "  payment:     %s (%s)\n", r.order.PaymentMethodTitle, r.order.PaymentMethod)
	fmt.Fprintf(w, "  status:      %s\n", r.order.Status)
	printEnrollments(w, r.enrollments)
	if len(r.notes) == 0 {
		fmt.Fprintln(w, "  notes:       none")
	}
	for i, n := range r.notes {
		label := "  notes:      "
		if i > 0 {
			label = "              "
		}
		// The first line, and the "- course …" lines that follow it (not the advice).
		for j, l := range strings.Split(strings.TrimSpace(n.Note), "\n") {
			if j == 0 {
				fmt.Fprintf(w, "%s %s\n", label, l)
			} else if strings.HasPrefix(l, "- ") {
				fmt.Fprintf(w, "                 %s\n", l)
			}
		}
	}
	if len(r.emails) == 0 {
		fmt.Fprintln(w, "  emails:      none")
	}
	for i, m := range r.emails {
		label := "  emails:     "
		if i > 0 {
			label = "              "
		}
		fmt.Fprintf(w, "%s %q to %s\n", label, m.Subject, strings.Join(m.To, ", "))
	}
	lang := pageLanguage(st.Config.Language)
	if o.spec.PaymentMethod == "bacs" {
		if link := confirmLink(r.emails, st.Config.ConfirmURL); link != "" {
			fmt.Fprintf(w, "  confirm:     %s\n", link)
			fmt.Fprintf(w, "  mailbox:     %s/mailbox/\n", st.URL)
			fmt.Fprintf(w, "  Open the confirmation link in a browser and press %s;\n", quote(lang, confirmButton(lang)))
			fmt.Fprintln(w, "  then watch this console: the order will be enrolled and completed.")
		}
	}
	if ok && len(o.spec.Lines) > 0 && o.spec.Lines[0].SKU != nil && *o.spec.Lines[0].SKU == demoCourseNope {
		update := quote(lang, sandbox.ShopUpdateButton(lang))
		fmt.Fprintln(w, "  retry:       the course does not exist in the LMS. Fix it and retry the order by hand, as the")
		fmt.Fprintln(w, "               shop's guide says:")
		fmt.Fprintf(w, "               1. create the course in the simulated Open edX: open %s\n", sandbox.LMSCoursesURL(st.Config.OpenEdXURL, demoCourseNope))
		fmt.Fprintf(w, "                  and press %s;\n", quote(lang, sandbox.LMSCreateCourseButton(lang)))
		fmt.Fprintf(w, "               2. open the shop's orders, %s#order-%d,\n", st.Shop.AdminOrdersURL(), o.id)
		fmt.Fprintf(w, "                  set order #%s to %s and press %s; wait a few seconds;\n", r.order.Number, quote(lang, sandbox.ShopStatusName(lang, "on-hold")), update)
		fmt.Fprintf(w, "               3. set it to %s and press %s.\n", quote(lang, sandbox.ShopStatusName(lang, "processing")), update)
		fmt.Fprintln(w, "               Then watch this console: the order will be enrolled and completed.")
	}
}

func printEnrollments(w io.Writer, es []sandbox.LMSEnrollment) {
	if len(es) == 0 {
		fmt.Fprintln(w, "  enrollments: none")
	}
	for i, e := range es {
		label := "  enrollments:"
		if i > 0 {
			label = "              "
		}
		fmt.Fprintf(w, "%s %s in %s (%s)\n", label, e.User, e.Course, e.Mode)
	}
}

var hrefRE = regexp.MustCompile(`href="([^"]+)"`)

// confirmLink returns the first link to the Confirm function in the emails' HTML.
func confirmLink(msgs []sandbox.SentMessage, confirmURL string) string {
	for _, m := range msgs {
		for _, h := range hrefRE.FindAllStringSubmatch(m.HTML, -1) {
			if u := html.UnescapeString(h[1]); strings.HasPrefix(u, confirmURL) {
				return u
			}
		}
	}
	return ""
}

// watchCompleted says when order o has been enrolled and completed: the bank transfer once
// someone confirms it (by the link, or by moving it to processing in the shop), the order of
// the missing course once it is fixed and retried.
func watchCompleted(ctx context.Context, w io.Writer, st *local.Stack, o *demoOrder, headline string) {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		r := collect(st, o.id)
		if r.order.Status != "completed" || len(r.enrollments) == 0 {
			continue
		}
		var b strings.Builder // one write, so that nothing comes between the lines
		fmt.Fprintf(&b, "\nOrder #%s %s\n", r.order.Number, headline)
		fmt.Fprintf(&b, "  status:      %s\n", r.order.Status)
		printEnrollments(&b, r.enrollments)
		_, _ = io.WriteString(w, b.String())
		return
	}
}
