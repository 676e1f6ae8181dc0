package events

import (
	"context"
	"errors"
	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/azora-os/azora/shared/pg"
)

// Each case produces some messages and then a marker event on the same
// key (so the same partition); once the marker is applied everything
// before it has been handled, in order.
func TestConsumerOutcomes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		produce func(t *testing.T, env *consumerEnv) (wantEffects map[string]int)
		want    map[string]int // outcome → count, the marker's "applied" included
		dead    int            // dead_letters rows
	}{
		{
			name: "an event delivered twice applies once",
			produce: func(t *testing.T, env *consumerEnv) map[string]int {
				ev := env.event(t, "user-1", 1)
				env.produce(t, ev, ev)
				return map[string]int{ev.ID: 1}
			},
			want: map[string]int{outcomeApplied: 2, outcomeDuplicate: 1},
		},
		{
			name: "an event without a handler is skipped",
			produce: func(t *testing.T, env *consumerEnv) map[string]int {
				ev, err := New(TopicFinance, "azora.finance.nobody.listens", "user-1", seqPayload{Seq: 1})
				if err != nil {
					t.Fatal(err)
				}
				env.produce(t, ev)
				return map[string]int{ev.ID: 0}
			},
			want: map[string]int{outcomeApplied: 1, outcomeSkipped: 1},
		},
		{
			name: "an unparsable message is dead-lettered at once",
			produce: func(t *testing.T, env *consumerEnv) map[string]int {
				env.produceRaw(t, rawMessage{key: "user-1", value: []byte(`{"not": "a cloudevent"`)})
				return nil
			},
			want: map[string]int{outcomeApplied: 1, outcomeDeadLettered: 1},
			dead: 1,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := newConsumerEnv(t)
			reg := prometheus.NewRegistry()
			calls := &attemptCounter{}
			c := env.consumer(t, "outcomes", reg, func(ctx context.Context, e Event) error {
				calls.inc(e.ID)
				return env.recordEffect(ctx, e)
			})
			wantEffects := tc.produce(t, env)
			marker := env.event(t, "user-1", 99)
			env.produce(t, marker)
			startConsumer(t, c)
			// The outcome is counted just after the commit makes the
			// effect visible, so wait for the count too.
			waitUntil(t, "the marker applied", func() bool {
				return env.count(t, `SELECT count(*) FROM effects WHERE event_id = $1`, marker.ID) == 1 &&
					processedCount(t, reg, outcomeApplied) == tc.want[outcomeApplied]
			})
			for id, want := range wantEffects {
				if got := env.count(t, `SELECT count(*) FROM effects WHERE event_id = $1`, id); got != want {
					t.Errorf("got %d effects of %s, want %d", got, id, want)
				}
			}
			for _, o := range []string{outcomeApplied, outcomeDuplicate, outcomeSkipped, outcomeDeadLettered} {
				if got := processedCount(t, reg, o); got != tc.want[o] {
					t.Errorf("got %d %s, want %d", got, o, tc.want[o])
				}
			}
			if got := env.count(t, `SELECT count(*) FROM dead_letters`); got != tc.dead {
				t.Errorf("got %d dead letters, want %d", got, tc.dead)
			}
			if tc.dead > 0 {
				var dl struct {
					EventID *string `db:"event_id"`
					Key     string  `db:"key"`
					Payload []byte  `db:"payload"`
					Error   string  `db:"error"`
				}
				if err := env.db.Get(&dl, `SELECT event_id, key, payload, error FROM dead_letters`); err != nil {
					t.Fatal(err)
				}
				if dl.EventID != nil || dl.Key != "user-1" || string(dl.Payload) != `{"not": "a cloudevent"` ||
					!strings.Contains(dl.Error, "parse cloudevent") {
					t.Errorf("got dead letter id=%v key=%q payload=%q error=%q, want no id, key user-1, the raw payload and a parse error",
						dl.EventID, dl.Key, dl.Payload, dl.Error)
				}
			}
		})
	}
}

