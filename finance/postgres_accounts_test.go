package finance_test

import (
	"sync"
	"testing"
	"time"

	"github.com/azora-os/azora/finance"
	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/page"
	"github.com/azora-os/azora/shared/pg"
)

func TestPostgresLedgerOpenWallet(t *testing.T) {
	t.Parallel()
	f := newPLFixture(t)
	user := plID()
	at := time.Date(2025, 3, 1, 12, 0, 0, 123000, time.UTC)
	id := plID()
	w, created, err := f.l.OpenWallet(f.ctx, id, user, "USD", at)
	if err != nil || !created {
		t.Fatalf("first open: got created %v, err %v; want created", created, err)
	}
	want := finance.Wallet{ID: id, UserID: user, Currency: "USD", Balance: 0, CreatedAt: at}
	if w != want {
		t.Errorf("first open: got %+v, want %+v", w, want)
	}
	again, created, err := f.l.OpenWallet(f.ctx, plID(), user, "USD", time.Now())
	if err != nil || created || again != want {
		t.Errorf("second open: got %+v, created %v, err %v; want the first wallet, not created", again, created, err)
	}
	other, created, err := f.l.OpenWallet(f.ctx, plID(), user, "EUR", time.Time{})
	if err != nil || !created || other.Currency != "EUR" || other.CreatedAt.IsZero() {
		t.Errorf("another currency: got %+v, created %v, err %v; want a new EUR wallet", other, created, err)
	}

	tests := []struct {
		name, id, user, currency string
		want                     errs.Kind
	}{
		{"malformed user", plID(), "nobody", "USD", errs.Invalid},
		{"lower-case currency", plID(), plID(), "usd", errs.Invalid},
		{"long currency", plID(), plID(), "USDT", errs.Invalid},
		{"malformed id", "w-1", plID(), "USD", errs.Internal},
		{"id taken by another wallet", id, plID(), "USD", errs.Internal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := f.l.OpenWallet(f.ctx, tt.id, tt.user, tt.currency, time.Time{})
			if err == nil || errs.KindOf(err) != tt.want {
				t.Errorf("got %v, want a %s error", err, tt.want)
			}
		})
	}
}

func TestPostgresLedgerOpenWalletConcurrently(t *testing.T) {
	t.Parallel()
	f := newPLFixture(t)
	user := plID()
	const clients = 12
	var wg sync.WaitGroup
	var mu sync.Mutex
	ids := map[string]int{}
	createdN := 0
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w, created, err := f.l.OpenWallet(f.ctx, plID(), user, "USD", time.Time{})
			if err != nil {
				t.Errorf("open: %v", err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			ids[w.ID]++
			if created {
				createdN++
			}
		}()
	}
	wg.Wait()
	if len(ids) != 1 || createdN != 1 {
		t.Errorf("got wallets %v and %d creations, want one wallet created once", ids, createdN)
	}
}

func TestPostgresLedgerWalletLookups(t *testing.T) {
	t.Parallel()
	f := newPLFixture(t)
	w := f.wallet(t, "USD")
	f.fund(t, w.ID, 70, "USD")
	fees, err := f.l.PlatformAccount(f.ctx, finance.KindFees, "USD")
	if err != nil {
		t.Fatal(err)
	}
	got, err := f.l.Wallet(f.ctx, w.ID)
	if err != nil || got.Balance != 70 || got.UserID != w.UserID || !got.CreatedAt.Equal(w.CreatedAt) {
		t.Errorf("wallet: got %+v, %v; want %+v with balance 70", got, err, w)
	}
	got, err = f.l.WalletOf(f.ctx, w.UserID, "USD")
	if err != nil || got.ID != w.ID || got.Balance != 70 {
		t.Errorf("wallet of: got %+v, %v; want %s with balance 70", got, err, w.ID)
	}
	tests := []struct {
		name string
		call func() error
	}{
		{"wallet: unknown", func() error { _, err := f.l.Wallet(f.ctx, plID()); return err }},
		{"wallet: malformed", func() error { _, err := f.l.Wallet(f.ctx, "12"); return err }},
		{"wallet: a platform account", func() error { _, err := f.l.Wallet(f.ctx, fees.ID); return err }},
		{"wallet of: other currency", func() error { _, err := f.l.WalletOf(f.ctx, w.UserID, "EUR"); return err }},
		{"wallet of: unknown user", func() error { _, err := f.l.WalletOf(f.ctx, plID(), "USD"); return err }},
		{"wallet of: malformed user", func() error { _, err := f.l.WalletOf(f.ctx, "bob", "USD"); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { plWantErr(t, tt.call(), finance.ErrWalletNotFound) })
	}
}

func TestPostgresLedgerWalletsPages(t *testing.T) {
	t.Parallel()
	f := newPLFixture(t)
	user := plID()
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var want []string
	for i, c := range []string{"USD", "EUR", "GBP", "JPY", "CHF"} {
		at := base.Add(time.Duration(i/2) * time.Hour) // two pairs share a created_at: the id breaks ties
		w, _, err := f.l.OpenWallet(f.ctx, plID(), user, c, at)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, w.ID)
	}
	f.wallet(t, "USD") // someone else's
	var got []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 3 {
			t.Fatal("more pages than wallets")
		}
		p, err := f.l.Wallets(f.ctx, user, page.Request{Limit: 2, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range p.Items {
			got = append(got, w.ID)
		}
		if p.NextCursor == "" {
			break
		}
		cursor = p.NextCursor
	}
	// UUIDv7s made in order sort in order, so oldest first is creation order.
	if len(got) != len(want) {
		t.Fatalf("got %d wallets, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("wallet %d: got %s, want %s", i, got[i], want[i])
		}
	}
	for _, tt := range []struct {
		name, user string
		p          page.Request
		want       int
		err        error
	}{
		{"all at once", user, page.Request{}, 5, nil},
		{"no wallets", plID(), page.Request{}, 0, nil},
		{"malformed user", "x", page.Request{}, 0, nil},
		{"bad cursor", user, page.Request{Cursor: "!!"}, 0, page.ErrBadCursor},
		{"cursor with a bad id", user, page.Request{Cursor: page.Encode(map[string]string{"i": "x"})}, 0, page.ErrBadCursor},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, err := f.l.Wallets(f.ctx, tt.user, tt.p)
			plWantErr(t, err, tt.err)
			if err == nil && (len(p.Items) != tt.want || p.Items == nil || p.NextCursor != "") {
				t.Errorf("got %d wallets (nil %v), cursor %q; want %d, no cursor", len(p.Items), p.Items == nil, p.NextCursor, tt.want)
			}
		})
	}
}

