package gateway_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/azora-os/azora/shared/tracing/tracingtest"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// pxTracing installs tp and the W3C propagator as the globals, restored
// when t ends. Tests that call it must not be parallel.
func pxTracing(t *testing.T, tp trace.TracerProvider) {
	t.Helper()
	prevTP, prevProp := otel.GetTracerProvider(), otel.GetTextMapPropagator()
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.TraceContext{})
	t.Cleanup(func() {
		otel.SetTracerProvider(prevTP)
		otel.SetTextMapPropagator(prevProp)
	})
}

const (
	pxCallerTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	pxCallerSpan  = "00f067aa0ba902b7"
	pxTraceparent = "00-" + pxCallerTrace + "-" + pxCallerSpan + "-01"
)

// The upstream's span is a child of the gateway's server span, in the
// caller's trace.
func TestProxyPassesTheTraceToTheUpstream(t *testing.T) {
	rec := tracingtest.Record(t)

	var capture pxCapture
	g := upNew(t, upOptions{}, upStart(t, capture.serve))
	if r := g.mustDo(t, http.MethodGet, "/api/v1/courses", "", "traceparent", pxTraceparent); r.status != http.StatusOK {
		t.Fatalf("status: got %d, want 200", r.status)
	}
	h, _, _ := capture.last()
	got := trace.SpanContextFromContext(propagation.TraceContext{}.Extract(context.Background(), propagation.HeaderCarrier(h)))
	if !got.IsValid() {
		t.Fatalf("upstream traceparent %q: not a valid trace context", h.Get("traceparent"))
	}
	if got.TraceID().String() != pxCallerTrace {
		t.Errorf("upstream trace id: got %s, want the caller's %s", got.TraceID(), pxCallerTrace)
	}
	var server sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.SpanKind() == trace.SpanKindServer {
			server = s
		}
	}
	if server == nil {
		t.Fatal("the gateway exported no server span")
	}
	if got.SpanID() != server.SpanContext().SpanID() {
		t.Errorf("upstream parent span: got %s, want the gateway's server span %s", got.SpanID(), server.SpanContext().SpanID())
	}
	if server.Parent().SpanID().String() != pxCallerSpan {
		t.Errorf("gateway server span's parent: got %s, want the caller's %s", server.Parent().SpanID(), pxCallerSpan)
	}
}

// With tracing off the caller's trace context still reaches the upstream
// unchanged.
func TestProxyPassesTheTraceOnWithTracingOff(t *testing.T) {
	pxTracing(t, noop.NewTracerProvider())
	var capture pxCapture
	g := upNew(t, upOptions{}, upStart(t, capture.serve))
	g.mustDo(t, http.MethodGet, "/api/v1/courses", "", "traceparent", pxTraceparent)
	h, _, _ := capture.last()
	if got := h.Values("traceparent"); len(got) != 1 || got[0] != pxTraceparent {
		t.Errorf("upstream traceparent: got %q, want [%q]", got, pxTraceparent)
	}
}
