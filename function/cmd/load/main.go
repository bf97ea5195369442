// Command load drives the service at rising concurrency against the Firestore and Pub/Sub
// emulators (started here when FIRESTORE_EMULATOR_HOST / PUBSUB_EMULATOR_HOST are unset) and
// a local stack (function/local, simulated shop, LMS and SendGrid), and prints:
//
//   - floor: what intake minimally must do (one Firestore transaction, one publish), without
//     HTTP or the service, at each level: the reference the service is compared with;
//   - webhook: signed order.created deliveries of new paid orders POSTed to /Webhook (the
//     jobs are acknowledged by a sink, so only intake is measured);
//   - full: the same deliveries with the real Enroll function behind the push subscription,
//     timed from the POST until the shop shows the order completed;
//   - cold start: the production binary (function/cmd/server, built here) from exec to its
//     first 200 on /Webhook, with the environment pointing at the emulators and sandboxes.
//
// Throughput, p50/p99 latency, error rate, and the peak heap in use and memory obtained from
// the OS (runtime.ReadMemStats of this process, which hosts the service, sampled every 50 ms).
//
//	go run ./function/cmd/load -levels 1,4,16,32 -duration 5s
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/aulasneo/wc-openedx/function/local"
	"github.com/aulasneo/wc-openedx/internal/emulator"
	"github.com/aulasneo/wc-openedx/internal/jobs"
	"github.com/aulasneo/wc-openedx/internal/sandbox"
	"github.com/aulasneo/wc-openedx/internal/woocommerce"
)

const course = "course-v1:LoadX+PY101+2025_T1"

