package auth_test

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/azora-os/azora/auth"
)

func TestRedisSessionsRevoke(t *testing.T) {
	s, c, prefix := rdsSessions(t)
	ctx := context.Background()
	sess, other := rdsSession(1, "user-1", time.Hour), rdsSession(2, "user-1", time.Hour)
	rdsCreate(t, s, sess, "r1")
	rdsCreate(t, s, other, "o1")
	ps := rdsSubscribe(t, c, prefix)
	if err := s.Revoke(ctx, sess.ID); err != nil {
		t.Fatal(err)
	}
	rdsWantPublished(t, ps, sess.ID)
	_, err := s.Rotate(ctx, sess.ID, "r1", "r2")
	rdsWantErr(t, "rotating a revoked session", err, auth.ErrInvalidRefreshToken)
	rdsWantRevoked(t, c, prefix, sess.ID, true)
	rdsWantRevoked(t, c, prefix, other.ID, false)
	if sids, err := c.ZRange(ctx, prefix+"user:{user-1}:sessions", 0, -1).Result(); err != nil || !slices.Equal(sids, []string{other.ID}) {
		t.Errorf("user index: got %v (%v), want [%s]", sids, err, other.ID)
	}
	if _, err := s.Rotate(ctx, other.ID, "o1", "o2"); err != nil {
		t.Errorf("the user's other session: %v", err)
	}

	t.Run("unknown sid is marked, not an error", func(t *testing.T) {
		unknown := rdsSession(3, "user-1", time.Hour).ID
		if err := s.Revoke(ctx, unknown); err != nil {
			t.Fatal(err)
		}
		rdsWantPublished(t, ps, unknown)
		rdsWantRevoked(t, c, prefix, unknown, true)
	})
	t.Run("malformed sid is ignored", func(t *testing.T) {
		if err := s.Revoke(ctx, "a}{b"); err != nil {
			t.Errorf("got %v, want nil", err)
		}
	})
}

func TestRedisSessionsRevokeUser(t *testing.T) {
	s, c, prefix := rdsSessions(t)
	ctx := context.Background()
	var mine []auth.Session
	for i := range 3 {
		mine = append(mine, rdsSession(i, "user-a", time.Hour))
		rdsCreate(t, s, mine[i], "a1")
	}
	theirs := rdsSession(9, "user-b", time.Hour)
	rdsCreate(t, s, theirs, "b1")
	if err := s.RevokeUser(ctx, "user-a"); err != nil {
		t.Fatal(err)
	}
	for _, sess := range mine {
		_, err := s.Rotate(ctx, sess.ID, "a1", "a2")
		rdsWantErr(t, "rotating "+sess.ID, err, auth.ErrInvalidRefreshToken)
		rdsWantRevoked(t, c, prefix, sess.ID, true)
	}
	rdsWantRevoked(t, c, prefix, theirs.ID, false)
	if _, err := s.Rotate(ctx, theirs.ID, "b1", "b2"); err != nil {
		t.Errorf("another user's session: %v", err)
	}
	if err := s.RevokeUser(ctx, "user-without-sessions"); err != nil {
		t.Errorf("user without sessions: got %v, want nil", err)
	}
}

// TestRedisSessionsKeysShareHashTag: every key written for one sid hashes
// on {sid}, so the scripts stay in one Redis Cluster slot.
func TestRedisSessionsKeysShareHashTag(t *testing.T) {
	s, c, prefix := rdsSessions(t)
	ctx := context.Background()
	a, b, live := rdsSession(1, "user-1", time.Hour), rdsSession(2, "user-1", time.Hour), rdsSession(3, "user-1", time.Hour)
	rdsCreate(t, s, a, "a1")
	rdsCreate(t, s, b, "b1")
	rdsCreate(t, s, live, "l1")
	if _, err := s.Rotate(ctx, a.ID, "a1", "a2"); err != nil { // writes the spent set
		t.Fatal(err)
	}
	if _, err := s.Rotate(ctx, live.ID, "l1", "l2"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Rotate(ctx, a.ID, "a1", "a3"); !errors.Is(err, auth.ErrRefreshTokenReused) { // writes the mark
		t.Fatalf("got %v, want reuse", err)
	}
	if err := s.Revoke(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	keys, err := c.Keys(ctx, prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	tags := map[string]int{}
	for _, k := range keys {
		open := strings.IndexByte(k, '{')
		end := strings.IndexByte(k[open+1:], '}')
		if open < 0 || end <= 0 {
			t.Errorf("key %s has no hash tag", k)
			continue
		}
		tags[k[open+1:open+1+end]]++
	}
	// a: the reuse mark; b: the revoke mark (both sessions deleted); live:
	// its session and spent set; user-1: the index.
	want := map[string]int{a.ID: 1, b.ID: 1, live.ID: 2, "user-1": 1}
	if !maps.Equal(tags, want) {
		t.Errorf("got keys per hash tag %v, want %v (keys: %v)", tags, want, keys)
	}
}
