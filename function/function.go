// Package function is the Functions Framework package of the service: it registers Webhook,
// Enroll, Confirm, Sweep and Console (SPEC §1) and wires them to the internal packages. Handlers are
// thin: decode, one call, map the error to a status.
package function

import (
	"context"
	"net/http"
	"os"
	"sync"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"

	"github.com/aulasneo/wc-openedx/internal/config"
)

func init() {
	for _, name := range config.Functions {
		functions.HTTP(name, func(w http.ResponseWriter, r *http.Request) {
			a, err := shared.get(r.Context())
			if err != nil {
				reject(w, http.StatusInternalServerError, "service not configured: "+err.Error())
				return
			}
			h, err := a.Handler(name)
			if err != nil {
				reject(w, http.StatusNotFound, err.Error())
				return
			}
			h.ServeHTTP(w, r)
		})
	}
}

// shared is the App the registered functions use, built from the environment on first use.
// A failed build is not kept: the next request tries again.
var shared lazyApp

type lazyApp struct {
	mu  sync.Mutex
	app *App
}

func (l *lazyApp) get(ctx context.Context) (*App, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.app != nil {
		return l.app, nil
	}
	cfg, err := config.Load(os.LookupEnv)
	if err != nil {
		return nil, err
	}
	a, err := New(context.WithoutCancel(ctx), cfg, Options{})
	if err != nil {
		return nil, err
	}
	l.app = a
	return a, nil
}

// Start builds the App from the environment before serving, so a misconfigured process stops
// at once with every problem named (function/cmd/server calls it).
func Start(ctx context.Context) (*App, error) { return shared.get(ctx) }
