package gateway

import (
	"context"
	"io"
	"net/http"
	"time"

	"github.com/go-kit/kit/endpoint"
	"github.com/go-kit/kit/sd"
	"github.com/go-kit/kit/sd/lb"
	"github.com/go-kit/log"

	"github.com/azora-os/azora/auth"
	"github.com/azora-os/azora/education"
	"github.com/azora-os/azora/finance"
	"github.com/azora-os/azora/shared/kit"
	"github.com/azora-os/azora/shared/page"
)

// SourceConfig is what the dashboard's sources share: how they reach an
// instance and how they survive a failing one.
type SourceConfig struct {
	Logger  log.Logger
	Metrics *kit.Metrics      // nil: no metrics
	Breaker kit.BreakerConfig // per instance and method
	// Attempts bounds the instances one read tries (default 2); Timeout
	// bounds them all together (default DefaultDashboardTimeout).
	Attempts int
	Timeout  time.Duration
	// HTTPClient sends the calls (default: the services' own clients'
	// default, a 10 s timeout and no redirects).
	HTTPClient *http.Client
}

// NewUserSource returns a UserSource calling auth's typed Go client on the
// healthy instances ins publishes, round-robin, with a breaker per instance.
func NewUserSource(ins sd.Instancer, cfg SourceConfig) UserSource {
	return userSource{balance(ins, ServiceAuth, cfg, func(instance string, mw func(string) endpoint.Middleware) (endpoint.Endpoint, error) {
		c, err := auth.NewHTTPClient(instance, auth.WithClientMiddleware(mw), auth.WithHTTPClient(cfg.httpClient()))
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context, req any) (any, error) { return c.Me(ctx, req.(string)) }, nil
	})}
}

// NewEnrollmentSource is NewUserSource for education's enrollments.
func NewEnrollmentSource(ins sd.Instancer, cfg SourceConfig) EnrollmentSource {
	return enrollmentSource{balance(ins, ServiceEducation, cfg, func(instance string, mw func(string) endpoint.Middleware) (endpoint.Endpoint, error) {
		c, err := education.NewHTTPClient(instance, education.WithClientMiddleware(mw), education.WithHTTPClient(cfg.httpClient()))
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context, req any) (any, error) {
			r := req.(enrollmentsRequest)
			return c.Enrollments(ctx, r.actor, r.page)
		}, nil
	})}
}

// NewWalletSource is NewUserSource for finance's wallets.
func NewWalletSource(ins sd.Instancer, cfg SourceConfig) WalletSource {
	return walletSource{balance(ins, ServiceFinance, cfg, func(instance string, mw func(string) endpoint.Middleware) (endpoint.Endpoint, error) {
		c, err := finance.NewHTTPClient(instance, finance.WithClientMiddleware(mw), finance.WithHTTPClient(cfg.httpClient()))
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context, req any) (any, error) {
			r := req.(walletsRequest)
			return c.Wallets(ctx, r.actor, r.page)
		}, nil
	})}
}

type (
	userSource         struct{ ep endpoint.Endpoint }
	enrollmentSource   struct{ ep endpoint.Endpoint }
	walletSource       struct{ ep endpoint.Endpoint }
	enrollmentsRequest struct {
		actor education.Actor
		page  page.Request
	}
	walletsRequest struct {
		actor finance.Actor
		page  page.Request
	}
)

func (s userSource) Me(ctx context.Context, userID string) (auth.User, error) {
	return call[auth.User](ctx, s.ep, userID)
}

func (s enrollmentSource) Enrollments(ctx context.Context, a education.Actor, p page.Request) (page.Page[education.Enrollment], error) {
	return call[page.Page[education.Enrollment]](ctx, s.ep, enrollmentsRequest{a, p})
}

func (s walletSource) Wallets(ctx context.Context, a finance.Actor, p page.Request) (page.Page[finance.Wallet], error) {
	return call[page.Page[finance.Wallet]](ctx, s.ep, walletsRequest{a, p})
}

// call runs ep and asserts its response type.
func call[T any](ctx context.Context, ep endpoint.Endpoint, req any) (T, error) {
	resp, err := ep(ctx, req)
	if err != nil {
		var zero T
		return zero, err
	}
	return resp.(T), nil
}

// balance returns one endpoint over the instances ins publishes: newEndpoint
// builds an instance's endpoint from its typed client, every client
// endpoint wrapped in the shared chain with the instance's own breaker
// (named "dashboard:<service>@<instance>/<endpoint>"); calls go round-robin and
// a failed read is tried once more on the next instance. Reads only: every
// source method is a GET.
func balance(ins sd.Instancer, service string, cfg SourceConfig, newEndpoint func(instance string, mw func(string) endpoint.Middleware) (endpoint.Endpoint, error)) endpoint.Endpoint {
	logger := cfg.Logger
	if logger == nil {
		logger = log.NewNopLogger()
	}
	factory := func(instance string) (endpoint.Endpoint, io.Closer, error) {
		mw := func(name string) endpoint.Middleware {
			b := kit.NewBreaker("dashboard:"+service+"@"+instance+"/"+name, cfg.Breaker)
			return kit.Chain(logger, cfg.Metrics, kit.Spec{Name: service + "." + name, Breaker: b})
		}
		ep, err := newEndpoint(instance, mw)
		return ep, nil, err
	}
	attempts := cfg.Attempts
	if attempts <= 0 {
		attempts = 2
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultDashboardTimeout
	}
	endpointer := sd.NewEndpointer(ins, factory, log.With(logger, "component", "dashboard", "service", service))
	return lb.Retry(attempts, timeout, lb.NewRoundRobin(endpointer))
}

func (c SourceConfig) httpClient() *http.Client {
	if c.HTTPClient != nil {
		return c.HTTPClient
	}
	return &http.Client{
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
