package auth_test

import (
	"net/http"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/azora-os/azora/auth"
	"github.com/azora-os/azora/shared/httpx"
	"github.com/azora-os/azora/shared/page"
)

func TestHTTPRoutes(t *testing.T) {
	e := newHTEnv(t)
	fails := func(method string, err error) map[string]error { return map[string]error{method: err} }
	userKeys := []string{"id", "email", "name", "roles", "mfa_enabled", "created_at"}
	tokenKeys := wantKeys("access_token", "refresh_token", "token_type", "expires_in")
	post, get, put, del := http.MethodPost, http.MethodGet, http.MethodPut, http.MethodDelete

	t.Run("register", func(t *testing.T) {
		p := auth.PathRegister
		e.run(t, []htCase{
			{name: "created", method: post, path: p, body: `{"email":" Ada@Example.com ","password":" pass word 123 ","name":" Ada "}`,
				status: 201, calls: "Register", check: all(
					wantArgs("Register", auth.RegisterRequest{Email: "Ada@Example.com", Password: " pass word 123 ", Name: "Ada"}),
					func(t *testing.T, r htResponse, _ *htFake) {
						t.Helper()
						var body map[string]map[string]any
						r.Decode(t, &body)
						u := body["user"]
						got := make([]string, 0, len(u))
						for k := range u {
							got = append(got, k)
						}
						slices.Sort(got)
						want := slices.Sorted(slices.Values(userKeys))
						if !slices.Equal(got, want) {
							t.Errorf("user keys: got %v, want %v", got, want)
						}
						if u["email"] != "Ada@Example.com" || u["name"] != "Ada" || u["mfa_enabled"] != false ||
							u["created_at"] != "2025-03-01T12:00:00Z" || !reflect.DeepEqual(u["roles"], []any{"student"}) {
							t.Errorf("user: got %v", u)
						}
					}, wantKeys("user"))},
			{name: "instructor chosen", method: post, path: p, body: `{"email":"a@b.c","password":"long enough pw","name":"A","role":"instructor"}`,
				status: 201, calls: "Register", check: wantArgs("Register", auth.RegisterRequest{Email: "a@b.c", Password: "long enough pw", Name: "A", Role: "instructor"})},
			{name: "required fields", method: post, path: p, body: `{}`,
				status: 400, code: "validation_failed", fields: []string{"email", "password", "name"}},
			{name: "blank fields", method: post, path: p, body: `{"email":"  ","password":"long enough pw","name":"\t"}`,
				status: 400, code: "validation_failed", fields: []string{"email", "name"}},
			{name: "admin role refused", method: post, path: p, body: `{"email":"a@b.c","password":"long enough pw","name":"A","role":"admin"}`,
				status: 400, code: "validation_failed", fields: []string{"role"}},
			{name: "unknown field", method: post, path: p, body: `{"email":"a@b.c","password":"long enough pw","name":"A","roles":["admin"]}`,
				status: 400, code: "unknown_field", fields: []string{"roles"}},
			{name: "wrong type", method: post, path: p, body: `{"email":42,"password":"long enough pw","name":"A"}`,
				status: 400, code: "validation_failed", fields: []string{"email"}},
			{name: "malformed json", method: post, path: p, body: `{"email":`, status: 400, code: "malformed_json"},
			{name: "email taken", method: post, path: p, body: `{"email":"a@b.c","password":"long enough pw","name":"A"}`,
				fail: fails("Register", auth.ErrEmailTaken), status: 409, code: "email_taken", calls: "Register"},
			{name: "weak password", method: post, path: p, body: `{"email":"a@b.c","password":"password","name":"A"}`,
				fail: fails("Register", auth.ErrWeakPassword), status: 400, code: "weak_password", calls: "Register"},
		})
	})

	t.Run("login", func(t *testing.T) {
		p, body := auth.PathLogin, `{"email":" ada@example.com ","password":"long enough pw"}`
		e.run(t, []htCase{
			{name: "tokens", method: post, path: p, body: body, status: 200, calls: "Login", check: all(tokenKeys,
				wantArgs("Login", auth.LoginRequest{Email: "ada@example.com", Password: "long enough pw", ClientIP: "127.0.0.1"}),
				func(t *testing.T, r htResponse, _ *htFake) {
					t.Helper()
					var got auth.Tokens
					r.Decode(t, &got)
					if got != htTokens {
						t.Errorf("tokens: got %+v, want %+v", got, htTokens)
					}
				})},
			{name: "mfa required", method: post, path: p, body: body, mfa: true, status: 200, calls: "Login", check: all(
				wantKeys("mfa_required", "mfa_token"),
				func(t *testing.T, r htResponse, _ *htFake) {
					t.Helper()
					var got struct {
						Required bool   `json:"mfa_required"`
						Token    string `json:"mfa_token"`
					}
					r.Decode(t, &got)
					if !got.Required || got.Token != "mfa-token-1" {
						t.Errorf("MFA answer: got %+v, want mfa_required true, mfa_token mfa-token-1", got)
					}
				})},
			{name: "required fields", method: post, path: p, body: `{"email":"","password":""}`,
				status: 400, code: "validation_failed", fields: []string{"email", "password"}},
			{name: "client ip not from body", method: post, path: p, body: `{"email":"a@b.c","password":"x","ClientIP":"10.0.0.1"}`,
				status: 400, code: "unknown_field"},
			{name: "invalid credentials", method: post, path: p, body: body,
				fail: fails("Login", auth.ErrInvalidCredentials), status: 401, code: "invalid_credentials", calls: "Login"},
			{name: "rate limited", method: post, path: p, body: body,
				fail: fails("Login", &auth.RateLimitedError{After: 1500 * time.Millisecond}), status: 429, code: "rate_limited", calls: "Login",
				check: func(t *testing.T, r htResponse, _ *htFake) {
					t.Helper()
					if got := r.Header.Get("Retry-After"); got != "2" {
						t.Errorf("Retry-After: got %q, want 2 (1.5 s rounded up)", got)
					}
				}},
		})
	})

	t.Run("login mfa", func(t *testing.T) {
		p, body := auth.PathLoginMFA, `{"mfa_token":"mfa-token-1","code":" 123456 "}`
		e.run(t, []htCase{
			{name: "tokens", method: post, path: p, body: body, status: 200, calls: "LoginMFA",
				check: all(tokenKeys, wantArgs("LoginMFA", "mfa-token-1", "123456"))},
			{name: "required fields", method: post, path: p, body: `{}`,
				status: 400, code: "validation_failed", fields: []string{"mfa_token", "code"}},
			{name: "invalid code", method: post, path: p, body: body,
				fail: fails("LoginMFA", auth.ErrInvalidCode), status: 401, code: "invalid_code", calls: "LoginMFA"},
			{name: "invalid mfa token", method: post, path: p, body: body,
				fail: fails("LoginMFA", auth.ErrInvalidMFAToken), status: 401, code: "invalid_mfa_token", calls: "LoginMFA"},
		})
	})

	t.Run("refresh", func(t *testing.T) {
		p, body := auth.PathRefresh, `{"refresh_token":"sid.secret"}`
		e.run(t, []htCase{
			{name: "tokens", method: post, path: p, body: body, status: 200, calls: "Refresh",
				check: all(tokenKeys, wantArgs("Refresh", "sid.secret"))},
			{name: "required field", method: post, path: p, body: `{"refresh_token":" "}`,
				status: 400, code: "validation_failed", fields: []string{"refresh_token"}},
			{name: "reused", method: post, path: p, body: body,
				fail: fails("Refresh", auth.ErrRefreshTokenReused), status: 401, code: "refresh_token_reused", calls: "Refresh"},
			{name: "invalid", method: post, path: p, body: body,
				fail: fails("Refresh", auth.ErrInvalidRefreshToken), status: 401, code: "invalid_refresh_token", calls: "Refresh"},
		})
	})

	t.Run("logout", func(t *testing.T) {
		p := auth.PathLogout
		e.run(t, []htCase{
			{name: "no content", method: post, path: p, who: "student", status: 204, calls: "Logout",
				check: all(wantEmpty, wantArgs("Logout", "sid-1"))},
			{name: "empty object body", method: post, path: p, who: "student", body: `{}`, status: 204, calls: "Logout", check: wantEmpty},
			{name: "sid not from body", method: post, path: p, who: "student", body: `{"sid":"sid-9"}`, status: 400, code: "unknown_field"},
			{name: "missing token", method: post, path: p, status: 401, code: "missing_token"},
			{name: "bad token", method: post, path: p, who: "bad", status: 401, code: "invalid_token"},
		})
	})

	t.Run("me", func(t *testing.T) {
		p := auth.PathMe
		e.run(t, []htCase{
			{name: "user", method: get, path: p, who: "student", status: 200, calls: "Me",
				check: all(wantKeys("user"), wantArgs("Me", "user-1"), func(t *testing.T, r htResponse, _ *htFake) {
					t.Helper()
					var got struct{ User auth.User }
					r.Decode(t, &got)
					if want := htUser("user-1", auth.RoleStudent); !reflect.DeepEqual(got.User, want) {
						t.Errorf("user: got %+v, want %+v", got.User, want)
					}
				})},
			{name: "missing token", method: get, path: p, status: 401, code: "missing_token"},
			{name: "bad token", method: get, path: p, who: "bad", status: 401, code: "invalid_token"},
			{name: "token without user role", method: get, path: p, who: "norole", status: 403, code: "forbidden"},
			{name: "user not found", method: get, path: p, who: "student",
				fail: fails("Me", auth.ErrUserNotFound), status: 404, code: "user_not_found", calls: "Me"},
		})
	})

	t.Run("totp setup", func(t *testing.T) {
		p := auth.PathTOTPSetup
		e.run(t, []htCase{
			{name: "seed", method: post, path: p, who: "student", status: 200, calls: "SetupTOTP",
				check: all(wantKeys("secret", "otpauth_url"), wantArgs("SetupTOTP", "user-1"))},
			{name: "missing token", method: post, path: p, status: 401, code: "missing_token"},
			{name: "already enabled", method: post, path: p, who: "student",
				fail: fails("SetupTOTP", auth.ErrMFAAlreadyEnabled), status: 409, code: "mfa_already_enabled", calls: "SetupTOTP"},
		})
	})

	t.Run("totp enable", func(t *testing.T) {
		p, body := auth.PathTOTPEnable, `{"code":" 123456"}`
		e.run(t, []htCase{
			{name: "recovery codes", method: post, path: p, who: "student", body: body, status: 200, calls: "EnableTOTP",
				check: all(wantKeys("recovery_codes"), wantArgs("EnableTOTP", "user-1", "123456"), func(t *testing.T, r htResponse, _ *htFake) {
					t.Helper()
					var got struct {
						Codes []string `json:"recovery_codes"`
					}
					r.Decode(t, &got)
					if !slices.Equal(got.Codes, htRecoveryCodes) {
						t.Errorf("recovery codes: got %v, want %v", got.Codes, htRecoveryCodes)
					}
				})},
			{name: "required code", method: post, path: p, who: "student", body: `{}`,
				status: 400, code: "validation_failed", fields: []string{"code"}},
			{name: "user not from body", method: post, path: p, who: "student", body: `{"code":"1","user_id":"user-2"}`,
				status: 400, code: "unknown_field"},
			{name: "missing token", method: post, path: p, body: body, status: 401, code: "missing_token"},
			{name: "invalid code", method: post, path: p, who: "student", body: body,
				fail: fails("EnableTOTP", auth.ErrInvalidCode), status: 401, code: "invalid_code", calls: "EnableTOTP"},
			{name: "not set up", method: post, path: p, who: "student", body: body,
				fail: fails("EnableTOTP", auth.ErrMFANotSetUp), status: 409, code: "mfa_not_set_up", calls: "EnableTOTP"},
		})
	})

	t.Run("totp disable", func(t *testing.T) {
		p, body := auth.PathTOTPDisable, `{"code":"654321"}`
		e.run(t, []htCase{
			{name: "no content", method: post, path: p, who: "student", body: body, status: 204, calls: "DisableTOTP",
				check: all(wantEmpty, wantArgs("DisableTOTP", "user-1", "654321"))},
			{name: "required code", method: post, path: p, who: "student", body: `{"code":""}`,
				status: 400, code: "validation_failed", fields: []string{"code"}},
			{name: "bad token", method: post, path: p, who: "bad", body: body, status: 401, code: "invalid_token"},
			{name: "invalid code", method: post, path: p, who: "student", body: body,
				fail: fails("DisableTOTP", auth.ErrInvalidCode), status: 401, code: "invalid_code", calls: "DisableTOTP"},
			{name: "not enabled", method: post, path: p, who: "student", body: body,
				fail: fails("DisableTOTP", auth.ErrMFANotEnabled), status: 409, code: "mfa_not_enabled", calls: "DisableTOTP"},
		})
	})

	t.Run("sessions", func(t *testing.T) {
		e.run(t, []htCase{
			{name: "list", method: get, path: auth.PathSessions + "?limit=3", who: "student", status: 200, calls: "ListSessions",
				check: all(wantKeys("items"), wantArgs("ListSessions", "user-1", "sid-1", page.Request{Limit: 3}))},
			{name: "bad limit", method: get, path: auth.PathSessions + "?limit=101", who: "student", status: 400, code: "validation_failed", fields: []string{"limit"}},
			{name: "missing token", method: get, path: auth.PathSessions, status: 401, code: "missing_token"},
			{name: "not a user", method: get, path: auth.PathSessions, who: "norole", status: 403, code: "forbidden"},
			{name: "revoke", method: del, path: "/api/v1/auth/sessions/sid-9", who: "student", status: 204, calls: "RevokeSession",
				check: all(wantEmpty, wantArgs("RevokeSession", "user-1", "sid-9"))},
			{name: "revoke not mine", method: del, path: "/api/v1/auth/sessions/sid-9", who: "student",
				fail: fails("RevokeSession", auth.ErrSessionNotFound), status: 404, code: "session_not_found", calls: "RevokeSession"},
			{name: "revoke without token", method: del, path: "/api/v1/auth/sessions/sid-9", status: 401, code: "missing_token"},
			{name: "revoke the others", method: del, path: auth.PathSessions, who: "student", status: 204, calls: "RevokeOtherSessions",
				check: all(wantEmpty, wantArgs("RevokeOtherSessions", "user-1", "sid-1"))},
			{name: "revoke the others, a body", method: del, path: auth.PathSessions, who: "student", body: `{"all":true}`, status: 400, code: "unknown_field"},
		})
	})

	t.Run("users", func(t *testing.T) {
		p := auth.PathUsers + "?email=Ada@Example.com&role=instructor&limit=5&cursor=abc"
		e.run(t, []htCase{
			{name: "list", method: get, path: p, who: "admin", status: 200, calls: "ListUsers",
				check: all(wantKeys("items", "next_cursor"),
					wantArgs("ListUsers", auth.UserFilter{Email: "Ada@Example.com", Role: "instructor"}, page.Request{Limit: 5, Cursor: "abc"}))},
			{name: "default page", method: get, path: auth.PathUsers, who: "admin", status: 200, calls: "ListUsers",
				check: wantArgs("ListUsers", auth.UserFilter{}, page.Request{Limit: page.DefaultLimit})},
			{name: "bad limit", method: get, path: auth.PathUsers + "?limit=0", who: "admin", status: 400, code: "validation_failed", fields: []string{"limit"}},
			{name: "not an admin", method: get, path: p, who: "student", status: 403, code: "forbidden"},
			{name: "missing token", method: get, path: p, status: 401, code: "missing_token"},
			{name: "one", method: get, path: "/api/v1/auth/users/user-7", who: "admin", status: 200, calls: "Me",
				check: all(wantKeys("user"), wantArgs("Me", "user-7"))},
			{name: "one, not an admin", method: get, path: "/api/v1/auth/users/user-7", who: "student", status: 403, code: "forbidden"},
			{name: "one unknown", method: get, path: "/api/v1/auth/users/user-8", who: "admin",
				fail: fails("Me", auth.ErrUserNotFound), status: 404, code: "user_not_found", calls: "Me"},
		})
	})

	t.Run("change password", func(t *testing.T) {
		p, body := auth.PathPassword, `{"current_password":"old password 1","new_password":" new password 2 "}`
		e.run(t, []htCase{
			// The passwords pass exactly as sent; the user and session come
			// from the token, the address from the connection.
			{name: "no content", method: post, path: p, who: "student", body: body, status: 204, calls: "ChangePassword",
				check: all(wantEmpty, wantArgs("ChangePassword", "user-1", "sid-1", "old password 1", " new password 2 ", true))},
			{name: "required", method: post, path: p, who: "student", body: `{}`,
				status: 400, code: "validation_failed", fields: []string{"current_password", "new_password"}},
			{name: "user not from body", method: post, path: p, who: "student", body: `{"current_password":"a","new_password":"b","user_id":"user-2"}`,
				status: 400, code: "unknown_field"},
			{name: "missing token", method: post, path: p, body: body, status: 401, code: "missing_token"},
			{name: "not a user", method: post, path: p, who: "norole", body: body, status: 403, code: "forbidden"},
			{name: "wrong password", method: post, path: p, who: "student", body: body,
				fail: fails("ChangePassword", auth.ErrWrongPassword), status: 403, code: "wrong_password", calls: "ChangePassword"},
			{name: "weak", method: post, path: p, who: "student", body: body,
				fail: fails("ChangePassword", auth.ErrWeakPassword), status: 400, code: "weak_password", calls: "ChangePassword"},
		})
	})

	t.Run("set roles", func(t *testing.T) {
		id := "0195f3a0-0000-7000-8000-00000000abcd"
		p, body := "/api/v1/auth/users/"+id+"/roles", `{"roles":[" instructor ","student"]}`
		e.run(t, []htCase{
			{name: "user", method: put, path: p, who: "admin", body: body, status: 200, calls: "SetRoles",
				check: all(wantKeys("user"), wantArgs("SetRoles", id, []string{"instructor", "student"}))},
			{name: "required roles", method: put, path: p, who: "admin", body: `{}`,
				status: 400, code: "validation_failed", fields: []string{"roles"}},
			{name: "user not from body", method: put, path: p, who: "admin", body: `{"id":"x","roles":["student"]}`,
				status: 400, code: "unknown_field"},
			{name: "missing token", method: put, path: p, body: body, status: 401, code: "missing_token"},
			{name: "bad token", method: put, path: p, who: "bad", body: body, status: 401, code: "invalid_token"},
			{name: "not admin", method: put, path: p, who: "student", body: body, status: 403, code: "forbidden"},
			{name: "user not found", method: put, path: p, who: "admin", body: body,
				fail: fails("SetRoles", auth.ErrUserNotFound), status: 404, code: "user_not_found", calls: "SetRoles"},
			{name: "invalid role", method: put, path: p, who: "admin", body: `{"roles":["root"]}`,
				fail: fails("SetRoles", auth.ErrInvalidRole), status: 400, code: "invalid_role", calls: "SetRoles"},
		})
	})

	t.Run("jwks", func(t *testing.T) {
		e.run(t, []htCase{
			{name: "keys cacheable", method: get, path: auth.PathJWKS, status: 200, calls: "JWKS", check: all(wantKeys("keys"),
				func(t *testing.T, r htResponse, _ *htFake) {
					t.Helper()
					var got auth.JWKS
					r.Decode(t, &got)
					if !reflect.DeepEqual(got, htJWKS) {
						t.Errorf("JWKS: got %+v, want %+v", got, htJWKS)
					}
					if cc := r.Header.Values("Cache-Control"); !slices.Equal(cc, []string{"public, max-age=15"}) {
						t.Errorf("Cache-Control: got %q, want [public, max-age=15] (DefaultJWKSMaxAge)", cc)
					}
				})},
			{name: "no signing key", method: get, path: auth.PathJWKS,
				fail: fails("JWKS", auth.ErrNoSigningKey), status: 503, code: "no_signing_key", calls: "JWKS",
				check: func(t *testing.T, r htResponse, _ *htFake) {
					t.Helper()
					if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
						t.Errorf("Cache-Control of an error: got %q, want no-store", cc)
					}
				}},
		})
	})

	t.Run("routing", func(t *testing.T) {
		e.run(t, []htCase{
			{name: "wrong method", method: get, path: auth.PathLogin, status: 405, code: "method_not_allowed"},
			{name: "oauth routes not here", method: post, path: "/oauth2/token", status: 404, code: "not_found"},
		})
	})
}

