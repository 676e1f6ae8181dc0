package finance_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/azora-os/azora/finance"
	"github.com/azora-os/azora/shared/events"
	"github.com/azora-os/azora/shared/page"
	"github.com/azora-os/azora/shared/pg"
	"github.com/azora-os/azora/shared/pg/pgtest"
)

// TestChargeEnrollmentRacingFirstDeliveries runs two first deliveries of
// one enrollment.requested at once, as two consumers can after a
// rebalance: neither sees a charge record to lock, both try to charge,
// and the second must end quietly (not fail and be retried or parked)
// with the student charged once.
func TestChargeEnrollmentRacingFirstDeliveries(t *testing.T) {
	db, _ := pgtest.New(t, finance.Migrations, events.Migrations)
	ledger := finance.NewPostgresLedger(db)
	svc := finance.NewService(finance.Deps{Ledger: ledger, Tx: pg.Transactor{DB: db}, Outbox: events.Enqueue}, finance.Config{})
	ctx := context.Background()
	student, instructor, enrollment := uuid.NewString(), uuid.NewString(), uuid.NewString()
	var wallet finance.Wallet
	err := pg.Tx(ctx, db, nil, func(ctx context.Context, _ *sqlx.Tx) error {
		var err error
		if wallet, _, err = ledger.OpenWallet(ctx, uuid.NewString(), student, "USD", time.Now().UTC()); err != nil {
			return err
		}
		clearing, err := ledger.PlatformAccount(ctx, finance.KindClearing, "USD")
		if err != nil {
			return err
		}
		return ledger.Post(ctx, finance.Transaction{ID: uuid.NewString(), Kind: finance.TxTopup, Reference: "fund", CreatedAt: time.Now().UTC().Truncate(time.Microsecond),
			Postings: []finance.Posting{{AccountID: clearing.ID, Amount: -1000, Currency: "USD"}, {AccountID: wallet.ID, Amount: 1000, Currency: "USD"}}})
	})
	if err != nil {
		t.Fatal(err)
	}

	for round := range 5 {
		enrollment = uuid.NewString()
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = svc.ChargeEnrollment(ctx, enrollment, uuid.NewString(), student, instructor, finance.Money{Amount: 100, Currency: "USD"})
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("round %d delivery %d: got %v, want nil", round, i, err)
			}
		}
	}
	got, err := ledger.Wallet(ctx, wallet.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Balance != 500 {
		t.Errorf("balance after 5 enrollments charged by racing deliveries: got %d, want 500", got.Balance)
	}
}

// rxWorld is the service over the real PostgresLedger on a throwaway
// database, as the event consumer runs it.
type rxWorld struct {
	db     *sqlx.DB
	ledger *finance.PostgresLedger
	svc    *finance.FinanceService
	ctx    context.Context
}

func newRXWorld(t *testing.T) *rxWorld {
	t.Helper()
	db, _ := pgtest.New(t, finance.Migrations, events.Migrations)
	ledger := finance.NewPostgresLedger(db)
	svc := finance.NewService(finance.Deps{Ledger: ledger, Tx: pg.Transactor{DB: db}, Outbox: events.Enqueue},
		finance.Config{FeeBasisPoints: 1000})
	return &rxWorld{db: db, ledger: ledger, svc: svc, ctx: context.Background()}
}

// user registers a new user (as auth's event does) and returns the user
// id and the default USD wallet.
func (w *rxWorld) user(t *testing.T) (string, finance.Wallet) {
	t.Helper()
	id := uuid.NewString()
	// The consumer runs a reaction in its inbox transaction.
	err := pg.Tx(w.ctx, w.db, nil, func(ctx context.Context, _ *sqlx.Tx) error { return w.svc.OpenDefaultWallet(ctx, id) })
	if err != nil {
		t.Fatal(err)
	}
	wl, err := w.ledger.WalletOf(w.ctx, id, "USD")
	if err != nil {
		t.Fatal(err)
	}
	return id, wl
}

