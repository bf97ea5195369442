package store

import (
	"context"
	"errors"
	"fmt"

	"cloud.google.com/go/firestore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/aulasneo/wc-openedx/internal/enrollment"
)

// sweepStateDoc is the one document of the Sweep collection: the reconciliation checkpoint
// and the open webhook incidents.
const sweepStateDoc = "state"

var _ enrollment.SweepStore = (*Store)(nil)

func (s *Store) sweepState() *firestore.DocumentRef {
	return s.c.Collection(Sweep).Doc(sweepStateDoc)
}

// LoadSweep implements enrollment.SweepStore.
func (s *Store) LoadSweep(ctx context.Context) (enrollment.SweepState, error) {
	var st enrollment.SweepState
	doc, err := s.sweepState().Get(ctx)
	if status.Code(err) == codes.NotFound {
		return st, nil
	}
	if err != nil {
		return st, err
	}
	if err := doc.DataTo(&st); err != nil {
		return st, fmt.Errorf("decode %s/%s: %w", Sweep, sweepStateDoc, err)
	}
	return st, nil
}

// UpdateSweep implements enrollment.SweepStore.
func (s *Store) UpdateSweep(ctx context.Context, fn func(*enrollment.SweepState) error) error {
	ref := s.sweepState()
	err := s.c.RunTransaction(ctx, func(ctx context.Context, tx *firestore.Transaction) error {
		var st enrollment.SweepState
		doc, err := tx.Get(ref)
		switch {
		case status.Code(err) == codes.NotFound:
		case err != nil:
			return err
		default:
			if err := doc.DataTo(&st); err != nil {
				return fmt.Errorf("decode %s/%s: %w", Sweep, sweepStateDoc, err)
			}
		}
		if err := fn(&st); err != nil {
			return errNoWrite{err}
		}
		return tx.Set(ref, &st)
	})
	var nw errNoWrite
	if errors.As(err, &nw) {
		return nw.err
	}
	return err
}
