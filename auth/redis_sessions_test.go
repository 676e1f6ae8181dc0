package auth_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/azora-os/azora/auth"
	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/kit"
	"github.com/azora-os/azora/shared/redisx/redistest"
	"github.com/azora-os/azora/shared/revocation"
)

const rdsAccessTTL = 15 * time.Minute

// rdsSessions returns a session store on its own key prefix.
func rdsSessions(t testing.TB) (*auth.RedisSessions, redis.UniversalClient, string) {
	t.Helper()
	c, prefix := redistest.New(t)
	return auth.NewRedisSessions(c, prefix, rdsAccessTTL), c, prefix
}

// rdsSession is a fresh session of user expiring in ttl.
func rdsSession(n int, user string, ttl time.Duration) auth.Session {
	now := time.Now().UTC()
	return auth.Session{
		ID:        fmt.Sprintf("0190d6a0-0000-7000-8000-%012d", n),
		UserID:    user,
		Roles:     []string{auth.RoleStudent, auth.RoleInstructor},
		AMR:       []string{auth.AMRPassword, auth.AMROTP},
		CreatedAt: now,
		ExpiresAt: now.Add(ttl),
	}
}

func rdsCreate(t testing.TB, s *auth.RedisSessions, sess auth.Session, hash string) {
	t.Helper()
	if err := s.Create(context.Background(), sess, hash); err != nil {
		t.Fatalf("Create(%s): %v", sess.ID, err)
	}
}

// rdsSubscribe listens to the revocation channel under prefix.
func rdsSubscribe(t *testing.T, c redis.UniversalClient, prefix string) *redis.PubSub {
	t.Helper()
	ps := c.Subscribe(context.Background(), revocation.Channel(prefix))
	t.Cleanup(func() { ps.Close() })
	if _, err := ps.Receive(context.Background()); err != nil {
		t.Fatal(err)
	}
	return ps
}

// rdsWantPublished fails unless sid arrives on ps within a second.
func rdsWantPublished(t *testing.T, ps *redis.PubSub, sid string) {
	t.Helper()
	msg, err := ps.ReceiveTimeout(context.Background(), time.Second)
	if err != nil {
		t.Fatalf("no revocation published within 1s: %v", err)
	}
	if m, ok := msg.(*redis.Message); !ok || m.Payload != sid {
		t.Fatalf("got %#v on the revocation channel, want %s", msg, sid)
	}
}

// rdsWantRevoked checks the mark every service reads, through the checker.
func rdsWantRevoked(t *testing.T, c redis.UniversalClient, prefix, sid string, want bool) {
	t.Helper()
	got, err := revocation.New(c, prefix, revocation.Options{}).Revoked(context.Background(),
		kit.Claims{SessionID: sid, ExpiresAt: time.Now().Add(rdsAccessTTL)})
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("sid %s: got revoked %v, want %v", sid, got, want)
	}
	if !want {
		return
	}
	ttl, err := c.PTTL(context.Background(), revocation.Key(prefix, sid)).Result()
	if err != nil {
		t.Fatal(err)
	}
	if max := revocation.MarkTTL(rdsAccessTTL); ttl <= rdsAccessTTL || ttl > max {
		t.Errorf("revocation mark TTL: got %v, want in (%v, %v]", ttl, rdsAccessTTL, max)
	}
}

func rdsWantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: got %v, want %v", what, err, want)
	}
}

func TestRedisSessionsCreateAndRotate(t *testing.T) {
	s, _, _ := rdsSessions(t)
	ctx := context.Background()
	want := rdsSession(1, "user-1", time.Hour)
	rdsCreate(t, s, want, "h1")
	for i, step := range [][2]string{{"h1", "h2"}, {"h2", "h3"}, {"h3", "h4"}} {
		got, err := s.Rotate(ctx, want.ID, step[0], step[1])
		if err != nil {
			t.Fatalf("rotation %d: %v", i+1, err)
		}
		if got.ID != want.ID || got.UserID != want.UserID || !slices.Equal(got.Roles, want.Roles) ||
			!slices.Equal(got.AMR, want.AMR) || !got.CreatedAt.Equal(want.CreatedAt) || !got.ExpiresAt.Equal(want.ExpiresAt) {
			t.Errorf("rotation %d: got %+v, want %+v", i+1, got, want)
		}
	}
}

func TestRedisSessionsRotateRefuses(t *testing.T) {
	s, _, _ := rdsSessions(t)
	sess := rdsSession(1, "user-1", time.Hour)
	rdsCreate(t, s, sess, "h1")
	for _, tc := range []struct {
		name, sid, old, next string
	}{
		{"unknown session", rdsSession(2, "user-1", time.Hour).ID, "h1", "h2"},
		{"hash never issued", sess.ID, "nope", "h2"},
		{"empty old hash", sess.ID, "", "h2"},
		{"empty next hash", sess.ID, "h1", ""},
		{"empty sid", "", "h1", "h2"},
		{"sid with a hash tag", sess.ID + "}{x", "h1", "h2"},
		{"sid too long", strings.Repeat("a", 129), "h1", "h2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Rotate(context.Background(), tc.sid, tc.old, tc.next)
			rdsWantErr(t, "Rotate", err, auth.ErrInvalidRefreshToken)
		})
	}
	// None of that touched the session.
	if _, err := s.Rotate(context.Background(), sess.ID, "h1", "h2"); err != nil {
		t.Errorf("rotating the real token after the refusals: %v", err)
	}
}

