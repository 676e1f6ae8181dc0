package kit

import (
	"context"
	"strings"

	"github.com/azora-os/azora/shared/errs"
	"github.com/go-kit/kit/endpoint"
)

// Authentication and authorisation errors. Their codes are what clients
// branch on; the messages of invalid-token errors say why.
var (
	ErrMissingToken = errs.New(errs.Unauthenticated, "missing_token", "a bearer token is required")
	ErrInvalidToken = errs.New(errs.Unauthenticated, "invalid_token", "the bearer token is invalid")
	ErrForbidden    = errs.New(errs.Forbidden, "forbidden", "you are not allowed to do this")
	// ErrAuthUnavailable means the token could not be checked: the JWKS or
	// the revocation store did not answer.
	ErrAuthUnavailable = errs.New(errs.Unavailable, "auth_unavailable", "token verification is unavailable")
)

// JWT returns a middleware that verifies the bearer token in ctx (see
// HTTPToContext) with v and passes the endpoint a ctx carrying its Claims.
// It returns ErrMissingToken when ctx has no token, ErrInvalidToken (with
// the reason as message) for a token v refuses, and ErrAuthUnavailable when
// keys or revocations cannot be checked.
func JWT(v *Verifier) endpoint.Middleware {
	return func(next endpoint.Endpoint) endpoint.Endpoint {
		return func(ctx context.Context, request any) (any, error) {
			c, err := v.Verify(ctx, TokenFrom(ctx))
			if err != nil {
				return nil, err
			}
			return next(WithClaims(ctx, c), request)
		}
	}
}

// RBAC returns a middleware that lets a call through only when the claims
// in ctx hold at least one of roles (any authenticated caller when roles is
// empty). It returns ErrMissingToken when ctx has no claims and
// ErrForbidden when none of the roles match.
func RBAC(roles ...string) endpoint.Middleware {
	denied := ErrForbidden.WithMessage("this requires one of the roles: %s", strings.Join(roles, ", "))
	return func(next endpoint.Endpoint) endpoint.Endpoint {
		return func(ctx context.Context, request any) (any, error) {
			c, ok := ClaimsFrom(ctx)
			if !ok {
				return nil, ErrMissingToken
			}
			if len(roles) == 0 {
				return next(ctx, request)
			}
			for _, r := range roles {
				if c.HasRole(r) {
					return next(ctx, request)
				}
			}
			return nil, denied
		}
	}
}
