package finance

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/azora-os/azora/shared/errs"
)

// topupRow is one topups row as sqlx scans it.
type topupRow struct {
	ID              string         `db:"id"`
	WalletID        string         `db:"wallet_id"`
	UserID          string         `db:"user_id"`
	Amount          int64          `db:"amount"`
	Currency        string         `db:"currency"`
	Status          string         `db:"status"`
	PaymentIntentID sql.NullString `db:"payment_intent_id"`
	CreatedAt       time.Time      `db:"created_at"`
	UpdatedAt       time.Time      `db:"updated_at"`
}

func (r topupRow) topup() Topup {
	return Topup{ID: r.ID, WalletID: r.WalletID, UserID: r.UserID, Amount: r.Amount, Currency: r.Currency,
		Status: r.Status, PaymentIntentID: r.PaymentIntentID.String, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
}

const insertTopup = `
INSERT INTO topups (id, wallet_id, user_id, amount, currency, status, payment_intent_id, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`

// CreateTopup stores t (never its ClientSecret). An empty Status is
// pending, an empty PaymentIntentID is none yet, zero times are now.
// Errors: wallet_not_found (also for a wallet id that is not a UUID),
// validation_failed for a non-positive amount or a currency that is not an
// ISO 4217 code, internal (also for an id or user id that is not a UUID, or
// a PaymentIntent another top-up has).
func (l *PostgresLedger) CreateTopup(ctx context.Context, t Topup) error {
	id, err := uuid.Parse(t.ID)
	if err != nil {
		return errs.Internalf(err, "finance: create top-up: id %q", t.ID)
	}
	user, err := uuid.Parse(t.UserID)
	if err != nil {
		return errs.Internalf(err, "finance: create top-up: user id %q", t.UserID)
	}
	wallet, err := parseID(t.WalletID, ErrWalletNotFound)
	if err != nil {
		return err
	}
	if t.Amount <= 0 {
		return errs.Validation(errs.FieldError{Field: "amount", Message: "must be a positive integer of minor units"})
	}
	if err := checkCurrency(t.Currency); err != nil {
		return err
	}
	if t.Status == "" {
		t.Status = TopupPending
	}
	now := time.Now()
	if t.CreatedAt.IsZero() {
		t.CreatedAt = now
	}
	if t.UpdatedAt.IsZero() {
		t.UpdatedAt = now
	}
	_, err = l.q(ctx).ExecContext(ctx, insertTopup, id.String(), wallet, user.String(), t.Amount, t.Currency,
		t.Status, nullString(t.PaymentIntentID), t.CreatedAt, t.UpdatedAt)
	return ledgerErr(err, "create top-up", nil)
}

const topupColumns = `
SELECT id, wallet_id, user_id, amount, currency, status, payment_intent_id, created_at, updated_at
FROM topups`

const (
	selectTopup               = topupColumns + ` WHERE id = $1`
	selectTopupForUpdate      = selectTopup + ` FOR UPDATE`
	selectTopupByIntentForUpd = topupColumns + ` WHERE payment_intent_id = $1 FOR UPDATE`
)

// Topup returns a top-up. Errors: topup_not_found (also for an id that is
// not a UUID), internal.
func (l *PostgresLedger) Topup(ctx context.Context, id string) (Topup, error) {
	id, err := parseID(id, ErrTopupNotFound)
	if err != nil {
		return Topup{}, err
	}
	return l.topup(ctx, "top-up", selectTopup, id)
}

// LockTopup is Topup with the row locked until ctx's transaction ends, so
// that a refund and a webhook change a top-up one at a time. Errors:
// topup_not_found, internal (also when ctx carries no transaction).
func (l *PostgresLedger) LockTopup(ctx context.Context, id string) (Topup, error) {
	if err := requireTx(ctx, "lock top-up"); err != nil {
		return Topup{}, err
	}
	id, err := parseID(id, ErrTopupNotFound)
	if err != nil {
		return Topup{}, err
	}
	return l.topup(ctx, "lock top-up", selectTopupForUpdate, id)
}

// LockTopupByIntent returns the top-up of a PaymentIntent, locked until
// ctx's transaction ends. Errors: topup_not_found (also for an empty id),
// internal (also when ctx carries no transaction).
func (l *PostgresLedger) LockTopupByIntent(ctx context.Context, paymentIntentID string) (Topup, error) {
	if err := requireTx(ctx, "lock top-up by intent"); err != nil {
		return Topup{}, err
	}
	if paymentIntentID == "" {
		return Topup{}, ErrTopupNotFound
	}
	return l.topup(ctx, "lock top-up by intent", selectTopupByIntentForUpd, paymentIntentID)
}

func (l *PostgresLedger) topup(ctx context.Context, op, query string, arg any) (Topup, error) {
	var r topupRow
	if err := sqlx.GetContext(ctx, l.q(ctx), &r, query, arg); err != nil {
		return Topup{}, ledgerErr(err, op, ErrTopupNotFound)
	}
	return r.topup(), nil
}

const updateTopup = `
UPDATE topups SET status = $2, payment_intent_id = $3, updated_at = $4
WHERE id = $1`

// SaveTopup writes t's status, payment_intent_id (an empty one clears it)
// and updated_at (now when zero). Errors: topup_not_found (also for an id
// that is not a UUID), internal (also for an unknown status).
func (l *PostgresLedger) SaveTopup(ctx context.Context, t Topup) error {
	id, err := parseID(t.ID, ErrTopupNotFound)
	if err != nil {
		return err
	}
	res, err := l.q(ctx).ExecContext(ctx, updateTopup, id, t.Status, nullString(t.PaymentIntentID), orNow(t.UpdatedAt))
	if err != nil {
		return ledgerErr(err, "save top-up", nil)
	}
	return mustAffect(res, "save top-up", ErrTopupNotFound)
}

const insertStripeEvent = `INSERT INTO stripe_events (id, type) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING`

// RecordStripeEvent records a webhook event id and reports whether it was
// new; false means a redelivery. Recorded in ctx's transaction with the
// event's effect, a concurrent delivery of the same event waits for the
// first to commit (and then finds it) or roll back (and then records it).
// Errors: internal (also for an empty id).
func (l *PostgresLedger) RecordStripeEvent(ctx context.Context, id, typ string) (bool, error) {
	if id == "" {
		return false, errs.Internalf(errors.New("empty event id"), "finance: record stripe event")
	}
	res, err := l.q(ctx).ExecContext(ctx, insertStripeEvent, id, typ)
	if err != nil {
		return false, ledgerErr(err, "record stripe event", nil)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, errs.Internalf(err, "finance: record stripe event")
	}
	return n == 1, nil
}
