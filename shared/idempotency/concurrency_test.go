package idempotency_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/azora-os/azora/shared/idempotency"
)

func TestConcurrencyAndTakeover(t *testing.T) {
	eachCase(t, []namedCase{
		{"100 concurrent requests with one key", testConcurrent},
		{"a stalled request loses its taken-over key", testStalled},
		{"abandoned and expired records are taken over", testStale},
		{"concurrent takers of an abandoned key: one wins", testConcurrentTakers},
		{"an expired key accepts another body", testExpiredOtherBody},
		{"a client disconnect leaves no half state", testDisconnect},
	})
}

func testConcurrent(t *testing.T, db *sqlx.DB) {
	f := newFixture(t, db, idempotency.Config{})
	// A slow handler keeps the key in flight while the others arrive.
	f.h.hook = func(*http.Request, int64) int { time.Sleep(20 * time.Millisecond); return 0 }
	body := effectRequest{Label: "once"}
	const n = 100
	replies := make([]reply, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			replies[i] = f.post(t, "alice", "burst", body)
		})
	}
	close(start)
	wg.Wait()

	if got := f.effects(t); got != 1 {
		t.Fatalf("effects: got %d, want exactly 1", got)
	}
	var id string
	if err := db.Get(&id, `SELECT id FROM effects WHERE test = $1`, f.id); err != nil {
		t.Fatal(err)
	}
	created, inFlight := 0, 0
	var original string
	for i, r := range replies {
		switch r.status {
		case http.StatusCreated:
			created++
			if r.effect.ID != id {
				t.Errorf("reply %d: got id %s, want the one effect's %s", i, r.effect.ID, id)
			}
			if original == "" {
				original = r.body
			} else if r.body != original {
				t.Errorf("reply %d body: got %s, want the same bytes as every 201: %s", i, r.body, original)
			}
		case http.StatusConflict:
			inFlight++
			wantStatus(t, r, http.StatusConflict, "idempotency_in_progress")
			if got := r.header.Get("Retry-After"); got != "1" {
				t.Errorf("reply %d Retry-After: got %q, want 1", i, got)
			}
		default:
			t.Errorf("reply %d: got %d %s, want 201 or 409", i, r.status, r.body)
		}
	}
	if created == 0 {
		t.Error("201 replies: got none, want at least the one that executed")
	}
	t.Logf("%d × 201, %d × 409", created, inFlight)
	if calls := f.h.calls.Load(); calls != 1 {
		t.Errorf("handler calls: got %d, want 1", calls)
	}
}

// blockFirst makes the handler's first call wait (after writing its effect)
// until release is closed; entered is closed once it waits.
func blockFirst(f *fixture) (entered, release chan struct{}) {
	entered, release = make(chan struct{}), make(chan struct{})
	f.h.hook = func(_ *http.Request, call int64) int {
		if call == 1 {
			close(entered)
			<-release
		}
		return 0
	}
	return entered, release
}

func testStalled(t *testing.T, db *sqlx.DB) {
	f := newFixture(t, db, idempotency.Config{InFlightTimeout: 30 * time.Second})
	entered, release := blockFirst(f)
	body := effectRequest{Label: "stall"}
	first := make(chan reply, 1)
	go func() { first <- f.post(t, "alice", "k", body) }()
	<-entered

	r := f.post(t, "alice", "k", body)
	wantStatus(t, r, http.StatusConflict, "idempotency_in_progress")
	r = f.post(t, "alice", "k", effectRequest{Label: "other"})
	wantStatus(t, r, http.StatusUnprocessableEntity, "idempotency_key_reused")

	// Make the first request's claim look abandoned, as a crashed process's would.
	f.age(t, `locked_at = now() - interval '1 minute'`)
	taker := f.post(t, "alice", "k", body)
	wantStatus(t, taker, http.StatusCreated, "")
	if taker.replayed() {
		t.Error("taker: got a replay, want a fresh execution")
	}

	close(release) // the stalled request wakes up to find its claim gone
	stalled := <-first
	wantStatus(t, stalled, http.StatusConflict, "idempotency_in_progress")

	if n := f.effects(t); n != 1 {
		t.Errorf("effects: got %d, want 1 (the stalled request's rolled back)", n)
	}
	again := f.post(t, "alice", "k", body)
	if !again.replayed() || again.body != taker.body {
		t.Errorf("replay: got replayed=%v body %s, want the taker's %s", again.replayed(), again.body, taker.body)
	}
}

