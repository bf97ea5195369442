package local_test

// Benchmarks of the webhook intake and of the full path (webhook → enrollment → completed
// order) against the real emulators. They only run with -bench, e.g.
//
//	go test -run '^$' -bench 'BenchmarkIntake|BenchmarkFullPath' -benchtime=300x -count=5 ./function/local/
//
// BenchmarkIntake runs its floor-* sub-benchmarks first: a bare program doing what intake
// minimally must (the same Firestore transaction, and a Pub/Sub publish with the service's
// publisher settings), without HTTP or the service. The service-* sub-benchmarks that follow
// report the ratio of their p50 to the floor's p50 measured earlier in the same process.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/aulasneo/wc-openedx/function/local"
	"github.com/aulasneo/wc-openedx/internal/enrollment"
	"github.com/aulasneo/wc-openedx/internal/jobs"
	"github.com/aulasneo/wc-openedx/internal/woocommerce"
)

// benchLevels are the intake concurrency levels.
var benchLevels = []int{1, 4, 16}

// benchWarmup is how many untimed ops of each kind (service, floor) BenchmarkIntake runs
// before measuring; BENCH_WARMUP overrides it. The emulators' JVMs need about that many: with
// 300, the floor, measured first, came out twice as slow as the service.
const benchWarmup = 1000

// floorP50 holds the floor's p50 (ms) per "variant/cN", every measured run (b.N ≥ 20); the
// service sub-benchmarks compare with their median.
var floorP50 = struct {
	sync.Mutex
	ms map[string][]float64
}{ms: map[string][]float64{}}

func recordFloor(key string, p50 float64) {
	floorP50.Lock()
	defer floorP50.Unlock()
	floorP50.ms[key] = append(floorP50.ms[key], p50)
}

