package auth

import (
	"context"
	"slices"
	"time"

	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/kit"
	"github.com/azora-os/azora/shared/page"
)

// OAuth grant types (RFC 6749). The implicit and password grants are not
// offered (RFC 9700 §2.1.2, §2.4).
const (
	GrantAuthorizationCode = "authorization_code"
	GrantClientCredentials = "client_credentials"
	GrantRefreshToken      = "refresh_token"
)

// OpenID Connect scopes. Service scopes (what client_credentials tokens
// carry) are configured: OAuthConfig.ServiceScopes.
const (
	ScopeOpenID  = "openid"
	ScopeProfile = "profile"
	ScopeEmail   = "email"
)

// PKCEMethodS256 is the only code_challenge_method accepted (RFC 7636;
// "plain" is refused, RFC 9700 §2.1.1).
const PKCEMethodS256 = "S256"

// Token type hints of introspection and revocation (RFC 7009 §2.1).
const (
	HintAccessToken  = "access_token"
	HintRefreshToken = "refresh_token"
)

// OAuth errors. The codes are RFC 6749's (§4.1.2.1, §5.2), RFC 7009's and
// OIDC's, which OAuth clients branch on; the transport writes them as
// {error, error_description}.
var (
	ErrOAuthInvalidRequest     = errs.New(errs.Invalid, "invalid_request", "the request is missing a parameter, repeats one or has a malformed one")
	ErrInvalidClient           = errs.New(errs.Unauthenticated, "invalid_client", "the client is unknown or its authentication failed")
	ErrInvalidGrant            = errs.New(errs.Invalid, "invalid_grant", "the code or refresh token is invalid, expired, spent, or was issued to another client or redirect URI")
	ErrUnauthorizedClient      = errs.New(errs.Invalid, "unauthorized_client", "the client is not registered for this grant")
	ErrUnsupportedGrantType    = errs.New(errs.Invalid, "unsupported_grant_type", "the grant type is not supported")
	ErrUnsupportedResponseType = errs.New(errs.Invalid, "unsupported_response_type", "only the response type code is supported")
	ErrInvalidScope            = errs.New(errs.Invalid, "invalid_scope", "a scope is unknown or not allowed for this client")
	ErrAccessDenied            = errs.New(errs.Forbidden, "access_denied", "the user denied the request")
	ErrInsufficientScope       = errs.New(errs.Forbidden, "insufficient_scope", "the token was not granted the openid scope")
	// ErrUnknownClient and ErrRedirectURIMismatch are authorization errors
	// that must never be redirected (RFC 6749 §4.1.2.1): the page shows
	// them.
	ErrUnknownClient       = errs.New(errs.Invalid, "unknown_client", "no client is registered with this client_id")
	ErrRedirectURIMismatch = errs.New(errs.Invalid, "invalid_redirect_uri", "the redirect_uri is missing or does not exactly match one the client registered")
	// ErrClientNotFound and ErrClientIsPublic answer the admin routes
	// that read and change registered clients.
	ErrClientNotFound = errs.New(errs.NotFound, "client_not_found", "no OAuth client has this id")
	ErrClientIsPublic = errs.New(errs.Conflict, "client_is_public", "a public client has no secret to rotate")
	// ErrAuthorizationExpired is a consent step that took too long or was
	// already answered.
	ErrAuthorizationExpired = errs.New(errs.Invalid, "authorization_expired", "this sign-in expired or was already used; start again from the application")
)

// RedirectError is an authorization error for the client, sent to its
// verified redirect URI with state (RFC 6749 §4.1.2.1) instead of being
// shown to the user.
type RedirectError struct {
	Err         *errs.Error // one of the OAuth errors above
	RedirectURI string
	State       string
}

func (e *RedirectError) Error() string { return "redirect to client: " + e.Err.Error() }

// Unwrap returns the OAuth error.
func (e *RedirectError) Unwrap() error { return e.Err }

