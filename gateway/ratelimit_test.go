package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/go-redis/redis_rate/v10"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/azora-os/azora/shared/app/apptest"
	"github.com/azora-os/azora/shared/httpx"
	"github.com/azora-os/azora/shared/redisx/redistest"
)

// rlLog records what a Limiter logs.
type rlLog struct {
	mu   sync.Mutex
	msgs []string
}

func (c *rlLog) Log(kv ...any) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i] == "msg" {
			c.msgs = append(c.msgs, fmt.Sprint(kv[i+1]))
		}
	}
	return nil
}

// count returns how many messages contain part.
func (c *rlLog) count(part string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, m := range c.msgs {
		if strings.Contains(m, part) {
			n++
		}
	}
	return n
}

// rlClock is a settable clock for the limiter's own time (Redis keeps its
// own).
type rlClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *rlClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *rlClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// rlNew returns a Limiter closed when the test ends, its log, and (when
// clock is set) running on that clock. Its Redis calls may take a second:
// on a loaded 2-core CI machine with -race, a call (the first one loads
// the script) can miss the 50 ms budget, which would rightly switch the
// replica to local limits for a second. Tests of that set l.timeout back.
func rlNew(t testing.TB, c redis.UniversalClient, prefix string, clock *rlClock) (*Limiter, *rlLog) {
	t.Helper()
	logs := &rlLog{}
	l := NewLimiter(c, prefix, logs, prometheus.NewRegistry())
	l.timeout = time.Second
	if clock != nil {
		l.now = clock.now
	}
	t.Cleanup(l.Close)
	return l, logs
}

// rlDeadClient is a client of addr with redisx's timeouts.
func rlDeadClient(t testing.TB, addr string) redis.UniversalClient {
	c := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: 2 * time.Second, ReadTimeout: time.Second, WriteTimeout: time.Second})
	t.Cleanup(func() { c.Close() })
	return c
}

func rlCount(c prometheus.Counter) int { return int(testutil.ToFloat64(c)) }

func TestLimiterAdmitsTheBurstThenRefuses(t *testing.T) {
	for _, tc := range []struct {
		name     string
		rate     Rate
		maxCalls int
	}{
		{"burst 10, one token a lease", Rate{Limit: 10, Period: time.Hour, Burst: 10}, 11},
		{"burst 500, leased in batches", Rate{Limit: 500, Period: time.Hour}, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, prefix := redistest.New(t)
			l, _ := rlNew(t, c, prefix, nil)
			ctx := context.Background()
			burst := max(tc.rate.Burst, tc.rate.Limit)
			for i := range burst {
				d := l.Allow(ctx, ClassAuth, tc.rate, "ip:192.0.2.1")
				if !d.Allowed || d.Local || d.Limit != burst || d.Remaining != burst-1-i {
					t.Fatalf("request %d: got %+v, want allowed from Redis with Limit %d, Remaining %d", i+1, d, burst, burst-1-i)
				}
			}
			d := l.Allow(ctx, ClassAuth, tc.rate, "ip:192.0.2.1")
			if d.Allowed || d.RetryAfter <= 0 || d.Remaining != 0 || d.Local {
				t.Fatalf("request %d: got %+v, want refused by Redis with RetryAfter > 0", burst+1, d)
			}
			if calls := rlCount(l.calls); calls > tc.maxCalls {
				t.Errorf("got %d Redis calls for %d requests, want at most %d", calls, burst+1, tc.maxCalls)
			}
			if n, err := c.Exists(ctx, "rate:"+prefix+"rl:{auth:ip:192.0.2.1}").Result(); err != nil || n != 1 {
				t.Errorf("bucket key rate:%srl:{auth:ip:192.0.2.1}: exists %d, %v; want 1", prefix, n, err)
			}
		})
	}
}

