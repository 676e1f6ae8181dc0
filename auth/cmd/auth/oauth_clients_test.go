package main

import (
	"context"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/azora-os/azora/shared/app/apptest"
)

// TestOAuthClientAdministration: an admin lists, reads, changes, rotates
// and deletes registered clients; nobody else may; a change is checked as
// a registration is, and narrowed scopes hold from the next refresh; a
// rotated secret stops working at once; a deleted client's every token (its service tokens, its users'
// access and refresh tokens) stops working at once, and it gets no more.
func TestOAuthClientAdministration(t *testing.T) {
	t.Parallel()
	e := startOAuth(t)
	ctx := context.Background()
	_, user := registerAndLogin(t, e.c, uniqueEmail())
	svcID, svcSecret := e.client(t, map[string]any{"name": "Reports", "grant_types": []string{"client_credentials"}, "scopes": []string{"reports:read"}})
	code := newCodeClient(t, e)
	pub := e.c.Do(t, "POST", "/api/v1/auth/clients", e.admin, map[string]any{
		"name": "CLI", "grant_types": []string{"authorization_code"}, "redirect_uris": []string{"http://127.0.0.1/cb"},
		"token_endpoint_auth_method": "none",
	})
	apptest.Want(t, pub, 201, "")
	pubID := pub.Str("client_id")
	// A bystander client, to introspect the others' tokens after they are gone.
	watchID, watchSecret := e.client(t, map[string]any{"name": "Watch", "grant_types": []string{"client_credentials"}})

	t.Run("only admins", func(t *testing.T) {
		for _, r := range [][2]string{{"GET", "/api/v1/auth/clients"}, {"GET", "/api/v1/auth/clients/" + svcID}, {"PATCH", "/api/v1/auth/clients/" + svcID},
			{"POST", "/api/v1/auth/clients/" + svcID + "/secret"}, {"DELETE", "/api/v1/auth/clients/" + svcID}} {
			var body any
			if r[0] == "PATCH" {
				body = map[string]any{} // a body is decoded before the token is checked
			}
			apptest.Want(t, e.c.Do(t, r[0], r[1], "", body), 401, "missing_token")
			apptest.Want(t, e.c.Do(t, r[0], r[1], user.Str("access_token"), body), 403, "forbidden")
		}
	})

	t.Run("list and read", func(t *testing.T) {
		var seen []string
		cursor := ""
		for range 10 {
			q := url.Values{"limit": {"2"}}
			if cursor != "" {
				q.Set("cursor", cursor)
			}
			r := e.c.Do(t, "GET", "/api/v1/auth/clients?"+q.Encode(), e.admin, nil)
			apptest.Want(t, r, 200, "")
			items, _ := r.Body["items"].([]any)
			if len(items) > 2 {
				t.Fatalf("limit 2: got %s", r.Raw)
			}
			for _, it := range items {
				c := it.(map[string]any)
				if _, has := c["client_secret"]; has {
					t.Fatalf("a listed client shows its secret: %v", c)
				}
				seen = append(seen, c["id"].(string))
			}
			if cursor = r.Str("next_cursor"); cursor == "" {
				break
			}
		}
		if want := []string{watchID, pubID, code.id, svcID}; !slices.Equal(seen, want) {
			t.Errorf("listed %v, want newest first %v", seen, want)
		}
		apptest.Want(t, e.c.Do(t, "GET", "/api/v1/auth/clients?limit=101", e.admin, nil), 400, "validation_failed")
		apptest.Want(t, e.c.Do(t, "GET", "/api/v1/auth/clients?cursor=bogus!", e.admin, nil), 400, "invalid_cursor")

		r := e.c.Do(t, "GET", "/api/v1/auth/clients/"+code.id, e.admin, nil)
		apptest.Want(t, r, 200, "")
		c := r.Obj("client")
		wantKeys := []string{"created_at", "created_by", "grant_types", "id", "name", "public", "redirect_uris", "scopes"}
		if keys := slices.Sorted(maps.Keys(c)); !slices.Equal(keys, wantKeys) || c["id"] != code.id || c["public"] != false ||
			!slices.Equal(apptest.Strings(c["grant_types"]), []string{"authorization_code", "refresh_token"}) {
			t.Errorf("GET client: got %s, want fields %v", r.Raw, wantKeys)
		}
		if r := e.c.Do(t, "GET", "/api/v1/auth/clients/"+pubID, e.admin, nil); r.Obj("client")["public"] != true {
			t.Errorf("public client: got %s", r.Raw)
		}
		for _, id := range []string{"0190f5a0-0000-7000-8000-000000000000", "not-a-uuid"} {
			apptest.Want(t, e.c.Do(t, "GET", "/api/v1/auth/clients/"+id, e.admin, nil), 404, "client_not_found")
		}
	})

	t.Run("rotate the secret", func(t *testing.T) {
		before, err := (&clientcredentials.Config{ClientID: svcID, ClientSecret: svcSecret, TokenURL: e.base + "/oauth2/token"}).Token(ctx)
		if err != nil {
			t.Fatal(err)
		}
		r := e.c.Do(t, "POST", "/api/v1/auth/clients/"+svcID+"/secret", e.admin, nil)
		apptest.Want(t, r, 200, "")
		fresh := r.Str("client_secret")
		if r.Str("client_id") != svcID || len(fresh) != 43 || fresh == svcSecret {
			t.Fatalf("rotation: got %s, want the client's id and a new 256-bit secret", r.Raw)
		}
		_, err = (&clientcredentials.Config{ClientID: svcID, ClientSecret: svcSecret, TokenURL: e.base + "/oauth2/token"}).Token(ctx)
		wantOAuthError(t, err, "invalid_client")
		if _, err := (&clientcredentials.Config{ClientID: svcID, ClientSecret: fresh, TokenURL: e.base + "/oauth2/token"}).Token(ctx); err != nil {
			t.Errorf("the new secret: %v", err)
		}
		// A token got with the old secret stays good: rotating is not a revocation.
		if in := e.introspect(t, watchID, watchSecret, before.AccessToken); in.Body["active"] != true {
			t.Errorf("a token from before the rotation: got %s, want active", in.Raw)
		}
		got := e.c.Do(t, "GET", "/api/v1/auth/clients/"+svcID, e.admin, nil).Obj("client")
		if at, err := time.Parse(time.RFC3339Nano, got["secret_rotated_at"].(string)); err != nil || time.Since(at) > time.Minute {
			t.Errorf("secret_rotated_at: got %v (%v), want about now", got["secret_rotated_at"], err)
		}
		svcSecret = fresh

		apptest.Want(t, e.c.Do(t, "POST", "/api/v1/auth/clients/"+pubID+"/secret", e.admin, nil), 409, "client_is_public")
		apptest.Want(t, e.c.Do(t, "POST", "/api/v1/auth/clients/0190f5a0-0000-7000-8000-000000000000/secret", e.admin, nil), 404, "client_not_found")
		apptest.Want(t, e.c.Do(t, "POST", "/api/v1/auth/clients/"+svcID+"/secret", e.admin, map[string]any{"secret": "mine"}), 400, "unknown_field")
	})

	t.Run("update", func(t *testing.T) {
		code.cfg.Scopes = []string{"openid", "email"}
		verifier := oauth2.GenerateVerifier()
		tok, err := code.cfg.Exchange(ctx, code.code(t, verifier), oauth2.VerifierOption(verifier))
		if err != nil || tok.Extra("scope") != "openid email" {
			t.Fatalf("exchange: %v, scope %v; want openid email", err, tok.Extra("scope"))
		}
		path := "/api/v1/auth/clients/" + code.id
		before := e.c.Do(t, "GET", path, e.admin, nil).Obj("client")
		for name, body := range map[string]map[string]any{
			"bad redirect":        {"name": "Renamed", "redirect_uris": []string{"http://app.example.com/cb"}},
			"no redirect left":    {"redirect_uris": []string{}},
			"unknown scope":       {"scopes": []string{"admin:all"}},
			"empty name":          {"name": " "},
			"grant types":         {"grant_types": []string{"client_credentials"}},
			"the secret, as well": {"client_secret": "mine"},
		} {
			r := e.c.Do(t, "PATCH", path, e.admin, body)
			if r.Status != 400 {
				t.Errorf("%s: got %d %s, want 400", name, r.Status, r.Raw)
			}
		}
		if after := e.c.Do(t, "GET", path, e.admin, nil).Obj("client"); !maps.EqualFunc(after, before, func(a, b any) bool { return fmt.Sprint(a) == fmt.Sprint(b) }) {
			t.Errorf("a refused update changed the client: %v, was %v", after, before)
		}

		r := e.c.Do(t, "PATCH", path, e.admin, map[string]any{"name": "  Planner 2 ", "scopes": []string{"openid"}})
		apptest.Want(t, r, 200, "")
		c := r.Obj("client")
		if c["name"] != "Planner 2" || !slices.Equal(apptest.Strings(c["scopes"]), []string{"openid"}) ||
			!slices.Equal(apptest.Strings(c["redirect_uris"]), apptest.Strings(before["redirect_uris"])) {
			t.Errorf("after the update: got %s, want the new name and scopes, the redirect URIs unchanged", r.Raw)
		}
		code.cfg.Scopes = []string{"openid"} // what it may still ask for
		// The refresh gets only the scopes the client still has.
		next, err := code.cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
		if err != nil || next.Extra("scope") != "openid" {
			t.Errorf("refresh after narrowing: %v, scope %v; want openid", err, next.Extra("scope"))
		}
		apptest.Want(t, e.c.Do(t, "PATCH", "/api/v1/auth/clients/0190f5a0-0000-7000-8000-000000000000", e.admin, map[string]any{"name": "x"}), 404, "client_not_found")
		_, err = (&clientcredentials.Config{ClientID: svcID, ClientSecret: svcSecret, TokenURL: e.base + "/oauth2/token", Scopes: []string{"reports:read"}}).Token(ctx)
		if err != nil {
			t.Fatal(err)
		}
		apptest.Want(t, e.c.Do(t, "PATCH", "/api/v1/auth/clients/"+svcID, e.admin, map[string]any{"scopes": []string{"courses:read"}}), 200, "")
		_, err = (&clientcredentials.Config{ClientID: svcID, ClientSecret: svcSecret, TokenURL: e.base + "/oauth2/token", Scopes: []string{"reports:read"}}).Token(ctx)
		wantOAuthError(t, err, "invalid_scope")
	})

	t.Run("delete", func(t *testing.T) {
		svcTok, err := (&clientcredentials.Config{ClientID: svcID, ClientSecret: svcSecret, TokenURL: e.base + "/oauth2/token"}).Token(ctx)
		if err != nil {
			t.Fatal(err)
		}
		verifier := oauth2.GenerateVerifier()
		userTok, err := code.cfg.Exchange(ctx, code.code(t, verifier), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatal(err)
		}
		for _, tok := range []string{svcTok.AccessToken, userTok.AccessToken} {
			if in := e.introspect(t, watchID, watchSecret, tok); in.Body["active"] != true {
				t.Fatalf("before the deletion: got %s, want active", in.Raw)
			}
		}

		for _, id := range []string{svcID, code.id} {
			apptest.Want(t, e.c.Do(t, "DELETE", "/api/v1/auth/clients/"+id, e.admin, nil), 204, "")
			apptest.Want(t, e.c.Do(t, "GET", "/api/v1/auth/clients/"+id, e.admin, nil), 404, "client_not_found")
			apptest.Want(t, e.c.Do(t, "DELETE", "/api/v1/auth/clients/"+id, e.admin, nil), 404, "client_not_found")
		}
		for name, tok := range map[string]string{"service token": svcTok.AccessToken, "user's access token": userTok.AccessToken} {
			if in := e.introspect(t, watchID, watchSecret, tok); string(in.Raw) != "{\"active\":false}\n" {
				t.Errorf("%s after the deletion: got %s, want inactive", name, in.Raw)
			}
		}
		// Auth's own JWT middleware refuses the user's access token now.
		apptest.Want(t, e.c.Do(t, "GET", "/oauth2/userinfo", userTok.AccessToken, nil), 401, "invalid_token")
		if r := e.c.Form(t, "/oauth2/token", code.id, code.cfg.ClientSecret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {userTok.RefreshToken}}); r.Status != 401 || r.Str("error") != "invalid_client" {
			t.Errorf("refresh with the deleted client: got %d %s, want 401 invalid_client", r.Status, r.Raw)
		}
		_, err = (&clientcredentials.Config{ClientID: svcID, ClientSecret: svcSecret, TokenURL: e.base + "/oauth2/token"}).Token(ctx)
		wantOAuthError(t, err, "invalid_client")

		r := e.c.Do(t, "GET", "/api/v1/auth/clients", e.admin, nil)
		apptest.Want(t, r, 200, "")
		var left []string
		for _, it := range r.Body["items"].([]any) {
			left = append(left, it.(map[string]any)["id"].(string))
		}
		if !slices.Equal(left, []string{watchID, pubID}) {
			t.Errorf("after the deletions: listed %v, want %v", left, []string{watchID, pubID})
		}
	})
}
