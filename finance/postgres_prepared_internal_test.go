package finance

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/azora-os/azora/shared/events"
	"github.com/azora-os/azora/shared/pg"
	"github.com/azora-os/azora/shared/pg/pgtest"
)

// TestPostgresLedgerPostPreparesLazily starts a ledger whose statements
// could not be prepared, on a pool of two connections: while both are
// held (one by another transaction, one by the post's own) the post must
// not wait for a third to prepare on (it posts with plain statements); a
// later post with a connection to spare prepares them.
func TestPostgresLedgerPostPreparesLazily(t *testing.T) {
	t.Parallel()
	db, dsn := pgtest.New(t, Migrations, events.Migrations)
	ctx := context.Background()
	setup := NewPostgresLedger(db)
	if !allPrepared(db) {
		t.Fatal("NewPostgresLedger did not prepare Post's statements")
	}
	var ids []string
	for range 2 {
		w, _, err := setup.OpenWallet(ctx, uuid.NewString(), uuid.NewString(), "USD", time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, w.ID)
	}
	clearing, err := setup.PlatformAccount(ctx, KindClearing, "USD")
	if err != nil {
		t.Fatal(err)
	}

	two, err := pg.Open(ctx, dsn, pg.Pool{MaxOpen: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer two.Close()
	l := &PostgresLedger{db: two} // as if preparing had failed at start
	post := func(ctx context.Context, from, to string) error {
		return l.Post(ctx, Transaction{Kind: TxTransfer, Reference: uuid.NewString(),
			Postings: []Posting{{from, -10, "USD"}, {to, 10, "USD"}}})
	}
	blocker, err := two.BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = post(ctx, clearing.ID, ids[0])
	blocker.Rollback()
	if err != nil {
		t.Fatalf("post with no connection to spare: %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("post with no connection to spare took %v, want it not to wait for one", d)
	}
	if stmtLockAccounts.Prepared(two) || stmtInsertTransaction.Prepared(two) {
		t.Fatal("prepared with no connection to spare: the test proves nothing")
	}
	if err := post(ctx, ids[0], ids[1]); err != nil {
		t.Fatalf("post with a connection to spare: %v", err)
	}
	if !stmtLockAccounts.Prepared(two) || !stmtInsertTransaction.Prepared(two) {
		t.Error("the post with a connection to spare did not prepare the statements")
	}
	if err := post(ctx, ids[1], ids[0]); err != nil {
		t.Fatalf("post with prepared statements: %v", err)
	}
	ds, err := l.Reconcile(ctx)
	if err != nil || len(ds) != 0 {
		t.Errorf("reconcile: got %+v, %v; want no differences", ds, err)
	}
}

// allPrepared reports whether every statement of the ledger is prepared on db.
func allPrepared(db *sqlx.DB) bool {
	for _, s := range preparedStatements {
		if !s.Prepared(db) {
			return false
		}
	}
	return true
}
