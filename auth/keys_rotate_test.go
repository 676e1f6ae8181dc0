package auth

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-kit/log"
)

func ktPublished(t *testing.T, m *KeyManager) []string {
	t.Helper()
	set, err := m.JWKS(context.Background())
	if err != nil {
		t.Fatalf("JWKS: %v", err)
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.KID)
	}
	return kids
}

func ktSignedBy(t *testing.T, m *KeyManager, now time.Time) string {
	t.Helper()
	tok, err := m.Sign(context.Background(), ktClaims(now))
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	return ktKID(t, tok)
}

func ktHas(kids []string, kid string) bool {
	for _, k := range kids {
		if k == kid {
			return true
		}
	}
	return false
}

// TestKeyManagerRotation walks one key's life on two instances sharing a
// store: published before it signs (on both instances), the old key kept
// until every token it signed has expired, then gone and purged.
func TestKeyManagerRotation(t *testing.T) {
	for name, newStore := range ktStores() {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			clock := newKTClock()
			store := newStore(t)
			sealer := ktSealer(t)
			a := NewKeyManager(store, sealer, ktConfig(clock), nil)
			b := NewKeyManager(store, sealer, ktConfig(clock), nil) // another auth instance
			if err := a.EnsureKey(ctx); err != nil {
				t.Fatalf("EnsureKey: %v", err)
			}
			if err := b.EnsureKey(ctx); err != nil {
				t.Fatalf("EnsureKey on the second instance: %v", err)
			}
			old := ktSignedBy(t, a, clock.Now())
			if got := ktSignedBy(t, b, clock.Now()); got != old {
				t.Fatalf("instances sign with %s and %s, want one key", old, got)
			}
			if kids := ktPublished(t, a); len(kids) != 1 || kids[0] != old {
				t.Fatalf("JWKS: got %v, want [%s]", kids, old)
			}

			clock.Advance(time.Hour)
			if kids := ktPublished(t, b); len(kids) != 1 {
				t.Fatalf("JWKS of the other instance: got %v, want one key", kids)
			}
			rotated, err := a.Rotate(ctx)
			if err != nil || !rotated {
				t.Fatalf("Rotate: got %v, %v, want true", rotated, err)
			}
			kids := ktPublished(t, a)
			if len(kids) != 2 || !ktHas(kids, old) {
				t.Fatalf("JWKS right after rotating: got %v, want the old key and the new one", kids)
			}
			next := kids[0]
			if next == old {
				next = kids[1]
			}
			if got := ktSignedBy(t, a, clock.Now()); got != old {
				t.Fatalf("right after rotating the new key signs (%s); it must wait PrePublish", got)
			}
			if again, err := a.Rotate(ctx); err != nil || again {
				t.Fatalf("Rotate while a key waits: got %v, %v, want false", again, err)
			}

			// The other instance learns of the key within Refresh, well before it signs.
			if kids := ktPublished(t, b); len(kids) != 1 {
				t.Fatalf("the other instance re-read the store before Refresh: got %v", kids)
			}
			clock.Advance(DefaultKeyRefresh)
			if !ktHas(ktPublished(t, b), next) {
				t.Fatalf("the other instance does not publish %s after %v", next, DefaultKeyRefresh)
			}
			if got := ktSignedBy(t, b, clock.Now()); got != old {
				t.Fatalf("the other instance signs with %s before the key's activation", got)
			}

			clock.Advance(DefaultPrePublish - DefaultKeyRefresh - time.Second)
			if got := ktSignedBy(t, a, clock.Now()); got != old {
				t.Fatalf("one second before activation: signed by %s, want %s", got, old)
			}
			clock.Advance(time.Second)
			for i, m := range []*KeyManager{a, b} {
				if got := ktSignedBy(t, m, clock.Now()); got != next {
					t.Fatalf("instance %d at activation: signed by %s, want the new key %s", i, got, next)
				}
			}
			retired := clock.Now()

			// The old key stays published while its last tokens live.
			keep := DefaultAccessTTL + keyRetentionLeeway
			clock.Advance(keep - time.Second)
			a.maintain(ctx)
			if kids := ktPublished(t, a); !ktHas(kids, old) || !ktHas(kids, next) {
				t.Fatalf("%v after retirement: got %v, want both keys", keep-time.Second, kids)
			}
			clock.Advance(time.Second)
			for i, m := range []*KeyManager{a, b} {
				if kids := ktPublished(t, m); len(kids) != 1 || kids[0] != next {
					t.Fatalf("instance %d, %v after retirement: got %v, want only %s", i, clock.Now().Sub(retired), kids, next)
				}
			}

			clock.Advance(time.Second)
			a.maintain(ctx)
			stored, err := store.List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(stored) != 1 || stored[0].ID != next {
				t.Fatalf("after purging: the store holds %d keys, want only %s", len(stored), next)
			}
		})
	}
}

