package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	jwxjwk "github.com/lestrrat-go/jwx/v3/jwk"
	jwxjwt "github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/azora-os/azora/shared/kit"
)

func ktClaims(now time.Time) AccessClaims {
	return AccessClaims{
		Subject:   "0190f3c2-7a51-7cc4-9d5e-3b1f0e6a2c11",
		SessionID: "0190f3c2-7a51-7cc4-9d5e-3b1f0e6a2c22",
		Roles:     []string{RoleStudent, RoleInstructor},
		AMR:       []string{AMRPassword, AMROTP},
		ID:        "0190f3c2-7a51-7cc4-9d5e-3b1f0e6a2c33",
		IssuedAt:  now,
		ExpiresAt: now.Add(15 * time.Minute),
	}
}

// ktJWKSServer serves m's JWKS as the auth service does.
func ktJWKSServer(t *testing.T, m *KeyManager) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		set, err := m.JWKS(r.Context())
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(set)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// ktReadyManager returns a KeyManager on a fresh fake store with a key.
func ktReadyManager(t testing.TB, clock *ktClock) (*KeyManager, *ktMemKeys) {
	t.Helper()
	store := &ktMemKeys{}
	m := NewKeyManager(store, ktSealer(t), ktConfig(clock), nil)
	if err := m.EnsureKey(context.Background()); err != nil {
		t.Fatalf("EnsureKey: %v", err)
	}
	return m, store
}

func ktKID(t *testing.T, token string) string {
	t.Helper()
	var h map[string]any
	ktDecodeSegment(t, token, 0, &h)
	kid, _ := h["kid"].(string)
	return kid
}

func ktDecodeSegment(t *testing.T, token string, i int, v any) {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("got %d token segments, want 3", len(parts))
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[i])
	if err != nil {
		t.Fatalf("segment %d: %v", i, err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("segment %d: %v", i, err)
	}
}

func TestKeyManagerSignBeforeAnyKey(t *testing.T) {
	m := NewKeyManager(&ktMemKeys{}, ktSealer(t), ktConfig(nil), nil)
	if _, err := m.Sign(context.Background(), ktClaims(time.Now())); !errors.Is(err, ErrNoSigningKey) {
		t.Fatalf("Sign: got %v, want no_signing_key", err)
	}
	set, err := m.JWKS(context.Background())
	if err != nil || set.Keys == nil || len(set.Keys) != 0 {
		t.Fatalf("JWKS: got %+v, %v, want an empty key list", set, err)
	}
}

