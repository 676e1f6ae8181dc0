package kit_test

import (
	"context"
	"strings"
	"testing"

	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/kit"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestMetricsCountsByOutcome(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := kit.NewMetrics(reg, "finance")
	var fail error
	ep := m.Middleware("transfer")(func(context.Context, any) (any, error) { return nil, fail })
	call := func(err error) {
		fail = err
		if _, got := ep(context.Background(), nil); got != err {
			t.Fatalf("middleware changed the error: got %v, want %v", got, err)
		}
	}
	call(nil)
	call(nil)
	call(errs.New(errs.FailedPrecondition, "insufficient_funds", "not enough money"))
	call(errs.New(errs.Unavailable, "down", "down"))

	want := `
# HELP azora_endpoint_requests_total Endpoint calls by service, endpoint and outcome (ok or the error kind).
# TYPE azora_endpoint_requests_total counter
azora_endpoint_requests_total{endpoint="transfer",outcome="failed_precondition",service="finance"} 1
azora_endpoint_requests_total{endpoint="transfer",outcome="ok",service="finance"} 2
azora_endpoint_requests_total{endpoint="transfer",outcome="unavailable",service="finance"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "azora_endpoint_requests_total"); err != nil {
		t.Error(err)
	}
	if got := testutil.CollectAndCount(reg, "azora_endpoint_duration_seconds"); got != 3 {
		t.Errorf("duration series: got %d, want 3 (one per outcome)", got)
	}
}

func TestNewMetricsTwiceOnOneRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	a, b := kit.NewMetrics(reg, "auth"), kit.NewMetrics(reg, "auth")
	ok := func(context.Context, any) (any, error) { return nil, nil }
	_, _ = a.Middleware("login")(ok)(context.Background(), nil)
	_, _ = b.Middleware("login")(ok)(context.Background(), nil)
	want := `
# HELP azora_endpoint_requests_total Endpoint calls by service, endpoint and outcome (ok or the error kind).
# TYPE azora_endpoint_requests_total counter
azora_endpoint_requests_total{endpoint="login",outcome="ok",service="auth"} 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "azora_endpoint_requests_total"); err != nil {
		t.Error(err)
	}
}

func TestCounterCreatesInitialSeriesOnce(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := kit.Counter(reg, "azora_test_events_total", "Test events.", []string{"kind"}, []string{"a"}, []string{"b"})
	if n := testutil.CollectAndCount(c); n != 2 {
		t.Fatalf("%d series before any event, want the 2 initial ones", n)
	}
	again := kit.Counter(reg, "azora_test_events_total", "Test events.", []string{"kind"})
	again.WithLabelValues("a").Inc()
	if v := testutil.ToFloat64(c.WithLabelValues("a")); v != 1 {
		t.Errorf("a second Counter of the same name counts elsewhere: %v", v)
	}
}
