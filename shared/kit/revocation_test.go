package kit_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/kit"
	"github.com/azora-os/azora/shared/kit/kittest"
)

func TestHTTPRevokedSessionRefusedOnCacheHit(t *testing.T) {
	iss := kittest.NewIssuer(t)
	rev := &revocations{}
	v := newVerifier(t, iss, func(c *kit.VerifierConfig) { c.Revocations = rev })
	srv := newAPI(t, v)
	token := iss.Token(t, kittest.Claims{Subject: "u1", SessionID: "sess-1"})

	if r := get(t, srv, "/me", bearer(token)); r.status != http.StatusOK {
		t.Fatalf("before revocation: got status %d, want 200 (problem %+v)", r.status, r.problem)
	}
	if !kit.Cached(v, token) {
		t.Fatal("token not cached after a successful verification")
	}
	rev.revoke("sess-1")
	r := get(t, srv, "/me", bearer(token))
	if r.status != http.StatusUnauthorized || r.problem.Code != "invalid_token" {
		t.Fatalf("after revocation: got %d %q, want 401 invalid_token", r.status, r.problem.Code)
	}
	if !strings.Contains(r.problem.Detail, "revoked") {
		t.Errorf("detail: got %q, want it to mention revocation", r.problem.Detail)
	}
	if got := rev.count(); got != 2 {
		t.Errorf("revocation checks: got %d, want 2 (one per request, cache hit included)", got)
	}
	// Another session of the same user is unaffected.
	other := iss.Token(t, kittest.Claims{Subject: "u1", SessionID: "sess-2"})
	if r := get(t, srv, "/me", bearer(other)); r.status != http.StatusOK {
		t.Errorf("other session: got status %d, want 200", r.status)
	}
}

// failingChecker is a revocation store that cannot answer.
type failingChecker struct{ err error }

func (f failingChecker) Revoked(context.Context, kit.Claims) (bool, error) { return false, f.err }

func TestVerifyFailsClosedWhenRevocationsFail(t *testing.T) {
	iss := kittest.NewIssuer(t)
	token := iss.Token(t, kittest.Claims{Subject: "u1"})
	domain := errs.New(errs.Unavailable, "redis_down", "session store unavailable")
	tests := []struct {
		name string
		err  error
		want *errs.Error
	}{
		{"plain error", errors.New("dial tcp: refused"), kit.ErrAuthUnavailable},
		{"errs error kept", domain, domain},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newVerifier(t, iss, func(c *kit.VerifierConfig) { c.Revocations = failingChecker{tt.err} })
			_, err := v.Verify(context.Background(), token)
			if !errors.Is(err, tt.want) {
				t.Errorf("got %v, want %v", err, tt.want)
			}
			if errs.KindOf(err) != errs.Unavailable {
				t.Errorf("kind: got %s, want %s", errs.KindOf(err), errs.Unavailable)
			}
		})
	}
}
