package auth

import (
	"context"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	httptransport "github.com/go-kit/kit/transport/http"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/gorilla/mux"

	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/httpx"
	"github.com/azora-os/azora/shared/logging"
	"github.com/azora-os/azora/shared/page"
)

// The OAuth paths of API.md's Auth table, plus OIDC's UserInfo.
const (
	PathClients      = "/api/v1/auth/clients"
	PathClient       = "/api/v1/auth/clients/{id}"
	PathClientSecret = "/api/v1/auth/clients/{id}/secret"
	PathAuthorize    = "/oauth2/authorize"
	PathToken        = "/oauth2/token"
	PathIntrospect   = "/oauth2/introspect"
	PathRevoke       = "/oauth2/revoke"
	PathUserInfo     = "/oauth2/userinfo"
)

// MakeOAuthHTTPHandler registers the OAuth routes on r, serving e. issuer
// is the iss of tokens, sent back with every authorization response
// (RFC 9207). sealer signs the sign-in page's CSRF tokens (it is the one
// that seals signing keys, shared by every instance, so any instance
// accepts a form another served). WithClientIP and WithProto apply.
//
// The client registration and UserInfo answer RFC 9457 problems like the
// rest of the API; the token, introspection and revocation endpoints
// answer RFC 6749 §5.2 errors ({error, error_description}); the
// authorization endpoint answers HTML, or redirects to the client.
func MakeOAuthHTTPHandler(e OAuthEndpoints, r *mux.Router, logger log.Logger, issuer string, sealer Sealer, opts ...HTTPOption) {
	o := newHTTPOptions(opts)
	handle := apiRoutes(r, logger)
	ok := httpx.EncodeJSON(http.StatusOK)
	handle(http.MethodPost, PathClients, e.RegisterClientEndpoint, decodeBody[ClientRequest], httpx.EncodeJSON(http.StatusCreated))
	handle(http.MethodGet, PathClients, e.ListClientsEndpoint, decodePage, ok)
	handle(http.MethodGet, PathClient, e.GetClientEndpoint, decodeID, ok)
	handle(http.MethodPatch, PathClient, e.UpdateClientEndpoint, decodeUpdateClient, ok)
	handle(http.MethodDelete, PathClient, e.DeleteClientEndpoint, decodeID, ok)
	handle(http.MethodPost, PathClientSecret, e.RotateClientSecretEndpoint, decodeIDEmpty, ok)
	// OIDC Core §5.3: UserInfo answers GET and POST alike (the token in
	// the Authorization header).
	handle(http.MethodGet, PathUserInfo, e.UserInfoEndpoint, decodeEmpty, ok)
	handle(http.MethodPost, PathUserInfo, e.UserInfoEndpoint, decodeEmpty, ok)

	oauth := []httptransport.ServerOption{
		httptransport.ServerErrorEncoder(encodeOAuthError(logger)),
		httptransport.ServerBefore(noteBasicAuth),
	}
	r.Path(PathToken).Methods(http.MethodPost).Handler(httptransport.NewServer(
		e.TokenEndpoint, decodeTokenRequest, encodeOAuthJSON, oauth...))
	r.Path(PathIntrospect).Methods(http.MethodPost).Handler(httptransport.NewServer(
		e.IntrospectEndpoint, decodeClientTokenRequest, encodeOAuthJSON, oauth...))
	r.Path(PathRevoke).Methods(http.MethodPost).Handler(httptransport.NewServer(
		e.RevokeEndpoint, decodeClientTokenRequest, encodeOAuthJSON, oauth...))

	p := &pages{csrf: csrfGuard{sealer: sealer}, issuer: issuer, logger: logger, clientIP: o.clientIP, proto: o.proto}
	pageOpts := []httptransport.ServerOption{
		httptransport.ServerErrorEncoder(p.encodeError),
		httptransport.ServerBefore(p.before),
	}
	r.Path(PathAuthorize).Methods(http.MethodGet).Handler(httptransport.NewServer(
		e.AuthorizeEndpoint, decodeAuthorize, p.encode, pageOpts...))
	r.Path(PathAuthorize).Methods(http.MethodPost).Handler(httptransport.NewServer(
		e.AuthorizeSubmitEndpoint, p.decodeSubmit, p.encode, pageOpts...))
}

// decodePage reads ?limit= and ?cursor=.
func decodePage(_ context.Context, r *http.Request) (any, error) {
	return page.FromQuery(r.URL.Query())
}

// decodeUpdateClient strictly decodes the body's update of the path's
// client.
func decodeUpdateClient(_ context.Context, r *http.Request) (any, error) {
	var u ClientUpdate
	if err := httpx.DecodeJSON(r, &u); err != nil {
		return nil, err
	}
	return updateClientRequest{ID: mux.Vars(r)["id"], Update: u}, nil
}