func floorMedian(key string) (float64, bool) {
	floorP50.Lock()
	defer floorP50.Unlock()
	v := floorP50.ms[key]
	if len(v) == 0 {
		return 0, false
	}
	return median(v), true
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// benchOrderID hands out order ids no other op of this process uses.
var benchOrderID atomic.Int64

func init() { benchOrderID.Store(100000) }

// orderBody is the fixture as order id, created at created (GMT), keeping WordPress's
// encoding. With course false the line is a T-shirt, which queues no job.
func orderBody(tmpl []byte, id int64, created time.Time, course bool) []byte {
	const layout = "2006-01-02T15:04:05"
	modified := created.Add(4 * time.Second)
	loc := time.FixedZone("UTC-5", -5*3600)
	pairs := []string{
		"727", strconv.FormatInt(id, 10),
		"2024-11-05T14:32:10", created.UTC().Format(layout),
		"2024-11-05T14:32:14", modified.UTC().Format(layout),
		"2024-11-05T09:32:10", created.In(loc).Format(layout),
		"2024-11-05T09:32:14", modified.In(loc).Format(layout),
	}
	if !course {
		pairs = append(pairs,
			`"name":"Intro to Python (Self-paced)"`, `"name":"Course T-shirt (M)"`,
			`"sku":"course-v1:ExampleX+PY101+2024_T4"`, `"sku":"TSHIRT-M"`)
	}
	return withOrder(tmpl, pairs...)
}

// latencies summarises per-op durations.
type latencies []time.Duration

func (l latencies) percentile(p float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	s := slices.Clone(l)
	slices.Sort(s)
	i := int(math.Ceil(p*float64(len(s)))) - 1 // nearest rank
	return s[max(0, min(i, len(s)-1))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// cpuMeter reads the CPU time of this process and of the emulator processes it started.
type cpuMeter struct {
	self, emu time.Duration
	hasEmu    bool
}

func readCPU() cpuMeter {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	m := cpuMeter{self: time.Duration(ru.Utime.Nano() + ru.Stime.Nano())}
	m.emu, m.hasEmu = descendantsCPU()
	return m
}

// descendantsCPU sums utime+stime of the processes below this one (the emulators testenv
// started: gcloud and its Java child), from /proc.
func descendantsCPU() (time.Duration, bool) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, false
	}
	type proc struct {
		ppid      int
		ticks     int64
		reachable bool
	}
	procs := map[int]*proc{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid … utime(14) stime(15)
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 13 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		stt, _ := strconv.ParseInt(f[12], 10, 64)
		procs[pid] = &proc{ppid: ppid, ticks: ut + stt}
	}
	me := os.Getpid()
	var ticks int64
	found := false
	for pid, p := range procs {
		for q, hops := p, 0; q != nil && hops < 16; hops++ {
			if q.ppid == me {
				ticks += p.ticks
				found = found || pid != me
				break
			}
			q = procs[q.ppid]
		}
	}
	return time.Duration(ticks) * (time.Second / 100), found // USER_HZ is 100 on Linux
}

// runConcurrent runs b.N ops on c workers, timing each op and the whole; it reports the
// rate (b.N per second of wall time, as rateUnit), p50-ms, p99-ms and the CPU time per op of
// this process and of the emulator processes it started.
func runConcurrent(b *testing.B, c int, rateUnit string, op func(ctx context.Context, i int) error) latencies {
	b.Helper()
	ctx := context.Background()
	lat := make(latencies, b.N)
	var next atomic.Int64
	var failed atomic.Bool
	var wg sync.WaitGroup
	cpu0 := readCPU()
	b.ResetTimer()
	b.StartTimer()
	start := time.Now()
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= b.N || failed.Load() {
					return
				}
				t0 := time.Now()
				if err := op(ctx, i); err != nil {
					if !failed.Swap(true) {
						b.Errorf("op %d: %v", i, err)
					}
					return
				}
				lat[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	cpu1 := readCPU()
	if failed.Load() {
		return nil
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), rateUnit)
	b.ReportMetric(ms(lat.percentile(0.50)), "p50-ms")
	b.ReportMetric(ms(lat.percentile(0.99)), "p99-ms")
	b.ReportMetric(ms(cpu1.self-cpu0.self)/float64(b.N), "go-cpu-ms/op")
	if cpu0.hasEmu && cpu1.hasEmu {
		b.ReportMetric(ms(cpu1.emu-cpu0.emu)/float64(b.N), "emu-cpu-ms/op")
	}
	return lat
}

// benchClient posts deliveries with enough idle connections for the highest concurrency
// (http.DefaultClient keeps 2 per host, which would measure connection churn).
var benchClient = &http.Client{
	Timeout:   2 * time.Minute, // the machine may be loaded; a slow answer is a figure, not a failure
	Transport: &http.Transport{MaxIdleConns: 128, MaxIdleConnsPerHost: 128, IdleConnTimeout: time.Minute},
}

type signedDelivery struct {
	body, sig []byte
}

func postDelivery(ctx context.Context, st *local.Stack, d signedDelivery) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, st.URL+"/Webhook", bytes.NewReader(d.body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "WooCommerce/9.4.2 Hookshot (WordPress/6.7)")
	req.Header.Set("X-WC-Webhook-Source", st.Config.WCURL+"/")
	req.Header.Set("X-WC-Webhook-Topic", "order.created")
	req.Header.Set("X-WC-Webhook-Resource", "order")
	req.Header.Set("X-WC-Webhook-Event", "created")
	req.Header.Set("X-WC-Webhook-ID", "3")
	req.Header.Set("X-WC-Webhook-Delivery-ID", "d41d8cd98f00b204e9800998ecf8427e")
	req.Header.Set("X-WC-Webhook-Signature", string(d.sig))
	resp, err := benchClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !bytes.Contains(b, []byte(`"outcome":"applied"`)) {
		return fmt.Errorf("answered %d %s", resp.StatusCode, b)
	}
	return nil
}

// sinkPushes points the stack's push subscriptions at an endpoint that acknowledges every
// job at once, so that job processing does not compete with intake for the CPU.
// It returns the count of pushes received.
func sinkPushes(b *testing.B, st *local.Stack, pub *jobs.Publisher) *atomic.Int64 {
	b.Helper()
	var pushes atomic.Int64
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		pushes.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	b.Cleanup(sink.Close)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := jobs.Setup(ctx, pub.Client(), st.Config.Project, st.Config.JobsTopic, sink.URL, st.Config.EnrollMaxAttempts); err != nil {
		b.Fatal(err)
	}
	return &pushes
}

