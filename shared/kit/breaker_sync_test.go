package kit_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/afex/hystrix-go/hystrix"
	metricCollector "github.com/afex/hystrix-go/hystrix/metric_collector"
	"go.uber.org/goleak"

	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/kit"
)

// events records what hystrix-go's metrics pipeline is told about each
// circuit: a collector registered with hystrix-go, as its default
// collector (whose counts open the circuit) is.
var events = struct {
	once sync.Once
	mu   sync.Mutex
	by   map[string]*eventLog
}{by: map[string]*eventLog{}}

// eventLog is one circuit's events, in the order hystrix-go applied them.
type eventLog struct {
	name   string
	mu     sync.Mutex
	kinds  []string
	resets int // the circuit closed after a trial call (metrics reset)
}

func (l *eventLog) Update(r metricCollector.MetricResult) {
	kind := "?"
	switch {
	case r.Successes > 0:
		kind = "success"
	case r.Failures > 0:
		kind = "failure"
	case r.Timeouts > 0:
		kind = "timeout"
	case r.ShortCircuits > 0:
		kind = "short-circuit"
	case r.Rejects > 0:
		kind = "rejected"
	case r.ContextCanceled > 0:
		kind = "context_canceled"
	case r.ContextDeadlineExceeded > 0:
		kind = "context_deadline_exceeded"
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.kinds = append(l.kinds, kind)
}

func (l *eventLog) Reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.resets++
}

func (l *eventLog) snapshot() ([]string, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.kinds...), l.resets
}

// waitEvents waits until hystrix-go has applied n events to the circuit
// (it does so on a goroutine of its own) and returns them.
func (l *eventLog) waitEvents(t *testing.T, n int) []string {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		kinds, _ := l.snapshot()
		if len(kinds) >= n {
			return kinds
		}
		if time.Now().After(deadline) {
			t.Fatalf("circuit %s: %d events applied after 5s, want %d: %v", l.name, len(kinds), n, kinds)
		}
	}
}

// syncBreaker returns a NewSyncBreaker on a circuit of its own, and the
// log of what its circuit is told.
func syncBreaker(t *testing.T, cfg kit.BreakerConfig) (kit.Breaker, *eventLog, string) {
	t.Helper()
	events.once.Do(func() {
		metricCollector.Registry.Register(func(name string) metricCollector.MetricCollector {
			events.mu.Lock()
			defer events.mu.Unlock()
			l := &eventLog{name: name}
			events.by[name] = l
			return l
		})
	})
	name := fmt.Sprintf("kit-sync-%s-%d", t.Name(), circuitSeq.Add(1))
	b := kit.NewSyncBreaker(name, cfg)
	if _, _, err := hystrix.GetCircuit(name); err != nil { // the circuit, and so its log
		t.Fatal(err)
	}
	events.mu.Lock()
	defer events.mu.Unlock()
	return b, events.by[name], name
}

