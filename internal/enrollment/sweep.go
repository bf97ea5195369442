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
			if err := s.Publisher.Publish(ctx, j); err != nil {
				rep.Failed++
				s.log().WarnContext(ctx, "outbox job still not published", "job", j.ID, "error", err)
				continue
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
