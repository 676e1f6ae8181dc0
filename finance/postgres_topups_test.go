package finance_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/azora-os/azora/finance"
	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/pg"
)

func TestPostgresLedgerTopups(t *testing.T) {
	t.Parallel()
	f := newPLFixture(t)
	w := f.wallet(t, "USD")
	at := time.Date(2025, 5, 1, 9, 30, 0, 0, time.UTC)
	want := finance.Topup{ID: plID(), WalletID: w.ID, UserID: w.UserID, Amount: 2500, Currency: "USD",
		Status: finance.TopupPending, PaymentIntentID: "pi_123", ClientSecret: "pi_123_secret", CreatedAt: at, UpdatedAt: at}
	if err := f.l.CreateTopup(f.ctx, want); err != nil {
		t.Fatalf("create: %v", err)
	}
	want.ClientSecret = "" // never stored
	got, err := f.l.Topup(f.ctx, want.ID)
	if err != nil || got != want {
		t.Errorf("topup: got %+v, %v; want %+v", got, err, want)
	}

	var locked finance.Topup
	err = pg.Transactor{DB: f.db}.InTx(f.ctx, func(ctx context.Context) error {
		t1, err := f.l.LockTopupByIntent(ctx, "pi_123")
		if err != nil {
			return err
		}
		t1.Status, t1.UpdatedAt = finance.TopupSucceeded, at.Add(time.Minute)
		if err := f.l.SaveTopup(ctx, t1); err != nil {
			return err
		}
		locked, err = f.l.LockTopup(ctx, want.ID)
		return err
	})
	if err != nil {
		t.Fatalf("lock and save: %v", err)
	}
	want.Status, want.UpdatedAt = finance.TopupSucceeded, at.Add(time.Minute)
	if locked != want {
		t.Errorf("after save: got %+v, want %+v", locked, want)
	}

	noIntent := finance.Topup{ID: plID(), WalletID: w.ID, UserID: w.UserID, Amount: 1, Currency: "USD"}
	if err := f.l.CreateTopup(f.ctx, noIntent); err != nil {
		t.Fatalf("create without an intent: %v", err)
	}
	if got, err := f.l.Topup(f.ctx, noIntent.ID); err != nil || got.Status != finance.TopupPending || got.PaymentIntentID != "" || got.CreatedAt.IsZero() {
		t.Errorf("without an intent: got %+v, %v; want pending, no intent, a creation time", got, err)
	}

	inTx := func(fn func(ctx context.Context) error) error { return pg.Transactor{DB: f.db}.InTx(f.ctx, fn) }
	for _, tt := range []struct {
		name string
		call func() error
		want error
	}{
		{"unknown", func() error { _, err := f.l.Topup(f.ctx, plID()); return err }, finance.ErrTopupNotFound},
		{"malformed", func() error { _, err := f.l.Topup(f.ctx, "t1"); return err }, finance.ErrTopupNotFound},
		{"lock unknown", func() error {
			return inTx(func(ctx context.Context) error { _, err := f.l.LockTopup(ctx, plID()); return err })
		}, finance.ErrTopupNotFound},
		{"lock unknown intent", func() error {
			return inTx(func(ctx context.Context) error { _, err := f.l.LockTopupByIntent(ctx, "pi_nope"); return err })
		}, finance.ErrTopupNotFound},
		{"lock empty intent", func() error {
			return inTx(func(ctx context.Context) error { _, err := f.l.LockTopupByIntent(ctx, ""); return err })
		}, finance.ErrTopupNotFound},
		{"save unknown", func() error {
			return f.l.SaveTopup(f.ctx, finance.Topup{ID: plID(), Status: finance.TopupFailed})
		}, finance.ErrTopupNotFound},
		{"create for an unknown wallet", func() error {
			return f.l.CreateTopup(f.ctx, finance.Topup{ID: plID(), WalletID: plID(), UserID: w.UserID, Amount: 1, Currency: "USD"})
		}, finance.ErrWalletNotFound},
		{"create for a malformed wallet", func() error {
			return f.l.CreateTopup(f.ctx, finance.Topup{ID: plID(), WalletID: "w", UserID: w.UserID, Amount: 1, Currency: "USD"})
		}, finance.ErrWalletNotFound},
	} {
		t.Run(tt.name, func(t *testing.T) { plWantErr(t, tt.call(), tt.want) })
	}
	for _, tt := range []struct {
		name string
		call func() error
		want errs.Kind
	}{
		{"create with a zero amount", func() error {
			return f.l.CreateTopup(f.ctx, finance.Topup{ID: plID(), WalletID: w.ID, UserID: w.UserID, Amount: 0, Currency: "USD"})
		}, errs.Invalid},
		{"create with a bad currency", func() error {
			return f.l.CreateTopup(f.ctx, finance.Topup{ID: plID(), WalletID: w.ID, UserID: w.UserID, Amount: 5, Currency: "$"})
		}, errs.Invalid},
		{"create with a taken intent", func() error {
			return f.l.CreateTopup(f.ctx, finance.Topup{ID: plID(), WalletID: w.ID, UserID: w.UserID, Amount: 5, Currency: "USD", PaymentIntentID: "pi_123"})
		}, errs.Internal},
		{"save an unknown status", func() error {
			return f.l.SaveTopup(f.ctx, finance.Topup{ID: want.ID, Status: "lost"})
		}, errs.Internal},
		{"lock outside a transaction", func() error { _, err := f.l.LockTopup(f.ctx, want.ID); return err }, errs.Internal},
		{"lock by intent outside a transaction", func() error { _, err := f.l.LockTopupByIntent(f.ctx, "pi_123"); return err }, errs.Internal},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); err == nil || errs.KindOf(err) != tt.want {
				t.Errorf("got %v, want a %s error", err, tt.want)
			}
		})
	}
}

func TestPostgresLedgerRecordStripeEvent(t *testing.T) {
	t.Parallel()
	f := newPLFixture(t)
	fresh, err := f.l.RecordStripeEvent(f.ctx, "evt_1", "payment_intent.succeeded")
	if err != nil || !fresh {
		t.Fatalf("first: got %v, %v; want fresh", fresh, err)
	}
	fresh, err = f.l.RecordStripeEvent(f.ctx, "evt_1", "payment_intent.succeeded")
	if err != nil || fresh {
		t.Errorf("again: got %v, %v; want a redelivery", fresh, err)
	}
	if _, err := f.l.RecordStripeEvent(f.ctx, "", "x"); errs.KindOf(err) != errs.Internal {
		t.Errorf("empty id: got %v, want an internal error", err)
	}
	// Five deliveries at once, each in its transaction: one is fresh.
	var wg sync.WaitGroup
	var freshN atomic.Int64
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := pg.Transactor{DB: f.db}.InTx(f.ctx, func(ctx context.Context) error {
				fresh, err := f.l.RecordStripeEvent(ctx, "evt_2", "payment_intent.succeeded")
				if fresh {
					freshN.Add(1)
				}
				return err
			})
			if err != nil {
				t.Errorf("record: %v", err)
			}
		}()
	}
	wg.Wait()
	if freshN.Load() != 1 {
		t.Errorf("concurrent deliveries: got %d fresh, want 1", freshN.Load())
	}
}
