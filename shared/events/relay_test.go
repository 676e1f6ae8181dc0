package events_test

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/azora-os/azora/shared/events"
	"github.com/azora-os/azora/shared/events/kafkatest"
)

// writeConcurrently commits perUser events for each user, one writer
// goroutine per user, each transaction holding 1 to 3 of that user's
// events, so users' transactions interleave while each user's stay in
// order. Events of even-numbered users go to TopicAuth, the others to
// TopicFinance. It returns the count per user.
func (env *relayEnv) writeConcurrently(t *testing.T, us []string, perUser int) map[string]int {
	t.Helper()
	var wg sync.WaitGroup
	for i, u := range us {
		topic := userTopic(i)
		wg.Go(func() {
			for n := 0; n < perUser; {
				size := min(1+(n+i)%3, perUser-n)
				evs := make([]events.Event, size)
				for j := range evs {
					evs[j] = relayEvent(t, topic, u, n+j)
				}
				env.enqueue(t, evs...)
				n += size
			}
		})
	}
	wg.Wait()
	want := map[string]int{}
	for _, u := range us {
		want[u] = perUser
	}
	return want
}

// userTopic is the topic of the i-th user's events in writeConcurrently.
func userTopic(i int) string {
	if i%2 == 1 {
		return events.TopicFinance
	}
	return events.TopicAuth
}

// readBoth reads TopicAuth and TopicFinance, expecting at least auth and
// finance records in each.
func (env *relayEnv) readBoth(t *testing.T, auth, finance int) []decoded {
	t.Helper()
	recs := kafkatest.ReadAll(t, env.brokers, events.TopicAuth, auth, 10*time.Second)
	recs = append(recs, kafkatest.ReadAll(t, env.brokers, events.TopicFinance, finance, 10*time.Second)...)
	return decodeAll(t, recs)
}

func TestRelayPublishesCommittedEventsInOrderPerKey(t *testing.T) {
	t.Parallel()
	env := newRelayEnv(t)
	reg := prometheus.NewRegistry()
	startRelay(t, env.relay(t, reg))

	want := env.writeConcurrently(t, users(20), 50) // 1,000 events
	env.waitAllSent(t, 20*time.Second)
	recs := env.readBoth(t, 500, 500)
	checkOrderPerKey(t, recs, want)

	for _, d := range recs {
		wantTopic := events.TopicAuth
		if d.ev.Source != wantTopic {
			wantTopic = events.TopicFinance
		}
		if d.rec.Topic != d.ev.Source {
			t.Fatalf("event from %s: got topic %s, want its source", d.ev.Source, d.rec.Topic)
		}
		for k, v := range map[string]string{
			events.HeaderID:          d.ev.ID,
			events.HeaderType:        d.ev.Type,
			events.HeaderContentType: events.ContentType,
		} {
			if got := d.rec.Headers[k]; got != v {
				t.Fatalf("event %s: got header %s=%q, want %q", d.ev.ID, k, got, v)
			}
		}
	}
	if got := gauge(t, reg, "azora_outbox_published_total"); got < 1000 {
		t.Errorf("got published counter %v, want at least 1000", got)
	}
	if got := gauge(t, reg, "azora_outbox_publish_latency_seconds"); got < 1000 {
		t.Errorf("got %v latency observations, want at least 1000", got)
	}
	relayWait(t, 5*time.Second, "backlog gauge at 0", func() bool {
		return gauge(t, reg, "azora_outbox_backlog") == 0
	})
}

func TestRelayPublishesAnEventOfTheMaximumSize(t *testing.T) {
	t.Parallel()
	env := newRelayEnv(t)
	startRelay(t, env.relay(t, nil))
	noise := make([]byte, events.MaxEventBytes*3/4-400) // base64 grows it by 4/3; random defeats lz4
	rand.Read(noise)
	ev := relayEvent(t, events.TopicAuth, "user-a", 0)
	ev.Data, _ = json.Marshal(base64.StdEncoding.EncodeToString(noise))
	if b, _ := json.Marshal(ev); len(b) > events.MaxEventBytes || len(b) < events.MaxEventBytes-1000 {
		t.Fatalf("test event is %d bytes, want just under %d", len(b), events.MaxEventBytes)
	}
	env.enqueue(t, ev)
	env.waitAllSent(t, 10*time.Second)
	recs := kafkatest.ReadAll(t, env.brokers, events.TopicAuth, 1, 10*time.Second)
	if got, _ := events.Parse(recs[0].Value); got.ID != ev.ID || string(got.Data) != string(ev.Data) {
		t.Errorf("got event %s with %d data bytes, want %s with %d", got.ID, len(got.Data), ev.ID, len(ev.Data))
	}
}

