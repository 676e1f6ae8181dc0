package revocation

import "sync"

// entry is one cached answer about a sid, good until the Unix nanosecond
// until.
type entry struct {
	revoked bool
	until   int64
}

// cache holds recent answers per sid. Dropping an entry is always safe,
// because Redis stays the source of truth; it only costs one more EXISTS.
type cache struct {
	mu  sync.RWMutex
	m   map[string]entry
	max int
}

func newCache(max int) *cache {
	return &cache{m: make(map[string]entry), max: max}
}

// get returns the answer for sid, if one is cached and still good at now.
func (c *cache) get(sid string, now int64) (revoked, ok bool) {
	c.mu.RLock()
	e, ok := c.m[sid]
	c.mu.RUnlock()
	if !ok || now >= e.until {
		return false, false
	}
	return e.revoked, true
}

// revoke records that sid is revoked until until (keeping a later expiry
// already recorded).
func (c *cache) revoke(sid string, now, until int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[sid]; ok && e.revoked && e.until > until {
		return
	}
	c.makeRoom(now)
	c.m[sid] = entry{revoked: true, until: until}
}

// notRevoked records a "not revoked" answer, unless sid is already known
// revoked: an EXISTS that raced a pub/sub message must not undo it.
func (c *cache) notRevoked(sid string, now, until int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[sid]; ok && e.revoked && now < e.until {
		return
	}
	c.makeRoom(now)
	c.m[sid] = entry{until: until}
}

// forgetNotRevoked drops every "not revoked" answer; Run calls it on each
// (re)subscription, since messages published while it was not listening
// are lost.
func (c *cache) forgetNotRevoked() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for sid, e := range c.m {
		if !e.revoked {
			delete(c.m, sid)
		}
	}
}

// makeRoom keeps the map under max: it drops expired entries and, if that
// is not enough, arbitrary ones down to three quarters of max, so that a
// full cache of live entries is not swept on every insert. The caller
// holds mu.
func (c *cache) makeRoom(now int64) {
	if len(c.m) < c.max {
		return
	}
	for sid, e := range c.m {
		if now >= e.until {
			delete(c.m, sid)
		}
	}
	if len(c.m) < c.max {
		return
	}
	for sid := range c.m {
		if len(c.m) <= c.max*3/4 {
			break
		}
		delete(c.m, sid)
	}
}

// len reports how many entries are cached.
func (c *cache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}
