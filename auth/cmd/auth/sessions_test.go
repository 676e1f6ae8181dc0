package main

import (
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/azora-os/azora/shared/app/apptest"
)

// TestSessions: a user sees their sessions, newest sign-in first, the one
// asking marked current, and ends any of them (another device's, all the
// others at once, or their own); another user's session is not found.
func TestSessions(t *testing.T) {
	t.Parallel()
	base, _ := startAuth(t, nil)
	c := apptest.NewClient(base, "127.0.0.1")
	email := uniqueEmail()
	_, first := registerAndLogin(t, c, email)
	logins := []apptest.Reply{first}
	for range 2 {
		r := c.Do(t, "POST", "/api/v1/auth/login", "", map[string]any{"email": email, "password": goodPassword})
		apptest.Want(t, r, 200, "")
		logins = append(logins, r)
	}
	sid := func(r apptest.Reply) string { s, _, _ := strings.Cut(r.Str("refresh_token"), "."); return s }
	want := []string{sid(logins[2]), sid(logins[1]), sid(logins[0])} // newest first
	mine := logins[0].Str("access_token")
	_, stranger := registerAndLogin(t, c, uniqueEmail())

	list := func(token string, q url.Values) (ids []string, current []bool, next string) {
		t.Helper()
		r := c.Do(t, "GET", "/api/v1/auth/sessions?"+q.Encode(), token, nil)
		apptest.Want(t, r, 200, "")
		for _, it := range r.Body["items"].([]any) {
			s := it.(map[string]any)
			for _, k := range []string{"refresh", "refresh_token", "roles"} {
				if _, has := s[k]; has {
					t.Fatalf("a listed session shows %s: %v", k, s)
				}
			}
			if !slices.Equal(apptest.Strings(s["amr"]), []string{"pwd"}) || s["created_at"] == nil || s["expires_at"] == nil {
				t.Errorf("session %v: want amr [pwd] and its times", s)
			}
			ids, current = append(ids, s["id"].(string)), append(current, s["current"] == true)
		}
		return ids, current, r.Str("next_cursor")
	}
	ids, current, next := list(mine, url.Values{"limit": {"2"}})
	rest, restCurrent, last := list(mine, url.Values{"limit": {"2"}, "cursor": {next}})
	if got := append(ids, rest...); !slices.Equal(got, want) || next == "" || last != "" {
		t.Fatalf("sessions in two pages: %v (cursors %q, %q), want %v", got, next, last, want)
	}
	if got := append(current, restCurrent...); !slices.Equal(got, []bool{false, false, true}) {
		t.Errorf("current marks: %v, want only the asking session's (the oldest)", got)
	}
	if ids, _, _ := list(stranger.Str("access_token"), nil); len(ids) != 1 || slices.Contains(want, ids[0]) {
		t.Errorf("another user's list: %v, want only their own one session", ids)
	}

	// Ending another device's session: its tokens stop working at once.
	apptest.Want(t, c.Do(t, "DELETE", "/api/v1/auth/sessions/"+want[0], mine, nil), 204, "")
	apptest.Want(t, c.Do(t, "GET", "/api/v1/auth/me", logins[2].Str("access_token"), nil), 401, "invalid_token")
	apptest.Want(t, c.Do(t, "POST", "/api/v1/auth/token/refresh", "", map[string]any{"refresh_token": logins[2].Str("refresh_token")}), 401, "invalid_refresh_token")
	apptest.Want(t, c.Do(t, "GET", "/api/v1/auth/me", logins[1].Str("access_token"), nil), 200, "")
	if ids, _, _ := list(mine, nil); !slices.Equal(ids, want[1:]) {
		t.Errorf("after ending one: %v, want %v", ids, want[1:])
	}
	for name, id := range map[string]string{"ended": want[0], "another user's": sid(stranger), "unknown": "0190f5a0-0000-7000-8000-000000000000"} {
		if r := c.Do(t, "DELETE", "/api/v1/auth/sessions/"+id, mine, nil); r.Status != 404 || r.Str("code") != "session_not_found" {
			t.Errorf("ending an %s session: got %d %s, want 404 session_not_found", name, r.Status, r.Raw)
		}
	}
	apptest.Want(t, c.Do(t, "GET", "/api/v1/auth/me", stranger.Str("access_token"), nil), 200, "")
	apptest.Want(t, c.Do(t, "GET", "/api/v1/auth/sessions", "", nil), 401, "missing_token")

	// Ending every other session keeps the asking one.
	again := c.Do(t, "POST", "/api/v1/auth/login", "", map[string]any{"email": email, "password": goodPassword})
	apptest.Want(t, again, 200, "")
	apptest.Want(t, c.Do(t, "DELETE", "/api/v1/auth/sessions", mine, nil), 204, "")
	for _, r := range []apptest.Reply{again, logins[1]} {
		apptest.Want(t, c.Do(t, "GET", "/api/v1/auth/me", r.Str("access_token"), nil), 401, "invalid_token")
	}
	if ids, current, _ := list(mine, nil); !slices.Equal(ids, want[2:]) || !current[0] {
		t.Errorf("after ending the others: %v, want only the asking one, %s", ids, want[2])
	}

	// Ending one's own session is a logout.
	apptest.Want(t, c.Do(t, "DELETE", "/api/v1/auth/sessions/"+want[2], mine, nil), 204, "")
	apptest.Want(t, c.Do(t, "GET", "/api/v1/auth/me", mine, nil), 401, "invalid_token")
}
