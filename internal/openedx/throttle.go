package openedx

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aulasneo/wc-openedx/internal/enrollment"
)

// maxInlineWait is the longest Retry-After the client waits out inside a call. A longer one
// is returned as a transient error, so that the job ends and Pub/Sub's backoff runs; until
// it has passed, the client makes no request to the LMS (every call returns that error
// again), so that other lines and jobs do not hammer the throttle either.
const maxInlineWait = 5 * time.Second

// maxInlineWaits bounds how many times one call waits before giving up.
const maxInlineWaits = 3

// throttle remembers the end of the wait a 429 asked for (DRF's Retry-After).
type throttle struct {
	mu    sync.Mutex
	until time.Time
	msg   string // the LMS's message with the 429, for the error
}

func (t *throttle) set(until time.Time, msg string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if until.After(t.until) {
		t.until, t.msg = until, msg
	}
}

// remaining is how long the client must still wait, and the LMS's message.
func (t *throttle) remaining() (time.Duration, string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return time.Until(t.until), t.msg
}

// throttledError is a wait the LMS asked for that is too long to spend inside the call. It
// is transient.
type throttledError struct {
	wait time.Duration
	msg  string
}

func (e *throttledError) Error() string {
	return fmt.Sprintf("the LMS is rate limiting the service: it asked for no request during the next %s (429 Retry-After, %q)",
		e.wait.Round(time.Second), e.msg)
}

// Explain says it in the shop's people's words, quoting the LMS's message.
func (e *throttledError) Explain() *enrollment.Explained {
	return &enrollment.Explained{Key: "lms.throttled", Args: []any{int(e.wait.Round(time.Second) / time.Second)},
		By: enrollment.ByLMS, Status: http.StatusTooManyRequests, Said: e.msg}
}

// waitOut waits d inside the call when it is short, the call has not waited too often, and
// ctx leaves time for it; otherwise it returns a throttledError.
func waitOut(ctx context.Context, d time.Duration, msg string, waits *int) error {
	if d > maxInlineWait || *waits >= maxInlineWaits {
		return &throttledError{wait: d, msg: msg}
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= d {
		return &throttledError{wait: d, msg: msg}
	}
	*waits++
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting out the LMS's Retry-After: %w", ctx.Err())
	}
}

// retryAfter reads a Retry-After header: delay-seconds, or an HTTP date. 0 when absent or
// unreadable.
func retryAfter(h http.Header) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil {
		if n <= 0 {
			return 0
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}
