package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/azora-os/azora/shared/app/apptest"
	"github.com/azora-os/azora/shared/app/apptest/platform"
)

// TestAccountSecurityThroughNGINX takes a user's own security routes
// through the public entry and both gateway replicas: the sessions of two
// devices, ending the other one, and a password change (a route the
// gateway limits like a login, though it carries a token).
func TestAccountSecurityThroughNGINX(t *testing.T) {
	p := platform.Start(t, platform.Options{})
	c := api(p)
	u := register(t, p, "Ada Obi", "")
	laptop := u.Token
	login(t, p, u) // a second device
	phone, phoneRefresh := u.Token, u.Refresh

	r := c.Do(t, http.MethodGet, "/api/v1/auth/sessions", laptop, nil)
	apptest.Want(t, r, http.StatusOK, "")
	items, _ := r.Body["items"].([]any)
	if len(items) != 2 || items[0].(map[string]any)["current"] != false || items[1].(map[string]any)["current"] != true {
		t.Fatalf("sessions seen from the laptop: got %s, want the phone's then the laptop's (current)", r.Raw)
	}
	phoneSID, _, _ := strings.Cut(phoneRefresh, ".")
	if items[0].(map[string]any)["id"] != phoneSID {
		t.Fatalf("the newest session: got %v, want the phone's %s", items[0], phoneSID)
	}
	apptest.Want(t, c.Do(t, http.MethodDelete, "/api/v1/auth/sessions/"+phoneSID, laptop, nil), http.StatusNoContent, "")
	for range 2 * len(p.Gateways) { // every replica refuses the phone's token at once
		apptest.Want(t, c.Do(t, http.MethodGet, "/api/v1/auth/me", phone, nil), http.StatusUnauthorized, "invalid_token")
	}

	change := func(current, next string) apptest.Reply {
		return c.Do(t, http.MethodPost, "/api/v1/auth/password", laptop, map[string]any{"current_password": current, "new_password": next})
	}
	apptest.Want(t, change("not it at all", "a brand new passphrase"), http.StatusForbidden, "wrong_password")
	authLimit := c.Do(t, http.MethodPost, "/api/v1/auth/login", "", map[string]any{"email": u.Email, "password": "wrong"}).Header.Get("RateLimit-Limit")
	userLimit := c.Do(t, http.MethodGet, "/api/v1/auth/me", laptop, nil).Header.Get("RateLimit-Limit")
	got := change(u.Password, "a brand new passphrase")
	if got.Status != http.StatusNoContent || got.Header.Get("RateLimit-Limit") != authLimit || authLimit == userLimit {
		t.Fatalf("password change: got %d %s (RateLimit-Limit %q), want 204 under the login's limit %q, not a user route's %q",
			got.Status, got.Raw, got.Header.Get("RateLimit-Limit"), authLimit, userLimit)
	}
	apptest.Want(t, c.Do(t, http.MethodGet, "/api/v1/auth/me", laptop, nil), http.StatusOK, "")
	apptest.Want(t, c.Do(t, http.MethodPost, "/api/v1/auth/login", "", map[string]any{"email": u.Email, "password": u.Password}),
		http.StatusUnauthorized, "invalid_credentials")
	u.Password = "a brand new passphrase"
	login(t, p, u)
}