// Client is a registered OAuth client.
type Client struct {
	ID   string
	Name string
	// SecretHash is the hex SHA-256 of the client secret; empty for a
	// public client, which authenticates with nothing but its id and so
	// must use PKCE.
	SecretHash   string
	RedirectURIs []string // matched exactly; only a loopback port may vary
	GrantTypes   []string
	Scopes       []string // what the client may ask for
	CreatedBy    string   // the admin who registered it
	CreatedAt    time.Time
	// SecretRotatedAt is when an admin last replaced the secret; zero
	// until then.
	SecretRotatedAt time.Time
}

// Public reports whether c has no secret.
func (c Client) Public() bool { return c.SecretHash == "" }

// Allows reports whether c is registered for grant.
func (c Client) Allows(grant string) bool { return slices.Contains(c.GrantTypes, grant) }

// ClientRequest registers a client (POST /api/v1/auth/clients).
// TokenEndpointAuthMethod (RFC 7591 §2) is "none" for a public client;
// anything else gets a secret, usable with client_secret_basic or
// client_secret_post.
type ClientRequest struct {
	Name                    string   `json:"name"`
	RedirectURIs            []string `json:"redirect_uris"`
	GrantTypes              []string `json:"grant_types"`
	Scopes                  []string `json:"scopes"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method,omitempty"`
	AdminID                 string   `json:"-"` // from the verified token
}

// ClientUpdate changes a registered client (PATCH
// /api/v1/auth/clients/{id}); a field left out (or null) stays as it is.
// The grant types, and whether the client has a secret, are fixed at
// registration: register another client to change them.
type ClientUpdate struct {
	Name         *string   `json:"name"`
	RedirectURIs *[]string `json:"redirect_uris"`
	Scopes       *[]string `json:"scopes"`
}

// ClientCredentials is a new client's id and, for a confidential client,
// its secret: shown once, only its hash is kept.
type ClientCredentials struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret,omitempty"`
}

// ClientAuth is how a client authenticated at the token, introspection or
// revocation endpoint: its id and secret (empty for a public client).
type ClientAuth struct {
	ID     string
	Secret string
}

// AuthorizationRequest is an authorization request's parameters
// (RFC 6749 §4.1.1, RFC 7636 §4.3, OIDC Core §3.1.2.1).
type AuthorizationRequest struct {
	ResponseType        string `json:"response_type"`
	ClientID            string `json:"client_id"`
	RedirectURI         string `json:"redirect_uri"`
	Scope               string `json:"scope"`
	State               string `json:"state"`
	Nonce               string `json:"nonce"`
	CodeChallenge       string `json:"code_challenge"`
	CodeChallengeMethod string `json:"code_challenge_method"`
}

// Authorization is a checked authorization request: the client the user
// is asked about and the scopes it asks for.
type Authorization struct {
	Request    AuthorizationRequest
	ClientName string
	Scopes     []string
}

// SignInResult is a successful password step of the authorization page:
// either the MFA step comes next (MFAToken) or the consent (ConsentToken).
type SignInResult struct {
	Authorization
	MFAToken     string
	ConsentToken string
}

// AuthorizationResponse is where the browser goes with the code
// (RFC 6749 §4.1.2).
type AuthorizationResponse struct {
	RedirectURI string
	Code        string
	State       string
}

// Consent is a signed-in user's pending authorization, kept between the
// sign-in and the consent answer.
type Consent struct {
	Request  AuthorizationRequest `json:"request"`
	UserID   string               `json:"user_id"`
	AMR      []string             `json:"amr"`
	AuthTime time.Time            `json:"auth_time"`
}

// AuthCode is what an authorization code stands for; only a hash of the
// code is stored. SID is set once the code was exchanged: the session its
// tokens belong to, revoked if the code comes back.
type AuthCode struct {
	ClientID    string    `json:"client_id"`
	RedirectURI string    `json:"redirect_uri"`
	UserID      string    `json:"user_id"`
	Scope       []string  `json:"scope"`
	Nonce       string    `json:"nonce,omitempty"`
	Challenge   string    `json:"code_challenge"`
	AMR         []string  `json:"amr"`
	AuthTime    time.Time `json:"auth_time"`
	SID         string    `json:"-"`
}

