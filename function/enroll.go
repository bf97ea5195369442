package function

import (
	"context"
	"errors"
	"net/http"

	"github.com/aulasneo/wc-openedx/internal/enrollment"
	"github.com/aulasneo/wc-openedx/internal/jobs"
)

// enroll is the Enroll function: a Pub/Sub push of one job. 204 acknowledges (done, or a
// permanent failure that was recorded and reported); 503 asks Pub/Sub to deliver it again.
func (a *App) enroll(w http.ResponseWriter, r *http.Request) {
	if err := a.auth.check(r); err != nil {
		a.Log.WarnContext(r.Context(), "push rejected", "error", err)
		reject(w, http.StatusUnauthorized, err.Error())
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		reject(w, http.StatusMethodNotAllowed, "Pub/Sub pushes with POST")
		return
	}
	job, push, err := jobs.DecodePush(r.Body)
	if err != nil {
		// It can never be processed: acknowledge so it does not loop, and say why.
		a.Log.ErrorContext(r.Context(), "push acknowledged without work", "error", err)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	attempt := push.DeliveryAttempt
	if n, dead := push.DeadLetterAttempts(); dead {
		// Retries are exhausted: this last run records transient failures as final.
		attempt = max(n, a.Config.EnrollMaxAttempts)
	}
	log := a.Log.With("order", job.OrderID, "job", job.ID, "attempt", attempt)
	ctx, cancel := context.WithTimeout(r.Context(), jobTimeout)
	defer cancel()
	err = a.Service.Process(ctx, job, attempt)
	switch {
	case err == nil:
		log.InfoContext(ctx, "job done")
		w.WriteHeader(http.StatusNoContent)
	case enrollment.IsPermanent(err):
		log.ErrorContext(ctx, "job failed permanently", "error", err)
		w.WriteHeader(http.StatusNoContent)
	default:
		if errors.Is(err, enrollment.ErrRetry) {
			log.WarnContext(ctx, "job will be retried", "error", err)
		} else {
			log.ErrorContext(ctx, "job failed, will be retried", "error", err)
		}
		reject(w, http.StatusServiceUnavailable, err.Error())
	}
}