// TestLimiterTwoReplicasShareTheRate is the acceptance test: two replicas
// hammering one key admit Burst + Rate × elapsed, ± 5 %.
func TestLimiterTwoReplicasShareTheRate(t *testing.T) {
	c, prefix := redistest.New(t)
	c2, _ := redistest.New(t)
	// Leases of up to 20 tokens; the bucket holds a second, so a stall of
	// a loaded test machine shorter than that loses no tokens.
	rate := Rate{Limit: 1000, Period: time.Second, Burst: 1000}
	replicas := []*Limiter{}
	for _, rc := range []redis.UniversalClient{c, c2} {
		l, _ := rlNew(t, rc, prefix, nil)
		replicas = append(replicas, l)
	}
	const workers = 8 // per replica
	var admitted, local atomic.Int64
	perReplica := make([]atomic.Int64, len(replicas))
	ctx := context.Background()
	const window = 3 * time.Second
	start := time.Now()
	stop := start.Add(window)
	var wg sync.WaitGroup
	for i, l := range replicas {
		for range workers {
			wg.Go(func() {
				for {
					d := l.Allow(ctx, ClassUser, rate, "user:hot")
					if time.Now().After(stop) {
						return // a decision past the window does not count
					}
					if d.Allowed {
						admitted.Add(1)
						perReplica[i].Add(1)
					}
					if d.Local {
						local.Add(1)
					}
					// Let the goroutine with Redis's answer run: a gateway's
					// requests wait on I/O, they do not spin.
					runtime.Gosched()
				}
			})
		}
	}
	wg.Wait()
	want := float64(rate.Burst) + float64(rate.Limit)*window.Seconds()
	got := float64(admitted.Load())
	t.Logf("admitted %d (replicas %d + %d) in %s; want %.0f (%+.2f%%); Redis calls %d + %d",
		admitted.Load(), perReplica[0].Load(), perReplica[1].Load(), window,
		want, 100*(got-want)/want, rlCount(replicas[0].calls), rlCount(replicas[1].calls))
	if got < 0.95*want || got > 1.05*want {
		t.Errorf("admitted %.0f, want %.0f ± 5%%", got, want)
	}
	if local.Load() != 0 {
		t.Errorf("%d decisions were local with Redis up", local.Load())
	}
	for i := range perReplica {
		if perReplica[i].Load() == 0 {
			t.Errorf("replica %d admitted nothing", i)
		}
	}
}

func TestLimiterKeepsClassesAndKeysApart(t *testing.T) {
	c, prefix := redistest.New(t)
	l, _ := rlNew(t, c, prefix, nil)
	ctx := context.Background()
	two := Rate{Limit: 2, Period: time.Hour, Burst: 2}
	for range 2 {
		if d := l.Allow(ctx, ClassAuth, two, "ip:192.0.2.1"); !d.Allowed {
			t.Fatalf("exhausting auth ip:192.0.2.1: got %+v", d)
		}
	}
	for _, tc := range []struct {
		class RateClass
		key   string
		want  bool
	}{
		{ClassAuth, "ip:192.0.2.1", false},
		{ClassAnonymous, "ip:192.0.2.1", true},
		{ClassAuth, "ip:192.0.2.2", true},
		{ClassUser, "user:u1", true},
	} {
		t.Run(string(tc.class)+" "+tc.key, func(t *testing.T) {
			if d := l.Allow(ctx, tc.class, two, tc.key); d.Allowed != tc.want {
				t.Errorf("got %+v, want Allowed %v", d, tc.want)
			}
		})
	}
	if d := l.Allow(ctx, ClassAuth, Rate{}, "ip:192.0.2.1"); !d.Allowed || d.Limit != 0 {
		t.Errorf("a zero Rate: got %+v, want allowed with no limit", d)
	}
}

