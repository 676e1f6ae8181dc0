package httpx

import (
	"net/http"

	"github.com/gorilla/mux"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
)

// TracerName is the instrumentation scope of the server spans Trace starts.
const TracerName = "azora/httpx"

// Trace continues the caller's trace: it extracts the W3C trace context
// (traceparent, tracestate, baggage) from the request's headers with the
// global propagator and runs the handler inside a server span, from the
// global tracer provider, named "<METHOD> <path>" (TraceRoute renames it
// after the matched route). The span records the method, path and status,
// and is an error from status 500. The go-kit endpoint spans (kit.Tracing)
// and the trace context the service sends on (httpclient, the outbox)
// descend from it.
//
// With tracing off (the no-op provider) no span records: the caller's
// trace context still passes through to the handler, but the status is not
// watched, so the request costs little more than the extraction.
func Trace(next http.Handler) http.Handler {
	// otel.Tracer delegates to whatever provider is installed later, so it
	// is resolved once here rather than per request.
	tracer := otel.Tracer(TracerName)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := otel.GetTextMapPropagator().Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		// Named by the method alone until it is known to record, so that the
		// no-op path does not build the name.
		ctx, span := tracer.Start(ctx, r.Method, serverSpan...)
		if !span.IsRecording() {
			if span.SpanContext().IsValid() { // pass the caller's context on
				r = r.WithContext(ctx)
			}
			next.ServeHTTP(w, r)
			return
		}
		span.SetName(r.Method + " " + r.URL.Path)
		span.SetAttributes(semconv.HTTPRequestMethodKey.String(r.Method), semconv.URLPath(r.URL.Path))
		rec := &recorder{ResponseWriter: w}
		completed := false
		defer func() {
			status := rec.final(completed)
			span.SetAttributes(semconv.HTTPResponseStatusCode(status))
			if status >= 500 {
				span.SetStatus(codes.Error, http.StatusText(status))
			}
			if rec.code != "" {
				span.SetAttributes(attribute.String("azora.error.code", rec.code))
			}
			span.End()
		}()
		next.ServeHTTP(rec, r.WithContext(ctx))
		completed = true
	})
}

// serverSpan are the options of Trace's spans, made once: a variadic
// argument built per call would cost an allocation per request.
var serverSpan = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindServer)}

// TraceRoute is a gorilla/mux middleware (Router.Use) that renames the
// server span Trace started to "<METHOD> <route template>" and records the
// template as http.route, so requests to one route share a span name
// whatever their path parameters.
func TraceRoute(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if span := trace.SpanFromContext(r.Context()); span.IsRecording() {
			if route := mux.CurrentRoute(r); route != nil {
				if tmpl, err := route.GetPathTemplate(); err == nil {
					span.SetName(r.Method + " " + tmpl)
					span.SetAttributes(semconv.HTTPRoute(tmpl))
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}
