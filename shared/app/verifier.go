package app

import (
	"errors"

	"github.com/azora-os/azora/shared/kit"
	"github.com/azora-os/azora/shared/revocation"
)

// Verifier returns the access-token verifier of this service: keys from
// jwksURL (Config.JWKSURL when empty), the platform's issuer and audience,
// and the revocation list in Redis, whose subscriber runs as a worker so a
// logged-out session is refused here within a second.
//
// opts, when given, tunes the revocation checker (its Logger is set here):
// auth passes NotRevokedTTL -1 so that a logout or role change it has just
// made is refused by its very next request, where other services accept
// up to DefaultNotRevokedTTL of delay through the pub/sub channel.
func (a *App) Verifier(jwksURL string, opts ...revocation.Options) (*kit.Verifier, error) {
	if jwksURL == "" {
		jwksURL = a.Config.JWKSURL
	}
	if a.Redis == nil {
		return nil, errors.New("app: token checks need Redis for the revocation list")
	}
	var o revocation.Options
	if len(opts) > 0 {
		o = opts[0]
	}
	o.Logger = a.Logger
	rc := revocation.New(a.Redis, RevocationPrefix(a.Config), o)
	a.Go("revocation subscriber", rc.Run)
	return kit.NewVerifier(kit.VerifierConfig{
		JWKSURL: jwksURL, Issuer: a.Config.Issuer, Audience: a.Config.Audience, Revocations: rc,
	})
}

// RevocationPrefix is where auth marks revoked sessions and every
// service's checker looks: the platform key prefix plus "auth:".
func RevocationPrefix(c Config) string { return c.KeyPrefix + "auth:" }
