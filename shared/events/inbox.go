package events

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/go-kit/log/level"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/azora-os/azora/shared/pg"
)

// Outcomes of one event, as counted by the processed metric.
const (
	outcomeApplied      = "applied"
	outcomeDuplicate    = "duplicate"
	outcomeDeadLettered = "dead_lettered"
	outcomeSkipped      = "skipped"
)

// maxRun caps the events applied in one transaction. Runs form only when
// a partition has a backlog, so an idle consumer still commits each event
// on its own; under load one commit (one fsync) serves many events.
const maxRun = 32

// claimInbox inserts the inbox rows of a run in one round trip and
// returns the ids that were new. A repeated id (the same event delivered
// twice in one run) is returned once.
const claimInbox = `INSERT INTO inbox (consumer, event_id, event_type)
SELECT $1, e.id, e.type FROM unnest($2::text[], $3::text[]) AS e(id, type)
ON CONFLICT DO NOTHING
RETURNING event_id`

// item is one message of a partition's batch and its retry state.
type item struct {
	m        *kafka.Message
	ev       Event
	parseErr error
	h        Handler
	failures int
	lastErr  error
}

// runError is a failure that counts against an event's attempts: its
// handler's error (index names the event in the run) or a commit that
// failed after the handlers ran (index -1), since the handlers' writes
// may be what the database refused.
type runError struct {
	index int
	err   error
}

func (e *runError) Error() string { return e.err.Error() }
func (e *runError) Unwrap() error { return e.err }

// process applies, skips or parks each message of msgs in order and marks
// each done as it goes. It reports false when the run or the worker
// stopped first: what is not marked done was not committed.
func (r *run) process(w *worker, msgs []*kafka.Message) bool {
	items := make([]item, len(msgs))
	for i, m := range msgs {
		items[i].m = m
		if items[i].ev, items[i].parseErr = Parse(m.Value); items[i].parseErr == nil {
			items[i].h = r.c.Handlers[items[i].ev.Type]
		}
	}
	waits, solo := 0, 0
	for len(items) > 0 {
		if w.stopping() {
			return false
		}
		head := &items[0]
		switch {
		case head.parseErr != nil:
			// It can never parse, so retrying only blocks the partition.
			if !r.deadLetter(w, head.m, nil, head.parseErr, 0) {
				return false
			}
			w.markDone(head.m)
			items = items[1:]
			continue
		case head.h == nil:
			r.m.outcome(head.ev.Type, outcomeSkipped)
			w.markDone(head.m)
			items = items[1:]
			continue
		case head.failures >= r.c.maxAttempts():
			if !r.deadLetter(w, head.m, &head.ev, head.lastErr, head.failures) {
				return false
			}
			w.markDone(head.m)
			items = items[1:]
			continue
		case head.failures > 0:
			if !w.sleep(r.ctx, r.c.backoff(head.failures)) {
				return false
			}
		}
		// A failed event retries alone, in a fresh transaction, after the
		// events before it committed without it.
		n := 1
		for solo == 0 && head.failures == 0 && n < len(items) && n < maxRun &&
			items[n].parseErr == nil && items[n].h != nil && items[n].failures == 0 {
			n++
		}
		outcomes, err := r.apply(items[:n])
		if err == nil {
			waits, solo = 0, max(solo-n, 0)
			for i, o := range outcomes {
				r.m.outcome(items[i].ev.Type, o)
				if o == outcomeApplied && r.c.testAfterCommit != nil && r.c.testAfterCommit(items[i].ev, items[i].m) {
					r.crashed.Store(true)
					r.cancel()
					return false
				}
			}
			w.markDone(items[n-1].m)
			items = items[n:]
			continue
		}
		if r.ctx.Err() != nil {
			return false
		}
		var re *runError
		switch {
		case errors.As(err, &re) && re.index < 0 && n > 1:
			// A commit failed and any of the run may be the cause: apply
			// its events one by one so the culprit alone pays.
			solo = n
		case errors.As(err, &re):
			it := &items[max(re.index, 0)]
			it.failures++
			it.lastErr = re.err
			level.Warn(r.log).Log("msg", "event handler failed", "event_id", it.ev.ID, "event_type", it.ev.Type,
				"attempt", it.failures, "err", re.err)
		default:
			// The database failed before any handler ran: not the events'
			// fault, so wait it out without spending their attempts.
			waits++
			level.Error(r.log).Log("msg", "inbox transaction failed", "err", err)
			if !w.sleep(r.ctx, r.c.backoff(waits)) {
				return false
			}
		}
	}
	return true
}

