package auth

import (
	"bytes"
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/events"
	"github.com/azora-os/azora/shared/pg/pgtest"
	"github.com/azora-os/azora/shared/seal"
)

// ktMemKeys is an in-memory SigningKeys with the Postgres adapter's
// semantics, for the KeyManager tests.
type ktMemKeys struct {
	mu   sync.Mutex
	keys []SigningKey
}

func (s *ktMemKeys) List(context.Context) ([]SigningKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := slices.Clone(s.keys)
	for i := range out {
		out[i].Sealed = bytes.Clone(out[i].Sealed)
	}
	slices.SortFunc(out, func(a, b SigningKey) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return -bytes.Compare([]byte(a.ID), []byte(b.ID))
	})
	return out, nil
}

func (s *ktMemKeys) Add(_ context.Context, next SigningKey, since time.Time) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range s.keys {
		if k.CreatedAt.After(since) {
			return false, nil
		}
	}
	for i := range s.keys {
		if s.keys[i].RetiredAt.IsZero() && s.keys[i].ID != next.ID {
			s.keys[i].RetiredAt = next.ActiveFrom
		}
	}
	next.Sealed = bytes.Clone(next.Sealed)
	s.keys = append(s.keys, next)
	return true, nil
}

func (s *ktMemKeys) Purge(_ context.Context, before time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = slices.DeleteFunc(s.keys, func(k SigningKey) bool {
		return !k.RetiredAt.IsZero() && k.RetiredAt.Before(before)
	})
	return nil
}

// ktStores are the SigningKeys the rotation tests run against: the fake,
// and the real Postgres adapter as a contract check.
func ktStores() map[string]func(t *testing.T) SigningKeys {
	return map[string]func(t *testing.T) SigningKeys{
		"memory": func(*testing.T) SigningKeys { return &ktMemKeys{} },
		"postgres": func(t *testing.T) SigningKeys {
			db, _ := pgtest.New(t, Migrations, events.Migrations)
			return NewPostgresSigningKeys(db)
		},
	}
}

// ktWrap decorates a store: List can be failed, its answer changed, or
// held until n callers have listed (so that concurrent rotations all read
// the store before any of them writes).
type ktWrap struct {
	SigningKeys
	fail   atomic.Bool
	mangle func([]SigningKey)

	mu      sync.Mutex
	waiting int
	release chan struct{}
}

func (w *ktWrap) List(ctx context.Context) ([]SigningKey, error) {
	if w.fail.Load() {
		return nil, errs.Internalf(context.DeadlineExceeded, "signing keys: list")
	}
	keys, err := w.SigningKeys.List(ctx)
	if err == nil && w.mangle != nil {
		w.mangle(keys)
	}
	w.mu.Lock()
	ch := w.release
	if ch != nil {
		if w.waiting--; w.waiting == 0 {
			close(ch)
			w.release = nil
		}
	}
	w.mu.Unlock()
	if ch != nil {
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
		}
	}
	return keys, err
}

// holdLists makes the next n List calls wait for each other.
func (w *ktWrap) holdLists(n int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.waiting, w.release = n, make(chan struct{})
}

// ktClock is a clock tests move by hand.
type ktClock struct {
	mu sync.Mutex
	t  time.Time
}

func newKTClock() *ktClock { return &ktClock{t: time.Now().Truncate(time.Second)} }

func (c *ktClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *ktClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// ktLog is a logger's output, safe to write from several goroutines.
type ktLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *ktLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *ktLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func ktSealer(t testing.TB) *seal.Sealer {
	t.Helper()
	spec, err := seal.Generate("k1")
	if err != nil {
		t.Fatal(err)
	}
	s, err := seal.Load(spec)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

const (
	ktIssuer   = "https://auth.azora.test"
	ktAudience = "azora"
)

func ktConfig(clock *ktClock) KeyConfig {
	c := KeyConfig{Issuer: ktIssuer, Audience: ktAudience, RotateEvery: 30 * 24 * time.Hour}
	if clock != nil {
		c.Clock = clock.Now
	}
	return c
}