// TokenRequest is a token endpoint request (RFC 6749 §4.1.3, §4.4.2, §6).
type TokenRequest struct {
	Client       ClientAuth
	GrantType    string
	Code         string
	RedirectURI  string
	CodeVerifier string
	RefreshToken string
	Scope        string
}

// TokenResponse is the token endpoint's answer (RFC 6749 §5.1, OIDC Core
// §3.1.3.3).
type TokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope,omitempty"`
	IDToken      string `json:"id_token,omitempty"`
}

// Introspection is RFC 7662 §2.2's answer: only Active when the token is
// not active.
type Introspection struct {
	Active    bool     `json:"active"`
	Scope     string   `json:"scope,omitempty"`
	ClientID  string   `json:"client_id,omitempty"`
	TokenType string   `json:"token_type,omitempty"`
	Exp       int64    `json:"exp,omitempty"`
	Iat       int64    `json:"iat,omitempty"`
	Nbf       int64    `json:"nbf,omitempty"`
	Sub       string   `json:"sub,omitempty"`
	Aud       []string `json:"aud,omitempty"`
	Iss       string   `json:"iss,omitempty"`
	Jti       string   `json:"jti,omitempty"`
	Roles     []string `json:"roles,omitempty"`
}

// UserInfo is the UserInfo endpoint's answer (OIDC Core §5.3.2): name and
// email only when the token was granted profile and email.
type UserInfo struct {
	Sub   string   `json:"sub"`
	Name  string   `json:"name,omitempty"`
	Email string   `json:"email,omitempty"`
	Roles []string `json:"roles"`
}

// IDTokenClaims are an ID token's claims (OIDC Core §2).
type IDTokenClaims struct {
	Subject         string
	Audience        string // the client id
	Nonce           string
	AuthTime        time.Time
	AMR             []string
	AccessTokenHash string // at_hash
	Email           string
	Name            string
	IssuedAt        time.Time
	ExpiresAt       time.Time
}

// OAuth is the authorization server. Callers (the endpoint layer) have
// authenticated users where a method needs them; clients are
// authenticated here.
type OAuth interface {
	// RegisterClient registers a client. Errors: validation_failed.
	RegisterClient(ctx context.Context, req ClientRequest) (ClientCredentials, error)
	// ListClients pages through the registered clients, newest first.
	// Errors: invalid_cursor.
	ListClients(ctx context.Context, p page.Request) (page.Page[Client], error)
	// GetClient returns a registered client. Errors: client_not_found.
	GetClient(ctx context.Context, id string) (Client, error)
	// UpdateClient changes a client's name, redirect URIs or scopes.
	// Errors: client_not_found, validation_failed.
	UpdateClient(ctx context.Context, id string, u ClientUpdate) (Client, error)
	// RotateClientSecret gives a confidential client a new secret, shown
	// once; the old one stops working. Errors: client_not_found,
	// client_is_public.
	RotateClientSecret(ctx context.Context, id string) (ClientCredentials, error)
	// DeleteClient removes a client and revokes every grant it holds.
	// Errors: client_not_found.
	DeleteClient(ctx context.Context, id string) error
	// Authorize checks an authorization request. Errors: unknown_client,
	// invalid_redirect_uri (never redirected); a *RedirectError otherwise.
	Authorize(ctx context.Context, req AuthorizationRequest) (Authorization, error)
	// SignIn checks the request and the user's password. Errors: those of
	// Authorize and Login.
	SignIn(ctx context.Context, req AuthorizationRequest, login LoginRequest) (SignInResult, error)
	// SignInMFA completes a sign-in with a TOTP or recovery code. Errors:
	// those of Authorize and LoginMFA.
	SignInMFA(ctx context.Context, req AuthorizationRequest, mfaToken, code string) (SignInResult, error)
	// Consent answers a pending authorization: with allow, a single-use
	// code for the client. Errors: authorization_expired; a
	// *RedirectError (access_denied) when the user refused.
	Consent(ctx context.Context, consentToken string, allow bool) (AuthorizationResponse, error)
	// Token runs a grant. Errors: invalid_request, invalid_client,
	// invalid_grant, unauthorized_client, unsupported_grant_type,
	// invalid_scope.
	Token(ctx context.Context, req TokenRequest) (TokenResponse, error)
	// Introspect tells a confidential client about a token (RFC 7662).
	// Errors: invalid_client, invalid_request.
	Introspect(ctx context.Context, client ClientAuth, token, hint string) (Introspection, error)
	// Revoke revokes a token the client holds (RFC 7009); an invalid
	// token is not an error. Errors: invalid_client, invalid_request.
	Revoke(ctx context.Context, client ClientAuth, token, hint string) error
	// UserInfo returns the claims about the user of a verified access
	// token. Errors: insufficient_scope, user_not_found.
	UserInfo(ctx context.Context, c kit.Claims) (UserInfo, error)
}

