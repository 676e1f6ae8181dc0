package kit_test

import (
	"context"
	"testing"

	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/kit"
	"github.com/azora-os/azora/shared/tracing/tracingtest"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

func TestTracingSpans(t *testing.T) {
	rec := tracingtest.Record(t)
	tests := []struct {
		name   string
		err    error
		status codes.Code
		events int
	}{
		{"success", nil, codes.Unset, 0},
		{"failure", errs.New(errs.Conflict, "already_enrolled", "already enrolled"), codes.Error, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var inner trace.SpanContext
			ep := kit.Tracing("enroll")(func(ctx context.Context, _ any) (any, error) {
				inner = trace.SpanContextFromContext(ctx)
				return nil, tt.err
			})
			before := len(rec.Ended())
			if _, err := ep(context.Background(), nil); err != tt.err {
				t.Fatalf("middleware changed the error: got %v, want %v", err, tt.err)
			}
			ended := rec.Ended()
			if len(ended) != before+1 {
				t.Fatalf("ended spans: got %d, want %d", len(ended), before+1)
			}
			s := ended[len(ended)-1]
			if s.Name() != "enroll" {
				t.Errorf("span name: got %q, want enroll", s.Name())
			}
			if s.SpanContext().SpanID() != inner.SpanID() {
				t.Errorf("endpoint ctx span: got %v, want the middleware's %v", inner.SpanID(), s.SpanContext().SpanID())
			}
			if s.Status().Code != tt.status {
				t.Errorf("status: got %v, want %v", s.Status().Code, tt.status)
			}
			if tt.err != nil && s.Status().Description != "already_enrolled" {
				t.Errorf("status description: got %q, want already_enrolled", s.Status().Description)
			}
			if len(s.Events()) != tt.events {
				t.Errorf("events (recorded errors): got %d, want %d", len(s.Events()), tt.events)
			}
		})
	}
}
