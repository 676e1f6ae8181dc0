package finance_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/azora-os/azora/finance"
	"github.com/azora-os/azora/shared/events"
	"github.com/azora-os/azora/shared/pg"
	"github.com/azora-os/azora/shared/pg/pgtest"
)

// TestChargeEnrollmentRacingFirstDeliveries runs two first deliveries of
// one enrollment.requested at once, as two consumers can after a
// rebalance: neither sees a charge record to lock, both try to charge,
// and the second must end quietly (not fail and be retried or parked)
// with the student charged once.
func TestChargeEnrollmentRacingFirstDeliveries(t *testing.T) {
	db, _ := pgtest.New(t, finance.Migrations, events.Migrations)
	ledger := finance.NewPostgresLedger(db)
	svc := finance.NewService(finance.Deps{Ledger: ledger, Tx: pg.Transactor{DB: db}, Outbox: events.Enqueue}, finance.Config{})
	ctx := context.Background()
	student, instructor, enrollment := uuid.NewString(), uuid.NewString(), uuid.NewString()
	var wallet finance.Wallet
	err := pg.Tx(ctx, db, nil, func(ctx context.Context, _ *sqlx.Tx) error {
		var err error
		if wallet, _, err = ledger.OpenWallet(ctx, uuid.NewString(), student, "USD", time.Now().UTC()); err != nil {
			return err
		}
		clearing, err := ledger.PlatformAccount(ctx, finance.KindClearing, "USD")
		if err != nil {
			return err
		}
		return ledger.Post(ctx, finance.Transaction{ID: uuid.NewString(), Kind: finance.TxTopup, Reference: "fund", CreatedAt: time.Now().UTC().Truncate(time.Microsecond),
			Postings: []finance.Posting{{AccountID: clearing.ID, Amount: -1000, Currency: "USD"}, {AccountID: wallet.ID, Amount: 1000, Currency: "USD"}}})
	})
	if err != nil {
		t.Fatal(err)
	}

	for round := range 5 {
		enrollment = uuid.NewString()
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = svc.ChargeEnrollment(ctx, enrollment, uuid.NewString(), student, instructor, finance.Money{Amount: 100, Currency: "USD"})
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("round %d delivery %d: got %v, want nil", round, i, err)
			}
		}
	}
	got, err := ledger.Wallet(ctx, wallet.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Balance != 500 {
		t.Errorf("balance after 5 enrollments charged by racing deliveries: got %d, want 500", got.Balance)
	}
}
