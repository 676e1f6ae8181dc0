package finance

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"regexp"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/pg"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Migrations is the finance schema, applied at start and by "finance migrate"
// (the events tables come separately, from events.Migrations).
var Migrations = pg.Migrations{FS: migrationFS, Dir: "migrations", Table: "schema_migrations"}

// Constraint names that errors are mapped by: migrations/0002's, and
// 0003's receivable check (0003 re-creates the balance check under its
// 0002 name, receivables exempted).
const (
	constraintPostingAccount   = "postings_account_fk"
	constraintTopupWallet      = "topups_wallet_fk"
	constraintBalanceNonNeg    = "accounts_balance_non_negative"
	constraintReceivableNonPos = "accounts_receivable_non_positive"
)

// PostgresLedger is the Ledger port over Postgres. Every method joins the
// transaction ctx carries (pg.FromContext), so ledger writes, the outbox
// rows announcing them and an idempotency record commit together; the Lock
// methods refuse to run without one, since a row lock outside a transaction
// ends at once. Driver errors never leave it: they become the domain errors
// Ledger documents, or internal errors. An id that is not a UUID names no
// row, so it gets the not-found answer of the method.
type PostgresLedger struct {
	db *sqlx.DB
}

var _ Ledger = (*PostgresLedger)(nil)

// NewPostgresLedger returns the Ledger over db. It prepares the statements
// of the transfer path on db (waiting at most a few seconds); when it
// cannot, they run as plain text until a later call prepares them.
func NewPostgresLedger(db *sqlx.DB) *PostgresLedger {
	prepareStatements(db)
	return &PostgresLedger{db: db}
}

// q returns what a method queries through: the transaction in ctx, or the pool.
func (l *PostgresLedger) q(ctx context.Context) sqlx.ExtContext { return pg.Ext(ctx, l.db) }

// requireTx returns an internal error naming op when ctx carries no
// transaction: SELECT … FOR UPDATE in autocommit would release its lock
// before the caller could act on the row, which is a programming error.
func requireTx(ctx context.Context, op string) error {
	if pg.FromContext(ctx) == nil {
		return errs.Internalf(errors.New("no transaction in ctx"), "finance: %s needs a transaction", op)
	}
	return nil
}

// parseID returns id in canonical form, or notFound when it is not a UUID:
// no row can have such an id, and Postgres would refuse it with 22P02.
func parseID(id string, notFound error) (string, error) {
	u, err := uuid.Parse(id)
	if err != nil {
		return "", notFound
	}
	return u.String(), nil
}

// currencyRE is an ISO 4217 code as the schema stores it.
var currencyRE = regexp.MustCompile(`^[A-Z]{3}$`)

// checkCurrency returns a validation error naming the currency field
// unless c is three upper-case letters.
func checkCurrency(c string) error {
	if !currencyRE.MatchString(c) {
		return errs.Validation(errs.FieldError{Field: "currency", Message: "must be an ISO 4217 code such as USD"})
	}
	return nil
}

// ledgerErr translates a driver error into the domain error it means, so
// that nothing above the adapter sees a *pq.Error: no rows is notFound, a
// posting or top-up naming a missing account is wallet_not_found, the
// non-negative balance check is insufficient_funds (Post checks first; this
// is the backstop), the receivable check is internal (repaying more than a
// debt is the caller's mistake), a domain error passes unchanged, and
// anything else is internal. The cause stays in the chain, so pg.Tx still recognises a
// deadlock or serialization failure wrapped here and retries.
func ledgerErr(err error, op string, notFound error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) && notFound != nil {
		return notFound
	}
	switch pg.Code(err) {
	case pg.CodeForeignKeyViolation:
		switch pg.Constraint(err) {
		case constraintPostingAccount, constraintTopupWallet:
			return ErrWalletNotFound
		}
	case pg.CodeCheckViolation:
		switch pg.Constraint(err) {
		case constraintBalanceNonNeg:
			return ErrInsufficientFunds
		case constraintReceivableNonPos:
			return errs.Internalf(err, "finance: %s: a receivable would go above zero", op)
		}
	}
	var e *errs.Error
	if errors.As(err, &e) {
		return err
	}
	return errs.Internalf(err, "finance: %s", op)
}

// mustAffect returns notFound when res changed no row.
func mustAffect(res sql.Result, op string, notFound error) error {
	n, err := res.RowsAffected()
	if err != nil {
		return errs.Internalf(err, "finance: %s", op)
	}
	if n == 0 {
		return notFound
	}
	return nil
}

// nullString returns s as a column value, NULL when empty.
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// orNow returns t, or the current time when t is zero.
func orNow(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now()
	}
	return t
}