// TestSyncBreakerOutcomes checks, call by call, what Do returns and what
// it tells the circuit: the errors of NewBreaker's Do, and hystrix-go's
// event for the outcome (only failure and timeout count against the
// circuit; see NewSyncBreaker for where DoC's racy reports differ).
func TestSyncBreakerOutcomes(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent(), hystrixMonitors, hystrixPoolMonitors)
	fault := errs.Internalf(errors.New("boom"), "downstream")
	refused := errors.New("connection refused")
	notFound := errs.New(errs.NotFound, "course_not_found", "no such course")
	cancelled := func() (context.Context, func()) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		return ctx, func() {}
	}
	cancelSoon := func() (context.Context, func()) {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(20*time.Millisecond, cancel)
		return ctx, cancel
	}
	deadlineSoon := func() (context.Context, func()) {
		return context.WithTimeout(context.Background(), 20*time.Millisecond)
	}
	untilDone := func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }
	for _, tc := range []struct {
		name    string
		ctx     func() (context.Context, func()) // nil: Background
		run     func(context.Context) error
		want    error // errors.Is
		wantRun bool
		event   string
	}{
		{"success", nil, func(context.Context) error { return nil }, nil, true, "success"},
		{"a 4xx is returned and is a success", nil, func(context.Context) error { return notFound }, notFound, true, "success"},
		{"a server fault", nil, func(context.Context) error { return fault }, fault, true, "failure"},
		{"a plain error is a fault", nil, func(context.Context) error { return refused }, refused, true, "failure"},
		{"past the breaker's timeout", nil, untilDone, kit.ErrUpstreamTimeout, true, "timeout"},
		{"the caller cancels", cancelSoon, untilDone, kit.ErrRequestCanceled, true, "context_canceled"},
		{"the caller's deadline", deadlineSoon, untilDone, kit.ErrUpstreamTimeout, true, "context_deadline_exceeded"},
		{"the caller had already left", cancelled, func(context.Context) error { return nil }, kit.ErrRequestCanceled, false, "context_canceled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, seen, _ := syncBreaker(t, kit.BreakerConfig{Timeout: 50 * time.Millisecond, MaxConcurrent: 5,
				RequestVolumeThreshold: 20, ErrorPercentThreshold: 50, SleepWindow: time.Second})
			ctx := context.Background()
			if tc.ctx != nil {
				var cancel func()
				ctx, cancel = tc.ctx()
				defer cancel()
			}
			ran := false
			err := b.Do(ctx, func(ctx context.Context) error { ran = true; return tc.run(ctx) })
			if (tc.want == nil && err != nil) || !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
			if ran != tc.wantRun {
				t.Errorf("run called: %v, want %v", ran, tc.wantRun)
			}
			if got := seen.waitEvents(t, 1); len(got) != 1 || got[0] != tc.event {
				t.Errorf("events: got %v, want [%s]", got, tc.event)
			}
		})
	}
}

// TestSyncBreakerOpensHalfOpensAndCloses drives one circuit through its
// states: faults open it (at the volume threshold), an open circuit
// answers circuit_open without calling run (to NewBreaker's breakers of
// the same name too: one circuit), after the sleep window one trial call
// goes through, a failed trial keeps it open, a successful one closes it.
func TestSyncBreakerOpensHalfOpensAndCloses(t *testing.T) {
	const sleep = 100 * time.Millisecond
	cfg := kit.BreakerConfig{Timeout: time.Second, MaxConcurrent: 10, RequestVolumeThreshold: 5, ErrorPercentThreshold: 50, SleepWindow: sleep}
	sb, seen, name := syncBreaker(t, cfg)
	var dos int // Do calls; each reports one event
	b := breakerFunc(func(ctx context.Context, run func(context.Context) error) error {
		dos++
		return sb.Do(ctx, run)
	})
	fault := errs.New(errs.Unavailable, "down", "downstream down")
	var calls atomic.Int64
	failing := func(context.Context) error { calls.Add(1); return fault }
	working := func(context.Context) error { calls.Add(1); return nil }

	opened := false
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		err := b.Do(context.Background(), failing)
		if errors.Is(err, kit.ErrCircuitOpen) {
			opened = true
			break
		}
		if !errors.Is(err, fault) {
			t.Fatalf("while closed: got %v, want the fault", err)
		}
	}
	if !opened {
		t.Fatalf("circuit still closed after %d faults", calls.Load())
	}
	if n := calls.Load(); n < 5 {
		t.Errorf("opened after %d calls, want at least the volume threshold 5", n)
	}
	if circuit, _, _ := hystrix.GetCircuit(name); !circuit.IsOpen() {
		t.Error("hystrix-go's circuit is not open")
	}

	before := calls.Load()
	err := b.Do(context.Background(), working)
	var ra interface{ RetryAfter() time.Duration }
	if !errors.Is(err, kit.ErrCircuitOpen) || errs.KindOf(err) != errs.Unavailable || !errors.As(err, &ra) || ra.RetryAfter() != sleep {
		t.Errorf("open: got %v, want circuit_open (unavailable) with RetryAfter %v", err, sleep)
	}
	if err := kit.NewBreaker(name, cfg).Do(context.Background(), working); !errors.Is(err, kit.ErrCircuitOpen) {
		t.Errorf("NewBreaker on the same circuit: got %v, want circuit_open", err)
	}
	if got := calls.Load(); got != before {
		t.Errorf("run called %d times while open, want 0", got-before)
	}

	// After the sleep window one trial goes through; it fails, so the
	// circuit stays open and the next call is short-circuited again.
	trial := func(run func(context.Context) error) error {
		for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			if err := b.Do(context.Background(), run); !errors.Is(err, kit.ErrCircuitOpen) {
				return err
			}
		}
		t.Fatal("no trial call let through 3s after opening")
		return nil
	}
	if err := trial(failing); !errors.Is(err, fault) {
		t.Fatalf("failed trial: got %v, want the fault", err)
	}
	if err := b.Do(context.Background(), working); !errors.Is(err, kit.ErrCircuitOpen) {
		t.Errorf("after a failed trial: got %v, want circuit_open", err)
	}

	// The next trial succeeds: the circuit closes and its window restarts.
	if err := trial(working); err != nil {
		t.Fatalf("successful trial: got %v, want nil", err)
	}
	for i := range 10 {
		if err := b.Do(context.Background(), working); err != nil {
			t.Fatalf("call %d after the circuit closed: got %v, want nil", i, err)
		}
	}
	if circuit, _, _ := hystrix.GetCircuit(name); circuit.IsOpen() {
		t.Error("hystrix-go's circuit is still open")
	}
	kinds := seen.waitEvents(t, dos)
	if _, resets := seen.snapshot(); resets == 0 {
		t.Error("the circuit's metrics were not reset when it closed")
	}
	for _, want := range []string{"failure", "short-circuit", "success"} {
		found := false
		for _, k := range kinds {
			found = found || k == want
		}
		if !found {
			t.Errorf("events %v: no %s", kinds, want)
		}
	}
}

