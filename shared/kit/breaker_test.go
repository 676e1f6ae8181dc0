package kit_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/kit"
	"go.uber.org/goleak"
)

// hystrixMonitors ignores hystrix-go's two per-circuit metrics goroutines,
// which live as long as the process by design; anything else left running
// after a call is a leak.
var hystrixMonitors = goleak.IgnoreTopFunction("github.com/afex/hystrix-go/hystrix.(*metricExchange).Monitor")

var hystrixPoolMonitors = goleak.IgnoreTopFunction("github.com/afex/hystrix-go/hystrix.(*poolMetrics).Monitor")

// circuitSeq keeps circuit names unique across -count runs.
var circuitSeq atomic.Int64

// testBreaker returns a breaker on a circuit of its own: hystrix-go's
// circuits are process-wide, keyed by name.
func testBreaker(t *testing.T, cfg kit.BreakerConfig) kit.Breaker {
	t.Helper()
	return kit.NewBreaker(fmt.Sprintf("kit-test-%s-%d", t.Name(), circuitSeq.Add(1)), cfg)
}

// breakerKinds are the two Breakers behind one interface, NewBreaker's
// (hystrix-go's DoC) and NewSyncBreaker's: the tests of what they share run
// on both.
var breakerKinds = []struct {
	name string
	new  func(*testing.T, kit.BreakerConfig) kit.Breaker
}{
	{"hystrix", testBreaker},
	{"sync", func(t *testing.T, cfg kit.BreakerConfig) kit.Breaker { b, _, _ := syncBreaker(t, cfg); return b }},
}

// eachBreaker runs test on a breaker of each kind made with cfg.
func eachBreaker(t *testing.T, cfg kit.BreakerConfig, test func(t *testing.T, b kit.Breaker)) {
	for _, k := range breakerKinds {
		t.Run(k.name, func(t *testing.T) { test(t, k.new(t, cfg)) })
	}
}

func fastOpening() kit.BreakerConfig {
	return kit.BreakerConfig{Timeout: time.Second, MaxConcurrent: 10, RequestVolumeThreshold: 5, ErrorPercentThreshold: 50, SleepWindow: time.Minute}
}

func TestBreakerOpensOnServerFaults(t *testing.T) {
	faults := []struct {
		name string
		err  error
	}{
		{"internal", errs.Internalf(errors.New("boom"), "downstream")},
		{"unavailable", errs.New(errs.Unavailable, "down", "downstream down")},
		{"plain error", errors.New("connection refused")},
	}
	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) {
			b := testBreaker(t, fastOpening())
			var calls atomic.Int64
			run := func(context.Context) error { calls.Add(1); return f.err }
			opened := false
			// hystrix-go updates its health metrics asynchronously, so keep
			// calling until the circuit notices.
			for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
				err := b.Do(context.Background(), run)
				if errors.Is(err, kit.ErrCircuitOpen) {
					opened = true
					break
				}
				if !errors.Is(err, f.err) {
					t.Fatalf("while closed: got %v, want the downstream error %v", err, f.err)
				}
			}
			if !opened {
				t.Fatalf("circuit still closed after %d faults", calls.Load())
			}
			if n := calls.Load(); n < 5 {
				t.Errorf("opened after %d calls, want at least the volume threshold 5", n)
			}
			before := calls.Load()
			for range 10 {
				err := b.Do(context.Background(), run)
				if !errors.Is(err, kit.ErrCircuitOpen) || errs.KindOf(err) != errs.Unavailable {
					t.Fatalf("open circuit: got %v, want circuit_open (unavailable)", err)
				}
				var ra interface{ RetryAfter() time.Duration }
				if !errors.As(err, &ra) || ra.RetryAfter() != time.Minute {
					t.Errorf("open circuit: want RetryAfter = sleep window 1m, got %v", err)
				}
			}
			if after := calls.Load(); after != before {
				t.Errorf("downstream calls while open: got %d, want 0", after-before)
			}
		})
	}
}

