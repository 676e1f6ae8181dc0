package httpx_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/gorilla/mux"

	"github.com/azora-os/azora/shared/health"
	"github.com/azora-os/azora/shared/httpx"
)

func TestNewServerSetsTimeouts(t *testing.T) {
	srv := httpx.NewServer(":0", http.NotFoundHandler())
	got := []time.Duration{srv.ReadHeaderTimeout, srv.ReadTimeout, srv.WriteTimeout, srv.IdleTimeout}
	want := []time.Duration{5 * time.Second, 30 * time.Second, 60 * time.Second, 120 * time.Second}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("timeouts: got %v, want %v", got, want)
			break
		}
	}
	if srv.MaxHeaderBytes != 1<<20 {
		t.Errorf("MaxHeaderBytes: got %d, want %d", srv.MaxHeaderBytes, 1<<20)
	}
}

// TestServeDrainsThenShutsDown walks a SIGTERM: a slow request is in
// flight when ctx is cancelled; /readyz answers 503 during the drain; after
// it the listener is closed; the slow request still completes with 200, and
// Serve returns nil.
func TestServeDrainsThenShutsDown(t *testing.T) {
	h := health.New()
	entered, release := make(chan struct{}), make(chan struct{})
	r := mux.NewRouter()
	h.Register(r, nil)
	r.HandleFunc("/slow", func(w http.ResponseWriter, _ *http.Request) {
		close(entered)
		<-release
		_ = httpx.WriteJSON(w, http.StatusOK, map[string]string{"done": "yes"})
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	srv := httpx.NewServer(addr, httpx.Stack(log.NewNopLogger(), r))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var drained atomic.Bool
	const drainDelay = 500 * time.Millisecond
	served := make(chan error, 1)
	go func() {
		served <- httpx.Serve(ctx, srv, ln, func() { h.SetDraining(); drained.Store(true) }, drainDelay, 5*time.Second)
	}()

	if code := get(t, "http://"+addr+"/readyz"); code != 200 {
		t.Fatalf("/readyz before the drain: got %d, want 200", code)
	}
	slow := make(chan int, 1)
	go func() {
		resp, err := http.Get("http://" + addr + "/slow")
		if err != nil {
			slow <- -1
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		slow <- resp.StatusCode
	}()
	<-entered
	cancel()
	waitFor(t, "onDrain", drained.Load)
	if code := get(t, "http://"+addr+"/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz during the drain: got %d, want 503", code)
	}
	waitFor(t, "the listener to close", func() bool {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
			return false
		}
		return true
	})
	select {
	case err := <-served:
		t.Fatalf("Serve returned %v with a request still in flight", err)
	default:
	}
	close(release)
	if code := <-slow; code != 200 {
		t.Errorf("in-flight request: got %d, want 200", code)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve: got %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after the last request")
	}
}

func TestServeReportsServeErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	err = httpx.Serve(context.Background(), httpx.NewServer("", http.NotFoundHandler()), ln, nil, 0, time.Second)
	if err == nil || !errors.Is(err, net.ErrClosed) {
		t.Errorf("got %v, want the listener's net.ErrClosed", err)
	}
}

func TestServeReportsShutdownTimeout(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	defer close(release)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := httpx.NewServer("", http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		close(entered)
		<-release
	}))
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- httpx.Serve(ctx, srv, ln, nil, 0, 100*time.Millisecond) }()
	go func() {
		if resp, err := http.Get("http://" + ln.Addr().String()); err == nil {
			resp.Body.Close()
		}
	}()
	<-entered
	cancel()
	select {
	case err := <-served:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("got %v, want context.DeadlineExceeded", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not give up after the shutdown timeout")
	}
}

func get(t *testing.T, url string) int {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
