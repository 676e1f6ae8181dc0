package health_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/azora-os/azora/shared/health"
)

type report struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
}

func serve(t *testing.T, h *health.Health, g prometheus.Gatherer) *httptest.Server {
	t.Helper()
	r := mux.NewRouter()
	h.Register(r, g)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, url string) (int, report, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var rep report
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(body, &rep); err != nil {
			t.Fatalf("body %q: %v", body, err)
		}
	}
	return resp.StatusCode, rep, string(body)
}

func ok(context.Context) error { return nil }

func TestHealthz(t *testing.T) {
	h := health.New(health.Check{Name: "postgres", Fn: func(context.Context) error { return errors.New("down") }})
	srv := serve(t, h, nil)
	for _, draining := range []bool{false, true} {
		if draining {
			h.SetDraining()
		}
		status, rep, _ := get(t, srv.URL+"/healthz")
		if status != 200 || rep.Status != "ok" {
			t.Errorf("draining=%v: got %d %q, want 200 ok whatever the dependencies", draining, status, rep.Status)
		}
	}
}

func TestReadyz(t *testing.T) {
	tests := []struct {
		name   string
		checks []health.Check
		status int
		want   report
	}{
		{"all pass", []health.Check{{Name: "postgres", Fn: ok}, {Name: "redis", Fn: ok}}, 200,
			report{"ready", map[string]string{"postgres": "ok", "redis": "ok"}}},
		{"one fails", []health.Check{{Name: "postgres", Fn: ok}, {Name: "redis", Fn: func(context.Context) error { return errors.New("dial tcp 127.0.0.1:6379: connection refused") }}}, 503,
			report{"unavailable", map[string]string{"postgres": "ok", "redis": "dial tcp 127.0.0.1:6379: connection refused"}}},
		{"one panics", []health.Check{{Name: "kafka", Fn: func(context.Context) error { panic("nil broker") }}}, 503,
			report{"unavailable", map[string]string{"kafka": "check panicked: nil broker"}}},
		{"no checks", nil, 200, report{"ready", nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := serve(t, health.New(tt.checks...), nil)
			status, rep, body := get(t, srv.URL+"/readyz")
			if status != tt.status || rep.Status != tt.want.Status || len(rep.Checks) != len(tt.want.Checks) {
				t.Fatalf("got %d %s, want %d %+v", status, body, tt.status, tt.want)
			}
			for name, want := range tt.want.Checks {
				if rep.Checks[name] != want {
					t.Errorf("check %s: got %q, want %q", name, rep.Checks[name], want)
				}
			}
		})
	}
}

func TestReadyzCutsHungChecksAtTheTimeout(t *testing.T) {
	hang := make(chan struct{})
	t.Cleanup(func() { close(hang) })
	const timeout = 150 * time.Millisecond
	h := health.New(
		health.Check{Name: "ignores_ctx", Fn: func(context.Context) error { <-hang; return nil }},
		health.Check{Name: "honours_ctx", Fn: func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }},
		health.Check{Name: "postgres", Fn: ok},
	)
	h.SetTimeout(timeout)
	srv := serve(t, h, nil)
	start := time.Now()
	status, rep, body := get(t, srv.URL+"/readyz")
	elapsed := time.Since(start)
	if elapsed < timeout || elapsed > timeout+700*time.Millisecond {
		t.Errorf("elapsed: got %v, want about %v (the checks run at once, each cut at the timeout)", elapsed, timeout)
	}
	if status != 503 || rep.Status != "unavailable" {
		t.Fatalf("got %d %s, want 503 unavailable", status, body)
	}
	for _, name := range []string{"ignores_ctx", "honours_ctx"} {
		if !strings.Contains(rep.Checks[name], "timed out after 150ms") {
			t.Errorf("check %s: got %q, want it named as timed out", name, rep.Checks[name])
		}
	}
	if rep.Checks["postgres"] != "ok" {
		t.Errorf("check postgres: got %q, want ok", rep.Checks["postgres"])
	}
}

func TestReadyzRunsChecksConcurrently(t *testing.T) {
	slow := func(ctx context.Context) error {
		select {
		case <-time.After(200 * time.Millisecond):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	srv := serve(t, health.New(health.Check{Name: "a", Fn: slow}, health.Check{Name: "b", Fn: slow}, health.Check{Name: "c", Fn: slow}), nil)
	start := time.Now()
	status, _, body := get(t, srv.URL+"/readyz")
	if elapsed := time.Since(start); elapsed > 500*time.Millisecond {
		t.Errorf("elapsed: got %v for three 200ms checks, want well under 600ms", elapsed)
	}
	if status != 200 {
		t.Errorf("got %d %s, want 200", status, body)
	}
}

func TestReadyzDraining(t *testing.T) {
	called := make(chan struct{}, 10)
	h := health.New(health.Check{Name: "postgres", Fn: func(context.Context) error { called <- struct{}{}; return nil }})
	srv := serve(t, h, nil)
	if status, _, _ := get(t, srv.URL+"/readyz"); status != 200 {
		t.Fatalf("before draining: got %d, want 200", status)
	}
	<-called
	h.SetDraining()
	status, rep, _ := get(t, srv.URL+"/readyz")
	if status != 503 || rep.Status != "draining" {
		t.Errorf("draining: got %d %q, want 503 draining", status, rep.Status)
	}
	if len(called) != 0 {
		t.Errorf("draining: checks ran %d times, want 0 (the answer is already known)", len(called))
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "azora_test_things_total", Help: "Things."})
	reg.MustRegister(c)
	c.Add(3)
	srv := serve(t, health.New(), reg)
	status, _, body := get(t, srv.URL+"/metrics")
	if status != 200 || !strings.Contains(body, "azora_test_things_total 3") {
		t.Errorf("got %d %q, want 200 with the registry's counter", status, body)
	}
	t.Run("nil gatherer mounts nothing", func(t *testing.T) {
		srv := serve(t, health.New(), nil)
		if status, _, _ := get(t, srv.URL+"/metrics"); status != 404 {
			t.Errorf("got %d, want 404", status)
		}
	})
}
