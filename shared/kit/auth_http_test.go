package kit_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/azora-os/azora/shared/kit/kittest"
)

func TestHTTPRejectsBadTokens(t *testing.T) {
	iss := kittest.NewIssuer(t)
	srv := newAPI(t, newVerifier(t, iss, nil))
	user := kittest.Claims{Subject: "u1", Roles: []string{"student"}}
	with := func(change func(*kittest.Claims)) kittest.Claims {
		c := user
		change(&c)
		return c
	}
	tests := []struct {
		name, auth, code, detail string
	}{
		{"missing token", "", "missing_token", "bearer token is required"},
		{"other scheme", "Basic dTpw", "missing_token", "bearer token is required"},
		{"empty bearer", "Bearer ", "missing_token", "bearer token is required"},
		{"alg none", bearer(iss.NoneToken(t, user)), "invalid_token", "RS256"},
		{"HS256 keyed with the public key", bearer(iss.HS256Token(t, user)), "invalid_token", "RS256"},
		{"no kid", bearer(iss.Token(t, user, kittest.WithoutKID())), "invalid_token", "no key id"},
		{"unknown kid", bearer(iss.Token(t, user, kittest.WithKID("not-published"))), "invalid_token", "unknown signing key"},
		{"expired", bearer(iss.Token(t, with(func(c *kittest.Claims) {
			c.ExpiresAt, c.IssuedAt, c.NotBefore = time.Now().Add(-2*time.Minute), time.Now().Add(-time.Hour), time.Now().Add(-time.Hour)
		}))), "invalid_token", "token expired"},
		{"not yet valid", bearer(iss.Token(t, with(func(c *kittest.Claims) { c.NotBefore = time.Now().Add(2 * time.Minute) }))), "invalid_token", "not yet valid"},
		{"issued in the future", bearer(iss.Token(t, with(func(c *kittest.Claims) { c.IssuedAt = time.Now().Add(2 * time.Minute) }))), "invalid_token", "issued in the future"},
		{"missing exp", bearer(iss.Token(t, user, kittest.WithoutExpiry())), "invalid_token", "no expiry"},
		{"missing sub", bearer(iss.Token(t, with(func(c *kittest.Claims) { c.Subject = "" }))), "invalid_token", "no subject"},
		{"wrong iss", bearer(iss.Token(t, with(func(c *kittest.Claims) { c.Issuer = "https://evil.test" }))), "invalid_token", "wrong issuer"},
		{"wrong aud", bearer(iss.Token(t, with(func(c *kittest.Claims) { c.Audience = []string{"someone-else"} }))), "invalid_token", "wrong audience"},
		{"over 8 KB", bearer(iss.Token(t, with(func(c *kittest.Claims) { c.Extra = map[string]any{"pad": strings.Repeat("x", 9000)} }))), "invalid_token", "larger than 8 KB"},
		{"malformed: one segment", bearer("garbage"), "invalid_token", "malformed"},
		{"malformed: bad base64", bearer("!!!.e30.sig"), "invalid_token", "malformed"},
		{"malformed: bad signature encoding", bearer(iss.Token(t, user) + "!!"), "invalid_token", "malformed"},
		{"bad signature", bearer(iss.Token(t, user, kittest.SignedByForeignKey())), "invalid_token", "bad signature"},
		{"tampered claims", bearer(tamper(t, iss.Token(t, user))), "invalid_token", "bad signature"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := get(t, srv, "/me", tt.auth)
			if r.status != http.StatusUnauthorized {
				t.Fatalf("status: got %d, want 401 (problem %+v)", r.status, r.problem)
			}
			if r.problem.Code != tt.code {
				t.Errorf("code: got %q, want %q", r.problem.Code, tt.code)
			}
			if !strings.Contains(r.problem.Detail, tt.detail) {
				t.Errorf("detail: got %q, want it to contain %q", r.problem.Detail, tt.detail)
			}
			if r.ctype != "application/problem+json" {
				t.Errorf("content type: got %q, want application/problem+json", r.ctype)
			}
			if !strings.HasPrefix(r.challenge, "Bearer") {
				t.Errorf("WWW-Authenticate: got %q, want a Bearer challenge", r.challenge)
			}
		})
	}
}

// tamper swaps the payload of token for one granting admin, keeping the
// header and signature.
func tamper(t *testing.T, token string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts, want 3", len(parts))
	}
	iss := kittest.NewIssuer(t)
	forged := strings.Split(iss.Token(t, kittest.Claims{Subject: "u1", Roles: []string{"admin"}}), ".")
	return parts[0] + "." + forged[1] + "." + parts[2]
}

func TestHTTPValidTokenReachesEndpoint(t *testing.T) {
	iss := kittest.NewIssuer(t)
	srv := newAPI(t, newVerifier(t, iss, nil))
	tests := []struct {
		name   string
		claims kittest.Claims
		path   string
		status int
		code   string
	}{
		{"user route", kittest.Claims{Subject: "u1", Roles: []string{"student"}, SessionID: "s1"}, "/me", http.StatusOK, ""},
		{"role held", kittest.Claims{Subject: "a1", Roles: []string{"student", "admin"}, SessionID: "s2"}, "/admin", http.StatusOK, ""},
		{"role missing", kittest.Claims{Subject: "u1", Roles: []string{"student"}}, "/admin", http.StatusForbidden, "forbidden"},
		{"no roles at all", kittest.Claims{Subject: "u1"}, "/admin", http.StatusForbidden, "forbidden"},
		{"expired within leeway", kittest.Claims{Subject: "u3", SessionID: "s3", ExpiresAt: time.Now().Add(-10 * time.Second)}, "/me", http.StatusOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := get(t, srv, tt.path, bearer(iss.Token(t, tt.claims)))
			if r.status != tt.status {
				t.Fatalf("status: got %d, want %d (problem %+v)", r.status, tt.status, r.problem)
			}
			if tt.status != http.StatusOK {
				if r.problem.Code != tt.code {
					t.Errorf("code: got %q, want %q", r.problem.Code, tt.code)
				}
				return
			}
			if r.me.Subject != tt.claims.Subject || r.me.SessionID != tt.claims.SessionID {
				t.Errorf("claims: got sub %q sid %q, want %q %q", r.me.Subject, r.me.SessionID, tt.claims.Subject, tt.claims.SessionID)
			}
			if !slices.Equal(r.me.Roles, tt.claims.Roles) {
				t.Errorf("roles: got %v, want %v", r.me.Roles, tt.claims.Roles)
			}
			if !slices.Equal(r.me.Audience, []string{kittest.DefaultAudience}) {
				t.Errorf("aud: got %v, want [%s]", r.me.Audience, kittest.DefaultAudience)
			}
		})
	}
}
