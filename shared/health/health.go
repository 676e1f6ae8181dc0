// Package health serves the three endpoints every Azora service exposes to
// its platform: /healthz (the process is alive), /readyz (its dependencies
// answer, and it is not draining) and /metrics (Prometheus).
package health

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// DefaultTimeout is how long one readiness check may take.
const DefaultTimeout = time.Second

// Check is one dependency probe, e.g. a Postgres ping. Fn should honour
// ctx; one that does not is still cut off at the timeout (its goroutine
// lingers until it returns). Names must be unique within a Health.
type Check struct {
	Name string
	Fn   func(ctx context.Context) error
}

// Health answers liveness, readiness and metrics for one process. Its
// methods are safe for concurrent use.
type Health struct {
	checks   []Check
	timeout  atomic.Int64 // time.Duration
	draining atomic.Bool
}

// New returns a Health running checks on every /readyz, each under
// DefaultTimeout.
func New(checks ...Check) *Health {
	h := &Health{checks: checks}
	h.timeout.Store(int64(DefaultTimeout))
	return h
}

// SetTimeout sets how long each check may take; d <= 0 restores
// DefaultTimeout.
func (h *Health) SetTimeout(d time.Duration) {
	if d <= 0 {
		d = DefaultTimeout
	}
	h.timeout.Store(int64(d))
}

// SetDraining makes /readyz answer 503 "draining" from now on, so load
// balancers stop sending new requests while in-flight ones finish. It is
// httpx.Serve's onDrain.
func (h *Health) SetDraining() { h.draining.Store(true) }

// Register mounts GET /healthz, GET /readyz and GET /metrics (g's metrics)
// on r. With a nil g, /metrics is not mounted.
func (h *Health) Register(r *mux.Router, g prometheus.Gatherer) {
	r.HandleFunc("/healthz", h.healthz).Methods(http.MethodGet)
	r.HandleFunc("/readyz", h.readyz).Methods(http.MethodGet)
	if g != nil {
		r.Handle("/metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})).Methods(http.MethodGet)
	}
}

type report struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks,omitempty"`
}

func (h *Health) healthz(w http.ResponseWriter, _ *http.Request) {
	write(w, http.StatusOK, report{Status: "ok"})
}

func (h *Health) readyz(w http.ResponseWriter, r *http.Request) {
	if h.draining.Load() {
		write(w, http.StatusServiceUnavailable, report{Status: "draining"})
		return
	}
	results, ok := h.run(r.Context())
	if !ok {
		write(w, http.StatusServiceUnavailable, report{Status: "unavailable", Checks: results})
		return
	}
	write(w, http.StatusOK, report{Status: "ready", Checks: results})
}

// run runs every check at once, each under the timeout, and returns "ok" or
// the failure's text per check name, and whether all passed.
func (h *Health) run(ctx context.Context) (map[string]string, bool) {
	timeout := time.Duration(h.timeout.Load())
	results := make(map[string]string, len(h.checks))
	var mu sync.Mutex
	var wg sync.WaitGroup
	allOK := true
	for _, c := range h.checks {
		wg.Go(func() {
			err := runOne(ctx, c, timeout)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				results[c.Name] = err.Error()
				allOK = false
				return
			}
			results[c.Name] = "ok"
		})
	}
	wg.Wait()
	return results, allOK
}

// runOne waits for c no longer than timeout, even when c ignores its ctx:
// a hung dependency must not hang the probe that reports it.
func runOne(ctx context.Context, c Check, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	done := make(chan error, 1) // buffered: a late check must not block forever
	go func() {
		defer func() {
			if v := recover(); v != nil {
				done <- fmt.Errorf("check panicked: %v", v)
			}
		}()
		done <- c.Fn(ctx)
	}()
	select {
	case err := <-done:
		if err != nil && ctx.Err() != nil {
			return fmt.Errorf("timed out after %s: %w", timeout, err)
		}
		return err
	case <-ctx.Done():
		return fmt.Errorf("timed out after %s", timeout)
	}
}

func write(w http.ResponseWriter, status int, v report) {
	body, _ := json.Marshal(v) // a report of strings always marshals
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}