// apply runs the handlers of run in one transaction with their inbox
// rows and returns each event's outcome: applied, or duplicate when the
// inbox already held it (its handler is not called). Any error rolls back
// the whole run.
func (r *run) apply(run []item) ([]string, error) {
	outcomes := make([]string, len(run))
	ids, types := make([]string, len(run)), make([]string, len(run))
	for i, it := range run {
		ids[i], types[i] = it.ev.ID, it.ev.Type
	}
	ran := false
	err := pg.Tx(r.ctx, r.c.DB, nil, func(ctx context.Context, tx *sqlx.Tx) error {
		ran = false
		var fresh []string
		if err := tx.SelectContext(ctx, &fresh, claimInbox, r.c.Group, pq.Array(ids), pq.Array(types)); err != nil {
			return err
		}
		claimed := make(map[string]bool, len(fresh))
		for _, id := range fresh {
			claimed[id] = true
		}
		for i, it := range run {
			if !claimed[it.ev.ID] {
				outcomes[i] = outcomeDuplicate
				continue
			}
			delete(claimed, it.ev.ID) // a second copy in this run is a duplicate
			start := time.Now()
			err := consume(ctx, it)
			r.m.latency(it.ev.Type, time.Since(start))
			if err != nil {
				return &runError{index: i, err: err}
			}
			outcomes[i] = outcomeApplied
		}
		ran = true
		return nil
	})
	if err != nil && ran {
		err = &runError{index: -1, err: err}
	}
	return outcomes, err
}

// TracerName is the instrumentation scope of the spans a consumer starts
// around its handlers.
const TracerName = "azora/events"

// consume runs it.h in a span "consume <event type>" whose parent
// is the trace context its message carries (the traceparent Enqueue stored
// and the relay sent as a Kafka header), so the handler's work, and every
// event it enqueues, stays in the trace of whatever caused the event. A
// message without one starts a new trace. The tracer is looked up per
// event, from the global provider, so a provider installed after the
// consumer started is used.
func consume(ctx context.Context, it item) error {
	ctx = propagation.TraceContext{}.Extract(ctx, headerCarrier(it.m.Headers))
	ctx, span := otel.Tracer(TracerName).Start(ctx, "consume "+it.ev.Type, trace.WithSpanKind(trace.SpanKindConsumer))
	defer span.End()
	if span.IsRecording() {
		span.SetAttributes(
			attribute.String("messaging.system", "kafka"),
			attribute.String("messaging.message.id", it.ev.ID),
			attribute.String("azora.event.type", it.ev.Type),
		)
		if tp := it.m.TopicPartition; tp.Topic != nil {
			span.SetAttributes(
				attribute.String("messaging.destination.name", *tp.Topic),
				attribute.Int("messaging.destination.partition.id", int(tp.Partition)),
				attribute.Int64("messaging.kafka.offset", int64(tp.Offset)),
			)
		}
	}
	err := callHandler(ctx, it.h, it.ev)
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	return err
}

// headerCarrier reads a Kafka message's headers as a
// propagation.TextMapCarrier, for extraction only: Set does nothing. Keys
// match exactly (Enqueue writes them lower-case); of repeated keys the last
// wins.
type headerCarrier []kafka.Header

// Get returns the value of key, or "".
func (c headerCarrier) Get(key string) string {
	for i := len(c) - 1; i >= 0; i-- {
		if c[i].Key == key {
			return string(c[i].Value)
		}
	}
	return ""
}

// Set does nothing: a consumed message's headers are not changed.
func (c headerCarrier) Set(string, string) {}

// Keys returns the header keys.
func (c headerCarrier) Keys() []string {
	keys := make([]string, len(c))
	for i, h := range c {
		keys[i] = h.Key
	}
	return keys
}

// callHandler turns a handler's panic into its error, so a bug that one
// event triggers parks that event instead of crashing the service on
// every redelivery.
func callHandler(ctx context.Context, h Handler, ev Event) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("handler panicked: %v", p)
		}
	}()
	return h(ctx, ev)
}
