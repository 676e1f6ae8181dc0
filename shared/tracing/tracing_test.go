package tracing

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
)

func TestSpansReachTheOTLPEndpoint(t *testing.T) {
	var posts atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/v1/traces" {
			posts.Add(1)
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()

	shutdown, err := Setup(context.Background(), "test", srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	ctx, span := otel.Tracer("test").Start(context.Background(), "op")
	carrier := propagation.MapCarrier{}
	otel.GetTextMapPropagator().Inject(ctx, carrier)
	span.End()
	if err := shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if posts.Load() == 0 {
		t.Error("got no OTLP export, want the span posted to /v1/traces")
	}
	if carrier["traceparent"] == "" {
		t.Error("got no traceparent from the global propagator")
	}
}

func TestNoEndpointStillPropagates(t *testing.T) {
	shutdown, err := Setup(context.Background(), "test", "")
	if err != nil {
		t.Fatal(err)
	}
	defer shutdown(context.Background())
	if fields := otel.GetTextMapPropagator().Fields(); len(fields) == 0 {
		t.Error("got a propagator with no fields, want traceparent/tracestate/baggage")
	}
}
