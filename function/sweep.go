package function

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/aulasneo/wc-openedx/internal/store"
)

// indexPerSweep is how many orders one sweep indexes for the Console (store.IndexOrders).
const indexPerSweep = 300

// sweep is the Sweep function, called by Cloud Scheduler (SPEC §2.7): it publishes jobs left
// in the outbox, checks the shop's webhooks and reconciles the orders modified since its last
// run. 200 with a JSON report when it ran (even if some orders or jobs failed: the next run
// retries them); 500 only when it could not run.
func (a *App) sweep(w http.ResponseWriter, r *http.Request) {
	if err := a.auth.check(r); err != nil {
		a.Log.WarnContext(r.Context(), "sweep call rejected", "error", err)
		reject(w, http.StatusUnauthorized, err.Error())
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		reject(w, http.StatusMethodNotAllowed, "the scheduler calls the sweep with POST")
		return
	}
	ctx := r.Context()
	started := a.Service.Now().UTC()
	rep, err := a.Service.Sweep(ctx)
	run := store.SweepRun{StartedAt: started, FinishedAt: a.Service.Now().UTC(), Result: rep}
	if err != nil {
		run.Error = err.Error()
	}
	// What it did, for the Console's health page.
	if rerr := a.Store.RecordSweepRun(context.WithoutCancel(ctx), run); rerr != nil {
		a.Log.WarnContext(ctx, "could not record the sweep's run", "error", rerr)
	}
	// Orders recorded before the Console existed get their stage and buyer email, a few
	// hundred a run, so that the Console's lists find them.
	if n, ierr := a.Store.IndexOrders(ctx, indexPerSweep); ierr != nil {
		a.Log.WarnContext(ctx, "could not index orders for the console; the next sweep goes on", "error", ierr)
	} else if n > 0 {
		a.Log.InfoContext(ctx, "orders indexed for the console", "orders", n)
	}
	if err != nil {
		a.Log.ErrorContext(ctx, "sweep could not run", "error", err)
		reject(w, http.StatusInternalServerError, err.Error())
		return
	}
	a.Log.InfoContext(ctx, "sweep done", "published", rep.Published, "unpublished", rep.Unpublished,
		"reconciled", rep.Reconcile.Orders, "reconcile_failed", rep.Reconcile.Failed,
		"reconcile_unreadable", rep.Reconcile.Unreadable,
		"incidents_opened", rep.Webhooks.Opened, "incidents_closed", rep.Webhooks.Closed, "notices_sent", rep.Notices.Sent)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(rep)
}
