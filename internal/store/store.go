// Package store keeps the domain's records in Firestore (SPEC §5):
//
//	orders/{orderId}                        the order record (enrollment.OrderRecord)
//	orders/{orderId}/deliveries/{sha256}    every webhook delivery, once
//	orders/{orderId}/events/{id}            what the record does not keep: jobs queued and
//	                                        run, notes posted, emails sent (console.go)
//	outbox/{jobId}                          jobs recorded with their order, not yet published
//	deadLetters/{jobId}                     jobs whose retries ran out (console.go)
//	deliveries/{sha256}                     signed deliveries of topics that are not orders
//	sweep/state                             the sweep's checkpoint and open incidents
//	sweep/lastRun                           what the last sweep did (console.go)
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/aulasneo/wc-openedx/internal/enrollment"
)

// Collection names.
const (
	Orders     = "orders"
	Deliveries = "deliveries"
	Outbox     = "outbox"
	Sweep      = "sweep"
)

// Store is the Firestore implementation of enrollment.Store.
type Store struct {
	c       *firestore.Client
	indexed atomic.Bool // IndexOrders found every order indexed (at indexVersion)
}

var _ enrollment.Store = (*Store)(nil)

// New opens a Firestore client for project and database ("(default)" when empty). With
// FIRESTORE_EMULATOR_HOST set the client library talks to the emulator.
func New(ctx context.Context, project, database string) (*Store, error) {
	if database == "" {
		database = firestore.DefaultDatabaseID
	}
	c, err := firestore.NewClientWithDatabase(ctx, project, database)
	if err != nil {
		return nil, fmt.Errorf("firestore client: %w", err)
	}
	return &Store{c: c}, nil
}

// Client exposes the Firestore client (for tests and tools).
func (s *Store) Client() *firestore.Client { return s.c }

// Close closes the client.
func (s *Store) Close() error { return s.c.Close() }

func (s *Store) order(id int64) *firestore.DocumentRef {
	return s.c.Collection(Orders).Doc(strconv.FormatInt(id, 10))
}

// intakeAttempts is how often a delivery's transaction is tried when it conflicts with
// others on the same order (Firestore's default is 5). A delivery that cannot be recorded is
// a 5xx, which counts towards WooCommerce disabling the webhook, so deliveries racing on one
// order (a storm of updates, duplicates) try longer before giving up.
const intakeAttempts = 15

// Intake implements enrollment.Store.
func (s *Store) Intake(ctx context.Context, d enrollment.Delivery, apply func(*enrollment.OrderRecord) (*enrollment.OrderRecord, string, []enrollment.Job)) (string, []enrollment.Job, error) {
	oref := s.order(d.OrderID)
	dref := oref.Collection(Deliveries).Doc(d.Hash)
	var outcome string
	var jobs []enrollment.Job
	err := s.c.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		docs, err := tx.GetAll([]*firestore.DocumentRef{dref, oref})
		if err != nil {
			return err
		}
		if docs[0].Exists() {
			outcome, jobs = enrollment.OutcomeDuplicate, nil
			return nil
		}
		var rec *enrollment.OrderRecord
		if docs[1].Exists() {
			rec = new(enrollment.OrderRecord)
			if err := docs[1].DataTo(rec); err != nil {
				return fmt.Errorf("decode order %d: %w", d.OrderID, err)
			}
		}
		var next *enrollment.OrderRecord
		next, outcome, jobs = apply(rec)
		d.Outcome = outcome
		if err := tx.Create(dref, d); err != nil {
			return err
		}
		if next != nil {
			derive(next)
			fit(next)
			if err := tx.Set(oref, next); err != nil {
				return err
			}
		}
		return s.addJobs(tx, jobs)
	}, firestore.MaxAttempts(intakeAttempts))
	if status.Code(err) == codes.AlreadyExists {
		return enrollment.OutcomeDuplicate, nil, nil
	}
	if err != nil {
		return "", nil, err
	}
	return outcome, jobs, nil
}

// addJobs writes jobs into the outbox, and each into its order's events (for the Console's
// timeline; the outbox forgets a job once it is published). The event's id is the job's, so
// a transaction that runs again writes it once.
func (s *Store) addJobs(tx *firestore.Transaction, jobs []enrollment.Job) error {
	for _, j := range jobs {
		if err := tx.Set(s.c.Collection(Outbox).Doc(j.ID), j); err != nil {
			return err
		}
		e := enrollment.Event{At: j.CreatedAt, Kind: enrollment.EventJobQueued, Job: j.ID, JobKind: j.Kind}
		if err := tx.Set(s.events(j.OrderID).Doc("queued-"+j.ID), e); err != nil {
			return err
		}
	}
	return nil
}

// RecordIgnored implements enrollment.Store.
func (s *Store) RecordIgnored(ctx context.Context, d enrollment.Delivery) (bool, error) {
	d.Outcome = enrollment.OutcomeIgnored
	_, err := s.c.Collection(Deliveries).Doc(d.Hash).Create(ctx, d)
	if status.Code(err) == codes.AlreadyExists {
		return true, nil
	}
	return false, err
}

// errNoWrite aborts a transaction whose function failed, carrying its error out.
type errNoWrite struct{ err error }

func (e errNoWrite) Error() string { return e.err.Error() }

