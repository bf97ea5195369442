// Package sandbox holds faithful simulated WooCommerce, Open edX and SendGrid HTTP servers.
// Tests and function/cmd/dev reach them with the real clients over HTTP. Each server
// documents which real behaviour (protocols.md) it reproduces, keeps a log of the calls it
// answered, and can be told to fail.
package sandbox

import (
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"
)

// Call is one request a sandbox answered.
type Call struct {
	Route  string // the sandbox's name for the route, e.g. "enroll", "note"
	Method string
	Path   string
	Query  url.Values
	Header http.Header
	Body   []byte
	Status int // the status the sandbox answered
	At     time.Time
}

// CallLog records calls; safe for concurrent use.
type CallLog struct {
	mu    sync.Mutex
	calls []Call
}

// Add appends a call.
func (l *CallLog) Add(c Call) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if c.At.IsZero() {
		c.At = time.Now()
	}
	l.calls = append(l.calls, c)
}

// Calls returns the calls of the given routes (all calls when none is given), oldest first.
func (l *CallLog) Calls(routes ...string) []Call {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []Call
	for _, c := range l.calls {
		if len(routes) == 0 || slices.Contains(routes, c.Route) {
			out = append(out, c)
		}
	}
	return out
}

// Reset forgets every call.
func (l *CallLog) Reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = nil
}

// Fault is an injected failure: the next Times requests to a route wait Delay and then, when
// Status is not 0, answer Status with Body instead of the real answer (Status 0 with a Delay
// only slows the real answer down). Times 0 means until cleared.
type Fault struct {
	Status int
	Body   string
	Header http.Header
	Delay  time.Duration
	Times  int
}

// Faults holds injected failures per route; safe for concurrent use.
type Faults struct {
	mu sync.Mutex
	m  map[string][]*Fault
}

// Inject queues a fault for route; faults of one route apply in the order injected.
func (f *Faults) Inject(route string, ft Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.m == nil {
		f.m = map[string][]*Fault{}
	}
	f.m[route] = append(f.m[route], &ft)
}

// Clear removes every fault of route (of all routes when route is "").
func (f *Faults) Clear(route string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if route == "" {
		f.m = nil
		return
	}
	delete(f.m, route)
}

// Take returns the fault that applies to the next request of route, consuming one use.
func (f *Faults) Take(route string) (Fault, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	q := f.m[route]
	if len(q) == 0 {
		return Fault{}, false
	}
	ft := q[0]
	out := *ft
	if ft.Times > 0 {
		ft.Times--
		if ft.Times == 0 {
			f.m[route] = q[1:]
		}
	}
	return out, true
}

// Apply takes route's next fault and, if there is one, sleeps its delay and, when it has a
// status, writes it and reports true: the caller must then not answer.
func (f *Faults) Apply(w http.ResponseWriter, r *http.Request, route string) (answered bool, status int) {
	ft, ok := f.Take(route)
	if !ok {
		return false, 0
	}
	if ft.Delay > 0 {
		select {
		case <-time.After(ft.Delay):
		case <-r.Context().Done():
			return true, 0
		}
	}
	if ft.Status == 0 {
		return false, 0
	}
	for k, vs := range ft.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	if ft.Body != "" && w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(ft.Status)
	_, _ = w.Write([]byte(ft.Body))
	return true, ft.Status
}
