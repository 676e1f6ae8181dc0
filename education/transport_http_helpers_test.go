package education_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/azora-os/azora/education"
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
	// tokens by who holds them: student (sub student-1), instructor (sub
	// htInstructorID), admin (sub admin-1), norole (a valid token without a
	// user role), bad (foreign signature), expired.
	tokens map[string]string
}

func newHTEnv(t *testing.T) *htEnv {
	t.Helper()
	iss := kittest.NewIssuer(t)
	v, err := kit.NewVerifier(iss.VerifierConfig())
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	past := time.Now().Add(-time.Hour)
	return &htEnv{iss: iss, v: v, tokens: map[string]string{
		"student":    iss.Token(t, kittest.Claims{Subject: "student-1", Roles: []string{education.RoleStudent}}),
		"instructor": iss.Token(t, kittest.Claims{Subject: htInstructorID, Roles: []string{education.RoleInstructor}}),
		"admin":      iss.Token(t, kittest.Claims{Subject: "admin-1", Roles: []string{education.RoleAdmin}}),
		"norole":     iss.Token(t, kittest.Claims{Subject: "client-1"}),
		"bad":        iss.Token(t, kittest.Claims{Subject: "student-1", Roles: []string{education.RoleAdmin}}, kittest.SignedByForeignKey()),
		"expired": iss.Token(t, kittest.Claims{Subject: "student-1", Roles: []string{education.RoleStudent},
			IssuedAt: past.Add(-time.Hour), NotBefore: past.Add(-time.Hour), ExpiresAt: past}),
	}}
}

// TestHTTP runs every transport test over one token issuer: RSA keys are
// slow to make, and the tests share nothing else.
func TestHTTP(t *testing.T) {
	e := newHTEnv(t)
	for _, tt := range []struct {
		name string
		run  func(*testing.T, *htEnv)
	}{
		{"CourseRoutes", testHTTPCourseRoutes},
		{"LearningRoutes", testHTTPLearningRoutes},
		{"ClientEnrollments", testHTTPClientEnrollments},
		{"ClientRoundTrip", testHTTPClientRoundTrip},
		{"ClientErrors", testHTTPClientErrors},
		{"RouteMiddleware", testHTTPRouteMiddleware},
		{"WithoutVerifier", testHTTPWithoutVerifier},
		{"EmptyLists", testHTTPEmptyLists},
	} {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, e) })
	}
}

// htActors are the Actors the tokens stand for.
var htActors = map[string]education.Actor{
	"student":    {UserID: "student-1", Roles: []string{education.RoleStudent}},
	"instructor": {UserID: htInstructorID, Roles: []string{education.RoleInstructor}},
	"admin":      {UserID: "admin-1", Roles: []string{education.RoleAdmin}},
}

// server serves s (usually an *htFake) through MakeEndpoints and
// MakeHTTPHandler, mounted on a router behind httpx.Stack as the service
// runs it, until t ends.
func (e *htEnv) server(t *testing.T, s education.Service, opts ...education.HTTPOption) *httptest.Server {
	t.Helper()
	logger := log.NewNopLogger()
	r := mux.NewRouter()
	httpx.HandleUnmatched(r, logger)
	eps := education.MakeEndpoints(s, logger, kit.NewMetrics(prometheus.NewRegistry(), "education"), e.v)
	education.MakeHTTPHandler(eps, r, logger, opts...)
	srv := httptest.NewServer(httpx.Stack(logger, r))
	t.Cleanup(srv.Close)
	return srv
}

// htResponse is a finished response with its body read.
type htResponse = httpxtest.Response

// htRequest is what one test request sends beyond method and path.
type htRequest struct {
	who   string // whose token is sent; "" none
	auth  string // a raw Authorization header instead of who's token
	body  string // sent as JSON unless ctype says otherwise
	ctype string
}

// do sends method path with in to srv and returns the response.
func (e *htEnv) do(t *testing.T, srv *httptest.Server, method, path string, in htRequest) htResponse {
	t.Helper()
	h := map[string]string{}
	if in.ctype != "" {
		h["Content-Type"] = in.ctype
	}
	if in.auth != "" {
		h["Authorization"] = in.auth
	}
	return httpxtest.Do(t, srv, method, path, e.token(t, in.who), in.body, h)
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
	htRequest
	pending bool             // the fake's Enroll answers pending_payment
	forged  bool             // the fake's Verify finds a bad signature
	fail    map[string]error // fake method → error it answers
	status  int
	code    string   // the problem code; "" for a success
	fields  []string // the fields a validation problem names
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
			if c.pending {
				f.setEnrollStatus(education.EnrollmentPending)
			}
			f.setForged(c.forged)
			for m, err := range c.fail {
				f.failWith(m, err)
			}
			r := e.do(t, e.server(t, f), c.method, c.path, c.htRequest)
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
func htWantArgs(method string, want ...any) func(*testing.T, htResponse, *htFake) {
	return func(t *testing.T, _ htResponse, f *htFake) {
		t.Helper()
		got, _ := f.called(method)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s args: got %#v, want %#v", method, got, want)
		}
	}
}

// wantKeys checks the exact top-level keys of the body.
func htWantKeys(keys ...string) func(*testing.T, htResponse, *htFake) {
	return func(t *testing.T, r htResponse, _ *htFake) {
		t.Helper()
		slices.Sort(keys)
		if got := r.Keys(t); !slices.Equal(got, keys) {
			t.Errorf("body keys: got %v, want %v (body %s)", got, keys, r.Body)
		}
	}
}

// wantBody checks that the body's member key decodes to want (of want's
// type); key "" means the whole body.
func htWantBody[T any](key string, want T) func(*testing.T, htResponse, *htFake) {
	return func(t *testing.T, r htResponse, _ *htFake) {
		t.Helper()
		raw := json.RawMessage(r.Body)
		if key != "" {
			var m map[string]json.RawMessage
			r.Decode(t, &m)
			raw = m[key]
		}
		var got T
		if err := json.Unmarshal(raw, &got); err != nil {
			t.Fatalf("decode %s %q: %v", key, raw, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %+v, want %+v", key, got, want)
		}
	}
}

// all runs every check in turn.
func htAll(checks ...func(*testing.T, htResponse, *htFake)) func(*testing.T, htResponse, *htFake) {
	return func(t *testing.T, r htResponse, f *htFake) {
		t.Helper()
		for _, c := range checks {
			c(t, r, f)
		}
	}
}

// fails makes method answer err.
func htFails(method string, err error) map[string]error { return map[string]error{method: err} }

func htPtr[T any](v T) *T { return &v }
