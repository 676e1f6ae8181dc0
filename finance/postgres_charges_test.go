package finance_test

import (
	"context"
	"testing"
	"time"

	"github.com/azora-os/azora/finance"
	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/pg"
)

func TestPostgresLedgerCharges(t *testing.T) {
	t.Parallel()
	f := newPLFixture(t)
	student, instructor := f.wallet(t, "USD"), f.wallet(t, "USD")
	f.fund(t, student.ID, 500, "USD")
	charge := plTransfer(student.ID, instructor.ID, 300, "USD")
	if err := f.l.Post(f.ctx, charge); err != nil {
		t.Fatal(err)
	}
	inTx := func(fn func(ctx context.Context) error) error { return pg.Transactor{DB: f.db}.InTx(f.ctx, fn) }
	lock := func(id string) (c finance.Charge, seen bool, err error) {
		err = inTx(func(ctx context.Context) error {
			c, seen, err = f.l.LockCharge(ctx, id)
			return err
		})
		return c, seen, err
	}
	at := time.Date(2025, 6, 1, 8, 0, 0, 0, time.UTC)
	paid := finance.Charge{EnrollmentID: plID(), UserID: student.UserID, InstructorID: instructor.UserID, Amount: 300,
		Currency: "USD", Status: finance.ChargePaid, TransactionID: charge.ID, UpdatedAt: at}
	cancelled := finance.Charge{EnrollmentID: plID(), UserID: student.UserID, Status: finance.ChargeCancelled, UpdatedAt: at}
	refused := finance.Charge{EnrollmentID: plID(), UserID: student.UserID, InstructorID: instructor.UserID, Amount: -5,
		Currency: "usd", Status: finance.ChargeFailed, FailureReason: "invalid_price", UpdatedAt: at}
	for _, tt := range []struct {
		name string
		c    finance.Charge
	}{{"paid", paid}, {"cancelled before any charge", cancelled}, {"refused price", refused}} {
		t.Run(tt.name, func(t *testing.T) {
			if err := f.l.SaveCharge(f.ctx, tt.c); err != nil {
				t.Fatalf("save: %v", err)
			}
			got, seen, err := lock(tt.c.EnrollmentID)
			if err != nil || !seen || got != tt.c {
				t.Errorf("got %+v, seen %v, err %v; want %+v", got, seen, err, tt.c)
			}
		})
	}

	paid.Status, paid.Rewarded, paid.UpdatedAt = finance.ChargeRefunded, true, at.Add(time.Hour)
	if err := f.l.SaveCharge(f.ctx, paid); err != nil {
		t.Fatalf("update: %v", err)
	}
	if got, _, err := lock(paid.EnrollmentID); err != nil || got != paid {
		t.Errorf("after update: got %+v, %v; want %+v", got, err, paid)
	}

	for _, id := range []string{plID(), "not-an-id"} {
		if got, seen, err := lock(id); err != nil || seen || got != (finance.Charge{}) {
			t.Errorf("lock %q: got %+v, seen %v, err %v; want none", id, got, seen, err)
		}
	}
	for _, tt := range []struct {
		name string
		call func() error
	}{
		{"lock outside a transaction", func() error { _, _, err := f.l.LockCharge(f.ctx, paid.EnrollmentID); return err }},
		{"malformed enrollment", func() error {
			return f.l.SaveCharge(f.ctx, finance.Charge{EnrollmentID: "e", UserID: student.UserID, Status: finance.ChargePaid})
		}},
		{"malformed user", func() error {
			return f.l.SaveCharge(f.ctx, finance.Charge{EnrollmentID: plID(), UserID: "u", Status: finance.ChargePaid})
		}},
		{"unknown status", func() error {
			return f.l.SaveCharge(f.ctx, finance.Charge{EnrollmentID: plID(), UserID: student.UserID, Status: "pending"})
		}},
		{"unknown transaction", func() error {
			return f.l.SaveCharge(f.ctx, finance.Charge{EnrollmentID: plID(), UserID: student.UserID, Status: finance.ChargePaid, TransactionID: plID()})
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); err == nil || errs.KindOf(err) != errs.Internal {
				t.Errorf("got %v, want an internal error", err)
			}
		})
	}
}
