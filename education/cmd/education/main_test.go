package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"testing"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/azora-os/azora/shared/app/apptest"
	"github.com/azora-os/azora/shared/events"
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
	ev := apptest.NewEvent(t, source, typ, userID, data)
	w.produceEvent(t, ev)
	return ev
}

func (w *world) produceEvent(t *testing.T, ev events.Event) {
	apptest.Produce(t, w.env["KAFKA_BROKERS"], ev)
}

// eventsOf returns the education events about userID, once want arrived.
func (w *world) eventsOf(t *testing.T, userID string, want int) []events.Event {
	return apptest.EventsAbout(t, w.env["KAFKA_BROKERS"], events.TopicEducation, userID, want)
}

func eventually(t *testing.T, what string, cond func() bool) { apptest.Eventually(t, what, cond) }

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
