package console

import (
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aulasneo/wc-openedx/internal/enrollment"
	"github.com/aulasneo/wc-openedx/internal/store"
)

// stamp writes a time as the Console shows every time: UTC, to the second.
func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05")
}

// ago writes a duration as people read it: 3h12m, 45s.
func ago(d time.Duration) string {
	switch {
	case d < time.Minute:
		return d.Round(time.Second).String()
	case d < time.Hour:
		return strings.TrimSuffix(d.Round(time.Minute).String(), "0s")
	default:
		return strings.TrimSuffix(d.Round(time.Minute).String(), "0s")
	}
}

// tab is one stage filter of the list.
type tab struct {
	Label, Href string
	Current     bool
	Stage       string
}

// row is one order of the list.
type row struct {
	ID, Number, Href  string
	Created           string
	Buyer, Email      string
	Status, Stage     string
	StageKey          string
	Reason            string
	Enrolled, Courses int
	CoursesText       string
}

type listView struct {
	Stage, Search string
	Tabs          []tab
	Rows          []row
	Older, Newest string // links to the next page and back to the first ("" when none)
	Searching     bool
}

func (lv *listView) fill(p store.OrderPage, t texts, base string, paged bool) {
	lv.Searching = lv.Search != ""
	all := tab{Label: t.T("stage.all"), Href: base, Current: lv.Stage == "" && !lv.Searching}
	lv.Tabs = append(lv.Tabs, all)
	for _, s := range enrollment.Stages {
		lv.Tabs = append(lv.Tabs, tab{Label: t.label("stage", s), Href: link(base, "stage", s), Current: lv.Stage == s && !lv.Searching, Stage: s})
	}
	for i := range p.Orders {
		rec := &p.Orders[i]
		o := &rec.Snapshot.Order
		stage, reason := rec.StageIn(t.l)
		r := row{
			ID: strconv.FormatInt(rec.ID, 10), Number: rec.Number,
			Href:    link(base, "p", "order", "id", strconv.FormatInt(rec.ID, 10)),
			Created: stamp(rec.CreatedAt), Buyer: o.Billing.Name(), Email: rec.BuyerEmail,
			Status: t.label("status", rec.Status), StageKey: stage, Stage: t.label("stage", stage), Reason: reason,
			Courses: len(rec.Lines),
		}
		if r.Number == "" {
			r.Number = r.ID
		}
		if r.Email == "" {
			r.Email = strings.ToLower(strings.TrimSpace(o.Billing.Email))
		}
		for _, l := range rec.Lines {
			if l.State == enrollment.LineEnrolled {
				r.Enrolled++
			}
		}
		if r.Courses > 0 {
			r.CoursesText = t.T("list.enrolledOf", r.Enrolled, r.Courses)
		}
		lv.Rows = append(lv.Rows, r)
	}
	if p.Next != "" {
		lv.Older = link(base, "stage", lv.Stage, "q", lv.Search, "after", p.Next)
	}
	if paged {
		lv.Newest = link(base, "stage", lv.Stage, "q", lv.Search)
	}
}

// lineRow is one course line of an order.
type lineRow struct {
	Course, Product, Mode string
	State, StateKey       string
	Attempts              int
	Reason                string
	Enrolled              string // when, and as whom
}

// entry is one line of an order's timeline.
type entry struct {
	At     time.Time
	When   string
	Kind   string // delivery, status, job, note, email, action, confirmation, enrollment, completion
	What   string
	Detail string
	Text   string // a note's text, shown as written
}

type orderView struct {
	ID, Number          string
	Status, StatusKey   string
	Stage, StageKey     string
	Reason              string
	Buyer, Email        string
	Total, Payment      string
	Created             string
	Paid                string
	Confirmed           string
	ShopLink            string
	Lines               []lineRow
	Timeline            []entry
	CanRetry, CanResend bool
	RetryHref           string
	ResendHref          string
	Trimmed             string
	EventsCut           bool
}

