package revocation

import (
	"testing"
	"time"
)

func TestCache(t *testing.T) {
	now := time.Now().UnixNano()
	later := now + int64(time.Minute)
	t.Run("not revoked does not undo revoked", func(t *testing.T) {
		c := newCache(10)
		c.revoke("a", now, later)
		c.notRevoked("a", now, later)
		if r, ok := c.get("a", now); !ok || !r {
			t.Errorf("got (%v, %v), want (true, true)", r, ok)
		}
	})
	t.Run("revoked overrides not revoked", func(t *testing.T) {
		c := newCache(10)
		c.notRevoked("a", now, later)
		c.revoke("a", now, later)
		if r, ok := c.get("a", now); !ok || !r {
			t.Errorf("got (%v, %v), want (true, true)", r, ok)
		}
	})
	t.Run("revoked keeps the later expiry", func(t *testing.T) {
		c := newCache(10)
		c.revoke("a", now, later)
		c.revoke("a", now, now+1)
		if _, ok := c.get("a", now+2); !ok {
			t.Error("got a miss, want the earlier, longer entry kept")
		}
	})
	t.Run("expired entries miss", func(t *testing.T) {
		c := newCache(10)
		c.notRevoked("a", now, now+10)
		if _, ok := c.get("a", now+10); ok {
			t.Error("got a hit at expiry, want a miss")
		}
	})
	t.Run("forget not revoked", func(t *testing.T) {
		c := newCache(10)
		c.notRevoked("a", now, later)
		c.revoke("b", now, later)
		c.forgetNotRevoked()
		if _, ok := c.get("a", now); ok {
			t.Error("a: got a hit, want it forgotten")
		}
		if _, ok := c.get("b", now); !ok {
			t.Error("b: got a miss, want the revoked entry kept")
		}
	})
	t.Run("bounded", func(t *testing.T) {
		c := newCache(100)
		for i := range 1000 {
			c.notRevoked(string(rune('A'+i)), now, later)
			if n := c.len(); n > 100 {
				t.Fatalf("got %d entries after %d inserts, want at most 100", n, i+1)
			}
		}
	})
	t.Run("expired entries are swept first", func(t *testing.T) {
		c := newCache(4)
		for _, sid := range []string{"a", "b", "c"} {
			c.notRevoked(sid, now, now+1)
		}
		c.revoke("d", now, later)
		c.revoke("e", now+2, later) // full: a, b and c have expired
		for _, sid := range []string{"d", "e"} {
			if _, ok := c.get(sid, now+2); !ok {
				t.Errorf("%s: got a miss, want it kept", sid)
			}
		}
		if n := c.len(); n != 2 {
			t.Errorf("got %d entries, want 2", n)
		}
	})
}
