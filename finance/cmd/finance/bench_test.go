package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os/exec"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/azora-os/azora/shared/pg/pgtest"
)

// BenchmarkTransfersVsPgbench drives POST /api/v1/transfers over HTTP (with
// Idempotency-Key, double entry and the outbox) from concurrent clients
// between 100 wallets for a fixed time, then runs pgbench's tpcb-like
// workload for the same time against the same Postgres server, and reports
// both rates and their ratio. scripts/bench-transfers.sh runs it.
//
//	go test -run '^$' -bench BenchmarkTransfersVsPgbench -benchtime 1x ./finance/cmd/finance/
func BenchmarkTransfersVsPgbench(b *testing.B) {
	const wallets, clients, seconds = 100, 16, 10
	w := start(b, nil)
	users := make([]user, wallets)
	ids := make([]string, wallets)
	for i := range users {
		users[i] = w.user(b)
		ids[i] = w.register(b, users[i])
		w.fund(b, ids[i], 1_000_000)
	}
	b.ResetTimer()
	var done, failed atomic.Int64
	deadline := time.Now().Add(seconds * time.Second)
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; time.Now().Before(deadline); n++ {
				from, to := rand.IntN(wallets), rand.IntN(wallets)
				if from == to {
					to = (to + 1) % wallets
				}
				r := w.transfer(b, users[from], ids[from], ids[to], 1+int64(rand.IntN(100)), fmt.Sprint("bench-", c, "-", n))
				if r.Status == 201 {
					done.Add(1)
				} else {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	transfers := float64(done.Load()) / seconds
	tps := pgbench(b, seconds)
	b.ReportMetric(transfers, "transfers/s")
	b.ReportMetric(tps, "pgbench_tps")
	b.ReportMetric(transfers/tps, "ratio")
	b.ReportMetric(float64(failed.Load()), "failed")
}

var tpsLine = regexp.MustCompile(`tps = ([0-9.]+)`)

// pgbench runs "pgbench -b tpcb-like" for seconds against a throwaway
// database on the test server and returns its tps.
func pgbench(b *testing.B, seconds int) float64 {
	_, dsn := pgtest.New(b)
	u, _ := url.Parse(dsn)
	args := []string{"-h", u.Hostname(), "-p", u.Port(), "-U", u.User.Username(), u.Path[1:]}
	if out, err := exec.Command("pgbench", append([]string{"-i", "-s", "10", "-q"}, args...)...).CombinedOutput(); err != nil {
		b.Fatalf("pgbench -i (Debian: apt-get install postgresql-contrib or postgresql-client): %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(seconds+60)*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "pgbench", append([]string{"-b", "tpcb-like", "-c", "16", "-j", "2", "-T", strconv.Itoa(seconds)}, args...)...).CombinedOutput()
	if err != nil {
		b.Fatalf("pgbench: %v\n%s", err, out)
	}
	m := tpsLine.FindSubmatch(out)
	if m == nil {
		b.Fatalf("no tps in pgbench output:\n%s", out)
	}
	tps, _ := strconv.ParseFloat(string(m[1]), 64)
	return tps
}
