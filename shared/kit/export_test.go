package kit

import (
	"crypto/sha256"
	"time"
)

// Cached reports whether v's token cache holds token now (test hook).
func Cached(v *Verifier, token string) bool {
	if v.cache == nil {
		return false
	}
	_, ok := v.cache.get(sha256.Sum256([]byte(token)), time.Now())
	return ok
}
