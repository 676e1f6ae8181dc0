package gateway

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-kit/log"
	"github.com/gorilla/mux"

	"github.com/azora-os/azora/shared/httpx"
)

// TestExactRoutesMatchAsMuxDoes sends every path of the route table (and
// some near misses) with every method to a router with exactRoutes in
// front and to one with gorilla/mux alone: the answers (status, body,
// Allow) must be the same, and the paths without variables must take the
// map.
func TestExactRoutesMatchAsMuxDoes(t *testing.T) {
	type reg struct {
		path    string
		methods []string
	}
	regs := []reg{
		// Not in the route table: a route with variables registered first
		// that mux prefers for POST on a path registered later.
		{"/api/v1/overlap/{id}", []string{http.MethodPost}},
	}
	for _, rt := range Routes {
		regs = append(regs, reg{rt.Path, []string{rt.Method}})
	}
	regs = append(regs,
		reg{PathDashboard, []string{http.MethodGet}},
		reg{PathOpenAPI, []string{http.MethodGet, http.MethodHead}},
		reg{PathDocs, []string{http.MethodGet, http.MethodHead}},
		reg{"/api/v1/overlap/x", []string{http.MethodGet, http.MethodPost}}, // POST: the route above wins
		reg{PathDocs, []string{http.MethodGet}},                             // twice: mux serves the first
	)
	build := func(fast bool) (*mux.Router, *exactRoutes) {
		r := mux.NewRouter()
		httpx.HandleUnmatched(r, log.NewNopLogger())
		var e *exactRoutes
		if fast {
			e = newExactRoutes(r)
		}
		for i, rg := range regs {
			h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintf(w, "route %d", i) })
			if fast {
				e.handle(rg.path, h, rg.methods...)
			} else {
				r.Handle(rg.path, h).Methods(rg.methods...)
			}
		}
		if fast {
			e.verify()
		}
		return r, e
	}
	ref, _ := build(false)
	fast, e := build(true)

	probes := map[string]bool{"/api/v1/nowhere": true, "/": true, "/api/v1/enrollments/": true, "/API/v1/enrollments": true}
	for _, rg := range regs {
		p := rg.path
		for strings.Contains(p, "{") {
			i, j := strings.Index(p, "{"), strings.Index(p, "}")
			p = p[:i] + "x" + p[j+1:]
		}
		probes[p] = true
		probes[p+"/"] = true
	}
	methods := []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions}
	answer := func(h http.Handler, method, path string) string {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
		body, _ := io.ReadAll(rec.Body)
		return fmt.Sprintf("%d allow=%q %s", rec.Code, rec.Header().Get("Allow"), body)
	}
	for path := range probes {
		for _, method := range methods {
			if got, want := answer(fast, method, path), answer(ref, method, path); got != want {
				t.Errorf("%s %s: got %s, want (mux alone) %s", method, path, got, want)
			}
		}
	}

	viaMap := func(method, path string) bool {
		var m mux.RouteMatch
		return fast.Match(httptest.NewRequest(method, path, nil), &m) && m.Route == e.self
	}
	for _, tc := range []struct {
		method, path string
		want         bool
	}{
		{http.MethodGet, "/api/v1/enrollments", true},
		{http.MethodPost, "/api/v1/transfers", true},
		{http.MethodHead, PathOpenAPI, true},
		{http.MethodGet, PathDocs, true},
		{http.MethodGet, "/api/v1/overlap/x", true},
		{http.MethodPost, "/api/v1/overlap/x", false}, // mux sends it to the route with variables
		{http.MethodDelete, "/api/v1/enrollments", false},
		{http.MethodGet, "/api/v1/enrollments/x", false},
	} {
		if got := viaMap(tc.method, tc.path); got != tc.want {
			t.Errorf("%s %s answered by the map: got %v, want %v", tc.method, tc.path, got, tc.want)
		}
	}
}
