package events_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"go.opentelemetry.io/otel/trace"

	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/events"
	"github.com/azora-os/azora/shared/events/kafkatest"
	"github.com/azora-os/azora/shared/pg"
)

func TestEnqueueRejects(t *testing.T) {
	t.Parallel()
	db, _ := newRelayDB(t)
	valid := relayEvent(t, events.TopicAuth, "user-a", 0)
	edit := func(f func(*events.Event)) events.Event {
		ev := valid
		f(&ev)
		return ev
	}
	tests := []struct {
		name  string
		inTx  bool
		ev    events.Event
		want  error
		wantK errs.Kind
	}{
		{"no transaction", false, valid, events.ErrNoTransaction, errs.Internal},
		{"no id", true, edit(func(e *events.Event) { e.ID = "" }), events.ErrInvalidEvent, errs.Internal},
		{"id not a uuid", true, edit(func(e *events.Event) { e.ID = "evt-1" }), events.ErrInvalidEvent, errs.Internal},
		{"no type", true, edit(func(e *events.Event) { e.Type = "" }), events.ErrInvalidEvent, errs.Internal},
		{"no source", true, edit(func(e *events.Event) { e.Source = "" }), events.ErrInvalidEvent, errs.Internal},
		{"no partition key", true, edit(func(e *events.Event) { e.PartitionKey = "" }), events.ErrInvalidEvent, errs.Internal},
		{"wrong specversion", true, edit(func(e *events.Event) { e.SpecVersion = "0.3" }), events.ErrInvalidEvent, errs.Internal},
		{"too large", true, edit(func(e *events.Event) {
			e.Data = json.RawMessage(`"` + strings.Repeat("x", events.MaxEventBytes) + `"`)
		}), events.ErrInvalidEvent, errs.Internal},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.inTx {
				err = pg.Tx(context.Background(), db, nil, func(ctx context.Context, _ *sqlx.Tx) error {
					return events.Enqueue(ctx, valid, tc.ev) // the valid one must not be kept either
				})
			} else {
				err = events.Enqueue(context.Background(), tc.ev)
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("got error %v, want %v", err, tc.want)
			}
			if k := errs.KindOf(err); k != tc.wantK {
				t.Errorf("got kind %s, want %s", k, tc.wantK)
			}
			var n int
			if err := db.Get(&n, `SELECT count(*) FROM outbox`); err != nil {
				t.Fatal(err)
			}
			if n != 0 {
				t.Errorf("got %d outbox rows, want 0", n)
			}
		})
	}
}

func TestEnqueueStoresRowsInOrder(t *testing.T) {
	t.Parallel()
	db, _ := newRelayDB(t)
	evs := []events.Event{
		relayEvent(t, events.TopicFinance, "user-b", 0),
		relayEvent(t, events.TopicAuth, "user-a", 0),
		relayEvent(t, events.TopicFinance, "user-b", 1),
	}
	err := pg.Tx(context.Background(), db, nil, func(ctx context.Context, _ *sqlx.Tx) error {
		if err := events.Enqueue(ctx); err != nil { // nothing to do, not an error
			return err
		}
		return events.Enqueue(ctx, evs...)
	})
	if err != nil {
		t.Fatal(err)
	}
	var rows []struct {
		EventID string `db:"event_id"`
		Topic   string `db:"topic"`
		Key     string `db:"key"`
		Payload []byte `db:"payload"`
		Headers []byte `db:"headers"`
	}
	if err := db.Select(&rows, `SELECT event_id, topic, key, payload, headers FROM outbox ORDER BY seq`); err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(evs) {
		t.Fatalf("got %d rows, want %d", len(rows), len(evs))
	}
	for i, r := range rows {
		ev := evs[i]
		if r.EventID != ev.ID || r.Topic != ev.Source || r.Key != ev.PartitionKey {
			t.Errorf("row %d: got (%s, %s, %s), want (%s, %s, %s)", i, r.EventID, r.Topic, r.Key, ev.ID, ev.Source, ev.PartitionKey)
		}
		got, err := events.Parse(r.Payload)
		if err != nil {
			t.Fatalf("row %d payload: %v", i, err)
		}
		if got.ID != ev.ID || got.Type != ev.Type || string(got.Data) != string(ev.Data) {
			t.Errorf("row %d: payload event %+v, want %+v", i, got, ev)
		}
		var hs map[string]string
		if err := json.Unmarshal(r.Headers, &hs); err != nil {
			t.Fatal(err)
		}
		if hs[events.HeaderType] != ev.Type {
			t.Errorf("row %d: got header %s=%q, want %q", i, events.HeaderType, hs[events.HeaderType], ev.Type)
		}
		if _, ok := hs["traceparent"]; ok {
			t.Errorf("row %d: got a traceparent header without a trace in ctx", i)
		}
	}
}

