package main

import (
	"context"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/azora-os/azora/shared/app/apptest"
	"github.com/azora-os/azora/shared/kit"
	"github.com/azora-os/azora/shared/redisx/redistest"
	"github.com/azora-os/azora/shared/revocation"
)

func TestRegistrationAndLogin(t *testing.T) {
	t.Parallel()
	base, _ := startAuth(t, nil)
	c := apptest.NewClient(base, "127.0.0.1")
	email := uniqueEmail()

	r := c.Do(t, "POST", "/api/v1/auth/register", "", map[string]any{"email": "  " + strings.ToUpper(email) + " ", "password": goodPassword, "name": "Ada"})
	apptest.Want(t, r, 201, "")
	u := r.Obj("user")
	var keys []string
	for k := range u {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if got := strings.Join(keys, ","); got != "created_at,email,id,mfa_enabled,name,roles" {
		t.Errorf("user fields: got %s", got)
	}
	if u["email"] != email || u["mfa_enabled"] != false || !slices.Equal(apptest.Strings(u["roles"]), []string{"student"}) {
		t.Errorf("got user %v, want normalised email, student, no MFA", u)
	}

	for _, tc := range []struct {
		name   string
		body   map[string]any
		status int
		code   string
	}{
		{"duplicate email in another case", map[string]any{"email": strings.ToUpper(email), "password": goodPassword, "name": "Eve"}, 409, "email_taken"},
		{"9 characters", map[string]any{"email": uniqueEmail(), "password": "abcdefghi", "name": "Eve"}, 400, "weak_password"},
		{"129 characters", map[string]any{"email": uniqueEmail(), "password": strings.Repeat("x", 129), "name": "Eve"}, 400, "weak_password"},
		{"common password", map[string]any{"email": uniqueEmail(), "password": "PASSWORD1234", "name": "Eve"}, 400, "weak_password"},
		{"admin is never self-chosen", map[string]any{"email": uniqueEmail(), "password": goodPassword, "name": "Eve", "role": "admin"}, 400, "validation_failed"},
		{"bad email", map[string]any{"email": "not-an-email", "password": goodPassword, "name": "Eve"}, 400, "validation_failed"},
		{"unknown field", map[string]any{"email": uniqueEmail(), "password": goodPassword, "name": "Eve", "is_admin": true}, 400, "unknown_field"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			apptest.Want(t, c.Do(t, "POST", "/api/v1/auth/register", "", tc.body), tc.status, tc.code)
		})
	}
	r = c.Do(t, "POST", "/api/v1/auth/register", "", map[string]any{"email": uniqueEmail(), "password": goodPassword, "name": "Grace", "role": "instructor"})
	apptest.Want(t, r, 201, "")
	if got := apptest.Strings(r.Obj("user")["roles"]); !slices.Equal(got, []string{"instructor"}) {
		t.Errorf("instructor registration: got roles %v", got)
	}

	apptest.Want(t, c.Do(t, "POST", "/api/v1/auth/login", "", map[string]any{"email": email, "password": "wrong password!"}), 401, "invalid_credentials")
	apptest.Want(t, c.Do(t, "POST", "/api/v1/auth/login", "", map[string]any{"email": uniqueEmail(), "password": goodPassword}), 401, "invalid_credentials")
	tok := c.Do(t, "POST", "/api/v1/auth/login", "", map[string]any{"email": strings.ToUpper(email), "password": goodPassword})
	apptest.Want(t, tok, 200, "")
	if tok.Str("token_type") != "Bearer" || tok.Body["expires_in"] != float64(900) || tok.Str("access_token") == "" || tok.Str("refresh_token") == "" {
		t.Fatalf("got tokens %s", tok.Raw)
	}

	me := c.Do(t, "GET", "/api/v1/auth/me", tok.Str("access_token"), nil)
	apptest.Want(t, me, 200, "")
	if me.Obj("user")["id"] != u["id"] {
		t.Errorf("me: got %v, want user %v", me.Obj("user")["id"], u["id"])
	}
	apptest.Want(t, c.Do(t, "GET", "/api/v1/auth/me", "", nil), 401, "missing_token")
	apptest.Want(t, c.Do(t, "GET", "/api/v1/auth/me", tok.Str("access_token")+"x", nil), 401, "invalid_token")
}

