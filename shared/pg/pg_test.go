package pg_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"sync"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/azora-os/azora/shared/pg"
	"github.com/azora-os/azora/shared/pg/pgtest"
)

var testMigrations = pg.Migrations{FS: os.DirFS("testdata"), Dir: "migrations", Table: "schema_migrations"}

func TestMigrateConcurrentReplicasApplyOnce(t *testing.T) {
	db, dsn := pgtest.New(t) // empty database
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- pg.Migrate(context.Background(), dsn, testMigrations)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("replica migrate: %v", err)
		}
	}
	var n int
	if err := db.Get(&n, `SELECT count(*) FROM accounts`); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("got %d seeded rows, want 2: a migration ran more than once", n)
	}
	var version int
	if err := db.Get(&version, `SELECT version FROM schema_migrations`); err != nil {
		t.Fatal(err)
	}
	if version != 2 {
		t.Errorf("got version %d, want 2", version)
	}
}

func TestTxRetriesSerializationFailures(t *testing.T) {
	db, _ := pgtest.New(t, testMigrations)
	ctx := context.Background()
	serializable := &sql.TxOptions{Isolation: sql.LevelSerializable}

	// 20 concurrent read-modify-write increments at SERIALIZABLE collide;
	// Tx must retry the losers so every increment lands exactly once.
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := pg.Tx(ctx, db, serializable, func(_ context.Context, tx *sqlx.Tx) error {
				var b int64
				if err := tx.Get(&b, `SELECT balance FROM accounts WHERE id = 'a'`); err != nil {
					return err
				}
				_, err := tx.Exec(`UPDATE accounts SET balance = $1 WHERE id = 'a'`, b+1)
				return err
			})
			if err != nil {
				t.Errorf("tx: %v", err)
			}
		}()
	}
	wg.Wait()
	var b int64
	if err := db.Get(&b, `SELECT balance FROM accounts WHERE id = 'a'`); err != nil {
		t.Fatal(err)
	}
	if b != 120 {
		t.Errorf("got balance %d, want 120", b)
	}
}

func TestTxRollsBackOnErrorAndTranslatesCodes(t *testing.T) {
	db, _ := pgtest.New(t, testMigrations)
	ctx := context.Background()
	boom := errors.New("boom")
	err := pg.Tx(ctx, db, nil, func(_ context.Context, tx *sqlx.Tx) error {
		if _, err := tx.Exec(`UPDATE accounts SET balance = 0 WHERE id = 'a'`); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("got %v, want boom", err)
	}
	var b int64
	db.Get(&b, `SELECT balance FROM accounts WHERE id = 'a'`)
	if b != 100 {
		t.Errorf("got balance %d after rollback, want 100", b)
	}

	_, err = db.Exec(`INSERT INTO accounts (id, balance) VALUES ('a', 1)`)
	if got := pg.Code(err); got != pg.CodeUniqueViolation {
		t.Errorf("duplicate insert: got code %q, want %q", got, pg.CodeUniqueViolation)
	}
	_, err = db.Exec(`UPDATE accounts SET balance = -1 WHERE id = 'b'`)
	if got := pg.Code(err); got != pg.CodeCheckViolation {
		t.Errorf("negative balance: got code %q, want %q", got, pg.CodeCheckViolation)
	}
	if pg.Retryable(err) {
		t.Error("a check violation must not be retryable")
	}
}

func TestTxJoinsTheTransactionInContext(t *testing.T) {
	db, _ := pgtest.New(t, testMigrations)
	ctx := context.Background()
	boom := errors.New("boom")
	err := pg.Tx(ctx, db, nil, func(ctx context.Context, outer *sqlx.Tx) error {
		err := pg.Tx(ctx, db, nil, func(ctx context.Context, inner *sqlx.Tx) error {
			if inner != outer {
				t.Error("inner Tx opened a second transaction")
			}
			_, err := pg.Ext(ctx, db).ExecContext(ctx, `UPDATE accounts SET balance = 0 WHERE id = 'b'`)
			return err
		})
		if err != nil {
			return err
		}
		return boom // the outer rollback must undo the inner write
	})
	if !errors.Is(err, boom) {
		t.Fatalf("got %v, want boom", err)
	}
	var b int64
	db.Get(&b, `SELECT balance FROM accounts WHERE id = 'b'`)
	if b != 100 {
		t.Errorf("got balance %d, want 100: the inner write escaped the outer rollback", b)
	}
}
