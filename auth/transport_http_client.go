package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-kit/kit/endpoint"
	httptransport "github.com/go-kit/kit/transport/http"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"

	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/httpx"
	"github.com/azora-os/azora/shared/kit"
	"github.com/azora-os/azora/shared/logging"
)

// ErrAuthUnreachable is what the HTTP client returns when no answer came
// back from auth (connection refused, timeout, cancelled): a server fault,
// so it counts against breakers.
var ErrAuthUnreachable = errs.New(errs.Unavailable, "auth_unreachable", "the auth service cannot be reached")

// defaultClientTimeout bounds a call when the caller gives no http.Client:
// http.DefaultClient would wait forever on a hung auth instance.
const defaultClientTimeout = 10 * time.Second

// maxResponseBytes bounds how much of a success body the client reads.
const maxResponseBytes = 1 << 20

// ClientOption configures NewHTTPClient.
type ClientOption func(*clientOptions)

type clientOptions struct {
	http       *http.Client
	middleware func(name string) endpoint.Middleware
}

// WithHTTPClient makes the client send its requests with c instead of the
// default: an http.Client with a 10 s timeout that follows no redirects
// (auth's API never redirects, and following one would carry the caller's
// bearer token to wherever it points).
func WithHTTPClient(c *http.Client) ClientOption {
	return func(o *clientOptions) { o.http = c }
}

// WithClientMiddleware wraps each client endpoint in mw(name), where name
// is the endpoint's as MakeEndpoints names it ("me", "login" …); typically
// kit.Chain with a kit.Breaker, so calls to auth are traced, logged,
// counted and broken like every other hop.
func WithClientMiddleware(mw func(name string) endpoint.Middleware) ClientOption {
	return func(o *clientOptions) { o.middleware = mw }
}

// NewHTTPClient returns a Service that calls the auth instance at instance
// ("http://auth:4001", or "host:port" for plain http) over HTTP. It sends
// the bearer token of the call's ctx (kit.WithToken, which kit.HTTPToContext
// sets on the way in) and its request id, so user methods act for that
// token's user and session. Errors come back as *errs.Error with auth's
// kind and code (a 429 keeps its Retry-After); ErrAuthUnreachable when no
// answer came. NewHTTPClient returns an invalid_auth_url error when
// instance is not an http(s) URL.
func NewHTTPClient(instance string, opts ...ClientOption) (Service, error) {
	if !strings.Contains(instance, "://") {
		instance = "http://" + instance
	}
	base, err := url.Parse(instance)
	if err != nil || base.Host == "" || (base.Scheme != "http" && base.Scheme != "https") {
		return nil, errs.New(errs.Invalid, "invalid_auth_url", "the auth instance must be an http(s) URL").Wrap(err)
	}
	o := clientOptions{http: &http.Client{
		Timeout:       defaultClientTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
	for _, opt := range opts {
		opt(&o)
	}
	client := func(name, method string, u *url.URL, enc httptransport.EncodeRequestFunc, dec httptransport.DecodeResponseFunc) endpoint.Endpoint {
		ep := httptransport.NewClient(method, u, enc, dec,
			httptransport.SetClient(o.http), httptransport.ClientBefore(forwardContext)).Endpoint()
		ep = classifyUnreachable(ep)
		if o.middleware != nil {
			ep = o.middleware(name)(ep)
		}
		return ep
	}
	at := func(path string) *url.URL { return base.JoinPath(path) }
	post, get := http.MethodPost, http.MethodGet
	return Endpoints{
		RegisterEndpoint:    client("register", post, at(PathRegister), encodeJSONRequest, decodeResponse[userResponse]),
		LoginEndpoint:       client("login", post, at(PathLogin), encodeJSONRequest, decodeResponse[loginResponse]),
		LoginMFAEndpoint:    client("login_mfa", post, at(PathLoginMFA), encodeJSONRequest, decodeResponse[Tokens]),
		RefreshEndpoint:     client("refresh", post, at(PathRefresh), encodeJSONRequest, decodeResponse[Tokens]),
		LogoutEndpoint:      client("logout", post, at(PathLogout), encodeNoBody, decodeNoContent),
		MeEndpoint:          client("me", get, at(PathMe), encodeNoBody, decodeResponse[userResponse]),
		SetupTOTPEndpoint:   client("mfa_totp_setup", post, at(PathTOTPSetup), encodeNoBody, decodeResponse[TOTPSetup]),
		EnableTOTPEndpoint:  client("mfa_totp_enable", post, at(PathTOTPEnable), encodeJSONRequest, decodeResponse[recoveryCodesResponse]),
		DisableTOTPEndpoint: client("mfa_totp_disable", post, at(PathTOTPDisable), encodeJSONRequest, decodeNoContent),
		SetRolesEndpoint:    client("set_roles", http.MethodPut, base, encodeSetRoles(base), decodeResponse[userResponse]),
		JWKSEndpoint:        client("jwks", get, at(PathJWKS), encodeNoBody, decodeResponse[JWKS]),
	}, nil
}

// forwardContext passes the caller's bearer token, request id and trace
// context on to auth.
func forwardContext(ctx context.Context, r *http.Request) context.Context {
	if t := kit.TokenFrom(ctx); t != "" {
		r.Header.Set("Authorization", "Bearer "+t)
	}
	if id := logging.RequestID(ctx); id != "" {
		r.Header.Set("X-Request-ID", id)
	}
	otel.GetTextMapPropagator().Inject(ctx, propagation.HeaderCarrier(r.Header))
	return ctx
}

// classifyUnreachable turns transport failures, which carry no *errs.Error,
// into ErrAuthUnreachable; auth's own answers pass unchanged.
func classifyUnreachable(next endpoint.Endpoint) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		response, err := next(ctx, request)
		var e *errs.Error
		if err != nil && !errors.As(err, &e) {
			return nil, ErrAuthUnreachable.Wrap(err)
		}
		return response, err
	}
}

