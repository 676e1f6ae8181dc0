package auth

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestKeyManagerConcurrentRotation has several instances read the store
// and then rotate at the same moment: one key is added.
func TestKeyManagerConcurrentRotation(t *testing.T) {
	const instances = 4
	for name, newStore := range ktStores() {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			clock := newKTClock()
			store := &ktWrap{SigningKeys: newStore(t)}
			sealer := ktSealer(t)
			ms := make([]*KeyManager, instances)
			for i := range ms {
				ms[i] = NewKeyManager(store, sealer, ktConfig(clock), nil)
				if err := ms[i].EnsureKey(ctx); err != nil {
					t.Fatalf("EnsureKey %d: %v", i, err)
				}
			}
			stored, _ := store.List(ctx)
			if len(stored) != 1 {
				t.Fatalf("%d instances starting on an empty store made %d keys, want 1", instances, len(stored))
			}
			clock.Advance(31 * 24 * time.Hour)
			store.holdLists(instances)
			var wg sync.WaitGroup
			results := make([]bool, instances)
			errs := make([]error, instances)
			for i, m := range ms {
				wg.Go(func() { results[i], errs[i] = m.Rotate(ctx) })
			}
			wg.Wait()
			added := 0
			for i := range ms {
				if errs[i] != nil {
					t.Fatalf("Rotate %d: %v", i, errs[i])
				}
				if results[i] {
					added++
				}
			}
			stored, _ = store.List(ctx)
			if added != 1 || len(stored) != 2 {
				t.Fatalf("got %d rotations reporting true and %d stored keys, want 1 and 2", added, len(stored))
			}
		})
	}
}

// TestKeyManagerFirstStartRace has instances start together on an empty
// store: one key, which signs at once.
func TestKeyManagerFirstStartRace(t *testing.T) {
	ctx := context.Background()
	store := &ktWrap{SigningKeys: &ktMemKeys{}}
	sealer := ktSealer(t)
	clock := newKTClock()
	store.holdLists(3)
	var wg sync.WaitGroup
	ms := make([]*KeyManager, 3)
	errs := make([]error, 3)
	for i := range ms {
		ms[i] = NewKeyManager(store, sealer, ktConfig(clock), nil)
		wg.Go(func() { errs[i] = ms[i].EnsureKey(ctx) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("EnsureKey: %v", err)
	}
	stored, _ := store.List(ctx)
	if len(stored) != 1 {
		t.Fatalf("got %d keys, want 1", len(stored))
	}
	for i, m := range ms {
		if got := ktSignedBy(t, m, clock.Now()); got != stored[0].ID {
			t.Fatalf("instance %d signs with %s, want %s", i, got, stored[0].ID)
		}
	}
}

// TestKeyManagerEnsureKeyAddsNoSecondKey: an instance that found no key
// but, by the time it rotates, sees another instance's key in use leaves it
// alone.
func TestKeyManagerEnsureKeyAddsNoSecondKey(t *testing.T) {
	ctx := context.Background()
	clock := newKTClock()
	a, mem := ktReadyManager(t, clock)
	first := ktSignedBy(t, a, clock.Now())
	clock.Advance(time.Second)
	// b's first read misses a's key, as if made just before a wrote it.
	b := NewKeyManager(&ktStaleFirst{SigningKeys: mem}, a.sealer, ktConfig(clock), nil)
	if err := b.EnsureKey(ctx); err != nil {
		t.Fatalf("EnsureKey: %v", err)
	}
	if keys, _ := mem.List(ctx); len(keys) != 1 {
		t.Fatalf("got %d keys, want only the first instance's", len(keys))
	}
	if got := ktSignedBy(t, b, clock.Now()); got != first {
		t.Fatalf("signed by %s, want %s", got, first)
	}
}

// ktStaleFirst answers its first List with no keys.
type ktStaleFirst struct {
	SigningKeys
	listed atomic.Bool
}

func (s *ktStaleFirst) List(ctx context.Context) ([]SigningKey, error) {
	keys, err := s.SigningKeys.List(ctx)
	if s.listed.CompareAndSwap(false, true) {
		return nil, err
	}
	return keys, err
}

// TestKeyManagerConcurrentUse signs and publishes from several goroutines
// while keys rotate and the set is re-read (run with -race).
func TestKeyManagerConcurrentUse(t *testing.T) {
	ctx := context.Background()
	clock := newKTClock()
	m, _ := ktReadyManager(t, clock)
	var wg sync.WaitGroup
	errc := make(chan error, 64)
	for range 4 {
		wg.Go(func() {
			for range 10 {
				if _, err := m.Sign(ctx, ktClaims(clock.Now())); err != nil {
					errc <- err
				}
				if set, err := m.JWKS(ctx); err != nil || len(set.Keys) == 0 {
					errc <- fmt.Errorf("JWKS: %d keys, %v", len(set.Keys), err)
				}
			}
		})
	}
	wg.Go(func() {
		for range 3 {
			clock.Advance(DefaultPrePublish)
			if _, err := m.Rotate(ctx); err != nil {
				errc <- err
			}
			m.maintain(ctx)
		}
	})
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
}