func TestBreakerClientErrorsNeverOpen(t *testing.T) {
	b := testBreaker(t, fastOpening())
	notFound := errs.New(errs.NotFound, "course_not_found", "no such course")
	var calls atomic.Int64
	for i := range 50 {
		err := b.Do(context.Background(), func(context.Context) error { calls.Add(1); return notFound })
		if !errors.Is(err, notFound) || errs.KindOf(err) != errs.NotFound {
			t.Fatalf("call %d: got %v, want the 404 unchanged", i, err)
		}
		time.Sleep(time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // let hystrix-go's metrics catch up
	if err := b.Do(context.Background(), func(context.Context) error { calls.Add(1); return nil }); err != nil {
		t.Fatalf("after 50 client errors: got %v, want nil (circuit closed)", err)
	}
	if got := calls.Load(); got != 51 {
		t.Errorf("downstream calls: got %d, want 51", got)
	}
}

func TestBreakerTimeoutCancelsRun(t *testing.T) {
	const timeout = 50 * time.Millisecond
	cfg := kit.BreakerConfig{Timeout: timeout, MaxConcurrent: 5, RequestVolumeThreshold: 20, ErrorPercentThreshold: 50, SleepWindow: time.Second}
	eachBreaker(t, cfg, func(t *testing.T, b kit.Breaker) {
		defer goleak.VerifyNone(t, goleak.IgnoreCurrent(), hystrixMonitors, hystrixPoolMonitors)
		var (
			cancelled, exited atomic.Bool
			deadline          time.Duration
		)
		start := time.Now()
		err := b.Do(context.Background(), func(ctx context.Context) error {
			defer exited.Store(true)
			if dl, ok := ctx.Deadline(); ok {
				deadline = time.Until(dl)
			}
			select {
			case <-ctx.Done():
				cancelled.Store(true)
				time.Sleep(20 * time.Millisecond) // cleanup after cancellation
				return ctx.Err()
			case <-time.After(5 * time.Second):
				return nil
			}
		})
		took := time.Since(start)
		if !errors.Is(err, kit.ErrUpstreamTimeout) || errs.KindOf(err) != errs.Unavailable {
			t.Errorf("got %v, want upstream_timeout (unavailable)", err)
		}
		if !cancelled.Load() {
			t.Error("run did not observe ctx.Done before Do returned")
		}
		if !exited.Load() {
			t.Error("Do returned while run was still running")
		}
		if deadline <= 0 || deadline > timeout {
			t.Errorf("run's ctx deadline: got %v from the start, want within (0, %v]", deadline, timeout)
		}
		if took > time.Second {
			t.Errorf("Do took %v, want about %v", took, timeout)
		}
	})
}

func TestBreakerBusy(t *testing.T) {
	eachBreaker(t, busyConfig, func(t *testing.T, b kit.Breaker) {
		defer goleak.VerifyNone(t, goleak.IgnoreCurrent(), hystrixMonitors, hystrixPoolMonitors)
		checkBusy(t, b)
	})
}

// busyConfig lets one call in at a time.
var busyConfig = kit.BreakerConfig{Timeout: 2 * time.Second, MaxConcurrent: 1, RequestVolumeThreshold: 20, ErrorPercentThreshold: 50, SleepWindow: time.Second}

// checkBusy holds one call inside b (made with busyConfig) and checks that
// a second, concurrent one is shed with upstream_busy without running.
func checkBusy(t *testing.T, b kit.Breaker) {
	t.Helper()
	entered, release := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	var first error
	wg.Go(func() {
		first = b.Do(context.Background(), func(context.Context) error {
			close(entered)
			<-release
			return nil
		})
	})
	<-entered
	var ran bool
	err := b.Do(context.Background(), func(context.Context) error { ran = true; return nil })
	close(release)
	wg.Wait()
	if !errors.Is(err, kit.ErrUpstreamBusy) {
		t.Errorf("second concurrent call: got %v, want upstream_busy", err)
	}
	if ran {
		t.Error("second concurrent call reached downstream")
	}
	if first != nil {
		t.Errorf("first call: got %v, want nil", first)
	}
}

func TestBreakerCallerCancel(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent(), hystrixMonitors, hystrixPoolMonitors)
	b := testBreaker(t, kit.BreakerConfig{Timeout: 5 * time.Second, MaxConcurrent: 5, RequestVolumeThreshold: 20, ErrorPercentThreshold: 50, SleepWindow: time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	err := b.Do(ctx, func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() })
	if !errors.Is(err, kit.ErrUpstreamTimeout) {
		t.Errorf("caller's deadline: got %v, want upstream_timeout", err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	err = b.Do(ctx, func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() })
	if !errors.Is(err, kit.ErrRequestCanceled) {
		t.Errorf("caller cancelled: got %v, want request_canceled", err)
	}
}

func TestBreakerMiddlewarePassesResponse(t *testing.T) {
	eachBreaker(t, kit.DefaultBreakerConfig(), func(t *testing.T, b kit.Breaker) {
		ep := kit.BreakerMiddleware(b)(func(_ context.Context, req any) (any, error) { return req.(string) + "!", nil })
		resp, err := ep(context.Background(), "hi")
		if err != nil || resp != "hi!" {
			t.Errorf("got %v, %v; want hi!, nil", resp, err)
		}
	})
}

func TestDefaultBreakerConfigIsExplicit(t *testing.T) {
	c := kit.DefaultBreakerConfig()
	if c.Timeout <= 0 || c.MaxConcurrent <= 0 || c.RequestVolumeThreshold <= 0 || c.ErrorPercentThreshold <= 0 || c.SleepWindow <= 0 {
		t.Errorf("got %+v, want every field set", c)
	}
}

func TestBreakerBackToBackCallsAreNotBusy(t *testing.T) {
	// hystrix-go returns tickets after DoC returns; sequential calls must
	// still never see upstream_busy.
	cfg := kit.BreakerConfig{Timeout: time.Second, MaxConcurrent: 1, RequestVolumeThreshold: 20, ErrorPercentThreshold: 50, SleepWindow: time.Second}
	eachBreaker(t, cfg, func(t *testing.T, b kit.Breaker) {
		for i := range 2000 {
			if err := b.Do(context.Background(), func(context.Context) error { return nil }); err != nil {
				t.Fatalf("call %d: got %v, want nil", i, err)
			}
		}
	})
}

// TestBreakerFaultsDecidesWhatCounts: a server fault that cfg.Faults
// excuses is returned unchanged and never opens the circuit, on both kinds.
func TestBreakerFaultsDecidesWhatCounts(t *testing.T) {
	excused := errs.New(errs.Unavailable, "dependency_down", "a dependency is down")
	cfg := fastOpening()
	cfg.Faults = func(err error) bool { return !errors.Is(err, excused) && errs.IsServerFault(err) }
	eachBreaker(t, cfg, func(t *testing.T, b kit.Breaker) {
		for i := range 50 {
			if err := b.Do(context.Background(), func(context.Context) error { return excused }); !errors.Is(err, excused) {
				t.Fatalf("call %d: got %v, want the excused error unchanged", i, err)
			}
			time.Sleep(time.Millisecond)
		}
		time.Sleep(100 * time.Millisecond) // let hystrix-go's metrics catch up
		if err := b.Do(context.Background(), func(context.Context) error { return nil }); err != nil {
			t.Fatalf("after 50 excused faults: got %v, want nil (circuit closed)", err)
		}
	})
}
