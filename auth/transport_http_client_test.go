package auth_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/go-kit/kit/endpoint"

	"github.com/azora-os/azora/auth"
	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/kit"
	"github.com/azora-os/azora/shared/logging"
	"github.com/azora-os/azora/shared/page"
)

// newHTClient returns an HTTP client of srv whose middleware records the
// endpoint names it wraps calls of.
func newHTClient(t *testing.T, instance string) (auth.Service, *[]string) {
	t.Helper()
	var mu sync.Mutex
	names := &[]string{}
	svc, err := auth.NewHTTPClient(instance, auth.WithClientMiddleware(func(name string) endpoint.Middleware {
		return func(next endpoint.Endpoint) endpoint.Endpoint {
			return func(ctx context.Context, req any) (any, error) {
				mu.Lock()
				*names = append(*names, name)
				mu.Unlock()
				return next(ctx, req)
			}
		}
	}))
	if err != nil {
		t.Fatalf("NewHTTPClient(%q): %v", instance, err)
	}
	return svc, names
}

func TestHTTPClientMe(t *testing.T) {
	e := newHTEnv(t)
	f := newHTFake()
	srv := e.server(t, f, htIssuer)
	svc, names := newHTClient(t, srv.URL)
	ctx := logging.WithRequestID(kit.WithToken(context.Background(), e.tokens["student"]), "req-client-1")

	u, err := svc.Me(ctx, "user-1")
	if err != nil {
		t.Fatalf("Me: %v", err)
	}
	if want := htUser("user-1", auth.RoleStudent); !reflect.DeepEqual(u, want) {
		t.Errorf("user: got %+v, want %+v", u, want)
	}
	if got := f.requestID("Me"); got != "req-client-1" {
		t.Errorf("request id at the server: got %q, want req-client-1", got)
	}
	if !slices.Equal(*names, []string{"me"}) {
		t.Errorf("middleware names: got %v, want [me]", *names)
	}

	tests := []struct {
		name   string
		ctx    context.Context
		userID string
		fail   error
		want   *errs.Error
	}{
		{"no token", context.Background(), "user-1", nil, kit.ErrMissingToken},
		{"bad token", kit.WithToken(context.Background(), e.tokens["bad"]), "user-1", nil, kit.ErrInvalidToken},
		{"user not found", ctx, "user-1", auth.ErrUserNotFound, auth.ErrUserNotFound},
		{"another user's token", ctx, "user-2", nil, kit.ErrForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.failWith("Me", tt.fail)
			_, err := svc.Me(tt.ctx, tt.userID)
			if !errors.Is(err, tt.want) {
				t.Fatalf("error: got %v, want code %s", err, tt.want.Code)
			}
			if got := errs.KindOf(err); got != tt.want.Kind {
				t.Errorf("kind: got %s, want %s", got, tt.want.Kind)
			}
		})
	}
}

