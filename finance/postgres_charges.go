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

// chargeRow is one charges row as sqlx scans it.
type chargeRow struct {
	EnrollmentID  string         `db:"enrollment_id"`
	UserID        string         `db:"user_id"`
	InstructorID  sql.NullString `db:"instructor_id"`
	Amount        int64          `db:"amount"`
	Currency      string         `db:"currency"`
	Status        string         `db:"status"`
	FailureReason string         `db:"failure_reason"`
	TransactionID sql.NullString `db:"transaction_id"`
	Rewarded      bool           `db:"rewarded"`
	UpdatedAt     time.Time      `db:"updated_at"`
}

func (r chargeRow) charge() Charge {
	return Charge{EnrollmentID: r.EnrollmentID, UserID: r.UserID, InstructorID: r.InstructorID.String,
		Amount: r.Amount, Currency: r.Currency, Status: r.Status, FailureReason: r.FailureReason,
		TransactionID: r.TransactionID.String, Rewarded: r.Rewarded, UpdatedAt: r.UpdatedAt.UTC()}
}

const selectChargeForUpdate = `
SELECT enrollment_id, user_id, instructor_id, amount, currency, status, failure_reason,
       transaction_id, rewarded, updated_at
FROM charges WHERE enrollment_id = $1
FOR UPDATE`

// LockCharge returns the enrollment's charge record locked until ctx's
// transaction ends, and true; or (Charge{}, false, nil) when there is none
// (also for an id that is not a UUID). No row means no lock: two first
// requests for one enrollment both get false, and the ledger's (kind,
// reference) uniqueness and SaveCharge's upsert decide between them.
// Errors: internal (also when ctx carries no transaction).
func (l *PostgresLedger) LockCharge(ctx context.Context, enrollmentID string) (Charge, bool, error) {
	if err := requireTx(ctx, "lock charge"); err != nil {
		return Charge{}, false, err
	}
	u, err := uuid.Parse(enrollmentID)
	if err != nil {
		return Charge{}, false, nil
	}
	var r chargeRow
	err = sqlx.GetContext(ctx, l.q(ctx), &r, selectChargeForUpdate, u.String())
	if errors.Is(err, sql.ErrNoRows) {
		return Charge{}, false, nil
	}
	if err != nil {
		return Charge{}, false, ledgerErr(err, "lock charge", nil)
	}
	return r.charge(), true, nil
}

const upsertCharge = `
INSERT INTO charges (enrollment_id, user_id, instructor_id, amount, currency, status,
                     failure_reason, transaction_id, rewarded, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
ON CONFLICT (enrollment_id) DO UPDATE
SET user_id = excluded.user_id, instructor_id = excluded.instructor_id, amount = excluded.amount,
    currency = excluded.currency, status = excluded.status, failure_reason = excluded.failure_reason,
    transaction_id = excluded.transaction_id, rewarded = excluded.rewarded, updated_at = excluded.updated_at`

// SaveCharge inserts c, or overwrites every column of the enrollment's
// charge record with c's. An empty InstructorID or TransactionID is none; a
// zero UpdatedAt is now. Amount and Currency are stored as given, valid or
// not (a refused price is part of the record). Errors: internal (also for
// an enrollment, user, instructor or transaction id that is not a UUID, a
// transaction that does not exist or an unknown status).
func (l *PostgresLedger) SaveCharge(ctx context.Context, c Charge) error {
	ids := []string{c.EnrollmentID, c.UserID, c.InstructorID, c.TransactionID}
	for i, id := range ids {
		if id == "" && i >= 2 { // optional
			continue
		}
		u, err := uuid.Parse(id)
		if err != nil {
			return errs.Internalf(err, "finance: save charge %s: id %q", c.EnrollmentID, id)
		}
		ids[i] = u.String()
	}
	_, err := l.q(ctx).ExecContext(ctx, upsertCharge, ids[0], ids[1], nullString(ids[2]), c.Amount, c.Currency,
		c.Status, c.FailureReason, nullString(ids[3]), c.Rewarded, orNow(c.UpdatedAt))
	return ledgerErr(err, "save charge", nil)
}