func TestDecisionWriteHeaders(t *testing.T) {
	for _, tc := range []struct {
		name string
		d    Decision
		want map[string]string
	}{
		{"allowed", Decision{Allowed: true, Limit: 10, Remaining: 7, Reset: 2100 * time.Millisecond},
			map[string]string{"RateLimit-Limit": "10", "RateLimit-Remaining": "7", "RateLimit-Reset": "3", "Retry-After": ""}},
		{"allowed, bucket full", Decision{Allowed: true, Limit: 10, Remaining: 10},
			map[string]string{"RateLimit-Reset": "0", "Retry-After": ""}},
		{"refused", Decision{Limit: 5, Reset: 40 * time.Second, RetryAfter: 7500 * time.Millisecond},
			map[string]string{"RateLimit-Limit": "5", "RateLimit-Remaining": "0", "RateLimit-Reset": "40", "Retry-After": "8"}},
		{"refused, under a second", Decision{Limit: 5, Reset: time.Millisecond, RetryAfter: time.Millisecond},
			map[string]string{"RateLimit-Reset": "1", "Retry-After": "1"}},
		{"remaining out of range", Decision{Allowed: true, Limit: 5, Remaining: 9},
			map[string]string{"RateLimit-Remaining": "5"}},
		{"no limit", Decision{Allowed: true},
			map[string]string{"RateLimit-Limit": "", "RateLimit-Remaining": "", "RateLimit-Reset": ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			tc.d.WriteHeaders(h)
			for k, want := range tc.want {
				if got := h.Get(k); got != want {
					t.Errorf("%s: got %q, want %q", k, got, want)
				}
			}
		})
	}
}

func TestDecisionErrIsA429WithRetryAfter(t *testing.T) {
	if err := (Decision{Allowed: true}).Err(); err != nil {
		t.Fatalf("allowed: got %v, want nil", err)
	}
	err := Decision{Limit: 5, RetryAfter: 2500 * time.Millisecond}.Err()
	if !errors.Is(err, ErrRateLimited) {
		t.Fatalf("got %v, want ErrRateLimited", err)
	}
	w := httptest.NewRecorder()
	httpx.WriteError(w, httptest.NewRequest(http.MethodGet, "/", nil), log.NewNopLogger(), err)
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "3" || !strings.Contains(w.Body.String(), `"code":"rate_limited"`) {
		t.Errorf("got %d, Retry-After %q, body %s; want 429, 3, rate_limited", w.Code, w.Header().Get("Retry-After"), w.Body)
	}
}

// rlBlackhole accepts connections and never answers until closed.
func rlBlackhole(t *testing.T) (string, func()) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	return ln.Addr().String(), func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	}
}

// rlClosedPort returns an address nothing listens on.
func rlClosedPort(t *testing.T) (string, func()) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr, func() {}
}

func TestLimiterFailsSoftWhenRedisIsDown(t *testing.T) {
	for _, tc := range []struct {
		name string
		addr func(*testing.T) (string, func())
	}{
		{"connection refused", rlClosedPort},
		{"no answer", rlBlackhole},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, closeAddr := tc.addr(t)
			defer closeAddr() // before the limiter's Close waits for its calls
			clock := &rlClock{t: time.Now()}
			l, logs := rlNew(t, rlDeadClient(t, addr), "test:", clock)
			l.timeout = rateRedisTimeout
			ctx := context.Background()
			three := Rate{Limit: 3, Period: time.Hour, Burst: 3}
			begin := time.Now()
			for i := range 3 {
				d := l.Allow(ctx, ClassAuth, three, "ip:192.0.2.1")
				if !d.Allowed || !d.Local || d.Remaining != 2-i {
					t.Fatalf("request %d: got %+v, want allowed locally with Remaining %d", i+1, d, 2-i)
				}
			}
			d := l.Allow(ctx, ClassAuth, three, "ip:192.0.2.1")
			if took := time.Since(begin); took > 500*time.Millisecond {
				t.Errorf("4 requests took %s with Redis down, want well under a second", took)
			}
			if d.Allowed || !d.Local || d.RetryAfter <= 0 {
				t.Errorf("request 4: got %+v, want refused locally with RetryAfter > 0", d)
			}
			if calls, local := rlCount(l.calls), rlCount(l.local); calls != rateDownAfter || local != 4 {
				t.Errorf("got %d Redis calls and %d local decisions, want %d calls (failures in a row until Redis is taken for down, then no probe within a second) and 4", calls, local, rateDownAfter)
			}
			clock.add(rateProbeEvery)
			if d := l.Allow(ctx, ClassAnonymous, three, "ip:192.0.2.1"); !d.Allowed || !d.Local {
				t.Errorf("after a second: got %+v, want allowed locally", d)
			}
			if calls, failures := rlCount(l.calls), rlCount(l.failures); calls != rateDownAfter+1 || failures != rateDownAfter+1 {
				t.Errorf("after a second: got %d calls, %d failures; want a probe: %d and %d", calls, failures, rateDownAfter+1, rateDownAfter+1)
			}
			if n := logs.count("Redis unavailable"); n != 1 {
				t.Errorf("outage logged %d times, want once", n)
			}
		})
	}
}

