package revocation_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/kit"
	"github.com/azora-os/azora/shared/kit/kittest"
	"github.com/azora-os/azora/shared/redisx/redistest"
	"github.com/azora-os/azora/shared/revocation"
)

// newVerifier returns a kit.Verifier that asks ch about every token.
func newVerifier(t testing.TB, iss *kittest.Issuer, ch *revocation.Checker) *kit.Verifier {
	t.Helper()
	cfg := iss.VerifierConfig()
	cfg.Revocations = ch
	v, err := kit.NewVerifier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestVerifierRefusesRevokedSessionWithinASecond is the path every service
// runs: the token verifies (and is cached by the verifier), the session is
// revoked, and the next verification fails within a second.
func TestVerifierRefusesRevokedSessionWithinASecond(t *testing.T) {
	c, prefix := redistest.New(t)
	iss := kittest.NewIssuer(t)
	ch := revocation.New(c, prefix, revocation.Options{})
	startRun(t, ch)
	v := newVerifier(t, iss, ch)
	token := iss.Token(t, kittest.Claims{Subject: "user-1", SessionID: "sid-1"})
	other := iss.Token(t, kittest.Claims{Subject: "user-1", SessionID: "sid-2"})
	ctx := context.Background()
	for _, tok := range []string{token, other} {
		if _, err := v.Verify(ctx, tok); err != nil {
			t.Fatalf("before revocation: %v", err)
		}
	}
	markRevoked(t, c, prefix, "sid-1")
	took := waitFor(t, "token refused", time.Second, func() bool {
		_, err := v.Verify(ctx, token)
		return errors.Is(err, kit.ErrInvalidToken)
	})
	t.Logf("refused %v after the revocation", took)
	if _, err := v.Verify(ctx, other); err != nil {
		t.Errorf("another session's token: got %v, want it accepted", err)
	}
}

func TestVerifierFailsClosedWhenRevocationsAreUnavailable(t *testing.T) {
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 100 * time.Millisecond, MaxRetries: -1, DialerRetries: 1})
	defer dead.Close()
	iss := kittest.NewIssuer(t)
	v := newVerifier(t, iss, revocation.New(dead, "test:", revocation.Options{}))
	_, err := v.Verify(context.Background(), iss.Token(t, kittest.Claims{Subject: "user-1", SessionID: "sid-1"}))
	if !errors.Is(err, kit.ErrAuthUnavailable) || errs.KindOf(err) != errs.Unavailable {
		t.Errorf("got %v (kind %s), want auth_unavailable (503)", err, errs.KindOf(err))
	}
}

// BenchmarkVerifyCachedWithRevocation is the per-request cost of the JWT
// middleware on a token seen before: the verifier's cache and the
// revocation cache both hit.
func BenchmarkVerifyCachedWithRevocation(b *testing.B) {
	c, prefix := redistest.New(b)
	iss := kittest.NewIssuer(b)
	v := newVerifier(b, iss, revocation.New(c, prefix, revocation.Options{}))
	token := iss.Token(b, kittest.Claims{Subject: "user-1", SessionID: "sid-1"})
	ctx := context.Background()
	if _, err := v.Verify(ctx, token); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, token); err != nil {
			b.Fatal(err)
		}
	}
}