func TestEnqueueRejectsADuplicateEventID(t *testing.T) {
	t.Parallel()
	db, _ := newRelayDB(t)
	ev := relayEvent(t, events.TopicAuth, "user-a", 0)
	env := &relayEnv{db: db}
	env.enqueue(t, ev)
	err := pg.Tx(context.Background(), db, nil, func(ctx context.Context, _ *sqlx.Tx) error {
		return events.Enqueue(ctx, ev)
	})
	if err == nil {
		t.Fatal("got nil error enqueuing the same event id twice, want an error")
	}
}

func TestEnqueueNotifiesOnlyOnCommit(t *testing.T) {
	t.Parallel()
	db, dsn := newRelayDB(t)
	env := &relayEnv{db: db}
	l := pq.NewListener(dsn, 10*time.Millisecond, time.Second, nil)
	defer l.Close()
	if err := l.Listen(events.NotifyChannel); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		commit     bool
		wantNotify bool
	}{
		{"rolled back: silent", false, false},
		{"committed: notifies", true, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev := relayEvent(t, events.TopicAuth, "user-a", 0)
			if tc.commit {
				env.enqueue(t, ev)
			} else {
				env.enqueueRolledBack(t, ev)
			}
			select {
			case n := <-l.Notify:
				if !tc.wantNotify {
					t.Fatalf("got notification %+v, want none", n)
				}
				if n.Channel != events.NotifyChannel {
					t.Errorf("got channel %q, want %q", n.Channel, events.NotifyChannel)
				}
			case <-time.After(300 * time.Millisecond):
				if tc.wantNotify {
					t.Fatalf("got no notification within 300ms, want one")
				}
			}
		})
	}
}

func TestEnqueueCarriesTraceContextToKafka(t *testing.T) {
	t.Parallel()
	env := newRelayEnv(t)
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
		SpanID:     trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
		TraceFlags: trace.FlagsSampled,
	})
	ctx := trace.ContextWithSpanContext(context.Background(), sc)
	ev := relayEvent(t, events.TopicEducation, "user-a", 0)
	err := pg.Tx(ctx, env.db, nil, func(ctx context.Context, _ *sqlx.Tx) error {
		return events.Enqueue(ctx, ev)
	})
	if err != nil {
		t.Fatal(err)
	}
	startRelay(t, env.relay(t, nil))
	env.waitAllSent(t, 10*time.Second)

	recs := kafkatest.ReadAll(t, env.brokers, events.TopicEducation, 1, 10*time.Second)
	if len(recs) != 1 {
		t.Fatalf("got %d records, want 1", len(recs))
	}
	const want = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	if got := recs[0].Headers["traceparent"]; got != want {
		t.Errorf("got traceparent %q, want %q", got, want)
	}
	if got := recs[0].Headers[events.HeaderID]; got != ev.ID {
		t.Errorf("got %s %q, want %q", events.HeaderID, got, ev.ID)
	}
}
