package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/firestore"
	firestorepb "cloud.google.com/go/firestore/apiv1/firestorepb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/aulasneo/wc-openedx/internal/enrollment"
)

// What the Console reads: orders by stage or buyer, an order's events, the outbox, the dead
// letters and the last sweep.

// More collection names.
const (
	Events      = "events"      // orders/{id}/events
	DeadLetters = "deadLetters" // jobs whose retries ran out
	lastRunDoc  = "lastRun"     // sweep/lastRun
)

// derive writes the record's derived fields, which exist to be queried: the access keys it
// grants (other orders' unenrollments ask for them), its stage and its buyer's email (the
// Console's lists).
func derive(rec *enrollment.OrderRecord) {
	rec.Grants = rec.AccessKeys()
	rec.Stage, rec.BuyerEmail = indexed(rec)
}

// indexed is what the Console's queries find an order by: its stage and its buyer's email.
// derive writes them on every write of the order, IndexOrders on orders written before.
func indexed(rec *enrollment.OrderRecord) (stage, buyerEmail string) {
	stage, _ = rec.CurrentStage()
	return stage, rec.Snapshot.Order.LearnerEmail()
}

func (s *Store) events(orderID int64) *firestore.CollectionRef {
	return s.order(orderID).Collection(Events)
}

// QueryShape is one query the Console runs: equality filters on Equal, ordered by OrderBy
// (then by document id, in the same direction). The store builds its queries from these
// shapes, and terraform/'s tests check that each one that needs a composite index has it in
// terraform/firestore.tf: production Firestore refuses such a query without its index (the
// emulator does not check).
type QueryShape struct {
	Name       string
	Collection string
	Equal      []string
	OrderBy    string
	Desc       bool
}

// NeedsIndex reports whether Firestore needs a composite index for the query: an equality
// filter on one field and an order on another. Single-field indexes, which Firestore keeps
// for every field by itself, serve the others.
func (q QueryShape) NeedsIndex() bool {
	for _, f := range q.Equal {
		if q.OrderBy != "" && f != q.OrderBy {
			return true
		}
	}
	return len(q.Equal) > 1
}

// The Console's queries.
var (
	QueryOrders        = QueryShape{Name: "orders, newest first", Collection: Orders, OrderBy: "createdAt", Desc: true}
	QueryOrdersInStage = QueryShape{Name: "orders in a stage, newest first", Collection: Orders, Equal: []string{"stage"}, OrderBy: "createdAt", Desc: true}
	QueryOrdersOfBuyer = QueryShape{Name: "orders of a buyer, newest first", Collection: Orders, Equal: []string{"buyerEmail"}, OrderBy: "createdAt", Desc: true}
	QueryOrderNumber   = QueryShape{Name: "orders with a number", Collection: Orders, Equal: []string{"number"}}
	QueryEvents        = QueryShape{Name: "an order's events, oldest first", Collection: Events, OrderBy: "at"}
	QueryDeadLetters   = QueryShape{Name: "dead letters, newest first", Collection: DeadLetters, OrderBy: "at", Desc: true}
	QueryOutbox        = QueryShape{Name: "outbox, oldest first", Collection: Outbox, OrderBy: "createdAt"}
)

// ConsoleQueries lists every query of the Console.
var ConsoleQueries = []QueryShape{QueryOrders, QueryOrdersInStage, QueryOrdersOfBuyer, QueryOrderNumber, QueryEvents, QueryDeadLetters, QueryOutbox}

// build makes the query of shape q on collection c with the equality values, in order.
func (q QueryShape) build(c *firestore.CollectionRef, values ...any) firestore.Query {
	query := c.Query
	for i, f := range q.Equal {
		query = query.Where(f, "==", values[i])
	}
	if q.OrderBy != "" {
		dir := firestore.Asc
		if q.Desc {
			dir = firestore.Desc
		}
		query = query.OrderBy(q.OrderBy, dir).OrderBy(firestore.DocumentID, dir)
	}
	return query
}

