package finance

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/pg"
)

// postPlan is a validated Transaction in the shape Post's statements take.
type postPlan struct {
	id, kind, ref, desc string
	at                  time.Time
	// One element per posting, in the caller's order.
	accounts   []string
	amounts    []int64
	currencies []string
	// One element per distinct account, in id order.
	ids    []string
	deltas []int64
	// The currency every posting to an account names.
	currencyOf map[string]string
	check      func([]Account) error
}

// planPost checks t and aggregates its postings per account. A malformed
// transaction (fewer than two postings, a zero amount, postings that do not
// sum to zero per currency, a missing kind or reference) is a programming
// error of the caller: internal. An account id that is not a UUID names no
// wallet; one account named in two currencies cannot match both.
func planPost(t Transaction) (postPlan, error) {
	bad := func(format string, args ...any) error {
		return errs.Internalf(fmt.Errorf(format, args...), "finance: post %s %q", t.Kind, t.Reference)
	}
	if t.Kind == "" || t.Reference == "" {
		return postPlan{}, bad("a transaction needs a kind and a reference")
	}
	if len(t.Postings) < 2 {
		return postPlan{}, bad("%d postings, want at least 2", len(t.Postings))
	}
	id := t.ID
	if id == "" {
		u, err := uuid.NewV7()
		if err != nil {
			return postPlan{}, errs.Internalf(err, "finance: transaction id")
		}
		id = u.String()
	} else if u, err := uuid.Parse(id); err == nil {
		id = u.String()
	} else {
		return postPlan{}, bad("transaction id %q is not a UUID", t.ID)
	}
	pp := postPlan{id: id, kind: t.Kind, ref: t.Reference, desc: t.Description, at: orNow(t.CreatedAt),
		currencyOf: make(map[string]string, len(t.Postings)), check: t.Check}
	sums := map[string]int64{}
	deltas := map[string]int64{}
	for _, p := range t.Postings {
		if p.Amount == 0 {
			return postPlan{}, bad("a zero posting to %s", p.AccountID)
		}
		acc, err := parseID(p.AccountID, ErrWalletNotFound)
		if err != nil {
			return postPlan{}, err
		}
		if c, seen := pp.currencyOf[acc]; seen && c != p.Currency {
			return postPlan{}, ErrCurrencyMismatch
		}
		pp.currencyOf[acc] = p.Currency
		var ok bool
		if sums[p.Currency], ok = addInt64(sums[p.Currency], p.Amount); !ok {
			return postPlan{}, bad("the %s postings overflow", p.Currency)
		}
		if deltas[acc], ok = addInt64(deltas[acc], p.Amount); !ok {
			return postPlan{}, bad("the postings to %s overflow", acc)
		}
		pp.accounts = append(pp.accounts, acc)
		pp.amounts = append(pp.amounts, p.Amount)
		pp.currencies = append(pp.currencies, p.Currency)
	}
	for c, sum := range sums {
		if sum != 0 {
			return postPlan{}, bad("the %s postings sum to %d, want 0", c, sum)
		}
	}
	for acc := range deltas {
		pp.ids = append(pp.ids, acc)
	}
	slices.Sort(pp.ids)
	for _, acc := range pp.ids {
		pp.deltas = append(pp.deltas, deltas[acc])
	}
	return pp, nil
}

// addInt64 returns a+b, and false when the sum overflows.
func addInt64(a, b int64) (int64, bool) {
	if (b > 0 && a > math.MaxInt64-b) || (b < 0 && a < math.MinInt64-b) {
		return 0, false
	}
	return a + b, true
}

// lockAccounts locks the accounts of a transaction in id order. Every Post
// takes its locks in that one order, so two posts over the same accounts
// (A→B and B→A) queue instead of deadlocking. NO KEY UPDATE is the lock an
// UPDATE of balance takes anyway; unlike FOR UPDATE it lets other
// transactions insert rows referencing the account (a top-up, another
// posting's foreign key check) without waiting.
const lockAccounts = `
SELECT id, kind, user_id, currency, balance FROM accounts
WHERE id = ANY ($1::uuid[])
ORDER BY id
FOR NO KEY UPDATE`

type lockedAccount struct {
	ID       string         `db:"id"`
	Kind     string         `db:"kind"`
	UserID   sql.NullString `db:"user_id"`
	Currency string         `db:"currency"`
	Balance  int64          `db:"balance"`
}

// insertTransaction writes the transaction, its postings and the new
// balances in one statement, after lockAccounts (so the balances it adds to
// are the ones Post checked). A (kind, reference) already posted inserts
// nothing and the statement writes nothing (and does not fail, so the
// caller's transaction stays usable); it returns how many transactions it
// inserted.
const insertTransaction = `
WITH t AS (
    INSERT INTO transactions (id, kind, reference, description, created_at)
    VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT (kind, reference) DO NOTHING
    RETURNING id, created_at
), p AS (
    INSERT INTO postings (transaction_id, account_id, amount, currency, created_at)
    SELECT t.id, x.account_id, x.amount, x.currency, t.created_at
    FROM t, unnest($6::uuid[], $7::bigint[], $8::text[]) WITH ORDINALITY AS x(account_id, amount, currency, n)
    ORDER BY x.n
), b AS (
    UPDATE accounts a SET balance = a.balance + d.delta
    FROM unnest($9::uuid[], $10::bigint[]) AS d(id, delta)
    WHERE a.id = d.id AND EXISTS (SELECT FROM t)
)
SELECT count(*) FROM t`