func TestKeyManagerTokenVerifiesThroughSharedVerifier(t *testing.T) {
	m, _ := ktReadyManager(t, nil)
	srv := ktJWKSServer(t, m)
	v, err := kit.NewVerifier(kit.VerifierConfig{JWKSURL: srv.URL, Issuer: ktIssuer, Audience: ktAudience, CacheSize: -1})
	if err != nil {
		t.Fatal(err)
	}
	want := ktClaims(time.Now())
	tok, err := m.Sign(context.Background(), want)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	got, err := v.Verify(context.Background(), tok)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if got.Subject != want.Subject || got.SessionID != want.SessionID || got.ID != want.ID ||
		got.Issuer != ktIssuer || !slices.Equal(got.Audience, []string{ktAudience}) ||
		!slices.Equal(got.Roles, want.Roles) || !slices.Equal(got.AMR, want.AMR) ||
		!got.ExpiresAt.Equal(want.ExpiresAt.Truncate(time.Second)) ||
		!got.IssuedAt.Equal(want.IssuedAt.Truncate(time.Second)) ||
		!got.NotBefore.Equal(want.IssuedAt.Truncate(time.Second)) {
		t.Fatalf("got claims %+v, want those of %+v", got, want)
	}
	// A changed payload no longer verifies: the verifier really checks our signature.
	parts := strings.Split(tok, ".")
	forged := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"someone-else"}`)) + "." + parts[2]
	if _, err := v.Verify(context.Background(), forged); !errors.Is(err, kit.ErrInvalidToken) {
		t.Fatalf("forged token: got %v, want invalid_token", err)
	}
}

// TestKeyManagerTokenVerifiesWithJWX is the acceptance check: a
// token verifies with only the JWKS URL and an independent JOSE library.
func TestKeyManagerTokenVerifiesWithJWX(t *testing.T) {
	m, _ := ktReadyManager(t, nil)
	srv := ktJWKSServer(t, m)
	want := ktClaims(time.Now())
	tok, err := m.Sign(context.Background(), want)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	set, err := jwxjwk.Fetch(context.Background(), srv.URL)
	if err != nil {
		t.Fatalf("jwk.Fetch: %v", err)
	}
	got, err := jwxjwt.Parse([]byte(tok), jwxjwt.WithKeySet(set),
		jwxjwt.WithIssuer(ktIssuer), jwxjwt.WithAudience(ktAudience), jwxjwt.WithValidate(true))
	if err != nil {
		t.Fatalf("jwt.Parse: %v", err)
	}
	sub, _ := got.Subject()
	jti, _ := got.JwtID()
	exp, _ := got.Expiration()
	var sid string
	var roles, amr []any
	if err := errors.Join(got.Get("sid", &sid), got.Get("roles", &roles), got.Get("amr", &amr)); err != nil {
		t.Fatalf("private claims: %v", err)
	}
	if sub != want.Subject || jti != want.ID || sid != want.SessionID || !exp.Equal(want.ExpiresAt.Truncate(time.Second)) ||
		!slices.Equal(roles, []any{RoleStudent, RoleInstructor}) || !slices.Equal(amr, []any{AMRPassword, AMROTP}) {
		t.Fatalf("got sub %q jti %q sid %q exp %v roles %v amr %v, want those of %+v", sub, jti, sid, exp, roles, amr, want)
	}
	if _, err := jwxjwt.Parse([]byte(tok), jwxjwt.WithKeySet(set), jwxjwt.WithAudience("another-service")); err == nil {
		t.Fatal("jwx accepted the token for another audience")
	}
}

// TestKeyManagerClaimsAsAPI checks the header and payload against API.md:
// exactly iss, sub, aud, exp, iat, nbf, jti, sid, roles, amr.
func TestKeyManagerClaimsAsAPI(t *testing.T) {
	m, _ := ktReadyManager(t, nil)
	now := time.Unix(time.Now().Unix(), 0)
	tests := []struct {
		name      string
		in        AccessClaims
		roles     []any
		amr       []any
		exp, iat  int64
		wantError bool
	}{
		{name: "password and otp", in: ktClaims(now), roles: []any{"student", "instructor"}, amr: []any{"pwd", "otp"},
			exp: now.Add(15 * time.Minute).Unix(), iat: now.Unix()},
		{name: "nil lists are empty arrays; zero times default", in: AccessClaims{Subject: "u1", SessionID: "s1", ID: "j1"},
			roles: []any{}, amr: []any{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := m.Sign(context.Background(), tt.in)
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			var h map[string]any
			ktDecodeSegment(t, tok, 0, &h)
			kid := m.snap.Load().signing(time.Now()).meta.ID
			if len(h) != 3 || h["alg"] != "RS256" || h["typ"] != "at+jwt" || h["kid"] != kid {
				t.Fatalf("got header %v, want exactly alg RS256, typ at+jwt, kid %s", h, kid)
			}
			var c map[string]any
			ktDecodeSegment(t, tok, 1, &c)
			keys := slices.Sorted(maps.Keys(c))
			if want := []string{"amr", "aud", "exp", "iat", "iss", "jti", "nbf", "roles", "sid", "sub"}; !slices.Equal(keys, want) {
				t.Fatalf("got claims %v, want %v", keys, want)
			}
			if tt.iat == 0 {
				tt.iat = int64(c["iat"].(float64))
				tt.exp = tt.iat + int64(DefaultAccessTTL/time.Second)
				if d := time.Now().Unix() - tt.iat; d < 0 || d > 5 {
					t.Fatalf("iat %d is not now", tt.iat)
				}
			}
			roles, _ := c["roles"].([]any)
			amr, _ := c["amr"].([]any)
			if c["iss"] != ktIssuer || c["aud"] != ktAudience || c["sub"] != tt.in.Subject ||
				c["jti"] != tt.in.ID || c["sid"] != tt.in.SessionID ||
				int64(c["exp"].(float64)) != tt.exp || int64(c["iat"].(float64)) != tt.iat || int64(c["nbf"].(float64)) != tt.iat ||
				roles == nil || !slices.Equal(roles, tt.roles) || amr == nil || !slices.Equal(amr, tt.amr) {
				t.Fatalf("got claims %v, want iss %s aud %s sub %s jti %s sid %s exp %d iat=nbf %d roles %v amr %v",
					c, ktIssuer, ktAudience, tt.in.Subject, tt.in.ID, tt.in.SessionID, tt.exp, tt.iat, tt.roles, tt.amr)
			}
		})
	}
}

func TestKeyManagerSignRefusesBadClaims(t *testing.T) {
	m, _ := ktReadyManager(t, nil)
	now := time.Now()
	tests := map[string]AccessClaims{
		"no subject":            {ID: "j", IssuedAt: now, ExpiresAt: now.Add(time.Minute)},
		"longer than AccessTTL": {Subject: "u", IssuedAt: now, ExpiresAt: now.Add(DefaultAccessTTL + time.Second)},
		"expires before issued": {Subject: "u", IssuedAt: now, ExpiresAt: now.Add(-time.Second)},
		"expires when issued":   {Subject: "u", IssuedAt: now, ExpiresAt: now},
	}
	for name, c := range tests {
		t.Run(name, func(t *testing.T) {
			tok, err := m.Sign(context.Background(), c)
			if err == nil || tok != "" {
				t.Fatalf("got %q, %v, want an error", tok, err)
			}
		})
	}
}