func TestConsumerRetriesAFailingHandler(t *testing.T) {
	t.Parallel()
	env := newConsumerEnv(t)
	calls := &attemptCounter{}
	reg := prometheus.NewRegistry()
	c := env.consumer(t, "retries", reg, func(ctx context.Context, e Event) error {
		if calls.inc(e.ID) <= 3 {
			// A write before the failure must roll back with the attempt.
			if err := env.recordEffect(ctx, e); err != nil {
				return err
			}
			return errHandlerBoom
		}
		return env.recordEffect(ctx, e)
	})
	ev := env.event(t, "user-1", 1)
	env.produce(t, ev)
	startConsumer(t, c)
	waitUntil(t, "the event applied", func() bool {
		return env.count(t, `SELECT count(*) FROM inbox WHERE event_id = $1`, ev.ID) == 1
	})
	if got := calls.get(ev.ID); got != 4 {
		t.Errorf("got %d handler attempts, want 4", got)
	}
	if got := env.count(t, `SELECT count(*) FROM effects WHERE event_id = $1`, ev.ID); got != 1 {
		t.Errorf("got %d effects, want 1", got)
	}
	if got := env.count(t, `SELECT count(*) FROM dead_letters`); got != 0 {
		t.Errorf("got %d dead letters, want 0", got)
	}
	// Every attempt is timed; the lag of the partition drops to 0 once
	// the offset after the event is committed.
	waitUntil(t, "the lag reported as 0", func() bool {
		m := metricOf(t, reg, "azora_events_consumer_lag", "consumer", "retries")
		return m != nil && m.GetGauge().GetValue() == 0
	})
	h := metricOf(t, reg, "azora_events_consumer_handler_seconds", "type", consumerTestType)
	if h == nil || h.GetHistogram().GetSampleCount() != 4 {
		t.Errorf("got handler histogram %v, want 4 samples of type %s", h, consumerTestType)
	}
}

// The poison event sits between two good ones of its key, all produced
// before the consumer starts so they arrive as one batch: the event
// before it must commit without it, the one after must still flow.
func TestConsumerParksAPoisonEventAndItsPartitionFlows(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		poison    func(ctx context.Context, env *consumerEnv, e Event) error
		wantErr   string
		wantCalls []int
	}{
		{
			name:      "handler returns an error",
			poison:    func(context.Context, *consumerEnv, Event) error { return errHandlerBoom },
			wantErr:   errHandlerBoom.Error(),
			wantCalls: []int{5},
		},
		{
			name:      "handler panics",
			poison:    func(context.Context, *consumerEnv, Event) error { panic("nil map") },
			wantErr:   "handler panicked: nil map",
			wantCalls: []int{5},
		},
		{
			// The handler succeeds but its write breaks a deferred
			// constraint, so the commit fails: that too is the event's
			// fault and must not hold back the events batched with it.
			// When the poison shares a batch, the batch's failed commit
			// names no culprit and costs one call more than the 5
			// attempts charged to the event.
			name: "commit fails after the handler",
			poison: func(ctx context.Context, env *consumerEnv, e Event) error {
				_, err := pg.Ext(ctx, env.db).ExecContext(ctx, `INSERT INTO deferred_unique (k) VALUES (1)`)
				return err
			},
			wantErr:   "deferred_unique",
			wantCalls: []int{5, 6},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := newConsumerEnv(t)
			env.db.MustExec(`CREATE TABLE deferred_unique (k int UNIQUE DEFERRABLE INITIALLY DEFERRED);
				INSERT INTO deferred_unique VALUES (1)`)
			reg := prometheus.NewRegistry()
			evs := []Event{env.event(t, "user-1", 1), env.event(t, "user-1", 2), env.event(t, "user-1", 3)}
			poison := evs[1]
			calls := &attemptCounter{}
			c := env.consumer(t, "poison", reg, func(ctx context.Context, e Event) error {
				calls.inc(e.ID)
				if e.ID == poison.ID {
					return tc.poison(ctx, env, e)
				}
				return env.recordEffect(ctx, e)
			})
			c.MaxAttempts = 0 // the default, 5
			env.produce(t, evs...)
			startConsumer(t, c)
			waitUntil(t, "the good events applied", func() bool {
				return env.count(t, `SELECT count(*) FROM effects`) == 2 &&
					processedCount(t, reg, outcomeApplied) == 2
			})
			if got := calls.get(poison.ID); !slices.Contains(tc.wantCalls, got) {
				t.Errorf("got %d calls for the poison event, want one of %v", got, tc.wantCalls)
			}
			var dl struct {
				EventID   string `db:"event_id"`
				EventType string `db:"event_type"`
				Topic     string `db:"topic"`
				Offset    int64  `db:"kafka_offset"`
				Payload   []byte `db:"payload"`
				Error     string `db:"error"`
				Attempts  int    `db:"attempts"`
			}
			err := env.db.Get(&dl, `SELECT event_id, event_type, topic, kafka_offset, payload, error, attempts
				FROM dead_letters WHERE consumer = 'poison'`)
			if err != nil {
				t.Fatalf("dead letter: %v", err)
			}
			parsed, err := Parse(dl.Payload)
			if dl.EventID != poison.ID || dl.EventType != consumerTestType || dl.Topic != TopicFinance ||
				dl.Offset != 1 || dl.Attempts != 5 || !strings.Contains(dl.Error, tc.wantErr) ||
				err != nil || parsed.ID != poison.ID {
				t.Errorf("got dead letter %+v, want event %s at offset 1 of %s after 5 attempts with error %q",
					dl, poison.ID, TopicFinance, tc.wantErr)
			}
			if got := env.count(t, `SELECT count(*) FROM inbox WHERE event_id = $1`, poison.ID); got != 1 {
				t.Errorf("got %d inbox rows for the parked event, want 1 (a redelivery must not apply it)", got)
			}
			var seqs []int
			if err := env.db.Select(&seqs, `SELECT seq FROM effects ORDER BY id`); err != nil {
				t.Fatal(err)
			}
			if len(seqs) != 2 || seqs[0] != 1 || seqs[1] != 3 {
				t.Errorf("got effects in order %v, want [1 3]", seqs)
			}
			if got := processedCount(t, reg, outcomeDeadLettered); got != 1 {
				t.Errorf("got %d dead_lettered, want 1", got)
			}
		})
	}
}

