package auth_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/go-kit/log"
	"github.com/gorilla/mux"

	"github.com/azora-os/azora/auth"
	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/httpx"
	"github.com/azora-os/azora/shared/httpx/httpxtest"
	"github.com/azora-os/azora/shared/kit"
	"github.com/azora-os/azora/shared/page"
	"github.com/azora-os/azora/shared/seal"
)

// otFake is a hand-written auth.OAuth: it records the last request and
// answers a fixed result, or err.
type otFake struct {
	mu    sync.Mutex
	err   error
	token auth.TokenRequest
	auth  auth.ClientAuth
}

func (f *otFake) fail() error { f.mu.Lock(); defer f.mu.Unlock(); return f.err }

func (f *otFake) RegisterClient(context.Context, auth.ClientRequest) (auth.ClientCredentials, error) {
	return auth.ClientCredentials{ClientID: "c1", ClientSecret: "s1"}, f.fail()
}

func (f *otFake) ListClients(context.Context, page.Request) (page.Page[auth.Client], error) {
	return page.Page[auth.Client]{}, f.fail()
}

func (f *otFake) GetClient(_ context.Context, id string) (auth.Client, error) {
	return auth.Client{ID: id}, f.fail()
}

func (f *otFake) UpdateClient(_ context.Context, id string, _ auth.ClientUpdate) (auth.Client, error) {
	return auth.Client{ID: id}, f.fail()
}

func (f *otFake) RotateClientSecret(_ context.Context, id string) (auth.ClientCredentials, error) {
	return auth.ClientCredentials{ClientID: id, ClientSecret: "s2"}, f.fail()
}

func (f *otFake) DeleteClient(context.Context, string) error { return f.fail() }

func (f *otFake) Authorize(_ context.Context, req auth.AuthorizationRequest) (auth.Authorization, error) {
	return auth.Authorization{Request: req, ClientName: "Planner <b>", Scopes: []string{"openid"}}, f.fail()
}

func (f *otFake) SignIn(context.Context, auth.AuthorizationRequest, auth.LoginRequest) (auth.SignInResult, error) {
	return auth.SignInResult{}, f.fail()
}

func (f *otFake) SignInMFA(context.Context, auth.AuthorizationRequest, string, string) (auth.SignInResult, error) {
	return auth.SignInResult{}, f.fail()
}

func (f *otFake) Consent(context.Context, string, bool) (auth.AuthorizationResponse, error) {
	return auth.AuthorizationResponse{}, f.fail()
}

func (f *otFake) Token(_ context.Context, req auth.TokenRequest) (auth.TokenResponse, error) {
	f.mu.Lock()
	f.token = req
	f.mu.Unlock()
	return auth.TokenResponse{AccessToken: "at", TokenType: "Bearer", ExpiresIn: 900}, f.fail()
}

func (f *otFake) Introspect(_ context.Context, c auth.ClientAuth, _, _ string) (auth.Introspection, error) {
	f.mu.Lock()
	f.auth = c
	f.mu.Unlock()
	return auth.Introspection{Active: true}, f.fail()
}

func (f *otFake) Revoke(_ context.Context, c auth.ClientAuth, _, _ string) error {
	f.mu.Lock()
	f.auth = c
	f.mu.Unlock()
	return f.fail()
}

func (f *otFake) UserInfo(_ context.Context, c kit.Claims) (auth.UserInfo, error) {
	return auth.UserInfo{Sub: c.Subject}, f.fail()
}

// otServer serves f through MakeOAuthEndpoints and MakeOAuthHTTPHandler
// behind httpx.Stack.
func otServer(t *testing.T, e *htEnv, f *otFake) *httptest.Server {
	t.Helper()
	key := make([]byte, 32)
	rand.Read(key)
	sealer, err := seal.New(map[string][]byte{"k1": key}, "k1")
	if err != nil {
		t.Fatal(err)
	}
	logger := log.NewNopLogger()
	r := mux.NewRouter()
	httpx.HandleUnmatched(r, logger)
	auth.MakeOAuthHTTPHandler(auth.MakeOAuthEndpoints(f, logger, nil, e.v), r, logger, htIssuer, sealer)
	srv := httptest.NewServer(httpx.Stack(logger, r))
	t.Cleanup(srv.Close)
	return srv
}

const formType = "application/x-www-form-urlencoded"

