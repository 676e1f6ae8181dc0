package pg_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/azora-os/azora/shared/pg"
	"github.com/azora-os/azora/shared/pg/pgtest"
)

// preparedHere counts the statements with query's text prepared on the
// session q runs on.
func preparedHere(t *testing.T, ctx context.Context, q sqlx.QueryerContext, query string) int {
	t.Helper()
	var n int
	if err := sqlx.GetContext(ctx, q, &n, `SELECT count(*) FROM pg_prepared_statements WHERE statement = $1`, query); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestStatementRunsPreparedOnThePoolAndInTx(t *testing.T) {
	t.Parallel()
	db, _ := pgtest.New(t, testMigrations)
	ctx := context.Background()
	balance := pg.NewStatement(`SELECT balance FROM accounts WHERE id = $1`)
	ids := pg.NewStatement(`SELECT id FROM accounts WHERE balance >= $1 ORDER BY id`)
	credit := pg.NewStatement(`UPDATE accounts SET balance = balance + $2 WHERE id = $1`)

	var b int64
	if err := balance.GetContext(ctx, db, &b, "a"); err != nil || b != 100 {
		t.Fatalf("on the pool: got %d, %v; want 100", b, err)
	}
	if !balance.Prepared(db) {
		t.Fatal("a run on the pool did not prepare the statement")
	}
	if err := balance.GetContext(ctx, db, &b, "nobody"); !errors.Is(err, sql.ErrNoRows) {
		t.Errorf("no row: got %v, want sql.ErrNoRows", err)
	}

	boom := errors.New("boom")
	err := pg.Tx(ctx, db, nil, func(ctx context.Context, tx *sqlx.Tx) error {
		res, err := credit.ExecContext(ctx, db, "a", 5)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			t.Errorf("got %d rows affected, want 1", n)
		}
		if err := balance.GetContext(ctx, db, &b, "a"); err != nil || b != 105 {
			t.Errorf("in the transaction: got %d, %v; want 105 (its own write)", b, err)
		}
		var got []string
		if err := ids.SelectContext(ctx, db, &got, 101); err != nil || len(got) != 1 || got[0] != "a" {
			t.Errorf("select in the transaction: got %v, %v; want [a]", got, err)
		}
		// Run on the transaction's connection, prepared there once.
		if n := preparedHere(t, ctx, tx, credit.Query()); n != 1 {
			t.Errorf("the transaction's session holds %d prepared copies of the update, want 1", n)
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("got %v, want boom", err)
	}
	if err := balance.GetContext(ctx, db, &b, "a"); err != nil || b != 100 {
		t.Errorf("after the rollback: got %d, %v; want 100: the update ran outside the transaction", b, err)
	}
}

func TestStatementRunsUnpreparedInATransactionTxDidNotBegin(t *testing.T) {
	t.Parallel()
	db, _ := pgtest.New(t, testMigrations)
	ctx := context.Background()
	credit := pg.NewStatement(`UPDATE accounts SET balance = balance + $2 WHERE id = $1`)
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	tctx := pg.WithTx(ctx, tx)
	if _, err := credit.ExecContext(tctx, db, "b", 7); err != nil {
		t.Fatal(err)
	}
	if credit.Prepared(db) {
		t.Error("prepared on the pool for a transaction whose pool it cannot know")
	}
	if n := preparedHere(t, ctx, tx, credit.Query()); n != 0 {
		t.Errorf("the session holds %d prepared copies, want none", n)
	}
	var b int64
	if err := tx.Get(&b, `SELECT balance FROM accounts WHERE id = 'b'`); err != nil || b != 107 {
		t.Errorf("got %d, %v; want 107 in the transaction", b, err)
	}
}

// A call that finds no connection to prepare on must not wait for one: it
// runs unprepared, and a later call with a connection to spare prepares.
func TestStatementDoesNotWaitForAConnectionToPrepareOn(t *testing.T) {
	t.Parallel()
	_, dsn := pgtest.New(t, testMigrations)
	ctx := context.Background()
	one, err := pg.Open(ctx, dsn, pg.Pool{MaxOpen: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer one.Close()
	balance := pg.NewStatement(`SELECT balance FROM accounts WHERE id = $1`)
	start := time.Now()
	err = pg.Tx(ctx, one, nil, func(ctx context.Context, _ *sqlx.Tx) error {
		var b int64
		return balance.GetContext(ctx, one, &b, "a")
	})
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("took %v with no connection to spare, want no wait for one", d)
	}
	if balance.Prepared(one) {
		t.Fatal("prepared with no connection to spare: the test proves nothing")
	}
	var b int64
	if err := balance.GetContext(ctx, one, &b, "b"); err != nil || b != 100 {
		t.Fatalf("got %d, %v; want 100", b, err)
	}
	if !balance.Prepared(one) {
		t.Error("a call with a connection to spare did not prepare the statement")
	}
}

func TestStatementKeepsOneCopyPerPool(t *testing.T) {
	t.Parallel()
	db1, _ := pgtest.New(t, testMigrations)
	db2, _ := pgtest.New(t, testMigrations)
	ctx := context.Background()
	if _, err := db2.Exec(`UPDATE accounts SET balance = 1 WHERE id = 'a'`); err != nil {
		t.Fatal(err)
	}
	balance := pg.NewStatement(`SELECT balance FROM accounts WHERE id = $1`)
	if err := balance.Prepare(ctx, db1); err != nil {
		t.Fatal(err)
	}
	if !balance.Prepared(db1) || balance.Prepared(db2) {
		t.Fatalf("after Prepare on one pool: prepared on db1 %v, db2 %v; want true, false", balance.Prepared(db1), balance.Prepared(db2))
	}
	for _, tc := range []struct {
		name string
		db   *sqlx.DB
		want int64
	}{{"db1", db1, 100}, {"db2", db2, 1}} {
		var b int64
		err := pg.Tx(ctx, tc.db, nil, func(ctx context.Context, _ *sqlx.Tx) error {
			return balance.GetContext(ctx, tc.db, &b, "a")
		})
		if err != nil || b != tc.want {
			t.Errorf("%s: got %d, %v; want %d", tc.name, b, err, tc.want)
		}
	}
}
