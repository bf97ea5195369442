package enrollment

import (
	"context"
	"strconv"
	"time"

	"github.com/aulasneo/wc-openedx/internal/i18n"
)

// Line states of the per-course-line state machine (SPEC §5):
//
//	pending --claim--> claimed --LMS ok--> enrolled
//	                      |--permanent--> failed (retried only by a later enroll request)
//	                      |--transient--> pending (the job is redelivered)
//	invalid: the SKU starts with course-v1: but does not parse; reported like failed.
const (
	LinePending  = "pending"
	LineClaimed  = "claimed"
	LineEnrolled = "enrolled"
	LineFailed   = "failed"
	// Taking access away (UNENROLL_ON):
	//
	//	enrolled --claim--> unenrolling --no other order grants it--> unenrolled
	//	                         |--another paid order grants it--> kept
	//	                         |--transient failure--> enrolled (the job is redelivered)
	LineUnenrolling = "unenrolling"
	LineUnenrolled  = "unenrolled"
	LineKept        = "kept"
)

// Ways an order came to count as paid.
const (
	PaidByStatus  = "status"       // the shop showed a paid status (automatic gateways)
	PaidByAdmin   = "admin-status" // an admin moved a confirm-method order into a paid status
	PaidByConfirm = "confirm-link" // someone pressed the button of the confirmation email
)

// Email states of the confirmation email (one per order, ever).
const (
	EmailQueued  = "queued"
	EmailSending = "sending"
	EmailSent    = "sent"
	EmailFailed  = "failed"
	EmailSkipped = "skipped"
)

// Completion states.
const (
	CompletionDone    = "completed"     // the service set the order to completed
	CompletionAlready = "already"       // the order was completed in the shop already
	CompletionMixed   = "skipped-mixed" // non-course lines and WC_COMPLETE_MIXED_ORDERS=false
	CompletionFailed  = "failed"        // the shop refused it permanently
)

// OrderRecord is everything the service keeps about one order (orders/{id}).
type OrderRecord struct {
	ID          int64         `firestore:"id"`
	Number      string        `firestore:"number"`
	Status      string        `firestore:"status"`
	ModifiedGMT time.Time     `firestore:"dateModifiedGmt"`
	Snapshot    OrderSnapshot `firestore:"snapshot"`
	// Trimmed says what was left out of this document to keep it within Firestore's 1 MiB
	// (the raw payload, older status changes, long line names); empty when nothing.
	Trimmed   []string       `firestore:"trimmed,omitempty"`
	Raw       string         `firestore:"raw"`
	History   []StatusChange `firestore:"statusHistory"`
	Lines     []LineState    `firestore:"lines"`
	Confirm   bool           `firestore:"needsConfirmation"`
	PaidBy    string         `firestore:"paidBy,omitempty"`
	PaidAt    time.Time      `firestore:"paidAt,omitempty"`
	Confirmed *Confirmation  `firestore:"confirmation,omitempty"`
	// ConfirmNoted: the note saying when and from where the payment was confirmed through
	// the link is on the order; ConfirmNoting is when a worker claimed it (zero when none).
	ConfirmNoted  bool            `firestore:"confirmationNoted,omitempty"`
	ConfirmNoting time.Time       `firestore:"confirmationNotingAt,omitempty"`
	Email         EmailState      `firestore:"confirmationEmail"`
	EnrollGen     int             `firestore:"enrollGeneration"`
	Completion    CompletionState `firestore:"completion"`
	Failed        string          `firestore:"failed,omitempty"` // why the whole order failed
	// Reporting is when a worker claimed the order's failure reports (notes and emails of
	// failed lines, the completion failure email); zero when none is being sent.
	Reporting   time.Time `firestore:"reportingClaimedAt,omitempty"`
	UnenrollGen int       `firestore:"unenrollGeneration,omitempty"`
	RefundIDs   []int64   `firestore:"refundIds,omitempty"` // refunds already seen
	// Actions are what people asked for through the Console or a Retry link, with who asked.
	Actions []Action `firestore:"actions,omitempty"`
	// Grants are the access keys (AccessKey) this order grants now: its enrolled lines, and
	// the lines it is enrolling at this moment (claimed), unless the order is refunded or
	// cancelled. The store writes it from AccessKeys, so that other
	// orders' unenrollments can ask whether any order still grants a course.
	Grants []string `firestore:"grants,omitempty"`
	// Stage (CurrentStage) and BuyerEmail (the billing email, trimmed and lower-cased) are
	// written by the store with every write of the record, for the Console's queries: the
	// orders in a stage, the orders of a buyer, newest first.
	Stage      string    `firestore:"stage,omitempty"`
	BuyerEmail string    `firestore:"buyerEmail,omitempty"`
	CreatedAt  time.Time `firestore:"createdAt"`
	UpdatedAt  time.Time `firestore:"updatedAt"`
}