// drainPushes waits (untimed) until the emulator has pushed every job published so far, so
// that its push backlog is not billed to the next sub-benchmark.
func drainPushes(b *testing.B, pushes *atomic.Int64, published int64) {
	b.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for pushes.Load() < published {
		if time.Now().After(deadline) {
			b.Logf("push backlog not drained: %d of %d pushed", pushes.Load(), published)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// phaseTimes collects how long the service spends in each step of intake, through wrappers
// around its Store and Publisher: the transaction, the publish, the outbox delete.
type phaseTimes struct {
	mu                sync.Mutex
	txn, pub, deleted latencies
}

func (p *phaseTimes) add(l *latencies, d time.Duration) {
	p.mu.Lock()
	*l = append(*l, d)
	p.mu.Unlock()
}

func (p *phaseTimes) reset() {
	p.mu.Lock()
	p.txn, p.pub, p.deleted = nil, nil, nil
	p.mu.Unlock()
}

func (p *phaseTimes) report(b *testing.B) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, ph := range []struct {
		unit string
		l    latencies
	}{{"txn-p50-ms", p.txn}, {"pub-p50-ms", p.pub}, {"del-p50-ms", p.deleted}} {
		if len(ph.l) > 0 {
			b.ReportMetric(ms(ph.l.percentile(0.5)), ph.unit)
		}
	}
}

type timedStore struct {
	enrollment.Store
	t *phaseTimes
}

func (s timedStore) Intake(ctx context.Context, d enrollment.Delivery, apply func(*enrollment.OrderRecord) (*enrollment.OrderRecord, string, []enrollment.Job)) (string, []enrollment.Job, error) {
	t0 := time.Now()
	defer func() { s.t.add(&s.t.txn, time.Since(t0)) }()
	return s.Store.Intake(ctx, d, apply)
}

func (s timedStore) JobPublished(ctx context.Context, id string) error {
	t0 := time.Now()
	defer func() { s.t.add(&s.t.deleted, time.Since(t0)) }()
	return s.Store.JobPublished(ctx, id)
}

type timedPublisher struct {
	enrollment.Publisher
	t *phaseTimes
}

func (p timedPublisher) Publish(ctx context.Context, j enrollment.Job) error {
	t0 := time.Now()
	defer func() { p.t.add(&p.t.pub, time.Since(t0)) }()
	return p.Publisher.Publish(ctx, j)
}

// BenchmarkIntake measures one signed order.created delivery of a new order, POSTed to the
// running service, at several concurrency levels, next to the floor (see the file comment).
// Variants: nojob (a T-shirt line: no job) and job (a course line: one enroll job, so the
// outbox write, the publish and the outbox delete are included).
func BenchmarkIntake(b *testing.B) {
	st := newStack(b, func(_ map[string]string, o *local.Options) { o.NoWebhooks = true })
	ctx := context.Background()
	// Time the service's steps (set before the first request; nothing else runs yet).
	phases := &phaseTimes{}
	svc := st.App.Service
	svc.Store = timedStore{Store: svc.Store, t: phases}
	svc.Publisher = timedPublisher{Publisher: svc.Publisher, t: phases}
	pub, err := jobs.NewPublisher(ctx, st.Config.Project, st.Config.JobsTopic)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = pub.Close() })
	pushes := sinkPushes(b, st, pub)
	var published atomic.Int64 // jobs published by the floor and the service
	fs, err := firestore.NewClientWithDatabase(ctx, st.Config.Project, firestore.DefaultDatabaseID)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = fs.Close() })
	fl := &local.Floor{FS: fs, Pub: pub}
	tmpl := fixture(b)
	base := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

	prepare := func(n int, course bool) ([]int64, []signedDelivery) {
		ids := make([]int64, n)
		ds := make([]signedDelivery, n)
		for i := range n {
			id := benchOrderID.Add(1)
			body := orderBody(tmpl, id, base.Add(time.Duration(id)*time.Second), course)
			ids[i] = id
			ds[i] = signedDelivery{body: body, sig: []byte(woocommerce.Sign([]byte(local.SimWebhookSecret), body))}
		}
		return ids, ds
	}
	variants := []struct {
		name string
		job  bool
	}{{"nojob", false}, {"job", true}}

	// Warm up the emulators' JVMs (and the connections) on both paths before measuring, or
	// the sub-benchmarks that run first pay for the JIT: untimed, at concurrency 4.
	warm := benchWarmup
	if v, err := strconv.Atoi(os.Getenv("BENCH_WARMUP")); err == nil {
		warm = v
	}
	if warm > 0 {
		ids, ds := prepare(warm, true)
		var wg sync.WaitGroup
		var next atomic.Int64
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := int(next.Add(1)) - 1; i < warm; i = int(next.Add(1)) - 1 {
					_, ds2 := prepare(1, i%2 == 0)
					if err := postDelivery(ctx, st, ds2[0]); err != nil {
						b.Errorf("warm-up delivery: %v", err)
						return
					}
					if err := fl.Do(ctx, ids[i], ds[i].body, i%2 == 0); err != nil {
						b.Errorf("warm-up floor: %v", err)
						return
					}
				}
			}()
		}
		wg.Wait()
		if b.Failed() {
			return
		}
		published.Add(2 * int64((warm+1)/2)) // ops i%2 == 0 queue a job, on both paths
		drainPushes(b, pushes, published.Load())
	}

	for _, v := range variants {
		for _, c := range benchLevels {
			b.Run(fmt.Sprintf("floor-%s-c%d", v.name, c), func(b *testing.B) {
				ids, ds := prepare(b.N, v.job)
				lat := runConcurrent(b, c, "ops/s", func(ctx context.Context, i int) error {
					return fl.Do(ctx, ids[i], ds[i].body, v.job)
				})
				if v.job {
					published.Add(int64(b.N))
					drainPushes(b, pushes, published.Load())
				}
				if lat != nil && b.N >= 20 {
					recordFloor(fmt.Sprintf("%s/c%d", v.name, c), ms(lat.percentile(0.5)))
				}
			})
		}
	}
	for _, v := range variants {
		for _, c := range benchLevels {
			b.Run(fmt.Sprintf("service-%s-c%d", v.name, c), func(b *testing.B) {
				_, ds := prepare(b.N, v.job)
				phases.reset()
				lat := runConcurrent(b, c, "ops/s", func(ctx context.Context, i int) error {
					return postDelivery(ctx, st, ds[i])
				})
				if v.job {
					published.Add(int64(b.N))
					drainPushes(b, pushes, published.Load())
				}
				if lat == nil {
					return
				}
				phases.report(b)
				if f, ok := floorMedian(fmt.Sprintf("%s/c%d", v.name, c)); ok && f > 0 {
					b.ReportMetric(ms(lat.percentile(0.5))/f, "x-floor-p50")
				}
			})
		}
	}
}