// breakerFunc is a kit.Breaker as a func.
type breakerFunc func(ctx context.Context, run func(context.Context) error) error

func (f breakerFunc) Do(ctx context.Context, run func(context.Context) error) error {
	return f(ctx, run)
}

// TestSyncBreakerCallerCancelsNeverOpen: a caller giving up says nothing
// about the downstream service, so however many do, the circuit stays
// closed.
func TestSyncBreakerCallerCancelsNeverOpen(t *testing.T) {
	b, seen, name := syncBreaker(t, kit.BreakerConfig{Timeout: time.Second, MaxConcurrent: 10, RequestVolumeThreshold: 5, ErrorPercentThreshold: 10, SleepWindow: time.Minute})
	const n = 30
	for i := range n {
		ctx, cancel := context.WithCancel(context.Background())
		err := b.Do(ctx, func(context.Context) error { cancel(); return errs.New(errs.Unavailable, "gone", "connection reset") })
		if !errors.Is(err, kit.ErrRequestCanceled) {
			t.Fatalf("call %d: got %v, want request_canceled", i, err)
		}
	}
	seen.waitEvents(t, n)
	if circuit, _, _ := hystrix.GetCircuit(name); circuit.IsOpen() {
		t.Error("circuit opened on callers giving up")
	}
	if err := b.Do(context.Background(), func(context.Context) error { return nil }); err != nil {
		t.Errorf("after %d cancelled calls: got %v, want nil", n, err)
	}
}

// TestSyncBreakerRunsOnTheCallersGoroutine is the point of NewSyncBreaker:
// run is called from Do itself, not from goroutines started per call.
func TestSyncBreakerRunsOnTheCallersGoroutine(t *testing.T) {
	b, _, _ := syncBreaker(t, kit.DefaultBreakerConfig())
	var stack string
	if err := b.Do(context.Background(), func(context.Context) error {
		buf := make([]byte, 64<<10)
		stack = string(buf[:runtime.Stack(buf, false)])
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stack, "TestSyncBreakerRunsOnTheCallersGoroutine") {
		t.Errorf("run's goroutine does not run the test:\n%s", stack)
	}
}

// TestSyncBreakerBusyIsNotReported: a call shed as busy (checkBusy) is
// load shedding, not a fault: the circuit hears of the calls that ran only.
func TestSyncBreakerBusyIsNotReported(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent(), hystrixMonitors, hystrixPoolMonitors)
	b, seen, _ := syncBreaker(t, busyConfig)
	checkBusy(t, b)
	if err := b.Do(context.Background(), func(context.Context) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if got := seen.waitEvents(t, 2); len(got) != 2 || got[0] != "success" || got[1] != "success" {
		t.Errorf("events: got %v, want [success success]", got)
	}
}
