package main

import (
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/azora-os/azora/shared/app/apptest"
)

// TestAdminFindsUsers: an admin finds a user by email (any case) or role,
// pages through everyone newest first, and reads one by id; nobody else
// may.
func TestAdminFindsUsers(t *testing.T) {
	t.Parallel()
	c, _, token := startAuthWithAdmin(t)
	var ids []string // newest first, the admin last
	for range 3 {
		email := uniqueEmail()
		r := c.Do(t, "POST", "/api/v1/auth/register", "", map[string]any{"email": email, "password": goodPassword, "name": "Ada", "role": "instructor"})
		apptest.Want(t, r, 201, "")
		ids = append([]string{r.Obj("user")["id"].(string)}, ids...)
	}
	studentID, student := registerAndLogin(t, c, "Grace.Hopper@Example.com")
	ids = append([]string{studentID}, ids...)
	list := func(q url.Values) (got []string, next string) {
		t.Helper()
		r := c.Do(t, "GET", "/api/v1/auth/users?"+q.Encode(), token, nil)
		apptest.Want(t, r, 200, "")
		for _, it := range r.Body["items"].([]any) {
			u := it.(map[string]any)
			if _, has := u["password_hash"]; has {
				t.Fatalf("a listed user shows a secret: %v", u)
			}
			got = append(got, u["id"].(string))
		}
		return got, r.Str("next_cursor")
	}

	var all []string
	for q := (url.Values{"limit": {"2"}}); ; {
		got, next := list(q)
		all = append(all, got...)
		if next == "" {
			break
		}
		q.Set("cursor", next)
	}
	if want := len(ids) + 1; len(all) != want || !slices.Equal(all[:len(ids)], ids) {
		t.Errorf("all users: %v, want %v then the admin", all, ids)
	}
	if got, _ := list(url.Values{"email": {" grace.hopper@EXAMPLE.com "}}); !slices.Equal(got, []string{studentID}) {
		t.Errorf("by email: %v, want [%s]", got, studentID)
	}
	if got, _ := list(url.Values{"email": {"nobody@example.com"}}); len(got) != 0 {
		t.Errorf("an unknown email: %v, want none", got)
	}
	if got, _ := list(url.Values{"role": {"instructor"}}); !slices.Equal(got, ids[1:]) {
		t.Errorf("instructors: %v, want %v", got, ids[1:])
	}
	if got, _ := list(url.Values{"role": {"admin"}}); len(got) != 1 || slices.Contains(ids, got[0]) {
		t.Errorf("admins: %v, want the bootstrap admin alone", got)
	}
	apptest.Want(t, c.Do(t, "GET", "/api/v1/auth/users?role=root", token, nil), 400, "invalid_role")
	apptest.Want(t, c.Do(t, "GET", "/api/v1/auth/users?cursor=!!", token, nil), 400, "invalid_cursor")

	one := c.Do(t, "GET", "/api/v1/auth/users/"+studentID, token, nil)
	apptest.Want(t, one, 200, "")
	if u := one.Obj("user"); u["id"] != studentID || !strings.EqualFold(u["email"].(string), "grace.hopper@example.com") {
		t.Errorf("one user: got %s", one.Raw)
	}
	apptest.Want(t, c.Do(t, "GET", "/api/v1/auth/users/0190f5a0-0000-7000-8000-000000000000", token, nil), 404, "user_not_found")
	for _, p := range []string{"/api/v1/auth/users", "/api/v1/auth/users/" + studentID} {
		apptest.Want(t, c.Do(t, "GET", p, student.Str("access_token"), nil), 403, "forbidden")
		apptest.Want(t, c.Do(t, "GET", p, "", nil), 401, "missing_token")
	}
}
