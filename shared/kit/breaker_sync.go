package kit

import (
	"context"
	"errors"
	"time"

	"github.com/afex/hystrix-go/hystrix"
)

// hystrix-go's event types, as its metric collectors read them.
const (
	eventSuccess          = "success"
	eventFailure          = "failure"
	eventTimeout          = "timeout"
	eventShortCircuit     = "short-circuit"
	eventCanceled         = "context_canceled"
	eventDeadlineExceeded = "context_deadline_exceeded"
)

// The event lists ReportEvent takes, made once: hystrix-go only reads them.
var (
	eventsSuccess          = []string{eventSuccess}
	eventsFailure          = []string{eventFailure}
	eventsTimeout          = []string{eventTimeout}
	eventsShortCircuit     = []string{eventShortCircuit}
	eventsCanceled         = []string{eventCanceled}
	eventsDeadlineExceeded = []string{eventDeadlineExceeded}
)

// syncBreaker is a Breaker over the same hystrix-go circuit as
// hystrixBreaker, driven synchronously: run is called on the caller's
// goroutine, and the circuit is asked (AllowRequest) and told
// (ReportEvent) directly instead of through DoC.
type syncBreaker struct {
	*hystrixBreaker
}

// NewSyncBreaker returns a Breaker with NewBreaker's configuration and
// semantics (the same hystrix command name, so the same circuit: its
// volume threshold, error percentage over hystrix-go's 10 s window, sleep
// window and single trial call when half-open; the same errors; only
// server faults count) that starts no goroutine per call. hystrix-go's
// DoC runs every call on a goroutine of its own with a second one timing
// it, and hands each finished call's ticket to a metrics goroutine through
// an unbuffered channel; on a request path (the gateway's proxy) that is
// most of the breaker's cost. Here the call runs on the caller's
// goroutine with a ctx whose deadline is the breaker's Timeout, and its
// outcome is reported to the circuit when it returns.
//
// The outcome of each call is reported as hystrix-go names it: success
// (a nil or 4xx result), failure, timeout (a fault once the deadline has
// passed), short-circuit, or context_canceled / context_deadline_exceeded
// when the caller's ctx ended first (neither counts against the circuit).
// Where NewBreaker's DoC races its timer against run, these are decided
// once run has returned, so a few corners differ, each towards "only
// server faults count": a run that returns its ctx's DeadlineExceeded is a
// timeout (DoC may report context_deadline_exceeded, which does not
// count); a call whose caller left is never a success (DoC may report one,
// closing a half-open circuit); a caller already gone is answered without
// calling run. Also: MaxConcurrent is enforced by the breaker alone
// (hystrix-go's ticket pool is not used, so its pool metrics stay empty);
// a result that arrives just past the deadline is kept, not dropped for a
// timeout; and a run that ignores its ctx holds Do until it returns, as
// NewBreaker's Do waits for it too.
func NewSyncBreaker(name string, cfg BreakerConfig) Breaker {
	return syncBreaker{NewBreaker(name, cfg).(*hystrixBreaker)}
}

// Do implements Breaker; see NewSyncBreaker and hystrixBreaker.Do.
func (b syncBreaker) Do(ctx context.Context, run func(ctx context.Context) error) error {
	select {
	case b.slots <- struct{}{}:
		defer func() { <-b.slots }()
	default:
		return ErrUpstreamBusy // load shedding: not reported, as NewBreaker's
	}
	// Looked up per call, as DoC does: hystrix.Flush replaces circuits.
	circuit, _, err := hystrix.GetCircuit(b.name)
	if err != nil {
		return err
	}
	start := time.Now()
	if !circuit.AllowRequest() {
		_ = circuit.ReportEvent(eventsShortCircuit, start, 0)
		return b.open
	}
	if err := ctx.Err(); err != nil {
		_ = circuit.ReportEvent(ctxEvents(err), start, 0)
		return gaveUp(err, err)
	}

	runCtx, cancel := context.WithTimeout(ctx, b.timeout)
	runErr := run(runCtx)
	ran := time.Since(start)
	timedOut := errors.Is(runCtx.Err(), context.DeadlineExceeded)
	cancel()

	// ReportEvent's error means hystrix-go's metrics queue is full: the
	// event is lost, as DoC loses it (it only logs it).
	switch {
	case !b.faults(runErr):
		// A success or a 4xx (or what Faults excuses): the downstream
		// service answered.
		_ = circuit.ReportEvent(eventsSuccess, start, ran)
		return runErr
	case ctx.Err() != nil:
		// The caller gave up: that says nothing about the service.
		_ = circuit.ReportEvent(ctxEvents(ctx.Err()), start, ran)
		return gaveUp(ctx.Err(), runErr)
	case timedOut:
		_ = circuit.ReportEvent(eventsTimeout, start, ran)
		return ErrUpstreamTimeout.Wrap(runErr)
	}
	_ = circuit.ReportEvent(eventsFailure, start, ran)
	return runErr
}

// ctxEvents is the event hystrix-go reports for a call whose ctx ended
// with err.
func ctxEvents(err error) []string {
	if errors.Is(err, context.DeadlineExceeded) {
		return eventsDeadlineExceeded
	}
	return eventsCanceled
}