// TestHTTPClientRoundTrip calls every Service method through the HTTP
// client and the real handler, and checks what the fake received and what
// came back.
func TestHTTPClientRoundTrip(t *testing.T) {
	e := newHTEnv(t)
	f := newHTFake()
	srv := e.server(t, f, htIssuer)
	svc, _ := newHTClient(t, srv.URL)
	bg := context.Background()
	student := kit.WithToken(bg, e.tokens["student"])
	admin := kit.WithToken(bg, e.tokens["admin"])
	check := func(t *testing.T, method string, got, want any, args ...any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("result: got %#v, want %#v", got, want)
		}
		if a, _ := f.called(method); !reflect.DeepEqual(a, args) {
			t.Errorf("%s args: got %#v, want %#v", method, a, args)
		}
	}

	t.Run("register", func(t *testing.T) {
		req := auth.RegisterRequest{Email: "ada@example.com", Password: "long enough pw", Name: "Ada", Role: auth.RoleInstructor}
		u, err := svc.Register(bg, req)
		if err != nil {
			t.Fatalf("Register: %v", err)
		}
		want := auth.User{ID: "0195f3a0-0000-7000-8000-000000000001", Email: req.Email, Name: "Ada", Roles: []string{auth.RoleInstructor}, CreatedAt: htCreatedAt}
		check(t, "Register", u, want, req)
	})
	t.Run("login tokens", func(t *testing.T) {
		res, err := svc.Login(bg, auth.LoginRequest{Email: "ada@example.com", Password: "long enough pw", ClientIP: "203.0.113.9"})
		if err != nil {
			t.Fatalf("Login: %v", err)
		}
		tok := htTokens
		// The client's ClientIP is not sent: auth limits by the peer it sees.
		check(t, "Login", res, auth.LoginResult{Tokens: &tok}, auth.LoginRequest{Email: "ada@example.com", Password: "long enough pw", ClientIP: "127.0.0.1"})
	})
	t.Run("login mfa required", func(t *testing.T) {
		f.setMFA(true)
		defer f.setMFA(false)
		res, err := svc.Login(bg, auth.LoginRequest{Email: "ada@example.com", Password: "long enough pw"})
		if err != nil {
			t.Fatalf("Login: %v", err)
		}
		if res.Tokens != nil || res.MFAToken != "mfa-token-1" {
			t.Errorf("result: got %+v, want only MFAToken mfa-token-1", res)
		}
	})
	t.Run("login rate limited", func(t *testing.T) {
		f.failWith("Login", &auth.RateLimitedError{After: 3 * time.Second})
		defer f.failWith("Login", nil)
		_, err := svc.Login(bg, auth.LoginRequest{Email: "ada@example.com", Password: "long enough pw"})
		var ra interface{ RetryAfter() time.Duration }
		if !errors.As(err, &ra) || ra.RetryAfter() != 3*time.Second || errs.KindOf(err) != errs.RateLimited {
			t.Fatalf("error: got %v, want rate_limited retrying after 3s", err)
		}
	})
	t.Run("login mfa", func(t *testing.T) {
		tok, err := svc.LoginMFA(bg, "mfa-token-1", "123456")
		if err != nil {
			t.Fatalf("LoginMFA: %v", err)
		}
		check(t, "LoginMFA", tok, htTokens, "mfa-token-1", "123456")
	})
	t.Run("refresh reused", func(t *testing.T) {
		f.failWith("Refresh", auth.ErrRefreshTokenReused)
		defer f.failWith("Refresh", nil)
		if _, err := svc.Refresh(bg, "sid.old"); !errors.Is(err, auth.ErrRefreshTokenReused) {
			t.Fatalf("error: got %v, want refresh_token_reused", err)
		}
	})
	t.Run("refresh", func(t *testing.T) {
		tok, err := svc.Refresh(bg, "sid.secret")
		if err != nil {
			t.Fatalf("Refresh: %v", err)
		}
		check(t, "Refresh", tok, htTokens, "sid.secret")
	})
	t.Run("setup totp", func(t *testing.T) {
		s, err := svc.SetupTOTP(student, "ignored")
		if err != nil {
			t.Fatalf("SetupTOTP: %v", err)
		}
		if s.Secret == "" || s.OTPAuthURL == "" {
			t.Errorf("setup: got %+v, want a secret and a URL", s)
		}
		check(t, "SetupTOTP", s, s, "user-1")
	})
	t.Run("enable totp", func(t *testing.T) {
		codes, err := svc.EnableTOTP(student, "ignored", "123456")
		if err != nil {
			t.Fatalf("EnableTOTP: %v", err)
		}
		check(t, "EnableTOTP", codes, htRecoveryCodes, "user-1", "123456")
	})
	t.Run("disable totp", func(t *testing.T) {
		err := svc.DisableTOTP(student, "ignored", "654321")
		check(t, "DisableTOTP", err, nil, "user-1", "654321")
	})
	t.Run("sessions", func(t *testing.T) {
		got, err := svc.ListSessions(student, "ignored", "ignored", page.Request{Limit: 2, Cursor: "c"})
		if err != nil || len(got.Items) != 1 || got.Items[0].ID != "sid-1" || !got.Items[0].Current {
			t.Fatalf("ListSessions: got %+v, %v", got, err)
		}
		check(t, "ListSessions", nil, nil, "user-1", "sid-1", page.Request{Limit: 2, Cursor: "c"})
		err = svc.RevokeSession(student, "ignored", "sid 9?")
		check(t, "RevokeSession", err, nil, "user-1", "sid 9?")
		err = svc.RevokeOtherSessions(student, "ignored", "ignored")
		check(t, "RevokeOtherSessions", err, nil, "user-1", "sid-1")
		if err := svc.RevokeSession(student, "ignored", "a/b"); !errors.Is(err, auth.ErrSessionNotFound) {
			t.Errorf("a session id that is not one path segment: got %v, want session_not_found unsent", err)
		}
	})
	t.Run("list users", func(t *testing.T) {
		f, p := auth.UserFilter{Email: "ada+1@example.com", Role: auth.RoleInstructor}, page.Request{Limit: 3, Cursor: "c/1"}
		got, err := svc.ListUsers(admin, f, p)
		if err != nil || len(got.Items) != 1 || got.Items[0].ID != "user-9" || got.NextCursor != "next-users" {
			t.Fatalf("ListUsers: got %+v, %v", got, err)
		}
		check(t, "ListUsers", nil, nil, f, p) // the filter and page cross the query intact
	})
	t.Run("change password", func(t *testing.T) {
		err := svc.ChangePassword(student, auth.ChangePasswordRequest{CurrentPassword: "old password 1", NewPassword: "new password 2",
			UserID: "ignored", SessionID: "ignored", ClientIP: "ignored"})
		check(t, "ChangePassword", err, nil, "user-1", "sid-1", "old password 1", "new password 2", true)
	})
	t.Run("set roles", func(t *testing.T) {
		u, err := svc.SetRoles(admin, "user 7?x#", []string{auth.RoleInstructor})
		if err != nil {
			t.Fatalf("SetRoles: %v", err)
		}
		// The id travels escaped in one path segment.
		check(t, "SetRoles", u, htUser("user 7?x#", auth.RoleInstructor), "user 7?x#", []string{auth.RoleInstructor})
	})
	t.Run("set roles id not a segment", func(t *testing.T) {
		for _, id := range []string{"", "..", "a/../../me"} {
			if _, err := svc.SetRoles(admin, id, []string{auth.RoleStudent}); !errors.Is(err, auth.ErrUserNotFound) {
				t.Errorf("SetRoles(%q): got %v, want user_not_found", id, err)
			}
		}
		if a, _ := f.called("SetRoles"); a[0] != "user 7?x#" {
			t.Errorf("SetRoles reached the service with %v, want no new call", a)
		}
	})
	t.Run("set roles forbidden", func(t *testing.T) {
		if _, err := svc.SetRoles(student, "user-2", []string{auth.RoleAdmin}); !errors.Is(err, kit.ErrForbidden) {
			t.Fatalf("error: got %v, want forbidden", err)
		}
	})
	t.Run("jwks", func(t *testing.T) {
		set, err := svc.JWKS(bg)
		if err != nil {
			t.Fatalf("JWKS: %v", err)
		}
		check(t, "JWKS", set, htJWKS)
	})
	t.Run("logout", func(t *testing.T) {
		err := svc.Logout(student, "ignored")
		check(t, "Logout", err, nil, "sid-1")
	})
	t.Run("validation fields survive", func(t *testing.T) {
		_, err := svc.Register(bg, auth.RegisterRequest{Email: "a@b.c", Name: "A", Role: auth.RoleAdmin})
		e := errs.As(err)
		if e.Code != "validation_failed" || len(e.Fields) != 2 || e.Fields[0].Field != "password" || e.Fields[1].Field != "role" {
			t.Fatalf("error: got %v with fields %+v, want validation_failed on password and role", err, e.Fields)
		}
	})
}

