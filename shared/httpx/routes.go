package httpx

import (
	"fmt"
	"maps"
	"net/http"
	"slices"

	"github.com/gorilla/mux"
)

// RouteMiddleware is extra middleware for routes by name (e.g. the
// Idempotency-Key middleware on the routes API.md marks (I)); several for
// one name nest in order, the first outermost.
type RouteMiddleware map[string][]func(http.Handler) http.Handler

// Add appends mw to the route called name.
func (m RouteMiddleware) Add(name string, mw func(http.Handler) http.Handler) {
	m[name] = append(m[name], mw)
}

// Routes mounts a service's named routes on a router.
type Routes struct {
	r     *mux.Router
	extra RouteMiddleware
	used  map[string]bool
}

// NewRoutes mounts on r, wrapping routes in extra (nil: none).
func NewRoutes(r *mux.Router, extra RouteMiddleware) *Routes {
	return &Routes{r: r, extra: extra, used: map[string]bool{}}
}

// Mount serves h for method and path under name, inside its extra
// middleware. The path matcher goes before the method one: gorilla/mux
// v1.8.1 clears a recorded method mismatch when a later route's first
// matcher succeeds, so with Methods first a GET on a POST-only path became
// a 404 instead of a 405.
func (rt *Routes) Mount(name, method, path string, h http.Handler) {
	mws := rt.extra[name]
	for i := len(mws) - 1; i >= 0; i-- {
		h = mws[i](h)
	}
	rt.used[name] = true
	rt.r.Path(path).Methods(method).Handler(h)
}

// Done panics when extra names a route that was never mounted: a typo in
// wiring would otherwise silently drop, say, the Idempotency-Key check.
func (rt *Routes) Done(service string) {
	for _, name := range slices.Sorted(maps.Keys(rt.extra)) {
		if !rt.used[name] {
			panic(fmt.Sprintf("%s: route middleware for %q: no route has that name", service, name))
		}
	}
}
