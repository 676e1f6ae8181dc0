package finance

import (
	"context"
	"math"
	"strconv"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/azora-os/azora/shared/page"
)

const selectTransactionByRef = `
SELECT t.id, t.kind, t.reference, t.description, t.created_at, p.account_id, p.amount, p.currency
FROM transactions t JOIN postings p ON p.transaction_id = t.id
WHERE t.kind = $1 AND t.reference = $2
ORDER BY p.id`

type legRow struct {
	ID          string    `db:"id"`
	Kind        string    `db:"kind"`
	Reference   string    `db:"reference"`
	Description string    `db:"description"`
	CreatedAt   time.Time `db:"created_at"`
	AccountID   string    `db:"account_id"`
	Amount      int64     `db:"amount"`
	Currency    string    `db:"currency"`
}

// TransactionByRef returns the transaction posted for (kind, reference),
// with its postings in the order they were posted, and true; or
// (Transaction{}, false, nil) when there is none. Errors: internal.
func (l *PostgresLedger) TransactionByRef(ctx context.Context, kind, reference string) (Transaction, bool, error) {
	var rows []legRow
	if err := sqlx.SelectContext(ctx, l.q(ctx), &rows, selectTransactionByRef, kind, reference); err != nil {
		return Transaction{}, false, ledgerErr(err, "transaction by ref", nil)
	}
	if len(rows) == 0 {
		return Transaction{}, false, nil
	}
	r := rows[0]
	t := Transaction{ID: r.ID, Kind: r.Kind, Reference: r.Reference, Description: r.Description, CreatedAt: r.CreatedAt.UTC()}
	for _, r := range rows {
		t.Postings = append(t.Postings, Posting{AccountID: r.AccountID, Amount: r.Amount, Currency: r.Currency})
	}
	return t, true, nil
}

// entryKey is the keyset position of an entry in the newest-first list.
type entryKey struct {
	ID int64 `json:"i"`
}

const selectEntries = `
SELECT p.id, p.transaction_id, t.kind, p.amount, p.currency, t.description, p.created_at
FROM postings p JOIN transactions t ON t.id = p.transaction_id
WHERE p.account_id = $1 AND p.id < $2
ORDER BY p.id DESC
LIMIT $3`

type entryRow struct {
	ID            int64     `db:"id"`
	TransactionID string    `db:"transaction_id"`
	Kind          string    `db:"kind"`
	Amount        int64     `db:"amount"`
	Currency      string    `db:"currency"`
	Description   string    `db:"description"`
	CreatedAt     time.Time `db:"created_at"`
}

// Entries pages an account's postings, newest first, each with its
// transaction's kind and description: one range of the (account_id, id)
// index per page, however deep. An id that is not a UUID, or names no
// account, has no entries (the service checks the wallet first). Errors:
// invalid_cursor, internal.
func (l *PostgresLedger) Entries(ctx context.Context, walletID string, p page.Request) (page.Page[Entry], error) {
	limit := p.Size()
	k := entryKey{ID: math.MaxInt64} // after every posting
	if err := page.Decode(p.Cursor, &k); err != nil {
		return page.Page[Entry]{}, err
	}
	if k.ID <= 0 {
		return page.Page[Entry]{}, page.ErrBadCursor
	}
	id, err := parseID(walletID, ErrWalletNotFound)
	if err != nil {
		return page.Page[Entry]{Items: []Entry{}}, nil
	}
	var rows []entryRow
	if err := sqlx.SelectContext(ctx, l.q(ctx), &rows, selectEntries, id, k.ID, limit+1); err != nil {
		return page.Page[Entry]{}, ledgerErr(err, "entries", nil)
	}
	es := make([]Entry, len(rows))
	for i, r := range rows {
		es[i] = Entry{ID: strconv.FormatInt(r.ID, 10), TransactionID: r.TransactionID, Kind: r.Kind, Amount: r.Amount,
			Currency: r.Currency, Description: r.Description, CreatedAt: r.CreatedAt.UTC()}
	}
	return page.Of(es, limit, func(e Entry) any {
		n, _ := strconv.ParseInt(e.ID, 10, 64)
		return entryKey{ID: n}
	}), nil
}

// reconcile compares each stored balance with the sum of the account's
// postings, in one statement and so over one snapshot: a post committing
// meanwhile is seen whole or not at all.
const reconcile = `
SELECT a.id, a.balance AS stored, coalesce(s.total, 0)::bigint AS computed
FROM accounts a
LEFT JOIN (SELECT account_id, sum(amount) AS total FROM postings GROUP BY account_id) s ON s.account_id = a.id
WHERE a.balance <> coalesce(s.total, 0)
ORDER BY a.id`

type differenceRow struct {
	AccountID string `db:"id"`
	Stored    int64  `db:"stored"`
	Computed  int64  `db:"computed"`
}

// Reconcile recomputes every balance from the postings and returns the
// accounts whose stored balance differs, in id order; none when the ledger
// is consistent. It reads every posting. Errors: internal.
func (l *PostgresLedger) Reconcile(ctx context.Context) ([]Difference, error) {
	var rows []differenceRow
	if err := sqlx.SelectContext(ctx, l.q(ctx), &rows, reconcile); err != nil {
		return nil, ledgerErr(err, "reconcile", nil)
	}
	ds := make([]Difference, len(rows))
	for i, r := range rows {
		ds[i] = Difference(r)
	}
	return ds, nil
}
