package idempotency_test

import (
	"context"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/azora-os/azora/shared/idempotency"
)

func TestPurgeAndJanitor(t *testing.T) {
	db := newDB(t)
	t.Run("Purge", func(t *testing.T) { testPurge(t, db) })
	t.Run("Janitor purges until cancelled", func(t *testing.T) { testJanitor(t, db) })
	t.Run("Janitor needs a DB", func(t *testing.T) {
		if err := (idempotency.Janitor{}).Run(t.Context()); err == nil {
			t.Error("Run without DB: got nil, want an error")
		}
	})
}

func testPurge(t *testing.T, db *sqlx.DB) {
	// 12,000 records past the TTL (more than one purge batch), in flight and
	// complete, and three within it.
	if _, err := db.Exec(`
INSERT INTO idempotency_keys (scope, key, request_hash, claim, state, locked_at, created_at, status, headers, body)
SELECT 'old', g::text, '\x00', gen_random_uuid(), s, now() - interval '25 hours', now() - interval '25 hours',
       CASE s WHEN 'complete' THEN 201 END, CASE s WHEN 'complete' THEN '{}'::jsonb END, CASE s WHEN 'complete' THEN ''::bytea END
FROM generate_series(1, 12000) g, LATERAL (SELECT CASE WHEN g % 2 = 0 THEN 'complete' ELSE 'in_flight' END) AS x(s);
INSERT INTO idempotency_keys (scope, key, request_hash, claim, state, locked_at, created_at)
SELECT 'new', g::text, '\x00', gen_random_uuid(), 'in_flight', now() - interval '23 hours', now() - interval '23 hours'
FROM generate_series(1, 3) g`); err != nil {
		t.Fatal(err)
	}
	n, err := idempotency.Purge(t.Context(), db, time.Now().Add(-24*time.Hour))
	if err != nil {
		t.Fatalf("Purge: %v", err)
	}
	if n != 12000 {
		t.Errorf("deleted: got %d, want 12000", n)
	}
	if left := count(t, db, `SELECT count(*) FROM idempotency_keys`); left != 3 {
		t.Errorf("left: got %d, want the 3 within the TTL", left)
	}
	if n, err := idempotency.Purge(t.Context(), db, time.Now().Add(-24*time.Hour)); err != nil || n != 0 {
		t.Errorf("second Purge: got %d, %v; want 0, nil", n, err)
	}
}

func testJanitor(t *testing.T, db *sqlx.DB) {
	insert := `INSERT INTO idempotency_keys (scope, key, request_hash, claim, state, locked_at, created_at)
		VALUES ('j', $1, '\x00', gen_random_uuid(), 'in_flight', now() - interval '2 hours', now() - interval '2 hours')`
	if _, err := db.Exec(insert, "first"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- idempotency.Janitor{DB: db, TTL: time.Hour, Every: 10 * time.Millisecond}.Run(ctx) }()
	waitGone := func(what string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for count(t, db, `SELECT count(*) FROM idempotency_keys WHERE scope = 'j'`) != 0 {
			if time.Now().After(deadline) {
				t.Fatalf("%s: still there after 5s", what)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitGone("the record present at start")
	if _, err := db.Exec(insert, "later"); err != nil {
		t.Fatal(err)
	}
	waitGone("a record added later") // so Run keeps purging on its ticker
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: got %v, want nil after cancel", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return within 5s of cancel")
	}
}
