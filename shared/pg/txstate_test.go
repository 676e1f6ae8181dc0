package pg_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/azora-os/azora/shared/pg"
	"github.com/azora-os/azora/shared/pg/pgtest"
)

func TestAfterCommitRunsOnlyOnceCommitted(t *testing.T) {
	t.Parallel()
	db, _ := pgtest.New(t, testMigrations)
	ctx := context.Background()
	boom := errors.New("boom")
	tests := []struct {
		name    string
		fails   []error // what the attempts return, one each; past the end nil
		wantErr error
		want    []string
	}{
		{"committed", nil, nil, []string{"first", "second"}},
		{"rolled back", []error{boom}, boom, nil},
		{"retried", []error{&pq.Error{Code: pg.CodeSerializationFailure}}, nil, []string{"first", "second"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var ran []string
			attempt := 0
			err := pg.Tx(ctx, db, nil, func(ctx context.Context, tx *sqlx.Tx) error {
				attempt++
				for _, name := range []string{"first", "second"} {
					if !pg.AfterCommit(ctx, func() {
						// The commit is visible by now.
						var b int64
						if err := db.Get(&b, `SELECT balance FROM accounts WHERE id = 'a'`); err != nil || b != int64(100+attempt) {
							t.Errorf("after commit: got balance %d, %v; want %d", b, err, 100+attempt)
						}
						ran = append(ran, name)
					}) {
						t.Fatal("AfterCommit refused a transaction Tx began")
					}
				}
				if _, err := tx.Exec(`UPDATE accounts SET balance = $1 WHERE id = 'a'`, 100+attempt); err != nil {
					return err
				}
				if attempt <= len(tc.fails) {
					return tc.fails[attempt-1]
				}
				return nil
			})
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("got %v, want %v", err, tc.wantErr)
			}
			if len(ran) != len(tc.want) || (len(ran) > 0 && (ran[0] != tc.want[0] || ran[1] != tc.want[1])) {
				t.Errorf("ran %v, want %v (in order, once per commit)", ran, tc.want)
			}
			db.Exec(`UPDATE accounts SET balance = 100 WHERE id = 'a'`)
		})
	}
}

func TestTxStateIsOnlyKnownForTransactionsTxBegan(t *testing.T) {
	t.Parallel()
	db, _ := pgtest.New(t, testMigrations)
	ctx := context.Background()
	if pg.DBFromContext(ctx) != nil || pg.AfterCommit(ctx, func() {}) {
		t.Error("a ctx without a transaction has a pool or takes AfterCommit")
	}
	err := pg.Tx(ctx, db, nil, func(ctx context.Context, outer *sqlx.Tx) error {
		if pg.DBFromContext(ctx) != db {
			t.Error("DBFromContext in Tx: not Tx's pool")
		}
		// A joined Tx shares the outer one's state.
		pg.Tx(ctx, db, nil, func(ctx context.Context, _ *sqlx.Tx) error {
			if pg.DBFromContext(ctx) != db {
				t.Error("DBFromContext in a joined Tx: not Tx's pool")
			}
			return nil
		})
		// A transaction put in ctx by hand, even over a Tx's ctx, is not Tx's.
		other, err := db.BeginTxx(ctx, nil)
		if err != nil {
			return err
		}
		defer other.Rollback()
		octx := pg.WithTx(ctx, other)
		if pg.DBFromContext(octx) != nil {
			t.Error("DBFromContext with a hand-made transaction: want nil")
		}
		if pg.AfterCommit(octx, func() { t.Error("ran for a transaction Tx does not commit") }) {
			t.Error("AfterCommit took a hand-made transaction")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestOnCommit(t *testing.T) {
	db, _ := pgtest.New(t)
	ctx := context.Background()
	ran := 0
	pg.OnCommit(ctx, func() { ran++ })
	if ran != 1 {
		t.Fatalf("without a transaction: ran %d times, want at once", ran)
	}

	ran = 0
	err := pg.Tx(ctx, db, nil, func(ctx context.Context, _ *sqlx.Tx) error {
		pg.OnCommit(ctx, func() { ran++ })
		if ran != 0 {
			t.Error("ran before the commit")
		}
		return nil
	})
	if err != nil || ran != 1 {
		t.Fatalf("after a commit: ran %d times (err %v), want once", ran, err)
	}

	ran = 0
	_ = pg.Tx(ctx, db, nil, func(ctx context.Context, _ *sqlx.Tx) error {
		pg.OnCommit(ctx, func() { ran++ })
		return errors.New("roll back")
	})
	if ran != 0 {
		t.Fatalf("after a rollback: ran %d times, want never", ran)
	}
}