func testStale(t *testing.T, db *sqlx.DB) {
	const inFlight = `state = 'in_flight', status = NULL, headers = NULL, body = NULL, `
	tests := []struct {
		name  string
		age   string // an UPDATE's SET list aging the record
		fresh bool   // whether the next request executes
		want  int
	}{
		{"in flight, abandoned", inFlight + `locked_at = now() - interval '61 seconds'`, true, http.StatusCreated},
		{"in flight, within the timeout", inFlight + `locked_at = now() - interval '50 seconds'`, false, http.StatusConflict},
		{"complete, expired", `created_at = now() - interval '24 hours 1 second'`, true, http.StatusCreated},
		{"complete, within the TTL", `created_at = now() - interval '23 hours 59 minutes'`, false, http.StatusCreated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, db, idempotency.Config{})
			body := effectRequest{Label: "stale"}
			first := f.post(t, "alice", "k", body)
			wantStatus(t, first, http.StatusCreated, "")
			f.age(t, tt.age)
			r := f.post(t, "alice", "k", body)
			if r.status != tt.want {
				t.Fatalf("status: got %d, want %d (%s)", r.status, tt.want, r.body)
			}
			fresh := r.status == http.StatusCreated && !r.replayed()
			if fresh != tt.fresh {
				t.Errorf("executed afresh: got %v, want %v", fresh, tt.fresh)
			}
			wantEffects := 1
			if tt.fresh {
				wantEffects = 2
				if r.effect.ID == first.effect.ID {
					t.Errorf("id: got the first execution's %s, want a new one", r.effect.ID)
				}
			}
			if n := f.effects(t); n != wantEffects {
				t.Errorf("effects: got %d, want %d", n, wantEffects)
			}
		})
	}
}

func testExpiredOtherBody(t *testing.T, db *sqlx.DB) {
	f := newFixture(t, db, idempotency.Config{TTL: time.Hour})
	wantStatus(t, f.post(t, "alice", "k", effectRequest{Label: "a"}), http.StatusCreated, "")
	f.age(t, `created_at = now() - interval '61 minutes'`)
	r := f.post(t, "alice", "k", effectRequest{Label: "b"})
	wantStatus(t, r, http.StatusCreated, "")
	if r.effect.Label != "b" || r.replayed() {
		t.Errorf("got label %q replayed=%v, want a fresh execution of b", r.effect.Label, r.replayed())
	}
}

func testDisconnect(t *testing.T, db *sqlx.DB) {
	f := newFixture(t, db, idempotency.Config{})
	entered := make(chan struct{})
	f.h.hook = func(r *http.Request, call int64) int {
		if call == 1 {
			close(entered)
			<-r.Context().Done() // the client has gone; answer as if nothing happened
		}
		return 0
	}
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		<-entered
		cancel()
	}()
	req := f.request(ctx, http.MethodPost, "/effects", "alice", "k", strings.NewReader(`{"label":"gone"}`))
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("request: got %d, want the client to give up", resp.StatusCode)
	}
	f.waitHandled(t, 1)

	effects, complete, all := f.effects(t), f.records(t, "state = 'complete'"), f.records(t, "true")
	if effects != complete {
		t.Fatalf("got %d effects and %d complete records, want both or neither", effects, complete)
	}
	if effects != 0 || all != 0 {
		t.Errorf("got %d effects and %d records, want none: the request was cancelled before it committed", effects, all)
	}
	wantStatus(t, f.post(t, "alice", "k", effectRequest{Label: "gone"}), http.StatusCreated, "")
}

func testConcurrentTakers(t *testing.T, db *sqlx.DB) {
	f := newFixture(t, db, idempotency.Config{})
	body := effectRequest{Label: "taken"}
	wantStatus(t, f.post(t, "alice", "k", body), http.StatusCreated, "")
	f.age(t, `state = 'in_flight', status = NULL, headers = NULL, body = NULL, locked_at = now() - interval '1 hour'`)
	f.h.hook = func(*http.Request, int64) int { time.Sleep(20 * time.Millisecond); return 0 }

	const n = 30
	replies := make([]reply, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { replies[i] = f.post(t, "alice", "k", body) })
	}
	wg.Wait()
	fresh := 0
	for i, r := range replies {
		switch {
		case r.status == http.StatusCreated && !r.replayed():
			fresh++
		case r.status == http.StatusCreated, r.status == http.StatusConflict && r.problem.Code == "idempotency_in_progress":
		default:
			t.Errorf("reply %d: got %d %s, want 201 or 409 idempotency_in_progress", i, r.status, r.body)
		}
	}
	if fresh != 1 {
		t.Errorf("fresh executions: got %d, want 1", fresh)
	}
	if got := f.effects(t); got != 2 {
		t.Errorf("effects: got %d, want 2 (the abandoned run's and the one taker's)", got)
	}
}