func TestOAuthTokenEndpointTransport(t *testing.T) {
	e := newHTEnv(t)
	basic := func(id, secret string) string {
		r, _ := http.NewRequest("GET", "/", nil)
		r.SetBasicAuth(id, secret)
		return r.Header.Get("Authorization")
	}
	for _, tc := range []struct {
		name    string
		body    string
		headers map[string]string
		err     error
		status  int
		code    string // RFC 6749 error; "" success
		check   func(t *testing.T, r httpxtest.Response, f *otFake)
	}{
		{name: "client_secret_basic, form-encoded", body: "grant_type=client_credentials&scope=a",
			headers: map[string]string{"Content-Type": formType, "Authorization": basic("a%3Ab", "s%20t")}, status: 200,
			check: func(t *testing.T, r httpxtest.Response, f *otFake) {
				if f.token.Client != (auth.ClientAuth{ID: "a:b", Secret: "s t"}) || f.token.GrantType != "client_credentials" || f.token.Scope != "a" {
					t.Errorf("request: got %+v", f.token)
				}
				if r.Header.Get("Cache-Control") != "no-store" || r.Header.Get("Pragma") != "no-cache" {
					t.Errorf("caching headers: got %v", r.Header)
				}
			}},
		{name: "client_secret_post", body: "grant_type=authorization_code&client_id=c&client_secret=s&code=x&redirect_uri=u&code_verifier=v",
			headers: map[string]string{"Content-Type": formType}, status: 200,
			check: func(t *testing.T, _ httpxtest.Response, f *otFake) {
				want := auth.TokenRequest{Client: auth.ClientAuth{ID: "c", Secret: "s"}, GrantType: "authorization_code", Code: "x", RedirectURI: "u", CodeVerifier: "v"}
				if f.token != want {
					t.Errorf("request: got %+v, want %+v", f.token, want)
				}
			}},
		{name: "JSON body", body: `{"grant_type":"client_credentials"}`, status: 400, code: "invalid_request"},
		{name: "repeated parameter", body: "grant_type=a&grant_type=b", headers: map[string]string{"Content-Type": formType}, status: 400, code: "invalid_request"},
		{name: "two authentication methods", body: "grant_type=client_credentials&client_secret=s",
			headers: map[string]string{"Content-Type": formType, "Authorization": basic("c", "s")}, status: 400, code: "invalid_request"},
		{name: "invalid_client over Basic", body: "grant_type=client_credentials", headers: map[string]string{"Content-Type": formType, "Authorization": basic("c", "s")},
			err: auth.ErrInvalidClient, status: 401, code: "invalid_client",
			check: func(t *testing.T, r httpxtest.Response, _ *otFake) {
				if got := r.Header.Get("WWW-Authenticate"); got != `Basic realm="azora"` {
					t.Errorf("WWW-Authenticate: got %q", got)
				}
			}},
		{name: "invalid_client in the form", body: "grant_type=client_credentials&client_id=c", headers: map[string]string{"Content-Type": formType},
			err: auth.ErrInvalidClient, status: 401, code: "invalid_client",
			check: func(t *testing.T, r httpxtest.Response, _ *otFake) {
				if got := r.Header.Get("WWW-Authenticate"); got != "" {
					t.Errorf("WWW-Authenticate: got %q, want none", got)
				}
			}},
		{name: "invalid_grant", body: "grant_type=refresh_token", headers: map[string]string{"Content-Type": formType}, err: auth.ErrInvalidGrant, status: 400, code: "invalid_grant"},
		{name: "unauthorized_client", body: "grant_type=x", headers: map[string]string{"Content-Type": formType}, err: auth.ErrUnauthorizedClient, status: 400, code: "unauthorized_client"},
		{name: "unsupported_grant_type", body: "grant_type=x", headers: map[string]string{"Content-Type": formType}, err: auth.ErrUnsupportedGrantType, status: 400, code: "unsupported_grant_type"},
		{name: "invalid_scope", body: "grant_type=x", headers: map[string]string{"Content-Type": formType}, err: auth.ErrInvalidScope, status: 400, code: "invalid_scope"},
		{name: "another code becomes invalid_request", body: "grant_type=x", headers: map[string]string{"Content-Type": formType}, err: errs.Validation(), status: 400, code: "invalid_request"},
		{name: "internal", body: "grant_type=x", headers: map[string]string{"Content-Type": formType}, err: errors.New("db on fire"), status: 500, code: "server_error",
			check: func(t *testing.T, r httpxtest.Response, _ *otFake) {
				if strings.Contains(string(r.Body), "fire") {
					t.Errorf("the cause leaked: %s", r.Body)
				}
			}},
		{name: "unavailable", body: "grant_type=x", headers: map[string]string{"Content-Type": formType}, err: errs.E(errs.Unavailable, "redis", nil), status: 503, code: "temporarily_unavailable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &otFake{err: tc.err}
			r := httpxtest.Do(t, otServer(t, e, f), "POST", auth.PathToken, "", tc.body, tc.headers)
			if r.Status != tc.status {
				t.Fatalf("status: got %d, want %d (%s)", r.Status, tc.status, r.Body)
			}
			var body map[string]any
			r.Decode(t, &body)
			if tc.code != "" && (body["error"] != tc.code || len(body) > 2 || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json")) {
				t.Errorf("error body: got %s, want error %s", r.Body, tc.code)
			}
			if tc.check != nil {
				tc.check(t, r, f)
			}
		})
	}
}