// Update implements enrollment.Store.
func (s *Store) Update(ctx context.Context, orderID int64, fn func(*enrollment.OrderRecord) ([]enrollment.Job, error)) ([]enrollment.Job, error) {
	ref := s.order(orderID)
	var jobs []enrollment.Job
	err := s.c.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		doc, err := tx.Get(ref)
		if status.Code(err) == codes.NotFound {
			return errNoWrite{enrollment.ErrOrderNotFound}
		}
		if err != nil {
			return err
		}
		var rec, before enrollment.OrderRecord
		if err := doc.DataTo(&rec); err != nil {
			return fmt.Errorf("decode order %d: %w", orderID, err)
		}
		_ = doc.DataTo(&before)
		jobs, err = fn(&rec)
		if err != nil {
			return errNoWrite{err}
		}
		if len(jobs) == 0 && reflect.DeepEqual(rec, before) {
			return nil // nothing changed: no write (many steps of a job only check)
		}
		rec.UpdatedAt = time.Now().UTC()
		derive(&rec)
		fit(&rec)
		if err := tx.Set(ref, &rec); err != nil {
			return err
		}
		return s.addJobs(tx, jobs)
	})
	var nw errNoWrite
	if errors.As(err, &nw) {
		return nil, nw.err
	}
	return jobs, err
}

// Get implements enrollment.Store.
func (s *Store) Get(ctx context.Context, orderID int64) (*enrollment.OrderRecord, error) {
	doc, err := s.order(orderID).Get(ctx)
	if status.Code(err) == codes.NotFound {
		return nil, enrollment.ErrOrderNotFound
	}
	if err != nil {
		return nil, err
	}
	var rec enrollment.OrderRecord
	if err := doc.DataTo(&rec); err != nil {
		return nil, fmt.Errorf("decode order %d: %w", orderID, err)
	}
	return &rec, nil
}

// Deliveries lists the deliveries recorded for an order (for tests and operators).
func (s *Store) Deliveries(ctx context.Context, orderID int64) ([]enrollment.Delivery, error) {
	docs, err := s.order(orderID).Collection(Deliveries).Documents(ctx).GetAll()
	return decodeAll(docs, err, func(d *enrollment.Delivery, id string) { d.Hash = id })
}

// PendingJobs implements enrollment.Store.
func (s *Store) PendingJobs(ctx context.Context, before time.Time, limit int) ([]enrollment.Job, error) {
	docs, err := s.c.Collection(Outbox).Where("createdAt", "<", before).OrderBy("createdAt", firestore.Asc).Limit(limit).Documents(ctx).GetAll()
	return decodeAll(docs, err, func(j *enrollment.Job, id string) { j.ID = id })
}

// decodeAll decodes query results, giving each value its document id.
func decodeAll[T any](docs []*firestore.DocumentSnapshot, err error, setID func(*T, string)) ([]T, error) {
	if err != nil {
		return nil, err
	}
	out := make([]T, 0, len(docs))
	for _, doc := range docs {
		var v T
		if err := doc.DataTo(&v); err != nil {
			return nil, fmt.Errorf("decode %s: %w", doc.Ref.Path, err)
		}
		setID(&v, doc.Ref.ID)
		out = append(out, v)
	}
	return out, nil
}

// OrdersGranting implements enrollment.Store.
func (s *Store) OrdersGranting(ctx context.Context, key string, except int64) ([]int64, error) {
	docs, err := s.c.Collection(Orders).Where("grants", "array-contains", key).Select("id").Documents(ctx).GetAll()
	if err != nil {
		return nil, err
	}
	var out []int64
	for _, d := range docs {
		if id, err := strconv.ParseInt(d.Ref.ID, 10, 64); err == nil && id != except {
			out = append(out, id)
		}
	}
	return out, nil
}

// JobPublished implements enrollment.Store.
func (s *Store) JobPublished(ctx context.Context, jobID string) error {
	_, err := s.c.Collection(Outbox).Doc(jobID).Delete(ctx)
	return err
}

// maxOrderBytes keeps an order document well inside Firestore's 1 MiB limit (1,048,576
// bytes, field names and the document's name included), measured as its JSON encoding,
// which spends more bytes than Firestore's own count on quotes and keys.
const maxOrderBytes = 900 << 10

// maxTrimmedName is how much of a line's name a trimmed document keeps.
const maxTrimmedName = 80

// fit makes rec small enough to store, so that a huge order is recorded rather than
// refused over and over (a 503 loop): it drops the raw payload first, then the older status
// changes, then shortens the line names, and says what it left out in rec.Trimmed. The
// per-line enrollment state, which decides what happens, is never trimmed.
func fit(rec *enrollment.OrderRecord) {
	if docSize(rec) <= maxOrderBytes {
		return
	}
	trimmed := func(what string) {
		if !slices.Contains(rec.Trimmed, what) {
			rec.Trimmed = append(rec.Trimmed, what)
		}
	}
	if rec.Raw != "" {
		rec.Raw = ""
		trimmed("raw payload")
		if docSize(rec) <= maxOrderBytes {
			return
		}
	}
	for len(rec.History) > 1 && docSize(rec) > maxOrderBytes {
		rec.History = rec.History[len(rec.History)/2:] // keep the newest half
		trimmed("older status changes")
	}
	if docSize(rec) <= maxOrderBytes {
		return
	}
	short := func(s string) string {
		if len(s) <= maxTrimmedName {
			return s
		}
		cut := maxTrimmedName
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return s[:cut] + "…"
	}
	for i := range rec.Snapshot.Order.Lines {
		rec.Snapshot.Order.Lines[i].Name = short(rec.Snapshot.Order.Lines[i].Name)
	}
	for i := range rec.Lines {
		rec.Lines[i].LineName = short(rec.Lines[i].LineName)
	}
	trimmed("long line names")
}

// docSize estimates the stored size of rec.
func docSize(rec *enrollment.OrderRecord) int {
	b, err := json.Marshal(rec)
	if err != nil {
		return 0
	}
	return len(b)
}
