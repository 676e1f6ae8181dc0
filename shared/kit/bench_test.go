package kit_test

import (
	"context"
	"testing"

	"github.com/azora-os/azora/shared/kit"
	"github.com/azora-os/azora/shared/kit/kittest"
	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
)

// benchToken is a realistic access token: a user with two roles and MFA.
func benchToken(b *testing.B, iss *kittest.Issuer) string {
	return iss.Token(b, kittest.Claims{Subject: "0190b5c4-7d1e-7c3a-9f3e-2b6f1d1e8a01", Roles: []string{"student", "instructor"}, AMR: []string{"pwd", "otp"}})
}

func benchVerify(b *testing.B, cacheSize int) {
	iss := kittest.NewIssuer(b)
	v := newVerifier(b, iss, func(c *kit.VerifierConfig) { c.CacheSize = cacheSize })
	token := benchToken(b, iss)
	ctx := context.Background()
	if _, err := v.Verify(ctx, token); err != nil { // loads the keys
		b.Fatalf("Verify: %v", err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := v.Verify(ctx, token); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerify is the cold path: no cache, one RSA verification per call.
func BenchmarkVerify(b *testing.B) { benchVerify(b, -1) }

// BenchmarkVerifyCached is a repeat token: a SHA-256 and a map lookup.
func BenchmarkVerifyCached(b *testing.B) { benchVerify(b, 0) }

// BenchmarkChain is the whole chain around a trivial endpoint with a cached
// token, as a server endpoint and as a client endpoint behind a breaker.
func BenchmarkChain(b *testing.B) {
	iss := kittest.NewIssuer(b)
	v := newVerifier(b, iss, nil)
	ctx := kit.WithToken(context.Background(), benchToken(b, iss))
	specs := []struct {
		name string
		spec kit.Spec
	}{
		{"server", kit.Spec{Name: "transfer", Verifier: v, Roles: []string{"student"}}},
		{"client with breaker", kit.Spec{Name: "transfer", Verifier: v, Roles: []string{"student"}, Breaker: kit.NewBreaker("kit-bench-chain", kit.DefaultBreakerConfig())}},
	}
	for _, s := range specs {
		b.Run(s.name, func(b *testing.B) {
			ep := kit.Chain(log.NewNopLogger(), kit.NewMetrics(prometheus.NewRegistry(), "finance"), s.spec)(
				func(_ context.Context, req any) (any, error) { return req, nil })
			if _, err := ep(ctx, nil); err != nil {
				b.Fatalf("chain: %v", err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := ep(ctx, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