// encodeJSONRequest sends request as a JSON body of known length.
func encodeJSONRequest(_ context.Context, r *http.Request, request any) error {
	body, err := json.Marshal(request)
	if err != nil {
		return errs.Internalf(err, "auth client: marshal %T", request)
	}
	r.Header.Set("Content-Type", "application/json")
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	r.ContentLength = int64(len(body))
	return nil
}

func encodeNoBody(context.Context, *http.Request, any) error { return nil }

// encodeSetRoles puts the user id, escaped, into the path under base. An
// id that could not stay one path segment on the server (the router
// unescapes and cleans paths) names no user: ErrUserNotFound, unsent.
func encodeSetRoles(base *url.URL) httptransport.EncodeRequestFunc {
	return func(ctx context.Context, r *http.Request, request any) error {
		req := request.(setRolesRequest)
		if req.UserID == "" || req.UserID == "." || req.UserID == ".." || strings.Contains(req.UserID, "/") {
			return ErrUserNotFound
		}
		u := *base
		prefix, rawPrefix := strings.TrimSuffix(base.Path, "/"), strings.TrimSuffix(base.EscapedPath(), "/")
		u.Path = prefix + "/api/v1/auth/users/" + req.UserID + "/roles"
		u.RawPath = rawPrefix + "/api/v1/auth/users/" + url.PathEscape(req.UserID) + "/roles"
		r.URL = &u
		return encodeJSONRequest(ctx, r, req)
	}
}

// answered returns auth's problem as an error, and an internal error for
// any other answer that is not a success (an unfollowed redirect).
func answered(resp *http.Response) error {
	if err := httpx.ErrorFromResponse(resp); err != nil {
		return err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return errs.Internalf(fmt.Errorf("status %d", resp.StatusCode), "auth client: %s %s", resp.Request.Method, resp.Request.URL.Redacted())
	}
	return nil
}

// decodeResponse reads a T from a success, or auth's problem as an error.
func decodeResponse[T any](_ context.Context, resp *http.Response) (any, error) {
	if err := answered(resp); err != nil {
		return nil, err
	}
	var v T
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxResponseBytes)).Decode(&v); err != nil {
		return nil, errs.Internalf(err, "auth client: decode %T", v)
	}
	return v, nil
}

func decodeNoContent(_ context.Context, resp *http.Response) (any, error) {
	if err := answered(resp); err != nil {
		return nil, err
	}
	return noContent{}, nil
}
