package function

import (
	"encoding/json"
	"net/http"
)

// sweep is the Sweep function, called by Cloud Scheduler: it publishes jobs left in the
// outbox. 200 when it ran (even if some jobs are still unpublished: the next run retries
// them); 500 only when it could not run.
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
	rep, err := a.Service.RelayOutbox(ctx)
	if err != nil {
		a.Log.ErrorContext(ctx, "sweep could not run", "error", err)
		reject(w, http.StatusInternalServerError, err.Error())
		return
	}
	a.Log.InfoContext(ctx, "sweep done", "published", rep.Published, "unpublished", rep.Failed)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(rep)
}
