package auth

import (
	"context"
	"crypto/subtle"
	"errors"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/azora-os/azora/shared/errs"
)

// OAuthConfig tunes the authorization server. Zero fields take the
// defaults in NewOAuthServer.
type OAuthConfig struct {
	CodeTTL time.Duration // authorization code life; default 60 s
	// CodeReuseWindow is how long an exchanged code is remembered, so that
	// presenting it again revokes the tokens it gave (RFC 6749 §4.1.2);
	// default 10 min.
	CodeReuseWindow time.Duration
	ConsentTTL      time.Duration // from sign-in to the consent answer; default 10 min
	// ServiceScopes are the scopes clients may register besides OpenID
	// Connect's (openid, profile, email): what client_credentials tokens
	// carry for the routes that let service callers in (kit.Spec.Scopes).
	ServiceScopes []string
}

// OAuthDeps are the ports the authorization server runs over, besides the
// AuthService's.
type OAuthDeps struct {
	Clients  Clients
	Store    OAuthStore
	IDTokens IDTokenSigner
	Verifier AccessTokenVerifier
}

// OAuthServer implements OAuth over an AuthService, whose users, sessions,
// MFA challenges, login limits and signer it shares.
type OAuthServer struct {
	*AuthService
	OAuthDeps
	ocfg OAuthConfig
}

var _ OAuth = (*OAuthServer)(nil)

// NewOAuthServer returns the authorization server over s and d.
func NewOAuthServer(s *AuthService, d OAuthDeps, cfg OAuthConfig) *OAuthServer {
	if cfg.CodeTTL == 0 {
		cfg.CodeTTL = 60 * time.Second
	}
	if cfg.CodeReuseWindow == 0 {
		cfg.CodeReuseWindow = 10 * time.Minute
	}
	if cfg.ConsentTTL == 0 {
		cfg.ConsentTTL = 10 * time.Minute
	}
	return &OAuthServer{AuthService: s, OAuthDeps: d, ocfg: cfg}
}

// Scopes returns every scope clients may register: OpenID Connect's, then
// the service scopes.
func (o *OAuthServer) Scopes() []string {
	return append([]string{ScopeOpenID, ScopeProfile, ScopeEmail}, o.ocfg.ServiceScopes...)
}

// Limits of a client registration.
const (
	maxClientName   = 200
	maxRedirectURIs = 10
)

// RegisterClient implements OAuth. A confidential client's secret is 256
// random bits and only its SHA-256 is stored: a secret that cannot be
// guessed needs no slow hash, and the token endpoint, which checks it on
// every call, stays cheap (argon2id would cost ~20 MiB and tens of ms a
// request and make the endpoint a denial-of-service lever).
func (o *OAuthServer) RegisterClient(ctx context.Context, req ClientRequest) (ClientCredentials, error) {
	c, err := o.newClient(req)
	if err != nil {
		return ClientCredentials{}, err
	}
	creds := ClientCredentials{ClientID: c.ID}
	if req.TokenEndpointAuthMethod != "none" {
		if creds.ClientSecret, err = randomToken(); err != nil {
			return ClientCredentials{}, err
		}
		c.SecretHash = hashSecret(creds.ClientSecret)
	}
	if err := o.Clients.Create(ctx, c); err != nil {
		return ClientCredentials{}, err
	}
	return creds, nil
}

// newClient validates req, reporting every bad field at once, and gives
// the client its id.
func (o *OAuthServer) newClient(req ClientRequest) (Client, error) {
	c, err := o.checkClient(req)
	if err != nil {
		return Client{}, err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return Client{}, errs.Internalf(err, "new client id")
	}
	c.ID, c.CreatedBy, c.CreatedAt = id.String(), req.AdminID, o.cfg.Clock().UTC().Truncate(time.Microsecond)
	return c, nil
}

