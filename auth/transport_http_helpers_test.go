package auth_test

import (
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/go-kit/log"
	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/azora-os/azora/auth"
	"github.com/azora-os/azora/shared/httpx"
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
type htResponse struct {
	status int
	header http.Header
	body   []byte
}

// htDo sends method path with body (JSON when not empty) and the token of
// who (none when who is ""), and returns the response.
func (e *htEnv) do(t *testing.T, srv *httptest.Server, method, path, who, body string) htResponse {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, srv.URL+path, rd)
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if who != "" {
		tok, ok := e.tokens[who]
		if !ok {
			t.Fatalf("no token for %q", who)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return htResponse{status: resp.StatusCode, header: resp.Header, body: b}
}

// keys returns the sorted top-level keys of a JSON object body.
func (r htResponse) keys(t *testing.T) []string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", r.body, err)
	}
	return slices.Sorted(maps.Keys(m))
}

// decode unmarshals the body into v.
func (r htResponse) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %q: %v", r.body, err)
	}
}

// problem checks that r is a problem document of status and code and
// returns it.
func (r htResponse) problem(t *testing.T, status int, code string) httpx.Problem {
	t.Helper()
	if r.status != status {
		t.Fatalf("status: got %d, want %d (body %s)", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type: got %q, want application/problem+json", ct)
	}
	var p httpx.Problem
	r.decode(t, &p)
	if p.Code != code || p.Status != status || p.Type != "/problems/"+code {
		t.Errorf("problem: got code %q status %d type %q, want %q %d /problems/%s", p.Code, p.Status, p.Type, code, status, code)
	}
	if p.RequestID == "" || p.RequestID != r.header.Get("X-Request-ID") {
		t.Errorf("problem request_id: got %q, want the X-Request-ID %q", p.RequestID, r.header.Get("X-Request-ID"))
	}
	return p
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
				p := r.problem(t, c.status, c.code)
				if c.fields != nil && !slices.Equal(htFields(p), c.fields) {
					t.Errorf("problem fields: got %v, want %v (%+v)", htFields(p), c.fields, p.Errors)
				}
				if c.status == http.StatusUnauthorized {
					want := `Bearer error="invalid_token"`
					if c.code == "missing_token" {
						want = "Bearer"
					}
					if got := r.header.Get("WWW-Authenticate"); got != want {
						t.Errorf("WWW-Authenticate: got %q, want %q", got, want)
					}
				}
			} else if r.status != c.status {
				t.Fatalf("status: got %d, want %d (body %s)", r.status, c.status, r.body)
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
		if got := r.keys(t); !slices.Equal(got, keys) {
			t.Errorf("body keys: got %v, want %v (body %s)", got, keys, r.body)
		}
	}
}

// wantEmpty checks a body-less success.
func wantEmpty(t *testing.T, r htResponse, _ *htFake) {
	t.Helper()
	if len(r.body) != 0 || r.header.Get("Content-Type") != "" {
		t.Errorf("body: got %q (Content-Type %q), want none", r.body, r.header.Get("Content-Type"))
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
