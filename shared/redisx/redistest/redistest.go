// Package redistest isolates each test's Redis keys on the shared local
// server: a test gets a unique key prefix, and every key under it is deleted
// when the test ends.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/azora-os/azora/shared/redisx"
)

// DefaultURL is the server used when TEST_REDIS_URL is unset.
const DefaultURL = "redis://127.0.0.1:6379/0"

// URL returns the server tests use.
func URL() string {
	if v := os.Getenv("TEST_REDIS_URL"); v != "" {
		return v
	}
	return DefaultURL
}

// New returns a client and a prefix ("test:<random>:") that the test's keys
// must start with. The keys are removed in t.Cleanup, with the ones
// redis_rate made from them (it writes every key as "rate:" + the key it
// is given, so a limiter on this prefix writes outside it). A server that
// does not answer fails the test.
// redisRatePrefix is what github.com/go-redis/redis_rate puts before the
// keys it is given.
const redisRatePrefix = "rate:"

func New(t testing.TB) (redis.UniversalClient, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := redisx.Open(ctx, redisx.Config{URL: URL()})
	if err != nil {
		t.Fatalf("redistest: %v (start Redis or set TEST_REDIS_URL)", err)
	}
	b := make([]byte, 6)
	rand.Read(b)
	prefix := "test:" + hex.EncodeToString(b) + ":"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var keys []string
		for _, pattern := range []string{prefix + "*", redisRatePrefix + prefix + "*"} {
			iter := c.Scan(ctx, 0, pattern, 500).Iterator()
			for iter.Next(ctx) {
				keys = append(keys, iter.Val())
			}
			if err := iter.Err(); err != nil {
				t.Errorf("redistest: scan %s: %v", pattern, err)
			}
		}
		for len(keys) > 0 {
			n := min(len(keys), 500)
			if err := c.Del(ctx, keys[:n]...).Err(); err != nil {
				t.Errorf("redistest: delete: %v", err)
			}
			keys = keys[n:]
		}
		c.Close()
	})
	return c, prefix
}
