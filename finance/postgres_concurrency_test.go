package finance_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/azora-os/azora/finance"
)

func TestPostgresLedgerOverdraftRace(t *testing.T) {
	t.Parallel()
	f := newPLFixture(t)
	src, dst := f.wallet(t, "USD"), f.wallet(t, "USD")
	f.fund(t, src.ID, 100, "USD")
	const clients = 64
	var wg sync.WaitGroup
	var ok, short, other atomic.Int64
	start := make(chan struct{})
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tx := plTransfer(src.ID, dst.ID, 100, "USD")
			<-start
			switch err := f.l.Post(f.ctx, tx); {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, finance.ErrInsufficientFunds):
				short.Add(1)
			default:
				other.Add(1)
				t.Errorf("post: %v", err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if ok.Load() != 1 || short.Load() != clients-1 {
		t.Errorf("got %d posted and %d insufficient_funds (%d other), want 1 and %d", ok.Load(), short.Load(), other.Load(), clients-1)
	}
	if got := f.balance(t, src.ID); got != 0 {
		t.Errorf("source balance: got %d, want 0", got)
	}
	if got := f.balance(t, dst.ID); got != 100 {
		t.Errorf("destination balance: got %d, want 100", got)
	}
	if got := f.count(t, "postings"); got != 4 {
		t.Errorf("postings: got %d, want 4 (the funding and one transfer)", got)
	}
	f.noDifferences(t)
}

// TestPostgresLedgerOppositeTransfers runs 32 clients moving money A→B and
// B→A (and through a third wallet C) at once. Half of them post in a
// transaction of their own that is never retried, so a deadlock or a
// serialization failure would reach them: locking in id order must leave
// none to retry. The other half call Post alone, as a service does.
func TestPostgresLedgerOppositeTransfers(t *testing.T) {
	t.Parallel()
	f := newPLFixture(t)
	ws := []finance.Wallet{f.wallet(t, "USD"), f.wallet(t, "USD"), f.wallet(t, "USD")}
	for _, w := range ws {
		f.fund(t, w.ID, 500, "USD")
	}
	const clients = 32
	deadline := time.Now().Add(2 * time.Second)
	var wg sync.WaitGroup
	var posted, short atomic.Int64
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(c), 7))
			for time.Now().Before(deadline) {
				i := rng.IntN(len(ws))
				j := (i + 1 + rng.IntN(len(ws)-1)) % len(ws)
				tx := plTransfer(ws[i].ID, ws[j].ID, 1+rng.Int64N(120), "USD")
				if rng.IntN(4) == 0 { // also a three-leg post through the third wallet
					k := 3 - i - j
					tx.Postings = append(tx.Postings, finance.Posting{ws[k].ID, -7, "USD"}, finance.Posting{ws[i].ID, 7, "USD"})
				}
				var err error
				if c%2 == 0 {
					err = f.inTx(func(ctx context.Context) error { return f.l.Post(ctx, tx) })
				} else {
					err = f.l.Post(f.ctx, tx)
				}
				switch {
				case err == nil:
					posted.Add(1)
				case errors.Is(err, finance.ErrInsufficientFunds):
					short.Add(1)
				default:
					t.Errorf("client %d: got %v, want success or insufficient_funds", c, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("%d posted, %d refused for insufficient funds", posted.Load(), short.Load())
	if posted.Load() < clients {
		t.Errorf("got %d posts, want at least %d: the clients barely ran", posted.Load(), clients)
	}
	var total int64
	for _, w := range ws {
		b := f.balance(t, w.ID)
		if b < 0 {
			t.Errorf("wallet %s: got balance %d, want ≥ 0", w.ID, b)
		}
		total += b
	}
	if total != 1500 {
		t.Errorf("total of the balances: got %d, want 1500", total)
	}
	if got, want := f.count(t, "transactions"), 3+int(posted.Load()); got != want {
		t.Errorf("transactions: got %d, want %d", got, want)
	}
	f.noDifferences(t)
}

func TestPostgresLedgerSameReferenceConcurrently(t *testing.T) {
	t.Parallel()
	f := newPLFixture(t)
	a, b := f.wallet(t, "USD"), f.wallet(t, "USD")
	f.fund(t, a.ID, 1000, "USD")
	const clients = 16
	ref := plID()
	var wg sync.WaitGroup
	var ok, dup atomic.Int64
	start := make(chan struct{})
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tx := plTransfer(a.ID, b.ID, 10, "USD")
			tx.Kind, tx.Reference = finance.TxEnrollmentCharge, ref
			<-start
			switch err := f.l.Post(f.ctx, tx); {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, finance.ErrAlreadyPosted):
				dup.Add(1)
			default:
				t.Errorf("post: %v", err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if ok.Load() != 1 || dup.Load() != clients-1 {
		t.Errorf("got %d posted and %d already_posted, want 1 and %d", ok.Load(), dup.Load(), clients-1)
	}
	var n int
	if err := f.db.Get(&n, `SELECT count(*) FROM postings p JOIN transactions t ON t.id = p.transaction_id
		WHERE t.kind = $1 AND t.reference = $2`, finance.TxEnrollmentCharge, ref); err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("postings of the reference: got %d, want 2", n)
	}
	if got := f.balance(t, b.ID); got != 10 {
		t.Errorf("destination balance: got %d, want 10", got)
	}
	f.noDifferences(t)
}
