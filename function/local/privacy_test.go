package local_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aulasneo/wc-openedx/function/local"
	"github.com/aulasneo/wc-openedx/internal/enrollment"
	"github.com/aulasneo/wc-openedx/internal/jobs"
	"github.com/aulasneo/wc-openedx/internal/sandbox"
)

// Learners' emails and names never reach the logs, the reasons stored on the lines, or the
// answers of Enroll (SPEC §2.6): an end-to-end run with LMS timeouts (net/http errors quote
// the whole URL, ?email= included), a permanent LMS failure, a learner without an account,
// a bank transfer and its confirmation email, scanned for every form of the learners'
// addresses and names.
func TestNoLearnerDataInLogs(t *testing.T) {
	t.Parallel()
	var logs logBuffer
	st := newStack(t, withLogs(&logs), func(_ map[string]string, o *local.Options) { o.LMSTimeout = time.Second })
	type learner struct{ email, first, last string }
	ls := []learner{
		{"zoe.pii7f3a@example.com", "Zoëpii", "Quintanapii"},
		{"max+pii9c1d@example.org", "Maxpii", "Oyarzunpii"},
		{"noaccount.pii2b8e@example.net", "Inespii", "Vallejopii"},
	}
	st.LMS.AddUser("zoe7f3a", ls[0].email)
	st.LMS.AddUser("max9c1d", ls[1].email)
	spec := func(base sandbox.OrderSpec, l learner) sandbox.OrderSpec {
		base.Email, base.FirstName, base.LastName = ptr(l.email), l.first, l.last
		return base
	}

	// The first account lookup times out: a transient failure, retried.
	st.LMS.Faults.Inject("account", sandbox.Fault{Delay: 3 * time.Second, Times: 1})
	card := st.Shop.CreateOrder(spec(cardOrder(course("Intro to Python", coursePy)), ls[0]))
	// A course the LMS does not have: a permanent failure with the LMS's message.
	unknown := st.Shop.CreateOrder(spec(cardOrder(course("Gone", "course-v1:Nope+X+2020")), ls[1]))
	// No account: enrollment_allowed. A bank transfer: the confirmation email.
	allowed := st.Shop.CreateOrder(spec(cardOrder(course("Go", courseGo)), ls[2]))
	st.Shop.CreateOrder(spec(bacsOrder(course("Intro to Python", coursePy)), ls[1]))

	waitFor(t, "the orders to settle", 90*time.Second, func() bool {
		return status(st, card) == "completed" && status(st, allowed) == "completed" &&
			record(t, st, unknown).Lines[0].State == enrollment.LineFailed && len(st.Mail.Messages()) >= 2
	})

	// An Enroll answer while the LMS times out: its body says why, without the learner.
	st.LMS.Faults.Inject("account", sandbox.Fault{Delay: 3 * time.Second, Times: 1})
	retry := st.Shop.CreateOrder(spec(sandbox.OrderSpec{Status: "on-hold", PaymentMethod: "stripe", PaymentMethodTitle: "Card", Lines: []sandbox.LineSpec{course("Go", courseGo)}}, ls[0]))
	waitFor(t, "the on-hold order recorded", 30*time.Second, func() bool {
		_, err := st.App.Store.Get(context.Background(), retry)
		return err == nil
	})
	st.Shop.SetStatus(retry, "processing")
	waitFor(t, "the retried order completed", 90*time.Second, func() bool { return status(st, retry) == "completed" })
	// A retry of the failed order (the next generation, as the On hold → Processing move
	// queues) meets an LMS that times out: Enroll answers 503 with the reason.
	rec := record(t, st, unknown)
	st.LMS.Faults.Inject("account", sandbox.Fault{Delay: 3 * time.Second, Times: 1})
	job := enrollment.Job{ID: "privacy-1", Kind: enrollment.JobEnroll, OrderID: unknown, Gen: rec.EnrollGen + 1}
	resp, err := http.Post(st.URL+"/Enroll", "application/json",
		bytes.NewReader(jobs.EncodePush(job, "projects/"+st.Config.Project+"/subscriptions/manual", 1)))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()

	var reasons []string
	for _, id := range []int64{card, unknown, allowed, retry} {
		for _, l := range record(t, st, id).Lines {
			reasons = append(reasons, l.Reason)
		}
	}
	for where, text := range map[string]string{
		"logs":          logs.String(),
		"line reasons":  strings.Join(reasons, "\n"),
		"Enroll answer": string(body),
	} {
		for _, l := range ls {
			local, _, _ := strings.Cut(l.email, "@")
			for _, s := range []string{local, strings.ReplaceAll(local, "+", "%2B"), l.first, l.last} {
				if strings.Contains(text, s) {
					i := strings.Index(text, s)
					t.Errorf("%s hold a learner's %q: …%s…", where, s, text[max(0, i-120):min(len(text), i+80)])
				}
			}
		}
	}
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "/api/user/v1/accounts") {
		t.Errorf("Enroll answered %d %q; want 503 naming the LMS call that timed out", resp.StatusCode, body)
	}
	if !strings.Contains(logs.String(), "/api/user/v1/accounts") || !strings.Contains(logs.String(), "deadline exceeded") {
		t.Fatalf("the logs have no LMS timeout to scan (%d bytes)", len(logs.String()))
	}
	t.Logf("scanned %d bytes of logs, %d line reasons, an Enroll answer (%d %q)", len(logs.String()), len(reasons), resp.StatusCode, strings.TrimSpace(string(body)))
}
