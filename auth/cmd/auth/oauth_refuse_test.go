package main

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/azora-os/azora/shared/app/apptest"
)

// codeClient is a confidential client of the authorization code flow with
// a loopback and an https redirect URI.
type codeClient struct {
	e     *oauthEnv
	id    string
	email string // a student's
	cfg   oauth2.Config
}

const appRedirect = "https://app.example.com/callback"

func newCodeClient(t *testing.T, e *oauthEnv) *codeClient {
	t.Helper()
	email := uniqueEmail()
	registerAndLogin(t, e.c, email)
	cb := callbackServer(t)
	id, secret := e.client(t, map[string]any{
		"name": "Planner", "grant_types": []string{"authorization_code", "refresh_token"},
		"redirect_uris": []string{"http://127.0.0.1/callback", appRedirect}, "scopes": []string{"openid", "email"},
	})
	return &codeClient{e: e, id: id, email: email, cfg: oauth2.Config{
		ClientID: id, ClientSecret: secret, RedirectURL: cb.URL + "/callback", Scopes: []string{"openid"},
		Endpoint: oauth2.Endpoint{AuthURL: e.base + "/oauth2/authorize", TokenURL: e.base + "/oauth2/token"},
	}}
}

// code signs the student in and returns a code bound to verifier.
func (c *codeClient) code(t *testing.T, verifier string) string {
	t.Helper()
	q := newBrowser(true).signIn(t, c.cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)), c.email, nil)
	return q.Get("code")
}

// authorizeURL is an authorization request with params replaced (a value
// of "" removes the parameter).
func (c *codeClient) authorizeURL(params map[string]string) string {
	q := url.Values{
		"response_type": {"code"}, "client_id": {c.id}, "redirect_uri": {c.cfg.RedirectURL}, "scope": {"openid"},
		"state": {"st"}, "code_challenge": {oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())}, "code_challenge_method": {"S256"},
	}
	for k, v := range params {
		if v == "" {
			q.Del(k)
		} else {
			q.Set(k, v)
		}
	}
	return c.e.base + "/oauth2/authorize?" + q.Encode()
}

func TestOAuthRedirectURIVariantsAreRefused(t *testing.T) {
	t.Parallel()
	e := startOAuth(t)
	c := newCodeClient(t, e)
	b := newBrowser(false)
	loopback := strings.TrimSuffix(c.cfg.RedirectURL, "/callback")
	for name, uri := range map[string]string{
		"trailing slash":     appRedirect + "/",
		"host case":          "https://APP.example.com/callback",
		"path case":          "https://app.example.com/Callback",
		"extra query":        appRedirect + "?next=/admin",
		"fragment":           appRedirect + "#x",
		"other host":         "https://evil.example.com/callback",
		"good@evil":          "https://app.example.com@evil.example.com/callback",
		"http for https":     "http://app.example.com/callback",
		"explicit port":      "https://app.example.com:443/callback",
		"loopback, slash":    loopback + "/callback/",
		"loopback, query":    loopback + "/callback?x=1",
		"loopback, user":     "http://127.0.0.1:1@evil.example.com/callback",
		"loopback, https":    strings.Replace(loopback, "http:", "https:", 1) + "/callback",
		"localhost for IP":   strings.Replace(loopback, "127.0.0.1", "localhost", 1) + "/callback",
		"missing":            "",
		"another's loopback": loopback + "/other",
	} {
		t.Run(name, func(t *testing.T) {
			p := b.get(t, c.authorizeURL(map[string]string{"redirect_uri": uri}))
			if p.status != http.StatusBadRequest || p.header.Get("Location") != "" || !strings.Contains(p.body, "redirect_uri") {
				t.Errorf("got %d Location %q, want a 400 page that redirects nowhere: %s", p.status, p.header.Get("Location"), p.body)
			}
		})
	}
	if p := b.get(t, c.authorizeURL(map[string]string{"redirect_uri": appRedirect})); p.status != 200 || p.step() != "login" {
		t.Errorf("the registered URI itself: got %d %q", p.status, p.step())
	}
	if p := b.get(t, c.authorizeURL(map[string]string{"client_id": "0190f5a0-0000-7000-8000-000000000000"})); p.status != 400 || p.header.Get("Location") != "" {
		t.Errorf("unknown client: got %d Location %q, want a 400 page", p.status, p.header.Get("Location"))
	}
}

