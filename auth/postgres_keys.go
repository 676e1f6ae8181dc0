package auth

import (
	"context"
	"database/sql"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/pg"
)

// PostgresSigningKeys is the SigningKeys port over the signing_keys table,
// shared by every auth instance.
type PostgresSigningKeys struct{ db *sqlx.DB }

// NewPostgresSigningKeys returns SigningKeys over db.
func NewPostgresSigningKeys(db *sqlx.DB) *PostgresSigningKeys {
	return &PostgresSigningKeys{db: db}
}

// signingKeysLock is the pg_advisory_xact_lock key that serialises Add
// across instances ("azorakey" in ASCII, so it collides with no other lock
// by accident).
const signingKeysLock int64 = 0x617a6f72616b6579

type signingKeyRow struct {
	ID         string       `db:"id"`
	Sealed     []byte       `db:"sealed"`
	CreatedAt  time.Time    `db:"created_at"`
	ActiveFrom time.Time    `db:"active_from"`
	RetiredAt  sql.NullTime `db:"retired_at"`
}

const listSigningKeys = `
SELECT id, sealed, created_at, active_from, retired_at
FROM signing_keys
ORDER BY created_at DESC, id DESC`

// List returns every stored key, newest first, times in UTC. Errors:
// internal.
func (s *PostgresSigningKeys) List(ctx context.Context) ([]SigningKey, error) {
	var rows []signingKeyRow
	if err := sqlx.SelectContext(ctx, pg.Ext(ctx, s.db), &rows, listSigningKeys); err != nil {
		return nil, errs.Internalf(err, "signing keys: list")
	}
	keys := make([]SigningKey, len(rows))
	for i, r := range rows {
		keys[i] = SigningKey{
			ID:         r.ID,
			Sealed:     r.Sealed,
			CreatedAt:  r.CreatedAt.UTC(),
			ActiveFrom: r.ActiveFrom.UTC(),
		}
		if r.RetiredAt.Valid {
			keys[i].RetiredAt = r.RetiredAt.Time.UTC()
		}
	}
	return keys, nil
}

const (
	lockSigningKeys   = `SELECT pg_advisory_xact_lock($1)`
	newerSigningKey   = `SELECT EXISTS (SELECT 1 FROM signing_keys WHERE created_at > $1)`
	retireSigningKeys = `UPDATE signing_keys SET retired_at = $1 WHERE retired_at IS NULL AND id <> $2`
	insertSigningKey  = `
INSERT INTO signing_keys (id, sealed, created_at, active_from, retired_at)
VALUES ($1, $2, $3, $4, $5)`
)

// Add inserts next unless a key created after since already exists, and
// marks every key still in use retired at next.ActiveFrom, all in one
// transaction. A transaction-level advisory lock makes instances that
// rotate at the same moment take turns, and the loser (reading after the
// winner committed) finds the newer key and inserts nothing. It reports
// whether it inserted. Errors: internal (a duplicate kid included).
func (s *PostgresSigningKeys) Add(ctx context.Context, next SigningKey, since time.Time) (bool, error) {
	inserted := false
	err := pg.Tx(ctx, s.db, nil, func(ctx context.Context, tx *sqlx.Tx) error {
		inserted = false
		if _, err := tx.ExecContext(ctx, lockSigningKeys, signingKeysLock); err != nil {
			return err
		}
		// Under READ COMMITTED this statement's snapshot is taken after the
		// lock is ours, so it sees a key another instance just committed.
		var newer bool
		if err := tx.GetContext(ctx, &newer, newerSigningKey, since); err != nil {
			return err
		}
		if newer {
			return nil
		}
		if _, err := tx.ExecContext(ctx, retireSigningKeys, next.ActiveFrom, next.ID); err != nil {
			return err
		}
		retired := sql.NullTime{Time: next.RetiredAt, Valid: !next.RetiredAt.IsZero()}
		if _, err := tx.ExecContext(ctx, insertSigningKey,
			next.ID, next.Sealed, next.CreatedAt, next.ActiveFrom, retired); err != nil {
			return err
		}
		inserted = true
		return nil
	})
	if err != nil {
		return false, errs.Internalf(err, "signing keys: add %s", next.ID)
	}
	return inserted, nil
}

const purgeSigningKeys = `DELETE FROM signing_keys WHERE retired_at < $1`

// Purge deletes the keys retired before before; keys still in use are
// never deleted. Errors: internal.
func (s *PostgresSigningKeys) Purge(ctx context.Context, before time.Time) error {
	if _, err := pg.Ext(ctx, s.db).ExecContext(ctx, purgeSigningKeys, before); err != nil {
		return errs.Internalf(err, "signing keys: purge")
	}
	return nil
}
