package auth

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-kit/kit/endpoint"
	httptransport "github.com/go-kit/kit/transport/http"
	"github.com/go-kit/log"
	"github.com/gorilla/mux"

	"github.com/azora-os/azora/shared/httpx"
	"github.com/azora-os/azora/shared/kit"
	"github.com/azora-os/azora/shared/page"
)

// The paths MakeHTTPHandler serves: API.md's Auth table, and auth's own
// additions (the password change, the user's sessions, the admin's user
// search), which the OpenAPI document describes.
const (
	PathRegister    = "/api/v1/auth/register"
	PathLogin       = "/api/v1/auth/login"
	PathLoginMFA    = "/api/v1/auth/login/mfa"
	PathRefresh     = "/api/v1/auth/token/refresh"
	PathLogout      = "/api/v1/auth/logout"
	PathMe          = "/api/v1/auth/me"
	PathTOTPSetup   = "/api/v1/auth/mfa/totp/setup"
	PathTOTPEnable  = "/api/v1/auth/mfa/totp/enable"
	PathTOTPDisable = "/api/v1/auth/mfa/totp/disable"
	PathPassword    = "/api/v1/auth/password"
	PathSessions    = "/api/v1/auth/sessions"
	PathSession     = "/api/v1/auth/sessions/{id}"
	PathUsers       = "/api/v1/auth/users"
	PathUser        = "/api/v1/auth/users/{id}"
	PathUserRoles   = "/api/v1/auth/users/{id}/roles"
	PathJWKS        = "/.well-known/jwks.json"
	PathDiscovery   = "/.well-known/openid-configuration"
)

// How long clients and HTTP caches may keep the public documents. The
// discovery document changes only with a deployment. The key set changes
// with every rotation, and a cache adds its max-age to how late a verifier
// can learn of a new key, which KeyConfig.PrePublish must cover: the
// default fits the default KeyConfig (1 min − 15 s refresh − 30 s
// verifier refresh interval).
const (
	DefaultJWKSMaxAge = 15 * time.Second
	discoveryMaxAge   = 5 * time.Minute
)

// HTTPOption configures MakeHTTPHandler.
type HTTPOption func(*httpOptions)

type httpOptions struct {
	clientIP   func(*http.Request) string
	proto      func(*http.Request) string
	jwksMaxAge time.Duration
	discovery  *Discovery
}

// WithClientIP makes logins rate-limited under clientIP(r) instead of the
// TCP peer (httpx.RemoteIP): behind the gateway and NGINX, pass
// httpx.TrustedProxies.ClientIP so each client has its own limit.
func WithClientIP(clientIP func(*http.Request) string) HTTPOption {
	return func(o *httpOptions) { o.clientIP = clientIP }
}

// WithJWKSMaxAge sets the max-age of the JWKS (default DefaultJWKSMaxAge);
// keep it within PrePublish − Refresh − kit.DefaultMinRefreshInterval of
// the KeyConfig in use. Zero or less makes the key set uncacheable.
func WithJWKSMaxAge(d time.Duration) HTTPOption {
	return func(o *httpOptions) { o.jwksMaxAge = d }
}

