package kit_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/httpx"
	"github.com/azora-os/azora/shared/kit"
	"github.com/azora-os/azora/shared/kit/kittest"
	"github.com/go-kit/kit/endpoint"
	httptransport "github.com/go-kit/kit/transport/http"
	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
)

// me is what the test endpoint answers: the claims it was given.
type me struct {
	Subject   string   `json:"sub"`
	Roles     []string `json:"roles"`
	SessionID string   `json:"sid"`
	Audience  []string `json:"aud"`
}

// meEndpoint answers with the claims the JWT middleware put in ctx.
func meEndpoint(ctx context.Context, _ any) (any, error) {
	c, ok := kit.ClaimsFrom(ctx)
	if !ok {
		return nil, kit.ErrMissingToken
	}
	return me{Subject: c.Subject, Roles: c.Roles, SessionID: c.SessionID, Audience: c.Audience}, nil
}

// newAPI serves GET /me (any user) and GET /admin (role admin) through go-kit
// servers with the real context plumbing and the shared error encoder.
func newAPI(t *testing.T, v *kit.Verifier) *httptest.Server {
	t.Helper()
	logger := log.NewNopLogger()
	serve := func(ep endpoint.Endpoint) http.Handler {
		return httptransport.NewServer(ep,
			func(context.Context, *http.Request) (any, error) { return nil, nil },
			httptransport.EncodeJSONResponse,
			httptransport.ServerBefore(kit.HTTPToContext()),
			httptransport.ServerErrorEncoder(httpx.ErrorEncoder(logger)),
		)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /me", serve(kit.JWT(v)(meEndpoint)))
	mux.Handle("GET /admin", serve(kit.JWT(v)(kit.RBAC("admin")(meEndpoint))))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// response is one answer of the test API, problem fields decoded.
type response struct {
	status    int
	challenge string // WWW-Authenticate
	ctype     string
	problem   httpx.Problem
	me        me
}

// get calls path with the Authorization header auth ("" = none), failing
// t on transport errors. Only for the test goroutine; others use call.
func get(t *testing.T, srv *httptest.Server, path, auth string) response {
	t.Helper()
	r, err := call(srv, path, auth)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// call is get returning its error.
func call(srv *httptest.Server, path, auth string) (response, error) {
	req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
	if err != nil {
		return response{}, fmt.Errorf("new request: %w", err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		return response{}, fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	r := response{status: resp.StatusCode, challenge: resp.Header.Get("WWW-Authenticate"), ctype: resp.Header.Get("Content-Type")}
	dst := any(&r.problem)
	if resp.StatusCode == http.StatusOK {
		dst = &r.me
	}
	if err := json.NewDecoder(resp.Body).Decode(dst); err != nil {
		return response{}, fmt.Errorf("GET %s: decode body: %w", path, err)
	}
	return r, nil
}

func bearer(token string) string { return "Bearer " + token }

// newVerifier returns a verifier for iss with cfg's changes applied.
func newVerifier(t testing.TB, iss *kittest.Issuer, change func(*kit.VerifierConfig)) *kit.Verifier {
	t.Helper()
	cfg := iss.VerifierConfig()
	if change != nil {
		change(&cfg)
	}
	v, err := kit.NewVerifier(cfg)
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	return v
}

// revocations is a RevocationChecker over a set of revoked session ids,
// counting its calls.
type revocations struct {
	mu      sync.Mutex
	revoked map[string]bool
	calls   int
}

func (r *revocations) Revoked(_ context.Context, c kit.Claims) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	return r.revoked[c.SessionID], nil
}

func (r *revocations) revoke(sid string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.revoked == nil {
		r.revoked = map[string]bool{}
	}
	r.revoked[sid] = true
}

func (r *revocations) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls
}

// kitCode and kitKind return err's errs code and kind.
func kitCode(err error) string { return errs.As(err).Code }
func kitKind(err error) string { return string(errs.KindOf(err)) }

// requests returns azora_endpoint_requests_total{endpoint,outcome} in reg,
// 0 when the series does not exist.
func requests(t *testing.T, reg *prometheus.Registry, endpoint, outcome string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "azora_endpoint_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["endpoint"] == endpoint && labels["outcome"] == outcome {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}
