package main

import (
	"context"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-kit/log"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/azora-os/azora/shared/app/apptest"
	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/kit"
)

func TestOAuthClientRegistration(t *testing.T) {
	t.Parallel()
	e := startOAuth(t)
	_, user := registerAndLogin(t, e.c, uniqueEmail())
	ok := map[string]any{"name": "Reports", "grant_types": []string{"client_credentials"}, "scopes": []string{"reports:read"}}
	apptest.Want(t, e.c.Do(t, "POST", "/api/v1/auth/clients", "", ok), 401, "missing_token")
	apptest.Want(t, e.c.Do(t, "POST", "/api/v1/auth/clients", user.Str("access_token"), ok), 403, "forbidden")
	for _, tc := range []struct {
		name string
		body map[string]any
		code string
	}{
		{"no name", map[string]any{"grant_types": []string{"client_credentials"}}, "validation_failed"},
		{"unknown grant", map[string]any{"name": "x", "grant_types": []string{"password"}}, "validation_failed"},
		{"implicit", map[string]any{"name": "x", "grant_types": []string{"implicit"}, "redirect_uris": []string{"https://a.example/cb"}}, "validation_failed"},
		{"unknown scope", map[string]any{"name": "x", "grant_types": []string{"client_credentials"}, "scopes": []string{"admin:all"}}, "validation_failed"},
		{"code without redirect", map[string]any{"name": "x", "grant_types": []string{"authorization_code"}}, "validation_failed"},
		{"refresh without code", map[string]any{"name": "x", "grant_types": []string{"refresh_token", "client_credentials"}}, "validation_failed"},
		{"http redirect", map[string]any{"name": "x", "grant_types": []string{"authorization_code"}, "redirect_uris": []string{"http://app.example.com/cb"}}, "validation_failed"},
		{"redirect with fragment", map[string]any{"name": "x", "grant_types": []string{"authorization_code"}, "redirect_uris": []string{"https://app.example.com/cb#x"}}, "validation_failed"},
		{"public service", map[string]any{"name": "x", "grant_types": []string{"client_credentials"}, "token_endpoint_auth_method": "none"}, "validation_failed"},
		{"unknown field", map[string]any{"name": "x", "grant_types": []string{"client_credentials"}, "secret": "mine"}, "unknown_field"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			apptest.Want(t, e.c.Do(t, "POST", "/api/v1/auth/clients", e.admin, tc.body), 400, tc.code)
		})
	}
	r := e.c.Do(t, "POST", "/api/v1/auth/clients", e.admin, ok)
	apptest.Want(t, r, 201, "")
	if len(r.Str("client_id")) != 36 || len(r.Str("client_secret")) != 43 {
		t.Errorf("got %s, want a UUID client_id and a 256-bit secret", r.Raw)
	}
	pub := e.c.Do(t, "POST", "/api/v1/auth/clients", e.admin, map[string]any{
		"name": "App", "grant_types": []string{"authorization_code"}, "redirect_uris": []string{"http://127.0.0.1/cb"},
		"token_endpoint_auth_method": "none",
	})
	apptest.Want(t, pub, 201, "")
	if _, has := pub.Body["client_secret"]; has || pub.Str("client_id") == "" {
		t.Errorf("public client: got %s, want a client_id and no secret", pub.Raw)
	}
}

