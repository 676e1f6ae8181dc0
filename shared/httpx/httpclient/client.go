// Package httpclient is the machinery every service's Go HTTP client
// shares: parsing the instance URL, a safe default http.Client, the
// client options, forwarding the caller's token, request id and trace
// context, telling "no answer" apart from the service's own errors, and
// the request and response codecs. A service's client keeps only its
// per-endpoint requests and response types.
package httpclient

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
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"

	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/kit"
	"github.com/azora-os/azora/shared/logging"
)

// DefaultTimeout bounds a call when the caller gives no http.Client:
// http.DefaultClient would wait forever on a hung instance.
const DefaultTimeout = 10 * time.Second

// Option configures a Client.
type Option func(*options)

type options struct {
	http       *http.Client
	middleware func(name string) endpoint.Middleware
}

// WithHTTPClient makes the client send its requests with c instead of the
// default: an http.Client with a DefaultTimeout timeout that follows no
// redirects (no Azora API redirects, and following one would carry the
// caller's bearer token to wherever it points).
func WithHTTPClient(c *http.Client) Option {
	return func(o *options) { o.http = c }
}

// WithMiddleware wraps each client endpoint in mw(name), name being the
// one given to Client.Endpoint; typically kit.Chain with a kit.Breaker, so
// calls are traced, logged, counted and broken like every other hop.
func WithMiddleware(mw func(name string) endpoint.Middleware) Option {
	return func(o *options) { o.middleware = mw }
}

// ParseInstance returns the base URL of the instance at instance
// ("http://auth:4001", or "host:port" for plain http). It returns an error
// saying what is wrong when instance is not an http(s) URL with a host;
// callers wrap it in their own invalid_<service>_url error.
func ParseInstance(instance string) (*url.URL, error) {
	if !strings.Contains(instance, "://") {
		instance = "http://" + instance
	}
	base, err := url.Parse(instance)
	switch {
	case err != nil:
		return nil, err
	case base.Scheme != "http" && base.Scheme != "https":
		return nil, fmt.Errorf("scheme %q is not http(s)", base.Scheme)
	case base.Host == "":
		return nil, errors.New("no host")
	}
	return base, nil
}

// defaultHTTPClient is the http.Client used without WithHTTPClient.
func defaultHTTPClient() *http.Client {
	return &http.Client{
		Timeout:       DefaultTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Client builds the go-kit client endpoints of one service's instance.
type Client struct {
	service     string
	base        *url.URL
	unreachable *errs.Error
	opts        options
}

// New returns a Client for the service named service (used in internal
// error messages, "auth client: …") at base (see ParseInstance). Its
// endpoints return unreachable, wrapping the cause, when no answer came
// back (connection refused, timeout, cancelled).
func New(service string, base *url.URL, unreachable *errs.Error, opts ...Option) *Client {
	c := &Client{service: service, base: base, unreachable: unreachable, opts: options{http: defaultHTTPClient()}}
	for _, opt := range opts {
		opt(&c.opts)
	}
	return c
}

// At returns the URL of path under the instance's base URL.
func (c *Client) At(path string) *url.URL { return c.base.JoinPath(path) }

// Endpoint returns the endpoint named name that sends method to u,
// encoding with enc and decoding with dec. It forwards the call's bearer
// token (kit.TokenFrom), request id (logging.RequestID) and trace context,
// turns any error that is not an *errs.Error into the Client's unreachable
// error, and is wrapped in the WithMiddleware middleware when one is set.
func (c *Client) Endpoint(name, method string, u *url.URL, enc httptransport.EncodeRequestFunc, dec httptransport.DecodeResponseFunc) endpoint.Endpoint {
	ep := httptransport.NewClient(method, u, enc, dec,
		httptransport.SetClient(c.opts.http), httptransport.ClientBefore(forward)).Endpoint()
	ep = classify(c.unreachable)(ep)
	if c.opts.middleware != nil {
		ep = c.opts.middleware(name)(ep)
	}
	return ep
}

// CallEndpoint is Endpoint for a request that to describes as a Call
// against the base URL (see EncodeCall). An error from to is returned
// unsent.
func (c *Client) CallEndpoint(name, method string, to func(context.Context, any) (Call, error), dec httptransport.DecodeResponseFunc) endpoint.Endpoint {
	return c.Endpoint(name, method, c.base, c.EncodeCall(to), dec)
}

// forward passes the caller's bearer token, request id and trace context
// on to the called service.
func forward(ctx context.Context, r *http.Request) context.Context {
	if t := kit.TokenFrom(ctx); t != "" {
		r.Header.Set("Authorization", "Bearer "+t)
	}
	if id := logging.RequestID(ctx); id != "" {
		r.Header.Set("X-Request-ID", id)
	}
	otel.GetTextMapPropagator().Inject(ctx, propagation.HeaderCarrier(r.Header))
	return ctx
}

// classify turns transport failures, which carry no *errs.Error, into
// unreachable (a server fault, so it counts against breakers); the
// service's own answers pass unchanged.
func classify(unreachable *errs.Error) endpoint.Middleware {
	return func(next endpoint.Endpoint) endpoint.Endpoint {
		return func(ctx context.Context, request any) (any, error) {
			response, err := next(ctx, request)
			var e *errs.Error
			if err != nil && !errors.As(err, &e) {
				return nil, unreachable.Wrap(err)
			}
			return response, err
		}
	}
}