// decodeIDEmpty is decodeID for a POST without input, which
// refuses a body with fields like every other route.
func decodeIDEmpty(ctx context.Context, r *http.Request) (any, error) {
	if _, err := decodeEmpty(ctx, r); err != nil {
		return nil, err
	}
	return decodeID(ctx, r)
}

// WithOAuth returns d listing the OAuth endpoints under its issuer and
// what they support; scopes are those clients may ask for.
func (d Discovery) WithOAuth(scopes []string) Discovery {
	base := strings.TrimSuffix(d.Issuer, "/")
	clientAuth := []string{"client_secret_basic", "client_secret_post"}
	d.AuthorizationEndpoint = base + PathAuthorize
	d.TokenEndpoint = base + PathToken
	d.UserInfoEndpoint = base + PathUserInfo
	d.IntrospectionEndpoint = base + PathIntrospect
	d.RevocationEndpoint = base + PathRevoke
	d.ScopesSupported = scopes
	d.ResponseModesSupported = []string{"query"}
	d.GrantTypesSupported = []string{GrantAuthorizationCode, GrantClientCredentials, GrantRefreshToken}
	d.CodeChallengeMethodsSupported = []string{PKCEMethodS256}
	d.TokenEndpointAuthMethodsSupported = slices.Concat(clientAuth, []string{"none"})
	d.IntrospectionEndpointAuthMethodsSupported = clientAuth
	d.RevocationEndpointAuthMethodsSupported = slices.Concat(clientAuth, []string{"none"})
	d.AuthorizationResponseIssParameterSupported = true
	d.ClaimsSupported = slices.Concat(d.ClaimsSupported, []string{"client_id", "scope", "azp", "nonce", "auth_time", "at_hash", "name", "email"})
	return d
}

// decodeAuthorize reads an authorization request from the query. A
// repeated parameter is refused (RFC 6749 §3.1) by the service, which
// sees it as a bad value: here it becomes "".
func decodeAuthorize(_ context.Context, r *http.Request) (any, error) {
	return authorizationRequest(r.URL.Query()), nil
}

// authorizationRequest reads the request's parameters from v; a repeated
// one reads as "" (and so is refused as missing or wrong).
func authorizationRequest(v url.Values) AuthorizationRequest {
	get := func(k string) string {
		if len(v[k]) != 1 {
			return ""
		}
		return v[k][0]
	}
	return AuthorizationRequest{
		ResponseType: get("response_type"), ClientID: get("client_id"), RedirectURI: get("redirect_uri"),
		Scope: get("scope"), State: get("state"), Nonce: get("nonce"),
		CodeChallenge: get("code_challenge"), CodeChallengeMethod: get("code_challenge_method"),
	}
}

// basicAuthKey marks a request whose client authenticated with HTTP Basic.
type basicAuthKey struct{}

// noteBasicAuth remembers that the client used HTTP Basic, so that a 401
// can carry the Basic challenge (RFC 6749 §5.2).
func noteBasicAuth(ctx context.Context, r *http.Request) context.Context {
	if _, _, ok := r.BasicAuth(); ok {
		return context.WithValue(ctx, basicAuthKey{}, true)
	}
	return ctx
}

// oauthForm parses an application/x-www-form-urlencoded body (RFC 6749
// §3.2); parameters in the query are ignored, a repeated one is refused.
// Errors: invalid_request, payload_too_large.
func oauthForm(r *http.Request) (url.Values, error) {
	if err := parseForm(r, "the body"); err != nil {
		return nil, err
	}
	for k, v := range r.PostForm {
		if len(v) > 1 {
			return nil, ErrOAuthInvalidRequest.WithMessage("parameter %s is repeated", k)
		}
	}
	return r.PostForm, nil
}

// parseForm parses r's application/x-www-form-urlencoded body into
// r.PostForm, what naming it in the messages. Errors: invalid_request,
// payload_too_large.
func parseForm(r *http.Request, what string) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return ErrOAuthInvalidRequest.WithMessage("%s must be application/x-www-form-urlencoded", what)
	}
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return httpx.ErrPayloadTooLarge
		}
		return ErrOAuthInvalidRequest.WithMessage("%s cannot be parsed as a form", what)
	}
	return nil
}