func newOrderView(rec *enrollment.OrderRecord, deliveries []enrollment.Delivery, events []enrollment.Event, t texts, base, shopURL string) *orderView {
	o := &rec.Snapshot.Order
	id := strconv.FormatInt(rec.ID, 10)
	v := &orderView{
		ID: id, Number: o.DisplayNumber(),
		Status: t.label("status", rec.Status), StatusKey: rec.Status,
		Buyer: o.Billing.Name(), Email: o.LearnerEmail(),
		Total: t.l.Money(o.Total, o.Currency), Payment: o.PaymentMethodTitle,
		Created:    stamp(rec.CreatedAt),
		RetryHref:  link(base, "p", "retry", "id", id),
		ResendHref: link(base, "p", "resend", "id", id),
		EventsCut:  len(events) >= 1000,
	}
	if v.Payment == "" {
		v.Payment = o.PaymentMethod
	}
	v.StageKey, v.Reason = rec.StageIn(t.l)
	v.Stage = t.label("stage", v.StageKey)
	if shopURL != "" {
		v.ShopLink = strings.TrimRight(shopURL, "/") + "/wp-admin/post.php?" + url.Values{"post": {id}, "action": {"edit"}}.Encode()
	}
	switch rec.PaidBy {
	case enrollment.PaidByStatus:
		v.Paid = t.T("paidBy.status", stamp(rec.PaidAt))
	case enrollment.PaidByAdmin:
		v.Paid = t.T("paidBy.admin", stamp(rec.PaidAt))
	case enrollment.PaidByConfirm:
		v.Paid = t.T("paidBy.confirm", stamp(rec.PaidAt))
	default:
		v.Paid = t.T("order.notPaid")
	}
	if c := rec.Confirmed; c != nil {
		v.Confirmed = t.T("order.confirmBy", stamp(c.At), c.IP, c.UserAgent)
	}
	if len(rec.Trimmed) > 0 {
		v.Trimmed = t.T("order.trimmed", strings.Join(rec.Trimmed, ", "))
	}
	for _, l := range rec.Lines {
		lr := lineRow{Course: l.Course, Product: l.LineName, Mode: l.Mode, StateKey: l.State, State: t.label("line", l.State), Attempts: l.Attempts, Reason: l.Reason}
		if l.Invalid != "" && lr.Reason == "" {
			lr.Reason = l.Invalid.In(t.l)
		}
		if l.State == enrollment.LineFailed && l.FailedGen < rec.EnrollGen {
			lr.State += " (" + t.T("line.retry") + ")"
		}
		if !l.DoneAt.IsZero() && l.State == enrollment.LineEnrolled {
			lr.Enrolled = stamp(l.DoneAt)
			switch {
			case l.Allowed:
				lr.Enrolled += ", " + t.T("line.allowed")
			case l.Username != "":
				lr.Enrolled += ", " + t.T("line.as", l.Username)
			}
		}
		v.Lines = append(v.Lines, lr)
	}
	v.Timeline = timeline(rec, deliveries, events, t)
	return v
}