func TestRelayNeverPublishesRolledBackEvents(t *testing.T) {
	t.Parallel()
	env := newRelayEnv(t)
	startRelay(t, env.relay(t, nil))

	rolledBack := map[string]bool{}
	const committed = 100
	for n := range committed {
		env.enqueue(t, relayEvent(t, events.TopicEducation, "user-a", n))
		bad := relayEvent(t, events.TopicEducation, "user-a", 10_000+n)
		rolledBack[bad.ID] = true
		env.enqueueRolledBack(t, bad)
	}
	env.waitAllSent(t, 10*time.Second)
	if got := env.count(t, `SELECT count(*) FROM outbox`); got != committed {
		t.Errorf("got %d outbox rows, want %d (only the committed)", got, committed)
	}
	recs := decodeAll(t, kafkatest.ReadAll(t, env.brokers, events.TopicEducation, committed, 10*time.Second))
	for _, d := range recs {
		if rolledBack[d.ev.ID] {
			t.Fatalf("rolled-back event %s (n=%d) reached Kafka", d.ev.ID, d.data.N)
		}
	}
	checkOrderPerKey(t, recs, map[string]int{"user-a": committed})
}

func TestRelayRestartedMidStreamLosesNothing(t *testing.T) {
	t.Parallel()
	env := newRelayEnv(t)
	us := users(10)
	const perUser = 400
	for n := 0; n < perUser; n += 50 { // a 4,000-row backlog, 500 rows a transaction
		var evs []events.Event
		for _, u := range us {
			for j := range 50 {
				evs = append(evs, relayEvent(t, events.TopicAuth, u, n+j))
			}
		}
		env.enqueue(t, evs...)
	}

	reg := prometheus.NewRegistry()
	r := env.relay(t, reg)
	r.BatchSize = 100
	stop := startRelay(t, r)
	// Poll the in-memory counter every millisecond so the stop lands
	// early in the drain, while most of the backlog is still unsent.
	for deadline := time.Now().Add(10 * time.Second); gauge(t, reg, "azora_outbox_published_total") < 300; {
		if time.Now().After(deadline) {
			t.Fatal("the relay did not publish 300 rows within 10s")
		}
		time.Sleep(time.Millisecond)
	}
	stop()
	unsent := env.count(t, `SELECT count(*) FROM outbox WHERE sent_at IS NULL`)
	if unsent == 0 {
		t.Fatalf("got 0 unsent rows after stopping, want a backlog left (the stop came too late to test a restart)")
	}
	t.Logf("stopped with %d of %d rows unsent", unsent, len(us)*perUser)

	startRelay(t, env.relay(t, reg)) // the same registry: restarting must not fail on it
	env.waitAllSent(t, 20*time.Second)
	want := map[string]int{}
	for _, u := range us {
		want[u] = perUser
	}
	checkOrderPerKey(t, decodeAll(t, kafkatest.ReadAll(t, env.brokers, events.TopicAuth, len(us)*perUser, 10*time.Second)), want)
}

