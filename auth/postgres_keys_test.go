package auth_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/azora-os/azora/auth"
)

// testKey is a signing key created at keyBase+created hours, signing one
// hour later.
func testKey(id string, created int) auth.SigningKey {
	c := keyBase.Add(time.Duration(created) * time.Hour)
	return auth.SigningKey{ID: id, Sealed: []byte("sealed\x00" + id), CreatedAt: c, ActiveFrom: c.Add(time.Hour)}
}

func listKeys(t *testing.T, keys *auth.PostgresSigningKeys) []auth.SigningKey {
	t.Helper()
	got, err := keys.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestPostgresSigningKeysAddRetiresPreviousKeys(t *testing.T) {
	ctx := context.Background()
	keys := auth.NewPostgresSigningKeys(newAuthDB(t))
	if got := listKeys(t, keys); len(got) != 0 {
		t.Fatalf("got %d keys in a new database, want 0", len(got))
	}
	k1, k2, stale := testKey("k1", 0), testKey("k2", 24), testKey("stale", 25)
	steps := []struct {
		key   auth.SigningKey
		since time.Time
		want  bool
	}{
		{k1, time.Time{}, true},      // the first key
		{k2, k1.CreatedAt, true},     // a rotation
		{stale, k1.CreatedAt, false}, // another instance saw only k1: k2 is newer
	}
	for _, s := range steps {
		ok, err := keys.Add(ctx, s.key, s.since)
		if err != nil || ok != s.want {
			t.Fatalf("add %s: got (%v, %v), want (%v, nil)", s.key.ID, ok, err, s.want)
		}
	}
	got := listKeys(t, keys)
	want := []auth.SigningKey{k2, k1}
	want[1].RetiredAt = k2.ActiveFrom
	if len(got) != len(want) {
		t.Fatalf("got %d keys %+v, want %d", len(got), got, len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.ID != w.ID || string(g.Sealed) != string(w.Sealed) || !g.CreatedAt.Equal(w.CreatedAt) ||
			!g.ActiveFrom.Equal(w.ActiveFrom) || !g.RetiredAt.Equal(w.RetiredAt) || g.CreatedAt.Location() != time.UTC {
			t.Errorf("key %d: got %+v, want %+v", i, g, w)
		}
	}
}

func TestPostgresSigningKeysConcurrentAddInsertsOnce(t *testing.T) {
	ctx := context.Background()
	keys := auth.NewPostgresSigningKeys(newAuthDB(t))
	k0 := testKey("k0", 0)
	if ok, err := keys.Add(ctx, k0, time.Time{}); !ok || err != nil {
		t.Fatalf("add k0: got (%v, %v), want (true, nil)", ok, err)
	}
	const n = 8 // instances rotating at the same moment, each having seen k0
	start := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var winners []string
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := testKey(fmt.Sprintf("k1-%d", i), 24)
			<-start
			ok, err := keys.Add(ctx, k, k0.CreatedAt)
			if err != nil {
				t.Errorf("add %s: %v", k.ID, err)
			}
			if ok {
				mu.Lock()
				winners = append(winners, k.ID)
				mu.Unlock()
			}
		}()
	}
	close(start)
	wg.Wait()
	if len(winners) != 1 {
		t.Fatalf("got %d inserts %v, want exactly 1", len(winners), winners)
	}
	got := listKeys(t, keys)
	if len(got) != 2 || got[0].ID != winners[0] || !got[0].RetiredAt.IsZero() || got[1].ID != "k0" || got[1].RetiredAt.IsZero() {
		t.Errorf("got keys %+v, want the winner %s in use and k0 retired", got, winners[0])
	}
}

func TestPostgresSigningKeysPurge(t *testing.T) {
	ctx := context.Background()
	keys := auth.NewPostgresSigningKeys(newAuthDB(t))
	for i, id := range []string{"a", "b", "c", "d"} { // each retires the one before
		k := testKey(id, 24*i)
		if ok, err := keys.Add(ctx, k, keyBase.Add(time.Duration(24*i-1)*time.Hour)); !ok || err != nil {
			t.Fatalf("add %s: got (%v, %v), want (true, nil)", id, ok, err)
		}
	}
	// a retired at b.ActiveFrom, b at c's, c at d's; d is in use.
	cutoff := testKey("c", 48).ActiveFrom // exactly when b retired: b stays
	if err := keys.Purge(ctx, cutoff); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, k := range listKeys(t, keys) {
		ids = append(ids, k.ID)
	}
	if want := []string{"d", "c", "b"}; !slices.Equal(ids, want) {
		t.Errorf("got keys %v after purge, want %v", ids, want)
	}
	if err := keys.Purge(ctx, keyBase.Add(1000*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got := listKeys(t, keys); len(got) != 1 || got[0].ID != "d" {
		t.Errorf("got %+v after purging everything retired, want only the key in use, d", got)
	}
}