func TestPostgresLedgerPlatformAccount(t *testing.T) {
	t.Parallel()
	f := newPLFixture(t)
	id := oneAccount(t, func() (finance.Account, error) { return f.l.PlatformAccount(f.ctx, finance.KindRewards, "USD") },
		func(a finance.Account) bool {
			return a.Kind == finance.KindRewards && a.Currency == "USD" && a.UserID == "" && a.Balance == 0
		})
	fees, err := f.l.PlatformAccount(f.ctx, finance.KindFees, "USD")
	if err != nil || fees.ID == id {
		t.Errorf("fees: got %+v, %v; want an account of its own", fees, err)
	}
	eur, err := f.l.PlatformAccount(f.ctx, finance.KindRewards, "EUR")
	if err != nil || eur.ID == id || eur.Currency != "EUR" {
		t.Errorf("EUR rewards: got %+v, %v; want an account of its own", eur, err)
	}
	for _, tt := range []struct {
		name, kind, currency string
		want                 errs.Kind
	}{
		{"a wallet is no platform account", finance.KindWallet, "USD", errs.Internal},
		{"unknown kind", "bank", "USD", errs.Internal},
		{"bad currency", finance.KindFees, "us", errs.Invalid},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.l.PlatformAccount(f.ctx, tt.kind, tt.currency)
			if err == nil || errs.KindOf(err) != tt.want {
				t.Errorf("got %v, want a %s error", err, tt.want)
			}
		})
	}
}

func TestPostgresLedgerReceivable(t *testing.T) {
	t.Parallel()
	f := newPLFixture(t)
	w := f.wallet(t, "USD")
	if _, ok, err := f.l.Receivable(f.ctx, w.UserID, "USD"); ok || err != nil {
		t.Fatalf("before any debt: got found %v, err %v; want none", ok, err)
	}
	id := oneAccount(t, func() (finance.Account, error) { return f.l.OpenReceivable(f.ctx, w.UserID, "USD") },
		func(a finance.Account) bool {
			return a.Kind == finance.KindReceivable && a.UserID == w.UserID && a.Currency == "USD" && a.Balance == 0
		})
	r, ok, err := f.l.Receivable(f.ctx, w.UserID, "USD")
	if err != nil || !ok || r.ID != id {
		t.Errorf("receivable: got %+v, found %v, err %v; want %s", r, ok, err, id)
	}
	if r.ID == w.ID {
		t.Fatal("the receivable is the wallet")
	}

	// Beside the wallet, never in its place.
	got, err := f.l.WalletOf(f.ctx, w.UserID, "USD")
	if err != nil || got.ID != w.ID {
		t.Errorf("wallet of: got %+v, %v; want the wallet %s", got, err, w.ID)
	}
	plWantErr(t, func() error { _, err := f.l.Wallet(f.ctx, r.ID); return err }(), finance.ErrWalletNotFound)
	ws, err := f.l.Wallets(f.ctx, w.UserID, page.Request{})
	if err != nil || len(ws.Items) != 1 || ws.Items[0].ID != w.ID {
		t.Errorf("wallets: got %+v, %v; want only %s", ws.Items, err, w.ID)
	}
	// A receivable alone is no wallet either: WalletOf finds nothing, and
	// OpenWallet still creates the wallet (the old unique (user_id,
	// currency) would have found the receivable instead).
	debtor := plID()
	alone, err := f.l.OpenReceivable(f.ctx, debtor, "EUR")
	if err != nil {
		t.Fatal(err)
	}
	plWantErr(t, func() error { _, err := f.l.WalletOf(f.ctx, debtor, "EUR"); return err }(), finance.ErrWalletNotFound)
	if ws, err := f.l.Wallets(f.ctx, debtor, page.Request{}); err != nil || len(ws.Items) != 0 {
		t.Errorf("wallets of a user with only a receivable: got %+v, %v; want none", ws.Items, err)
	}
	ew, created, err := f.l.OpenWallet(f.ctx, plID(), debtor, "EUR", time.Time{})
	if err != nil || !created || ew.ID == alone.ID {
		t.Errorf("open wallet beside a receivable: got %+v, created %v, err %v; want a new wallet", ew, created, err)
	}

	for _, tt := range []struct {
		name, user, currency string
		want                 errs.Kind
	}{
		{"malformed user", "nobody", "USD", errs.Invalid},
		{"bad currency", plID(), "usd", errs.Invalid},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.l.OpenReceivable(f.ctx, tt.user, tt.currency)
			if err == nil || errs.KindOf(err) != tt.want {
				t.Errorf("got %v, want a %s error", err, tt.want)
			}
		})
	}
	if _, ok, err := f.l.Receivable(f.ctx, "nobody", "USD"); ok || err != nil {
		t.Errorf("receivable of a malformed user: got found %v, err %v; want none", ok, err)
	}
}

