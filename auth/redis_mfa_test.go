package auth_test

import (
	"context"
	"encoding/base64"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/azora-os/azora/auth"
	"github.com/azora-os/azora/shared/redisx/redistest"
)

func TestRedisChallengesAttemptsAreLimited(t *testing.T) {
	c, prefix := redistest.New(t)
	ch := auth.NewRedisChallenges(c, prefix)
	ctx := context.Background()
	token, err := ch.NewMFA(ctx, auth.MFAChallenge{UserID: "user-1"}, 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if raw, err := base64.RawURLEncoding.DecodeString(token); err != nil || len(raw) != 32 {
		t.Fatalf("token %q: got %d bytes (%v), want 32 base64url bytes", token, len(raw), err)
	}
	ttl, err := c.PTTL(ctx, prefix+"mfa:"+token).Result()
	if err != nil || ttl <= 4*time.Minute || ttl > 5*time.Minute {
		t.Errorf("token TTL: got %v (%v), want in (4m, 5m]", ttl, err)
	}
	for i := 1; i <= 5; i++ {
		got, err := ch.AttemptMFA(ctx, token, 5)
		if err != nil {
			t.Fatalf("attempt %d: %v", i, err)
		}
		if got.UserID != "user-1" || got.Attempts != i {
			t.Errorf("attempt %d: got %+v, want user-1 with %d attempts", i, got, i)
		}
	}
	_, err = ch.AttemptMFA(ctx, token, 5)
	rdsWantErr(t, "sixth attempt", err, auth.ErrInvalidMFAToken)
	if n, err := c.Exists(ctx, prefix+"mfa:"+token).Result(); err != nil || n != 0 {
		t.Errorf("token after 5 attempts: got %d keys (%v), want it gone", n, err)
	}
}

func TestRedisChallengesConcurrentAttempts(t *testing.T) {
	c, prefix := redistest.New(t)
	ch := auth.NewRedisChallenges(c, prefix)
	token, err := ch.NewMFA(context.Background(), auth.MFAChallenge{UserID: "user-1"}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	var ok, refused atomic.Int32
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			_, err := ch.AttemptMFA(context.Background(), token, 5)
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, auth.ErrInvalidMFAToken):
				refused.Add(1)
			default:
				t.Errorf("unexpected error %v", err)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 5 || refused.Load() != 15 {
		t.Errorf("got %d attempts allowed and %d refused, want 5 and 15", ok.Load(), refused.Load())
	}
}

func TestRedisChallengesRefuse(t *testing.T) {
	c, prefix := redistest.New(t)
	ch := auth.NewRedisChallenges(c, prefix)
	ctx := context.Background()
	newToken := func(ttl time.Duration) string {
		t.Helper()
		token, err := ch.NewMFA(ctx, auth.MFAChallenge{UserID: "user-1"}, ttl)
		if err != nil {
			t.Fatal(err)
		}
		return token
	}
	deleted := newToken(time.Minute)
	if err := ch.DeleteMFA(ctx, deleted); err != nil {
		t.Fatal(err)
	}
	expired := newToken(50 * time.Millisecond)
	time.Sleep(100 * time.Millisecond)
	for _, tc := range []struct{ name, token string }{
		{"deleted", deleted},
		{"expired", expired},
		{"unknown", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
		{"malformed", "not-a-token"},
		{"empty", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ch.AttemptMFA(ctx, tc.token, 5)
			rdsWantErr(t, "AttemptMFA", err, auth.ErrInvalidMFAToken)
		})
	}
	t.Run("delete unknown", func(t *testing.T) {
		if err := ch.DeleteMFA(ctx, deleted); err != nil {
			t.Errorf("got %v, want nil", err)
		}
	})
	t.Run("bad ttl", func(t *testing.T) {
		if _, err := ch.NewMFA(ctx, auth.MFAChallenge{UserID: "user-1"}, 0); err == nil {
			t.Error("got nil error for a zero ttl")
		}
	})
}

func TestRedisChallengesTOTPStepOnce(t *testing.T) {
	c, prefix := redistest.New(t)
	ch := auth.NewRedisChallenges(c, prefix)
	ctx := context.Background()
	const step = 58_000_000
	var fresh, used atomic.Int32
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			ok, err := ch.UseTOTPStep(ctx, "user-1", step)
			switch {
			case err != nil:
				t.Errorf("UseTOTPStep: %v", err)
			case ok:
				fresh.Add(1)
			default:
				used.Add(1)
			}
		})
	}
	wg.Wait()
	if fresh.Load() != 1 || used.Load() != 19 {
		t.Errorf("got %d first uses and %d repeats, want 1 and 19", fresh.Load(), used.Load())
	}
	for _, tc := range []struct {
		name string
		user string
		step int64
		want bool
	}{
		{"same step again", "user-1", step, false},
		{"next step", "user-1", step + 1, true},
		{"same step, another user", "user-2", step, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ch.UseTOTPStep(ctx, tc.user, tc.step)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	keys, err := c.Keys(ctx, prefix+"totp:*").Result()
	if err != nil || len(keys) != 3 {
		t.Fatalf("got TOTP keys %v (%v), want 3", keys, err)
	}
	for _, k := range keys {
		// A step's code is accepted for 90 s (±1 step); it must stay
		// spent at least that long.
		if ttl, err := c.PTTL(ctx, k).Result(); err != nil || ttl < 90*time.Second {
			t.Errorf("%s: got TTL %v (%v), want at least 90s", k, ttl, err)
		}
	}
}