// timeline puts together, in time order, what happened to the order: deliveries, status
// changes, jobs queued and run, notes, emails, the confirmation, enrollments, the completion
// and the actions people asked for.
func timeline(rec *enrollment.OrderRecord, deliveries []enrollment.Delivery, events []enrollment.Event, t texts) []entry {
	var out []entry
	add := func(at time.Time, kind, what, detail string) *entry {
		if at.IsZero() {
			return nil
		}
		out = append(out, entry{At: at, Kind: kind, What: what, Detail: detail})
		return &out[len(out)-1]
	}
	for _, d := range deliveries {
		what := t.T("tl.delivery", d.Topic)
		switch d.Topic {
		case enrollment.TopicReconcile:
			what = t.T("tl.reconcile")
		case enrollment.TopicRefresh:
			what = t.T("tl.refresh")
		}
		detail := []string{t.T("tl.outcome", d.Outcome)}
		if d.WebhookID != "" {
			detail = append(detail, t.T("tl.webhook", d.WebhookID))
		}
		if d.Reason != "" {
			detail = append(detail, d.Reason)
		}
		add(d.ReceivedAt, "delivery", what, strings.Join(detail, "; "))
	}
	for _, h := range rec.History {
		if h.From == h.To && h.Source == "confirm" {
			continue // the confirmation below says it
		}
		what := t.T("tl.status", t.label("status", h.From), t.label("status", h.To))
		if h.From == "" {
			what = t.T("tl.recorded", t.label("status", h.To))
		}
		add(h.At, "status", what, t.T("tl.source", h.Source))
	}
	confirmationEmails := 0
	for _, e := range events {
		switch e.Kind {
		case enrollment.EventJobQueued:
			add(e.At, "job", t.T("tl.queued", e.JobKind), e.Job)
		case enrollment.EventJobRun:
			detail := []string{e.Job, outcomeText(e.Outcome, t)}
			if e.Attempt > 0 {
				detail = append(detail, t.T("tl.attempt", e.Attempt))
			}
			if e.DeadLettered {
				detail = append(detail, t.T("tl.dead"))
			}
			if e.Error != "" {
				detail = append(detail, e.Error)
			}
			add(e.At, "job", t.T("tl.run", e.JobKind), strings.Join(detail, "; "))
		case enrollment.EventNote:
			what := t.T("tl.note")
			switch e.Outcome {
			case enrollment.EventFailed:
				what = t.T("tl.noteFailed")
			case enrollment.EventRetry:
				what = t.T("tl.noteRetry")
			}
			if en := add(e.At, "note", what, e.Error); en != nil {
				en.Text = e.Text
			}
		case enrollment.EventEmail:
			what := t.T("tl.emailConfirm")
			if e.Email == enrollment.EmailFailure {
				what = t.T("tl.emailFailure")
			} else {
				confirmationEmails++
			}
			switch e.Outcome {
			case enrollment.EventFailed:
				what = t.T("tl.emailFailed")
			case enrollment.EventRetry:
				what = t.T("tl.emailRetry")
			}
			detail := []string{t.T("tl.to", strings.Join(e.To, ", "))}
			if len(e.Courses) > 0 {
				detail = append(detail, t.T("tl.courses", strings.Join(e.Courses, ", ")))
			}
			if e.Error != "" {
				detail = append(detail, e.Error)
			}
			add(e.At, "email", what, strings.Join(detail, "; "))
		}
	}
	// Orders from before events were recorded still show their confirmation email.
	if confirmationEmails == 0 && !rec.Email.SentAt.IsZero() {
		add(rec.Email.SentAt, "email", t.T("tl.confirmSent"), t.T("tl.to", strings.Join(rec.Email.To, ", ")))
	}
	if c := rec.Confirmed; c != nil {
		add(c.At, "confirmation", t.T("tl.confirmed"), c.IP+" — "+c.UserAgent)
	}
	for _, l := range rec.Lines {
		if l.State == enrollment.LineEnrolled {
			detail := l.Mode
			if l.Username != "" {
				detail += ", " + t.T("line.as", l.Username)
			} else if l.Allowed {
				detail += ", " + t.T("line.allowed")
			}
			add(l.DoneAt, "enrollment", t.T("tl.enrolled", l.Course), detail)
		}
	}
	if c := rec.Completion; !c.At.IsZero() {
		switch c.State {
		case enrollment.CompletionDone:
			add(c.At, "completion", t.T("tl.completed"), "")
		case enrollment.CompletionAlready:
			add(c.At, "completion", t.T("tl.already"), "")
		case enrollment.CompletionMixed:
			add(c.At, "completion", t.T("tl.mixed"), "")
		case enrollment.CompletionFailed:
			add(c.At, "completion", t.T("tl.completeFail"), c.Error)
		}
	}
	for _, a := range rec.Actions {
		who := a.By.Who
		if who == "" {
			who = t.T("tl.linkHolder")
		}
		via := t.T("tl.viaConsole")
		if a.By.Via == enrollment.ViaRetryLink {
			via = t.T("tl.viaLink")
		}
		detail := []string{via}
		if a.By.IP != "" {
			detail = append(detail, a.By.IP)
		}
		if len(a.Courses) > 0 {
			detail = append(detail, t.T("tl.courses", strings.Join(a.Courses, ", ")))
		}
		if a.Job != "" {
			detail = append(detail, a.Job)
		}
		what := t.T("tl.actRetry", who)
		if a.Kind == enrollment.ActionResend {
			what = t.T("tl.actResend", who)
		}
		add(a.At, "action", what, strings.Join(detail, "; "))
	}
	slices.SortStableFunc(out, func(a, b entry) int { return a.At.Compare(b.At) })
	for i := range out {
		out[i].When = stamp(out[i].At)
	}
	return out
}

func outcomeText(o string, t texts) string {
	switch o {
	case enrollment.EventDone:
		return t.T("tl.done")
	case enrollment.EventRetry:
		return t.T("tl.retry")
	case enrollment.EventFailed:
		return t.T("tl.failed")
	}
	return o
}

// actionView is what the confirmation and result pages of an action show.
type actionView struct {
	Kind, ID, Number string
	Key              string
	Failed           []enrollment.LineFailure
	ConfirmTitle     string
	Lead, Button     string
	ResultTitle      string
	Result           string
	Recorded         string
	Back, BackHref   string
	StateKey         string
}

