package e2e

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/azora-os/azora/shared/app/apptest"
	"github.com/azora-os/azora/shared/app/apptest/platform"
)

// TestOAuthClientThroughNGINX runs a service client's life through the
// public entry: an admin registers it, it gets tokens at /oauth2/token
// (a form post the gateway forwards as is), the admin lists, changes and
// rotates it, then deletes it, and its token is refused at the edge by
// both gateway replicas from then on.
func TestOAuthClientThroughNGINX(t *testing.T) {
	const adminEmail, adminPassword = "root@azora.test", "e2e-admin-password-1"
	p := platform.Start(t, platform.Options{Env: map[string]string{
		"AUTH_BOOTSTRAP_ADMIN_EMAIL": adminEmail, "AUTH_BOOTSTRAP_ADMIN_PASSWORD": adminPassword,
		"AUTH_OAUTH_SCOPES": "reports:read",
	}})
	c := api(p)
	admin, _ := wantTokens(t, c.Do(t, http.MethodPost, "/api/v1/auth/login", "", map[string]any{"email": adminEmail, "password": adminPassword}))
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, p.NGINX.Client)

	newClient := func(name string) (id, secret string) {
		r := c.Do(t, http.MethodPost, "/api/v1/auth/clients", admin,
			map[string]any{"name": name, "grant_types": []string{"client_credentials"}, "scopes": []string{"reports:read"}})
		apptest.Want(t, r, http.StatusCreated, "")
		return r.Str("client_id"), r.Str("client_secret")
	}
	id, secret := newClient("Reports")
	watchID, watchSecret := newClient("Watch")
	token := func(secret string) (*oauth2.Token, error) {
		return (&clientcredentials.Config{ClientID: id, ClientSecret: secret, TokenURL: p.NGINX.Base + "/oauth2/token"}).Token(ctx)
	}
	tok, err := token(secret)
	if err != nil || tok.Extra("scope") != "reports:read" {
		t.Fatalf("client_credentials through NGINX: %v, scope %v", err, tok.Extra("scope"))
	}
	introspect := func(token string) map[string]any {
		t.Helper()
		r := c.Form(t, "/oauth2/introspect", watchID, watchSecret, url.Values{"token": {token}})
		apptest.Want(t, r, http.StatusOK, "")
		return r.Body
	}
	if in := introspect(tok.AccessToken); in["active"] != true || in["client_id"] != id {
		t.Fatalf("introspect: got %v, want active, of %s", in, id)
	}
	// A service token is a valid token, but no user: a user route refuses
	// it with 403 behind the edge, every replica alike.
	for range 2 * len(p.Gateways) {
		apptest.Want(t, c.Do(t, http.MethodGet, "/api/v1/auth/me", tok.AccessToken, nil), http.StatusForbidden, "forbidden")
	}

	list := c.Do(t, http.MethodGet, "/api/v1/auth/clients?limit=1", admin, nil)
	apptest.Want(t, list, http.StatusOK, "")
	if items, _ := list.Body["items"].([]any); len(items) != 1 || items[0].(map[string]any)["id"] != watchID || list.Str("next_cursor") == "" {
		t.Errorf("first page of one: got %s, want the newest client and a cursor", list.Raw)
	}
	renamed := c.Do(t, http.MethodPatch, "/api/v1/auth/clients/"+id, admin, map[string]any{"name": "Reports (nightly)"})
	apptest.Want(t, renamed, http.StatusOK, "")
	if renamed.Obj("client")["name"] != "Reports (nightly)" {
		t.Errorf("rename: got %s", renamed.Raw)
	}
	rot := c.Do(t, http.MethodPost, "/api/v1/auth/clients/"+id+"/secret", admin, nil)
	apptest.Want(t, rot, http.StatusOK, "")
	if _, err := token(secret); err == nil || !strings.Contains(err.Error(), "invalid_client") {
		t.Errorf("the old secret after rotation: got %v, want invalid_client", err)
	}
	if _, err := token(rot.Str("client_secret")); err != nil {
		t.Errorf("the new secret: %v", err)
	}

	apptest.Want(t, c.Do(t, http.MethodDelete, "/api/v1/auth/clients/"+id, admin, nil), http.StatusNoContent, "")
	if in := introspect(tok.AccessToken); in["active"] != false || len(in) != 1 {
		t.Errorf("introspect after the deletion: got %v, want only active false", in)
	}
	// Both gateways now refuse it at the edge, as revoked.
	for range 2 * len(p.Gateways) {
		apptest.Want(t, c.Do(t, http.MethodGet, "/api/v1/auth/me", tok.AccessToken, nil), http.StatusUnauthorized, "invalid_token")
	}
	apptest.Want(t, c.Do(t, http.MethodGet, "/api/v1/auth/clients/"+id, admin, nil), http.StatusNotFound, "client_not_found")
}
