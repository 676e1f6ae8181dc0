package revocation_test

import (
	"context"
	"testing"

	"github.com/azora-os/azora/shared/redisx/redistest"
	"github.com/azora-os/azora/shared/revocation"
)

// BenchmarkRevokedCached is the per-request cost of a cache hit, the
// common case: the verifier asks on every request.
func BenchmarkRevokedCached(b *testing.B) {
	for _, tc := range []struct {
		name string
		sid  string
	}{{"not_revoked", "sid-live"}, {"revoked", "sid-dead"}} {
		b.Run(tc.name, func(b *testing.B) {
			c, prefix := redistest.New(b)
			ch := revocation.New(c, prefix, revocation.Options{NotRevokedTTL: 1 << 62})
			if err := c.Set(context.Background(), revocation.Key(prefix, "sid-dead"), "1", 0).Err(); err != nil {
				b.Fatal(err)
			}
			cl := claims(tc.sid)
			ctx := context.Background()
			if _, err := ch.Revoked(ctx, cl); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := ch.Revoked(ctx, cl); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// BenchmarkRevokedMiss is a check that goes to Redis (cache disabled).
func BenchmarkRevokedMiss(b *testing.B) {
	c, prefix := redistest.New(b)
	ch := revocation.New(c, prefix, revocation.Options{NotRevokedTTL: -1})
	cl := claims("sid-live")
	ctx := context.Background()
	for b.Loop() {
		if _, err := ch.Revoked(ctx, cl); err != nil {
			b.Fatal(err)
		}
	}
}