// TestTokenVerifiesWithAnIndependentLibrary checks an access token with
// lestrrat-go/jwx, given nothing but the JWKS URL.
func TestTokenVerifiesWithAnIndependentLibrary(t *testing.T) {
	t.Parallel()
	base, _ := startAuth(t, nil)
	c := apptest.NewClient(base, "127.0.0.1")
	id, tok := registerAndLogin(t, c, uniqueEmail())

	set, err := jwk.Fetch(context.Background(), base+"/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := jwt.Parse([]byte(tok.Str("access_token")), jwt.WithKeySet(set),
		jwt.WithIssuer("http://127.0.0.1:4001"), jwt.WithAudience("azora"), jwt.WithValidate(true))
	if err != nil {
		t.Fatalf("jwx rejected our token: %v", err)
	}
	if sub, _ := parsed.Subject(); sub != id {
		t.Errorf("sub: got %q, want %q", sub, id)
	}
	for _, claim := range []string{"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "sid", "roles", "amr"} {
		if !slices.Contains(parsed.Keys(), claim) {
			t.Errorf("claim %s missing; token has %v", claim, parsed.Keys())
		}
	}
	for claim, wantList := range map[string][]string{"roles": {"student"}, "amr": {"pwd"}} {
		var got []any
		if err := parsed.Get(claim, &got); err != nil || !slices.Equal(apptest.Strings(got), wantList) {
			t.Errorf("%s: got %v (%v), want %v", claim, got, err, wantList)
		}
	}
}

func TestRefreshRotationAndReuse(t *testing.T) {
	t.Parallel()
	base, _ := startAuth(t, nil)
	c := apptest.NewClient(base, "127.0.0.1")
	_, tok := registerAndLogin(t, c, uniqueEmail())

	r1 := tok.Str("refresh_token")
	second := c.Do(t, "POST", "/api/v1/auth/token/refresh", "", map[string]any{"refresh_token": r1})
	apptest.Want(t, second, 200, "")
	r2 := second.Str("refresh_token")
	if r2 == r1 || second.Str("access_token") == "" {
		t.Fatalf("refresh did not rotate: %s", second.Raw)
	}
	apptest.Want(t, c.Do(t, "POST", "/api/v1/auth/token/refresh", "", map[string]any{"refresh_token": r1}), 401, "refresh_token_reused")
	// Reuse revoked the whole session: R2 and the access tokens are dead.
	apptest.Want(t, c.Do(t, "POST", "/api/v1/auth/token/refresh", "", map[string]any{"refresh_token": r2}), 401, "")
	apptest.Want(t, c.Do(t, "GET", "/api/v1/auth/me", second.Str("access_token"), nil), 401, "")
	apptest.Want(t, c.Do(t, "POST", "/api/v1/auth/token/refresh", "", map[string]any{"refresh_token": "garbage"}), 401, "invalid_refresh_token")
}

func TestConcurrentRefreshesWithOneTokenExactlyOneSucceeds(t *testing.T) {
	t.Parallel()
	base, _ := startAuth(t, nil)
	c := apptest.NewClient(base, "127.0.0.1")
	_, tok := registerAndLogin(t, c, uniqueEmail())

	var ok atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			r := c.Do(t, "POST", "/api/v1/auth/token/refresh", "", map[string]any{"refresh_token": tok.Str("refresh_token")})
			switch r.Status {
			case 200:
				ok.Add(1)
			case 401:
			default:
				t.Errorf("got %d %s, want 200 or 401", r.Status, r.Raw)
			}
		}()
	}
	close(start)
	wg.Wait()
	if got := ok.Load(); got != 1 {
		t.Errorf("got %d successful refreshes, want exactly 1", got)
	}
}

// TestLogoutIsRefusedElsewhereWithinOneSecond plays another service: a
// verifier of its own with the shared revocation list, as every service
// builds through app.Verifier.
func TestLogoutIsRefusedElsewhereWithinOneSecond(t *testing.T) {
	t.Parallel()
	base, env := startAuth(t, nil)
	c := apptest.NewClient(base, "127.0.0.1")
	_, tok := registerAndLogin(t, c, uniqueEmail())

	rdb, _ := redistest.New(t)
	rc := revocation.New(rdb, env["REDIS_KEY_PREFIX"]+"auth:", revocation.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go rc.Run(ctx)
	v, err := kit.NewVerifier(kit.VerifierConfig{JWKSURL: base + "/.well-known/jwks.json", Issuer: "http://127.0.0.1:4001", Audience: "azora", Revocations: rc})
	if err != nil {
		t.Fatal(err)
	}
	access := tok.Str("access_token")
	if _, err := v.Verify(ctx, access); err != nil {
		t.Fatalf("before logout: %v", err)
	}

	apptest.Want(t, c.Do(t, "POST", "/api/v1/auth/logout", access, nil), 204, "")
	loggedOut := time.Now()
	for {
		if _, err := v.Verify(ctx, access); err != nil {
			if d := time.Since(loggedOut); d > time.Second {
				t.Errorf("refused after %v, want within 1s", d)
			}
			break
		}
		if time.Since(loggedOut) > 2*time.Second {
			t.Fatal("the logged-out token is still accepted after 2s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	apptest.Want(t, c.Do(t, "GET", "/api/v1/auth/me", access, nil), 401, "")
	apptest.Want(t, c.Do(t, "POST", "/api/v1/auth/token/refresh", "", map[string]any{"refresh_token": tok.Str("refresh_token")}), 401, "")
}