// MakeHTTPHandler registers the Auth routes (all but OAuth's) on
// r, serving e. issuer is the tokens' iss, an absolute URL; the discovery
// document publishes it and the JWKS URL under it. Every route copies the
// bearer token into the context for the JWT step, decodes bodies strictly
// (httpx.DecodeJSON: unknown fields, wrong types and bad JSON are 400s, a
// wrong Content-Type 415) and answers errors as RFC 9457 problems
// (httpx.ServerOptions). A body is decoded before the token is checked, so
// a malformed request is a 400 even without a token.
//
// The JWKS and discovery documents are public and cacheable: their
// encoders set Cache-Control after httpx.SecurityHeaders (outside, in
// httpx.Stack) has set no-store, so the route's value wins. Their errors
// keep no-store.
func MakeHTTPHandler(e Endpoints, r *mux.Router, logger log.Logger, issuer string, opts ...HTTPOption) {
	o := newHTTPOptions(opts)
	handle := apiRoutes(r, logger)
	ok, created := httpx.EncodeJSON(http.StatusOK), httpx.EncodeJSON(http.StatusCreated)

	handle(http.MethodPost, PathRegister, e.RegisterEndpoint, decodeBody[RegisterRequest], created)
	handle(http.MethodPost, PathLogin, e.LoginEndpoint, decodeFromClient(o.clientIP, func(r *LoginRequest, ip string) { r.ClientIP = ip }), ok)
	handle(http.MethodPost, PathLoginMFA, e.LoginMFAEndpoint, decodeBody[loginMFARequest], ok)
	handle(http.MethodPost, PathRefresh, e.RefreshEndpoint, decodeBody[refreshRequest], ok)
	handle(http.MethodPost, PathLogout, e.LogoutEndpoint, decodeEmpty, ok)
	handle(http.MethodGet, PathMe, e.MeEndpoint, decodeEmpty, ok)
	handle(http.MethodPost, PathTOTPSetup, e.SetupTOTPEndpoint, decodeEmpty, ok)
	handle(http.MethodPost, PathTOTPEnable, e.EnableTOTPEndpoint, decodeBody[codeRequest], ok)
	handle(http.MethodPost, PathTOTPDisable, e.DisableTOTPEndpoint, decodeBody[codeRequest], ok)
	handle(http.MethodPost, PathPassword, e.PasswordEndpoint, decodeFromClient(o.clientIP, func(r *ChangePasswordRequest, ip string) { r.ClientIP = ip }), ok)
	handle(http.MethodGet, PathSessions, e.SessionsEndpoint, decodePage, ok)
	handle(http.MethodDelete, PathSession, e.RevokeSessionEndpoint, decodeID, ok)
	handle(http.MethodDelete, PathSessions, e.RevokeOthersEndpoint, decodeEmpty, ok)
	handle(http.MethodGet, PathUsers, e.ListUsersEndpoint, decodeListUsers, ok)
	handle(http.MethodGet, PathUser, e.GetUserEndpoint, decodeID, ok)
	handle(http.MethodPut, PathUserRoles, e.SetRolesEndpoint, decodeSetRoles, ok)
	handle(http.MethodGet, PathJWKS, e.JWKSEndpoint, decodeEmpty, encodePublic(o.jwksMaxAge))

	doc, encodeDoc := NewDiscovery(issuer), encodePublic(discoveryMaxAge)
	if o.discovery != nil {
		doc = *o.discovery
	}
	r.Path(PathDiscovery).Methods(http.MethodGet).HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_ = encodeDoc(req.Context(), w, doc)
	})
}

// routeFunc registers an endpoint for method and path.
type routeFunc func(method, path string, ep endpoint.Endpoint, dec httptransport.DecodeRequestFunc, enc httptransport.EncodeResponseFunc)

// apiRoutes registers the routes that answer like the rest of the API on
// r: the bearer token copied into the context for the JWT step, errors as
// RFC 9457 problems (httpx.ServerOptions).
func apiRoutes(r *mux.Router, logger log.Logger) routeFunc {
	opts := append(httpx.ServerOptions(logger), httptransport.ServerBefore(kit.HTTPToContext()))
	// Path before Methods: gorilla/mux v1.8.1 clears a recorded method
	// mismatch when a later route's first matcher succeeds, so with
	// Methods first a GET on a POST-only path became a 404, not a 405.
	return func(method, path string, ep endpoint.Endpoint, dec httptransport.DecodeRequestFunc, enc httptransport.EncodeResponseFunc) {
		r.Path(path).Methods(method).Handler(httptransport.NewServer(ep, dec, enc, opts...))
	}
}

// WithProto tells the OAuth page whether the client reached it over HTTPS
// (its cookie is then Secure): behind the gateway and NGINX, pass
// httpx.TrustedProxies.Proto. The default asks the connection itself.
func WithProto(proto func(*http.Request) string) HTTPOption {
	return func(o *httpOptions) { o.proto = proto }
}

// WithDiscovery serves doc as the discovery document instead of
// NewDiscovery's: the binary passes NewDiscovery(issuer).WithOAuth(…) once
// the OAuth routes are mounted.
func WithDiscovery(doc Discovery) HTTPOption {
	return func(o *httpOptions) { o.discovery = &doc }
}

