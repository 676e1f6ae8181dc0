package finance_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jmoiron/sqlx"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/azora-os/azora/finance"
	"github.com/azora-os/azora/shared/pg"
	"github.com/azora-os/azora/shared/pg/pgtest"
)

// postOnly is a Ledger whose Post answers err and nothing else; the
// instrumented ledger's other methods are not under test.
type postOnly struct {
	finance.Ledger
	err error
}

func (l postOnly) Post(context.Context, finance.Transaction) error { return l.err }

func TestInstrumentLedgerCountsCommittedMoney(t *testing.T) {
	db, _ := pgtest.New(t)
	reg := prometheus.NewRegistry()
	ok := finance.InstrumentLedger(postOnly{}, reg)
	transfer := finance.Transaction{Kind: finance.TxTransfer, Postings: []finance.Posting{
		{AccountID: "a", Amount: -1999, Currency: "USD"}, {AccountID: "b", Amount: 1999, Currency: "USD"}}}
	moved := func() float64 {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		sum := 0.0
		for _, mf := range mfs {
			if mf.GetName() == "azora_finance_money_moved_total" {
				for _, m := range mf.GetMetric() {
					sum += m.GetCounter().GetValue()
				}
			}
		}
		return sum
	}

	// Posted on its own (Post committed before returning): counted once.
	if err := ok.Post(context.Background(), transfer); err != nil {
		t.Fatal(err)
	}
	if got := moved(); got != 1999 {
		t.Fatalf("after one transfer: %v moved, want 1999 (the credits, not both legs)", got)
	}
	// Inside a transaction that rolls back: not counted.
	_ = pg.Tx(context.Background(), db, nil, func(ctx context.Context, _ *sqlx.Tx) error {
		if err := ok.Post(ctx, transfer); err != nil {
			t.Fatal(err)
		}
		return errors.New("roll back")
	})
	if got := moved(); got != 1999 {
		t.Fatalf("a rolled-back transfer was counted: %v", got)
	}
	// Inside a transaction that commits: counted after the commit.
	err := pg.Tx(context.Background(), db, nil, func(ctx context.Context, _ *sqlx.Tx) error {
		if err := ok.Post(ctx, transfer); err != nil {
			return err
		}
		if got := moved(); got != 1999 {
			t.Errorf("counted before the commit: %v", got)
		}
		return nil
	})
	if err != nil || moved() != 2*1999 {
		t.Fatalf("after a committed transfer: %v moved (err %v), want %d", moved(), err, 2*1999)
	}
	// A refused Post moves nothing.
	refusedReg := prometheus.NewRegistry()
	refused := finance.InstrumentLedger(postOnly{err: finance.ErrInsufficientFunds}, refusedReg)
	if err := refused.Post(context.Background(), transfer); !errors.Is(err, finance.ErrInsufficientFunds) {
		t.Fatalf("got %v, want the ledger's error unchanged", err)
	}
	if n, err := testutil.GatherAndCount(refusedReg, "azora_finance_money_moved_total"); err != nil || n != 0 {
		t.Fatalf("a refused transfer left %d series (err %v), want none", n, err)
	}
}
