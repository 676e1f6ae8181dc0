package kit

import (
	"context"

	"github.com/azora-os/azora/shared/errs"
	"github.com/go-kit/kit/endpoint"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// tracerName is the instrumentation scope every Azora span is created under.
const tracerName = "azora"

// Tracing returns a middleware that wraps each call in an OpenTelemetry span
// named name, from the global tracer provider (a no-op until main installs
// one). A failed call records the error on the span and sets its status to
// Error with the errs code as description. It returns the endpoint's error
// unchanged.
func Tracing(name string) endpoint.Middleware {
	// otel.Tracer delegates to whatever provider is installed later, so it
	// is safe to resolve it once here rather than per call.
	tracer := otel.Tracer(tracerName)
	return func(next endpoint.Endpoint) endpoint.Endpoint {
		return func(ctx context.Context, request any) (any, error) {
			ctx, span := tracer.Start(ctx, name, trace.WithAttributes(attribute.String("azora.endpoint", name)))
			defer span.End()
			response, err := next(ctx, request)
			if err != nil {
				e := errs.As(err)
				span.RecordError(err)
				span.SetAttributes(
					attribute.String("azora.error.kind", string(e.Kind)),
					attribute.String("azora.error.code", e.Code),
				)
				span.SetStatus(codes.Error, e.Code)
			}
			return response, err
		}
	}
}
