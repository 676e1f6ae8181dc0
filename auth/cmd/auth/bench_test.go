package main

import (
	"testing"

	"github.com/azora-os/azora/shared/app/apptest"
)

// BenchmarkLogin is a password login over HTTP at the production argon2id
// parameters (t=2, m=19 MiB, p=1): the hash check, the rate-limit budget
// round trips, a new Redis session and an RS256 signature.
//
//	go test -run '^$' -bench BenchmarkLogin ./auth/cmd/auth/
func BenchmarkLogin(b *testing.B) {
	base, _ := startAuth(b, map[string]string{
		"AUTH_ARGON2_TIME": "2", "AUTH_ARGON2_MEMORY_KIB": "19456", "AUTH_LOGIN_PAIR_BURST": "1000000", "AUTH_LOGIN_IP_BURST": "1000000",
	})
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
}
