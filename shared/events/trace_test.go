package events_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/jmoiron/sqlx"
	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/azora-os/azora/shared/events"
	"github.com/azora-os/azora/shared/events/kafkatest"
	"github.com/azora-os/azora/shared/pg"
	"github.com/azora-os/azora/shared/tracing/tracingtest"
)

// TestTraceFollowsAnEventAcrossAConsumer enqueues an event under a span,
// relays it through kfake and consumes it: the handler runs in a
// "consume <type>" span whose parent is the enqueuing span, and the event
// the handler enqueues reaches Kafka with the same trace id. It sets the
// global tracer provider, so it is not parallel.
func TestTraceFollowsAnEventAcrossAConsumer(t *testing.T) {
	rec := tracingtest.Record(t)

	env := newRelayEnv(t)
	startRelay(t, env.relay(t, nil))

	// The cause: an event enqueued inside a span, as an HTTP handler does.
	ctx, root := otel.Tracer("test").Start(context.Background(), "POST /v1/enrollments")
	first := relayEvent(t, events.TopicEducation, "user-a", 0)
	if err := pg.Tx(ctx, env.db, nil, func(ctx context.Context, _ *sqlx.Tx) error {
		return events.Enqueue(ctx, first)
	}); err != nil {
		t.Fatal(err)
	}
	root.End()
	want := root.SpanContext()

	// The consumer's handler notes its span context and enqueues a
	// follow-up event in its own transaction.
	next := relayEvent(t, events.TopicFinance, "user-a", 1)
	seen := make(chan trace.SpanContext, 4)
	c := &events.Consumer{
		Group: "trace-test", Brokers: env.brokers, Topics: []string{events.TopicEducation}, DB: env.db,
		Handlers: map[string]events.Handler{first.Type: func(ctx context.Context, ev events.Event) error {
			seen <- trace.SpanContextFromContext(ctx)
			return events.Enqueue(ctx, next)
		}},
		Logger:  log.NewLogfmtLogger(relayLogWriter{t}),
		Backoff: 2 * time.Millisecond,
	}
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(runCtx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("consumer Run: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Errorf("consumer Run did not return within 20s of cancel")
		}
	})

	var got trace.SpanContext
	select {
	case got = <-seen:
	case <-time.After(30 * time.Second):
		t.Fatal("the handler did not run within 30s")
	}
	if got.TraceID() != want.TraceID() {
		t.Errorf("handler ctx: got trace id %s, want the enqueuer's %s", got.TraceID(), want.TraceID())
	}
	if got.SpanID() == want.SpanID() {
		t.Errorf("handler ctx: got the enqueuing span itself, want a consume span under it")
	}

	// The follow-up event carries the trace on, with the consume span as
	// its parent.
	recs := kafkatest.ReadAll(t, env.brokers, events.TopicFinance, 1, 20*time.Second)
	if len(recs) != 1 {
		t.Fatalf("got %d follow-up records, want 1", len(recs))
	}
	wantTP := "00-" + want.TraceID().String() + "-" + got.SpanID().String() + "-01"
	if tp := recs[0].Headers["traceparent"]; tp != wantTP {
		t.Errorf("follow-up event: got traceparent %q, want %q", tp, wantTP)
	}

	// The consume span is exported (it ends once the handler returns, just
	// before its transaction commits).
	var consume sdktrace.ReadOnlySpan
	relayWait(t, 10*time.Second, "the consume span exported", func() bool {
		for _, s := range rec.Ended() {
			if s.SpanContext().SpanID() == got.SpanID() {
				consume = s
				return true
			}
		}
		return false
	})
	if want := "consume " + first.Type; consume.Name() != want {
		t.Errorf("got span name %q, want %q", consume.Name(), want)
	}
	if consume.SpanKind() != trace.SpanKindConsumer {
		t.Errorf("got span kind %v, want consumer", consume.SpanKind())
	}
	if p := consume.Parent(); p.SpanID() != want.SpanID() || !p.IsRemote() {
		t.Errorf("got parent %s (remote %v), want the enqueuing span %s, remote", p.SpanID(), p.IsRemote(), want.SpanID())
	}
}
