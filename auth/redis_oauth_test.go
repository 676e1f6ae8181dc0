package auth_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/azora-os/azora/auth"
	"github.com/azora-os/azora/shared/redisx/redistest"
)

func roStore(t *testing.T) *auth.RedisOAuthStore {
	t.Helper()
	c, prefix := redistest.New(t)
	return auth.NewRedisOAuthStore(c, prefix)
}

func roCode() auth.AuthCode {
	return auth.AuthCode{
		ClientID: "c1", RedirectURI: "http://127.0.0.1/cb", UserID: "u1", Scope: []string{"openid"},
		Nonce: "n", Challenge: "ch", AMR: []string{"pwd"}, AuthTime: time.Now().UTC().Truncate(time.Second),
	}
}

func TestRedisOAuthCodes(t *testing.T) {
	s := roStore(t)
	ctx := context.Background()
	want := roCode()
	if err := s.SaveCode(ctx, "h1", want, time.Minute); err != nil {
		t.Fatal(err)
	}
	got, err := s.Code(ctx, "h1")
	if err != nil || got.ClientID != want.ClientID || got.Nonce != want.Nonce || !got.AuthTime.Equal(want.AuthTime) ||
		!slices.Equal(got.Scope, want.Scope) || got.SID != "" {
		t.Fatalf("Code: got %+v, %v, want %+v", got, err, want)
	}
	if _, err := s.Code(ctx, "unknown"); !errors.Is(err, auth.ErrInvalidGrant) {
		t.Errorf("unknown code: got %v, want invalid_grant", err)
	}
	if first, _, err := s.RedeemCode(ctx, "unknown", "s", time.Minute); first || !errors.Is(err, auth.ErrInvalidGrant) {
		t.Errorf("redeem unknown: got %v, %v", first, err)
	}
	if reused, _ := s.CodeReused(ctx, "h1"); reused {
		t.Error("a fresh code reads as reused")
	}
	if first, _, err := s.RedeemCode(ctx, "h1", "sid-1", time.Hour); !first || err != nil {
		t.Fatalf("first redemption: got %v, %v", first, err)
	}
	if got, _ := s.Code(ctx, "h1"); got.SID != "sid-1" {
		t.Errorf("after redemption: got sid %q, want sid-1", got.SID)
	}
	first, earlier, err := s.RedeemCode(ctx, "h1", "sid-2", time.Hour)
	if first || earlier != "sid-1" || err != nil {
		t.Errorf("second redemption: got %v %q %v, want false sid-1", first, earlier, err)
	}
	if reused, err := s.CodeReused(ctx, "h1"); !reused || err != nil {
		t.Errorf("CodeReused: got %v, %v", reused, err)
	}
	if err := s.SaveCode(ctx, "h2", want, 0); err == nil {
		t.Error("SaveCode with no ttl: got nil error")
	}
}

func TestRedisOAuthCodeExpires(t *testing.T) {
	s := roStore(t)
	ctx := context.Background()
	if err := s.SaveCode(ctx, "h", roCode(), 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := s.Code(ctx, "h"); errors.Is(err, auth.ErrInvalidGrant) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the code outlived its ttl")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRedisOAuthConcurrentRedemptionsHaveOneWinner(t *testing.T) {
	s := roStore(t)
	ctx := context.Background()
	if err := s.SaveCode(ctx, "h", roCode(), time.Minute); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	wins := 0
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			first, _, err := s.RedeemCode(ctx, "h", "sid-"+string(rune('a'+i)), time.Minute)
			if err != nil {
				t.Error(err)
			}
			if first {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if wins != 1 {
		t.Errorf("got %d first redemptions, want exactly 1", wins)
	}
}

func TestRedisOAuthConsents(t *testing.T) {
	s := roStore(t)
	ctx := context.Background()
	want := auth.Consent{Request: auth.AuthorizationRequest{ClientID: "c1", State: "st"}, UserID: "u1", AMR: []string{"pwd"}, AuthTime: time.Now().UTC().Truncate(time.Second)}
	token, err := s.SaveConsent(ctx, want, time.Minute)
	if err != nil || len(token) != 43 {
		t.Fatalf("SaveConsent: %q, %v", token, err)
	}
	got, err := s.TakeConsent(ctx, token)
	if err != nil || got.UserID != "u1" || got.Request != want.Request || !got.AuthTime.Equal(want.AuthTime) {
		t.Fatalf("TakeConsent: got %+v, %v", got, err)
	}
	for name, tok := range map[string]string{"taken": token, "unknown": "nope", "empty": ""} {
		if _, err := s.TakeConsent(ctx, tok); !errors.Is(err, auth.ErrAuthorizationExpired) {
			t.Errorf("%s: got %v, want authorization_expired", name, err)
		}
	}
}