// TestKeyManagerUnreadableKeyFailsLoudly covers a changed sealed key, a
// key sealed under another KEK and a sealed key copied onto another row:
// none signs or is published, EnsureKey and Sign fail, and it is logged
// as an error.
func TestKeyManagerUnreadableKeyFailsLoudly(t *testing.T) {
	ctx := context.Background()
	other, _ := ktReadyManager(t, nil) // a key under another KEK
	otherKeys, _ := other.store.List(ctx)
	tests := map[string]func([]SigningKey){
		"a flipped byte": func(ks []SigningKey) { ks[0].Sealed[len(ks[0].Sealed)/2] ^= 1 },
		"another KEK":    func(ks []SigningKey) { ks[0].Sealed = otherKeys[0].Sealed },
		// Same KEK, but the sealed key is not the one its kid names.
		"another row's secret": func(ks []SigningKey) { ks[0].ID = strings.Repeat("A", 43) },
	}
	for name, mangle := range tests {
		t.Run(name, func(t *testing.T) {
			store := &ktWrap{SigningKeys: &ktMemKeys{}}
			m := NewKeyManager(store, ktSealer(t), ktConfig(nil), nil)
			if err := m.EnsureKey(ctx); err != nil {
				t.Fatal(err)
			}
			store.mangle = mangle
			var out ktLog
			fresh := NewKeyManager(store, m.sealer, ktConfig(nil), log.NewLogfmtLogger(&out))
			if err := fresh.EnsureKey(ctx); !errors.Is(err, errSigningKeyUnreadable) {
				t.Fatalf("EnsureKey: got %v, want signing_key_unreadable", err)
			}
			if tok, err := fresh.Sign(ctx, ktClaims(time.Now())); !errors.Is(err, errSigningKeyUnreadable) {
				t.Fatalf("Sign: got %q, %v, want signing_key_unreadable", tok, err)
			}
			if kids := ktPublished(t, fresh); len(kids) != 0 {
				t.Fatalf("JWKS: got %v, want nothing published", kids)
			}
			if logs := out.String(); !strings.Contains(logs, "level=error") || !strings.Contains(logs, "cannot be opened") {
				t.Fatalf("got logs %q, want an error line", logs)
			}
			stored, _ := store.SigningKeys.List(ctx)
			if len(stored) != 1 {
				t.Fatalf("the unreadable key made EnsureKey add another: %d keys", len(stored))
			}
		})
	}
}