// rlProxy forwards TCP connections to a Redis server until stopped, and
// can start again on the same address.
type rlProxy struct {
	t      *testing.T
	addr   string
	target string
	mu     sync.Mutex
	ln     net.Listener
	conns  []net.Conn
	wg     sync.WaitGroup
}

func (p *rlProxy) start() {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatalf("proxy listen: %v", err)
	}
	p.mu.Lock()
	p.ln, p.addr = ln, ln.Addr().String()
	p.mu.Unlock()
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			p.wg.Go(func() { io.Copy(up, c); up.Close() })
			p.wg.Go(func() { io.Copy(c, up); c.Close() })
		}
	})
}

func (p *rlProxy) stop() {
	p.mu.Lock()
	p.ln.Close()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
	p.mu.Unlock()
	p.wg.Wait()
}

func TestLimiterRecoversWhenRedisAnswersAgain(t *testing.T) {
	_, prefix := redistest.New(t)
	opt, err := redis.ParseURL(redistest.URL())
	if err != nil {
		t.Fatal(err)
	}
	p := &rlProxy{t: t, addr: "127.0.0.1:0", target: opt.Addr}
	p.start()
	t.Cleanup(p.stop)
	opt.Addr, opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = p.addr, 2*time.Second, time.Second, time.Second
	c := redis.NewClient(opt)
	t.Cleanup(func() { c.Close() })
	clock := &rlClock{t: time.Now()}
	l, logs := rlNew(t, c, prefix, clock)
	ctx := context.Background()
	rate := Rate{Limit: 100, Period: time.Hour, Burst: 100}

	if d := l.Allow(ctx, ClassUser, rate, "user:a"); !d.Allowed || d.Local {
		t.Fatalf("Redis up: got %+v, want allowed from Redis", d)
	}
	// One failed call is decided locally, but does not make Redis down:
	// the next request asks Redis again.
	p.stop()
	if d := l.Allow(ctx, ClassUser, rate, "user:b"); !d.Allowed || !d.Local {
		t.Fatalf("Redis gone: got %+v, want allowed locally", d)
	}
	p.start()
	if d := l.Allow(ctx, ClassUser, rate, "user:c"); d.Local {
		t.Errorf("after a single failure: got %+v, want Redis asked again", d)
	}
	if n := logs.count("Redis unavailable"); n != 0 {
		t.Errorf("a single failure logged an outage %d times", n)
	}
	// Failures in a row make it down until a probe succeeds.
	p.stop()
	for i := range rateDownAfter {
		if d := l.Allow(ctx, ClassUser, rate, fmt.Sprintf("user:d%d", i)); !d.Allowed || !d.Local {
			t.Fatalf("Redis gone, request %d: got %+v, want allowed locally", i+1, d)
		}
	}
	p.start()
	if d := l.Allow(ctx, ClassUser, rate, "user:b"); !d.Local {
		t.Errorf("Redis back within the probe interval: got %+v, want still local", d)
	}
	apptest.Eventually(t, "the limiter to use Redis again", func() bool {
		clock.add(rateProbeEvery)
		return !l.Allow(ctx, ClassUser, rate, "user:b").Local
	})
	if down, up := logs.count("Redis unavailable"), logs.count("Redis answers again"); down != 1 || up != 1 {
		t.Errorf("logged the outage %d times and the recovery %d times, want once each", down, up)
	}
	if n, err := c.Exists(ctx, "rate:"+prefix+"rl:{user:user:b}").Result(); err != nil || n != 1 {
		t.Errorf("after recovery the bucket of user:b: exists %d, %v; want 1", n, err)
	}
}

