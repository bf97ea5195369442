package woocommerce

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aulasneo/wc-openedx/internal/enrollment"
)

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A shop behind Apache with PHP under FastCGI: the Authorization header never reaches
// WooCommerce, Basic auth is anonymous (401 woocommerce_rest_cannot_*), and the keys work in
// the query string over https. The client switches once, says so once, and stays switched;
// while the header arrives it uses Basic auth only.
func TestBasicAuthFallsBackToQueryKeys(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	shop, c := clientStartShop(t, true, Config{Log: slog.New(slog.NewTextHandler(&logs, nil))})
	id := shop.CreateOrder(clientCourseOrder())
	ctx := context.Background()

	// Where the header arrives, Basic auth is used and the keys stay out of the query string.
	if _, err := c.GetOrder(ctx, id); err != nil {
		t.Fatal(err)
	}
	if calls := shop.Log.Calls("get-order"); len(calls) != 1 || calls[0].Status != 200 || calls[0].Query.Has("consumer_key") || calls[0].Header.Get("Authorization") == "" {
		t.Fatalf("with the header passed on: %+v", calls)
	}
	shop.Log.Reset()

	shop.SetDropAuthorization(true)

	if _, err := c.GetOrder(ctx, id); err != nil {
		t.Fatalf("GetOrder behind FastCGI: %v", err)
	}
	if err := c.CompleteOrder(ctx, id); err != nil {
		t.Fatalf("CompleteOrder: %v", err)
	}
	if err := c.AddNote(ctx, id, "hello"); err != nil {
		t.Fatalf("AddNote: %v", err)
	}
	gets := shop.Log.Calls("get-order")
	if len(gets) != 2 || gets[0].Status != 401 || gets[0].Header.Get("Authorization") == "" || gets[1].Status != 200 || gets[1].Query.Get("consumer_key") != clientKey {
		t.Fatalf("first call: Basic refused then query keys; calls %+v", gets)
	}
	for _, route := range []string{"update-order", "note"} {
		calls := shop.Log.Calls(route)
		if len(calls) != 1 || calls[0].Status >= 300 || calls[0].Header.Get("Authorization") != "" || calls[0].Query.Get("consumer_secret") != clientSecret {
			t.Errorf("%s: want one call with query keys and no Basic, got %+v", route, calls)
		}
	}
	if o, _ := shop.Order(id); o.Status != "completed" {
		t.Errorf("order %s", o.Status)
	}
	out := logs.String()
	if strings.Count(out, "ignored HTTP Basic authentication") != 1 || !strings.Contains(out, "CGIPassAuth") {
		t.Errorf("want one warning naming the fix, log:\n%s", out)
	}
	if strings.Contains(out, clientSecret) || strings.Contains(out, clientKey) {
		t.Errorf("the log holds a key:\n%s", out)
	}
}

// Wrong keys fail in both forms; the client does not switch, and no key is in the error.
func TestWrongKeysDoNotSwitchToQueryKeys(t *testing.T) {
	t.Parallel()
	shop, c := clientStartShop(t, true, Config{ConsumerSecret: "cs_wrong_secret"})
	shop.SetDropAuthorization(true)
	id := shop.CreateOrder(clientCourseOrder())
	for range 2 {
		_, err := c.GetOrder(context.Background(), id)
		if err == nil || !enrollment.IsPermanent(err) || !strings.Contains(err.Error(), "Consumer secret is invalid") {
			t.Fatalf("wrong secret: %v", err)
		}
		if strings.Contains(err.Error(), "cs_wrong_secret") || strings.Contains(err.Error(), clientKey) {
			t.Errorf("the error holds a key: %v", err)
		}
	}
	calls := shop.Log.Calls("get-order")
	if len(calls) != 4 || calls[2].Header.Get("Authorization") == "" {
		t.Errorf("want Basic then query keys on each call, got %+v", calls)
	}
}

// net/http's errors carry the whole URL; the client's errors carry only the path.
func TestErrorsHoldNoKeys(t *testing.T) {
	t.Parallel()
	// A server that accepts the connection and closes it without answering.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			conn.Close()
		}
	}()
	oauth := New(Config{BaseURL: "http://" + l.Addr().String(), ConsumerKey: clientKey, ConsumerSecret: clientSecret})
	query := New(Config{BaseURL: "https://" + l.Addr().String(), ConsumerKey: clientKey, ConsumerSecret: clientSecret})
	query.queryAuth.Store(true)
	for name, c := range map[string]*Client{"oauth over http": oauth, "query keys over https": query} {
		_, _, err := c.ListOrders(context.Background(), time.Time{}, 1, 10)
		if err == nil || enrollment.IsPermanent(err) {
			t.Fatalf("%s: %v, want a transient error", name, err)
		}
		for _, secret := range []string{clientKey, clientSecret, "consumer_", "oauth_"} {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("%s: the error holds %q: %v", name, secret, err)
			}
		}
		if !strings.Contains(err.Error(), "GET /orders") {
			t.Errorf("%s: the error does not name the call: %v", name, err)
		}
	}

	// A redirect that echoes the query string.
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://www.shop.example"+r.URL.RequestURI(), http.StatusMovedPermanently)
	}))
	t.Cleanup(srv.Close)
	c := New(Config{BaseURL: srv.URL, ConsumerKey: clientKey, ConsumerSecret: clientSecret, HTTPClient: srv.Client()})
	c.queryAuth.Store(true)
	_, err = c.GetOrder(context.Background(), 1)
	if err == nil || strings.Contains(err.Error(), clientSecret) || !strings.Contains(err.Error(), "redirect to https://www.shop.example/wp-json/wc/v3/orders/1") {
		t.Errorf("redirect: %v", err)
	}
}
