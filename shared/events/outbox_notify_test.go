package events_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/azora-os/azora/shared/events"
	"github.com/azora-os/azora/shared/pg"
)

// listenOutbox returns a listener on events.NotifyChannel of dsn's database.
func listenOutbox(t *testing.T, dsn string) *pq.Listener {
	t.Helper()
	l := pq.NewListener(dsn, 10*time.Millisecond, time.Second, nil)
	t.Cleanup(func() { l.Close() })
	if err := l.Listen(events.NotifyChannel); err != nil {
		t.Fatal(err)
	}
	return l
}

// The relay reads the outbox when notified, so what matters is that a
// NOTIFY follows every commit: a burst of concurrent commits may share
// NOTIFYs, but reading the outbox after the last one received must find
// every row.
func TestEnqueueNotifiesAfterEveryCommitOfABurst(t *testing.T) {
	t.Parallel()
	db, dsn := newRelayDB(t)
	env := &relayEnv{db: db}
	l := listenOutbox(t, dsn)
	const writers, each = 8, 25
	keys := users(writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range each {
				err := pg.Tx(context.Background(), db, nil, func(ctx context.Context, _ *sqlx.Tx) error {
					return events.Enqueue(ctx, relayEvent(t, events.TopicAuth, keys[w], n))
				})
				if err != nil {
					t.Errorf("enqueue: %v", err)
					return
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	// Read the outbox after each notification until the writers are done
	// and a second has passed without one.
	notifications, seen := 0, 0
	var quiet <-chan time.Time
read:
	for {
		select {
		case <-l.Notify:
			notifications++
			seen = env.count(t, `SELECT count(*) FROM outbox`)
			if done == nil {
				quiet = time.After(time.Second)
			}
		case <-done:
			done, quiet = nil, time.After(time.Second)
		case <-quiet:
			break read
		}
	}
	if seen != writers*each {
		t.Errorf("the outbox read after the last of %d notifications held %d rows, want %d: a commit went unannounced",
			notifications, seen, writers*each)
	}
}

// A transaction that pg.Tx did not begin cannot be followed to its commit,
// so its NOTIFY rides in it, and is delivered when it commits.
func TestEnqueueInAHandMadeTransactionNotifiesOnCommit(t *testing.T) {
	t.Parallel()
	db, dsn := newRelayDB(t)
	l := listenOutbox(t, dsn)
	tests := []struct {
		name   string
		commit bool
	}{{"rolled back: silent", false}, {"committed: notifies", true}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tx, err := db.BeginTxx(context.Background(), nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := events.Enqueue(pg.WithTx(context.Background(), tx), relayEvent(t, events.TopicAuth, "user-a", 0)); err != nil {
				tx.Rollback()
				t.Fatal(err)
			}
			select {
			case n := <-l.Notify:
				t.Fatalf("got notification %+v before the transaction ended", n)
			case <-time.After(100 * time.Millisecond):
			}
			end := tx.Rollback
			if tc.commit {
				end = tx.Commit
			}
			if err := end(); err != nil {
				t.Fatal(err)
			}
			select {
			case <-l.Notify:
				if !tc.commit {
					t.Fatal("got a notification for a rolled-back transaction")
				}
			case <-time.After(300 * time.Millisecond):
				if tc.commit {
					t.Fatal("got no notification within 300ms of the commit")
				}
			}
		})
	}
}

// Enqueue in a transaction of pg.Tx, joined by nested calls, sends its
// NOTIFY only once the outermost transaction has committed.
func TestEnqueueInAJoinedTransactionNotifiesAfterTheOuterCommit(t *testing.T) {
	t.Parallel()
	db, dsn := newRelayDB(t)
	l := listenOutbox(t, dsn)
	err := pg.Tx(context.Background(), db, nil, func(ctx context.Context, _ *sqlx.Tx) error {
		err := pg.Tx(ctx, db, nil, func(ctx context.Context, _ *sqlx.Tx) error {
			return events.Enqueue(ctx, relayEvent(t, events.TopicAuth, "user-a", 0))
		})
		if err != nil {
			return err
		}
		select {
		case n := <-l.Notify:
			t.Errorf("got notification %+v before the outer transaction committed", n)
		case <-time.After(100 * time.Millisecond):
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-l.Notify:
	case <-time.After(300 * time.Millisecond):
		t.Fatal("got no notification within 300ms of the commit")
	}
}
