package local_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aulasneo/wc-openedx/function/local"
	"github.com/aulasneo/wc-openedx/internal/enrollment"
	"github.com/aulasneo/wc-openedx/internal/sandbox"
	"github.com/aulasneo/wc-openedx/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// Courses every test stack's LMS has.
const (
	coursePy  = "course-v1:ExampleX+PY101+2024_T4"
	courseGo  = "course-v1:ExampleX+GO201+2025_T1"
	courseMl  = "course-v1:ExampleX+ML301+2025_T1"
	learner   = "ana.garcia@example.com"
	learnerID = "anagarcia"
)

type stackOpt func(env map[string]string, o *local.Options)

func withEnv(k, v string) stackOpt {
	return func(env map[string]string, _ *local.Options) { env[k] = v }
}

// newStack starts the whole service against the emulators with simulated shop, LMS and mail.
func newStack(t testing.TB, opts ...stackOpt) *local.Stack {
	t.Helper()
	env := map[string]string{"GOOGLE_CLOUD_PROJECT": testenv.Project(t), "LOG_LEVEL": "debug"}
	o := local.Options{Lease: 20 * time.Second}
	var logw io.Writer = io.Discard
	if os.Getenv("TEST_LOG") != "" {
		logw = os.Stderr
	}
	o.Log = slog.New(slog.NewTextHandler(logw, &slog.HandlerOptions{Level: slog.LevelDebug}))
	for _, opt := range opts {
		opt(env, &o)
	}
	o.Env = func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := local.Start(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	st.LMS.AddCourse(coursePy, "audit", "verified")
	st.LMS.AddCourse(courseGo, "audit", "verified")
	st.LMS.AddCourse(courseMl, "audit", "honor")
	st.LMS.AddUser(learnerID, learner)
	return st
}

func ptr(s string) *string { return &s }

// cardOrder is a paid card order as a checkout leaves it.
func cardOrder(lines ...sandbox.LineSpec) sandbox.OrderSpec {
	return sandbox.OrderSpec{
		Status: "processing", PaymentMethod: "stripe", PaymentMethodTitle: "Credit / Debit Card",
		TransactionID: "pi_123", FirstName: "Ana", LastName: "García", Email: ptr(learner), Lines: lines,
	}
}

func bacsOrder(lines ...sandbox.LineSpec) sandbox.OrderSpec {
	return sandbox.OrderSpec{
		Status: "on-hold", PaymentMethod: "bacs", PaymentMethodTitle: "Direct bank transfer",
		FirstName: "Ana", LastName: "García", Email: ptr(learner), Lines: lines,
	}
}

func course(name, sku string) sandbox.LineSpec {
	return sandbox.LineSpec{Name: name, ProductID: 93, Quantity: 1, Total: "149.00", SKU: ptr(sku)}
}

// waitFor polls cond until it holds or the time runs out.
func waitFor(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func record(t testing.TB, st *local.Stack, id int64) *enrollment.OrderRecord {
	t.Helper()
	rec, err := st.App.Store.Get(context.Background(), id)
	if err != nil {
		t.Fatalf("order %d: %v", id, err)
	}
	return rec
}

func status(st *local.Stack, id int64) string {
	o, _ := st.Shop.Order(id)
	return o.Status
}

// notes returns the notes of an order joined, for assertions.
func notes(st *local.Stack, id int64) string {
	var b strings.Builder
	for _, n := range st.Shop.Notes(id) {
		fmt.Fprintf(&b, "%s\n---\n", n.Note)
	}
	return b.String()
}

// enrollmentsOf lists the LMS enrollments as "user course mode".
func enrollmentsOf(st *local.Stack) []string {
	var out []string
	for _, e := range st.LMS.Enrollments() {
		out = append(out, e.User+" "+e.Course+" "+e.Mode)
	}
	return out
}

// logBuffer keeps a stack's log lines for tests that read them.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// withLogs sends the stack's logs (JSON, as in production) to buf too.
func withLogs(buf *logBuffer) stackOpt {
	return func(_ map[string]string, o *local.Options) {
		var w io.Writer = buf
		if os.Getenv("TEST_LOG") != "" {
			w = io.MultiWriter(buf, os.Stderr)
		}
		o.Log = slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
}