func TestOAuthAuthorizationRequestsRefused(t *testing.T) {
	t.Parallel()
	e := startOAuth(t)
	c := newCodeClient(t, e)
	b := newBrowser(false)
	for _, tc := range []struct {
		name   string
		params map[string]string
		code   string
	}{
		{"plain PKCE", map[string]string{"code_challenge": oauth2.GenerateVerifier(), "code_challenge_method": "plain"}, "invalid_request"},
		{"no PKCE", map[string]string{"code_challenge": "", "code_challenge_method": ""}, "invalid_request"},
		{"PKCE method missing (plain by default)", map[string]string{"code_challenge_method": ""}, "invalid_request"},
		{"short challenge", map[string]string{"code_challenge": "abc"}, "invalid_request"},
		{"implicit", map[string]string{"response_type": "token"}, "unsupported_response_type"},
		{"hybrid", map[string]string{"response_type": "code id_token"}, "unsupported_response_type"},
		{"unregistered scope", map[string]string{"scope": "openid reports:read"}, "invalid_scope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := b.get(t, c.authorizeURL(tc.params))
			loc, err := url.Parse(p.header.Get("Location"))
			if p.status != http.StatusFound || err != nil || !strings.HasPrefix(loc.String(), c.cfg.RedirectURL+"?") {
				t.Fatalf("got %d Location %q, want a redirect to the client", p.status, p.header.Get("Location"))
			}
			if q := loc.Query(); q.Get("error") != tc.code || q.Get("state") != "st" || q.Get("iss") != e.base || q.Get("code") != "" {
				t.Errorf("got %v, want error %s with state and iss", q, tc.code)
			}
		})
	}

	t.Run("a wrong password shows the page again", func(t *testing.T) {
		p := b.get(t, c.authorizeURL(nil))
		p = b.submit(t, p, map[string]string{"email": c.email, "password": "not the password"})
		if p.status != 200 || p.step() != "login" || !strings.Contains(p.body, `role="alert"`) {
			t.Errorf("got %d step %q: %s", p.status, p.step(), p.body)
		}
	})
	t.Run("deny", func(t *testing.T) {
		consent := b.submit(t, b.get(t, c.authorizeURL(nil)), map[string]string{"email": c.email, "password": goodPassword})
		p := b.submit(t, consent, map[string]string{"decision": "deny"})
		loc, _ := url.Parse(p.header.Get("Location"))
		if p.status != http.StatusSeeOther || loc.Query().Get("error") != "access_denied" || loc.Query().Get("state") != "st" {
			t.Errorf("got %d %q, want 303 to the client with access_denied", p.status, p.header.Get("Location"))
		}
		if p := b.submit(t, consent, map[string]string{"decision": "allow"}); p.status != http.StatusBadRequest || p.header.Get("Location") != "" {
			t.Errorf("answering the consent again: got %d %q, want a 400 page", p.status, p.header.Get("Location"))
		}
	})
}

func TestOAuthPageIsCSRFProtected(t *testing.T) {
	t.Parallel()
	e := startOAuth(t)
	c := newCodeClient(t, e)
	b := newBrowser(false)
	login := b.get(t, c.authorizeURL(nil))
	csp := login.header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "style-src 'sha256-") || !strings.Contains(csp, "frame-ancestors 'none'") ||
		!strings.Contains(login.body, `<html lang="en">`) || !strings.Contains(login.body, `<label for="password">`) {
		t.Errorf("page: CSP %q, body %s", csp, login.body)
	}
	var cookie *http.Cookie
	for _, ck := range b.c.Jar.Cookies(login.action) {
		cookie = ck
	}
	if cookie == nil {
		t.Fatal("the page set no CSRF cookie")
	}
	forged := func(p page, token string) page {
		p.fields = cloneValues(p.fields)
		p.fields.Set("csrf_token", token)
		return p
	}
	other := newBrowser(false).get(t, c.authorizeURL(nil)).fields.Get("csrf_token") // valid, for another browser's cookie
	for name, token := range map[string]string{"missing": "", "garbage": "x", "another browser's": other} {
		t.Run("login, "+name, func(t *testing.T) {
			p := b.submit(t, forged(login, token), map[string]string{"email": c.email, "password": goodPassword})
			if p.status != http.StatusForbidden || p.step() != "" {
				t.Errorf("got %d step %q, want 403", p.status, p.step())
			}
		})
	}
	t.Run("login without the cookie", func(t *testing.T) {
		p := newBrowser(false).submit(t, login, map[string]string{"email": c.email, "password": goodPassword})
		if p.status != http.StatusForbidden {
			t.Errorf("got %d, want 403", p.status)
		}
	})

	consent := b.submit(t, login, map[string]string{"email": c.email, "password": goodPassword})
	if consent.step() != "consent" {
		t.Fatalf("got step %q, want consent", consent.step())
	}
	for name, token := range map[string]string{"missing": "", "garbage": "x", "another browser's": other} {
		t.Run("consent, "+name, func(t *testing.T) {
			p := b.submit(t, forged(consent, token), map[string]string{"decision": "allow"})
			if p.status != http.StatusForbidden || p.header.Get("Location") != "" {
				t.Errorf("got %d Location %q, want 403", p.status, p.header.Get("Location"))
			}
		})
	}
	// The refused posts did not use the consent up: the real form works.
	p := b.submit(t, consent, map[string]string{"decision": "allow"})
	loc, _ := url.Parse(p.header.Get("Location"))
	if p.status != http.StatusSeeOther || loc.Query().Get("code") == "" {
		t.Errorf("the genuine consent: got %d %q", p.status, p.header.Get("Location"))
	}
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}