// clientAuth reads the client's credentials: HTTP Basic with both parts
// form-encoded (client_secret_basic, RFC 6749 §2.3.1), else client_id and
// client_secret in the form (client_secret_post, or a public client's id
// alone). Using both methods at once is refused.
func clientAuth(r *http.Request, form url.Values) (ClientAuth, error) {
	id, secret, basic := r.BasicAuth()
	if !basic {
		return ClientAuth{ID: form.Get("client_id"), Secret: form.Get("client_secret")}, nil
	}
	var err1, err2 error
	id, err1 = url.QueryUnescape(id)
	secret, err2 = url.QueryUnescape(secret)
	switch {
	case err1 != nil || err2 != nil:
		return ClientAuth{}, ErrInvalidClient.WithMessage("the Basic credentials are not form-encoded")
	case form.Get("client_secret") != "":
		return ClientAuth{}, ErrOAuthInvalidRequest.WithMessage("use one client authentication method, not two")
	case form.Get("client_id") != "" && form.Get("client_id") != id:
		return ClientAuth{}, ErrOAuthInvalidRequest.WithMessage("client_id differs from the Basic credentials")
	}
	return ClientAuth{ID: id, Secret: secret}, nil
}

// clientForm reads an OAuth form and the client credentials it carries
// (clientAuth), for the endpoints clients authenticate to.
func clientForm(r *http.Request) (url.Values, ClientAuth, error) {
	form, err := oauthForm(r)
	if err != nil {
		return nil, ClientAuth{}, err
	}
	client, err := clientAuth(r, form)
	return form, client, err
}

func decodeTokenRequest(_ context.Context, r *http.Request) (any, error) {
	form, client, err := clientForm(r)
	if err != nil {
		return nil, err
	}
	return TokenRequest{
		Client: client, GrantType: form.Get("grant_type"), Code: form.Get("code"),
		RedirectURI: form.Get("redirect_uri"), CodeVerifier: form.Get("code_verifier"),
		RefreshToken: form.Get("refresh_token"), Scope: form.Get("scope"),
	}, nil
}

func decodeClientTokenRequest(_ context.Context, r *http.Request) (any, error) {
	form, client, err := clientForm(r)
	if err != nil {
		return nil, err
	}
	return clientTokenRequest{Client: client, Token: form.Get("token"), Hint: form.Get("token_type_hint")}, nil
}

// encodeOAuthJSON writes a token, introspection or revocation answer: never
// cached (RFC 6749 §5.1; Cache-Control no-store is already set).
func encodeOAuthJSON(_ context.Context, w http.ResponseWriter, response any) error {
	w.Header().Set("Pragma", "no-cache")
	if _, ok := response.(revoked); ok {
		w.WriteHeader(http.StatusOK) // RFC 7009 §2.2: the body is ignored
		return nil
	}
	return httpx.WriteJSON(w, http.StatusOK, response)
}

// oauthErrorCodes are the errors the OAuth JSON endpoints answer as they
// are; anything else becomes one of them.
var oauthErrorCodes = map[string]bool{
	"invalid_request": true, "invalid_client": true, "invalid_grant": true, "unauthorized_client": true,
	"unsupported_grant_type": true, "invalid_scope": true,
}

// oauthError is RFC 6749 §5.2's error body.
type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

// encodeOAuthError writes err as RFC 6749 §5.2 requires: 400 (401 for
// invalid_client, with a Basic challenge when the client used Basic),
// {error, error_description}. Server faults are logged and become
// server_error or temporarily_unavailable without detail.
func encodeOAuthError(logger log.Logger) httptransport.ErrorEncoder {
	return func(ctx context.Context, err error, w http.ResponseWriter) {
		e := errs.As(err)
		status := httpx.Status(e.Kind)
		body := oauthError{Error: e.Code, Description: e.Message}
		switch {
		case oauthErrorCodes[e.Code]:
		case errs.IsServerFault(e):
			level.Error(logging.With(ctx, logger)).Log("msg", "request failed", "code", e.Code, "err", err)
			body = oauthError{Error: "server_error", Description: "an internal error occurred; quote the X-Request-ID when reporting it"}
			if e.Kind == errs.Unavailable {
				body = oauthError{Error: "temporarily_unavailable", Description: "try again shortly"}
			}
		case status == http.StatusRequestEntityTooLarge:
			body.Error = "invalid_request"
		default:
			status, body.Error = http.StatusBadRequest, "invalid_request"
		}
		h := w.Header()
		if status == http.StatusUnauthorized && ctx.Value(basicAuthKey{}) != nil {
			h.Set("WWW-Authenticate", `Basic realm="azora"`)
		}
		h.Set("Content-Type", "application/json; charset=utf-8")
		h.Set("Pragma", "no-cache")
		b, _ := json.Marshal(body)
		h.Set("Content-Length", strconv.Itoa(len(b)+1))
		w.WriteHeader(status)
		_, _ = w.Write(append(b, '\n'))
	}
}