// OrderQuery is what the Console's order list asks for. Number, then BuyerEmail, wins over
// Stage.
type OrderQuery struct {
	Stage      string // one of enrollment.Stages; "" for every order
	BuyerEmail string // the buyer's email, any case
	Number     string // the order number as the shop shows it
	After      string // OrderPage.Next of the page before
	Limit      int
}

// OrderPage is a page of the order list, newest first. The records hold only the fields a
// list shows (summaryFields).
type OrderPage struct {
	Orders []enrollment.OrderRecord
	Next   string // the After of the next page; "" on the last one
}

// summaryFields are what the list reads of each order: not the raw payload, which can be
// half a megabyte.
var summaryFields = []string{
	"id", "number", "status", "stage", "buyerEmail", "createdAt", "updatedAt", "lines", "needsConfirmation",
	"paidBy", "completion", "confirmationEmail", "failed", "enrollGeneration",
	"snapshot.order.Billing", "snapshot.order.Total", "snapshot.order.Currency",
}

// ErrBadCursor: the After of an OrderQuery is not one the store wrote.
var ErrBadCursor = errors.New("not a page cursor")

// Orders lists orders newest first (SPEC: the Console's orders).
func (s *Store) Orders(ctx context.Context, q OrderQuery) (OrderPage, error) {
	if q.Limit <= 0 {
		q.Limit = 50
	}
	col := s.c.Collection(Orders)
	var query firestore.Query
	switch {
	case q.Number != "":
		return s.ordersNumbered(ctx, strings.TrimPrefix(strings.TrimSpace(q.Number), "#"))
	case q.BuyerEmail != "":
		query = QueryOrdersOfBuyer.build(col, strings.ToLower(strings.TrimSpace(q.BuyerEmail)))
	case q.Stage != "":
		query = QueryOrdersInStage.build(col, q.Stage)
	default:
		query = QueryOrders.build(col)
	}
	if q.After != "" {
		at, id, err := parseCursor(q.After)
		if err != nil {
			return OrderPage{}, err
		}
		query = query.StartAfter(at, id)
	}
	docs, err := query.Select(summaryFields...).Limit(q.Limit + 1).Documents(ctx).GetAll()
	recs, err := decodeAll(docs, err, func(*enrollment.OrderRecord, string) {})
	if err != nil {
		return OrderPage{}, err
	}
	var p OrderPage
	if len(recs) > q.Limit {
		recs = recs[:q.Limit]
		last := docs[q.Limit-1]
		p.Next = cursor(recs[q.Limit-1].CreatedAt, last.Ref.ID)
	}
	p.Orders = recs
	return p, nil
}

// ordersNumbered finds the orders with this number (the shop's number; sequential-number
// plugins make it differ from the id), or else the order with this id.
func (s *Store) ordersNumbered(ctx context.Context, number string) (OrderPage, error) {
	if number == "" {
		return OrderPage{}, nil
	}
	docs, err := QueryOrderNumber.build(s.c.Collection(Orders), number).Select(summaryFields...).Limit(20).Documents(ctx).GetAll()
	recs, err := decodeAll(docs, err, func(*enrollment.OrderRecord, string) {})
	if err != nil || len(recs) > 0 {
		return OrderPage{Orders: recs}, err
	}
	id, perr := strconv.ParseInt(number, 10, 64)
	if perr != nil || id <= 0 {
		return OrderPage{}, nil
	}
	rec, err := s.Get(ctx, id)
	if errors.Is(err, enrollment.ErrOrderNotFound) {
		return OrderPage{}, nil
	}
	if err != nil {
		return OrderPage{}, err
	}
	rec.Raw = ""
	return OrderPage{Orders: []enrollment.OrderRecord{*rec}}, nil
}

func cursor(at time.Time, id string) string {
	return strconv.FormatInt(at.UnixNano(), 10) + "." + id
}

