package auth

import (
	"context"
	"net/http"
	"strings"

	"github.com/go-kit/kit/endpoint"

	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/httpx/httpclient"
	"github.com/azora-os/azora/shared/page"
)

// ErrAuthUnreachable is what the HTTP client returns when no answer came
// back from auth (connection refused, timeout, cancelled): a server fault,
// so it counts against breakers.
var ErrAuthUnreachable = errs.New(errs.Unavailable, "auth_unreachable", "the auth service cannot be reached")

// maxResponseBytes bounds how much of a success body the client reads.
const maxResponseBytes = 1 << 20

// ClientOption configures NewHTTPClient.
type ClientOption = httpclient.Option

// WithHTTPClient makes the client send its requests with c instead of the
// default: an http.Client with a 10 s timeout that follows no redirects
// (auth's API never redirects, and following one would carry the caller's
// bearer token to wherever it points).
func WithHTTPClient(c *http.Client) ClientOption { return httpclient.WithHTTPClient(c) }

// WithClientMiddleware wraps each client endpoint in mw(name), where name
// is the endpoint's as MakeEndpoints names it ("me", "login" …); typically
// kit.Chain with a kit.Breaker, so calls to auth are traced, logged,
// counted and broken like every other hop.
func WithClientMiddleware(mw func(name string) endpoint.Middleware) ClientOption {
	return httpclient.WithMiddleware(mw)
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
	base, err := httpclient.ParseInstance(instance)
	if err != nil {
		return nil, errs.New(errs.Invalid, "invalid_auth_url", "the auth instance must be an http(s) URL").Wrap(err)
	}
	c := httpclient.New("auth", base, ErrAuthUnreachable, opts...)
	client, at, enc, none := c.Endpoint, c.At, c.EncodeJSON, httpclient.EncodeNothing
	post, get := http.MethodPost, http.MethodGet
	return Endpoints{
		RegisterEndpoint:      client("register", post, at(PathRegister), enc, decodeResponse[userResponse]),
		LoginEndpoint:         client("login", post, at(PathLogin), enc, decodeResponse[loginResponse]),
		LoginMFAEndpoint:      client("login_mfa", post, at(PathLoginMFA), enc, decodeResponse[Tokens]),
		RefreshEndpoint:       client("refresh", post, at(PathRefresh), enc, decodeResponse[Tokens]),
		LogoutEndpoint:        client("logout", post, at(PathLogout), none, httpclient.DecodeNoContent("auth")),
		MeEndpoint:            client("me", get, at(PathMe), none, decodeResponse[userResponse]),
		SetupTOTPEndpoint:     client("mfa_totp_setup", post, at(PathTOTPSetup), none, decodeResponse[TOTPSetup]),
		EnableTOTPEndpoint:    client("mfa_totp_enable", post, at(PathTOTPEnable), enc, decodeResponse[recoveryCodesResponse]),
		DisableTOTPEndpoint:   client("mfa_totp_disable", post, at(PathTOTPDisable), enc, httpclient.DecodeNoContent("auth")),
		PasswordEndpoint:      client("change_password", post, at(PathPassword), enc, httpclient.DecodeNoContent("auth")),
		SessionsEndpoint:      c.CallEndpoint("list_sessions", get, callListSessions, decodeResponse[page.Page[SessionInfo]]),
		RevokeSessionEndpoint: c.CallEndpoint("revoke_session", http.MethodDelete, callRevokeSession, httpclient.DecodeNoContent("auth")),
		RevokeOthersEndpoint:  client("revoke_other_sessions", http.MethodDelete, at(PathSessions), none, httpclient.DecodeNoContent("auth")),
		ListUsersEndpoint:     c.CallEndpoint("list_users", get, callListUsers, decodeResponse[page.Page[User]]),
		SetRolesEndpoint:      c.CallEndpoint("set_roles", http.MethodPut, callSetRoles, decodeResponse[userResponse]),
		JWKSEndpoint:          client("jwks", get, at(PathJWKS), none, decodeResponse[JWKS]),
	}, nil
}

// callListSessions sends the page as the query.
func callListSessions(_ context.Context, request any) (httpclient.Call, error) {
	return httpclient.Call{Path: []string{"auth", "sessions"}, Query: request.(page.Request).Query()}, nil
}

// callRevokeSession puts the session id, escaped, into the path; one that
// could not stay one path segment names no session (unsent).
func callRevokeSession(_ context.Context, request any) (httpclient.Call, error) {
	id := request.(idRequest).ID
	if !pathSegment(id) {
		return httpclient.Call{}, ErrSessionNotFound
	}
	return httpclient.Call{Path: []string{"auth", "sessions", id}}, nil
}

// pathSegment reports whether id stays one path segment on the server (the
// router unescapes and cleans paths).
func pathSegment(id string) bool {
	return id != "" && id != "." && id != ".." && !strings.Contains(id, "/")
}

// callListUsers sends the filter and the page as the query.
func callListUsers(_ context.Context, request any) (httpclient.Call, error) {
	req := request.(listUsersRequest)
	q := req.Page.Query()
	if req.Filter.Email != "" {
		q.Set("email", req.Filter.Email)
	}
	if req.Filter.Role != "" {
		q.Set("role", req.Filter.Role)
	}
	return httpclient.Call{Path: []string{"auth", "users"}, Query: q}, nil
}

// callSetRoles puts the user id, escaped, into the path. An id that could
// not stay one path segment on the server (the router unescapes and
// cleans paths) names no user: ErrUserNotFound, unsent.
func callSetRoles(_ context.Context, request any) (httpclient.Call, error) {
	req := request.(setRolesRequest)
	if !pathSegment(req.UserID) {
		return httpclient.Call{}, ErrUserNotFound
	}
	return httpclient.Call{Path: []string{"auth", "users", req.UserID, "roles"}, Body: req}, nil
}

// decodeResponse reads a T from a success, or auth's problem as an error.
func decodeResponse[T any](ctx context.Context, resp *http.Response) (any, error) {
	return httpclient.DecodeJSON[T]("auth", maxResponseBytes)(ctx, resp)
}
