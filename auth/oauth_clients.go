package auth

import (
	"context"
	"errors"

	"github.com/azora-os/azora/shared/page"
)

// The admin's side of registered clients besides RegisterClient: reading
// and changing them, replacing a secret, deleting one.

// ListClients implements OAuth. Errors: invalid_cursor.
func (o *OAuthServer) ListClients(ctx context.Context, p page.Request) (page.Page[Client], error) {
	return o.Clients.List(ctx, p)
}

// GetClient implements OAuth. Errors: client_not_found.
func (o *OAuthServer) GetClient(ctx context.Context, id string) (Client, error) {
	c, err := o.Clients.ByID(ctx, id)
	return c, adminClientError(err)
}

// UpdateClient implements OAuth: the update is applied to the client as
// registered, under its row lock (so concurrent updates of different
// fields all hold), and checked as a registration is. Tokens already issued keep
// their scopes until they expire; a refresh from then on gets only the
// scopes the client still has. Errors: client_not_found,
// validation_failed.
func (o *OAuthServer) UpdateClient(ctx context.Context, id string, u ClientUpdate) (Client, error) {
	c, err := o.Clients.Update(ctx, id, func(c *Client) error {
		req := ClientRequest{Name: c.Name, RedirectURIs: c.RedirectURIs, GrantTypes: c.GrantTypes, Scopes: c.Scopes}
		if c.Public() {
			req.TokenEndpointAuthMethod = "none"
		}
		if u.Name != nil {
			req.Name = *u.Name
		}
		if u.RedirectURIs != nil {
			req.RedirectURIs = *u.RedirectURIs
		}
		if u.Scopes != nil {
			req.Scopes = *u.Scopes
		}
		next, err := o.checkClient(req)
		if err != nil {
			return err
		}
		c.Name, c.RedirectURIs, c.Scopes = next.Name, next.RedirectURIs, next.Scopes
		return nil
	})
	return c, adminClientError(err)
}

// RotateClientSecret implements OAuth: a new 256-bit secret replaces the
// old one at once (the old stops authenticating with the next request);
// grants already made are kept, since they are the users' and using them
// again still takes the client's secret. Errors: client_not_found,
// client_is_public.
func (o *OAuthServer) RotateClientSecret(ctx context.Context, id string) (ClientCredentials, error) {
	c, err := o.Clients.ByID(ctx, id)
	if err != nil {
		return ClientCredentials{}, adminClientError(err)
	}
	if c.Public() {
		return ClientCredentials{}, ErrClientIsPublic
	}
	secret, err := randomToken()
	if err != nil {
		return ClientCredentials{}, err
	}
	if err := o.Clients.SetSecret(ctx, c.ID, hashSecret(secret), o.cfg.Clock().UTC()); err != nil {
		return ClientCredentials{}, adminClientError(err)
	}
	return ClientCredentials{ClientID: c.ID, ClientSecret: secret}, nil
}

// DeleteClient implements OAuth. Every grant of the client is revoked
// before its row goes: its users' sessions and refresh tokens end, and
// its access tokens (its client_credentials ones included) are refused by
// every service at once; a grant racing with the deletion is refused
// (Sessions.RevokeClient). Should the row's removal fail, the client is
// already unusable and the same call may be made again. Errors:
// client_not_found.
func (o *OAuthServer) DeleteClient(ctx context.Context, id string) error {
	c, err := o.Clients.ByID(ctx, id)
	if err != nil {
		return adminClientError(err)
	}
	if err := o.Sessions.RevokeClient(ctx, c.ID); err != nil {
		return err
	}
	return adminClientError(o.Clients.Delete(ctx, c.ID))
}

// adminClientError is err as the admin routes answer it: an unknown client
// is a 404 there, not the authorization page's 400.
func adminClientError(err error) error {
	if errors.Is(err, ErrUnknownClient) {
		return ErrClientNotFound
	}
	return err
}
