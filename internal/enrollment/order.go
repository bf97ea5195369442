// Package enrollment is the domain of the service: orders and their course lines, the SKU
// grammar, the status rules that decide what work an order needs, the per-line enrollment
// state machine, and the interfaces of the systems it drives (Store, Jobs, LMS, Shop, Mailer).
// It imports only the standard library and internal/i18n (the words the shop's people read).
package enrollment

import (
	"strings"
	"time"

	"github.com/aulasneo/wc-openedx/internal/i18n"
)

// Order statuses as WooCommerce's REST API writes them (without the wc- prefix).
const (
	StatusPending    = "pending"
	StatusProcessing = "processing"
	StatusOnHold     = "on-hold"
	StatusCompleted  = "completed"
	StatusCancelled  = "cancelled"
	StatusRefunded   = "refunded"
	StatusFailed     = "failed"
)

// IsPaid reports whether an order in status s has been paid (SPEC §2.3).
func IsPaid(s string) bool { return s == StatusProcessing || s == StatusCompleted }

// IsClosed reports whether an order in status s must not be enrolled or completed: the shop
// cancelled, refunded or failed it.
func IsClosed(s string) bool { return s == StatusCancelled || s == StatusRefunded || s == StatusFailed }

// Order is the part of a WooCommerce order the service uses.
type Order struct {
	ID                 int64
	Number             string
	Status             string
	Currency           string
	Total              string
	PaymentMethod      string
	PaymentMethodTitle string
	DateCreated        time.Time // site-local wall time as WooCommerce shows it
	DateCreatedGMT     time.Time
	DateModifiedGMT    time.Time
	Billing            Person
	Lines              []LineItem
	Refunds            []Refund
	// Unreadable names the fields every course line's enrollment needs (status, payment
	// method, billing email) that the shop sent in a form the service cannot read, as a plugin
	// that retypes fields may (SPEC §2.1); "" when there are none. Each course line then fails
	// with it as the reason, written in LANGUAGE by the Enroll function.
	Unreadable i18n.Text
}

// Person is the billing contact.
type Person struct {
	FirstName string
	LastName  string
	Email     string
}

// Name is the person's full name.
func (p Person) Name() string { return strings.TrimSpace(p.FirstName + " " + p.LastName) }

// LineItem is one line of an order. SKU is "" when WooCommerce sent null or "".
type LineItem struct {
	ID        int64
	Name      string
	ProductID int64
	// Quantity is in whole units, rounded up when a decimal-quantity plugin sells fractions;
	// QuantityText is then the quantity as the shop wrote it, e.g. "1.5" ("" otherwise).
	Quantity     int
	QuantityText string
	Total        string
	SKU          string
	// Unreadable says why the line's course cannot be read (its SKU is of an odd type); the
	// line then fails with it as the reason. "" for a readable line.
	Unreadable i18n.Text
}

// DisplayQuantity is the quantity as people should see it.
func (li LineItem) DisplayQuantity() string {
	if li.QuantityText != "" {
		return li.QuantityText
	}
	return itoa(int64(li.Quantity))
}

// Refund is one refund of an order as the order payload lists it.
type Refund struct {
	ID     int64
	Reason string
	Total  string
}

// LearnerEmail is the buyer's email as the LMS should see it: trimmed and lower-cased.
func (o *Order) LearnerEmail() string { return strings.ToLower(strings.TrimSpace(o.Billing.Email)) }

// DisplayNumber is the order number the shop shows (falls back to the id).
func (o *Order) DisplayNumber() string {
	if o.Number != "" {
		return o.Number
	}
	return itoa(o.ID)
}