func main() {
	levelsFlag := flag.String("levels", "1,4,16,32", "concurrency levels, comma-separated")
	duration := flag.Duration("duration", 5*time.Second, "how long each level runs")
	warmup := flag.Int("warmup", 50, "untimed deliveries before measuring (JIT of the emulators)")
	skip := flag.String("skip", "", "phases to skip, comma-separated: floor, webhook, full, cold")
	coldRuns := flag.Int("cold-runs", 3, "cold starts to measure")
	flag.Parse()
	var levels []int
	for _, s := range strings.Split(*levelsFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			fatal(fmt.Errorf("bad level %q", s))
		}
		levels = append(levels, n)
	}
	skipped := map[string]bool{}
	for _, s := range strings.Split(*skip, ",") {
		skipped[strings.TrimSpace(s)] = true
	}

	ctx := context.Background()
	t0 := time.Now()
	ectx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	stopEmu, err := emulator.Ensure(ectx, nil, emulator.Firestore, emulator.PubSub)
	cancel()
	if err != nil {
		fatal(fmt.Errorf("emulators: %w", err))
	}
	defer stopEmu()
	fmt.Printf("emulators ready in %.1fs (firestore %s, pubsub %s)\n", time.Since(t0).Seconds(), os.Getenv("FIRESTORE_EMULATOR_HOST"), os.Getenv("PUBSUB_EMULATOR_HOST"))

	mem := newMemSampler()
	defer mem.stop()
	var rows []result

	if !skipped["floor"] || !skipped["webhook"] {
		st, err := startStack(ctx)
		if err != nil {
			fatal(err)
		}
		d := &driver{st: st}
		sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.WriteHeader(http.StatusNoContent)
		}))
		if err := pointPushes(ctx, st, sink.URL); err != nil {
			fatal(err)
		}
		fs, err := firestore.NewClientWithDatabase(ctx, st.Config.Project, firestore.DefaultDatabaseID)
		if err != nil {
			fatal(err)
		}
		fl := &local.Floor{FS: fs, Pub: st.App.Publisher}
		// Warm up both paths, untimed.
		for range *warmup {
			id, body, sig := d.newDelivery()
			if err := d.post(ctx, body, sig); err != nil {
				fatal(fmt.Errorf("warm-up delivery: %w", err))
			}
			if err := fl.Do(ctx, 20_000_000+id, body, true); err != nil {
				fatal(fmt.Errorf("warm-up floor: %w", err))
			}
		}
		for _, c := range levels {
			if !skipped["floor"] {
				var ids atomic.Int64
				ids.Store(10_000_000)
				rows = append(rows, run("floor", c, *duration, mem, func(ctx context.Context) error {
					id := ids.Add(1)
					_, body, _ := d.newDelivery()
					return fl.Do(ctx, id, body, true)
				}))
			}
			if !skipped["webhook"] {
				rows = append(rows, run("webhook", c, *duration, mem, func(ctx context.Context) error {
					_, body, sig := d.newDelivery()
					return d.post(ctx, body, sig)
				}))
			}
		}
		_ = fs.Close()
		sink.Close()
		st.Close()
	}

	if !skipped["full"] {
		st, err := startStack(ctx)
		if err != nil {
			fatal(err)
		}
		d := &driver{st: st}
		for _, c := range levels {
			rows = append(rows, run("full", c, *duration, mem, func(ctx context.Context) error {
				id, body, sig := d.newDelivery()
				if err := d.post(ctx, body, sig); err != nil {
					return err
				}
				deadline := time.Now().Add(60 * time.Second)
				for {
					if o, _ := st.Shop.Order(id); o.Status == "completed" {
						return nil
					}
					if time.Now().After(deadline) {
						return fmt.Errorf("order %d not completed after 60s", id)
					}
					time.Sleep(5 * time.Millisecond)
				}
			}))
		}
		st.Close()
	}

	fmt.Printf("\n%-8s %5s %7s %10s %9s %9s %7s %11s %9s\n", "phase", "conc", "ops", "ops/s", "p50 ms", "p99 ms", "err %", "heap MiB", "sys MiB")
	floor := map[int]float64{}
	for _, r := range rows {
		if r.phase == "floor" {
			floor[r.conc] = r.p50
		}
	}
	for _, r := range rows {
		extra := ""
		if f := floor[r.conc]; r.phase == "webhook" && f > 0 {
			extra = fmt.Sprintf("  p50 %.1f× floor", r.p50/f)
		}
		fmt.Printf("%-8s %5d %7d %10.1f %9.1f %9.1f %7.2f %11.1f %9.1f%s\n", r.phase, r.conc, r.ok+r.errs, r.rate, r.p50, r.p99, r.errRate, mib(r.heapPeak), mib(r.sysPeak), extra)
		if r.firstErr != nil {
			fmt.Printf("         first error: %v\n", r.firstErr)
		}
	}

	if !skipped["cold"] {
		if err := coldStart(ctx, *coldRuns); err != nil {
			fmt.Println("cold start:", err)
		}
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "load:", err)
	os.Exit(1)
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// startStack runs the service (all five functions) on a project of its own, with simulated
// shop, LMS and SendGrid, logging only errors. The shop sends no webhooks: the load posts
// them.
func startStack(ctx context.Context) (*local.Stack, error) {
	env := map[string]string{"GOOGLE_CLOUD_PROJECT": "load-" + randomHex(4), "LOG_LEVEL": "error"}
	st, err := local.Start(ctx, local.Options{
		Env:        func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		Log:        slog.New(slog.NewTextHandler(io.Discard, nil)),
		NoWebhooks: true,
	})
	if err != nil {
		return nil, fmt.Errorf("start the local stack: %w", err)
	}
	st.LMS.AddCourse(course, "audit", "verified")
	return st, nil
}

// pointPushes sends the jobs of the stack's topic to url instead of its Enroll function.
func pointPushes(ctx context.Context, st *local.Stack, url string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	return jobs.Setup(ctx, st.App.Publisher.Client(), st.Config.Project, st.Config.JobsTopic, url, st.Config.EnrollMaxAttempts)
}

// driver makes new paid card orders in the simulated shop and delivers them.
type driver struct {
	st *local.Stack
	n  atomic.Int64
}

var client = &http.Client{
	Timeout:   60 * time.Second,
	Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256, IdleConnTimeout: time.Minute},
}

