package finance_test

import (
	"errors"
	"math/rand/v2"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/azora-os/azora/finance"
)

// BenchmarkPostTransfer measures Post alone (each in a transaction of its
// own, as a retrying caller runs it) over 100 funded wallets, 8 clients
// posting transfers between random pairs at once; it reports transfers/s,
// to set beside `pgbench -b tpcb-like -c 8 -j 2` tps on the same server:
//
//	go test ./finance/ -run '^$' -bench BenchmarkPostTransfer -benchtime 10s
func BenchmarkPostTransfer(b *testing.B) {
	f := newPLFixture(b)
	const wallets = 100
	ids := make([]string, wallets)
	for i := range ids {
		ids[i] = f.wallet(b, "USD").ID
		f.fund(b, ids[i], 1_000_000_000, "USD")
	}
	var short atomic.Int64
	var seed atomic.Uint64
	// RunParallel starts parallelism × GOMAXPROCS goroutines: 8 clients, as pgbench -c 8.
	b.SetParallelism(max(1, 8/runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		rng := rand.New(rand.NewPCG(seed.Add(1), 42))
		for pb.Next() {
			i := rng.IntN(wallets)
			j := (i + 1 + rng.IntN(wallets-1)) % wallets
			err := f.l.Post(f.ctx, plTransfer(ids[i], ids[j], 1+rng.Int64N(100), "USD"))
			if errors.Is(err, finance.ErrInsufficientFunds) {
				short.Add(1)
			} else if err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "transfers/s")
	if short.Load() > 0 {
		b.Errorf("%d transfers refused for insufficient funds; the wallets were funded to never run dry", short.Load())
	}
	f.noDifferences(b)
}