func TestHTTPDiscovery(t *testing.T) {
	e := newHTEnv(t)
	for _, issuer := range []string{"https://id.azora.example", "https://id.azora.example/"} {
		t.Run(issuer, func(t *testing.T) {
			srv := e.server(t, newHTFake(), issuer)
			r := e.do(t, srv, http.MethodGet, auth.PathDiscovery, "", "")
			if r.Status != 200 {
				t.Fatalf("status: got %d, want 200 (%s)", r.Status, r.Body)
			}
			var got map[string]any
			r.Decode(t, &got)
			want := map[string]any{
				"issuer":                                issuer,
				"jwks_uri":                              "https://id.azora.example/.well-known/jwks.json",
				"response_types_supported":              []any{"code"},
				"subject_types_supported":               []any{"public"},
				"id_token_signing_alg_values_supported": []any{"RS256"},
				"claims_supported":                      []any{"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "sid", "roles", "amr"},
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("discovery: got %v, want %v", got, want)
			}
			if cc := r.Header.Get("Cache-Control"); cc != "public, max-age=300" {
				t.Errorf("Cache-Control: got %q, want public, max-age=300", cc)
			}
		})
	}
}

func TestHTTPJWKSMaxAge(t *testing.T) {
	e := newHTEnv(t)
	for _, c := range []struct {
		maxAge time.Duration
		want   string
	}{
		{90 * time.Second, "public, max-age=90"},
		{1500 * time.Millisecond, "public, max-age=1"},
		{0, "no-store"},
	} {
		t.Run(c.maxAge.String(), func(t *testing.T) {
			srv := e.server(t, newHTFake(), htIssuer, auth.WithJWKSMaxAge(c.maxAge))
			r := e.do(t, srv, http.MethodGet, auth.PathJWKS, "", "")
			if cc := r.Header.Values("Cache-Control"); r.Status != 200 || !slices.Equal(cc, []string{c.want}) {
				t.Errorf("status %d, Cache-Control: got %q, want 200 and [%s]", r.Status, cc, c.want)
			}
		})
	}
}

func TestHTTPClientIPHook(t *testing.T) {
	e := newHTEnv(t)
	f := newHTFake()
	srv := e.server(t, f, htIssuer, auth.WithClientIP(func(r *http.Request) string { return "hook:" + httpx.RemoteIP(r) }))
	r := e.do(t, srv, http.MethodPost, auth.PathLogin, "", `{"email":"a@b.c","password":"long enough pw"}`)
	if r.Status != 200 {
		t.Fatalf("status: got %d, want 200 (%s)", r.Status, r.Body)
	}
	args, _ := f.called("Login")
	if got := args[0].(auth.LoginRequest).ClientIP; got != "hook:127.0.0.1" {
		t.Errorf("ClientIP: got %q, want the hook's answer hook:127.0.0.1", got)
	}
}
