package kit

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/afex/hystrix-go/hystrix"
	"github.com/azora-os/azora/shared/errs"
	"github.com/go-kit/kit/endpoint"
)

// Errors a Breaker returns instead of calling, or after giving up on, the
// downstream service.
var (
	ErrCircuitOpen     = errs.New(errs.Unavailable, "circuit_open", "the upstream service is failing; try again shortly")
	ErrUpstreamTimeout = errs.New(errs.Unavailable, "upstream_timeout", "the upstream service did not answer in time")
	ErrUpstreamBusy    = errs.New(errs.Unavailable, "upstream_busy", "too many calls to the upstream service are in flight")
	ErrRequestCanceled = errs.New(errs.Unavailable, "request_canceled", "the request was cancelled")
)

// Breaker runs calls to a downstream service through a circuit breaker.
type Breaker interface {
	// Do calls run with a ctx whose deadline is the breaker's timeout and
	// returns run's error, or an error matching ErrCircuitOpen (with a
	// RetryAfter method) without calling run, ErrUpstreamBusy,
	// ErrUpstreamTimeout or ErrRequestCanceled.
	Do(ctx context.Context, run func(ctx context.Context) error) error
}

// BreakerConfig tunes one breaker. Zero fields take DefaultBreakerConfig's
// values, never hystrix-go's own defaults.
type BreakerConfig struct {
	Timeout                time.Duration // a call's deadline
	MaxConcurrent          int           // calls in flight before ErrUpstreamBusy
	RequestVolumeThreshold int           // calls in the 10 s window before the circuit may open
	ErrorPercentThreshold  int           // fault percentage in the window that opens it
	SleepWindow            time.Duration // how long it stays open before one trial call
	// Faults says which errors of a call count against the circuit; nil
	// means errs.IsServerFault (internal, unavailable, and any error that
	// is not an *errs.Error). The other errors are returned unchanged and
	// reported to hystrix as successes: the downstream answered.
	Faults func(error) bool
}

// DefaultBreakerConfig returns the settings for calls between Azora
// services: 5 s timeout, 100 concurrent calls, open at 50 % faults over at
// least 20 calls, retry after 5 s.
func DefaultBreakerConfig() BreakerConfig {
	return BreakerConfig{
		Timeout:                5 * time.Second,
		MaxConcurrent:          100,
		RequestVolumeThreshold: 20,
		ErrorPercentThreshold:  50,
		SleepWindow:            5 * time.Second,
	}
}

// ticketHeadroom enlarges hystrix-go's ticket pool beyond MaxConcurrent.
// hystrix-go hands a successful call's ticket back only after DoC has
// returned, through an unbuffered channel drained by one metrics goroutine,
// so back-to-back calls hold more tickets than calls in flight: measured at
// a few hundred in a tight loop on 2 cores. A pool of exactly MaxConcurrent
// would reject calls that fit (and count them as faults).
const ticketHeadroom = 1024

// hystrixBreaker is a Breaker over one hystrix-go command.
type hystrixBreaker struct {
	name    string
	timeout time.Duration
	open    error         // ErrCircuitOpen telling clients when to retry
	slots   chan struct{} // one per call in flight, MaxConcurrent in all
	faults  func(error) bool
}

// retryAfter is an error that tells the HTTP edge (httpx sets Retry-After
// from it) when the client may try again.
type retryAfter struct {
	err   *errs.Error
	after time.Duration
}

func (e retryAfter) Error() string             { return e.err.Error() }
func (e retryAfter) Unwrap() error             { return e.err }
func (e retryAfter) RetryAfter() time.Duration { return e.after }

// NewBreaker returns a Breaker over the hystrix command name, configured
// explicitly from cfg. hystrix-go keeps commands in a process-wide table,
// so two breakers with one name share a circuit and the last config wins.
func NewBreaker(name string, cfg BreakerConfig) Breaker {
	def := DefaultBreakerConfig()
	if cfg.Timeout <= 0 {
		cfg.Timeout = def.Timeout
	}
	if cfg.MaxConcurrent <= 0 {
		cfg.MaxConcurrent = def.MaxConcurrent
	}
	if cfg.RequestVolumeThreshold <= 0 {
		cfg.RequestVolumeThreshold = def.RequestVolumeThreshold
	}
	if cfg.ErrorPercentThreshold <= 0 {
		cfg.ErrorPercentThreshold = def.ErrorPercentThreshold
	}
	if cfg.SleepWindow <= 0 {
		cfg.SleepWindow = def.SleepWindow
	}
	if cfg.Faults == nil {
		cfg.Faults = errs.IsServerFault
	}
	hystrix.ConfigureCommand(name, hystrix.CommandConfig{
		Timeout: millis(cfg.Timeout),
		// The breaker enforces MaxConcurrent itself (slots); see
		// ticketHeadroom for why hystrix's pool is larger.
		MaxConcurrentRequests:  cfg.MaxConcurrent + ticketHeadroom,
		RequestVolumeThreshold: cfg.RequestVolumeThreshold,
		ErrorPercentThreshold:  cfg.ErrorPercentThreshold,
		SleepWindow:            millis(cfg.SleepWindow),
	})
	return &hystrixBreaker{
		name:    name,
		timeout: cfg.Timeout,
		open:    retryAfter{ErrCircuitOpen, cfg.SleepWindow},
		slots:   make(chan struct{}, cfg.MaxConcurrent),
		faults:  cfg.Faults,
	}
}

