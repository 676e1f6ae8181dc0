package kit

import (
	"context"
	"strings"

	"github.com/go-kit/kit/endpoint"
)

// RBACOrService returns a middleware for routes that people and services
// may both call: a service identity (Claims.IsService) passes when it holds
// at least one of scopes, anyone else when they hold at least one of roles
// (with roles empty, nobody but services passes). A token an OAuth client
// obtained for a user is the user's: its roles decide, never its scopes. It
// returns ErrMissingToken when ctx has no claims and ErrForbidden otherwise.
func RBACOrService(roles, scopes []string) endpoint.Middleware {
	noScope := ErrForbidden.WithMessage("this requires one of the scopes: %s", strings.Join(scopes, ", "))
	noRole := ErrForbidden.WithMessage("this is for services only")
	if len(roles) > 0 {
		noRole = ErrForbidden.WithMessage("this requires one of the roles: %s", strings.Join(roles, ", "))
	}
	return func(next endpoint.Endpoint) endpoint.Endpoint {
		return func(ctx context.Context, request any) (any, error) {
			c, ok := ClaimsFrom(ctx)
			if !ok {
				return nil, ErrMissingToken
			}
			want, has, denied := roles, c.HasRole, noRole
			if c.IsService() {
				want, has, denied = scopes, c.HasScope, noScope
			}
			for _, w := range want {
				if has(w) {
					return next(ctx, request)
				}
			}
			return nil, denied
		}
	}
}
