package finance

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/page"
)

// accountRow is one accounts row as sqlx scans it.
type accountRow struct {
	ID        string         `db:"id"`
	Kind      string         `db:"kind"`
	UserID    sql.NullString `db:"user_id"`
	Currency  string         `db:"currency"`
	Balance   int64          `db:"balance"`
	CreatedAt time.Time      `db:"created_at"`
}

func (r accountRow) wallet() Wallet {
	return Wallet{ID: r.ID, UserID: r.UserID.String, Currency: r.Currency, Balance: r.Balance, CreatedAt: r.CreatedAt.UTC()}
}

func (r accountRow) account() Account {
	return Account{ID: r.ID, Kind: r.Kind, UserID: r.UserID.String, Currency: r.Currency, Balance: r.Balance}
}

const accountColumns = `SELECT id, kind, user_id, currency, balance, created_at FROM accounts`

const insertWallet = `
INSERT INTO accounts (id, kind, user_id, currency, created_at)
VALUES ($1, 'wallet', $2, $3, $4)
ON CONFLICT (user_id, currency) WHERE kind = 'wallet' DO NOTHING
RETURNING id, kind, user_id, currency, balance, created_at`

// selectWalletOf names the kind: a user's receivable has the same user id
// and currency, and must never pass for the wallet.
const selectWalletOf = accountColumns + ` WHERE user_id = $1 AND currency = $2 AND kind = 'wallet'`

// OpenWallet creates userID's wallet in currency with id, created at at
// (now when zero), unless the user has one in that currency already; it
// returns the wallet and whether this call created it. Concurrent calls
// for one user and currency create one wallet: the unique index on the
// wallets' (user_id, currency) decides, and the losers read the winner's. Errors:
// validation_failed for a user id that is not a UUID or a currency that is
// not an ISO 4217 code, internal (also for an id that is not a UUID).
func (l *PostgresLedger) OpenWallet(ctx context.Context, id, userID, currency string, at time.Time) (Wallet, bool, error) {
	wid, err := uuid.Parse(id)
	if err != nil {
		return Wallet{}, false, errs.Internalf(err, "finance: open wallet: id %q", id)
	}
	uid, err := uuid.Parse(userID)
	if err != nil {
		return Wallet{}, false, errs.Validation(errs.FieldError{Field: "user_id", Message: "must be a UUID"})
	}
	if err := checkCurrency(currency); err != nil {
		return Wallet{}, false, err
	}
	r, created, err := l.insertOrRead(ctx, "wallet",
		insertWallet, []any{wid.String(), uid.String(), currency, orNow(at)},
		selectWalletOf, []any{uid.String(), currency})
	if err != nil {
		return Wallet{}, false, err
	}
	return r.wallet(), created, nil
}

// insertOrRead opens a user's account of a kind: insert (INSERT … ON
// CONFLICT DO NOTHING RETURNING the row) creates it, and when a concurrent
// opener won the conflict, read returns the winner's row. It reports
// whether this call created the row; what names the account in errors.
func (l *PostgresLedger) insertOrRead(ctx context.Context, what, insert string, insertArgs []any, read string, readArgs []any) (accountRow, bool, error) {
	var r accountRow
	err := sqlx.GetContext(ctx, l.q(ctx), &r, insert, insertArgs...)
	if err == nil {
		return r, true, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return r, false, ledgerErr(err, "open "+what, nil)
	}
	// The conflict's row was committed (ON CONFLICT waited for it), so this
	// statement's fresh snapshot sees it. Under REPEATABLE READ Postgres
	// reports such a conflict as a serialization failure instead.
	if err := sqlx.GetContext(ctx, l.q(ctx), &r, read, readArgs...); err != nil {
		return r, false, errs.Internalf(err, "finance: open %s: read the existing one", what)
	}
	return r, false, nil
}

const selectWallet = accountColumns + ` WHERE id = $1 AND kind = 'wallet'`

// Wallet returns a user's wallet; a platform account is not one. Errors:
// wallet_not_found, internal.
func (l *PostgresLedger) Wallet(ctx context.Context, id string) (Wallet, error) {
	id, err := parseID(id, ErrWalletNotFound)
	if err != nil {
		return Wallet{}, err
	}
	var r accountRow
	if err := stmtSelectWallet.GetContext(ctx, l.db, &r, id); err != nil {
		return Wallet{}, ledgerErr(err, "wallet", ErrWalletNotFound)
	}
	return r.wallet(), nil
}

// WalletOf returns userID's wallet in currency. Errors: wallet_not_found
// (also for a user id that is not a UUID), internal.
func (l *PostgresLedger) WalletOf(ctx context.Context, userID, currency string) (Wallet, error) {
	uid, err := parseID(userID, ErrWalletNotFound)
	if err != nil {
		return Wallet{}, err
	}
	var r accountRow
	if err := sqlx.GetContext(ctx, l.q(ctx), &r, selectWalletOf, uid, currency); err != nil {
		return Wallet{}, ledgerErr(err, "wallet of", ErrWalletNotFound)
	}
	return r.wallet(), nil
}

// walletKey is the keyset position of a wallet in the oldest-first list.
type walletKey struct {
	At time.Time `json:"t"`
	ID string    `json:"i"`
}

const selectWallets = accountColumns + `
WHERE user_id = $1 AND kind = 'wallet' AND (created_at, id) > ($2, $3)
ORDER BY created_at, id
LIMIT $4`

