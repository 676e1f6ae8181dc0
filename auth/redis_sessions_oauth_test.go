package auth_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/azora-os/azora/auth"
)

// TestRedisSessionsOfAClient checks that an OAuth grant's session refreshes
// only for its client, that a refused refresh spends nothing, and that Get
// and Revoked read what was stored.
func TestRedisSessionsOfAClient(t *testing.T) {
	s, _, _ := rdsSessions(t)
	ctx := context.Background()
	grant := rdsSession(1, "user-1", time.Hour)
	grant.ClientID, grant.Scope = "client-1", []string{"openid", "email"}
	rdsCreate(t, s, grant, "g1")
	login := rdsSession(2, "user-1", time.Hour)
	rdsCreate(t, s, login, "l1")

	for name, try := range map[string]func() error{
		"first-party refresh of a grant": func() error { _, err := s.Rotate(ctx, grant.ID, "g1", "x"); return err },
		"another client":                 func() error { _, err := s.RotateClient(ctx, grant.ID, "client-2", "g1", "x"); return err },
		"a client on a login":            func() error { _, err := s.RotateClient(ctx, login.ID, "client-1", "l1", "x"); return err },
	} {
		if err := try(); !errors.Is(err, auth.ErrInvalidRefreshToken) {
			t.Errorf("%s: got %v, want invalid_refresh_token", name, err)
		}
	}
	got, err := s.RotateClient(ctx, grant.ID, "client-1", "g1", "g2")
	if err != nil || got.ClientID != "client-1" || !slices.Equal(got.Scope, grant.Scope) || got.UserID != "user-1" {
		t.Fatalf("the client's refresh (nothing spent before it): got %+v, %v", got, err)
	}
	if got, err := s.Rotate(ctx, login.ID, "l1", "l2"); err != nil || got.ClientID != "" || got.Scope != nil {
		t.Errorf("first-party refresh: got %+v, %v", got, err)
	}

	sess, hash, err := s.Get(ctx, grant.ID)
	if err != nil || hash != "g2" || sess.ClientID != "client-1" || !slices.Equal(sess.Scope, grant.Scope) || !sess.CreatedAt.Equal(grant.CreatedAt) {
		t.Errorf("Get: got %+v %q %v", sess, hash, err)
	}
	if _, _, err := s.Get(ctx, "0190d6a0-0000-7000-8000-000000000099"); !errors.Is(err, auth.ErrInvalidRefreshToken) {
		t.Errorf("Get of an unknown sid: got %v", err)
	}
	if revoked, err := s.Revoked(ctx, grant.ID); revoked || err != nil {
		t.Errorf("Revoked before: got %v, %v", revoked, err)
	}
	if err := s.Revoke(ctx, grant.ID); err != nil {
		t.Fatal(err)
	}
	if revoked, err := s.Revoked(ctx, grant.ID); !revoked || err != nil {
		t.Errorf("Revoked after: got %v, %v", revoked, err)
	}
}