func TestConsumerCrashBetweenCommitAndOffsetCommitAppliesNothingTwice(t *testing.T) {
	t.Parallel()
	env := newConsumerEnv(t)
	var evs []Event
	for seq := 1; seq <= 10; seq++ {
		evs = append(evs, env.event(t, "user-1", seq))
	}
	env.produce(t, evs...)

	crashed := make(chan struct{})
	a := env.consumer(t, "crash", nil, env.recordEffect)
	a.testAfterCommit = func(e Event, _ *kafka.Message) bool {
		if e.ID == evs[3].ID {
			close(crashed)
			return true
		}
		return false
	}
	stopA := startConsumer(t, a)
	select {
	case <-crashed:
	case <-time.After(20 * time.Second):
		t.Fatal("the consumer never reached the fourth event")
	}
	if err := stopA(); !errors.Is(err, errCrashed) {
		t.Fatalf("got Run error %v, want the simulated crash", err)
	}
	// The fourth event may have shared its transaction with later ones,
	// so at least four are applied, each once.
	afterCrash := env.count(t, `SELECT count(*) FROM effects`)
	if distinct := env.count(t, `SELECT count(DISTINCT event_id) FROM effects`); afterCrash < 4 || distinct != afterCrash {
		t.Fatalf("got %d effects of %d events after the crash, want at least 4, one per event", afterCrash, distinct)
	}

	reg := prometheus.NewRegistry()
	b := env.consumer(t, "crash", reg, env.recordEffect)
	startConsumer(t, b)
	// Waiting for a duplicate is the point: the fourth event's offset was
	// never committed, so the new consumer must read it again.
	waitUntil(t, "the rest applied and the crashed event redelivered", func() bool {
		return processedCount(t, reg, outcomeApplied) >= len(evs)-afterCrash &&
			processedCount(t, reg, outcomeDuplicate) >= 1
	})
	for _, ev := range evs {
		if got := env.count(t, `SELECT count(*) FROM effects WHERE event_id = $1`, ev.ID); got != 1 {
			t.Errorf("got %d effects of event %s, want 1", got, ev.ID)
		}
	}
	if got, want := processedCount(t, reg, outcomeApplied), len(evs)-afterCrash; got != want {
		t.Errorf("got %d applied by the new consumer, want %d", got, want)
	}
}

func TestConsumerKeepsPartitionOrder(t *testing.T) {
	t.Parallel()
	env := newConsumerEnv(t)
	const keys, perKey = 20, 25
	var evs []Event
	for seq := 1; seq <= perKey; seq++ {
		for k := range keys {
			evs = append(evs, env.event(t, "user-"+string(rune('a'+k)), seq))
		}
	}
	env.produce(t, evs...)

	var inFlight, maxInFlight atomic.Int32
	calls := &attemptCounter{}
	c := env.consumer(t, "order", nil, func(ctx context.Context, e Event) error {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := maxInFlight.Load(); n > m && !maxInFlight.CompareAndSwap(m, n); m = maxInFlight.Load() {
		}
		time.Sleep(time.Millisecond)
		var d seqPayload
		if err := e.Decode(&d); err != nil {
			return err
		}
		// Every seventh event fails once: a retry must not let the next
		// event of its key overtake it.
		if d.Seq%7 == 0 && calls.inc(e.ID) == 1 {
			return errHandlerBoom
		}
		return env.recordEffect(ctx, e)
	})
	startConsumer(t, c)
	waitUntil(t, "every event applied", func() bool {
		return env.count(t, `SELECT count(*) FROM effects`) == keys*perKey
	})
	env.checkOrderPerKey(t)
	if got := maxInFlight.Load(); got < 2 {
		t.Errorf("got at most %d handler running at once, want partitions applied concurrently", got)
	}
}