// OrderSnapshot is the latest order as received, in the fields the service uses.
type OrderSnapshot struct {
	Order Order `firestore:"order"`
}

// StatusChange is one entry of the status history.
type StatusChange struct {
	From        string    `firestore:"from"`
	To          string    `firestore:"to"`
	ModifiedGMT time.Time `firestore:"dateModifiedGmt"`
	At          time.Time `firestore:"at"`
	Source      string    `firestore:"source"` // webhook topic, "reconcile", "confirm"
}

// LineState is the enrollment state of one course of one line.
type LineState struct {
	LineID   int64     `firestore:"lineId"`
	LineName string    `firestore:"lineName"`
	Course   string    `firestore:"course"` // course key, or the raw SKU when invalid
	Mode     string    `firestore:"mode"`
	Invalid  i18n.Text `firestore:"invalid,omitempty"` // why the SKU did not parse
	State    string    `firestore:"state"`
	Reason   string    `firestore:"reason,omitempty"`
	// Unsure: the last LMS call for this line ended without a known outcome (a transient
	// failure, or a worker whose claim ran out mid-call): the next attempt asks the LMS first.
	Unsure    bool      `firestore:"unsure,omitempty"`
	Attempts  int       `firestore:"attempts"`
	FailedGen int       `firestore:"failedGeneration,omitempty"`
	Reported  int       `firestore:"reportedGeneration,omitempty"` // failure noted on the order
	Mailed    int       `firestore:"mailedGeneration,omitempty"`   // failure emailed
	ClaimID   string    `firestore:"claimId,omitempty"`
	ClaimedAt time.Time `firestore:"claimedAt,omitempty"`
	DoneAt    time.Time `firestore:"enrolledAt,omitempty"`
	Username  string    `firestore:"username,omitempty"`
	Allowed   bool      `firestore:"allowed,omitempty"`
	// UnenrollAt is the order's enrollment generation when access was taken away: only a
	// later enrollment (the order re-opened) enrolls the line again.
	UnenrollAt int `firestore:"unenrolledAtGeneration,omitempty"`
	// UnenrolledBy is the scope that took access away: ScopeOrder (the order was cancelled or
	// refunded: re-opening it enrolls again) or ScopeRefunds (this line was refunded: it stays
	// unenrolled).
	UnenrolledBy string `firestore:"unenrolledBy,omitempty"`
	// Noted: the note about this line's unenrollment (or why access was kept) is on the order.
	Noted bool `firestore:"unenrollNoted,omitempty"`
	// UnenrollFailed: taking access away failed for good; Reason says why.
	UnenrollFailed bool `firestore:"unenrollFailed,omitempty"`
	// Unreadable: a field this line's enrollment needs came in a form the service cannot read
	// (SPEC §2.1); the line fails with this reason.
	Unreadable i18n.Text `firestore:"unreadable,omitempty"`
}

// Key identifies a line state within its order.
func (l LineState) Key() string { return strconv.FormatInt(l.LineID, 10) + "|" + l.Course }

// EmailState tracks the single confirmation email of an order.
type EmailState struct {
	State     string    `firestore:"state,omitempty"`
	ClaimedAt time.Time `firestore:"claimedAt,omitempty"`
	SentAt    time.Time `firestore:"sentAt,omitempty"`
	Noted     bool      `firestore:"noted,omitempty"` // the failure is noted on the order
	// SentNoted: the note saying to whom the email went is on the order.
	SentNoted bool     `firestore:"sentNoted,omitempty"`
	To        []string `firestore:"to,omitempty"`
	Error     string   `firestore:"error,omitempty"`
	Resends   int      `firestore:"resends,omitempty"` // how many times a person asked for it again
}

// CompletionState tracks marking the order completed and the note listing enrollments.
type CompletionState struct {
	State     string    `firestore:"state,omitempty"`
	Noted     bool      `firestore:"noted,omitempty"`
	Mailed    bool      `firestore:"mailed,omitempty"` // a completion failure was emailed
	ClaimedAt time.Time `firestore:"claimedAt,omitempty"`
	Error     string    `firestore:"error,omitempty"`
	At        time.Time `firestore:"at,omitempty"`
}