func TestRelayInstancesElectOnePublisher(t *testing.T) {
	t.Parallel()
	env := newRelayEnv(t)
	regA, regB := prometheus.NewRegistry(), prometheus.NewRegistry()
	stopA := startRelay(t, env.relay(t, regA))
	relayWait(t, 5*time.Second, "relay A active", func() bool { return gauge(t, regA, "azora_outbox_relay_active") == 1 })
	startRelay(t, env.relay(t, regB))

	us := users(20)
	want := env.writeConcurrently(t, us, 25)
	env.waitAllSent(t, 20*time.Second)
	pubA, pubB := gauge(t, regA, "azora_outbox_published_total"), gauge(t, regB, "azora_outbox_published_total")
	if pubA < 500 || pubB != 0 {
		t.Fatalf("got published A=%v B=%v, want A>=500 and B=0 (one active relay)", pubA, pubB)
	}
	if a, b := gauge(t, regA, "azora_outbox_relay_active"), gauge(t, regB, "azora_outbox_relay_active"); a != 1 || b != 0 {
		t.Fatalf("got active A=%v B=%v, want 1 and 0", a, b)
	}

	// A stops: B takes over within its poll interval and publishes the rest.
	stopA()
	relayWait(t, 5*time.Second, "relay B active", func() bool { return gauge(t, regB, "azora_outbox_relay_active") == 1 })
	for i, u := range us {
		env.enqueue(t, relayEvent(t, userTopic(i), u, want[u]), relayEvent(t, userTopic(i), u, want[u]+1))
		want[u] += 2
	}
	env.waitAllSent(t, 10*time.Second)
	if got := gauge(t, regB, "azora_outbox_published_total"); got < 40 {
		t.Errorf("got relay B published %v after failover, want at least 40", got)
	}
	checkOrderPerKey(t, env.readBoth(t, 10*27, 10*27), want)
}

func TestRelaySurvivesLosingItsLockConnection(t *testing.T) {
	t.Parallel()
	env := newRelayEnv(t)
	reg := prometheus.NewRegistry()
	startRelay(t, env.relay(t, reg))
	lockHolder := func() int {
		var pid int
		err := env.db.Get(&pid, `SELECT coalesce(max(pid), 0) FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`)
		if err != nil {
			t.Fatal(err)
		}
		return pid
	}
	relayWait(t, 5*time.Second, "the relay lock taken", func() bool { return lockHolder() != 0 })
	first := lockHolder()
	for n := range 20 {
		env.enqueue(t, relayEvent(t, events.TopicAuth, "user-a", n))
	}
	env.waitAllSent(t, 10*time.Second)

	if _, err := env.db.Exec(`SELECT pg_terminate_backend($1)`, first); err != nil {
		t.Fatal(err)
	}
	for n := 20; n < 40; n++ {
		env.enqueue(t, relayEvent(t, events.TopicAuth, "user-a", n))
	}
	env.waitAllSent(t, 10*time.Second)
	if second := lockHolder(); second == first || second == 0 {
		t.Errorf("got lock holder pid %d after terminating %d, want a new session", second, first)
	}
	checkOrderPerKey(t, decodeAll(t, kafkatest.ReadAll(t, env.brokers, events.TopicAuth, 40, 10*time.Second)),
		map[string]int{"user-a": 40})
}

func TestRelayRetriesFailedDeliveries(t *testing.T) {
	t.Parallel()
	db, dsn := newRelayDB(t)
	c := kafkatest.NewCluster(t)
	env := &relayEnv{db: db, dsn: dsn, brokers: kafkatest.Addr(c)}
	// Kafka rejects the first three produce requests to the topic.
	c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: events.TopicFinance, Err: kerr.InvalidRecord, Count: 3})

	reg := prometheus.NewRegistry()
	r := env.relay(t, reg)
	var logs relayLogBuffer
	r.Logger = log.NewLogfmtLogger(io.MultiWriter(relayLogWriter{t}, &logs))
	startRelay(t, r)
	for n := range 30 {
		env.enqueue(t, relayEvent(t, events.TopicFinance, fmt.Sprintf("user-%d", n%3), n/3))
	}
	env.waitAllSent(t, 15*time.Second)
	if got := gauge(t, reg, "azora_outbox_publish_failures_total"); got == 0 {
		t.Errorf("got 0 delivery failures, want the faulted produce requests counted")
	}
	// The gapless guarantee stops the producer on a rejected batch and the
	// relay replaces it: that is what keeps the order checked below.
	if !strings.Contains(logs.String(), "kafka producer stopped; starting a new one") {
		t.Errorf("got no producer restart in the logs, want one per rejected batch")
	}
	checkOrderPerKey(t, decodeAll(t, kafkatest.ReadAll(t, env.brokers, events.TopicFinance, 30, 10*time.Second)),
		map[string]int{"user-0": 10, "user-1": 10, "user-2": 10})
}

// TestRelayLeavesNoGoroutines runs sequentially (not t.Parallel) so that
// goleak sees only its own goroutines: Run must close its producer,
// listener and helpers before it returns.
