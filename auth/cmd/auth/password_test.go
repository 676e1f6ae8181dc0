package main

import (
	"fmt"
	"sync"
	"testing"

	"github.com/azora-os/azora/shared/app/apptest"
)

// TestChangePassword: a user changes their password with the current one;
// the session that did it stays, every other one of theirs ends at once;
// only the new password signs in. A wrong current password, a weak or
// unchanged new one change nothing, and guessing the current password is
// held to the login limits.
func TestChangePassword(t *testing.T) {
	t.Parallel()
	base, _ := startAuth(t, nil)
	c := apptest.NewClient(base, "127.0.0.1")
	email := uniqueEmail()
	_, here := registerAndLogin(t, c, email)
	there := c.Do(t, "POST", "/api/v1/auth/login", "", map[string]any{"email": email, "password": goodPassword})
	apptest.Want(t, there, 200, "")
	const newPassword = "a quite different passphrase"
	change := func(current, next string) apptest.Reply {
		return c.Do(t, "POST", "/api/v1/auth/password", here.Str("access_token"),
			map[string]any{"current_password": current, "new_password": next})
	}

	apptest.Want(t, change("not my password", newPassword), 403, "wrong_password")
	apptest.Want(t, change(goodPassword, "short"), 400, "weak_password")
	apptest.Want(t, change(goodPassword, "password123"), 400, "weak_password")
	apptest.Want(t, change(goodPassword, goodPassword), 400, "weak_password")
	apptest.Want(t, c.Do(t, "POST", "/api/v1/auth/password", "", map[string]any{"current_password": goodPassword, "new_password": newPassword}), 401, "missing_token")
	// Refused changes changed nothing: both sessions and the old password work.
	apptest.Want(t, c.Do(t, "GET", "/api/v1/auth/me", there.Str("access_token"), nil), 200, "")
	apptest.Want(t, c.Do(t, "POST", "/api/v1/auth/login", "", map[string]any{"email": email, "password": goodPassword}), 200, "")

	apptest.Want(t, change(goodPassword, newPassword), 204, "")
	apptest.Want(t, c.Do(t, "GET", "/api/v1/auth/me", here.Str("access_token"), nil), 200, "")
	apptest.Want(t, c.Do(t, "POST", "/api/v1/auth/token/refresh", "", map[string]any{"refresh_token": here.Str("refresh_token")}), 200, "")
	apptest.Want(t, c.Do(t, "GET", "/api/v1/auth/me", there.Str("access_token"), nil), 401, "invalid_token")
	apptest.Want(t, c.Do(t, "POST", "/api/v1/auth/token/refresh", "", map[string]any{"refresh_token": there.Str("refresh_token")}), 401, "invalid_refresh_token")
	apptest.Want(t, c.Do(t, "POST", "/api/v1/auth/login", "", map[string]any{"email": email, "password": goodPassword}), 401, "invalid_credentials")
	apptest.Want(t, c.Do(t, "POST", "/api/v1/auth/login", "", map[string]any{"email": email, "password": newPassword}), 200, "")

	t.Run("guessing the current password is rate limited", func(t *testing.T) {
		var last apptest.Reply
		for i := range 10 {
			if last = change("guess "+string(rune('a'+i)), "another fine passphrase"); last.Status == 429 {
				break
			}
			apptest.Want(t, last, 403, "wrong_password")
		}
		apptest.Want(t, last, 429, "rate_limited")
		if last.Header.Get("Retry-After") == "" {
			t.Errorf("429 without Retry-After: %v", last.Header)
		}
	})
}

// TestConcurrentPasswordChanges: several changes from the same current
// password at once; exactly one wins, the others find their current
// password no longer current, and only the winner's new password signs in.
func TestConcurrentPasswordChanges(t *testing.T) {
	t.Parallel()
	base, _ := startAuth(t, map[string]string{"AUTH_LOGIN_PAIR_BURST": "100"})
	c := apptest.NewClient(base, "127.0.0.1")
	email := uniqueEmail()
	_, tok := registerAndLogin(t, c, email)
	const n = 6
	status := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := c.Do(t, "POST", "/api/v1/auth/password", tok.Str("access_token"),
				map[string]any{"current_password": goodPassword, "new_password": fmt.Sprintf("new passphrase number %d", i)})
			if r.Status != 204 && (r.Status != 403 || r.Str("code") != "wrong_password") {
				t.Errorf("change %d: got %d %s, want 204 or 403 wrong_password", i, r.Status, r.Raw)
			}
			status[i] = r.Status
		}()
	}
	wg.Wait()
	winners := 0
	for i, s := range status {
		login := c.Do(t, "POST", "/api/v1/auth/login", "", map[string]any{"email": email, "password": fmt.Sprintf("new passphrase number %d", i)})
		if s == 204 {
			winners++
			apptest.Want(t, login, 200, "")
		} else if login.Status != 401 {
			t.Errorf("the losing password %d signs in: %d", i, login.Status)
		}
	}
	if winners != 1 {
		t.Errorf("%d changes won (%v), want exactly 1", winners, status)
	}
}