// TestOAuthClientCredentials drives the grant with x/oauth2 and checks that
// the shared JWT middleware takes the token where a route lets service
// callers in, and nowhere else.
func TestOAuthClientCredentials(t *testing.T) {
	t.Parallel()
	e := startOAuth(t)
	ctx := context.Background()
	id, secret := e.client(t, map[string]any{"name": "Reports", "grant_types": []string{"client_credentials"}, "scopes": []string{"reports:read", "courses:read"}})
	cc := clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: e.base + "/oauth2/token", Scopes: []string{"reports:read"}}
	tok, err := cc.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if tok.RefreshToken != "" || tok.TokenType != "Bearer" || tok.Extra("scope") != "reports:read" {
		t.Errorf("got %+v scope %v, want a bearer token for reports:read without refresh token", tok, tok.Extra("scope"))
	}

	v, err := kit.NewVerifier(kit.VerifierConfig{JWKSURL: e.base + "/.well-known/jwks.json", Issuer: e.base, Audience: "azora"})
	if err != nil {
		t.Fatal(err)
	}
	claims, err := v.Verify(ctx, tok.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	if !claims.IsService() || claims.Subject != id || len(claims.Roles) != 0 || !slices.Equal(claims.Scope, []string{"reports:read"}) || claims.SessionID == "" {
		t.Errorf("claims: got %+v, want a service identity of %s with reports:read and a sid", claims, id)
	}
	call := func(spec kit.Spec) error {
		spec.Name, spec.Verifier = "probe", v
		_, err := kit.Chain(log.NewNopLogger(), nil, spec)(func(context.Context, any) (any, error) { return nil, nil })(kit.WithToken(ctx, tok.AccessToken), nil)
		return err
	}
	if err := call(kit.Spec{Scopes: []string{"reports:read"}}); err != nil {
		t.Errorf("a route for service callers with reports:read: %v", err)
	}
	for name, spec := range map[string]kit.Spec{
		"another scope": {Scopes: []string{"courses:read"}},
		"users only":    {Roles: []string{"student", "instructor", "admin"}},
	} {
		if err := call(spec); errs.As(err).Code != "forbidden" {
			t.Errorf("%s: got %v, want forbidden", name, err)
		}
	}
	apptest.Want(t, e.c.Do(t, "GET", "/api/v1/auth/me", tok.AccessToken, nil), 403, "forbidden")
	apptest.Want(t, e.c.Do(t, "GET", "/oauth2/userinfo", tok.AccessToken, nil), 403, "forbidden")

	t.Run("without scope: all the client's", func(t *testing.T) {
		all, err := (&clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: cc.TokenURL}).Token(ctx)
		if err != nil || all.Extra("scope") != "reports:read courses:read" {
			t.Fatalf("got %v scope %v, want both scopes", err, all.Extra("scope"))
		}
	})
	t.Run("refused", func(t *testing.T) {
		_, err := (&clientcredentials.Config{ClientID: id, ClientSecret: secret + "x", TokenURL: cc.TokenURL}).Token(ctx)
		wantOAuthError(t, err, "invalid_client")
		_, err = (&clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: cc.TokenURL, Scopes: []string{"openid"}}).Token(ctx)
		wantOAuthError(t, err, "invalid_scope")
		r := e.c.Form(t, "/oauth2/token", id, secret+"x", url.Values{"grant_type": {"client_credentials"}})
		if r.Status != 401 || r.Str("error") != "invalid_client" || r.Header.Get("WWW-Authenticate") != `Basic realm="azora"` {
			t.Errorf("wrong secret over Basic: got %d %v %s", r.Status, r.Header, r.Raw)
		}
		for grant, code := range map[string]string{"password": "unsupported_grant_type", "implicit": "unsupported_grant_type", "authorization_code": "unauthorized_client"} {
			if r := e.c.Form(t, "/oauth2/token", id, secret, url.Values{"grant_type": {grant}}); r.Status != 400 || r.Str("error") != code {
				t.Errorf("grant %s: got %d %s, want 400 %s", grant, r.Status, r.Raw, code)
			}
		}
	})

	t.Run("introspect and revoke", func(t *testing.T) {
		in := e.introspect(t, id, secret, tok.AccessToken)
		if in.Body["active"] != true || in.Str("client_id") != id || in.Str("sub") != id || in.Str("scope") != "reports:read" || in.Str("iss") != e.base {
			t.Fatalf("introspect: got %s", in.Raw)
		}
		if r := e.c.Form(t, "/oauth2/introspect", id, "wrong", url.Values{"token": {tok.AccessToken}}); r.Status != 401 || r.Str("error") != "invalid_client" {
			t.Errorf("introspect with a wrong secret: got %d %s", r.Status, r.Raw)
		}
		if r := e.c.Form(t, "/oauth2/revoke", id, secret, url.Values{"token": {tok.AccessToken}}); r.Status != 200 {
			t.Fatalf("revoke: got %d %s", r.Status, r.Raw)
		}
		if in := e.introspect(t, id, secret, tok.AccessToken); string(in.Raw) != "{\"active\":false}\n" {
			t.Errorf("introspect after revoke: got %s, want only active false", in.Raw)
		}
		// Auth's own JWT middleware refuses it now: 401, no longer 403.
		apptest.Want(t, e.c.Do(t, "GET", "/oauth2/userinfo", tok.AccessToken, nil), 401, "invalid_token")
		if r := e.c.Form(t, "/oauth2/revoke", id, secret, url.Values{"token": {"not-a-token"}}); r.Status != 200 {
			t.Errorf("revoking garbage: got %d, want 200 (RFC 7009 §2.2)", r.Status)
		}
	})
}

