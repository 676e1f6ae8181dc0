package finance_test

import (
	"context"
	"errors"
	"testing"

	"github.com/azora-os/azora/finance"
	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/pg"
)

func TestPostgresLedgerPostMovesMoney(t *testing.T) {
	t.Parallel()
	f := newPLFixture(t)
	a, b := f.wallet(t, "USD"), f.wallet(t, "USD")
	fees, err := f.l.PlatformAccount(f.ctx, finance.KindFees, "USD")
	if err != nil {
		t.Fatal(err)
	}
	f.fund(t, a.ID, 1000, "USD")
	// Three legs, and the same account twice: deltas add up per account.
	tx := finance.Transaction{ID: plID(), Kind: finance.TxEnrollmentCharge, Reference: plID(), Description: "course",
		Postings: []finance.Posting{{a.ID, -600, "USD"}, {b.ID, 540, "USD"}, {fees.ID, 50, "USD"}, {fees.ID, 10, "USD"}}}
	if err := f.l.Post(f.ctx, tx); err != nil {
		t.Fatalf("post: %v", err)
	}
	for _, c := range []struct {
		name, id string
		want     int64
	}{{"source", a.ID, 400}, {"destination", b.ID, 540}, {"fees", fees.ID, 60}} {
		if got := f.balance(t, c.id); got != c.want {
			t.Errorf("%s balance: got %d, want %d", c.name, got, c.want)
		}
	}
	got, found, err := f.l.TransactionByRef(f.ctx, tx.Kind, tx.Reference)
	if err != nil || !found {
		t.Fatalf("transaction by ref: got found %v, err %v", found, err)
	}
	if got.ID != tx.ID || len(got.Postings) != 4 || got.Postings[3] != tx.Postings[3] {
		t.Errorf("transaction by ref: got %+v, want %+v", got, tx)
	}
	f.noDifferences(t)
}

func TestPostgresLedgerPostRefuses(t *testing.T) {
	t.Parallel()
	f := newPLFixture(t)
	a, b, eur := f.wallet(t, "USD"), f.wallet(t, "USD"), f.wallet(t, "EUR")
	f.fund(t, a.ID, 100, "USD")
	rewards, err := f.l.PlatformAccount(f.ctx, finance.KindRewards, "USD")
	if err != nil {
		t.Fatal(err)
	}
	posted := plTransfer(a.ID, b.ID, 10, "USD")
	if err := f.l.Post(f.ctx, posted); err != nil {
		t.Fatal(err)
	}
	legs := func(ps ...finance.Posting) finance.Transaction {
		return finance.Transaction{ID: plID(), Kind: finance.TxTransfer, Reference: plID(), Postings: ps}
	}
	internal := errs.New(errs.Internal, string(errs.Internal), "")
	tests := []struct {
		name string
		tx   finance.Transaction
		want error
	}{
		{"one posting", legs(finance.Posting{a.ID, -10, "USD"}), internal},
		{"unbalanced", legs(finance.Posting{a.ID, -10, "USD"}, finance.Posting{b.ID, 9, "USD"}), internal},
		{"balanced across currencies only", legs(finance.Posting{a.ID, -10, "USD"}, finance.Posting{eur.ID, 10, "EUR"}), internal},
		{"zero amount", legs(finance.Posting{a.ID, 0, "USD"}, finance.Posting{b.ID, 0, "USD"}), internal},
		{"no reference", finance.Transaction{Kind: finance.TxTransfer, Postings: plTransfer(a.ID, b.ID, 1, "USD").Postings}, internal},
		{"unknown account", plTransfer(a.ID, plID(), 10, "USD"), finance.ErrWalletNotFound},
		{"malformed account", plTransfer(a.ID, "not-a-uuid", 10, "USD"), finance.ErrWalletNotFound},
		{"currency mismatch", plTransfer(a.ID, eur.ID, 10, "USD"), finance.ErrCurrencyMismatch},
		{"one account in two currencies", legs(finance.Posting{a.ID, -10, "USD"}, finance.Posting{b.ID, 10, "USD"},
			finance.Posting{a.ID, -5, "EUR"}, finance.Posting{eur.ID, 5, "EUR"}), finance.ErrCurrencyMismatch},
		{"insufficient funds", plTransfer(a.ID, b.ID, 91, "USD"), finance.ErrInsufficientFunds},
		{"platform rewards overdrawn", plTransfer(rewards.ID, b.ID, 1, "USD"), finance.ErrInsufficientFunds},
		{"already posted", posted, finance.ErrAlreadyPosted},
		{"already posted, other postings", finance.Transaction{ID: plID(), Kind: posted.Kind, Reference: posted.Reference,
			Postings: plTransfer(b.ID, a.ID, 1, "USD").Postings}, finance.ErrAlreadyPosted},
	}
	txs, postings := f.count(t, "transactions"), f.count(t, "postings")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := f.l.Post(f.ctx, tt.tx)
			if tt.want == internal {
				if errs.KindOf(err) != errs.Internal {
					t.Errorf("got %v, want an internal error", err)
				}
				return
			}
			plWantErr(t, err, tt.want)
		})
	}
	if got := f.count(t, "transactions"); got != txs {
		t.Errorf("transactions: got %d, want %d: a refused post wrote one", got, txs)
	}
	if got := f.count(t, "postings"); got != postings {
		t.Errorf("postings: got %d, want %d: a refused post wrote some", got, postings)
	}
	if got := f.balance(t, a.ID); got != 90 {
		t.Errorf("source balance: got %d, want 90", got)
	}
	f.noDifferences(t)
}