const selectPosted = `SELECT EXISTS (SELECT FROM transactions WHERE kind = $1 AND reference = $2)`

// Post writes t: it checks that t has at least two postings, none zero,
// summing to zero per currency (else internal: a programming error), locks
// t's accounts in id order (so concurrent posts never deadlock), checks
// that each posting's currency is its account's, refuses to take a wallet
// or a platform account other than stripe_clearing below zero and a
// receivable above zero (a receivable may go below: that is debt), and then
// inserts the transaction and its postings and updates the balances in one
// statement. t.Check, when set, runs on the locked accounts before Post
// looks at them. An empty t.ID gets a UUIDv7; a zero CreatedAt is now.
//
// Errors: wallet_not_found for an account that does not exist (or an id
// that is not a UUID); currency_mismatch; insufficient_funds; already_posted
// when t's (kind, reference) was posted before, also when it was posted
// concurrently (the second waits for the first to commit); t.Check's error
// (a domain error unchanged); internal, also for a receivable taken above
// zero. After any of the domain errors
// nothing is written and the transaction in ctx remains usable (so a caller
// can record the failure in it).
//
// Post runs in the transaction ctx carries, or else in one of its own that
// is retried on a serialization failure or deadlock. When it joins the
// caller's transaction such an abort is returned (as internal, the
// driver's error in its chain) and the caller must re-run the whole
// transaction: call Post through pg.Tx or a Transactor, which do.
func (l *PostgresLedger) Post(ctx context.Context, t Transaction) error {
	pp, err := planPost(t)
	if err != nil {
		return err
	}
	err = pg.Tx(ctx, l.db, nil, func(ctx context.Context, _ *sqlx.Tx) error { return l.postOnce(ctx, pp) })
	return ledgerErr(err, "post", nil)
}

// postOnce is one attempt at posting pp in the transaction ctx carries:
// two statements (one round trip each, prepared) when it succeeds.
func (l *PostgresLedger) postOnce(ctx context.Context, pp postPlan) error {
	var locked []lockedAccount
	if err := stmtLockAccounts.SelectContext(ctx, l.db, &locked, pq.Array(pp.ids)); err != nil {
		return err
	}
	if pp.check != nil {
		accounts := make([]Account, len(locked))
		for i, a := range locked {
			accounts[i] = Account{ID: a.ID, Kind: a.Kind, UserID: a.UserID.String, Currency: a.Currency, Balance: a.Balance}
		}
		if err := pp.check(accounts); err != nil {
			return err
		}
	}
	if len(locked) != len(pp.ids) {
		return ErrWalletNotFound
	}
	short, over := false, ""
	for _, a := range locked {
		if pp.currencyOf[a.ID] != a.Currency {
			return ErrCurrencyMismatch
		}
		i, _ := slices.BinarySearch(pp.ids, a.ID)
		after, ok := addInt64(a.Balance, pp.deltas[i])
		if !ok {
			return errs.Internalf(errors.New("balance overflow"), "finance: post %s %q to %s", pp.kind, pp.ref, a.ID)
		}
		switch {
		case a.Kind == KindReceivable && after > 0:
			over = a.ID
		case after < 0 && a.Kind != KindClearing && a.Kind != KindReceivable:
			short = true
		}
	}
	if short || over != "" {
		// A retried post whose first attempt was written (and spent the
		// money, or paid the debt) is already_posted, not refused. Only
		// this rare path pays for the look-up; otherwise the insert's ON
		// CONFLICT says.
		var posted bool
		if err := sqlx.GetContext(ctx, l.q(ctx), &posted, selectPosted, pp.kind, pp.ref); err != nil {
			return err
		}
		switch {
		case posted:
			return ErrAlreadyPosted
		case over != "":
			// Repaying more than the user owes is the caller's mistake,
			// not the user's: the caller plans from the receivable's
			// balance (and checks it in t.Check).
			return errs.Internalf(errors.New("a receivable would go above zero"), "finance: post %s %q to %s", pp.kind, pp.ref, over)
		}
		return ErrInsufficientFunds
	}
	var n int
	err := stmtInsertTransaction.GetContext(ctx, l.db, &n, pp.id, pp.kind, pp.ref, pp.desc, pp.at,
		pq.Array(pp.accounts), pq.Array(pp.amounts), pq.Array(pp.currencies),
		pq.Array(pp.ids), pq.Array(pp.deltas))
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrAlreadyPosted
	}
	return nil
}