func TestLimiterLeaseExpires(t *testing.T) {
	c, prefix := redistest.New(t)
	clock := &rlClock{t: time.Now()}
	l, _ := rlNew(t, c, prefix, clock)
	ctx := context.Background()
	rate := Rate{Limit: 1000, Period: time.Hour, Burst: 1000} // leases of up to 20 tokens, void after 1 s
	e := l.lockedEntry(ClassUser, "user:a", rate.Burst)
	e.mu.Unlock()
	unspent := func() int { e.mu.Lock(); defer e.mu.Unlock(); return e.tokens }
	for i := 0; unspent() < 3; i++ {
		if i == 20 {
			t.Fatalf("no lease of 4 or more after 20 requests: %d unspent", unspent())
		}
		if d := l.Allow(ctx, ClassUser, rate, "user:a"); !d.Allowed {
			t.Fatalf("warming up: got %+v", d)
		}
	}
	left := unspent()

	// Another replica takes everything Redis has left.
	lim, _ := redisLimit(rate)
	if _, err := redis_rate.NewLimiter(c).AllowAtMost(ctx, prefix+"rl:{user:user:a}", lim, rate.Burst); err != nil {
		t.Fatal(err)
	}
	calls := rlCount(l.calls)
	if d := l.Allow(ctx, ClassUser, rate, "user:a"); !d.Allowed || rlCount(l.calls) != calls {
		t.Fatalf("within the lease: got %+v and %d more Redis calls, want allowed from the lease with none", d, rlCount(l.calls)-calls)
	}
	clock.add(rateMaxLease)
	if d := l.Allow(ctx, ClassUser, rate, "user:a"); d.Allowed || d.RetryAfter <= 0 {
		t.Errorf("after the lease expired with Redis drained: got %+v, want refused", d)
	}
	if got := rlCount(l.expired); got != left-1 {
		t.Errorf("expired tokens: got %d, want %d", got, left-1)
	}
}

func TestLimiterEvictsIdleKeys(t *testing.T) {
	c, prefix := redistest.New(t)
	clock := &rlClock{t: time.Now()}
	l, _ := rlNew(t, c, prefix, clock)
	ctx := context.Background()
	rate := Rate{Limit: 1, Period: time.Hour, Burst: 1}
	for i := range 100 {
		l.Allow(ctx, ClassAnonymous, rate, fmt.Sprintf("ip:192.0.2.%d", i))
	}
	// One key limited while Redis is down keeps its local bucket.
	l.down.Store(true)
	l.nextProbe.Store(clock.now().Add(time.Hour).UnixNano())
	if d := l.Allow(ctx, ClassAuth, rate, "ip:192.0.2.1"); !d.Allowed || !d.Local {
		t.Fatalf("local decision: got %+v", d)
	}
	if n := l.sweep(clock.now()); n != 0 || l.keys() != 101 {
		t.Fatalf("sweep right away dropped %d, left %d; want 0 and 101", n, l.keys())
	}
	clock.add(rateIdle)
	if n := l.sweep(clock.now()); n != 100 || l.keys() != 1 {
		t.Fatalf("sweep after %s dropped %d, left %d; want 100 and 1", rateIdle, n, l.keys())
	}
	if d := l.Allow(ctx, ClassAuth, rate, "ip:192.0.2.1"); d.Allowed || !d.Local {
		t.Errorf("the kept key: got %+v, want still refused locally", d)
	}
}