// fund credits a wallet from stripe_clearing, as a card top-up does.
func (w *rxWorld) fund(t *testing.T, walletID string, amount int64) {
	t.Helper()
	err := pg.Tx(w.ctx, w.db, nil, func(ctx context.Context, _ *sqlx.Tx) error {
		clearing, err := w.ledger.PlatformAccount(ctx, finance.KindClearing, "USD")
		if err != nil {
			return err
		}
		return w.ledger.Post(ctx, finance.Transaction{ID: uuid.NewString(), Kind: finance.TxTopup, Reference: "pi_" + uuid.NewString(),
			Postings: []finance.Posting{{AccountID: clearing.ID, Amount: -amount, Currency: "USD"}, {AccountID: walletID, Amount: amount, Currency: "USD"}}})
	})
	if err != nil {
		t.Fatal(err)
	}
}

func (w *rxWorld) balance(t *testing.T, id string) int64 {
	t.Helper()
	var b int64
	if err := w.db.Get(&b, `SELECT balance FROM accounts WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	return b
}

// debt returns the balance of the user's receivable, 0 when there is none.
func (w *rxWorld) debt(t *testing.T, userID string) int64 {
	t.Helper()
	r, ok, err := w.ledger.Receivable(w.ctx, userID, "USD")
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		return 0
	}
	return r.Balance
}

func (w *rxWorld) fees(t *testing.T) int64 {
	t.Helper()
	a, err := w.ledger.PlatformAccount(w.ctx, finance.KindFees, "USD")
	if err != nil {
		t.Fatal(err)
	}
	return a.Balance
}

func (w *rxWorld) charge(t *testing.T, enrollment, student, instructor string, amount int64) {
	t.Helper()
	if err := w.svc.ChargeEnrollment(w.ctx, enrollment, uuid.NewString(), student, instructor, finance.Money{Amount: amount, Currency: "USD"}); err != nil {
		t.Fatalf("charge %s: %v", enrollment, err)
	}
	var status string
	if err := w.db.Get(&status, `SELECT status FROM charges WHERE enrollment_id = $1`, enrollment); err != nil || status != finance.ChargePaid {
		t.Fatalf("charge %s: got status %q, err %v; want paid", enrollment, status, err)
	}
}

// spentSale is an enrollment whose payout the instructor partly moved to a
// friend's wallet before the sale was cancelled: the refund finds the
// wallet short.
type spentSale struct {
	student, instructor, enrollment string
	studentWallet, wallet, friend   finance.Wallet
}

// sellSpendCancel sells a 1000 USD course (the instructor gets 900), has
// the instructor move spent of it away, then cancels the enrollment.
func (w *rxWorld) sellSpendCancel(t *testing.T, spent int64) spentSale {
	t.Helper()
	var s spentSale
	s.student, s.studentWallet = w.user(t)
	s.instructor, s.wallet = w.user(t)
	_, s.friend = w.user(t)
	w.fund(t, s.studentWallet.ID, 1000)
	s.enrollment = uuid.NewString()
	w.charge(t, s.enrollment, s.student, s.instructor, 1000)
	if got := w.balance(t, s.wallet.ID); got != 900 {
		t.Fatalf("instructor after the sale: got %d, want 900", got)
	}
	if _, err := w.svc.Transfer(w.ctx, finance.Actor{UserID: s.instructor}, finance.TransferRequest{
		FromWalletID: s.wallet.ID, ToWalletID: s.friend.ID, Amount: spent, Currency: "USD"}); err != nil {
		t.Fatalf("instructor transfers %d away: %v", spent, err)
	}
	if err := w.svc.EnrollmentCancelled(w.ctx, s.enrollment, s.student); err != nil {
		t.Fatalf("cancel: got %v, want the refund to go through", err)
	}
	return s
}

// invariants fails t unless the ledger is whole: every balance is the
// sum of its postings, all balances together sum to zero (each
// transaction does), no wallet is below zero and no receivable above.
func (w *rxWorld) invariants(t *testing.T) {
	t.Helper()
	ds, err := w.ledger.Reconcile(w.ctx)
	if err != nil || len(ds) != 0 {
		t.Errorf("reconcile: got %+v, %v; want no differences", ds, err)
	}
	var sum, negWallets, posDebts int64
	if err := w.db.Get(&sum, `SELECT coalesce(sum(balance), 0) FROM accounts`); err != nil {
		t.Fatal(err)
	}
	if err := w.db.Get(&negWallets, `SELECT count(*) FROM accounts WHERE kind = 'wallet' AND balance < 0`); err != nil {
		t.Fatal(err)
	}
	if err := w.db.Get(&posDebts, `SELECT count(*) FROM accounts WHERE kind = 'receivable' AND balance > 0`); err != nil {
		t.Fatal(err)
	}
	if sum != 0 || negWallets != 0 || posDebts != 0 {
		t.Errorf("got balances summing to %d, %d wallets below zero, %d receivables above; want 0, 0, 0", sum, negWallets, posDebts)
	}
}

// TestEnrollmentRefundAfterPayoutSpent: the instructor moved most of the
// payout away before the enrollment was cancelled. The student still gets
// the whole price back, the wallet gives what it holds, the rest becomes
// the instructor's debt, and the next sale pays that debt first.
func TestEnrollmentRefundAfterPayoutSpent(t *testing.T) {
	w := newRXWorld(t)
	s := w.sellSpendCancel(t, 600)
	student, instructor, first := s.student, s.instructor, s.enrollment
	sw, iw, friend := s.studentWallet, s.wallet, s.friend
	check := func(when string, studentWant, walletWant, debtWant, feesWant int64) {
		t.Helper()
		for _, c := range []struct {
			name      string
			got, want int64
		}{
			{"student wallet", w.balance(t, sw.ID), studentWant},
			{"instructor wallet", w.balance(t, iw.ID), walletWant},
			{"instructor receivable", w.debt(t, instructor), debtWant},
			{"platform fees", w.fees(t), feesWant},
			{"friend wallet", w.balance(t, friend.ID), 600},
		} {
			if c.got != c.want {
				t.Errorf("%s: %s: got %d, want %d", when, c.name, c.got, c.want)
			}
		}
	}
	check("after the refund", 1000, 0, -600, 0)
	refund, found, err := w.ledger.TransactionByRef(w.ctx, finance.TxEnrollmentRefund, first)
	if err != nil || !found || len(refund.Postings) != 4 {
		t.Errorf("refund transaction: got %+v, found %v, err %v; want 4 legs (student, wallet, receivable, fees)", refund, found, err)
	}

	var txs int
	count := func() int {
		if err := w.db.Get(&txs, `SELECT count(*) FROM transactions`); err != nil {
			t.Fatal(err)
		}
		return txs
	}
	before := count()
	if err := w.svc.EnrollmentCancelled(w.ctx, first, student); err != nil {
		t.Fatalf("cancel redelivered: got %v, want nil", err)
	}
	if got := count(); got != before {
		t.Errorf("transactions after a redelivered cancel: got %d, want %d", got, before)
	}
	check("after the redelivered cancel", 1000, 0, -600, 0)

	// The next sale: 900 of share, 600 pay the debt, 300 reach the wallet.
	second, sw2 := w.user(t)
	w.fund(t, sw2.ID, 1000)
	w.charge(t, uuid.NewString(), second, instructor, 1000)
	check("after the next sale", 1000, 300, 0, 100)
	if got := w.balance(t, sw2.ID); got != 0 {
		t.Errorf("second student: got %d, want 0", got)
	}
	// Owing nothing, the sale after that pays the wallet in full.
	third, sw3 := w.user(t)
	w.fund(t, sw3.ID, 1000)
	w.charge(t, uuid.NewString(), third, instructor, 1000)
	check("after a sale owing nothing", 1000, 1200, 0, 200)
	w.invariants(t)

	// The receivable is no wallet to anyone.
	r, ok, err := w.ledger.Receivable(w.ctx, instructor, "USD")
	if err != nil || !ok {
		t.Fatalf("receivable: found %v, err %v", ok, err)
	}
	owner := finance.Actor{UserID: instructor}
	admin := finance.Actor{UserID: uuid.NewString(), Roles: []string{"admin"}}
	for _, tt := range []struct {
		name string
		call func() error
	}{
		{"transfer from the receivable", func() error {
			_, err := w.svc.Transfer(w.ctx, owner, finance.TransferRequest{FromWalletID: r.ID, ToWalletID: friend.ID, Amount: 1, Currency: "USD"})
			return err
		}},
		{"transfer from the receivable to a malformed id", func() error {
			_, err := w.svc.Transfer(w.ctx, owner, finance.TransferRequest{FromWalletID: r.ID, ToWalletID: "x", Amount: 1, Currency: "USD"})
			return err
		}},
		{"transfer to the receivable", func() error {
			_, err := w.svc.Transfer(w.ctx, owner, finance.TransferRequest{FromWalletID: iw.ID, ToWalletID: r.ID, Amount: 1, Currency: "USD"})
			return err
		}},
		{"wallet by id, its owner", func() error { _, err := w.svc.Wallet(w.ctx, owner, r.ID); return err }},
		{"wallet by id, an admin", func() error { _, err := w.svc.Wallet(w.ctx, admin, r.ID); return err }},
		{"transactions", func() error { _, err := w.svc.Transactions(w.ctx, owner, r.ID, page.Request{}); return err }},
		{"top-up", func() error {
			_, err := w.svc.CreateTopup(w.ctx, owner, r.ID, finance.Money{Amount: 1, Currency: "USD"})
			return err
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); !errors.Is(err, finance.ErrWalletNotFound) {
				t.Errorf("got %v, want wallet_not_found", err)
			}
		})
	}
	ws, err := w.svc.Wallets(w.ctx, owner, page.Request{})
	if err != nil || len(ws.Items) != 1 || ws.Items[0].ID != iw.ID {
		t.Errorf("wallets: got %+v, %v; want only the wallet %s", ws.Items, err, iw.ID)
	}
	if got, err := w.ledger.WalletOf(w.ctx, instructor, "USD"); err != nil || got.ID != iw.ID {
		t.Errorf("wallet of: got %+v, %v; want the wallet %s", got, err, iw.ID)
	}
	if got := w.balance(t, r.ID); got != 0 {
		t.Errorf("receivable after the refused calls: got %d, want 0", got)
	}
}

// TestEnrollmentRefundsRaceInstructorTransfers cancels several paid
// enrollments of one instructor while the instructor transfers money out
// as fast as possible. Each refund reads the wallet, then Post locks it:
// a transfer committing in between leaves the wallet short of the plan,
// and the refund must plan again instead of failing.
func TestEnrollmentRefundsRaceInstructorTransfers(t *testing.T) {
	w := newRXWorld(t)
	const rounds, students, transfers, amount = 3, 6, 12, 400
	for round := range rounds {
		instructor, iw := w.user(t)
		_, friend := w.user(t)
		type sale struct{ student, enrollment, wallet string }
		var sales []sale
		for range students {
			id, sw := w.user(t)
			w.fund(t, sw.ID, 1000)
			e := uuid.NewString()
			w.charge(t, e, id, instructor, 1000)
			sales = append(sales, sale{id, e, sw.ID})
		}
		feesBefore := w.fees(t)
		var wg sync.WaitGroup
		start := make(chan struct{})
		refundErrs := make([]error, students)
		moved := make([]bool, transfers)
		for i, s := range sales {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				refundErrs[i] = w.svc.EnrollmentCancelled(w.ctx, s.enrollment, s.student)
			}()
		}
		for i := range transfers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, err := w.svc.Transfer(w.ctx, finance.Actor{UserID: instructor}, finance.TransferRequest{
					FromWalletID: iw.ID, ToWalletID: friend.ID, Amount: amount, Currency: "USD"})
				switch {
				case err == nil:
					moved[i] = true
				case !errors.Is(err, finance.ErrInsufficientFunds):
					t.Errorf("round %d transfer %d: got %v, want success or insufficient_funds", round, i, err)
				}
			}()
		}
		close(start)
		wg.Wait()
		for i, err := range refundErrs {
			if err != nil {
				t.Errorf("round %d refund %d: got %v, want nil", round, i, err)
			}
		}
		var out int64
		for _, ok := range moved {
			if ok {
				out += amount
			}
		}
		for i, s := range sales {
			if got := w.balance(t, s.wallet); got != 1000 {
				t.Errorf("round %d student %d: got %d, want 1000 (refunded in full)", round, i, got)
			}
		}
		wallet, debt := w.balance(t, iw.ID), w.debt(t, instructor)
		// The instructor earned 6 × 900 and gave it all back: what left by
		// transfer is exactly what the wallet lacks plus what is owed.
		if wallet < 0 || debt > 0 || wallet+debt != -out || w.balance(t, friend.ID) != out {
			t.Errorf("round %d: wallet %d, debt %d, transferred out %d (friend holds %d); want wallet ≥ 0, debt ≤ 0, wallet + debt = −out",
				round, wallet, debt, out, w.balance(t, friend.ID))
		}
		if got := w.fees(t); got != feesBefore-students*100 {
			t.Errorf("round %d fees: got %d, want %d", round, got, feesBefore-students*100)
		}
	}
	w.invariants(t)
}

// TestEnrollmentChargesRaceDebtRecovery charges several students of an
// indebted instructor at once, the debt smaller than one share. Each
// charge reads the debt and plans to repay it; all but the first find it
// repaid once Post has locked the receivable, and must plan again: the
// students' payments all complete, the debt is repaid exactly once, and
// the rest reaches the wallet.
func TestEnrollmentChargesRaceDebtRecovery(t *testing.T) {
	w := newRXWorld(t)
	const rounds, buyers, spent = 4, 8, 450
	for round := range rounds {
		// The instructor spends part of the payout, then the sale is
		// cancelled: the wallet gives back 450, the other 450 is owed.
		sale := w.sellSpendCancel(t, spent)
		instructor, iw := sale.instructor, sale.wallet
		if got := w.debt(t, instructor); got != -spent {
			t.Fatalf("round %d: debt before the race: got %d, want %d", round, got, -spent)
		}
		type buyer struct{ id, wallet, enrollment string }
		var bs []buyer
		for range buyers {
			id, bw := w.user(t)
			w.fund(t, bw.ID, 1000)
			bs = append(bs, buyer{id, bw.ID, uuid.NewString()})
		}
		feesBefore := w.fees(t)
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make([]error, buyers)
		for i, b := range bs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				errs[i] = w.svc.ChargeEnrollment(w.ctx, b.enrollment, uuid.NewString(), b.id, instructor, finance.Money{Amount: 1000, Currency: "USD"})
			}()
		}
		close(start)
		wg.Wait()
		for i, b := range bs {
			var status string
			if err := w.db.Get(&status, `SELECT status FROM charges WHERE enrollment_id = $1`, b.enrollment); err != nil && errs[i] == nil {
				t.Fatal(err)
			}
			if errs[i] != nil || status != finance.ChargePaid || w.balance(t, b.wallet) != 0 {
				t.Errorf("round %d buyer %d: got err %v, status %q, balance %d; want paid, 0 left", round, i, errs[i], status, w.balance(t, b.wallet))
			}
		}
		// 8 × 900 of shares: 450 repay the debt, the rest reaches the wallet.
		if wallet, debt := w.balance(t, iw.ID), w.debt(t, instructor); wallet != buyers*900-spent || debt != 0 {
			t.Errorf("round %d instructor: wallet %d, debt %d; want %d and 0", round, wallet, debt, buyers*900-spent)
		}
		if got := w.fees(t); got != feesBefore+buyers*100 {
			t.Errorf("round %d fees: got %d, want %d", round, got, feesBefore+buyers*100)
		}
	}
	w.invariants(t)
}
