package enrollment

import (
	"context"
	"fmt"
	"time"
)

// defaultOutboxGrace is how old an outbox job must be before the sweep publishes it, so that
// it does not race the request that is publishing it right now.
const defaultOutboxGrace = 30 * time.Second

// SweepReport says what one sweep did.
type SweepReport struct {
	Published int
	Failed    int
}

// RelayOutbox publishes the jobs whose publish failed (SPEC §1, the outbox). It returns an
// error only when the outbox could not be read.
func (s *Service) RelayOutbox(ctx context.Context) (SweepReport, error) {
	var rep SweepReport
	for {
		grace := s.Settings.OutboxGrace
		if grace <= 0 {
			grace = defaultOutboxGrace
		}
		jobs, err := s.Store.PendingJobs(ctx, s.now().Add(-grace), 100)
		if err != nil {
			return rep, fmt.Errorf("read the outbox: %w", err)
		}
		before := rep.Published
		for _, j := range jobs {
			pctx, cancel := context.WithTimeout(ctx, s.publishTimeout())
			err := s.Publisher.Publish(pctx, j)
			cancel()
			if err != nil {
				// Pub/Sub is still unreachable: leave the rest for the next run rather than
				// spend the whole sweep waiting on it.
				rep.Failed += len(jobs) - rep.Published + before
				s.log().WarnContext(ctx, "outbox jobs still not published", "first", j.ID, "count", len(jobs)-rep.Published+before, "error", err)
				return rep, nil
			}
			if err := s.Store.JobPublished(ctx, j.ID); err != nil {
				rep.Failed++
				continue
			}
			rep.Published++
		}
		if len(jobs) < 100 || rep.Published == before {
			return rep, nil
		}
	}
}