// Wallets pages userID's wallets, oldest first (not the user's
// receivables); a user id that is not a UUID has none. Errors: invalid_cursor, internal.
func (l *PostgresLedger) Wallets(ctx context.Context, userID string, p page.Request) (page.Page[Wallet], error) {
	limit := p.Size()
	k := walletKey{ID: uuid.Nil.String()} // before every wallet
	if err := page.Decode(p.Cursor, &k); err != nil {
		return page.Page[Wallet]{}, err
	}
	if _, err := uuid.Parse(k.ID); err != nil {
		return page.Page[Wallet]{}, page.ErrBadCursor
	}
	uid, err := uuid.Parse(userID)
	if err != nil {
		return page.Page[Wallet]{Items: []Wallet{}}, nil
	}
	var rows []accountRow
	if err := sqlx.SelectContext(ctx, l.q(ctx), &rows, selectWallets, uid.String(), k.At, k.ID, limit+1); err != nil {
		return page.Page[Wallet]{}, ledgerErr(err, "wallets", nil)
	}
	ws := make([]Wallet, len(rows))
	for i, r := range rows {
		ws[i] = r.wallet()
	}
	return page.Of(ws, limit, func(w Wallet) any { return walletKey{At: w.CreatedAt, ID: w.ID} }), nil
}

const selectPlatformAccount = accountColumns + ` WHERE kind = $1 AND currency = $2 AND user_id IS NULL`

const insertPlatformAccount = `
INSERT INTO accounts (id, kind, currency) VALUES ($1, $2, $3)
ON CONFLICT (kind, currency) WHERE user_id IS NULL DO NOTHING
RETURNING id, kind, user_id, currency, balance, created_at`

// PlatformAccount returns the platform account of kind (platform_fees,
// platform_rewards or stripe_clearing) in currency, creating it on first
// use. Concurrent first uses create one account: the partial unique index
// on (kind, currency) decides. Errors: validation_failed for a currency
// that is not an ISO 4217 code, internal (also for another kind).
func (l *PostgresLedger) PlatformAccount(ctx context.Context, kind, currency string) (Account, error) {
	switch kind {
	case KindFees, KindRewards, KindClearing:
	default:
		return Account{}, errs.Internalf(fmt.Errorf("kind %q", kind), "finance: platform account")
	}
	if err := checkCurrency(currency); err != nil {
		return Account{}, err
	}
	// Read first: the account exists on every call but the first.
	var r accountRow
	err := sqlx.GetContext(ctx, l.q(ctx), &r, selectPlatformAccount, kind, currency)
	if err == nil {
		return r.account(), nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return Account{}, ledgerErr(err, "platform account", nil)
	}
	id, err := uuid.NewV7()
	if err != nil {
		return Account{}, errs.Internalf(err, "finance: platform account id")
	}
	err = sqlx.GetContext(ctx, l.q(ctx), &r, insertPlatformAccount, id.String(), kind, currency)
	if errors.Is(err, sql.ErrNoRows) { // created meanwhile by someone else
		err = sqlx.GetContext(ctx, l.q(ctx), &r, selectPlatformAccount, kind, currency)
	}
	if err != nil {
		return Account{}, ledgerErr(err, "platform account", nil)
	}
	return r.account(), nil
}

const selectReceivable = accountColumns + ` WHERE user_id = $1 AND currency = $2 AND kind = 'receivable'`

const insertReceivable = `
INSERT INTO accounts (id, kind, user_id, currency) VALUES ($1, 'receivable', $2, $3)
ON CONFLICT (user_id, currency) WHERE kind = 'receivable' DO NOTHING
RETURNING id, kind, user_id, currency, balance, created_at`

// Receivable returns userID's receivable in currency and true, or
// (Account{}, false, nil) when the user has none: a user id that is not a
// UUID, or a user who never owed anything in currency. Errors: internal.
func (l *PostgresLedger) Receivable(ctx context.Context, userID, currency string) (Account, bool, error) {
	uid, err := uuid.Parse(userID)
	if err != nil {
		return Account{}, false, nil
	}
	var r accountRow
	err = sqlx.GetContext(ctx, l.q(ctx), &r, selectReceivable, uid.String(), currency)
	if errors.Is(err, sql.ErrNoRows) {
		return Account{}, false, nil
	}
	if err != nil {
		return Account{}, false, ledgerErr(err, "receivable", nil)
	}
	return r.account(), true, nil
}

// OpenReceivable returns userID's receivable in currency, creating it with
// a zero balance on first use. Concurrent first uses create one: the
// partial unique index on the receivables' (user_id, currency) decides,
// and the losers read the winner's (as OpenWallet's do). Errors:
// validation_failed for a user id that is not a UUID or a currency that
// is not an ISO 4217 code, internal.
func (l *PostgresLedger) OpenReceivable(ctx context.Context, userID, currency string) (Account, error) {
	uid, err := uuid.Parse(userID)
	if err != nil {
		return Account{}, errs.Validation(errs.FieldError{Field: "user_id", Message: "must be a UUID"})
	}
	if err := checkCurrency(currency); err != nil {
		return Account{}, err
	}
	// Read first: a user who owed once has the account for good.
	if a, ok, err := l.Receivable(ctx, uid.String(), currency); err != nil || ok {
		return a, err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return Account{}, errs.Internalf(err, "finance: receivable id")
	}
	r, _, err := l.insertOrRead(ctx, "receivable",
		insertReceivable, []any{id.String(), uid.String(), currency},
		selectReceivable, []any{uid.String(), currency})
	if err != nil {
		return Account{}, err
	}
	return r.account(), nil
}