// TestOAuthAuthorizationCodeAndOIDC is the whole authorization code flow
// as a client with x/oauth2 and go-oidc sees it: discovery, the page with a
// cookie-jar browser, the loopback callback, the exchange with PKCE, the
// ID token and its nonce, UserInfo, introspection and refresh.
func TestOAuthAuthorizationCodeAndOIDC(t *testing.T) {
	t.Parallel()
	e := startOAuth(t)
	ctx := context.Background()
	email := uniqueEmail()
	userID, _ := registerAndLogin(t, e.c, email)
	cb := callbackServer(t)
	id, secret := e.client(t, map[string]any{
		"name": "Study Planner", "grant_types": []string{"authorization_code", "refresh_token"},
		"redirect_uris": []string{"http://127.0.0.1/callback"}, "scopes": []string{"openid", "profile", "email"},
	})

	provider, err := oidc.NewProvider(ctx, e.base)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	var doc struct {
		Grants   []string `json:"grant_types_supported"`
		PKCE     []string `json:"code_challenge_methods_supported"`
		Revoke   string   `json:"revocation_endpoint"`
		Inspect  string   `json:"introspection_endpoint"`
		UserInfo string   `json:"userinfo_endpoint"`
		Scopes   []string `json:"scopes_supported"`
	}
	if err := provider.Claims(&doc); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(doc.PKCE, []string{"S256"}) || !slices.Equal(doc.Grants, []string{"authorization_code", "client_credentials", "refresh_token"}) ||
		doc.Revoke != e.base+"/oauth2/revoke" || doc.Inspect != e.base+"/oauth2/introspect" || doc.UserInfo != e.base+"/oauth2/userinfo" ||
		!slices.Equal(doc.Scopes, []string{"openid", "profile", "email", "reports:read", "courses:read"}) {
		t.Errorf("discovery: got %+v", doc)
	}

	cfg := oauth2.Config{
		ClientID: id, ClientSecret: secret, Endpoint: provider.Endpoint(),
		// The port is the callback server's: only a loopback port may vary.
		RedirectURL: cb.URL + "/callback", Scopes: []string{oidc.ScopeOpenID, "profile", "email"},
	}
	verifier, state, nonce := oauth2.GenerateVerifier(), randomString(t), randomString(t)
	q := newBrowser(true).signIn(t, cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce)), email, nil)
	if q.Get("state") != state || q.Get("iss") != e.base || q.Get("code") == "" {
		t.Fatalf("callback: got %v, want code, state %s and iss", q, state)
	}
	tok, err := cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if tok.RefreshToken == "" || tok.Extra("scope") != "openid profile email" {
		t.Errorf("tokens: got refresh %q scope %v", tok.RefreshToken, tok.Extra("scope"))
	}

	idVerifier := provider.Verifier(&oidc.Config{ClientID: id})
	raw, _ := tok.Extra("id_token").(string)
	idt, err := idVerifier.Verify(ctx, raw)
	if err != nil {
		t.Fatalf("ID token: %v", err)
	}
	var idClaims struct {
		Email string   `json:"email"`
		Name  string   `json:"name"`
		AMR   []string `json:"amr"`
		AZP   string   `json:"azp"`
	}
	if err := idt.Claims(&idClaims); err != nil {
		t.Fatal(err)
	}
	if idt.Nonce != nonce || idt.Subject != userID || idt.VerifyAccessToken(tok.AccessToken) != nil ||
		idClaims.Email != email || idClaims.Name != "Ada" || !slices.Equal(idClaims.AMR, []string{"pwd"}) || idClaims.AZP != id {
		t.Errorf("ID token: nonce %q sub %q claims %+v", idt.Nonce, idt.Subject, idClaims)
	}
	if _, err := provider.Verifier(&oidc.Config{ClientID: "another-client"}).Verify(ctx, raw); err == nil {
		t.Error("the ID token verified for another audience")
	}

	info, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil || info.Subject != userID || info.Email != email {
		t.Fatalf("userinfo: got %+v, %v", info, err)
	}
	// OIDC Core §5.3: UserInfo answers POST as it answers GET.
	if post := e.c.Do(t, "POST", "/oauth2/userinfo", tok.AccessToken, nil); post.Status != 200 || post.Str("sub") != userID || post.Str("email") != email {
		t.Errorf("POST userinfo: got %d %s", post.Status, post.Raw)
	}
	// The access token is the user's: their routes take it.
	me := e.c.Do(t, "GET", "/api/v1/auth/me", tok.AccessToken, nil)
	apptest.Want(t, me, 200, "")
	in := e.introspect(t, id, secret, tok.AccessToken)
	if in.Body["active"] != true || in.Str("sub") != userID || in.Str("client_id") != id || in.Str("scope") != "openid profile email" {
		t.Errorf("introspect: got %s", in.Raw)
	}
	if in := e.introspect(t, id, secret, tok.RefreshToken); in.Body["active"] != true || in.Str("token_type") != "refresh_token" {
		t.Errorf("introspect refresh token: got %s", in.Raw)
	}

	// A first-party refresh does not take a client's refresh token (and
	// does not spend it).
	apptest.Want(t, e.c.Do(t, "POST", "/api/v1/auth/token/refresh", "", map[string]any{"refresh_token": tok.RefreshToken}), 401, "invalid_refresh_token")

	old := tok.RefreshToken
	expired := *tok
	expired.Expiry = time.Now().Add(-time.Minute)
	fresh, err := cfg.TokenSource(ctx, &expired).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if fresh.AccessToken == tok.AccessToken || fresh.RefreshToken == old || fresh.RefreshToken == "" {
		t.Fatalf("refresh: got %+v, want new tokens", fresh)
	}
	if raw, _ := fresh.Extra("id_token").(string); raw == "" {
		t.Error("refresh: no new ID token")
	} else if idt, err := idVerifier.Verify(ctx, raw); err != nil || idt.Subject != userID {
		t.Errorf("refreshed ID token: %v", err)
	}
	apptest.Want(t, e.c.Do(t, "GET", "/api/v1/auth/me", fresh.AccessToken, nil), 200, "")

	// Presenting the spent refresh token again revokes the grant.
	expired.RefreshToken = old
	_, err = cfg.TokenSource(ctx, &expired).Token()
	wantOAuthError(t, err, "invalid_grant")
	apptest.Want(t, e.c.Do(t, "GET", "/api/v1/auth/me", fresh.AccessToken, nil), 401, "invalid_token")
	if in := e.introspect(t, id, secret, fresh.AccessToken); in.Body["active"] != false {
		t.Errorf("introspect after reuse: got %s, want inactive", in.Raw)
	}
	if in := e.introspect(t, id, secret, fresh.RefreshToken); in.Body["active"] != false {
		t.Errorf("introspect the revoked grant's refresh token: got %s, want inactive", in.Raw)
	}
}

