package auth_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/azora-os/azora/auth"
	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/redisx/redistest"
)

// rdsLimiter returns a limiter on its own prefix (redistest removes its
// keys, redis_rate's included).
func rdsLimiter(t testing.TB) (*auth.RedisLimiter, redis.UniversalClient, string) {
	t.Helper()
	c, prefix := redistest.New(t)
	return auth.NewRedisLimiter(c, prefix), c, prefix
}

// rdsThreePerMinute lets 3 through at once, then one every 20 s.
var rdsThreePerMinute = auth.Limit{Rate: 3, Burst: 3, Period: time.Minute}

func rdsAllow(t *testing.T, l *auth.RedisLimiter, key string, n int) auth.Decision {
	t.Helper()
	d, err := l.Allow(context.Background(), key, rdsThreePerMinute, n)
	if err != nil {
		t.Fatalf("Allow(%s, %d): %v", key, n, err)
	}
	return d
}

// rdsWantDenied checks a denial waits about one emission interval (20 s).
func rdsWantDenied(t *testing.T, what string, d auth.Decision) {
	t.Helper()
	if d.Allowed || d.RetryAfter <= 15*time.Second || d.RetryAfter > 20*time.Second {
		t.Errorf("%s: got %+v, want denied with RetryAfter in (15s, 20s]", what, d)
	}
}

func TestRedisLimiterBurstThenDeny(t *testing.T) {
	l, _, _ := rdsLimiter(t)
	for i := 1; i <= 3; i++ {
		if d := rdsAllow(t, l, "k", 1); !d.Allowed || d.RetryAfter != 0 {
			t.Errorf("request %d: got %+v, want allowed", i, d)
		}
	}
	rdsWantDenied(t, "request 4", rdsAllow(t, l, "k", 1))
	if d := rdsAllow(t, l, "other", 1); !d.Allowed {
		t.Errorf("another key: got %+v, want allowed", d)
	}
}

func TestRedisLimiterPeekDoesNotConsume(t *testing.T) {
	l, _, _ := rdsLimiter(t)
	for i := range 10 {
		if d := rdsAllow(t, l, "k", 0); !d.Allowed {
			t.Fatalf("peek %d on a fresh key: got %+v, want allowed", i+1, d)
		}
	}
	if d := rdsAllow(t, l, "k", 2); !d.Allowed {
		t.Fatalf("taking 2 after peeks: got %+v, want allowed", d)
	}
	if d := rdsAllow(t, l, "k", 0); !d.Allowed {
		t.Errorf("peek with 1 left: got %+v, want allowed", d)
	}
	rdsWantDenied(t, "taking 2 with 1 left", rdsAllow(t, l, "k", 2))
	if d := rdsAllow(t, l, "k", 1); !d.Allowed {
		t.Errorf("the last one after a refused 2 (which must take nothing): got %+v, want allowed", d)
	}
	rdsWantDenied(t, "peek when empty", rdsAllow(t, l, "k", 0))
	rdsWantDenied(t, "take when empty", rdsAllow(t, l, "k", 1))
}

func TestRedisLimiterReset(t *testing.T) {
	l, _, _ := rdsLimiter(t)
	for range 3 {
		rdsAllow(t, l, "k", 1)
	}
	rdsWantDenied(t, "before reset", rdsAllow(t, l, "k", 1))
	if err := l.Reset(context.Background(), "k"); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		if d := rdsAllow(t, l, "k", 1); !d.Allowed {
			t.Errorf("request %d after reset: got %+v, want allowed", i, d)
		}
	}
	if err := l.Reset(context.Background(), "never-used"); err != nil {
		t.Errorf("resetting an unused key: %v", err)
	}
}

func TestRedisLimiterInstancesShareABudget(t *testing.T) {
	l1, c, prefix := rdsLimiter(t)
	l2 := auth.NewRedisLimiter(c, prefix)
	for i, l := range []*auth.RedisLimiter{l1, l2, l1} {
		if d := rdsAllow(t, l, "k", 1); !d.Allowed {
			t.Errorf("request %d: got %+v, want allowed", i+1, d)
		}
	}
	rdsWantDenied(t, "instance 2, request 4", rdsAllow(t, l2, "k", 1))
	rdsWantDenied(t, "instance 1, request 5", rdsAllow(t, l1, "k", 1))
}

func TestRedisLimiterRefusesBadLimits(t *testing.T) {
	l, _, _ := rdsLimiter(t)
	for _, tc := range []struct {
		name  string
		limit auth.Limit
		n     int
	}{
		{"zero rate", auth.Limit{Burst: 1, Period: time.Second}, 1},
		{"zero burst", auth.Limit{Rate: 1, Period: time.Second}, 1},
		{"zero period", auth.Limit{Rate: 1, Burst: 1}, 1},
		{"negative n", rdsThreePerMinute, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := l.Allow(context.Background(), "k", tc.limit, tc.n)
			if got := errs.KindOf(err); err == nil || got != errs.Internal {
				t.Errorf("got %v (kind %s), want an internal error", err, got)
			}
		})
	}
}

func BenchmarkRedisLimiterAllow(b *testing.B) {
	l, _, _ := rdsLimiter(b)
	lim := auth.Limit{Rate: 1 << 20, Burst: 1 << 20, Period: time.Second}
	ctx := context.Background()
	for b.Loop() {
		if _, err := l.Allow(ctx, "bench", lim, 1); err != nil {
			b.Fatal(err)
		}
	}
}
