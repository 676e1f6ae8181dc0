// Package apptest starts a service's real run function on 127.0.0.1:0 for
// end-to-end tests and stops it gracefully when the test ends.
package apptest

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/azora-os/azora/shared/config"
)

// RunFunc is a service's run, with its config already bound.
type RunFunc func(ctx context.Context, ln net.Listener, out io.Writer) error

// Start runs run on a fresh loopback port and returns its base URL once
// /healthz answers. When the test ends it cancels the context and fails the
// test if run does not return nil within 30 s. The service's log is
// printed on failure.
func Start(t testing.TB, run RunFunc) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	logs := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, ln, logs) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run returned %v, want nil on a graceful stop", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("run did not stop within 30s of cancel")
		}
		if t.Failed() {
			t.Logf("service log:\n%s", logs.String())
		}
	})
	base := "http://" + ln.Addr().String()
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-done:
			t.Fatalf("run returned before serving: %v\nlog:\n%s", err, logs.String())
		default:
		}
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("service at %s not healthy after 30s: %v\nlog:\n%s", base, err, logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// syncBuffer is a bytes.Buffer safe for the service's log writer and the
// test reading it.
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

// StartService loads a service's config from env with its loadConfig and
// starts its run with Start.
func StartService[C any](t testing.TB, env map[string]string, load func(*config.Reader) (C, error),
	run func(context.Context, C, net.Listener, io.Writer) error) string {
	t.Helper()
	cfg, err := load(config.FromMap(env))
	if err != nil {
		t.Fatal(err)
	}
	return Start(t, func(ctx context.Context, ln net.Listener, out io.Writer) error { return run(ctx, cfg, ln, out) })
}