// Delivery is one webhook delivery (orders/{id}/deliveries/{sha256 of body}).
type Delivery struct {
	Hash       string    `firestore:"-"`
	OrderID    int64     `firestore:"orderId"`
	Topic      string    `firestore:"topic"`
	Source     string    `firestore:"source"`
	WebhookID  string    `firestore:"webhookId"`
	DeliveryID string    `firestore:"deliveryId"`
	ReceivedAt time.Time `firestore:"receivedAt"`
	Outcome    string    `firestore:"outcome"`
	// Reason says why a delivery was ignored when its topic alone does not (a legacy payload).
	Reason string `firestore:"reason,omitempty"`
}

// Delivery outcomes.
const (
	OutcomeApplied   = "applied"   // the order was stored (and jobs queued if any)
	OutcomeStale     = "stale"     // older than the stored order: recorded only
	OutcomeDuplicate = "duplicate" // the same body was received before: nothing recorded
	OutcomeIgnored   = "ignored"   // a topic the service does not act on
	// OutcomeTie: the same date_modified_gmt as the stored order (WooCommerce stamps to the
	// second) and other contents: recorded, and the order is read from the shop to settle it.
	OutcomeTie = "tie"
)

// Job kinds.
const (
	JobEnroll   = "enroll"
	JobEmail    = "email"
	JobUnenroll = "unenroll"
	// JobRefresh reads the order from the shop and applies it: two deliveries stamped with
	// the same second disagreed, and only the shop knows which is current.
	JobRefresh = "refresh"
)

// Unenroll job scopes.
const (
	ScopeOrder   = "order"   // the order moved into an UNENROLL_ON status: every line
	ScopeRefunds = "refunds" // a new refund: the lines it refunds in full
)

// Job is a unit of work published to the jobs topic and kept in the outbox until published.
type Job struct {
	ID        string    `firestore:"-" json:"id"`
	Kind      string    `firestore:"kind" json:"kind"`
	OrderID   int64     `firestore:"orderId" json:"order_id"`
	Gen       int       `firestore:"generation" json:"generation,omitempty"`
	Scope     string    `firestore:"scope,omitempty" json:"scope,omitempty"`
	CreatedAt time.Time `firestore:"createdAt" json:"created_at"`
}

// Store keeps orders, deliveries and the outbox. Implemented by internal/store (Firestore).
// The functions passed to it run inside a transaction and may run more than once: they only
// read and change the record they are given.
type Store interface {
	// Intake records d once: if a delivery with d.Hash exists for the order it returns
	// OutcomeDuplicate and calls nothing. Otherwise it calls apply with the stored record (nil
	// when the order is new) and writes, in one transaction, the delivery with the outcome
	// apply returns, the record apply returns (none when nil), and the jobs into the outbox.
	Intake(ctx context.Context, d Delivery, apply func(rec *OrderRecord) (*OrderRecord, string, []Job)) (string, []Job, error)
	// RecordIgnored records a delivery that is not about an order the service acts on.
	RecordIgnored(ctx context.Context, d Delivery) (duplicate bool, err error)
	// Update runs fn on the stored record in a transaction and writes the record and the
	// jobs fn returns. ErrOrderNotFound when there is no record. fn returning an error
	// aborts without writing.
	Update(ctx context.Context, orderID int64, fn func(rec *OrderRecord) ([]Job, error)) ([]Job, error)
	// Get reads a record; ErrOrderNotFound when there is none.
	Get(ctx context.Context, orderID int64) (*OrderRecord, error)
	// PendingJobs lists outbox jobs created before the given time, oldest first.
	PendingJobs(ctx context.Context, before time.Time, limit int) ([]Job, error)
	// JobPublished removes a job from the outbox.
	JobPublished(ctx context.Context, jobID string) error
	// OrdersGranting lists the orders other than except whose Grants hold key.
	OrdersGranting(ctx context.Context, key string, except int64) ([]int64, error)
}

// AccessKey names a learner's access to a course, counted across orders.
func AccessKey(email, course string) string { return email + "|" + course }

// AccessKeys are the grants of the record as it is now (see OrderRecord.Grants). A claimed
// line counts: its enrollment call may reach the LMS at any moment, and an unenrollment by
// another order that runs meanwhile would take away the access this line is granting
// (SPEC §2.8).
func (rec *OrderRecord) AccessKeys() []string {
	if rec.Status == StatusRefunded || rec.Status == StatusCancelled {
		return nil
	}
	email := rec.Snapshot.Order.LearnerEmail()
	var keys []string
	for _, l := range rec.Lines {
		if (l.State == LineEnrolled || l.State == LineClaimed) && email != "" {
			keys = append(keys, AccessKey(email, l.Course))
		}
	}
	return keys
}

// Publisher publishes jobs to the jobs topic. Implemented by internal/jobs.
type Publisher interface {
	Publish(ctx context.Context, j Job) error
}
