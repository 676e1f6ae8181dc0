package auth

import (
	"bytes"
	"context"
	"database/sql"
	"embed"
	"errors"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/page"
	"github.com/azora-os/azora/shared/pg"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Migrations is the auth schema, applied at start and by "auth migrate"
// (the events tables come separately, from events.Migrations).
var Migrations = pg.Migrations{FS: migrationFS, Dir: "migrations", Table: "schema_migrations"}

// Constraint and index names of migrations/0002 that errors are mapped by.
const (
	constraintEmailKey   = "users_email_key"
	constraintRolesValid = "users_roles_valid"
)

// PostgresUsers is the Users port over the users table. Every method joins
// the transaction ctx carries (pg.FromContext), so a Create and the outbox
// row announcing it commit together.
type PostgresUsers struct{ db *sqlx.DB }

// NewPostgresUsers returns Users over db.
func NewPostgresUsers(db *sqlx.DB) *PostgresUsers { return &PostgresUsers{db: db} }

// userRow is one users row as sqlx scans it.
type userRow struct {
	ID            string         `db:"id"`
	Email         string         `db:"email"`
	Name          string         `db:"name"`
	Roles         pq.StringArray `db:"roles"`
	PasswordHash  string         `db:"password_hash"`
	MFAEnabled    bool           `db:"mfa_enabled"`
	TOTPSecret    []byte         `db:"totp_secret"`
	RecoveryCodes pq.StringArray `db:"recovery_codes"`
	CreatedAt     time.Time      `db:"created_at"`
	UpdatedAt     time.Time      `db:"updated_at"`
}

// account returns r as an Account that shares no memory with r, so two
// calls give copies that can be compared after one is changed.
func (r userRow) account() Account {
	a := Account{
		User: User{
			ID:         r.ID,
			Email:      r.Email,
			Name:       r.Name,
			Roles:      slices.Clone([]string(r.Roles)),
			MFAEnabled: r.MFAEnabled,
			CreatedAt:  r.CreatedAt.UTC(),
		},
		PasswordHash: r.PasswordHash,
		TOTPSecret:   bytes.Clone(r.TOTPSecret),
		UpdatedAt:    r.UpdatedAt.UTC(),
	}
	if len(r.RecoveryCodes) > 0 { // none is nil, whatever the driver scanned
		a.RecoveryCodes = slices.Clone([]string(r.RecoveryCodes))
	}
	return a
}

const insertUser = `
INSERT INTO users (id, email, name, roles, password_hash, mfa_enabled,
                   totp_secret, recovery_codes, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`

// Create inserts a; a.ID must be a UUID. A zero CreatedAt or UpdatedAt is
// stored as the current time. Times are kept to the microsecond. Errors:
// email_taken (whatever the case of the email), invalid_role when a.Roles
// is empty or holds an unknown role, internal.
func (s *PostgresUsers) Create(ctx context.Context, a Account) error {
	now := time.Now()
	if a.CreatedAt.IsZero() {
		a.CreatedAt = now
	}
	if a.UpdatedAt.IsZero() {
		a.UpdatedAt = now
	}
	_, err := pg.Ext(ctx, s.db).ExecContext(ctx, insertUser,
		a.ID, a.Email, a.Name, textArray(a.Roles), a.PasswordHash, a.MFAEnabled,
		nullBytes(a.TOTPSecret), textArray(a.RecoveryCodes), a.CreatedAt, a.UpdatedAt)
	return usersErr(err, "create")
}

const selectUserColumns = `
SELECT id, email, name, roles, password_hash, mfa_enabled,
       totp_secret, recovery_codes, created_at, updated_at
FROM users`

const selectUserByEmail = selectUserColumns + ` WHERE lower(email) = lower($1)`

// ByEmail finds the account whose email equals email ignoring case.
// Errors: user_not_found, internal.
func (s *PostgresUsers) ByEmail(ctx context.Context, email string) (Account, error) {
	var r userRow
	if err := sqlx.GetContext(ctx, pg.Ext(ctx, s.db), &r, selectUserByEmail, email); err != nil {
		return Account{}, usersErr(err, "by email")
	}
	return r.account(), nil
}

const selectUserByID = selectUserColumns + ` WHERE id = $1`

// ByID finds an account. An id that is not a UUID names no account.
// Errors: user_not_found, internal.
func (s *PostgresUsers) ByID(ctx context.Context, id string) (Account, error) {
	uid, err := uuid.Parse(id)
	if err != nil {
		return Account{}, ErrUserNotFound
	}
	var r userRow
	if err := sqlx.GetContext(ctx, pg.Ext(ctx, s.db), &r, selectUserByID, uid.String()); err != nil {
		return Account{}, usersErr(err, "by id")
	}
	return r.account(), nil
}

// List implements Users, newest first by id: the users matching f (an
// email compared ignoring case, through users_email_key; a role). Errors:
// invalid_cursor, internal.
func (s *PostgresUsers) List(ctx context.Context, f UserFilter, p page.Request) (page.Page[User], error) {
	after, limit, err := idKeyset(p)
	if err != nil {
		return page.Page[User]{}, err
	}
	query, args := selectUserColumns+` WHERE id < $1`, []any{after}
	if f.Email != "" {
		args = append(args, f.Email)
		query += ` AND lower(email) = lower($` + strconv.Itoa(len(args)) + `)`
	}
	if f.Role != "" {
		args = append(args, f.Role)
		query += ` AND $` + strconv.Itoa(len(args)) + ` = ANY (roles)`
	}
	args = append(args, limit+1)
	query += ` ORDER BY id DESC LIMIT $` + strconv.Itoa(len(args))
	var rows []userRow
	if err := sqlx.SelectContext(ctx, pg.Ext(ctx, s.db), &rows, query, args...); err != nil {
		return page.Page[User]{}, usersErr(err, "list")
	}
	users := make([]User, len(rows))
	for i, r := range rows {
		users[i] = r.account().User
	}
	return idPage(users, limit, func(u User) string { return u.ID }), nil
}

const selectUserForUpdate = selectUserByID + ` FOR UPDATE`

const updateUser = `
UPDATE users
SET email = $2, name = $3, roles = $4, password_hash = $5, mfa_enabled = $6,
    totp_secret = $7, recovery_codes = $8, updated_at = now()
WHERE id = $1
RETURNING updated_at`

// Update locks the account's row (SELECT … FOR UPDATE, in the transaction
// ctx carries or a new one), passes a copy to fn and, when fn returns nil
// and changed something, writes every mutable column with updated_at set to
// the transaction's time. fn must not change ID; changes to CreatedAt and
// UpdatedAt are ignored. fn may run more than once when Postgres aborts the
// transaction for a deadlock, so it must have no other effects. It returns
// the account as saved. Errors: user_not_found, fn's error unchanged (and
// nothing saved), email_taken, invalid_role, internal.
func (s *PostgresUsers) Update(ctx context.Context, id string, fn func(*Account) error) (Account, error) {
	uid, err := uuid.Parse(id)
	if err != nil {
		return Account{}, ErrUserNotFound
	}
	var saved Account
	fnFailed := false
	err = pg.Tx(ctx, s.db, nil, func(ctx context.Context, tx *sqlx.Tx) error {
		fnFailed = false
		var r userRow
		if err := tx.GetContext(ctx, &r, selectUserForUpdate, uid.String()); err != nil {
			return err
		}
		before, a := r.account(), r.account()
		if err := fn(&a); err != nil {
			fnFailed = true
			return err
		}
		if a.ID != before.ID {
			return errs.Internalf(errors.New("fn changed the account id"), "users: update %s", before.ID)
		}
		a.CreatedAt, a.UpdatedAt = before.CreatedAt, before.UpdatedAt
		if sameAccount(before, a) {
			saved = a
			return nil
		}
		var updated time.Time
		err := tx.GetContext(ctx, &updated, updateUser, a.ID, a.Email, a.Name, textArray(a.Roles),
			a.PasswordHash, a.MFAEnabled, nullBytes(a.TOTPSecret), textArray(a.RecoveryCodes))
		if err != nil {
			return err
		}
		a.UpdatedAt = updated.UTC()
		saved = a
		return nil
	})
	if err != nil {
		if fnFailed {
			return Account{}, err
		}
		return Account{}, usersErr(err, "update")
	}
	return saved, nil
}

const countAdmins = `SELECT count(*) FROM users WHERE 'admin' = ANY (roles)`

// CountAdmins reports how many accounts hold the admin role. Errors:
// internal.
func (s *PostgresUsers) CountAdmins(ctx context.Context) (int, error) {
	var n int
	if err := sqlx.GetContext(ctx, pg.Ext(ctx, s.db), &n, countAdmins); err != nil {
		return 0, usersErr(err, "count admins")
	}
	return n, nil
}

// sameAccount reports whether a and b agree on every mutable column.
func sameAccount(a, b Account) bool {
	return a.Email == b.Email && a.Name == b.Name && slices.Equal(a.Roles, b.Roles) &&
		a.PasswordHash == b.PasswordHash && a.MFAEnabled == b.MFAEnabled &&
		(a.TOTPSecret == nil) == (b.TOTPSecret == nil) && bytes.Equal(a.TOTPSecret, b.TOTPSecret) &&
		slices.Equal(a.RecoveryCodes, b.RecoveryCodes)
}

// usersErr translates a driver error from the users table into the domain
// error it means, so nothing above the adapter sees a *pq.Error.
func usersErr(err error, op string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sql.ErrNoRows):
		return ErrUserNotFound
	case pg.Code(err) == pg.CodeUniqueViolation && pg.Constraint(err) == constraintEmailKey:
		return ErrEmailTaken
	case pg.Code(err) == pg.CodeCheckViolation && pg.Constraint(err) == constraintRolesValid:
		return ErrInvalidRole
	}
	var e *errs.Error
	if errors.As(err, &e) {
		return err
	}
	return errs.Internalf(err, "users: %s", op)
}

