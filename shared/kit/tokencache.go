package kit

import (
	"crypto/sha256"
	"sync"
	"time"
)

// tokenCache remembers verified tokens by the SHA-256 of their text, so a
// token seen before costs a hash and a map lookup instead of an RSA
// verification. It holds at most size entries; when full, the oldest
// insertion is evicted (FIFO): tokens are short-lived, so recency of
// insertion is a fair proxy for usefulness and needs no per-hit bookkeeping.
type tokenCache struct {
	mu   sync.Mutex
	m    map[[sha256.Size]byte]Claims
	ring [][sha256.Size]byte // insertion order; every key of m is in it
	next int                 // ring slot to overwrite once ring is full
	size int
}

func newTokenCache(size int) *tokenCache {
	return &tokenCache{m: make(map[[sha256.Size]byte]Claims), size: size}
}

// get returns the claims cached under key while they have not expired.
func (c *tokenCache) get(key [sha256.Size]byte, now time.Time) (Claims, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cl, ok := c.m[key]
	if !ok {
		return Claims{}, false
	}
	if !now.Before(cl.ExpiresAt) {
		// Its ring slot stays until overwritten; a stale slot only makes a
		// later eviction a no-op.
		delete(c.m, key)
		return Claims{}, false
	}
	return cl, true
}

// put caches cl under key until cl.ExpiresAt.
func (c *tokenCache) put(key [sha256.Size]byte, cl Claims) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[key]; ok {
		c.m[key] = cl
		return
	}
	if len(c.ring) < c.size {
		c.ring = append(c.ring, key)
	} else {
		delete(c.m, c.ring[c.next])
		c.ring[c.next] = key
		c.next = (c.next + 1) % c.size
	}
	c.m[key] = cl
}

// len returns the number of cached entries.
func (c *tokenCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
