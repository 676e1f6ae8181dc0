// Package gateway is Azora's public entry point (:4000). It forwards the
// API.md paths unchanged to the instances of auth, education and finance,
// and adds one route of its own, GET /api/v1/me/dashboard.
//
// A request passes, in order: the shared HTTP stack (request id, recovery,
// access log, security headers, 1 MiB body limit), CORS, the route table
// (an unknown path is a 404 here and never reaches a service), the edge JWT
// check for routes that need a user (services verify again), the rate
// limit for the route's class, then the upstream of the route's service: a
// go-kit client endpoint per healthy instance, each behind its own circuit
// breaker, balanced round-robin, retried on another instance only when the
// request may safely be sent twice (see Retryable).
//
// Rate limits are shared by every replica through Redis (GCRA; see
// Limiter). When Redis is unavailable each replica enforces the limits
// alone, so N replicas admit up to N× the limit: availability over
// strictness, and auth's own login limits still apply behind it.
package gateway

import (
	"context"
	"net/http"
	"time"

	"github.com/azora-os/azora/auth"
	"github.com/azora-os/azora/education"
	"github.com/azora-os/azora/finance"
	"github.com/azora-os/azora/shared/page"
)

// The upstream services, as named in routes, metrics and Dashboard.Degraded.
const (
	ServiceAuth      = "auth"
	ServiceEducation = "education"
	ServiceFinance   = "finance"
)

// Access is what a route needs from its caller at the edge.
type Access int

const (
	// Public routes take no token; one sent anyway is not checked here.
	Public Access = iota
	// OptionalUser routes serve anyone, but a token that is sent must
	// verify (a bad one is a 401 here).
	OptionalUser
	// User routes need a verified access token.
	User
)

// RateClass groups routes under one rate limit. Each class has its own
// configured Rate and its own key: the user id on routes with a verified
// caller, else the client IP.
type RateClass string

const (
	// ClassAuth is login, registration, the MFA step, refresh and the
	// password change: the strictest limit, always per client IP.
	ClassAuth RateClass = "auth"
	// ClassAnonymous is every other route called without a verified user,
	// per client IP.
	ClassAnonymous RateClass = "anonymous"
	// ClassUser is every route called by a verified user, per user id.
	ClassUser RateClass = "user"
	// ClassBadToken is no route's class: it counts, per client IP, the
	// bearer tokens the edge refused (forged, expired, revoked). Once an
	// address is over it, its tokens get a 429 before their signature is
	// checked, so a flood of made-up tokens, which no other class limits
	// (they fail before the route's own limit), cannot spend the gateway's
	// CPU on RSA. It also refuses, until the retry time, good tokens sent
	// from that address.
	ClassBadToken RateClass = "bad_token"
)

// Rate is a GCRA limit: Limit requests per Period on average, with bursts
// of up to Burst back to back (redis_rate's convention: Burst = Limit
// unless set).
type Rate struct {
	Limit  int
	Period time.Duration
	Burst  int
}

// Route is one forwarded path of API.md.
type Route struct {
	Method  string
	Path    string // a gorilla/mux template, e.g. "/api/v1/courses/{id}"
	Service string // ServiceAuth, ServiceEducation or ServiceFinance
	Access  Access
	Class   RateClass // ClassAuth, or ClassAnonymous for any other route (ClassUser is chosen per request)
}

// Retryable reports whether r may be sent to a second instance after the
// first failed: idempotent methods (RFC 9110 §9.2.2) and requests carrying
// an Idempotency-Key, which the service itself deduplicates.
func Retryable(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete:
		return true
	}
	return r.Header.Get("Idempotency-Key") != ""
}

// Dashboard is the body of GET /api/v1/me/dashboard. A part whose service
// failed is null and its service is listed in Degraded (never null: [] when
// everything answered).
type Dashboard struct {
	User        *auth.User             `json:"user"`
	Enrollments []education.Enrollment `json:"enrollments"`
	Wallets     []finance.Wallet       `json:"wallets"`
	Degraded    []string               `json:"degraded"`
}

// Service is the gateway's own domain: the dashboard.
type Service interface {
	// Dashboard gathers the caller's user, enrollments (first page) and
	// wallets in parallel. ctx carries the caller's verified claims and
	// bearer token (kit.WithClaims, kit.WithToken), which the sources
	// forward. It fails only when ctx has no claims.
	Dashboard(ctx context.Context) (Dashboard, error)
}

// The ports Dashboard reads through: each is satisfied by a service's
// exported Go HTTP client (auth.NewHTTPClient …) behind a balancer.
type (
	UserSource interface {
		Me(ctx context.Context, userID string) (auth.User, error)
	}
	EnrollmentSource interface {
		Enrollments(ctx context.Context, a education.Actor, p page.Request) (page.Page[education.Enrollment], error)
	}
	WalletSource interface {
		Wallets(ctx context.Context, a finance.Actor, p page.Request) (page.Page[finance.Wallet], error)
	}
)
