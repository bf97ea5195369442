package function

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/aulasneo/wc-openedx/internal/enrollment"
	"github.com/aulasneo/wc-openedx/internal/jobs"
	"github.com/aulasneo/wc-openedx/internal/store"
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
	deadAfter, dead := push.DeadLetterAttempts()
	if dead {
		// Retries are exhausted: this last run records transient failures as final.
		attempt = max(deadAfter, a.Config.EnrollMaxAttempts)
	}
	log := a.Log.With("order", job.OrderID, "job", job.ID, "attempt", attempt)
	ctx, cancel := context.WithTimeout(r.Context(), jobTimeout)
	defer cancel()
	err = a.Service.Process(ctx, job, attempt)
	a.recordRun(ctx, job, attempt, dead, deadAfter, err)
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

// recordRun records the run on the order's timeline and, for a job that came through the
// dead-letter topic, in deadLetters (the Console's health page). Nothing else records dead
// letters in Firestore: Pub/Sub keeps them on the dead-letter subscription for 7 days.
func (a *App) recordRun(ctx context.Context, j enrollment.Job, attempt int, dead bool, deadAfter int, runErr error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	e := enrollment.JobRun(j, attempt, dead, runErr, a.Service.Now())
	err := a.Store.RecordEvent(ctx, j.OrderID, e)
	if dead {
		err = errors.Join(err, a.Store.RecordDeadLetter(ctx, store.DeadLetter{
			Job: j.ID, JobKind: j.Kind, OrderID: j.OrderID, Attempts: deadAfter, At: e.At, Outcome: e.Outcome, Error: e.Error,
		}))
	}
	if err != nil {
		a.Log.WarnContext(ctx, "could not record the job's run", "order", j.OrderID, "job", j.ID, "error", err)
	}
}
