package events_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/jmoiron/sqlx"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/azora-os/azora/shared/events"
	"github.com/azora-os/azora/shared/events/kafkatest"
	"github.com/azora-os/azora/shared/pg"
	"github.com/azora-os/azora/shared/pg/pgtest"
)

// relayEnv is one test's database (migrated with events.Migrations) and
// kfake cluster.
type relayEnv struct {
	db      *sqlx.DB
	dsn     string
	brokers string
}

func newRelayEnv(t testing.TB, opts ...kafkatest.Option) *relayEnv {
	t.Helper()
	db, dsn := newRelayDB(t)
	return &relayEnv{db: db, dsn: dsn, brokers: kafkatest.New(t, opts...)}
}

func newRelayDB(t testing.TB) (*sqlx.DB, string) {
	t.Helper()
	return pgtest.New(t, events.Migrations)
}

// relay returns a Relay on env with a fast poll, its metrics in reg.
func (env *relayEnv) relay(t testing.TB, reg prometheus.Registerer) *events.Relay {
	return &events.Relay{
		DB: env.db, DSN: env.dsn, Brokers: env.brokers,
		Logger:       log.NewLogfmtLogger(relayLogWriter{t}),
		PollInterval: 100 * time.Millisecond,
		Metrics:      reg,
	}
}

// relayPayload is the data of a test event: the n-th event of user.
type relayPayload struct {
	User string `json:"user"`
	N    int    `json:"n"`
}

func relayEvent(t testing.TB, topic, user string, n int) events.Event {
	t.Helper()
	ev, err := events.New(topic, topic+".test.happened", user, relayPayload{User: user, N: n})
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// enqueue commits evs in one transaction.
func (env *relayEnv) enqueue(t testing.TB, evs ...events.Event) {
	t.Helper()
	err := pg.Tx(context.Background(), env.db, nil, func(ctx context.Context, _ *sqlx.Tx) error {
		return events.Enqueue(ctx, evs...)
	})
	if err != nil {
		t.Fatalf("enqueue: %v", err)
	}
}

var errRollback = errors.New("roll back on purpose")

// enqueueRolledBack enqueues evs in a transaction that then rolls back.
func (env *relayEnv) enqueueRolledBack(t testing.TB, evs ...events.Event) {
	t.Helper()
	err := pg.Tx(context.Background(), env.db, nil, func(ctx context.Context, _ *sqlx.Tx) error {
		if err := events.Enqueue(ctx, evs...); err != nil {
			return err
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatalf("rolled-back enqueue: got %v, want the rollback error", err)
	}
}

func (env *relayEnv) count(t testing.TB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := env.db.Get(&n, query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// waitAllSent waits until every outbox row has sent_at.
func (env *relayEnv) waitAllSent(t testing.TB, timeout time.Duration) {
	t.Helper()
	relayWait(t, timeout, "every outbox row sent", func() bool {
		return env.count(t, `SELECT count(*) FROM outbox WHERE sent_at IS NULL`) == 0
	})
}

func relayWait(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startRelay runs r until the returned stop is called (or the test ends);
// stop fails the test when Run does not return promptly or returns an error.
func startRelay(t testing.TB, r *events.Relay) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("relay Run: got %v, want nil after cancel", err)
				}
			case <-time.After(10 * time.Second):
				t.Errorf("relay Run did not return within 10s of cancel")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// decoded is a Kafka record of a test event.
type decoded struct {
	rec  kafkatest.Record
	ev   events.Event
	data relayPayload
}

func decodeAll(t testing.TB, recs []kafkatest.Record) []decoded {
	t.Helper()
	out := make([]decoded, len(recs))
	for i, r := range recs {
		ev, err := events.Parse(r.Value)
		if err != nil {
			t.Fatalf("record %s/%d@%d: %v", r.Topic, r.Partition, r.Offset, err)
		}
		out[i] = decoded{rec: r, ev: ev}
		if err := ev.Decode(&out[i].data); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// checkOrderPerKey checks that, per key, the first appearance of each n is
// increasing and every n in [0, want[key]) appears; duplicates are allowed.
func checkOrderPerKey(t testing.TB, recs []decoded, want map[string]int) {
	t.Helper()
	last := map[string]int{}
	seen := map[string]map[int]bool{}
	for _, d := range recs {
		u := d.data.User
		if d.rec.Key != u {
			t.Fatalf("record of user %s: got key %q, want the user id", u, d.rec.Key)
		}
		if seen[u] == nil {
			seen[u], last[u] = map[int]bool{}, -1
		}
		if seen[u][d.data.N] {
			continue // a duplicate: allowed
		}
		if d.data.N <= last[u] {
			t.Errorf("user %s: event %d first appears after event %d", u, d.data.N, last[u])
		}
		seen[u][d.data.N], last[u] = true, d.data.N
	}
	for u, n := range want {
		if len(seen[u]) != n {
			t.Errorf("user %s: got %d distinct events, want %d", u, len(seen[u]), n)
		}
	}
}

// gauge returns the value of a gauge or counter in reg, or the sample count
// of a histogram; 0 before the relay registered it (the names are checked
// by TestRelayRegistersMetrics).
func gauge(t testing.TB, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		m := mf.GetMetric()[0]
		switch {
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return 0 // not registered yet: Run registers as it starts
}

// relayLogBuffer collects log lines for assertions.
type relayLogBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *relayLogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *relayLogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// relayLogWriter sends the relay's logs to t.Log, shown on failure.
type relayLogWriter struct{ t testing.TB }

func (w relayLogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

func users(n int) []string {
	us := make([]string, n)
	for i := range us {
		us[i] = fmt.Sprintf("user-%02d", i)
	}
	return us
}
