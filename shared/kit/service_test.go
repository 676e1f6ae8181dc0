package kit_test

import (
	"context"
	"slices"
	"testing"

	"github.com/go-kit/log"

	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/kit"
	"github.com/azora-os/azora/shared/kit/kittest"
)

// TestServiceCallers checks that a client_credentials token (sub =
// client_id, a scope claim, no roles) passes only routes that allow
// service callers with one of its scopes, and that an OAuth token issued
// for a user is judged by the user's roles, never by its scopes.
func TestServiceCallers(t *testing.T) {
	iss := kittest.NewIssuer(t)
	v := newVerifier(t, iss, nil)
	service := iss.Token(t, kittest.Claims{Subject: "client-1", Extra: map[string]any{"client_id": "client-1", "scope": "reports:read  courses:read"}})
	otherScope := iss.Token(t, kittest.Claims{Subject: "client-2", Extra: map[string]any{"client_id": "client-2", "scope": "finance:read"}})
	// A user's token obtained through client-1, with a scope a service
	// route accepts: it is still the user's, so only roles count.
	delegated := iss.Token(t, kittest.Claims{Subject: "u1", Roles: []string{"student"}, Extra: map[string]any{"client_id": "client-1", "scope": "reports:read"}})
	admin := iss.Token(t, kittest.Claims{Subject: "u2", Roles: []string{"admin"}})

	serviceOnly := kit.Spec{Name: "report", Verifier: v, Scopes: []string{"reports:read"}}
	both := kit.Spec{Name: "course", Verifier: v, Roles: []string{"admin"}, Scopes: []string{"courses:read"}}
	usersOnly := kit.Spec{Name: "me", Verifier: v, Roles: []string{"student", "admin"}}
	for _, tc := range []struct {
		name  string
		spec  kit.Spec
		token string
		code  string // "" = reached
	}{
		{"service with the scope, service route", serviceOnly, service, ""},
		{"service without the scope", serviceOnly, otherScope, "forbidden"},
		{"user on a service-only route", serviceOnly, admin, "forbidden"},
		{"user token carrying the scope", serviceOnly, delegated, "forbidden"},
		{"no token", serviceOnly, "", "missing_token"},
		{"service on a shared route", both, service, ""},
		{"admin on a shared route", both, admin, ""},
		{"student on a shared route", both, delegated, "forbidden"},
		{"service on a user route", usersOnly, service, "forbidden"},
		{"delegated user token on a user route", usersOnly, delegated, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ep := kit.Chain(log.NewNopLogger(), nil, tc.spec)(func(context.Context, any) (any, error) { return "ok", nil })
			ctx := context.Background()
			if tc.token != "" {
				ctx = kit.WithToken(ctx, tc.token)
			}
			_, err := ep(ctx, nil)
			if got := errs.As(err); (tc.code == "" && err != nil) || (tc.code != "" && (got == nil || got.Code != tc.code)) {
				t.Fatalf("got %v, want %q", err, tc.code)
			}
		})
	}
}

func TestVerifierReadsOAuthClaims(t *testing.T) {
	iss := kittest.NewIssuer(t)
	v := newVerifier(t, iss, nil)
	for _, tc := range []struct {
		name    string
		extra   map[string]any
		sub     string
		client  string
		scope   []string
		service bool
	}{
		{"first-party login", nil, "u1", "", nil, false},
		{"client credentials", map[string]any{"client_id": "c1", "scope": "a b"}, "c1", "c1", []string{"a", "b"}, true},
		{"for a user", map[string]any{"client_id": "c1", "scope": "openid"}, "u1", "c1", []string{"openid"}, false},
		{"empty scope", map[string]any{"client_id": "c1", "scope": " "}, "c1", "c1", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := v.Verify(context.Background(), iss.Token(t, kittest.Claims{Subject: tc.sub, Extra: tc.extra}))
			if err != nil {
				t.Fatal(err)
			}
			if c.ClientID != tc.client || !slices.Equal(c.Scope, tc.scope) || c.IsService() != tc.service {
				t.Errorf("got client %q scope %q service %v, want %q %q %v", c.ClientID, c.Scope, c.IsService(), tc.client, tc.scope, tc.service)
			}
			if tc.scope != nil && (!c.HasScope(tc.scope[0]) || c.HasScope("nope")) {
				t.Errorf("HasScope: wrong answers for %q", c.Scope)
			}
		})
	}
}
