package kit

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

const (
	// maxJWKSBytes bounds the JWKS body we read.
	maxJWKSBytes = 1 << 20
	// keyMaxAge is how long a fetched key set is trusted before the next
	// use refreshes it, so a key removed from the JWKS (say, after a
	// compromise) stops verifying even if no unknown kid ever shows up.
	keyMaxAge = 10 * time.Minute
	// failedFetchBackoff is the shortest time between two attempts after a
	// failed fetch when it is shorter than the refresh interval: we want
	// keys soon after auth comes up, without one fetch per request.
	failedFetchBackoff = time.Second
)

// keySet is the cached public keys of a JWKS, fetched lazily. A fetch is
// done by the request that needs it, in its own goroutine; concurrent
// requests needing a fetch wait for that one instead of starting their own.
type keySet struct {
	url          string
	client       *http.Client
	minInterval  time.Duration
	fetchTimeout time.Duration
	maxAge       time.Duration

	mu        sync.Mutex
	keys      map[string]*rsa.PublicKey
	loaded    bool          // a fetch has succeeded
	fetchedAt time.Time     // of the last successful fetch
	triedAt   time.Time     // of the last attempt
	lastErr   error         // of the last attempt; nil when it succeeded
	inflight  chan struct{} // closed when the running fetch ends; nil when none
}

func newKeySet(url string, client *http.Client, minInterval, fetchTimeout time.Duration) *keySet {
	return &keySet{url: url, client: client, minInterval: minInterval, fetchTimeout: fetchTimeout, maxAge: keyMaxAge}
}

// key returns the RSA public key with id kid, fetching the JWKS when the
// kid is unknown (at most once per minInterval) or the set is stale. It
// returns ErrInvalidToken for a kid still unknown after that, and
// ErrAuthUnavailable when the JWKS could not be fetched and the kid is not
// already known.
func (s *keySet) key(ctx context.Context, kid string) (*rsa.PublicKey, error) {
	s.mu.Lock()
	k, known := s.keys[kid]
	now := time.Now()
	if known && now.Sub(s.fetchedAt) < s.maxAge {
		s.mu.Unlock()
		return k, nil
	}
	if ch := s.inflight; ch != nil {
		s.mu.Unlock()
		if known {
			return k, nil // a refresh is running; the key we have still serves
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ErrAuthUnavailable.Wrap(ctx.Err())
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.settle(kid)
	}
	if !s.mayFetch(now) {
		defer s.mu.Unlock()
		return s.settle(kid)
	}
	ch := make(chan struct{})
	s.inflight, s.triedAt = ch, now
	s.mu.Unlock()

	keys, err := s.fetch(ctx)

	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastErr = err
	if err == nil {
		s.keys, s.loaded, s.fetchedAt = keys, true, time.Now()
	}
	s.inflight = nil
	close(ch)
	return s.settle(kid)
}

// mayFetch reports whether a fetch may start now. s.mu must be held.
func (s *keySet) mayFetch(now time.Time) bool {
	if s.triedAt.IsZero() {
		return true
	}
	since := now.Sub(s.triedAt)
	return since >= s.minInterval || (s.lastErr != nil && since >= failedFetchBackoff)
}

// settle answers for kid from the keys held now. s.mu must be held.
func (s *keySet) settle(kid string) (*rsa.PublicKey, error) {
	if k, ok := s.keys[kid]; ok {
		return k, nil
	}
	if !s.loaded || s.lastErr != nil {
		// We cannot tell whether the kid exists; that is our fault, not
		// the token's.
		return nil, ErrAuthUnavailable.Wrap(s.lastErr)
	}
	return nil, invalid("unknown signing key")
}

// fetch downloads the JWKS and returns its usable keys: RSA public keys of
// at least 2048 bits with a kid, meant for RS256 signatures. Other keys are
// skipped rather than failing the set, so auth can publish new key types
// without breaking older verifiers.
func (s *keySet) fetch(ctx context.Context) (map[string]*rsa.PublicKey, error) {
	// The fetch serves every request waiting on it, so one caller giving up
	// must not cancel it; it keeps ctx's values (trace) and its own timeout.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.fetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return nil, fmt.Errorf("jwks request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("jwks fetch: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("jwks fetch: status %d", resp.StatusCode)
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxJWKSBytes)).Decode(&set); err != nil {
		return nil, fmt.Errorf("jwks decode: %w", err)
	}
	keys := make(map[string]*rsa.PublicKey, len(set.Keys))
	for _, raw := range set.Keys {
		var k jose.JSONWebKey
		if json.Unmarshal(raw, &k) != nil || k.KeyID == "" {
			continue
		}
		pub, ok := k.Key.(*rsa.PublicKey)
		if !ok || pub.N.BitLen() < 2048 ||
			(k.Use != "" && k.Use != "sig") ||
			(k.Algorithm != "" && k.Algorithm != string(jose.RS256)) {
			continue
		}
		keys[k.KeyID] = pub
	}
	return keys, nil
}
