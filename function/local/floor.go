package local

import (
	"context"
	"strconv"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/aulasneo/wc-openedx/internal/enrollment"
	"github.com/aulasneo/wc-openedx/internal/jobs"
	"github.com/aulasneo/wc-openedx/internal/woocommerce"
)

// Floor is what intake minimally does, for measuring the service against it (the benchmark
// and function/cmd/load): one transaction reading the order and delivery documents and
// writing the delivery, the order (with the raw payload) and, for an order that needs a job,
// the outbox document; then publishing the job. No HTTP, no parsing, no decisions.
type Floor struct {
	FS  *firestore.Client
	Pub *jobs.Publisher
}

// Do runs the floor's intake of one delivery.
func (f *Floor) Do(ctx context.Context, id int64, body []byte, withJob bool) error {
	sid := strconv.FormatInt(id, 10)
	oref := f.FS.Collection("floor-orders").Doc(sid)
	dref := oref.Collection("deliveries").Doc(woocommerce.BodyHash(body))
	now := time.Now().UTC()
	job := enrollment.Job{ID: "enroll-" + sid + "-1", Kind: enrollment.JobEnroll, OrderID: id, Gen: 1, CreatedAt: now}
	err := f.FS.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		docs, err := tx.GetAll([]*firestore.DocumentRef{dref, oref})
		if err != nil {
			return err
		}
		if docs[0].Exists() {
			return nil
		}
		if err := tx.Create(dref, map[string]any{"topic": "order.created", "outcome": "applied", "receivedAt": now}); err != nil {
			return err
		}
		if err := tx.Set(oref, map[string]any{"id": id, "status": "processing", "raw": string(body), "updatedAt": now}); err != nil {
			return err
		}
		if withJob {
			return tx.Set(f.FS.Collection("floor-outbox").Doc(job.ID), job)
		}
		return nil
	})
	if err != nil || !withJob {
		return err
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return f.Pub.Publish(pctx, job)
}