// Clients stores OAuth clients (Postgres).
type Clients interface {
	// Create inserts c.
	Create(ctx context.Context, c Client) error
	// ByID finds a client. Errors: unknown_client.
	ByID(ctx context.Context, id string) (Client, error)
	// List pages through every client, newest first. Errors:
	// invalid_cursor.
	List(ctx context.Context, p page.Request) (page.Page[Client], error)
	// SetSecret replaces the secret hash of a confidential client and
	// records when. Errors: unknown_client (no confidential client has
	// that id).
	SetSecret(ctx context.Context, id, secretHash string, at time.Time) error
	// Update locks the client, lets fn change its name, redirect URIs and
	// scopes, and saves them (fn's error aborts without saving), so that
	// concurrent updates apply one after the other. Errors: unknown_client,
	// fn's.
	Update(ctx context.Context, id string, fn func(*Client) error) (Client, error)
	// Delete removes a client. Errors: unknown_client.
	Delete(ctx context.Context, id string) error
}

// OAuthStore keeps the short-lived authorization state (Redis).
type OAuthStore interface {
	// SaveCode stores c under hash (the code's) for ttl.
	SaveCode(ctx context.Context, hash string, c AuthCode, ttl time.Duration) error
	// Code returns the code stored under hash, SID set once it was
	// exchanged. Errors: invalid_grant.
	Code(ctx context.Context, hash string) (AuthCode, error)
	// RedeemCode atomically marks the code exchanged for session sid and
	// keeps it for keep, so that a second exchange is recognised. When it
	// already was, it flags the code reused and returns false with the
	// earlier sid. Errors: invalid_grant.
	RedeemCode(ctx context.Context, hash, sid string, keep time.Duration) (first bool, earlier string, err error)
	// CodeReused reports whether the code was presented again after its
	// exchange.
	CodeReused(ctx context.Context, hash string) (bool, error)
	// SaveConsent stores c under a fresh random token for ttl.
	SaveConsent(ctx context.Context, c Consent, ttl time.Duration) (token string, err error)
	// TakeConsent returns and deletes the consent under token. Errors:
	// authorization_expired.
	TakeConsent(ctx context.Context, token string) (Consent, error)
}

// IDTokenSigner signs ID tokens with the access tokens' keys.
type IDTokenSigner interface {
	// SignIDToken returns an RS256 ID token (typ JWT) for c. Errors:
	// no_signing_key.
	SignIDToken(ctx context.Context, c IDTokenClaims) (string, error)
}

// AccessTokenVerifier checks access tokens as every service does
// (*kit.Verifier): signature, issuer, audience, expiry, revocation.
type AccessTokenVerifier interface {
	// Verify returns the token's claims. Errors: invalid_token,
	// auth_unavailable.
	Verify(ctx context.Context, token string) (kit.Claims, error)
}