func TestOAuthCodeExchangeRefused(t *testing.T) {
	t.Parallel()
	e := startOAuth(t)
	c := newCodeClient(t, e)
	ctx := context.Background()

	t.Run("a wrong verifier, then the right one", func(t *testing.T) {
		verifier := oauth2.GenerateVerifier()
		code := c.code(t, verifier)
		_, err := c.cfg.Exchange(ctx, code, oauth2.VerifierOption(oauth2.GenerateVerifier()))
		wantOAuthError(t, err, "invalid_grant")
		_, err = c.cfg.Exchange(ctx, code) // no verifier at all
		wantOAuthError(t, err, "invalid_request")
		if _, err := c.cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier)); err != nil {
			t.Fatalf("the rightful exchange after failed attempts: %v", err)
		}
	})
	t.Run("a wrong client secret", func(t *testing.T) {
		verifier := oauth2.GenerateVerifier()
		bad := c.cfg
		bad.ClientSecret = "wrong"
		_, err := bad.Exchange(ctx, c.code(t, verifier), oauth2.VerifierOption(verifier))
		wantOAuthError(t, err, "invalid_client")
	})
	t.Run("another redirect_uri", func(t *testing.T) {
		verifier := oauth2.GenerateVerifier()
		bad := c.cfg
		bad.RedirectURL = appRedirect
		_, err := bad.Exchange(ctx, c.code(t, verifier), oauth2.VerifierOption(verifier))
		wantOAuthError(t, err, "invalid_grant")
	})
	t.Run("another client", func(t *testing.T) {
		other := newCodeClient(t, e)
		verifier := oauth2.GenerateVerifier()
		code := c.code(t, verifier)
		_, err := other.cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier))
		wantOAuthError(t, err, "invalid_grant")
	})
	t.Run("a reused code revokes its tokens", func(t *testing.T) {
		verifier := oauth2.GenerateVerifier()
		code := c.code(t, verifier)
		tok, err := c.cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatal(err)
		}
		apptest.Want(t, e.c.Do(t, "GET", "/api/v1/auth/me", tok.AccessToken, nil), 200, "")
		_, err = c.cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier))
		wantOAuthError(t, err, "invalid_grant")
		apptest.Want(t, e.c.Do(t, "GET", "/api/v1/auth/me", tok.AccessToken, nil), 401, "invalid_token")
		id, secret := c.id, c.cfg.ClientSecret
		for what, token := range map[string]string{"access": tok.AccessToken, "refresh": tok.RefreshToken} {
			if in := e.introspect(t, id, secret, token); string(in.Raw) != "{\"active\":false}\n" {
				t.Errorf("%s token after the reuse: got %s, want inactive", what, in.Raw)
			}
		}
		expired := *tok
		expired.Expiry = time.Now().Add(-time.Minute)
		_, err = c.cfg.TokenSource(ctx, &expired).Token()
		wantOAuthError(t, err, "invalid_grant")
	})
}

// TestOAuthSignInWithMFA: a user with TOTP on gives the page a code, and
// the ID token says so.
func TestOAuthSignInWithMFA(t *testing.T) {
	t.Parallel()
	e := startOAuth(t)
	ctx := context.Background()
	c := newCodeClient(t, e)
	login := e.c.Do(t, "POST", "/api/v1/auth/login", "", map[string]any{"email": c.email, "password": goodPassword})
	access := login.Str("access_token")
	setup := e.c.Do(t, "POST", "/api/v1/auth/mfa/totp/setup", access, nil)
	apptest.Want(t, setup, 200, "")
	used := steps{}
	apptest.Want(t, e.c.Do(t, "POST", "/api/v1/auth/mfa/totp/enable", access, map[string]any{"code": oathtool(t, setup.Str("secret"), used.fresh(t))}), 200, "")

	b := newBrowser(false)
	p := b.submit(t, b.get(t, c.authorizeURL(nil)), map[string]string{"email": c.email, "password": goodPassword})
	if p.step() != "mfa" {
		t.Fatalf("got step %q, want mfa: %s", p.step(), p.body)
	}
	if again := b.submit(t, p, map[string]string{"code": "000000"}); again.step() != "mfa" || !strings.Contains(again.body, `role="alert"`) {
		t.Fatalf("a wrong code: got %d step %q", again.status, again.step())
	}

	verifier, nonce := oauth2.GenerateVerifier(), randomString(t)
	q := newBrowser(true).signIn(t, c.cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce)), c.email,
		func() string { return oathtool(t, setup.Str("secret"), used.fresh(t)) })
	tok, err := c.cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	provider, err := oidc.NewProvider(ctx, e.base)
	if err != nil {
		t.Fatal(err)
	}
	idt, err := provider.Verifier(&oidc.Config{ClientID: c.id}).Verify(ctx, tok.Extra("id_token").(string))
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		AMR   []string `json:"amr"`
		Email string   `json:"email"`
	}
	if err := idt.Claims(&claims); err != nil || idt.Nonce != nonce || !slices.Equal(claims.AMR, []string{"pwd", "otp"}) || claims.Email != "" {
		t.Errorf("ID token: nonce %q claims %+v (%v); want amr pwd+otp and no email (not asked for)", idt.Nonce, claims, err)
	}
}