// millis converts d to hystrix-go's whole milliseconds, at least 1: its
// zero means "use my default".
func millis(d time.Duration) int {
	return max(int(d/time.Millisecond), 1)
}

// Do implements Breaker. Only faults (BreakerConfig.Faults; by default
// errs.IsServerFault: internal, unavailable, and any error that is not an
// *errs.Error, such as a connection error or a timeout) count against the
// circuit: a 4xx result is reported to hystrix as a success and returned
// unchanged. When Do returns,
// run has returned too: hystrix-go leaves timed-out work running, so Do
// cancels run's ctx and waits for it. More than MaxConcurrent calls in
// flight get ErrUpstreamBusy; that is load shedding, not a fault of the
// downstream service, so it does not count against the circuit.
func (b *hystrixBreaker) Do(ctx context.Context, run func(ctx context.Context) error) error {
	select {
	case b.slots <- struct{}{}:
		defer func() { <-b.slots }()
	default:
		return ErrUpstreamBusy
	}
	runCtx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()

	var (
		mu       sync.Mutex
		returned bool // Do is past DoC: a late start must not run
		started  bool
		finished = make(chan struct{})
		runErr   error
	)
	cmd := func(context.Context) error {
		mu.Lock()
		if returned {
			mu.Unlock()
			return nil // hystrix already answered (timeout); its verdict stands
		}
		started = true
		mu.Unlock()
		defer close(finished)
		runErr = run(runCtx)
		if !b.faults(runErr) || ctx.Err() != nil {
			// A 4xx, or the caller giving up, says nothing about the
			// health of the downstream service.
			return nil
		}
		return runErr
	}
	// DoC gets the caller's ctx, not runCtx: hystrix-go counts its own
	// timeouts as failures but a done ctx as neither.
	err := hystrix.DoC(ctx, b.name, cmd, nil)

	mu.Lock()
	returned = true
	wait := started
	mu.Unlock()
	cancel()
	if wait {
		<-finished
	}
	switch {
	case err == nil && b.faults(runErr) && ctx.Err() != nil:
		return gaveUp(ctx.Err(), runErr)
	case err == nil:
		return runErr // nil or a 4xx
	case errors.Is(err, hystrix.ErrCircuitOpen):
		return b.open
	case errors.Is(err, hystrix.ErrMaxConcurrency):
		return ErrUpstreamBusy
	case errors.Is(err, hystrix.ErrTimeout):
		return ErrUpstreamTimeout.Wrap(err)
	case ctx.Err() != nil:
		return gaveUp(ctx.Err(), err)
	case errors.Is(runCtx.Err(), context.DeadlineExceeded):
		// run noticed its deadline before hystrix's own timer fired.
		return ErrUpstreamTimeout.Wrap(err)
	}
	return err
}

// gaveUp is the error for a call whose caller's ctx ended (cause ctxErr)
// while it failed with err.
func gaveUp(ctxErr, err error) error {
	if errors.Is(ctxErr, context.DeadlineExceeded) {
		return ErrUpstreamTimeout.Wrap(err)
	}
	return ErrRequestCanceled.Wrap(err)
}

// BreakerMiddleware returns a middleware that runs the endpoint through b,
// so a failing downstream service is cut off instead of piling up calls.
// It returns the endpoint's error or one of b's (see Breaker).
func BreakerMiddleware(b Breaker) endpoint.Middleware {
	return func(next endpoint.Endpoint) endpoint.Endpoint {
		return func(ctx context.Context, request any) (any, error) {
			var response any
			err := b.Do(ctx, func(ctx context.Context) error {
				var err error
				response, err = next(ctx, request)
				return err
			})
			if err != nil {
				return nil, err
			}
			return response, nil
		}
	}
}
