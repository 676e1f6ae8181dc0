package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/azora-os/azora/shared/kit"
)

// ktPart decodes part i (0 header, 1 payload) of a JWT.
func ktPart(t *testing.T, tok string, i int) map[string]any {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[i])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestSignIDToken(t *testing.T) {
	m, _ := ktReadyManager(t, nil)
	srv := ktJWKSServer(t, m)
	ctx := context.Background()
	verifier := func(aud string) *kit.Verifier {
		v, err := kit.NewVerifier(kit.VerifierConfig{JWKSURL: srv.URL, Issuer: ktIssuer, Audience: aud})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	auth := time.Now().Add(-time.Minute).Truncate(time.Second)
	tok, err := m.SignIDToken(ctx, IDTokenClaims{
		Subject: "user-1", Audience: "client-1", Nonce: "n-1", AuthTime: auth, AMR: []string{AMRPassword},
		AccessTokenHash: "hash", Email: "a@b.c",
	})
	if err != nil {
		t.Fatal(err)
	}
	if h := ktPart(t, tok, 0); h["typ"] != "JWT" || h["alg"] != "RS256" || h["kid"] == "" {
		t.Errorf("header: got %v, want typ JWT, RS256 and a kid", h)
	}
	p := ktPart(t, tok, 1)
	if p["iss"] != ktIssuer || p["azp"] != "client-1" || p["nonce"] != "n-1" || p["at_hash"] != "hash" ||
		p["email"] != "a@b.c" || p["auth_time"] != float64(auth.Unix()) || p["name"] != nil || p["roles"] != nil {
		t.Errorf("payload: got %v", p)
	}
	// Signed by the JWKS's key for the client's audience, and never
	// accepted where the platform's access tokens are.
	if c, err := verifier("client-1").Verify(ctx, tok); err != nil || c.Subject != "user-1" {
		t.Errorf("as the client: got %+v, %v", c, err)
	}
	if _, err := verifier(ktAudience).Verify(ctx, tok); err == nil {
		t.Error("an ID token verified as an access token")
	}

	for name, c := range map[string]IDTokenClaims{
		"no audience": {Subject: "user-1"},
		"no subject":  {Audience: "client-1"},
		"too long":    {Subject: "user-1", Audience: "client-1", IssuedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)},
	} {
		if _, err := m.SignIDToken(ctx, c); err == nil {
			t.Errorf("%s: signed", name)
		}
	}
}

func TestSignCarriesOAuthClaims(t *testing.T) {
	m, _ := ktReadyManager(t, nil)
	srv := ktJWKSServer(t, m)
	ctx := context.Background()
	c := ktClaims(time.Now())
	c.ClientID, c.Scope = "client-1", []string{"openid", "email"}
	tok, err := m.Sign(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if p := ktPart(t, tok, 1); p["scope"] != "openid email" || p["client_id"] != "client-1" {
		t.Errorf("payload: got %v", p)
	}
	first, err := m.Sign(ctx, ktClaims(time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	if p := ktPart(t, first, 1); p["scope"] != nil || p["client_id"] != nil {
		t.Errorf("a first-party token: got %v, want neither client_id nor scope", p)
	}
	v, err := kit.NewVerifier(kit.VerifierConfig{JWKSURL: srv.URL, Issuer: ktIssuer, Audience: ktAudience})
	if err != nil {
		t.Fatal(err)
	}
	got, err := v.Verify(ctx, tok)
	if err != nil || got.ClientID != "client-1" || !slices.Equal(got.Scope, c.Scope) || got.IsService() {
		t.Errorf("verified: got %+v, %v", got, err)
	}
}