// checkClient validates a registration, or a registered client with an
// update applied, reporting every bad field at once; it returns the client
// it describes without id or secret.
func (o *OAuthServer) checkClient(req ClientRequest) (Client, error) {
	var f fieldErrors
	name := strings.TrimSpace(req.Name)
	if name == "" || utf8.RuneCountInString(name) > maxClientName {
		f.add("name", "must be 1 to 200 characters")
	}
	public := false
	switch req.TokenEndpointAuthMethod {
	case "", "client_secret_basic", "client_secret_post":
	case "none":
		public = true
	default:
		f.add("token_endpoint_auth_method", "must be client_secret_basic, client_secret_post or none")
	}
	grants := dedupe(req.GrantTypes)
	for _, g := range grants {
		if g != GrantAuthorizationCode && g != GrantClientCredentials && g != GrantRefreshToken {
			f.add("grant_types", "must be authorization_code, client_credentials or refresh_token")
			break
		}
	}
	switch {
	case len(grants) == 0:
		f.add("grant_types", "at least one grant type is required")
	case slices.Contains(grants, GrantRefreshToken) && !slices.Contains(grants, GrantAuthorizationCode):
		f.add("grant_types", "refresh_token comes with authorization_code")
	case public && slices.Contains(grants, GrantClientCredentials):
		f.add("grant_types", "a public client cannot use client_credentials")
	}
	uris := dedupe(req.RedirectURIs)
	switch {
	case slices.Contains(grants, GrantAuthorizationCode) && len(uris) == 0:
		f.add("redirect_uris", "at least one is required with authorization_code")
	case len(uris) > maxRedirectURIs:
		f.add("redirect_uris", "at most 10")
	}
	for _, u := range uris {
		if why := checkRedirectURI(u); why != "" {
			f.add("redirect_uris", u+": "+why)
		}
	}
	scopes := dedupe(req.Scopes)
	known := o.Scopes()
	for _, s := range scopes {
		if !slices.Contains(known, s) {
			f.add("scopes", "unknown scope "+s+"; known: "+strings.Join(known, " "))
		}
	}
	if err := f.err(); err != nil {
		return Client{}, err
	}
	return Client{Name: name, RedirectURIs: uris, GrantTypes: grants, Scopes: scopes}, nil
}

// authenticateClient returns the client a authenticates as: a
// confidential client with its secret, a public one with its id alone.
// Every failure is the same invalid_client, so the answer does not tell
// unknown clients from wrong secrets.
func (o *OAuthServer) authenticateClient(ctx context.Context, a ClientAuth) (Client, error) {
	if a.ID == "" {
		return Client{}, ErrInvalidClient.WithMessage("client authentication is required")
	}
	c, err := o.Clients.ByID(ctx, a.ID)
	if errors.Is(err, ErrUnknownClient) {
		return Client{}, ErrInvalidClient
	}
	if err != nil {
		return Client{}, err
	}
	if c.Public() {
		if a.Secret != "" {
			return Client{}, ErrInvalidClient.WithMessage("a public client has no secret")
		}
		return c, nil
	}
	if a.Secret == "" || subtle.ConstantTimeCompare([]byte(hashSecret(a.Secret)), []byte(c.SecretHash)) != 1 {
		return Client{}, ErrInvalidClient
	}
	return c, nil
}

// grantedScopes parses a space-separated scope parameter and checks it
// against allowed; an empty one is all of fallback. Errors: invalid_scope.
func grantedScopes(param string, allowed, fallback []string) ([]string, error) {
	asked := dedupe(strings.Fields(param))
	if len(asked) == 0 {
		return slices.Clone(fallback), nil
	}
	for _, s := range asked {
		if !slices.Contains(allowed, s) {
			return nil, ErrInvalidScope.WithMessage("scope %q is not allowed for this client", s)
		}
	}
	return asked, nil
}

// stillAllowed is granted less what the client may no longer ask for (an
// admin narrowed its scopes since the grant).
func stillAllowed(granted []string, c Client) []string {
	return slices.DeleteFunc(slices.Clone(granted), func(s string) bool { return !slices.Contains(c.Scopes, s) })
}

// dedupe drops repeats, keeping the first of each in order.
func dedupe(in []string) []string {
	out := make([]string, 0, len(in))
	for _, s := range in {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}
