// Package kit holds the go-kit endpoint middlewares every Azora service
// composes around its endpoints, in one fixed order (outermost first):
// tracing → logging → metrics → JWT → RBAC → circuit breaker → endpoint.
// Request ids are set earlier, by HTTP middleware in shared/httpx.
//
// Services build each endpoint's chain in one place with Chain:
//
//	ep = kit.Chain(logger, m, kit.Spec{Name: "transfer", Verifier: v, Roles: []string{"student"}})(ep)
package kit

import (
	"github.com/go-kit/kit/endpoint"
	"github.com/go-kit/log"
)

// Spec describes what one endpoint needs from the chain.
type Spec struct {
	// Name labels the endpoint in spans, logs and metrics, e.g. "transfer".
	Name string
	// Verifier checks the caller's bearer token; nil leaves the endpoint
	// public (no JWT step at all).
	Verifier *Verifier
	// Roles the caller must hold at least one of. Non-empty Roles without
	// a Verifier still enforce RBAC, so a misconfigured route fails closed
	// (401 missing_token) instead of open.
	Roles []string
	// Scopes let service callers in: a service identity (Claims.IsService,
	// a client_credentials token) holding at least one of them passes,
	// while people still need one of Roles (and, with Roles empty, are
	// refused: the route is for services only). Empty: no service caller
	// passes a route with Roles, as before.
	Scopes []string
	// Breaker guards a client endpoint calling another service; nil = none.
	Breaker Breaker
}

// Chain returns the middleware composing, outermost first, tracing, logging,
// metrics (skipped when m is nil), JWT (when s.Verifier is set), RBAC (when
// s.Roles is non-empty; RBACOrService when s.Scopes is) and the breaker
// (when s.Breaker is set). Errors are those of the individual middlewares
// and the wrapped endpoint.
func Chain(logger log.Logger, m *Metrics, s Spec) endpoint.Middleware {
	return func(next endpoint.Endpoint) endpoint.Endpoint {
		// Built inside out: the last wrap is the outermost.
		ep := next
		if s.Breaker != nil {
			ep = BreakerMiddleware(s.Breaker)(ep)
		}
		switch {
		case len(s.Scopes) > 0:
			ep = RBACOrService(s.Roles, s.Scopes)(ep)
		case len(s.Roles) > 0:
			ep = RBAC(s.Roles...)(ep)
		}
		if s.Verifier != nil {
			ep = JWT(s.Verifier)(ep)
		}
		if m != nil {
			ep = m.Middleware(s.Name)(ep)
		}
		if s.Breaker != nil {
			ep = ClientLogging(logger, s.Name)(ep)
		} else {
			ep = Logging(logger, s.Name)(ep)
		}
		return Tracing(s.Name)(ep)
	}
}