func TestRedisSessionsReplayRevokesTheFamily(t *testing.T) {
	s, c, prefix := rdsSessions(t)
	ctx := context.Background()
	sess := rdsSession(1, "user-1", time.Hour)
	rdsCreate(t, s, sess, "r1")
	ps := rdsSubscribe(t, c, prefix)
	if _, err := s.Rotate(ctx, sess.ID, "r1", "r2"); err != nil {
		t.Fatal(err)
	}
	_, err := s.Rotate(ctx, sess.ID, "r1", "r3")
	rdsWantErr(t, "replaying R1", err, auth.ErrRefreshTokenReused)
	rdsWantPublished(t, ps, sess.ID)
	_, err = s.Rotate(ctx, sess.ID, "r2", "r3")
	rdsWantErr(t, "R2 after the replay", err, auth.ErrInvalidRefreshToken)
	rdsWantRevoked(t, c, prefix, sess.ID, true)
	if n, err := c.Exists(ctx, prefix+"session:{"+sess.ID+"}", prefix+"session:{"+sess.ID+"}:spent").Result(); err != nil || n != 0 {
		t.Errorf("session keys left after reuse: got %d (%v), want 0", n, err)
	}
	if n, err := c.ZCard(ctx, prefix+"user:{user-1}:sessions").Result(); err != nil || n != 0 {
		t.Errorf("user index after reuse: got %d sids (%v), want 0", n, err)
	}
}

// TestRedisSessionsConcurrentRotate: 50 refreshes with one token, exactly
// one wins. The losers present a spent token, which is reuse: the session
// is revoked, so the winner's new token is dead as well (documented on
// Rotate).
func TestRedisSessionsConcurrentRotate(t *testing.T) {
	s, c, prefix := rdsSessions(t)
	sess := rdsSession(1, "user-1", time.Hour)
	rdsCreate(t, s, sess, "r1")
	const n = 50
	results := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			_, results[i] = s.Rotate(context.Background(), sess.ID, "r1", fmt.Sprintf("next-%d", i))
		})
	}
	close(start)
	wg.Wait()
	winner, reused, invalid := -1, 0, 0
	for i, err := range results {
		switch {
		case err == nil:
			if winner >= 0 {
				t.Errorf("rotations %d and %d both succeeded", winner, i)
			}
			winner = i
		case errors.Is(err, auth.ErrRefreshTokenReused):
			reused++
		case errors.Is(err, auth.ErrInvalidRefreshToken):
			invalid++
		default:
			t.Errorf("rotation %d: unexpected error %v", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("got no successful rotation, want exactly one")
	}
	if reused < 1 || reused+invalid != n-1 {
		t.Errorf("got %d reused and %d invalid, want at least 1 reused and %d refused in all", reused, invalid, n-1)
	}
	_, err := s.Rotate(context.Background(), sess.ID, fmt.Sprintf("next-%d", winner), "later")
	rdsWantErr(t, "the winner's new token", err, auth.ErrInvalidRefreshToken)
	rdsWantRevoked(t, c, prefix, sess.ID, true)
}

func TestRedisSessionsAbsoluteExpiry(t *testing.T) {
	s, c, prefix := rdsSessions(t)
	ctx := context.Background()
	sess := rdsSession(1, "user-1", time.Hour)
	rdsCreate(t, s, sess, "r1")
	if _, err := s.Rotate(ctx, sess.ID, "r1", "r2"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		key      string
		min, max time.Duration
	}{
		{prefix + "session:{" + sess.ID + "}", 59 * time.Minute, time.Hour},
		{prefix + "session:{" + sess.ID + "}:spent", 59 * time.Minute, time.Hour},
		// The index outlives the session by the access tokens' life.
		{prefix + "user:{user-1}:sessions", time.Hour, time.Hour + revocation.MarkTTL(rdsAccessTTL)},
	} {
		t.Run(strings.TrimPrefix(tc.key, prefix), func(t *testing.T) {
			ttl, err := c.PTTL(ctx, tc.key).Result()
			if err != nil {
				t.Fatal(err)
			}
			if ttl < tc.min || ttl > tc.max {
				t.Errorf("got TTL %v, want in [%v, %v]", ttl, tc.min, tc.max)
			}
		})
	}
	t.Run("rotation does not extend the session", func(t *testing.T) {
		short := rdsSession(2, "user-1", 300*time.Millisecond)
		rdsCreate(t, s, short, "s1")
		if _, err := s.Rotate(ctx, short.ID, "s1", "s2"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(400 * time.Millisecond)
		_, err := s.Rotate(ctx, short.ID, "s2", "s3")
		rdsWantErr(t, "rotating an expired session", err, auth.ErrInvalidRefreshToken)
	})
}

func TestRedisSessionsCreateRefuses(t *testing.T) {
	s, _, _ := rdsSessions(t)
	good := rdsSession(1, "user-1", time.Hour)
	for _, tc := range []struct {
		name string
		edit func(*auth.Session)
		hash string
	}{
		{"sid with braces", func(s *auth.Session) { s.ID = "{x}" }, "h"},
		{"no user", func(s *auth.Session) { s.UserID = "" }, "h"},
		{"no hash", func(*auth.Session) {}, ""},
		{"expired", func(s *auth.Session) { s.ExpiresAt = time.Now().Add(-time.Second) }, "h"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sess := good
			tc.edit(&sess)
			err := s.Create(context.Background(), sess, tc.hash)
			if got := errs.KindOf(err); err == nil || got != errs.Internal {
				t.Errorf("got %v (kind %s), want an internal error", err, got)
			}
		})
	}
}

func BenchmarkRedisSessionsRotate(b *testing.B) {
	s, _, _ := rdsSessions(b)
	sess := rdsSession(1, "user-1", time.Hour)
	rdsCreate(b, s, sess, "h0")
	ctx := context.Background()
	i := 0
	for b.Loop() {
		if _, err := s.Rotate(ctx, sess.ID, fmt.Sprint("h", i), fmt.Sprint("h", i+1)); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