// BenchmarkLimiterAllow measures a decision and how many Redis calls it
// costs (calls/op), with many goroutines.
func BenchmarkLimiterAllow(b *testing.B) {
	for _, bc := range []struct {
		name string
		rate Rate
		keys int
	}{
		{"hot key under its limit", Rate{Limit: 10_000_000, Period: time.Second}, 1},
		{"hot key over its limit", Rate{Limit: 1000, Period: time.Second}, 1},
		{"10k keys under their limit", Rate{Limit: 10_000_000, Period: time.Second}, 10_000},
		{"10k keys at 100/s", Rate{Limit: 100, Period: time.Second}, 10_000},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c, prefix := redistest.New(b)
			l, _ := rlNew(b, c, prefix, nil)
			l.timeout = rateRedisTimeout // as in production: local/op shows calls that missed it
			keys := make([]string, bc.keys)
			for i := range keys {
				keys[i] = fmt.Sprintf("user:%d", i)
			}
			var next, allowed atomic.Int64
			ctx := context.Background()
			b.SetParallelism(8) // requests in flight per CPU, as in a loaded gateway
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := int(next.Add(7919))
				for pb.Next() {
					i++
					if l.Allow(ctx, ClassUser, bc.rate, keys[i%len(keys)]).Allowed {
						allowed.Add(1)
					}
				}
			})
			b.ReportMetric(float64(rlCount(l.calls))/float64(b.N), "calls/op")
			b.ReportMetric(float64(allowed.Load())/float64(b.N), "allowed/op")
			b.ReportMetric(float64(rlCount(l.local))/float64(b.N), "local/op")
		})
	}
}

// TestLimiterRefusedPeeksWithoutRedis shows Refused answers from what the
// replica last learned, never calling Redis: nothing for a key it never
// asked about or one with tokens left, a refusal (with its retry time)
// once the bucket is spent, and nothing again once that time has passed.
// While Redis is down it reads the replica's own bucket the same way.
func TestLimiterRefusedPeeksWithoutRedis(t *testing.T) {
	three := Rate{Limit: 3, Period: time.Minute, Burst: 3}
	ctx := context.Background()
	t.Run("Redis up", func(t *testing.T) {
		c, prefix := redistest.New(t)
		clock := &rlClock{t: time.Now()}
		l, _ := rlNew(t, c, prefix, clock)
		const key = "ip:192.0.2.7"
		if d, refused := l.Refused(ClassBadToken, three, key); refused {
			t.Fatalf("a key never seen: got refused %+v", d)
		}
		for i := range 2 {
			l.Allow(ctx, ClassBadToken, three, key)
			if d, refused := l.Refused(ClassBadToken, three, key); refused {
				t.Fatalf("after %d of 3: got refused %+v", i+1, d)
			}
		}
		if d := l.Allow(ctx, ClassBadToken, three, key); !d.Allowed || d.Remaining != 0 {
			t.Fatalf("request 3: got %+v, want the last token", d)
		}
		calls := rlCount(l.calls)
		d, refused := l.Refused(ClassBadToken, three, key)
		if !refused || d.Allowed || d.RetryAfter <= 0 || d.Limit != 3 || d.Err() == nil {
			t.Fatalf("bucket spent: got %+v refused=%v, want a refusal with a retry time", d, refused)
		}
		if d := l.Allow(ctx, ClassBadToken, three, key); d.Allowed {
			t.Errorf("request 4: got %+v, want refused as Refused said", d)
		}
		if other, refused := l.Refused(ClassAnonymous, three, key); refused {
			t.Errorf("the same key in another class: got refused %+v", other)
		}
		if got := rlCount(l.calls); got != calls {
			t.Errorf("Refused made %d Redis calls, want none", got-calls)
		}
		clock.add(d.RetryAfter)
		if d, refused := l.Refused(ClassBadToken, three, key); refused {
			t.Errorf("after the retry time: got refused %+v", d)
		}
	})
	t.Run("Redis down", func(t *testing.T) {
		addr, _ := rlClosedPort(t)
		clock := &rlClock{t: time.Now()}
		l, _ := rlNew(t, rlDeadClient(t, addr), "test:", clock)
		l.timeout = rateRedisTimeout
		const key = "ip:192.0.2.8"
		for range 3 {
			if d := l.Allow(ctx, ClassBadToken, three, key); !d.Allowed || !d.Local {
				t.Fatalf("got %+v, want allowed locally", d)
			}
		}
		d, refused := l.Refused(ClassBadToken, three, key)
		if !refused || !d.Local || d.RetryAfter <= 0 {
			t.Fatalf("local bucket spent: got %+v refused=%v, want refused locally", d, refused)
		}
		clock.add(d.RetryAfter)
		if d, refused := l.Refused(ClassBadToken, three, key); refused {
			t.Errorf("after the retry time: got refused %+v", d)
		}
	})
}