// TestKeyManagerOutlivesAStoreOutage: with the store down, tokens are still
// signed and keys published from memory.
func TestKeyManagerOutlivesAStoreOutage(t *testing.T) {
	ctx := context.Background()
	clock := newKTClock()
	store := &ktWrap{SigningKeys: &ktMemKeys{}}
	var out ktLog
	m := NewKeyManager(store, ktSealer(t), ktConfig(clock), log.NewLogfmtLogger(&out))
	if err := m.EnsureKey(ctx); err != nil {
		t.Fatal(err)
	}
	kid := ktSignedBy(t, m, clock.Now())
	store.fail.Store(true)
	clock.Advance(2 * DefaultKeyRefresh)
	if got := ktSignedBy(t, m, clock.Now()); got != kid {
		t.Fatalf("during the outage: signed by %s, want %s", got, kid)
	}
	if kids := ktPublished(t, m); len(kids) != 1 || kids[0] != kid {
		t.Fatalf("JWKS during the outage: got %v, want [%s]", kids, kid)
	}
	if !strings.Contains(out.String(), "cannot re-read signing keys") {
		t.Fatalf("got logs %q, want a warning", out.String())
	}
	if err := m.EnsureKey(ctx); err == nil {
		t.Fatal("EnsureKey with the store down: got nil, want the store's error")
	}
}

// TestKeyManagerRunSchedule: Run adds the first key at once and stops
// with its context; its rounds rotate keys older than RotateEvery.
func TestKeyManagerRunSchedule(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	clock := newKTClock()
	store := &ktMemKeys{}
	m := NewKeyManager(store, ktSealer(t), ktConfig(clock), nil)
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if keys, _ := store.List(ctx); len(keys) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Run added no key within 10 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: got %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not stop with its context")
	}

	ctx = context.Background()
	first := ktSignedBy(t, m, clock.Now())
	clock.Advance(30*24*time.Hour - time.Second)
	m.maintain(ctx)
	if keys, _ := store.List(ctx); len(keys) != 1 {
		t.Fatalf("a second before RotateEvery: got %d keys, want 1", len(keys))
	}
	clock.Advance(time.Second)
	m.maintain(ctx)
	if keys, _ := store.List(ctx); len(keys) != 2 {
		t.Fatalf("at RotateEvery: got %d keys, want 2", len(keys))
	}
	clock.Advance(DefaultPrePublish)
	if got := ktSignedBy(t, m, clock.Now()); got == first {
		t.Fatal("after the scheduled rotation the old key still signs")
	}
}

func TestKeyManagerConfig(t *testing.T) {
	base := ktConfig(nil)
	tests := map[string]func(*KeyConfig){
		"no issuer":                  func(c *KeyConfig) { c.Issuer = "" },
		"no audience":                func(c *KeyConfig) { c.Audience = "" },
		"1024-bit keys":              func(c *KeyConfig) { c.RSABits = 1024 },
		"negative TTL":               func(c *KeyConfig) { c.AccessTTL = -time.Minute },
		"pre-publication too short":  func(c *KeyConfig) { c.PrePublish = 30 * time.Second },
		"rotation before activation": func(c *KeyConfig) { c.RotateEvery = time.Minute },
	}
	for name, change := range tests {
		t.Run(name, func(t *testing.T) {
			cfg := base
			change(&cfg)
			m := NewKeyManager(&ktMemKeys{}, ktSealer(t), cfg, nil)
			ctx := context.Background()
			_, signErr := m.Sign(ctx, ktClaims(time.Now()))
			_, rotErr := m.Rotate(ctx)
			for what, err := range map[string]error{"EnsureKey": m.EnsureKey(ctx), "Sign": signErr, "Rotate": rotErr, "Run": m.Run(ctx)} {
				if !errors.Is(err, ErrInvalidKeyConfig) {
					t.Errorf("%s: got %v, want invalid_key_config", what, err)
				}
			}
		})
	}
	if _, err := base.withDefaults(); err != nil {
		t.Fatalf("the defaults: %v", err)
	}
}

func BenchmarkSign(b *testing.B) {
	m, _ := ktReadyManager(b, nil)
	ctx := context.Background()
	c := ktClaims(time.Now())
	for b.Loop() {
		if _, err := m.Sign(ctx, c); err != nil {
			b.Fatal(err)
		}
	}
}