func TestHTTPClientErrors(t *testing.T) {
	t.Run("unreachable", func(t *testing.T) {
		srv := httptest.NewServer(nil)
		url := srv.URL
		srv.Close()
		svc, _ := newHTClient(t, url)
		_, err := svc.JWKS(context.Background())
		if !errors.Is(err, auth.ErrAuthUnreachable) || !errs.IsServerFault(err) {
			t.Fatalf("error: got %v, want auth_unreachable (a server fault)", err)
		}
	})
	t.Run("not a problem document", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		t.Cleanup(srv.Close)
		svc, _ := newHTClient(t, srv.URL)
		_, err := svc.JWKS(context.Background())
		if e := errs.As(err); e.Code != "upstream_404" || e.Kind != errs.NotFound {
			t.Fatalf("error: got %v, want upstream_404 of kind not_found", err)
		}
	})
	t.Run("redirect not followed", func(t *testing.T) {
		var mu sync.Mutex
		var leaked []string
		elsewhere := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
			mu.Lock()
			defer mu.Unlock()
			leaked = append(leaked, r.Header.Get("Authorization"))
		}))
		t.Cleanup(elsewhere.Close)
		srv := httptest.NewServer(http.RedirectHandler(elsewhere.URL, http.StatusTemporaryRedirect))
		t.Cleanup(srv.Close)
		svc, _ := newHTClient(t, srv.URL)
		_, err := svc.Me(kit.WithToken(context.Background(), "secret-token"), "")
		if errs.KindOf(err) != errs.Internal {
			t.Errorf("error: got %v, want an internal error for the unexpected 307", err)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(leaked) != 0 {
			t.Errorf("the redirect target got %d requests (Authorization %q), want none", len(leaked), leaked)
		}
	})
	for _, bad := range []string{"ftp://auth:4001", "http://", "http://a b"} {
		t.Run("bad url "+bad, func(t *testing.T) {
			if _, err := auth.NewHTTPClient(bad); errs.As(err).Code != "invalid_auth_url" {
				t.Fatalf("NewHTTPClient(%q): got %v, want invalid_auth_url", bad, err)
			}
		})
	}
	t.Run("host and port only", func(t *testing.T) {
		e := newHTEnv(t)
		srv := e.server(t, newHTFake(), htIssuer)
		svc, _ := newHTClient(t, srv.Listener.Addr().String())
		if _, err := svc.JWKS(context.Background()); err != nil {
			t.Fatalf("JWKS via host:port: %v", err)
		}
	})
}
