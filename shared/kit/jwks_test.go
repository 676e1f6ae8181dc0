package kit_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/kit"
	"github.com/azora-os/azora/shared/kit/kittest"
)

func TestHTTPUnknownKidRefetchAndRotation(t *testing.T) {
	const interval = 300 * time.Millisecond
	iss := kittest.NewIssuer(t)
	v := newVerifier(t, iss, func(c *kit.VerifierConfig) { c.MinRefreshInterval = interval })
	srv := newAPI(t, v)
	if got := iss.Fetches(); got != 0 {
		t.Fatalf("fetches after NewVerifier: got %d, want 0 (keys load lazily)", got)
	}
	oldToken := iss.Token(t, kittest.Claims{Subject: "u1"})
	if r := get(t, srv, "/me", bearer(oldToken)); r.status != http.StatusOK {
		t.Fatalf("first token: got status %d, want 200", r.status)
	}
	if got := iss.Fetches(); got != 1 {
		t.Fatalf("fetches after first use: got %d, want 1", got)
	}

	// Generate the next key now: key generation is slow and must not eat
	// into the refresh interval below.
	newKID := iss.NextKey(t)
	newToken := bearer(iss.Token(t, kittest.Claims{Subject: "u2"}))

	time.Sleep(interval + 50*time.Millisecond)
	unknown := bearer(iss.Token(t, kittest.Claims{Subject: "u1"}, kittest.WithKID("never-published")))
	if r := get(t, srv, "/me", unknown); r.status != http.StatusUnauthorized || r.problem.Code != "invalid_token" {
		t.Fatalf("unknown kid: got %d %q, want 401 invalid_token", r.status, r.problem.Code)
	}
	if got := iss.Fetches(); got != 2 {
		t.Fatalf("fetches after unknown kid: got %d, want 2 (one refetch)", got)
	}

	// A key published right after that refetch stays unknown until the
	// next refetch is allowed.
	iss.Publish(newKID)
	if r := get(t, srv, "/me", newToken); r.status != http.StatusUnauthorized || r.problem.Code != "invalid_token" {
		t.Fatalf("new kid within the refresh interval: got %d %q, want 401 invalid_token", r.status, r.problem.Code)
	}
	if got := iss.Fetches(); got != 2 {
		t.Fatalf("fetches within the interval: got %d, want still 2", got)
	}
	time.Sleep(interval + 50*time.Millisecond)
	if r := get(t, srv, "/me", newToken); r.status != http.StatusOK || r.me.Subject != "u2" {
		t.Fatalf("new kid after the interval: got %d sub %q, want 200 u2 (problem %+v)", r.status, r.me.Subject, r.problem)
	}
	if got := iss.Fetches(); got != 3 {
		t.Errorf("fetches after rotation: got %d, want 3", got)
	}
	if r := get(t, srv, "/me", bearer(oldToken)); r.status != http.StatusOK {
		t.Errorf("token of the previous key: got %d, want 200 (still published)", r.status)
	}
}

func TestUnknownKidBurstCausesOneFetch(t *testing.T) {
	const interval = time.Second
	iss := kittest.NewIssuer(t)
	v := newVerifier(t, iss, func(c *kit.VerifierConfig) { c.MinRefreshInterval = interval })
	srv := newAPI(t, v)
	if r := get(t, srv, "/me", bearer(iss.Token(t, kittest.Claims{Subject: "u1"}))); r.status != http.StatusOK {
		t.Fatalf("warm-up: got status %d, want 200", r.status)
	}
	tokens := make([]string, 50)
	for i := range tokens {
		tokens[i] = bearer(iss.Token(t, kittest.Claims{Subject: "u1"}, kittest.WithKID(fmt.Sprintf("unknown-%d", i))))
	}
	time.Sleep(interval + 50*time.Millisecond)
	before := iss.Fetches()

	start := time.Now()
	var wg sync.WaitGroup
	results := make([]response, len(tokens))
	failures := make([]error, len(tokens))
	for i, tok := range tokens {
		wg.Go(func() { results[i], failures[i] = call(srv, "/me", tok) })
	}
	wg.Wait()
	if err := errors.Join(failures...); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took >= interval {
		t.Fatalf("burst took %v, longer than the refresh interval %v: the test proves nothing", took, interval)
	}
	for i, r := range results {
		if r.status != http.StatusUnauthorized || r.problem.Code != "invalid_token" {
			t.Errorf("request %d: got %d %q, want 401 invalid_token", i, r.status, r.problem.Code)
		}
	}
	if got := iss.Fetches() - before; got != 1 {
		t.Errorf("fetches caused by 50 unknown kids: got %d, want 1", got)
	}
}

func TestJWKSUnavailable(t *testing.T) {
	iss := kittest.NewIssuer(t)
	v := newVerifier(t, iss, func(c *kit.VerifierConfig) { c.MinRefreshInterval = 100 * time.Millisecond })
	srv := newAPI(t, v)
	token := bearer(iss.Token(t, kittest.Claims{Subject: "u1"}))

	iss.FailJWKS(true)
	r := get(t, srv, "/me", token)
	if r.status != http.StatusServiceUnavailable || r.problem.Code != "auth_unavailable" {
		t.Fatalf("JWKS down: got %d %q, want 503 auth_unavailable", r.status, r.problem.Code)
	}
	iss.FailJWKS(false)
	time.Sleep(150 * time.Millisecond)
	if r := get(t, srv, "/me", token); r.status != http.StatusOK {
		t.Fatalf("JWKS back: got %d %q, want 200", r.status, r.problem.Code)
	}
}

func TestJWKSUnreachable(t *testing.T) {
	iss := kittest.NewIssuer(t)
	token := iss.Token(t, kittest.Claims{Subject: "u1"})
	// A port nothing listens on: connection refused.
	v, err := kit.NewVerifier(kit.VerifierConfig{JWKSURL: "http://127.0.0.1:1/jwks", Issuer: kittest.DefaultIssuer, FetchTimeout: time.Second})
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	_, err = v.Verify(context.Background(), token)
	if !errors.Is(err, kit.ErrAuthUnavailable) || errs.KindOf(err) != errs.Unavailable {
		t.Errorf("got %v, want auth_unavailable (kind unavailable)", err)
	}
}

func TestNewVerifierRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  kit.VerifierConfig
	}{
		{"no JWKS URL", kit.VerifierConfig{Issuer: "x"}},
		{"relative JWKS URL", kit.VerifierConfig{JWKSURL: "/jwks", Issuer: "x"}},
		{"ftp JWKS URL", kit.VerifierConfig{JWKSURL: "ftp://auth/jwks", Issuer: "x"}},
		{"no issuer", kit.VerifierConfig{JWKSURL: "http://auth/jwks"}},
		{"negative leeway", kit.VerifierConfig{JWKSURL: "http://auth/jwks", Issuer: "x", Leeway: -time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := kit.NewVerifier(tt.cfg)
			if e := errs.As(err); err == nil || e.Code != "invalid_verifier_config" {
				t.Errorf("got %v, want invalid_verifier_config", err)
			}
		})
	}
}
