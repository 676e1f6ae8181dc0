package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/jmoiron/sqlx"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/azora-os/azora/shared/events/kafkatest"
	"github.com/azora-os/azora/shared/pg"
	"github.com/azora-os/azora/shared/pg/pgtest"
)

// consumerEnv is one consumer test's world: its own database (events
// migrations plus an effects table the handlers write), its own Kafka
// cluster and a confluent producer on it.
type consumerEnv struct {
	db       *sqlx.DB
	dsn      string
	brokers  string
	producer *kafka.Producer
}

// seqPayload is the payload of test events: a per-key sequence number.
type seqPayload struct {
	Seq int `json:"seq"`
}

const consumerTestType = "azora.finance.test.happened"

func newConsumerEnv(t testing.TB) *consumerEnv {
	t.Helper()
	db, dsn := pgtest.New(t, Migrations)
	db.MustExec(`CREATE TABLE effects (
		id         bigserial   PRIMARY KEY,
		event_id   text        NOT NULL,
		key        text        NOT NULL,
		seq        int         NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT clock_timestamp())`)
	brokers := kafkatest.New(t)
	p, err := kafka.NewProducer(ProducerConfig(brokers))
	if err != nil {
		t.Fatalf("producer: %v", err)
	}
	go PipeLogs(log.NewNopLogger(), p.Logs())
	t.Cleanup(p.Close)
	return &consumerEnv{db: db, dsn: dsn, brokers: brokers, producer: p}
}

// event builds a test event for key with sequence seq.
func (env *consumerEnv) event(t testing.TB, key string, seq int) Event {
	t.Helper()
	ev, err := New(TopicFinance, consumerTestType, key, seqPayload{Seq: seq})
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// produce sends each event, structured-mode JSON keyed by its partition
// key, and waits for the broker to acknowledge them all.
func (env *consumerEnv) produce(t testing.TB, evs ...Event) {
	t.Helper()
	msgs := make([]rawMessage, len(evs))
	for i, ev := range evs {
		b, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		msgs[i] = rawMessage{key: ev.PartitionKey, value: b}
	}
	env.produceRaw(t, msgs...)
}

type rawMessage struct {
	key   string
	value []byte
}

// produceRaw sends msgs in order and waits for every delivery report.
func (env *consumerEnv) produceRaw(t testing.TB, msgs ...rawMessage) {
	t.Helper()
	topic := TopicFinance
	delivered := make(chan kafka.Event, len(msgs))
	for _, m := range msgs {
		err := env.producer.Produce(&kafka.Message{
			TopicPartition: kafka.TopicPartition{Topic: &topic, Partition: kafka.PartitionAny},
			Key:            []byte(m.key), Value: m.value,
		}, delivered)
		if err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
	timeout := time.After(10 * time.Second)
	for range msgs {
		select {
		case e := <-delivered:
			if m, ok := e.(*kafka.Message); !ok || m.TopicPartition.Error != nil {
				t.Fatalf("delivery: %v", e)
			}
		case <-timeout:
			t.Fatal("delivery reports did not come in 10s")
		}
	}
}

// consumer returns a Consumer of group over env with handler for consumerTestType.
func (env *consumerEnv) consumer(t testing.TB, group string, reg prometheus.Registerer, h Handler) *Consumer {
	return &Consumer{
		Group: group, Brokers: env.brokers, Topics: Topics, DB: env.db,
		Handlers: map[string]Handler{consumerTestType: h},
		Logger:   log.With(level.NewFilter(log.NewLogfmtLogger(consumerLogWriter{t}), level.AllowInfo()), "ts", log.DefaultTimestampUTC),
		Backoff:  2 * time.Millisecond,
		Metrics:  reg,
	}
}

// recordEffect is a handler whose effect is an effects row written in the
// consumer's transaction.
func (env *consumerEnv) recordEffect(ctx context.Context, e Event) error {
	var d seqPayload
	if err := e.Decode(&d); err != nil {
		return err
	}
	_, err := pg.Ext(ctx, env.db).ExecContext(ctx,
		`INSERT INTO effects (event_id, key, seq) VALUES ($1, $2, $3)`, e.ID, e.PartitionKey, d.Seq)
	return err
}

func (env *consumerEnv) count(t testing.TB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := env.db.Get(&n, query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// startConsumer runs c until the returned stop is called (or the test ends); stop
// returns Run's error.
func startConsumer(t testing.TB, c *Consumer) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- c.Run(ctx) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-errc:
			case <-time.After(20 * time.Second):
				err = errors.New("Run did not return within 20s of cancel")
			}
		})
		return err
	}
	t.Cleanup(func() { stop() })
	return stop
}

// waitUntil polls cond until it holds, failing the test after 20s.
func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// processedCount sums azora_events_consumer_processed_total over types for
// outcome.
func processedCount(t testing.TB, reg *prometheus.Registry, outcome string) int {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for _, mf := range mfs {
		if mf.GetName() != "azora_events_consumer_processed_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "outcome" && l.GetValue() == outcome {
					total += m.GetCounter().GetValue()
				}
			}
		}
	}
	return int(total)
}

// metricOf returns the first series of the metric name in reg that has
// the label name=value, or nil.
func metricOf(t testing.TB, reg *prometheus.Registry, name, label, value string) *dto.Metric {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					return m
				}
			}
		}
	}
	return nil
}

// consumerLogWriter sends log lines to t.Log, shown only when a test fails.
type consumerLogWriter struct{ t testing.TB }

func (w consumerLogWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

// attemptCounter counts handler calls per event id.
type attemptCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func (a *attemptCounter) inc(id string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.n == nil {
		a.n = map[string]int{}
	}
	a.n[id]++
	return a.n[id]
}

func (a *attemptCounter) get(id string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.n[id]
}

var errHandlerBoom = fmt.Errorf("handler says boom")

// checkOrderPerKey fails t unless the effects of each key were applied in
// sequence order 1, 2, 3 … with none missing or repeated.
func (env *consumerEnv) checkOrderPerKey(t testing.TB) {
	t.Helper()
	var rows []struct {
		Key string `db:"key"`
		Seq int    `db:"seq"`
	}
	if err := env.db.Select(&rows, `SELECT key, seq FROM effects ORDER BY id`); err != nil {
		t.Fatal(err)
	}
	last := map[string]int{}
	for _, r := range rows {
		if r.Seq != last[r.Key]+1 {
			t.Errorf("key %s: got seq %d after %d, want %d", r.Key, r.Seq, last[r.Key], last[r.Key]+1)
		}
		last[r.Key] = r.Seq
	}
}
