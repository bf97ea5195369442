package enrollment

import (
	"context"
	"log/slog"
	"time"
)

// The order's timeline (the Console's order page) is read from the record (status changes,
// lines, the confirmation, actions), from its deliveries, and from its events: what the
// record does not keep, recorded as it happens (orders/{id}/events).
const (
	EventJobQueued = "job-queued" // a job was written to the outbox with the order
	EventJobRun    = "job-run"    // the Enroll function ran a job (one delivery of it)
	EventNote      = "note"       // a private note was posted on the order (or refused)
	EventEmail     = "email"      // an email about the order was sent (or failed)
)

// Emails an event names (Event.Email).
const (
	EmailConfirmation = "confirmation" // the payment confirmation request (SPEC §2.5)
	EmailFailure      = "failure"      // the failure report (SPEC §2.4)
)

// Event outcomes.
const (
	EventDone   = "done"   // the note or email went; the job is acknowledged
	EventFailed = "failed" // refused for good (a permanent error)
	EventRetry  = "retry"  // a transient failure: it is tried again
)

// Event is one thing that happened to an order that its record does not keep.
type Event struct {
	At      time.Time `firestore:"at"`
	Kind    string    `firestore:"kind"`
	Job     string    `firestore:"job,omitempty"`     // the job's id (jobs)
	JobKind string    `firestore:"jobKind,omitempty"` // enroll, email, unenroll, refresh
	Attempt int       `firestore:"attempt,omitempty"` // the push's delivery attempt (job runs)
	// DeadLettered: the run came through the dead-letter topic: the job's retries were
	// exhausted.
	DeadLettered bool     `firestore:"deadLettered,omitempty"`
	Email        string   `firestore:"email,omitempty"` // EmailConfirmation or EmailFailure
	To           []string `firestore:"to,omitempty"`    // the email's recipients (the shop's staff)
	Courses      []string `firestore:"courses,omitempty"`
	Text         string   `firestore:"text,omitempty"` // the note as posted
	Outcome      string   `firestore:"outcome,omitempty"`
	Error        string   `firestore:"error,omitempty"`
}

// EventLog records events. Implemented by internal/store.
type EventLog interface {
	RecordEvent(ctx context.Context, orderID int64, e Event) error
}

// maxEventError bounds the error text an event keeps.
const maxEventError = 1000

func eventOutcome(err error) (outcome, text string) {
	switch {
	case err == nil:
		return EventDone, ""
	case IsPermanent(err):
		outcome = EventFailed
	default:
		outcome = EventRetry
	}
	text = err.Error()
	if len(text) > maxEventError {
		text = text[:maxEventError]
	}
	return outcome, text
}

// Recorder wraps the Shop and Mailer a Service uses so that every note posted on an order,
// and every email about one, is also an event of that order, without the worker knowing.
// A failure to record is logged and does not change the outcome of the call.
type Recorder struct {
	Log  EventLog
	Now  func() time.Time
	Slog *slog.Logger
}

func (r Recorder) record(ctx context.Context, orderID int64, e Event) {
	if r.Now != nil {
		e.At = r.Now().UTC()
	} else {
		e.At = time.Now().UTC()
	}
	if err := r.Log.RecordEvent(context.WithoutCancel(ctx), orderID, e); err != nil && r.Slog != nil {
		r.Slog.WarnContext(ctx, "could not record an event of the order", "order", orderID, "event", e.Kind, "error", err)
	}
}

// Shop returns s recording its notes.
func (r Recorder) Shop(s Shop) Shop { return recordingShop{Shop: s, r: r} }

// Mailer returns m recording its emails.
func (r Recorder) Mailer(m Mailer) Mailer { return recordingMailer{Mailer: m, r: r} }

type recordingShop struct {
	Shop
	r Recorder
}

func (s recordingShop) AddNote(ctx context.Context, orderID int64, note string) error {
	err := s.Shop.AddNote(ctx, orderID, note)
	e := Event{Kind: EventNote, Text: note}
	e.Outcome, e.Error = eventOutcome(err)
	s.r.record(ctx, orderID, e)
	return err
}

type recordingMailer struct {
	Mailer
	r Recorder
}

// SendConfirmationRequest records the email without its link: the link carries a token.
func (m recordingMailer) SendConfirmationRequest(ctx context.Context, to []string, o *Order, confirmLink string) error {
	err := m.Mailer.SendConfirmationRequest(ctx, to, o, confirmLink)
	e := Event{Kind: EventEmail, Email: EmailConfirmation, To: to}
	e.Outcome, e.Error = eventOutcome(err)
	m.r.record(ctx, o.ID, e)
	return err
}

// SendFailureReport records the email without its Retry link: the link carries a token.
func (m recordingMailer) SendFailureReport(ctx context.Context, to []string, o *Order, failures []LineFailure, retryLink string) error {
	err := m.Mailer.SendFailureReport(ctx, to, o, failures, retryLink)
	e := Event{Kind: EventEmail, Email: EmailFailure, To: to}
	for _, f := range failures {
		e.Courses = append(e.Courses, f.Course)
	}
	e.Outcome, e.Error = eventOutcome(err)
	m.r.record(ctx, o.ID, e)
	return err
}

// JobRun is the event of one run of job j (attempt, and whether it came dead-lettered) that
// ended with err.
func JobRun(j Job, attempt int, deadLettered bool, err error, at time.Time) Event {
	e := Event{At: at.UTC(), Kind: EventJobRun, Job: j.ID, JobKind: j.Kind, Attempt: attempt, DeadLettered: deadLettered}
	e.Outcome, e.Error = eventOutcome(err)
	return e
}
