package store

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/aulasneo/wc-openedx/internal/enrollment"
	"github.com/aulasneo/wc-openedx/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// TestIndexOrders: orders written before the Console's fields existed (no stage, no buyer
// email) are found by its queries once the sweep has indexed them, a few at a time.
func TestIndexOrders(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := New(ctx, testenv.Project(t), "")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	created := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	const n = 5
	for i := range n {
		id := int64(100 + i)
		rec := enrollment.OrderRecord{
			ID: id, Number: strconv.FormatInt(id, 10), Status: enrollment.StatusProcessing, PaidBy: enrollment.PaidByStatus, EnrollGen: 1,
			Lines:     []enrollment.LineState{{LineID: 1, Course: "course-v1:O+C+R", State: enrollment.LineFailed, FailedGen: 1, Reason: "closed"}},
			CreatedAt: created.Add(time.Duration(i) * time.Minute),
		}
		rec.Snapshot.Order = enrollment.Order{ID: id, Billing: enrollment.Person{Email: " Old.Buyer@Example.com"}}
		// As an older version of the service wrote it: no derived fields.
		if _, err := s.Client().Collection(Orders).Doc(strconv.FormatInt(id, 10)).Set(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	count := func(q OrderQuery) int {
		t.Helper()
		p, err := s.Orders(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		return len(p.Orders)
	}
	if got := count(OrderQuery{Stage: enrollment.StageFailed}); got != 0 {
		t.Fatalf("before indexing, %d failed orders found", got)
	}
	total := 0
	for range 5 {
		got, err := s.IndexOrders(ctx, 2)
		if err != nil {
			t.Fatal(err)
		}
		if got > 2 {
			t.Fatalf("indexed %d orders with a limit of 2", got)
		}
		total += got
	}
	if total != n {
		t.Errorf("indexed %d orders in all, want %d", total, n)
	}
	if got := count(OrderQuery{Stage: enrollment.StageFailed}); got != n {
		t.Errorf("after indexing, %d failed orders found, want %d", got, n)
	}
	if got := count(OrderQuery{BuyerEmail: "old.buyer@example.com"}); got != n {
		t.Errorf("after indexing, %d orders of the buyer found, want %d", got, n)
	}
	if got, err := s.IndexOrders(ctx, 2); err != nil || got != 0 {
		t.Errorf("once done, IndexOrders indexed %d (%v), want 0", got, err)
	}
}
