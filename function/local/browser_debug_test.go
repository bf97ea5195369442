package local_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

func TestDebugBrowser(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("<!doctype html><title>x</title><main id=ok>hello</main>"))
	}))
	defer srv.Close()
	b := newBrowser(t)
	st := newStack(t)
	for i, u := range []string{srv.URL, st.URL + "/mailbox/", st.URL + "/Confirm?t=abc"} {
		tab, cancel := chromedp.NewContext(b)
		defer cancel()
		if err := chromedp.Do(tab, chromedp.EmulateViewport(800, 600)); err != nil {
			t.Fatal(err)
		}
		ctx, c2 := context.WithTimeout(tab, 10*time.Second)
		s := time.Now()
		err := chromedp.Do(ctx, chromedp.Navigate(u))
		c2()
		t.Logf("%d %s: %v in %v", i, u, err, time.Since(s))
		ctx, c2 = context.WithTimeout(tab, 10*time.Second)
		s = time.Now()
		r, err := chromedp.Run(ctx, chromedp.NavigateResponse(u))
		c2()
		if r != nil {
			t.Logf("%d %s: resp %d %v in %v", i, u, r.Status, err, time.Since(s))
		} else {
			t.Logf("%d %s: nil resp %v in %v", i, u, err, time.Since(s))
		}
	}
}
