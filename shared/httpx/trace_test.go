package httpx_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/go-kit/log"
	"github.com/gorilla/mux"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/httpx"
	"github.com/azora-os/azora/shared/tracing/tracingtest"
)

const (
	callerTraceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	callerSpanID  = "00f067aa0ba902b7"
	traceparent   = "00-" + callerTraceID + "-" + callerSpanID + "-01"
)

func attr(s sdktrace.ReadOnlySpan, key attribute.Key) attribute.Value {
	for _, kv := range s.Attributes() {
		if kv.Key == key {
			return kv.Value
		}
	}
	return attribute.Value{}
}

func TestStackContinuesTheCallersTrace(t *testing.T) {
	rec := tracingtest.Record(t)

	// The handler sits behind a router with TraceRoute, as a service's
	// routes do, and reports the span it runs in.
	var inHandler trace.SpanContext
	r := mux.NewRouter()
	r.Use(httpx.TraceRoute)
	r.Path("/v1/courses/{id}").Methods(http.MethodGet).HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inHandler = trace.SpanContextFromContext(r.Context())
		if r.URL.Query().Get("fail") != "" {
			httpx.WriteError(w, r, log.NewNopLogger(), errs.Internalf(io.EOF, "boom"))
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	h := httpx.Stack(log.NewNopLogger(), r)

	tests := []struct {
		name        string
		traceparent string
		query       string
		status      int
		wantError   bool
	}{
		{"with a caller", traceparent, "", http.StatusNoContent, false},
		{"without a caller", "", "", http.StatusNoContent, false},
		{"a failure", traceparent, "?fail=1", http.StatusInternalServerError, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec.Reset()
			inHandler = trace.SpanContext{}
			req := httptest.NewRequest(http.MethodGet, "/v1/courses/42"+tt.query, nil)
			if tt.traceparent != "" {
				req.Header.Set("traceparent", tt.traceparent)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != tt.status {
				t.Fatalf("got status %d, want %d", w.Code, tt.status)
			}
			spans := rec.Ended()
			if len(spans) != 1 {
				t.Fatalf("got %d spans, want 1", len(spans))
			}
			s := spans[0]
			if s.SpanKind() != trace.SpanKindServer {
				t.Errorf("got kind %v, want server", s.SpanKind())
			}
			if got, want := s.Name(), "GET /v1/courses/{id}"; got != want {
				t.Errorf("got span name %q, want %q", got, want)
			}
			if got := attr(s, "http.response.status_code").AsInt64(); got != int64(tt.status) {
				t.Errorf("got http.response.status_code %d, want %d", got, tt.status)
			}
			if got := s.Status().Code == codes.Error; got != tt.wantError {
				t.Errorf("got error status %v, want %v", got, tt.wantError)
			}
			if inHandler.SpanID() != s.SpanContext().SpanID() || inHandler.TraceID() != s.SpanContext().TraceID() {
				t.Errorf("handler ran in span %v, want the server span %v", inHandler, s.SpanContext())
			}
			if tt.traceparent == "" {
				if s.Parent().IsValid() {
					t.Errorf("got parent %v, want a root span", s.Parent())
				}
				return
			}
			if got := s.SpanContext().TraceID().String(); got != callerTraceID {
				t.Errorf("got trace id %s, want the caller's %s", got, callerTraceID)
			}
			if got := s.Parent().SpanID().String(); got != callerSpanID || !s.Parent().IsRemote() {
				t.Errorf("got parent span %s (remote %v), want the caller's %s, remote", got, s.Parent().IsRemote(), callerSpanID)
			}
		})
	}
}

func TestTraceRecordsAPanicAs500(t *testing.T) {
	rec := tracingtest.Record(t)
	h := httpx.Stack(log.NewNopLogger(), http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("boom")
	}))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/x", nil))
	if w.Code != http.StatusInternalServerError {
		t.Fatalf("got status %d, want 500", w.Code)
	}
	spans := rec.Ended()
	if len(spans) != 1 {
		t.Fatalf("got %d spans, want 1", len(spans))
	}
	if got := attr(spans[0], "http.response.status_code").AsInt64(); got != 500 {
		t.Errorf("got status code %d, want 500", got)
	}
	if spans[0].Status().Code != codes.Error || spans[0].Name() != "POST /x" {
		t.Errorf("got span %q status %v, want \"POST /x\" error", spans[0].Name(), spans[0].Status())
	}
}

// With the no-op provider (tracing off) the caller's trace context still
// reaches the handler, so services pass it on.
func TestTraceWithoutAProviderPassesTheContextOn(t *testing.T) {
	prev := otel.GetTextMapPropagator()
	otel.SetTextMapPropagator(propagation.TraceContext{})
	t.Cleanup(func() { otel.SetTextMapPropagator(prev) })
	var got trace.SpanContext
	h := httpx.Trace(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = trace.SpanContextFromContext(r.Context())
	}))
	req := httptest.NewRequest(http.MethodGet, "/x", nil)
	req.Header.Set("traceparent", traceparent)
	h.ServeHTTP(httptest.NewRecorder(), req)
	if got.TraceID().String() != callerTraceID || got.SpanID().String() != callerSpanID {
		t.Errorf("handler got span context %v, want the caller's", got)
	}
}

// BenchmarkTraceOff is Trace's cost with tracing off, on a request
// without a traceparent: what every request pays when no one traces.
func BenchmarkTraceOff(b *testing.B) {
	h := httpx.Trace(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	req := httptest.NewRequest(http.MethodGet, "/x", nil)
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, req)
	}
}