// idKey is the keyset position of a row in a newest-first list ordered by
// its id, a UUIDv7 (which sorts by creation time): the last row of a page,
// encoded in its next_cursor.
type idKey struct {
	ID string `json:"i"`
}

// idKeyset returns the id after which p's page starts (past every UUIDv7
// on the first page, so it runs the query of the next ones) and how many
// rows it holds. Errors: invalid_cursor.
func idKeyset(p page.Request) (after string, limit int, err error) {
	limit = p.Size()
	k := idKey{ID: "ffffffff-ffff-ffff-ffff-ffffffffffff"}
	if err := page.Decode(p.Cursor, &k); err != nil {
		return "", 0, err
	}
	u, err := uuid.Parse(k.ID)
	if err != nil {
		return "", 0, page.ErrBadCursor
	}
	return u.String(), limit, nil
}

// idPage is page.Of for rows fetched with limit+1 in idKeyset's order.
func idPage[T any](rows []T, limit int, id func(T) string) page.Page[T] {
	return page.Of(rows, limit, func(r T) any { return idKey{ID: id(r)} })
}

// textArray returns s as a Postgres text[], empty rather than NULL when s is
// nil (pq sends a nil StringArray as NULL, which NOT NULL would refuse).
func textArray(s []string) pq.StringArray {
	if s == nil {
		return pq.StringArray{}
	}
	return s
}

// nullBytes returns b, or an untyped nil so that a nil slice is stored as
// NULL whatever the driver makes of an empty []byte.
func nullBytes(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}
