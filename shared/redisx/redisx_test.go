package redisx_test

import (
	"context"
	"strings"
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
