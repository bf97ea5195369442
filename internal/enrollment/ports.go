package enrollment

import (
	"context"
	"time"
)

// LMS enrolls learners in Open edX. Implemented by internal/openedx.
type LMS interface {
	// Enroll enrolls the learner with this email in c, recording orderNumber on the
	// enrollment. A learner without an account is enrolled on registration
	// (Result.Allowed). Errors are permanent (IsPermanent) or transient.
	Enroll(ctx context.Context, email string, c Course, orderNumber string) (EnrollResult, error)
	// Enrollment reports whether the learner already has an active enrollment in course
	// (false for a learner without an account).
	Enrollment(ctx context.Context, email, course string) (EnrollResult, bool, error)
	// Unenroll takes the learner's access to course away (SPEC §2.8): an active enrollment
	// is deactivated, and the learner's enrollment_allowed is deleted, account or not.
	Unenroll(ctx context.Context, email, course string) error
}

// EnrollResult says how a learner was enrolled.
type EnrollResult struct {
	Username string // the LMS account, "" when Allowed
	Allowed  bool   // no account yet, or not activated: an enrollment_allowed with auto_enroll was recorded
}

// Shop is the WooCommerce REST API as the service uses it. Implemented by internal/woocommerce.
type Shop interface {
	// CompleteOrder sets the order's status to completed.
	CompleteOrder(ctx context.Context, orderID int64) error
	// AddNote adds a private note (not visible to the customer) to the order.
	AddNote(ctx context.Context, orderID int64, note string) error
	// NewOrderRecipients reads the "New order" email recipients (may be empty).
	NewOrderRecipients(ctx context.Context) ([]string, error)
	// GetOrder reads an order as the v3 API shows it.
	GetOrder(ctx context.Context, orderID int64) (*Order, error)
	// OrderRefunds reads the refunds of an order with their line items.
	OrderRefunds(ctx context.Context, orderID int64) ([]RefundDetail, error)
}

// RefundDetail is one refund of an order with the lines it refunds.
type RefundDetail struct {
	ID    int64
	Lines []RefundedLine
}

// RefundedLine is how much of one order line a refund gives back.
type RefundedLine struct {
	LineID    int64 // the order's line item id (_refunded_item_id); 0 when the shop did not say
	ProductID int64
	Quantity  int // positive
}

// Mailer sends the service's emails. Implemented by internal/mail (SendGrid). Errors are
// permanent (IsPermanent) or transient.
type Mailer interface {
	// SendConfirmationRequest emails the BACS/cheque/COD order summary with the button that
	// opens confirmLink.
	SendConfirmationRequest(ctx context.Context, to []string, o *Order, confirmLink string) error
	// SendFailureReport emails which course lines of o failed permanently, why, and how to
	// retry: with the Retry button opening retryLink when it is not "" (SPEC §2.5b).
	SendFailureReport(ctx context.Context, to []string, o *Order, failures []LineFailure, retryLink string) error
}

// LineFailure is one course line that failed permanently.
type LineFailure struct {
	LineName string // the product name of the line
	Course   string // the course id, or the SKU when it did not parse
	Reason   string // in plain words
	Attempts int
}

// Confirmation is who confirmed a payment and when (SPEC §2.5).
type Confirmation struct {
	At        time.Time
	IP        string
	UserAgent string
}

// ConfirmState is what the Confirm page shows about an order.
type ConfirmState string

const (
	// ConfirmAwaiting: the payment can be confirmed now.
	ConfirmAwaiting ConfirmState = "awaiting"
	// ConfirmDone: someone already confirmed it through the link.
	ConfirmDone ConfirmState = "confirmed"
	// ConfirmHandled: the admin moved the order to a paid status in the shop; the link is
	// no longer needed.
	ConfirmHandled ConfirmState = "handled"
	// ConfirmClosed: the order was cancelled, refunded or failed in the shop; it cannot be
	// confirmed.
	ConfirmClosed ConfirmState = "closed"
)

// ConfirmView is what the Confirm page shows of an order.
type ConfirmView struct {
	Order *Order
	State ConfirmState
	// Confirmed is who confirmed the payment through the link and when, once someone has
	// (after a ConfirmPayment that confirmed it, the confirmation it recorded).
	Confirmed *Confirmation
}

// Confirmer is what the Confirm page needs from the domain. Implemented by Service.
type Confirmer interface {
	// ConfirmationSummary returns the order and its confirmation state; it changes nothing.
	// ErrOrderNotFound when the service never saw the order.
	ConfirmationSummary(ctx context.Context, orderID int64) (ConfirmView, error)
	// ConfirmPayment records the confirmation and queues enrollment, once. The view's State
	// is the state before the call: ConfirmAwaiting when this call confirmed it, otherwise
	// ConfirmDone or ConfirmHandled and nothing was queued.
	ConfirmPayment(ctx context.Context, orderID int64, who Confirmation) (ConfirmView, error)
}
