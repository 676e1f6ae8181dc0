package kit

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"time"

	httptransport "github.com/go-kit/kit/transport/http"
)

// Claims are the verified claims of an Azora access token.
type Claims struct {
	Subject   string    // sub: the user (or OAuth client) id
	Issuer    string    // iss
	Audience  []string  // aud
	ExpiresAt time.Time // exp
	IssuedAt  time.Time // iat; zero when absent
	NotBefore time.Time // nbf; zero when absent
	ID        string    // jti
	SessionID string    // sid: the login session, the unit of revocation
	Roles     []string  // roles: student, instructor, admin
	AMR       []string  // amr: how the user authenticated, e.g. ["pwd", "otp"]
	// ClientID is the OAuth client the token was issued to (client_id,
	// RFC 9068); empty for a first-party login.
	ClientID string
	// Scope is what an OAuth grant covers (scope, RFC 9068: space-separated
	// on the wire); nil for a first-party login.
	Scope []string
}

// HasRole reports whether c carries role.
func (c Claims) HasRole(role string) bool { return slices.Contains(c.Roles, role) }

// HasScope reports whether c carries scope.
func (c Claims) HasScope(scope string) bool { return slices.Contains(c.Scope, scope) }

// IsService reports whether c is a service identity: a token an OAuth
// client obtained for itself (client_credentials), whose subject is the
// client (RFC 9068 §2.2) and which carries no user.
func (c Claims) IsService() bool { return c.ClientID != "" && c.Subject == c.ClientID }

// clone returns c with its own copies of the slices, so a caller mutating
// its Claims cannot corrupt the cached ones.
func (c Claims) clone() Claims {
	c.Audience = slices.Clone(c.Audience)
	c.Roles = slices.Clone(c.Roles)
	c.AMR = slices.Clone(c.AMR)
	c.Scope = slices.Clone(c.Scope)
	return c
}

type tokenKey struct{}
type claimsKey struct{}

// HTTPToContext returns a go-kit server RequestFunc that copies the bearer
// token of the Authorization header ("Bearer <token>", scheme
// case-insensitive per RFC 6750) into the context for JWT. A missing header
// or another scheme leaves the context without a token.
func HTTPToContext() httptransport.RequestFunc {
	return func(ctx context.Context, r *http.Request) context.Context {
		scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return ctx
		}
		if token = strings.TrimSpace(token); token == "" {
			return ctx
		}
		return WithToken(ctx, token)
	}
}

// WithToken returns ctx carrying the raw bearer token.
func WithToken(ctx context.Context, token string) context.Context {
	return context.WithValue(ctx, tokenKey{}, token)
}

// TokenFrom returns the raw bearer token in ctx, or "".
func TokenFrom(ctx context.Context) string {
	t, _ := ctx.Value(tokenKey{}).(string)
	return t
}

// WithClaims returns ctx carrying verified claims.
func WithClaims(ctx context.Context, c Claims) context.Context {
	return context.WithValue(ctx, claimsKey{}, c)
}

// ClaimsFrom returns the verified claims in ctx and whether there were any.
func ClaimsFrom(ctx context.Context) (Claims, bool) {
	c, ok := ctx.Value(claimsKey{}).(Claims)
	return c, ok
}

// RequireClaims returns the verified claims in ctx, or ErrMissingToken
// (401) when the endpoint ran without them: what every user endpoint
// starts with.
func RequireClaims(ctx context.Context) (Claims, error) {
	c, ok := ClaimsFrom(ctx)
	if !ok {
		return Claims{}, ErrMissingToken
	}
	return c, nil
}
