package kittest_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/azora-os/azora/shared/kit"
	"github.com/azora-os/azora/shared/kit/kittest"
)

// publishedKIDs fetches the issuer's JWKS and returns its key ids.
func publishedKIDs(t *testing.T, iss *kittest.Issuer) []string {
	t.Helper()
	resp, err := http.Get(iss.JWKSURL())
	if err != nil {
		t.Fatalf("GET JWKS: %v", err)
	}
	defer resp.Body.Close()
	var set struct {
		Keys []struct {
			KID string `json:"kid"`
			Alg string `json:"alg"`
			Kty string `json:"kty"`
			D   string `json:"d"`
		} `json:"keys"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatalf("decode JWKS: %v", err)
	}
	var kids []string
	for _, k := range set.Keys {
		if k.Kty != "RSA" || k.Alg != "RS256" || k.D != "" {
			t.Errorf("key %s: got kty %q alg %q private %v, want a public RS256 RSA key", k.KID, k.Kty, k.Alg, k.D != "")
		}
		kids = append(kids, k.KID)
	}
	return kids
}

func TestIssuerTokensVerify(t *testing.T) {
	iss := kittest.NewIssuer(t)
	v, err := kit.NewVerifier(iss.VerifierConfig())
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	exp := time.Now().Add(time.Hour).Truncate(time.Second)
	c, err := v.Verify(context.Background(), iss.Token(t, kittest.Claims{
		Subject: "u1", Roles: []string{"admin"}, SessionID: "s1", ID: "j1", AMR: []string{"pwd"}, ExpiresAt: exp,
	}))
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	want := kit.Claims{Subject: "u1", Issuer: kittest.DefaultIssuer, Audience: []string{kittest.DefaultAudience}, ID: "j1", SessionID: "s1", Roles: []string{"admin"}, AMR: []string{"pwd"}}
	if c.Subject != want.Subject || c.Issuer != want.Issuer || c.ID != want.ID || c.SessionID != want.SessionID ||
		!slices.Equal(c.Audience, want.Audience) || !slices.Equal(c.Roles, want.Roles) || !slices.Equal(c.AMR, want.AMR) {
		t.Errorf("claims: got %+v, want %+v", c, want)
	}
	if !c.ExpiresAt.Equal(exp) {
		t.Errorf("exp: got %v, want %v", c.ExpiresAt, exp)
	}
	if c.IssuedAt.IsZero() || c.NotBefore.IsZero() {
		t.Errorf("iat/nbf: got %v/%v, want defaults of now", c.IssuedAt, c.NotBefore)
	}
}

func TestIssuerRotateAndRemove(t *testing.T) {
	iss := kittest.NewIssuer(t)
	old := iss.KID()
	if got := publishedKIDs(t, iss); !slices.Equal(got, []string{old}) {
		t.Fatalf("published: got %v, want [%s]", got, old)
	}
	fresh := iss.Rotate(t)
	if fresh == old || iss.KID() != fresh {
		t.Fatalf("after Rotate: current %q, returned %q, old %q; want a new current kid", iss.KID(), fresh, old)
	}
	if got := publishedKIDs(t, iss); !slices.Equal(got, []string{old, fresh}) {
		t.Errorf("after Rotate: got %v, want [%s %s]", got, old, fresh)
	}
	iss.Remove(old)
	if got := publishedKIDs(t, iss); !slices.Equal(got, []string{fresh}) {
		t.Errorf("after Remove: got %v, want [%s]", got, fresh)
	}
	iss.Publish(old)
	if got := publishedKIDs(t, iss); !slices.Equal(got, []string{fresh, old}) {
		t.Errorf("after Publish: got %v, want [%s %s]", got, fresh, old)
	}
	if n := iss.Fetches(); n != 4 {
		t.Errorf("Fetches: got %d, want 4", n)
	}
}

func TestHostileTokensHaveTheirHeaders(t *testing.T) {
	iss := kittest.NewIssuer(t)
	c := kittest.Claims{Subject: "u1"}
	tests := []struct {
		name, token, alg string
	}{
		{"none", iss.NoneToken(t, c), "none"},
		{"HS256", iss.HS256Token(t, c), "HS256"},
		{"RS256", iss.Token(t, c), "RS256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := header(t, tt.token)
			if h["alg"] != tt.alg || h["kid"] != iss.KID() {
				t.Errorf("header: got %v, want alg %s kid %s", h, tt.alg, iss.KID())
			}
		})
	}
	if h := header(t, iss.Token(t, c, kittest.WithoutKID())); h["kid"] != nil {
		t.Errorf("WithoutKID: got kid %v, want none", h["kid"])
	}
}

func header(t *testing.T, token string) map[string]any {
	t.Helper()
	enc, _, _ := strings.Cut(token, ".")
	raw, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil {
		t.Fatalf("decode header: %v", err)
	}
	var h map[string]any
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatalf("unmarshal header: %v", err)
	}
	return h
}
