package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/azora-os/azora/shared/app/apptest"
	"github.com/azora-os/azora/shared/events"
	"github.com/azora-os/azora/shared/events/kafkatest"
	"github.com/azora-os/azora/shared/kit/kittest"
	"github.com/azora-os/azora/shared/pg"
)

// world is one education instance on throwaway Postgres, Redis keys and
// kfake, with a test token issuer standing in for auth.
type world struct {
	base   string
	env    map[string]string
	issuer *kittest.Issuer
	c      *apptest.Client
}

func start(t *testing.T, extra map[string]string) *world {
	t.Helper()
	iss := kittest.NewIssuer(t)
	env := apptest.Env(t, apptest.Deps{Postgres: true, Redis: true, Kafka: true})
	key := make([]byte, 32)
	rand.Read(key)
	env["EDUCATION_SEAL_KEYS"] = "k1:" + base64.StdEncoding.EncodeToString(key)
	env["AUTH_JWKS_URL"] = iss.JWKSURL()
	env["AUTH_ISSUER"] = kittest.DefaultIssuer
	env["AUTH_AUDIENCE"] = kittest.DefaultAudience
	env["EDUCATION_PUBLIC_URL"] = "https://azora.test"
	for k, v := range extra {
		env[k] = v
	}
	base := apptest.StartService(t, env, loadConfig, run)
	return &world{base: base, env: env, issuer: iss, c: apptest.NewClient(base, "127.0.0.1")}
}

// user is a caller: an id and a token with roles.
type user struct {
	id    string
	token string
}

func (w *world) user(t *testing.T, roles ...string) user {
	id := uuid.NewString()
	return user{id: id, token: w.issuer.Token(t, kittest.Claims{Subject: id, Roles: roles})}
}

func (w *world) db(t *testing.T) *sqlx.DB {
	db, err := pg.Open(context.Background(), w.env["DATABASE_URL"], pg.Pool{MaxOpen: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// produce publishes an event to Kafka as another service's relay would.
func (w *world) produce(t *testing.T, source, typ, userID string, data any) events.Event {
	t.Helper()
	ev, err := events.New(source, typ, userID, data)
	if err != nil {
		t.Fatal(err)
	}
	w.produceEvent(t, ev)
	return ev
}

func (w *world) produceEvent(t *testing.T, ev events.Event) {
	t.Helper()
	p, err := kafka.NewProducer(events.ProducerConfig(w.env["KAFKA_BROKERS"]))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	go func() {
		for range p.Logs() {
		}
	}()
	payload, _ := json.Marshal(ev)
	topic := ev.Source
	done := make(chan kafka.Event, 1)
	if err := p.Produce(&kafka.Message{TopicPartition: kafka.TopicPartition{Topic: &topic, Partition: kafka.PartitionAny},
		Key: []byte(ev.PartitionKey), Value: payload}, done); err != nil {
		t.Fatal(err)
	}
	if m := (<-done).(*kafka.Message); m.TopicPartition.Error != nil {
		t.Fatal(m.TopicPartition.Error)
	}
}

// eventsOf reads the education topic until want events of the given types
// about userID arrived, and returns every event about userID in order.
func (w *world) eventsOf(t *testing.T, userID string, want int) []events.Event {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		recs := kafkatest.ReadAll(t, w.env["KAFKA_BROKERS"], events.TopicEducation, 0, 2*time.Second)
		var out []events.Event
		for _, r := range recs {
			ev, err := events.Parse(r.Value)
			if err != nil {
				t.Fatal(err)
			}
			if ev.PartitionKey == userID {
				out = append(out, ev)
			}
		}
		if len(out) >= want || time.Now().After(deadline) {
			return out
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// eventually polls cond for up to 20 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func TestRunServesOperationalEndpoints(t *testing.T) {
	t.Parallel()
	w := start(t, nil)
	apptest.CheckOperational(t, w.base, "postgres", "redis")
}

// course creates a published course with n lessons (and price when set)
// and returns its id and lesson ids in order.
func (w *world) course(t *testing.T, owner user, price map[string]any, n int) (string, []string) {
	t.Helper()
	body := map[string]any{"title": "Go in production", "description": "Services, events and ledgers"}
	if price != nil {
		body["price"] = price
	}
	r := w.c.Do(t, "POST", "/api/v1/courses", owner.token, body)
	apptest.Want(t, r, 201, "")
	id := r.Obj("course")["id"].(string)
	var lessons []string
	for i := range n {
		l := w.c.Do(t, "POST", "/api/v1/courses/"+id+"/lessons", owner.token, map[string]any{"title": "Lesson", "content": "Text " + string(rune('A'+i))})
		apptest.Want(t, l, 201, "")
		lessons = append(lessons, l.Obj("lesson")["id"].(string))
	}
	apptest.Want(t, w.c.Do(t, "POST", "/api/v1/courses/"+id+"/publish", owner.token, nil), 200, "")
	return id, lessons
}