func TestPostgresLedgerPostAlreadyPostedWinsOverInsufficientFunds(t *testing.T) {
	t.Parallel()
	f := newPLFixture(t)
	a, b := f.wallet(t, "USD"), f.wallet(t, "USD")
	f.fund(t, a.ID, 100, "USD")
	tx := plTransfer(a.ID, b.ID, 100, "USD")
	if err := f.l.Post(f.ctx, tx); err != nil {
		t.Fatal(err)
	}
	// The retry of a post that went through finds the money spent: it must
	// learn that its post is in, not that it cannot afford it.
	tx.ID = plID()
	plWantErr(t, f.l.Post(f.ctx, tx), finance.ErrAlreadyPosted)
}

func TestPostgresLedgerPostClearingMayGoNegative(t *testing.T) {
	t.Parallel()
	f := newPLFixture(t)
	w := f.wallet(t, "USD")
	f.fund(t, w.ID, 250, "USD")
	clearing, err := f.l.PlatformAccount(f.ctx, finance.KindClearing, "USD")
	if err != nil {
		t.Fatal(err)
	}
	if got := f.balance(t, clearing.ID); got != -250 {
		t.Errorf("clearing balance: got %d, want -250", got)
	}
}

func TestPostgresLedgerPostLeavesTheCallersTransactionUsable(t *testing.T) {
	t.Parallel()
	f := newPLFixture(t)
	a, b := f.wallet(t, "USD"), f.wallet(t, "USD")
	f.fund(t, a.ID, 50, "USD")
	done := f.fund(t, b.ID, 5, "USD")
	// A reaction records a failed charge in the transaction the refused
	// post ran in: the refusal must not have aborted it.
	err := f.inTx(func(ctx context.Context) error {
		plWantErr(t, f.l.Post(ctx, plTransfer(a.ID, b.ID, 51, "USD")), finance.ErrInsufficientFunds)
		plWantErr(t, f.l.Post(ctx, done), finance.ErrAlreadyPosted)
		return f.l.Post(ctx, plTransfer(a.ID, b.ID, 50, "USD"))
	})
	if err != nil {
		t.Fatalf("got %v, want the transaction to commit", err)
	}
	if got := f.balance(t, b.ID); got != 55 {
		t.Errorf("destination balance: got %d, want 55", got)
	}
}

func TestPostgresLedgerPostJoinsTheCallersTransaction(t *testing.T) {
	t.Parallel()
	f := newPLFixture(t)
	a, b := f.wallet(t, "USD"), f.wallet(t, "USD")
	f.fund(t, a.ID, 50, "USD")
	boom := errors.New("boom")
	err := pg.Transactor{DB: f.db}.InTx(f.ctx, func(ctx context.Context) error {
		if err := f.l.Post(ctx, plTransfer(a.ID, b.ID, 20, "USD")); err != nil {
			return err
		}
		return boom
	})
	plWantErr(t, err, boom)
	if got := f.balance(t, a.ID); got != 50 {
		t.Errorf("source balance: got %d, want 50: the post escaped the rollback", got)
	}
}

