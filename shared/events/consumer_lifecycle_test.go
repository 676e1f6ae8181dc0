package events

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/azora-os/azora/shared/errs"
)

func TestConsumerRunRejectsMissingConfig(t *testing.T) {
	t.Parallel()
	env := newConsumerEnv(t)
	cases := []struct {
		name   string
		mutate func(c *Consumer)
		field  string
	}{
		{"no group", func(c *Consumer) { c.Group = "" }, "Group"},
		{"no brokers", func(c *Consumer) { c.Brokers = "" }, "Brokers"},
		{"no topics", func(c *Consumer) { c.Topics = nil }, "Topics"},
		{"no database", func(c *Consumer) { c.DB = nil }, "DB"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := env.consumer(t, "config", nil, env.recordEffect)
			tc.mutate(c)
			err := c.Run(context.Background())
			e := errs.As(err)
			if e == nil || e.Kind != errs.Invalid || len(e.Fields) != 1 || e.Fields[0].Field != tc.field {
				t.Errorf("got %v, want an invalid_argument error naming %s", err, tc.field)
			}
		})
	}
}

// Run closes the Kafka consumer and waits for its workers and log pipe
// before it returns. Not parallel: goleak must see only this test.
func TestConsumerLeavesNoGoroutines(t *testing.T) {
	before := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, before) }) // after the env's cleanups
	env := newConsumerEnv(t)
	ev := env.event(t, "user-1", 1)
	env.produce(t, ev)
	stop := startConsumer(t, env.consumer(t, "leak", nil, env.recordEffect))
	waitUntil(t, "the event applied", func() bool {
		return env.count(t, `SELECT count(*) FROM effects`) == 1
	})
	if err := stop(); err != nil {
		t.Fatalf("got Run error %v, want nil", err)
	}
}

// After a clean stop every applied offset is committed: a restarted
// consumer of the group sees only what came later, and no duplicate.
func TestConsumerCommitsOffsetsOnStop(t *testing.T) {
	t.Parallel()
	env := newConsumerEnv(t)
	first := []Event{env.event(t, "user-1", 1), env.event(t, "user-2", 1), env.event(t, "user-3", 1)}
	env.produce(t, first...)
	stop := startConsumer(t, env.consumer(t, "restart", nil, env.recordEffect))
	waitUntil(t, "the first events applied", func() bool {
		return env.count(t, `SELECT count(*) FROM effects`) == len(first)
	})
	if err := stop(); err != nil {
		t.Fatalf("got Run error %v, want nil", err)
	}

	// One later event per key: once each is applied, anything its
	// partition redelivered before it has been handled and counted.
	next := []Event{env.event(t, "user-1", 2), env.event(t, "user-2", 2), env.event(t, "user-3", 2)}
	env.produce(t, next...)
	reg := prometheus.NewRegistry()
	calls := &attemptCounter{}
	startConsumer(t, env.consumer(t, "restart", reg, func(ctx context.Context, e Event) error {
		calls.inc(e.ID)
		return env.recordEffect(ctx, e)
	}))
	waitUntil(t, "the next events applied", func() bool {
		return env.count(t, `SELECT count(*) FROM effects WHERE seq = 2`) == len(next)
	})
	for _, ev := range first {
		if got := calls.get(ev.ID); got != 0 {
			t.Errorf("got %d calls for already committed event %s, want 0", got, ev.ID)
		}
	}
	if got := processedCount(t, reg, outcomeDuplicate); got != 0 {
		t.Errorf("got %d duplicates after a clean restart, want 0", got)
	}
}

// Cancelling Run while a handler is between retries returns promptly and
// commits neither a dead letter nor the offset: the next consumer of the
// group gets the event again.
func TestConsumerStopsPromptlyDuringRetries(t *testing.T) {
	t.Parallel()
	env := newConsumerEnv(t)
	ev := env.event(t, "user-1", 1)
	env.produce(t, ev)
	calls := &attemptCounter{}
	c := env.consumer(t, "cancel", nil, func(ctx context.Context, e Event) error {
		calls.inc(e.ID)
		return errHandlerBoom
	})
	c.Backoff = time.Minute
	stop := startConsumer(t, c)
	waitUntil(t, "the first attempt", func() bool { return calls.get(ev.ID) == 1 })
	began := time.Now()
	if err := stop(); err != nil {
		t.Fatalf("got Run error %v, want nil", err)
	}
	if took := time.Since(began); took > 3*time.Second {
		t.Errorf("Run took %v to return after cancel, want under 3s", took)
	}
	for _, table := range []string{"dead_letters", "inbox", "effects"} {
		if got := env.count(t, "SELECT count(*) FROM "+table); got != 0 {
			t.Errorf("got %d rows in %s, want 0", got, table)
		}
	}

	startConsumer(t, env.consumer(t, "cancel", nil, env.recordEffect))
	waitUntil(t, "the event applied by the next consumer", func() bool {
		return env.count(t, `SELECT count(*) FROM effects WHERE event_id = $1`, ev.ID) == 1
	})
}

// Partitions move between members while events flow: a second member
// joins (the first gives some partitions away), then the first stops (the
// second takes the rest). Every event applies once and in key order, and
// both members did part of the work.
func TestConsumerHandsPartitionsOverOnRebalance(t *testing.T) {
	t.Parallel()
	env := newConsumerEnv(t)
	const keys = 24
	var mu sync.Mutex
	seq := 0
	produceRound := func() {
		mu.Lock()
		defer mu.Unlock()
		seq++
		evs := make([]Event, keys)
		for k := range keys {
			evs[k] = env.event(t, fmt.Sprintf("user-%02d", k), seq)
		}
		env.produce(t, evs...)
	}
	slow := func(ctx context.Context, e Event) error {
		time.Sleep(time.Millisecond)
		return env.recordEffect(ctx, e)
	}
	// One topic only: with three the sticky assignor may hand the new
	// member partitions that carry no events.
	member := func(reg prometheus.Registerer) *Consumer {
		c := env.consumer(t, "rebalance", reg, slow)
		c.Topics = []string{TopicFinance}
		return c
	}
	regA, regB := prometheus.NewRegistry(), prometheus.NewRegistry()
	produceRound()
	stopA := startConsumer(t, member(regA))
	waitUntil(t, "the first member working", func() bool { return processedCount(t, regA, outcomeApplied) > 0 })

	startConsumer(t, member(regB))
	deadline := time.Now().Add(20 * time.Second)
	for processedCount(t, regB, outcomeApplied) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the second member never applied an event")
		}
		produceRound()
		time.Sleep(20 * time.Millisecond)
	}
	produceRound()
	if err := stopA(); err != nil {
		t.Fatalf("first member: got Run error %v, want nil", err)
	}
	produceRound()
	produceRound()

	mu.Lock()
	want := seq * keys
	mu.Unlock()
	waitUntil(t, "every event applied", func() bool {
		return env.count(t, `SELECT count(*) FROM effects`) >= want
	})
	if got := env.count(t, `SELECT count(DISTINCT event_id) FROM effects`); got != want {
		t.Errorf("got %d distinct events applied, want %d", got, want)
	}
	if got := env.count(t, `SELECT count(*) FROM effects`); got != want {
		t.Errorf("got %d effects, want %d: some event applied twice", got, want)
	}
	env.checkOrderPerKey(t)
	if a := processedCount(t, regA, outcomeApplied); a == want {
		t.Errorf("the first member applied all %d events; the handover was not exercised", a)
	}
}