// TestAccountsSchemaReceivables checks migration 0003's constraints
// directly, as a backstop independent of the adapter's own checks.
func TestAccountsSchemaReceivables(t *testing.T) {
	t.Parallel()
	f := newPLFixture(t)
	w := f.wallet(t, "USD")
	r, err := f.l.OpenReceivable(f.ctx, w.UserID, "USD")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, sql  string
		args       []any
		constraint string // "" when the statement must succeed
	}{
		{"a receivable may go below zero", `UPDATE accounts SET balance = -5 WHERE id = $1`, []any{r.ID}, ""},
		{"a receivable may not go above zero", `UPDATE accounts SET balance = 1 WHERE id = $1`, []any{r.ID}, "accounts_receivable_non_positive"},
		{"a wallet still may not go below zero", `UPDATE accounts SET balance = -1 WHERE id = $1`, []any{w.ID}, "accounts_balance_non_negative"},
		{"a receivable needs an owner", `INSERT INTO accounts (id, kind, currency) VALUES ($1, 'receivable', 'USD')`, []any{plID()}, "accounts_owner_valid"},
		{"one receivable per user and currency", `INSERT INTO accounts (id, kind, user_id, currency) VALUES ($1, 'receivable', $2, 'USD')`,
			[]any{plID(), w.UserID}, "accounts_receivable_user_currency_key"},
		{"one wallet per user and currency", `INSERT INTO accounts (id, kind, user_id, currency) VALUES ($1, 'wallet', $2, 'USD')`,
			[]any{plID(), w.UserID}, "accounts_wallet_user_currency_key"},
		{"an unknown kind", `INSERT INTO accounts (id, kind, user_id, currency) VALUES ($1, 'loan', $2, 'USD')`,
			[]any{plID(), w.UserID}, "accounts_kind_valid"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tx, err := f.db.Beginx()
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback() // each case leaves the table as it found it
			_, err = tx.Exec(tt.sql, tt.args...)
			if tt.constraint == "" {
				if err != nil {
					t.Errorf("got %v, want success", err)
				}
				return
			}
			if got := pg.Constraint(err); got != tt.constraint {
				t.Errorf("got error %v (constraint %q), want a violation of %s", err, got, tt.constraint)
			}
		})
	}
	var invalid []string
	if err := f.db.Select(&invalid, `SELECT conname FROM pg_constraint WHERE conrelid = 'accounts'::regclass AND NOT convalidated`); err != nil {
		t.Fatal(err)
	}
	if len(invalid) != 0 {
		t.Errorf("constraints left NOT VALID after the migration: %v", invalid)
	}
}

// oneAccount calls open from 8 goroutines at once, as concurrent first
// uses do, checks each account it returns with ok, and returns the id they
// must all share: one account, however many raced to create it.
func oneAccount(t *testing.T, open func() (finance.Account, error), ok func(finance.Account) bool) string {
	t.Helper()
	const clients = 8
	var wg sync.WaitGroup
	ids := make([]string, clients)
	for i := range clients {
		wg.Go(func() {
			a, err := open()
			if err != nil {
				t.Errorf("open: %v", err)
				return
			}
			if !ok(a) {
				t.Errorf("got %+v, not the empty account asked for", a)
			}
			ids[i] = a.ID
		})
	}
	wg.Wait()
	for i := range ids {
		if ids[i] != ids[0] {
			t.Fatalf("got accounts %v, want one shared by the concurrent opens", ids)
		}
	}
	return ids[0]
}