func TestPostgresLedgerIsAppendOnly(t *testing.T) {
	t.Parallel()
	f := newPLFixture(t)
	a, b := f.wallet(t, "USD"), f.wallet(t, "USD")
	tx := f.fund(t, a.ID, 100, "USD")
	var su bool
	if err := f.db.Get(&su, `SELECT rolsuper FROM pg_roles WHERE rolname = current_user`); err != nil || !su {
		t.Fatalf("the test connection must be a superuser to prove the triggers hold even then (got %v, %v)", su, err)
	}
	tests := []struct{ name, stmt string }{
		{"update a posting", `UPDATE postings SET amount = amount * 2`},
		{"update no posting", `UPDATE postings SET amount = 1 WHERE false`},
		{"delete a posting", `DELETE FROM postings`},
		{"truncate postings", `TRUNCATE postings`},
		{"update a transaction", `UPDATE transactions SET description = 'edited'`},
		{"delete a transaction", `DELETE FROM transactions`},
		{"truncate transactions", `TRUNCATE transactions CASCADE`},
		{"insert unbalanced postings", `INSERT INTO postings (transaction_id, account_id, amount, currency)
			VALUES ('` + tx.ID + `', '` + b.ID + `', 5, 'USD')`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := f.db.Exec(tt.stmt); err == nil {
				t.Errorf("got success, want the ledger to refuse")
			}
		})
	}
	if got := f.count(t, "postings"); got != 2 {
		t.Errorf("postings: got %d, want 2", got)
	}
	got, _, err := f.l.TransactionByRef(f.ctx, tx.Kind, tx.Reference)
	if err != nil || got.Postings[1].Amount != 100 || got.Description != "card top-up" {
		t.Errorf("transaction after the attempts: got %+v, %v; want it unchanged", got, err)
	}
}

func TestPostgresLedgerPostInATransactionOfAnotherPool(t *testing.T) {
	t.Parallel()
	f := newPLFixture(t)
	a, b := f.wallet(t, "USD"), f.wallet(t, "USD")
	f.fund(t, a.ID, 50, "USD")
	// Post's prepared statements belong to the ledger's pool; a caller's
	// transaction begun on another pool must still post (as plain text).
	other, err := pg.Open(f.ctx, f.dsn, pg.Pool{MaxOpen: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	err = pg.Transactor{DB: other}.InTx(f.ctx, func(ctx context.Context) error {
		return f.l.Post(ctx, plTransfer(a.ID, b.ID, 20, "USD"))
	})
	if err != nil {
		t.Fatalf("got %v, want the post to commit", err)
	}
	if got := f.balance(t, b.ID); got != 20 {
		t.Errorf("destination balance: got %d, want 20", got)
	}
}

func TestPostgresLedgerPostReceivable(t *testing.T) {
	t.Parallel()
	f := newPLFixture(t)
	w, student := f.wallet(t, "USD"), f.wallet(t, "USD")
	f.fund(t, student.ID, 1000, "USD")
	r, err := f.l.OpenReceivable(f.ctx, w.UserID, "USD")
	if err != nil {
		t.Fatal(err)
	}
	// Debt: the receivable goes below zero where a wallet could not.
	debt := plTransfer(r.ID, student.ID, 600, "USD")
	if err := f.l.Post(f.ctx, debt); err != nil {
		t.Fatalf("post debt: %v", err)
	}
	if got := f.balance(t, r.ID); got != -600 {
		t.Errorf("receivable after the debt: got %d, want -600", got)
	}
	txs := f.count(t, "transactions")
	// Repaying more than is owed is the caller's mistake: internal, nothing written.
	err = f.l.Post(f.ctx, plTransfer(student.ID, r.ID, 601, "USD"))
	if errs.KindOf(err) != errs.Internal {
		t.Errorf("repay 601 of 600: got %v, want an internal error", err)
	}
	if got := f.count(t, "transactions"); got != txs {
		t.Errorf("transactions after a refused repayment: got %d, want %d", got, txs)
	}
	// A retried repayment whose first attempt went through is already_posted.
	repay := plTransfer(student.ID, r.ID, 600, "USD")
	if err := f.l.Post(f.ctx, repay); err != nil {
		t.Fatalf("repay 600: %v", err)
	}
	repay.ID = plID()
	plWantErr(t, f.l.Post(f.ctx, repay), finance.ErrAlreadyPosted)
	if got := f.balance(t, r.ID); got != 0 {
		t.Errorf("receivable after repayment: got %d, want 0", got)
	}
	f.noDifferences(t)
}