func parseCursor(c string) (time.Time, string, error) {
	ns, id, ok := strings.Cut(c, ".")
	n, err := strconv.ParseInt(ns, 10, 64)
	if !ok || err != nil || id == "" || strings.Contains(id, "/") || len(id) > 40 {
		return time.Time{}, "", ErrBadCursor
	}
	return time.Unix(0, n).UTC(), id, nil
}

// maxEvents bounds the events the Console reads for one order.
const maxEvents = 1000

// RecordEvent implements enrollment.EventLog.
func (s *Store) RecordEvent(ctx context.Context, orderID int64, e enrollment.Event) error {
	_, err := s.events(orderID).NewDoc().Create(ctx, e)
	return err
}

// Events lists an order's events, oldest first.
func (s *Store) Events(ctx context.Context, orderID int64) ([]enrollment.Event, error) {
	docs, err := QueryEvents.build(s.events(orderID)).Limit(maxEvents).Documents(ctx).GetAll()
	return decodeAll(docs, err, func(*enrollment.Event, string) {})
}

// DeadLetter is a job whose retries ran out: Pub/Sub moved it to the dead-letter topic, and
// the dead-letter subscription pushed it to the Enroll function one last time.
type DeadLetter struct {
	Job      string    `firestore:"-"`
	JobKind  string    `firestore:"jobKind"`
	OrderID  int64     `firestore:"orderId"`
	Attempts int       `firestore:"attempts"` // delivery attempts before it was dead-lettered
	At       time.Time `firestore:"at"`       // when the last run ended
	Outcome  string    `firestore:"outcome"`  // of the last run (enrollment.EventDone, …)
	Error    string    `firestore:"error,omitempty"`
}

// RecordDeadLetter records (or updates) the dead letter of job d.Job.
func (s *Store) RecordDeadLetter(ctx context.Context, d DeadLetter) error {
	_, err := s.c.Collection(DeadLetters).Doc(d.Job).Set(ctx, d)
	return err
}

// DeadLetters lists the newest dead letters.
func (s *Store) DeadLetters(ctx context.Context, limit int) ([]DeadLetter, error) {
	docs, err := QueryDeadLetters.build(s.c.Collection(DeadLetters)).Limit(limit).Documents(ctx).GetAll()
	return decodeAll(docs, err, func(d *DeadLetter, id string) { d.Job = id })
}

// Backlog is what waits in the outbox.
type Backlog struct {
	Count  int64
	Oldest *enrollment.Job // nil when the outbox is empty
}

// OutboxBacklog counts the outbox and finds its oldest job.
func (s *Store) OutboxBacklog(ctx context.Context) (Backlog, error) {
	var b Backlog
	res, err := s.c.Collection(Outbox).NewAggregationQuery().WithCount("n").Get(ctx)
	if err != nil {
		return b, fmt.Errorf("count the outbox: %w", err)
	}
	if v, ok := res["n"].(*firestorepb.Value); ok {
		b.Count = v.GetIntegerValue()
	}
	docs, err := QueryOutbox.build(s.c.Collection(Outbox)).Limit(1).Documents(ctx).GetAll()
	jobs, err := decodeAll(docs, err, func(j *enrollment.Job, id string) { j.ID = id })
	if err != nil {
		return b, fmt.Errorf("read the outbox: %w", err)
	}
	if len(jobs) > 0 {
		b.Oldest = &jobs[0]
	}
	return b, nil
}

// SweepRun is what one run of the sweep did (sweep/lastRun).
type SweepRun struct {
	StartedAt  time.Time              `firestore:"startedAt"`
	FinishedAt time.Time              `firestore:"finishedAt"`
	Error      string                 `firestore:"error,omitempty"` // it could not run
	Result     enrollment.SweepResult `firestore:"result"`
}

func (s *Store) lastRun() *firestore.DocumentRef { return s.c.Collection(Sweep).Doc(lastRunDoc) }

