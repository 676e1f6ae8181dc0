package events

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/jmoiron/sqlx"

	"github.com/azora-os/azora/shared/pg"
)

// BenchmarkEventPath measures the whole event path on real Postgres and
// kfake: a producer's transaction commits an event into the outbox, the
// relay publishes it, and a Consumer applies its effect (an effects row)
// in its inbox transaction. Latency runs from the producer's commit to the
// consumer's commit. Producers are paced at a fixed rate for a few seconds
// (one event per transaction, 100 users), so the figures are those of a
// sustained load, not of a burst; each b.N iteration is one such run.
// 100 events/s is a light load (the latency of the path itself); 1000/s
// a busy one. On 2 CPUs the path keeps up with about 3,000/s, where its
// latency is mostly queueing (p50 ~40 ms, p99 ~190 ms).
//
//	go test -run '^$' -bench BenchmarkEventPath -benchtime 1x ./shared/events/
func BenchmarkEventPath(b *testing.B) {
	for _, rate := range []int{100, 1000} {
		b.Run(fmt.Sprintf("rate=%d", rate), func(b *testing.B) {
			for range b.N {
				runEventPath(b, rate, 4*time.Second)
			}
		})
	}
}

func runEventPath(b *testing.B, rate int, d time.Duration) {
	b.StopTimer()
	env := newConsumerEnv(b)
	logger := level.NewFilter(log.NewLogfmtLogger(consumerLogWriter{b}), level.AllowWarn())

	var mu sync.Mutex
	appliedAt := map[string]time.Time{}
	producedAt := map[string]time.Time{} // the Kafka message timestamp (ms)
	c := env.consumer(b, "bench", nil, env.recordEffect)
	c.Logger = logger
	// The consumer has its own pool, as it would in another service, so
	// the paced producers cannot starve it of connections.
	cdb, err := pg.Open(context.Background(), env.dsn, pg.Pool{MaxOpen: 10})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cdb.Close() })
	c.DB = cdb
	c.testAfterCommit = func(e Event, m *kafka.Message) bool {
		now := time.Now()
		mu.Lock()
		appliedAt[e.ID] = now
		producedAt[e.ID] = m.Timestamp
		mu.Unlock()
		return false
	}
	applied := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(appliedAt)
	}
	relay := &Relay{DB: env.db, DSN: env.dsn, Brokers: env.brokers, Logger: logger}
	ctx, cancel := context.WithCancel(context.Background())
	relayDone := make(chan struct{})
	go func() { relay.Run(ctx); close(relayDone) }()
	b.Cleanup(func() { cancel(); <-relayDone })
	startConsumer(b, c)

	// Warm up until the relay leads and the consumer owns its partitions.
	const warm = 50
	for i := range warm {
		enqueueOne(b, env.db, env.event(b, fmt.Sprintf("user-%d", i%100), i))
	}
	waitUntil(b, "the warm-up events applied", func() bool { return applied() == warm })

	b.StartTimer()
	n := rate * int(d/time.Second)
	const producers = 16
	interval := time.Second / time.Duration(rate)
	committedAt := make([]map[string]time.Time, producers)
	begin := time.Now()
	var wg sync.WaitGroup
	for p := range producers {
		committedAt[p] = map[string]time.Time{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := p; i < n; i += producers {
				time.Sleep(time.Until(begin.Add(time.Duration(i) * interval)))
				ev := env.event(b, fmt.Sprintf("user-%d", i%100), i)
				enqueueOne(b, env.db, ev)
				committedAt[p][ev.ID] = time.Now()
			}
		}()
	}
	wg.Wait()
	enqueued := time.Since(begin)
	deadline := time.Now().Add(30 * time.Second)
	for applied() < warm+n {
		if time.Now().After(deadline) {
			b.Fatalf("got %d events applied 30s after the last commit, want %d", applied()-warm, n)
		}
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()

	var lat, relayLat, consumeLat []time.Duration
	var last time.Time
	mu.Lock()
	for _, m := range committedAt {
		for id, t0 := range m {
			t1 := appliedAt[id]
			lat = append(lat, t1.Sub(t0))
			relayLat = append(relayLat, producedAt[id].Sub(t0))
			consumeLat = append(consumeLat, t1.Sub(producedAt[id]))
			if t1.After(last) {
				last = t1
			}
		}
	}
	mu.Unlock()
	if got := env.count(b, `SELECT count(*) FROM effects`); got != warm+n {
		b.Fatalf("got %d effects, want %d", got, warm+n)
	}
	slices.Sort(lat)
	slices.Sort(relayLat)
	slices.Sort(consumeLat)
	pct := func(lat []time.Duration, p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))]) / 1e6 }
	b.ReportMetric(pct(lat, 0.50), "p50_ms")
	b.ReportMetric(pct(lat, 0.99), "p99_ms")
	b.ReportMetric(pct(relayLat, 0.50), "relay_p50_ms")
	b.ReportMetric(pct(relayLat, 0.99), "relay_p99_ms")
	b.ReportMetric(pct(consumeLat, 0.50), "consume_p50_ms")
	b.ReportMetric(pct(consumeLat, 0.99), "consume_p99_ms")
	b.ReportMetric(float64(lat[len(lat)-1])/1e6, "max_ms")
	b.ReportMetric(float64(n)/last.Sub(begin).Seconds(), "events/s")
	b.ReportMetric(float64(n)/enqueued.Seconds(), "offered/s")
}

// enqueueOne commits ev into the outbox in its own transaction, as a
// service's request would.
func enqueueOne(b *testing.B, db *sqlx.DB, ev Event) {
	err := pg.Tx(context.Background(), db, nil, func(ctx context.Context, _ *sqlx.Tx) error {
		return Enqueue(ctx, ev)
	})
	if err != nil {
		b.Errorf("enqueue: %v", err)
	}
}