func newActionView(kind string, id int64, v enrollment.ActionView, t texts) *actionView {
	av := &actionView{Kind: kind, ID: strconv.FormatInt(id, 10), StateKey: string(v.State), Failed: v.Failed}
	av.Number = av.ID
	if v.Order != nil {
		av.Number = v.Order.DisplayNumber()
	}
	av.Back = t.T("act.back", av.Number)
	if kind == "retry" {
		av.ConfirmTitle, av.Lead, av.Button = t.T("act.retryTitle", av.Number), t.T("act.retryLead"), t.T("act.retryBtn")
	} else {
		av.ConfirmTitle, av.Lead, av.Button = t.T("act.resendTitle", av.Number), t.T("act.resendLead"), t.T("act.resendBtn")
	}
	switch v.State {
	case enrollment.ActionDone:
		av.ResultTitle = t.T("act.doneTitle")
		av.Result = t.T("act.doneResend")
		if kind == "retry" {
			av.Result = t.T("act.doneRetry")
		}
	case enrollment.ActionReplayed:
		av.ResultTitle = t.T("act.replayTitle")
		if a := v.Action; a != nil {
			av.Result = t.T("act.replayed", a.By.Who, stamp(a.At))
		}
	case enrollment.ActionNothing:
		av.ResultTitle = t.T("act.nothingTitle")
		av.Result = t.T("act.nothingSend")
		if kind == "retry" {
			av.Result = t.T("act.nothingRetry")
		}
	case enrollment.ActionClosed:
		av.ResultTitle, av.Result = t.T("act.closedTitle"), t.T("act.closed")
	}
	if a := v.Action; a != nil && (v.State == enrollment.ActionDone || v.State == enrollment.ActionReplayed) {
		what := t.T("order.retry")
		if a.Kind == enrollment.ActionResend {
			what = t.T("order.resend")
		}
		av.Recorded = t.T("act.recorded", what+" ("+stamp(a.At)+")", a.By.Who)
	}
	return av
}

// healthView is the health page.
type healthView struct {
	Run        *store.SweepRun
	Incidents  []enrollment.Incident
	Outbox     store.Backlog
	Dead       []store.DeadLetter
	OutboxText string
	Outcomes   string
	Rows       [][2]string // the last sweep, label and value
	IncRows    [][2]string
	DeadRows   []deadRow
}

type deadRow struct {
	OrderID, Href, Job, Kind string
	Attempts                 int
	At, Outcome, Error       string
}

func (hv *healthView) fill(t texts, now time.Time) {
	if r := hv.Run; r != nil {
		res := r.Result
		yes := func(b bool) string {
			if b {
				return t.T("health.yes")
			}
			return t.T("health.no")
		}
		hv.Rows = [][2]string{
			{t.T("health.started"), stamp(r.StartedAt)},
			{t.T("health.finished"), stamp(r.FinishedAt)},
		}
		if r.Error != "" {
			hv.Rows = append(hv.Rows, [2]string{t.T("health.error"), r.Error})
		}
		var outcomes []string
		for _, k := range slices.Sorted(maps.Keys(res.Reconcile.Outcomes)) {
			outcomes = append(outcomes, fmt.Sprintf("%s %d", k, res.Reconcile.Outcomes[k]))
		}
		rec := strconv.Itoa(res.Reconcile.Orders)
		if len(outcomes) > 0 {
			rec += " (" + strings.Join(outcomes, ", ") + ")"
		}
		if res.Reconcile.Error != "" {
			rec += " — " + res.Reconcile.Error
		}
		hooks := yes(res.Webhooks.Ran)
		if res.Webhooks.Error != "" {
			hooks += " — " + res.Webhooks.Error
		}
		hv.Rows = append(hv.Rows,
			[2]string{t.T("health.published"), strconv.Itoa(res.Published)},
			[2]string{t.T("health.unpublished"), strconv.Itoa(res.Unpublished)},
			[2]string{t.T("health.reconciled"), rec},
			[2]string{t.T("health.recFailed"), strconv.Itoa(res.Reconcile.Failed)},
			[2]string{t.T("health.unreadable"), strconv.Itoa(res.Reconcile.Unreadable)},
			[2]string{t.T("health.checkpoint"), stamp(res.Reconcile.Checkpoint)},
			[2]string{t.T("health.webhooks"), hooks},
			[2]string{t.T("health.problems"), orDash(strings.Join(res.Webhooks.Problems, " "))},
			[2]string{t.T("health.opened"), fmt.Sprintf("%d / %d", res.Webhooks.Opened, res.Webhooks.Closed)},
			[2]string{t.T("health.alerted"), yes(res.Webhooks.Alerted)},
			[2]string{t.T("health.notices"), strconv.Itoa(res.Notices.Sent)},
		)
	}
	for _, in := range hv.Incidents {
		hv.IncRows = append(hv.IncRows, [2]string{stamp(in.OpenedAt), in.Problem})
	}
	if j := hv.Outbox.Oldest; j != nil {
		hv.OutboxText = t.T("health.outboxCount", hv.Outbox.Count, j.ID, j.Kind, strconv.FormatInt(j.OrderID, 10), ago(now.Sub(j.CreatedAt)))
	}
	for _, d := range hv.Dead {
		id := strconv.FormatInt(d.OrderID, 10)
		hv.DeadRows = append(hv.DeadRows, deadRow{
			OrderID: id, Href: "?" + url.Values{"p": {"order"}, "id": {id}}.Encode(), Job: d.Job, Kind: d.JobKind,
			Attempts: d.Attempts, At: stamp(d.At), Outcome: outcomeText(d.Outcome, t), Error: d.Error,
		})
	}
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
