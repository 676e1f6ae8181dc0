package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"runtime"
	"testing"

	"github.com/azora-os/azora/shared/app/apptest"
)

// productionArgon2 is auth's default argon2id cost (auth.DefaultArgon2Params:
// t=2, m=19 MiB, p=1), spelt out so that the benchmarks keep measuring it even
// though the test environment lowers it; the login budgets are raised so that
// the rate limiter never answers instead of the hash check.
var productionArgon2 = map[string]string{
	"AUTH_ARGON2_TIME": "2", "AUTH_ARGON2_MEMORY_KIB": "19456",
	"AUTH_LOGIN_PAIR_BURST": "1000000", "AUTH_LOGIN_IP_BURST": "1000000",
}

// BenchmarkLogin is a password login over HTTP at the production argon2id
// parameters (t=2, m=19 MiB, p=1): the hash check, the rate-limit budget
// round trips, a new Redis session and an RS256 signature. One client, one
// login at a time: logins/s is the inverse of a login's latency.
//
//	go test -run '^$' -bench BenchmarkLogin ./auth/cmd/auth/
func BenchmarkLogin(b *testing.B) {
	base, _ := startAuth(b, productionArgon2)
	c := apptest.NewClient(base, "127.0.0.1")
	email := uniqueEmail()
	registerAndLogin(b, c, email)
	body := map[string]any{"email": email, "password": goodPassword}
	b.ResetTimer()
	for b.Loop() {
		if r := c.Do(b, "POST", "/api/v1/auth/login", "", body); r.Status != 200 {
			b.Fatalf("got %d %s", r.Status, r.Raw)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "logins/s")
}

// BenchmarkLoginParallel is BenchmarkLogin from 4 clients per CPU at once:
// logins/s is then auth's throughput, bounded by the CPUs argon2id (one
// thread per hash) can keep busy, which is the figure to size auth by.
//
//	go test -run '^$' -bench BenchmarkLoginParallel ./auth/cmd/auth/
func BenchmarkLoginParallel(b *testing.B) {
	base, _ := startAuth(b, productionArgon2)
	c := apptest.NewClient(base, "127.0.0.1")
	email := uniqueEmail()
	registerAndLogin(b, c, email)
	body, err := json.Marshal(map[string]any{"email": email, "password": goodPassword})
	if err != nil {
		b.Fatal(err)
	}
	const parallelism = 4 // clients per CPU
	b.SetParallelism(parallelism)
	b.ResetTimer()
	// The workers report failures with Errorf and stop: FailNow may only be
	// called from the benchmark's own goroutine.
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := c.HTTP.Post(base+"/api/v1/auth/login", "application/json", bytes.NewReader(body))
			if err != nil {
				b.Errorf("login: %v", err)
				return
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("login: got %d %s", resp.StatusCode, raw)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "logins/s")
	b.ReportMetric(float64(parallelism*runtime.GOMAXPROCS(0)), "clients")
}
