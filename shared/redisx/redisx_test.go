package redisx_test

import (
	"context"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/azora-os/azora/shared/redisx"
	"github.com/azora-os/azora/shared/redisx/redistest"
)

func TestOpenConfigErrors(t *testing.T) {
	ctx := context.Background()
	for name, cfg := range map[string]redisx.Config{
		"neither":  {},
		"both":     {URL: redistest.URL(), Addrs: []string{"127.0.0.1:6379"}},
		"bad url":  {URL: "http://nope"},
		"no redis": {URL: "redis://127.0.0.1:1/0"},
	} {
		t.Run(name, func(t *testing.T) {
			if c, err := redisx.Open(ctx, cfg); err == nil {
				c.Close()
				t.Fatal("got nil error")
			}
		})
	}
}

func TestRedistestIsolatesAndCleansKeys(t *testing.T) {
	var prefix string
	var probe = func() int64 {
		c, err := redisx.Open(context.Background(), redisx.Config{URL: redistest.URL()})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		keys, err := c.Keys(context.Background(), prefix+"*").Result()
		if err != nil {
			t.Fatal(err)
		}
		return int64(len(keys))
	}
	t.Run("inner", func(t *testing.T) {
		c, p := redistest.New(t)
		prefix = p
		if !strings.HasPrefix(p, "test:") {
			t.Fatalf("got prefix %q", p)
		}
		for _, k := range []string{"a", "b", "c"} {
			if err := c.Set(context.Background(), p+k, 1, time.Minute).Err(); err != nil {
				t.Fatal(err)
			}
		}
		if err := redisx.Ping(c)(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
	if n := probe(); n != 0 {
		t.Errorf("got %d keys left under %s after the test, want 0", n, prefix)
	}
}

// TestDeadRedisFailsFastAndRecovers puts a TCP relay between the client and
// Redis and takes it down: a command then fails in a fraction of a second
// (go-redis's default retries took about 1.6 s, which made every request
// needing Redis wait that long for its 503), and once the relay is back the
// first command succeeds on the same client, with no restart.
func TestDeadRedisFailsFastAndRecovers(t *testing.T) {
	u, err := url.Parse(redistest.URL())
	if err != nil {
		t.Fatal(err)
	}
	target := u.Host
	r := startRelay(t, "127.0.0.1:0", target)
	ctx := context.Background()
	c, err := redisx.Open(ctx, redisx.Config{URL: "redis://" + r.addr + u.Path})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	r.stop()
	start := time.Now()
	err = c.Ping(ctx).Err()
	took := time.Since(start)
	if err == nil {
		t.Fatal("PING through a stopped relay succeeded")
	}
	if took > 500*time.Millisecond {
		t.Errorf("a command against a dead Redis failed after %v, want well under 0.5 s", took)
	}
	t.Logf("dead Redis: failed in %v (%v)", took, err)

	r = startRelay(t, r.addr, target)
	defer r.stop()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Errorf("first command after Redis came back: %v, want success (a stale pooled connection is retried)", err)
	}
}

// relay forwards TCP connections from addr to target until stop.
type relay struct {
	addr  string
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func startRelay(t *testing.T, addr, target string) *relay {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	r := &relay{addr: ln.Addr().String(), ln: ln}
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			r.mu.Lock()
			r.conns = append(r.conns, in, out)
			r.mu.Unlock()
			go func() { io.Copy(out, in); out.Close() }()
			go func() { io.Copy(in, out); in.Close() }()
		}
	}()
	return r
}

// stop closes the listener and every relayed connection, as a Redis that
// went away does.
func (r *relay) stop() {
	r.ln.Close()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.conns {
		c.Close()
	}
	r.conns = nil
}