// newDelivery creates a paid card order for one course, by a learner of its own with an LMS
// account, and returns its id and its order.created body as the shop would sign it.
func (d *driver) newDelivery() (int64, []byte, []byte) {
	k := d.n.Add(1)
	email := fmt.Sprintf("load%d@example.com", k)
	d.st.LMS.AddUser(fmt.Sprintf("load%d", k), email)
	sku := course
	id := d.st.Shop.CreateOrder(sandbox.OrderSpec{
		Status: "processing", PaymentMethod: "stripe", PaymentMethodTitle: "Credit / Debit Card", TransactionID: "pi_" + strconv.FormatInt(k, 10),
		FirstName: "Load", LastName: "Test", Email: &email,
		Lines: []sandbox.LineSpec{{Name: "Intro to Python", ProductID: 93, Quantity: 1, Total: "149.00", SKU: &sku}},
	})
	body, _ := d.st.Shop.OrderJSON(id)
	return id, body, []byte(woocommerce.Sign([]byte(local.SimWebhookSecret), body))
}

func (d *driver) post(ctx context.Context, body, sig []byte) error {
	return postWebhook(ctx, d.st.URL+"/Webhook", d.st.Config.WCURL+"/", body, sig)
}

func postWebhook(ctx context.Context, url, source string, body, sig []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "WooCommerce/9.4.2 Hookshot (WordPress/6.7)")
	req.Header.Set("X-WC-Webhook-Source", source)
	req.Header.Set("X-WC-Webhook-Topic", "order.created")
	req.Header.Set("X-WC-Webhook-Resource", "order")
	req.Header.Set("X-WC-Webhook-Event", "created")
	req.Header.Set("X-WC-Webhook-ID", "1")
	req.Header.Set("X-WC-Webhook-Delivery-ID", randomHex(16))
	req.Header.Set("X-WC-Webhook-Signature", string(sig))
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !bytes.Contains(b, []byte(`"outcome":"applied"`)) {
		return fmt.Errorf("answered %d %s", resp.StatusCode, bytes.TrimSpace(b))
	}
	return nil
}

// ---- measuring ----

type result struct {
	phase             string
	conc              int
	ok, errs          int
	rate              float64 // successful ops per second
	p50, p99          float64 // ms, successful ops
	errRate           float64 // %
	heapPeak, sysPeak uint64
	firstErr          error
}

// run runs op on c workers for d and summarises it.
func run(phase string, c int, d time.Duration, mem *memSampler, op func(ctx context.Context) error) result {
	ctx := context.Background()
	var mu sync.Mutex
	var lat []time.Duration
	var errs int
	var firstErr error
	mem.reset()
	start := time.Now()
	end := start.Add(d)
	var wg sync.WaitGroup
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(end) {
				t0 := time.Now()
				err := op(ctx)
				el := time.Since(t0)
				mu.Lock()
				if err != nil {
					errs++
					if firstErr == nil {
						firstErr = err
					}
				} else {
					lat = append(lat, el)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	heap, sys := mem.peak()
	r := result{phase: phase, conc: c, ok: len(lat), errs: errs, firstErr: firstErr, heapPeak: heap, sysPeak: sys}
	r.rate = float64(len(lat)) / elapsed.Seconds()
	r.p50, r.p99 = percentile(lat, 0.50), percentile(lat, 0.99)
	if n := len(lat) + errs; n > 0 {
		r.errRate = 100 * float64(errs) / float64(n)
	}
	fmt.Printf("%-8s c=%-3d %6d ok %4d errors in %.1fs\n", phase, c, len(lat), errs, elapsed.Seconds())
	return r
}

func percentile(l []time.Duration, p float64) float64 {
	if len(l) == 0 {
		return 0
	}
	s := slices.Clone(l)
	slices.Sort(s)
	i := int(math.Ceil(p*float64(len(s)))) - 1 // nearest rank
	return float64(s[max(0, min(i, len(s)-1))]) / float64(time.Millisecond)
}