// TestOAuthPublicClientAndRevocation: a public client (no secret) signs a
// user in with PKCE alone, and revoking its refresh token ends the grant.
func TestOAuthPublicClientAndRevocation(t *testing.T) {
	t.Parallel()
	e := startOAuth(t)
	ctx := context.Background()
	email := uniqueEmail()
	registerAndLogin(t, e.c, email)
	cb := callbackServer(t)
	id, _ := e.client(t, map[string]any{
		"name": "CLI", "grant_types": []string{"authorization_code", "refresh_token"}, "token_endpoint_auth_method": "none",
		"redirect_uris": []string{"http://127.0.0.1/callback"}, "scopes": []string{"openid"},
	})
	cfg := oauth2.Config{ClientID: id, Endpoint: oauth2.Endpoint{AuthURL: e.base + "/oauth2/authorize", TokenURL: e.base + "/oauth2/token", AuthStyle: oauth2.AuthStyleInParams},
		RedirectURL: cb.URL + "/callback", Scopes: []string{"openid"}}
	verifier := oauth2.GenerateVerifier()
	q := newBrowser(true).signIn(t, cfg.AuthCodeURL("s1", oauth2.S256ChallengeOption(verifier)), email, nil)
	tok, err := cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if r := e.c.Form(t, "/oauth2/revoke", "", "", url.Values{"client_id": {id}, "token": {tok.RefreshToken}, "token_type_hint": {"refresh_token"}}); r.Status != 200 {
		t.Fatalf("revoke: got %d %s", r.Status, r.Raw)
	}
	apptest.Want(t, e.c.Do(t, "GET", "/api/v1/auth/me", tok.AccessToken, nil), 401, "invalid_token")
	expired := *tok
	expired.Expiry = time.Now().Add(-time.Minute)
	_, err = cfg.TokenSource(ctx, &expired).Token()
	wantOAuthError(t, err, "invalid_grant")
	// A public client cannot introspect: RFC 7662 wants the caller
	// authenticated.
	if r := e.c.Form(t, "/oauth2/introspect", "", "", url.Values{"client_id": {id}, "token": {tok.AccessToken}}); r.Status != 401 || r.Str("error") != "invalid_client" {
		t.Errorf("public introspection: got %d %s", r.Status, r.Raw)
	}
}
