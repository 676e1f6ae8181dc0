package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-kit/kit/endpoint"
	httptransport "github.com/go-kit/kit/transport/http"
	"github.com/go-kit/log"
	"github.com/gorilla/mux"
	"github.com/rs/cors"

	"github.com/azora-os/azora/shared/httpx"
	"github.com/azora-os/azora/shared/kit"
)

// HTTPConfig is what MakeHTTPHandler mounts.
type HTTPConfig struct {
	// Upstreams serves each service's routes (ServiceAuth … → its proxy).
	// A service missing here makes MakeHTTPHandler fail.
	Upstreams map[string]http.Handler
	// Verifier checks bearer tokens at the edge.
	Verifier *kit.Verifier
	// Limiter and Rates rate-limit every route by class; a class missing
	// from Rates is not limited. A nil Limiter limits nothing.
	Limiter *Limiter
	Rates   map[RateClass]Rate
	// Trusted are the proxies (NGINX) whose X-Forwarded-For names the
	// client whose IP keys anonymous limits.
	Trusted httpx.TrustedProxies
	Logger  log.Logger
	Metrics *kit.Metrics // nil: no endpoint metrics
}

// MakeHTTPHandler mounts on r every route of Routes, forwarded to its
// service's upstream behind the edge JWT check and the rate limit, plus
// the gateway's own routes: the dashboard, the OpenAPI document and its
// reference page.
func MakeHTTPHandler(r *mux.Router, s Service, cfg HTTPConfig) error {
	logger := cfg.Logger
	if logger == nil {
		logger = log.NewNopLogger()
	}
	edge := edgeMiddleware{verifier: cfg.Verifier, limiter: cfg.Limiter, rates: cfg.Rates, trusted: cfg.Trusted, logger: logger}
	exact := newExactRoutes(r)
	for _, rt := range Routes {
		up, ok := cfg.Upstreams[rt.Service]
		if !ok {
			return fmt.Errorf("gateway: no upstream for service %q (route %s %s)", rt.Service, rt.Method, rt.Path)
		}
		exact.handle(rt.Path, edge.wrap(rt.Access, rt.Class, up), rt.Method)
	}

	dashboard := httptransport.NewServer(
		kit.Chain(logger, cfg.Metrics, kit.Spec{Name: "dashboard"})(makeDashboardEndpoint(s)),
		httptransport.NopRequestDecoder,
		httpx.EncodeJSON(http.StatusOK),
		httpx.ServerOptions(logger)...,
	)
	exact.handle(PathDashboard, edge.wrap(User, ClassAnonymous, dashboard), http.MethodGet)
	exact.handle(PathOpenAPI, edge.wrap(Public, ClassAnonymous, OpenAPIHandler()), http.MethodGet, http.MethodHead)
	exact.handle(PathDocs, edge.wrap(Public, ClassAnonymous, DocsHandler()), http.MethodGet, http.MethodHead)
	exact.verify()
	return nil
}

// exactRoutes finds the route of a request whose path has no variables
// with one map lookup, as a gorilla/mux matcher registered ahead of the
// routes themselves: mux alone tries each route's regexp in turn, about
// thirty for a path late in Routes. It answers only for a path and method
// mux would send to the same route (verify checks each against mux
// itself), and falls through for anything else: a known path with another
// method, a path with variables, an unknown path, all of which the routes
// still answer, with their 404s, 405s and Allow headers.
type exactRoutes struct {
	router *mux.Router
	self   *mux.Route                       // the matcher's own route
	routes map[string]map[string]exactRoute // path → method → route
	off    bool                             // while verify asks mux alone; never while serving
}

type exactRoute struct {
	route   *mux.Route
	handler http.Handler
}

// newExactRoutes registers the matcher on r, ahead of the routes handle
// adds after it.
func newExactRoutes(r *mux.Router) *exactRoutes {
	e := &exactRoutes{router: r, routes: map[string]map[string]exactRoute{}}
	e.self = r.MatcherFunc(e.match)
	return e
}

// handle registers h on the router for path and methods, as
// r.Handle(path, h).Methods(methods...), and in the map when path has no
// variables.
func (e *exactRoutes) handle(path string, h http.Handler, methods ...string) {
	route := e.router.Handle(path, h).Methods(methods...)
	if strings.ContainsAny(path, "{}") {
		return
	}
	if e.routes[path] == nil {
		e.routes[path] = map[string]exactRoute{}
	}
	for _, m := range methods {
		if _, dup := e.routes[path][m]; !dup { // mux serves the first of two
			e.routes[path][m] = exactRoute{route, h}
		}
	}
}

// verify drops every entry mux itself would not send to the same route
// (one registered earlier that matches the same request wins in mux). Call
// it once the routes are in, before serving.
func (e *exactRoutes) verify() {
	e.off = true
	defer func() { e.off = false }()
	for path, byMethod := range e.routes {
		for method, er := range byMethod {
			req := &http.Request{Method: method, URL: &url.URL{Path: path}, Host: "gateway", Header: http.Header{}}
			var m mux.RouteMatch
			if !e.router.Match(req, &m) || m.MatchErr != nil || m.Route != er.route {
				delete(byMethod, method)
			}
		}
	}
}

// match is the mux.MatcherFunc.
func (e *exactRoutes) match(r *http.Request, m *mux.RouteMatch) bool {
	if e.off {
		return false
	}
	er, ok := e.routes[r.URL.Path][r.Method]
	if !ok {
		return false
	}
	m.Handler = er.handler
	return true
}

func makeDashboardEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, _ any) (any, error) {
		return s.Dashboard(ctx)
	}
}

// edgeMiddleware is what every gateway route passes before its handler:
// the token check its Access asks for, then the rate limit of its class.
type edgeMiddleware struct {
	verifier *kit.Verifier
	limiter  *Limiter
	rates    map[RateClass]Rate
	trusted  httpx.TrustedProxies
	logger   log.Logger
}

func (m edgeMiddleware) wrap(access Access, class RateClass, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		addr := clientAddr{r: r, trusted: m.trusted}
		ctx, err := m.authenticate(w, r, access, &addr)
		if err != nil {
			httpx.WriteError(w, r, m.logger, err)
			return
		}
		if !m.admit(ctx, w, r, class, &addr) {
			return
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// clientAddr is the client's address as the trusted proxies tell it,
// worked out once per request and only if a check needs it: parsing the
// forwarding chain costs.
type clientAddr struct {
	r       *http.Request
	trusted httpx.TrustedProxies
	ip      string
	done    bool
}

func (a *clientAddr) get() string {
	if !a.done {
		a.ip, a.done = a.trusted.ClientIP(a.r), true
	}
	return a.ip
}

// authenticate returns r's ctx carrying the caller's token and verified
// claims as access requires: untouched for Public routes; for
// OptionalUser, verified when a token is sent; for User, a token is
// required. Services verify again; the edge check keeps forged, expired
// and revoked tokens from reaching them at all.
func (m edgeMiddleware) authenticate(w http.ResponseWriter, r *http.Request, access Access, addr *clientAddr) (context.Context, error) {
	ctx := r.Context()
	if access == Public {
		return ctx, nil
	}
	ctx = kit.HTTPToContext()(ctx, r)
	token := kit.TokenFrom(ctx)
	if token == "" {
		if access == OptionalUser && r.Header.Get("Authorization") == "" {
			return ctx, nil
		}
		return nil, kit.ErrMissingToken
	}
	if m.verifier == nil {
		return nil, kit.ErrAuthUnavailable
	}
	c, err := m.verify(ctx, w, token, addr)
	if err != nil {
		return nil, err
	}
	return kit.WithClaims(ctx, c), nil
}

// verify checks token, unless the client's address has had more tokens
// refused than ClassBadToken allows: then the answer is a 429 (its
// RateLimit headers written to w) without a signature check. A token found
// invalid is charged to the address; one that could not be checked (JWKS
// unreachable) is not.
func (m edgeMiddleware) verify(ctx context.Context, w http.ResponseWriter, token string, addr *clientAddr) (kit.Claims, error) {
	rate, guarded := m.rates[ClassBadToken]
	if !guarded || m.limiter == nil {
		return m.verifier.Verify(ctx, token)
	}
	key := "ip:" + addr.get()
	if d, refused := m.limiter.Refused(ClassBadToken, rate, key); refused {
		d.WriteHeaders(w.Header())
		return kit.Claims{}, d.Err()
	}
	c, err := m.verifier.Verify(ctx, token)
	if errors.Is(err, kit.ErrInvalidToken) {
		m.limiter.Allow(ctx, ClassBadToken, rate, key)
	}
	return c, err
}

// admit applies the rate limit of class, keyed by the verified user when
// there is one (ClassUser) and by the client IP otherwise; ClassAuth is
// always per IP: those routes are how a caller gets a user. It writes the
// RateLimit-* headers, and the 429 problem when the request is refused.
func (m edgeMiddleware) admit(ctx context.Context, w http.ResponseWriter, r *http.Request, class RateClass, addr *clientAddr) bool {
	if m.limiter == nil {
		return true
	}
	var key string
	if c, ok := kit.ClaimsFrom(ctx); ok && class != ClassAuth {
		class, key = ClassUser, "user:"+c.Subject
	}
	rate, ok := m.rates[class]
	if !ok {
		return true
	}
	if key == "" {
		key = "ip:" + addr.get()
	}
	d := m.limiter.Allow(ctx, class, rate, key)
	d.WriteHeaders(w.Header())
	if err := d.Err(); err != nil {
		httpx.WriteError(w, r, m.logger, err)
		return false
	}
	return true
}

// CORSConfig is the browser-facing policy.
type CORSConfig struct {
	AllowedOrigins []string // exact origins ("https://app.azora.example"); empty: no cross-origin access
	MaxAge         time.Duration
}

// CORS returns middleware answering preflights and setting
// Access-Control-* headers for the allow-listed origins only. Credentials
// (cookies) are not allowed: the API authenticates with bearer tokens.
func CORS(cfg CORSConfig) func(http.Handler) http.Handler {
	if len(cfg.AllowedOrigins) == 0 {
		// rs/cors reads an empty list as "*"; here it means nobody.
		return func(next http.Handler) http.Handler { return next }
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = 10 * time.Minute
	}
	c := cors.New(cors.Options{
		AllowedOrigins: cfg.AllowedOrigins,
		AllowedMethods: []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete},
		AllowedHeaders: []string{"Authorization", "Content-Type", "Idempotency-Key", "X-Request-ID"},
		ExposedHeaders: []string{"X-Request-ID", "Idempotent-Replayed", "Retry-After",
			"RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "Location"},
		MaxAge:           int(cfg.MaxAge / time.Second),
		AllowCredentials: false,
	})
	return c.Handler
}