// RecordSweepRun keeps what the sweep just did.
func (s *Store) RecordSweepRun(ctx context.Context, r SweepRun) error {
	_, err := s.lastRun().Set(ctx, r)
	return err
}

// LastSweepRun reads what the last sweep did; nil before the first.
func (s *Store) LastSweepRun(ctx context.Context) (*SweepRun, error) {
	doc, err := s.lastRun().Get(ctx)
	if status.Code(err) == codes.NotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var r SweepRun
	if err := doc.DataTo(&r); err != nil {
		return nil, fmt.Errorf("decode %s/%s: %w", Sweep, lastRunDoc, err)
	}
	return &r, nil
}

// indexVersion names what derive writes for the Console's queries (stage, buyerEmail). Bump
// it when that changes: IndexOrders then goes through every order again.
const indexVersion = 1

// indexState is how far IndexOrders got (sweep/index).
type indexState struct {
	Version int    `firestore:"version"`
	After   string `firestore:"after"` // the last order id indexed
	Done    bool   `firestore:"done"`
}

// indexFields are what derive reads of an order to write its stage and buyer email.
var indexFields = []string{
	"id", "status", "lines", "needsConfirmation", "paidBy", "completion", "confirmationEmail",
	"enrollGeneration", "snapshot.order.Billing", "stage", "buyerEmail",
}

// IndexOrders writes the stage and buyer email of up to limit orders recorded before they
// existed (or before indexVersion changed), continuing where the last call stopped; the
// sweep calls it on every run until every order is done. Orders written since have them
// already (derive), and an order written while this runs is left to that write. Once every
// order is indexed, later calls on the same Store read nothing. It returns how many orders
// it updated.
func (s *Store) IndexOrders(ctx context.Context, limit int) (int, error) {
	if s.indexed.Load() {
		return 0, nil // this process saw every order indexed: no read on later sweeps
	}
	ref := s.c.Collection(Sweep).Doc("index")
	var st indexState
	doc, err := ref.Get(ctx)
	switch {
	case status.Code(err) == codes.NotFound:
	case err != nil:
		return 0, err
	default:
		if err := doc.DataTo(&st); err != nil {
			return 0, fmt.Errorf("decode %s/index: %w", Sweep, err)
		}
	}
	if st.Version == indexVersion && st.Done {
		s.indexed.Store(true)
		return 0, nil
	}
	if st.Version != indexVersion {
		st = indexState{Version: indexVersion}
	}
	q := s.c.Collection(Orders).OrderBy(firestore.DocumentID, firestore.Asc).Select(indexFields...).Limit(limit)
	if st.After != "" {
		q = q.StartAfter(st.After)
	}
	docs, err := q.Documents(ctx).GetAll()
	if err != nil {
		return 0, err
	}
	updated := 0
	for _, d := range docs {
		var rec enrollment.OrderRecord
		if err := d.DataTo(&rec); err != nil {
			continue // not an order the service can read; nothing to index
		}
		stage, email := indexed(&rec)
		if stage == rec.Stage && email == rec.BuyerEmail {
			continue
		}
		_, err := d.Ref.Update(ctx, []firestore.Update{{Path: "stage", Value: stage}, {Path: "buyerEmail", Value: email}}, firestore.LastUpdateTime(d.UpdateTime))
		switch {
		case status.Code(err) == codes.FailedPrecondition:
			// Written meanwhile: that write derived them.
		case err != nil:
			return updated, fmt.Errorf("index order %s: %w", d.Ref.ID, err)
		default:
			updated++
		}
	}
	if len(docs) > 0 {
		st.After = docs[len(docs)-1].Ref.ID
	}
	st.Done = len(docs) < limit
	if _, err := ref.Set(ctx, st); err != nil {
		return updated, err
	}
	s.indexed.Store(st.Done)
	return updated, nil
}