func newHTTPOptions(opts []HTTPOption) httpOptions {
	o := httpOptions{clientIP: httpx.RemoteIP, proto: connProto, jwksMaxAge: DefaultJWKSMaxAge}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// connProto is "https" when the connection itself is TLS.
func connProto(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

// decodeBody strictly decodes the JSON body into a T.
func decodeBody[T any](_ context.Context, r *http.Request) (any, error) {
	var req T
	if err := httpx.DecodeJSON(r, &req); err != nil {
		return nil, err
	}
	return req, nil
}

// decodeFromClient strictly decodes a T and stamps it with the client's
// address (stamp sets it), which no body may set: the field has no JSON
// name, so sending it is an unknown field. Logins and password changes
// are limited per client by it.
func decodeFromClient[T any](clientIP func(*http.Request) string, stamp func(*T, string)) httptransport.DecodeRequestFunc {
	return func(_ context.Context, r *http.Request) (any, error) {
		var req T
		if err := httpx.DecodeJSON(r, &req); err != nil {
			return nil, err
		}
		stamp(&req, clientIP(r))
		return req, nil
	}
}

// decodeEmpty accepts no body, or a JSON object without fields: routes
// without input still refuse fields they do not know, like every other.
func decodeEmpty(_ context.Context, r *http.Request) (any, error) {
	if r.ContentLength == 0 {
		return emptyRequest{}, nil
	}
	var req emptyRequest
	if err := httpx.DecodeJSON(r, &req); err != nil {
		return nil, err
	}
	return req, nil
}

// decodeListUsers reads ?email=, ?role=, ?limit= and ?cursor=.
func decodeListUsers(_ context.Context, r *http.Request) (any, error) {
	q := r.URL.Query()
	p, err := page.FromQuery(q)
	if err != nil {
		return nil, err
	}
	return listUsersRequest{Filter: UserFilter{Email: q.Get("email"), Role: q.Get("role")}, Page: p}, nil
}

// decodeID takes the id of a user, a session or a client from the path;
// GET and DELETE bodies mean nothing and are not read.
func decodeID(_ context.Context, r *http.Request) (any, error) {
	return idRequest{ID: mux.Vars(r)["id"]}, nil
}

// decodeSetRoles takes the user id from the path, never from the body.
func decodeSetRoles(_ context.Context, r *http.Request) (any, error) {
	var req setRolesRequest
	if err := httpx.DecodeJSON(r, &req); err != nil {
		return nil, err
	}
	req.UserID = mux.Vars(r)["id"]
	return req, nil
}

// encodePublic writes a public document as JSON that may be cached for
// maxAge (whole seconds). Set, not Add: httpx.SecurityHeaders already put
// no-store there, and a maxAge under a second leaves it.
func encodePublic(maxAge time.Duration) httptransport.EncodeResponseFunc {
	secs := int64(maxAge / time.Second)
	return func(_ context.Context, w http.ResponseWriter, response any) error {
		if secs > 0 {
			w.Header().Set("Cache-Control", "public, max-age="+strconv.FormatInt(secs, 10))
		}
		return httpx.WriteJSON(w, http.StatusOK, response)
	}
}

// Discovery is the OpenID Provider metadata (OpenID Connect Discovery 1.0,
// section 3) served at /.well-known/openid-configuration. It lists only
// what this service serves; the OAuth endpoints join it with the OAuth
// routes.
type Discovery struct {
	Issuer                           string   `json:"issuer"`
	JWKSURI                          string   `json:"jwks_uri"`
	ResponseTypesSupported           []string `json:"response_types_supported"`
	SubjectTypesSupported            []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported []string `json:"id_token_signing_alg_values_supported"`
	ClaimsSupported                  []string `json:"claims_supported"`
	// The OAuth endpoints' metadata (RFC 8414), set by WithOAuth.
	AuthorizationEndpoint                      string   `json:"authorization_endpoint,omitempty"`
	TokenEndpoint                              string   `json:"token_endpoint,omitempty"`
	UserInfoEndpoint                           string   `json:"userinfo_endpoint,omitempty"`
	IntrospectionEndpoint                      string   `json:"introspection_endpoint,omitempty"`
	RevocationEndpoint                         string   `json:"revocation_endpoint,omitempty"`
	ScopesSupported                            []string `json:"scopes_supported,omitempty"`
	ResponseModesSupported                     []string `json:"response_modes_supported,omitempty"`
	GrantTypesSupported                        []string `json:"grant_types_supported,omitempty"`
	CodeChallengeMethodsSupported              []string `json:"code_challenge_methods_supported,omitempty"`
	TokenEndpointAuthMethodsSupported          []string `json:"token_endpoint_auth_methods_supported,omitempty"`
	IntrospectionEndpointAuthMethodsSupported  []string `json:"introspection_endpoint_auth_methods_supported,omitempty"`
	RevocationEndpointAuthMethodsSupported     []string `json:"revocation_endpoint_auth_methods_supported,omitempty"`
	AuthorizationResponseIssParameterSupported bool     `json:"authorization_response_iss_parameter_supported,omitempty"`
}

// NewDiscovery returns the discovery document of issuer: its JWKS URL,
// RS256 signing, public subject identifiers, the authorization code
// response type (the only one Azora's OAuth server will offer) and the
// claims API.md gives access tokens.
func NewDiscovery(issuer string) Discovery {
	return Discovery{
		Issuer:                           issuer,
		JWKSURI:                          strings.TrimSuffix(issuer, "/") + PathJWKS,
		ResponseTypesSupported:           []string{"code"},
		SubjectTypesSupported:            []string{"public"},
		IDTokenSigningAlgValuesSupported: []string{"RS256"},
		ClaimsSupported:                  []string{"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "sid", "roles", "amr"},
	}
}