// BenchmarkFullPath measures, at concurrency 8, the time from st.Shop.CreateOrder (a paid card
// order for one course, each by a learner of its own) to the shop seeing the order completed:
// the shop's webhook, intake, Pub/Sub push, enrollment in the LMS, the order note and the
// completion. Suggested: -benchtime=300x. p50-ms is the median; the completion is polled
// every 5 ms, so latencies are late by up to that much.
func BenchmarkFullPath(b *testing.B) {
	st := newStack(b)
	const concurrency = 8
	const poll = 5 * time.Millisecond
	emails := make([]string, b.N)
	for i := range emails {
		k := benchOrderID.Add(1)
		emails[i] = fmt.Sprintf("bench.learner%d@example.com", k)
		st.LMS.AddUser(fmt.Sprintf("benchlearner%d", k), emails[i])
	}
	runConcurrent(b, concurrency, "orders/s", func(ctx context.Context, i int) error {
		o := cardOrder(course("Intro to Python", coursePy))
		o.Email = ptr(emails[i])
		id := st.Shop.CreateOrder(o)
		deadline := time.Now().Add(60 * time.Second)
		for status(st, id) != "completed" {
			if time.Now().After(deadline) {
				return fmt.Errorf("order %d not completed after 60s (status %s)", id, status(st, id))
			}
			time.Sleep(poll)
		}
		return nil
	})
	// Let the completion webhooks of this run land before the next one starts.
	st.Shop.Wait()
}
