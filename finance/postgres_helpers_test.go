package finance_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/azora-os/azora/finance"
	"github.com/azora-os/azora/shared/events"
	"github.com/azora-os/azora/shared/pg"
	"github.com/azora-os/azora/shared/pg/pgtest"
)

// plFixture is a PostgresLedger over a throwaway database of its own.
type plFixture struct {
	db  *sqlx.DB
	dsn string
	l   *finance.PostgresLedger
	ctx context.Context
}

func newPLFixture(t testing.TB) *plFixture {
	t.Helper()
	db, dsn := pgtest.New(t, finance.Migrations, events.Migrations)
	return &plFixture{db: db, dsn: dsn, l: finance.NewPostgresLedger(db), ctx: context.Background()}
}

// plID returns a new UUIDv7; safe in any goroutine.
func plID() string { return uuid.Must(uuid.NewV7()).String() }

// wallet opens a new user's wallet in currency.
func (f *plFixture) wallet(t testing.TB, currency string) finance.Wallet {
	t.Helper()
	w, created, err := f.l.OpenWallet(f.ctx, plID(), plID(), currency, time.Time{})
	if err != nil || !created {
		t.Fatalf("open wallet: got created %v, err %v; want a new wallet", created, err)
	}
	return w
}

// fund credits amount to the account from stripe_clearing, as a card
// top-up does, and returns the transaction.
func (f *plFixture) fund(t testing.TB, accountID string, amount int64, currency string) finance.Transaction {
	t.Helper()
	clearing, err := f.l.PlatformAccount(f.ctx, finance.KindClearing, currency)
	if err != nil {
		t.Fatal(err)
	}
	tx := finance.Transaction{ID: plID(), Kind: finance.TxTopup, Reference: "pi_" + plID(), Description: "card top-up",
		Postings: []finance.Posting{{clearing.ID, -amount, currency}, {accountID, amount, currency}}}
	if err := f.l.Post(f.ctx, tx); err != nil {
		t.Fatalf("fund %s with %d: %v", accountID, amount, err)
	}
	return tx
}

// plTransfer is a two-leg transaction moving amount from → to.
func plTransfer(from, to string, amount int64, currency string) finance.Transaction {
	return finance.Transaction{ID: plID(), Kind: finance.TxTransfer, Reference: plID(), Description: "transfer",
		Postings: []finance.Posting{{from, -amount, currency}, {to, amount, currency}}}
}

// balance reads an account's stored balance.
func (f *plFixture) balance(t testing.TB, id string) int64 {
	t.Helper()
	var b int64
	if err := f.db.Get(&b, `SELECT balance FROM accounts WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	return b
}

// count returns the number of rows of table.
func (f *plFixture) count(t testing.TB, table string) int {
	t.Helper()
	var n int
	if err := f.db.Get(&n, `SELECT count(*) FROM `+table); err != nil {
		t.Fatal(err)
	}
	return n
}

// noDifferences fails t when Reconcile finds a balance that is not the
// sum of its postings.
func (f *plFixture) noDifferences(t testing.TB) {
	t.Helper()
	ds, err := f.l.Reconcile(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 0 {
		t.Errorf("reconcile: got %+v, want no differences", ds)
	}
}

// inTx runs fn in a transaction carried by ctx, once (no retry), so an
// error a retry would hide reaches the test. It is safe to call from any
// goroutine.
func (f *plFixture) inTx(fn func(ctx context.Context) error) error {
	tx, err := f.db.BeginTxx(f.ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(pg.WithTx(f.ctx, tx)); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// plWantErr fails t unless err is want (nil for success).
func plWantErr(t testing.TB, err, want error) {
	t.Helper()
	if want == nil && err != nil || want != nil && !errors.Is(err, want) {
		t.Errorf("got error %v, want %v", err, want)
	}
}
