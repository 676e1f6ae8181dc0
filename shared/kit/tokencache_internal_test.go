package kit

import (
	"crypto/sha256"
	"fmt"
	"testing"
	"time"
)

func cacheKey(i int) [sha256.Size]byte { return sha256.Sum256(fmt.Appendf(nil, "token-%d", i)) }

func TestTokenCacheBoundedFIFO(t *testing.T) {
	now := time.Now()
	c := newTokenCache(3)
	for i := range 5 {
		c.put(cacheKey(i), Claims{Subject: fmt.Sprint(i), ExpiresAt: now.Add(time.Hour)})
	}
	if got := c.len(); got != 3 {
		t.Fatalf("entries after 5 puts into a cache of 3: got %d, want 3", got)
	}
	tests := []struct {
		key  int
		want bool
	}{{0, false}, {1, false}, {2, true}, {3, true}, {4, true}}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("token-%d", tt.key), func(t *testing.T) {
			cl, ok := c.get(cacheKey(tt.key), now)
			if ok != tt.want {
				t.Fatalf("cached: got %v, want %v", ok, tt.want)
			}
			if ok && cl.Subject != fmt.Sprint(tt.key) {
				t.Errorf("subject: got %q, want %q", cl.Subject, fmt.Sprint(tt.key))
			}
		})
	}
}

func TestTokenCacheExpiry(t *testing.T) {
	now := time.Now()
	c := newTokenCache(2)
	c.put(cacheKey(1), Claims{ExpiresAt: now.Add(time.Minute)})
	if _, ok := c.get(cacheKey(1), now.Add(59*time.Second)); !ok {
		t.Error("before exp: got miss, want hit")
	}
	if _, ok := c.get(cacheKey(1), now.Add(time.Minute)); ok {
		t.Error("at exp: got hit, want miss")
	}
	if got := c.len(); got != 0 {
		t.Errorf("entries after expiry: got %d, want 0", got)
	}
	// Re-adding expired keys must never grow the cache past its bound.
	for range 10 {
		c.put(cacheKey(1), Claims{ExpiresAt: now})
		c.get(cacheKey(1), now)
		c.put(cacheKey(2), Claims{ExpiresAt: now.Add(time.Hour)})
		c.put(cacheKey(3), Claims{ExpiresAt: now.Add(time.Hour)})
	}
	if got := c.len(); got > 2 {
		t.Errorf("entries: got %d, want at most 2", got)
	}
}
