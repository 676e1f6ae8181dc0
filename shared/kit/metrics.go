package kit

import (
	"context"
	"errors"
	"time"

	"github.com/azora-os/azora/shared/errs"
	"github.com/go-kit/kit/endpoint"
	"github.com/prometheus/client_golang/prometheus"
)

// durationBuckets span 0.5 ms (a cached read) to 10 s (a call about to
// time out), roughly ×2–2.5 per step.
var durationBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// Metrics counts and times endpoint calls for one service.
type Metrics struct {
	service  string
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewMetrics returns the endpoint metrics of service, registered with reg:
// the counter azora_endpoint_requests_total and the histogram
// azora_endpoint_duration_seconds, both labelled service, endpoint and
// outcome ("ok" or the errs kind of the error). When reg already holds them
// (a second NewMetrics on the same registry) the registered collectors are
// reused; a nil reg leaves them unregistered. It panics only when reg holds
// an incompatible collector of the same name, a programming error.
func NewMetrics(reg prometheus.Registerer, service string) *Metrics {
	labels := []string{"service", "endpoint", "outcome"}
	m := &Metrics{
		service: service,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "azora_endpoint_requests_total",
			Help: "Endpoint calls by service, endpoint and outcome (ok or the error kind).",
		}, labels),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "azora_endpoint_duration_seconds",
			Help:    "Endpoint call duration by service, endpoint and outcome.",
			Buckets: durationBuckets,
		}, labels),
	}
	if reg != nil {
		m.requests = MustRegister(reg, m.requests)
		m.duration = MustRegister(reg, m.duration)
	}
	return m
}

// Counter registers with reg (or finds there) a counter vector of business
// events — registrations, enrollments, money moved — and creates the series
// of each label-value tuple in initial up front, so that rates and
// dashboards work from zero before the first event.
func Counter(reg prometheus.Registerer, name, help string, labels []string, initial ...[]string) *prometheus.CounterVec {
	c := MustRegister(reg, prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels))
	for _, values := range initial {
		c.WithLabelValues(values...)
	}
	return c
}

// Register registers c with reg, or returns the equal collector reg
// already holds, so a component built twice on one registry (a restarted
// relay, two upstreams of one gateway) keeps counting on the same series.
// Any other registration error is returned with c.
func Register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	if err == nil {
		return c, nil
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, err
}

// MustRegister is Register for collectors whose registration can fail only
// by a programming error (a clashing name), which it panics on.
func MustRegister[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	c, err := Register(reg, c)
	if err != nil {
		panic(err)
	}
	return c
}

// Middleware returns a middleware that counts and times each call of the
// endpoint name. It returns the endpoint's error unchanged.
func (m *Metrics) Middleware(name string) endpoint.Middleware {
	// Curry the fixed labels once so each call resolves only the outcome.
	fixed := prometheus.Labels{"service": m.service, "endpoint": name}
	requests := m.requests.MustCurryWith(fixed)
	duration := m.duration.MustCurryWith(fixed)
	return func(next endpoint.Endpoint) endpoint.Endpoint {
		return func(ctx context.Context, request any) (any, error) {
			begin := time.Now()
			response, err := next(ctx, request)
			outcome := "ok"
			if err != nil {
				outcome = string(errs.KindOf(err))
			}
			requests.WithLabelValues(outcome).Inc()
			duration.WithLabelValues(outcome).Observe(time.Since(begin).Seconds())
			return response, err
		}
	}
}