func TestOAuthOtherRoutesTransport(t *testing.T) {
	e := newHTEnv(t)
	f := &otFake{}
	srv := otServer(t, e, f)
	form := map[string]string{"Content-Type": formType}

	if r := httpxtest.Do(t, srv, "POST", auth.PathRevoke, "", "token=t&client_id=c", form); r.Status != 200 || len(r.Body) != 0 || f.auth.ID != "c" {
		t.Errorf("revoke: got %d %q, client %+v", r.Status, r.Body, f.auth)
	}
	if r := httpxtest.Do(t, srv, "POST", auth.PathIntrospect, "", "token=t&client_id=c&client_secret=s", form); r.Status != 200 || string(r.Body) != "{\"active\":true}\n" {
		t.Errorf("introspect: got %d %s", r.Status, r.Body)
	}
	httpxtest.Do(t, srv, "GET", auth.PathToken, "", "", nil).Problem(t, 405, "method_not_allowed")
	httpxtest.Do(t, srv, "GET", auth.PathUserInfo, "", "", nil).Problem(t, 401, "missing_token")
	httpxtest.Do(t, srv, "GET", auth.PathUserInfo, e.token(t, "norole"), "", nil).Problem(t, 403, "forbidden")
	if r := httpxtest.Do(t, srv, "GET", auth.PathUserInfo, e.token(t, "student"), "", nil); r.Status != 200 || !strings.Contains(string(r.Body), `"sub":"user-1"`) {
		t.Errorf("userinfo: got %d %s", r.Status, r.Body)
	}
	httpxtest.Do(t, srv, "POST", auth.PathClients, e.token(t, "student"), `{"name":"x","grant_types":["client_credentials"]}`, nil).Problem(t, 403, "forbidden")
	if r := httpxtest.Do(t, srv, "POST", auth.PathClients, e.token(t, "admin"), `{"name":"x","grant_types":["client_credentials"]}`, nil); r.Status != 201 {
		t.Errorf("register: got %d %s", r.Status, r.Body)
	}
}

func TestOAuthAuthorizePageTransport(t *testing.T) {
	e := newHTEnv(t)
	noFollow := func(srv *httptest.Server) *http.Client {
		c := srv.Client()
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		return c
	}
	query := "?client_id=c&redirect_uri=" + url.QueryEscape("https://app.example.com/cb?x=1") + "&state=s%20t"

	t.Run("the page escapes and protects itself", func(t *testing.T) {
		srv := otServer(t, e, &otFake{})
		r := httpxtest.Do(t, srv, "GET", auth.PathAuthorize+query, "", "", nil)
		body := string(r.Body)
		if r.Status != 200 || !strings.Contains(body, "Planner &lt;b&gt;") || strings.Contains(body, "Planner <b>") {
			t.Errorf("page: got %d %s", r.Status, body)
		}
		csp := r.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "form-action 'self' https://app.example.com;") || r.Header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("CSP %q", csp)
		}
		// The inline style is the one the CSP lets through.
		style := body[strings.Index(body, "<style>")+len("<style>") : strings.Index(body, "</style>")]
		sum := sha256.Sum256([]byte(style))
		if !strings.Contains(csp, "style-src 'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"';") {
			t.Errorf("CSP %q does not allow the page's style", csp)
		}
		if ck := r.Header.Get("Set-Cookie"); !strings.Contains(ck, "HttpOnly") || !strings.Contains(ck, "SameSite=Strict") || !strings.Contains(ck, "Path=/oauth2/authorize") {
			t.Errorf("cookie: %q", ck)
		}
	})
	t.Run("errors for the client are redirected with state and iss", func(t *testing.T) {
		srv := otServer(t, e, &otFake{err: &auth.RedirectError{Err: auth.ErrInvalidScope, RedirectURI: "https://app.example.com/cb?x=1", State: "s t"}})
		resp, err := noFollow(srv).Get(srv.URL + auth.PathAuthorize + query)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if resp.StatusCode != 302 || loc.Host != "app.example.com" || loc.Query().Get("x") != "1" || loc.Query().Get("error") != "invalid_scope" ||
			loc.Query().Get("state") != "s t" || loc.Query().Get("iss") != htIssuer {
			t.Errorf("got %d %q", resp.StatusCode, resp.Header.Get("Location"))
		}
	})
	for name, err := range map[string]error{"unknown client": auth.ErrUnknownClient, "redirect URI mismatch": auth.ErrRedirectURIMismatch, "store down": errs.E(errs.Unavailable, "x", nil)} {
		t.Run(name+" is shown, never redirected", func(t *testing.T) {
			srv := otServer(t, e, &otFake{err: err})
			resp, gerr := noFollow(srv).Get(srv.URL + auth.PathAuthorize + query)
			if gerr != nil {
				t.Fatal(gerr)
			}
			resp.Body.Close()
			if resp.StatusCode != httpx.Status(errs.KindOf(err)) || resp.Header.Get("Location") != "" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
				t.Errorf("got %d %q %q", resp.StatusCode, resp.Header.Get("Location"), resp.Header.Get("Content-Type"))
			}
		})
	}
	t.Run("a POST without the CSRF cookie and token", func(t *testing.T) {
		srv := otServer(t, e, &otFake{})
		r := httpxtest.Do(t, srv, "POST", auth.PathAuthorize, "", "step=consent&consent_token=x&decision=allow", map[string]string{"Content-Type": formType})
		if r.Status != 403 || !strings.Contains(string(r.Body), "expired or did not come from this site") {
			t.Errorf("got %d %s", r.Status, r.Body)
		}
	})
}
