package auth_test

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"testing"

	"github.com/go-kit/log"
	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/azora-os/azora/auth"
	"github.com/azora-os/azora/shared/httpx"
	"github.com/azora-os/azora/shared/httpx/httpxtest"
	"github.com/azora-os/azora/shared/kit"
	"github.com/azora-os/azora/shared/kit/kittest"
)

// htEnv holds what every transport test shares: a token issuer (RSA keys
// are slow to make) and a verifier of its tokens.
type htEnv struct {
	iss *kittest.Issuer
	v   *kit.Verifier
	// tokens by who holds them: student (sub user-1, sid sid-1), admin,
	// norole (a valid token without a user role), bad (foreign signature).
	tokens map[string]string
}

func newHTEnv(t *testing.T) *htEnv {
	t.Helper()
	iss := kittest.NewIssuer(t)
	v, err := kit.NewVerifier(iss.VerifierConfig())
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	return &htEnv{iss: iss, v: v, tokens: map[string]string{
		"student": iss.Token(t, kittest.Claims{Subject: "user-1", SessionID: "sid-1", Roles: []string{auth.RoleStudent}}),
		"admin":   iss.Token(t, kittest.Claims{Subject: "admin-1", SessionID: "sid-2", Roles: []string{auth.RoleAdmin}}),
		"norole":  iss.Token(t, kittest.Claims{Subject: "client-1", SessionID: "sid-3"}),
		"bad":     iss.Token(t, kittest.Claims{Subject: "user-1", Roles: []string{auth.RoleAdmin}}, kittest.SignedByForeignKey()),
	}}
}

// htIssuer is the issuer the handler is configured with in tests.
const htIssuer = "https://auth.azora.test"

// server serves f through MakeEndpoints and MakeHTTPHandler, mounted on a
// router behind httpx.Stack as the service runs it, until t ends.
func (e *htEnv) server(t *testing.T, f *htFake, issuer string, opts ...auth.HTTPOption) *httptest.Server {
	t.Helper()
	logger := log.NewNopLogger()
	r := mux.NewRouter()
	httpx.HandleUnmatched(r, logger)
	eps := auth.MakeEndpoints(f, logger, kit.NewMetrics(prometheus.NewRegistry(), "auth"), e.v)
	auth.MakeHTTPHandler(eps, r, logger, issuer, opts...)
	srv := httptest.NewServer(httpx.Stack(logger, r))
	t.Cleanup(srv.Close)
	return srv
}

// htResponse is a finished response with its body read.
type htResponse = httpxtest.Response

// do sends method path with body (JSON when not empty) and the token of
// who (none when who is ""), and returns the response.
func (e *htEnv) do(t *testing.T, srv *httptest.Server, method, path, who, body string) htResponse {
	t.Helper()
	return httpxtest.Do(t, srv, method, path, e.token(t, who), body, nil)
}

// token returns who's token, "" for who "", failing t for an unknown who.
func (e *htEnv) token(t *testing.T, who string) string {
	t.Helper()
	if who == "" {
		return ""
	}
	tok, ok := e.tokens[who]
	if !ok {
		t.Fatalf("no token for %q", who)
	}
	return tok
}

// fields returns the field names of a validation problem, in order.
func htFields(p httpx.Problem) []string {
	var names []string
	for _, f := range p.Errors {
		names = append(names, f.Field)
	}
	return names
}

// htCase is one request through the real handler.
type htCase struct {
	name   string
	method string
	path   string
	who    string // whose token is sent; "" none
	body   string
	mfa    bool             // the fake's Login asks for MFA
	fail   map[string]error // fake method → error it answers
	status int
	code   string   // the problem code; "" for a success
	fields []string // the fields a validation problem names
	// calls is the fake method the request must reach; "" means it must
	// reach none (refused by the transport or the endpoint).
	calls string
	check func(t *testing.T, r htResponse, f *htFake)
}

func (e *htEnv) run(t *testing.T, cases []htCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newHTFake()
			f.setMFA(c.mfa)
			for m, err := range c.fail {
				f.failWith(m, err)
			}
			r := e.do(t, e.server(t, f, htIssuer), c.method, c.path, c.who, c.body)
			if c.code != "" {
				p := r.Problem(t, c.status, c.code)
				if c.fields != nil && !slices.Equal(htFields(p), c.fields) {
					t.Errorf("problem fields: got %v, want %v (%+v)", htFields(p), c.fields, p.Errors)
				}
				if c.status == http.StatusUnauthorized {
					want := `Bearer error="invalid_token"`
					if c.code == "missing_token" {
						want = "Bearer"
					}
					if got := r.Header.Get("WWW-Authenticate"); got != want {
						t.Errorf("WWW-Authenticate: got %q, want %q", got, want)
					}
				}
			} else if r.Status != c.status {
				t.Fatalf("status: got %d, want %d (body %s)", r.Status, c.status, r.Body)
			}
			switch got := f.methods(); {
			case c.calls == "" && len(got) != 0:
				t.Errorf("service calls: got %v, want none", got)
			case c.calls != "" && !slices.Equal(got, []string{c.calls}):
				t.Errorf("service calls: got %v, want [%s]", got, c.calls)
			}
			if c.check != nil {
				c.check(t, r, f)
			}
		})
	}
}

// wantArgs checks the arguments of the fake's last call of method.
func wantArgs(method string, want ...any) func(*testing.T, htResponse, *htFake) {
	return func(t *testing.T, _ htResponse, f *htFake) {
		t.Helper()
		got, _ := f.called(method)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s args: got %#v, want %#v", method, got, want)
		}
	}
}

// wantKeys checks the exact top-level keys of the body.
func wantKeys(keys ...string) func(*testing.T, htResponse, *htFake) {
	return func(t *testing.T, r htResponse, _ *htFake) {
		t.Helper()
		slices.Sort(keys)
		if got := r.Keys(t); !slices.Equal(got, keys) {
			t.Errorf("body keys: got %v, want %v (body %s)", got, keys, r.Body)
		}
	}
}

// wantEmpty checks a body-less success.
func wantEmpty(t *testing.T, r htResponse, _ *htFake) {
	t.Helper()
	if len(r.Body) != 0 || r.Header.Get("Content-Type") != "" {
		t.Errorf("body: got %q (Content-Type %q), want none", r.Body, r.Header.Get("Content-Type"))
	}
}

// all runs every check in turn.
func all(checks ...func(*testing.T, htResponse, *htFake)) func(*testing.T, htResponse, *htFake) {
	return func(t *testing.T, r htResponse, f *htFake) {
		t.Helper()
		for _, c := range checks {
			c(t, r, f)
		}
	}
}
