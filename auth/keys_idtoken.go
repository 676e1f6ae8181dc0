package auth

import (
	"context"
	"errors"

	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/azora-os/azora/shared/errs"
)

var _ IDTokenSigner = (*KeyManager)(nil)

// idTokenClaims is the ID token payload (OIDC Core §2, §5.1).
type idTokenClaims struct {
	Issuer          string           `json:"iss"`
	Subject         string           `json:"sub"`
	Audience        jwt.Audience     `json:"aud"`
	AuthorizedParty string           `json:"azp"`
	Expiry          *jwt.NumericDate `json:"exp"`
	IssuedAt        *jwt.NumericDate `json:"iat"`
	AuthTime        *jwt.NumericDate `json:"auth_time,omitempty"`
	Nonce           string           `json:"nonce,omitempty"`
	AMR             []string         `json:"amr,omitempty"`
	AccessTokenHash string           `json:"at_hash,omitempty"`
	Email           string           `json:"email,omitempty"`
	Name            string           `json:"name,omitempty"`
}

// SignIDToken returns an RS256 ID token for c, signed with the key active
// now and typed JWT (not at+jwt: no service takes it for an access token,
// and its audience is the client, not the platform). Zero times default as
// in Sign. Errors: those of Sign, and internal for claims without an
// audience.
func (m *KeyManager) SignIDToken(ctx context.Context, c IDTokenClaims) (string, error) {
	k, err := m.stamp(ctx, c.Subject, &c.IssuedAt, &c.ExpiresAt)
	if err != nil {
		return "", err
	}
	if c.Audience == "" {
		return "", errs.Internalf(errors.New("no audience"), "sign ID token")
	}
	claims := idTokenClaims{
		Issuer:          m.cfg.Issuer,
		Subject:         c.Subject,
		Audience:        jwt.Audience{c.Audience},
		AuthorizedParty: c.Audience,
		Expiry:          jwt.NewNumericDate(c.ExpiresAt),
		IssuedAt:        jwt.NewNumericDate(c.IssuedAt),
		Nonce:           c.Nonce,
		AMR:             c.AMR,
		AccessTokenHash: c.AccessTokenHash,
		Email:           c.Email,
		Name:            c.Name,
	}
	if !c.AuthTime.IsZero() {
		claims.AuthTime = jwt.NewNumericDate(c.AuthTime)
	}
	tok, err := jwt.Signed(k.idSigner).Claims(claims).Serialize()
	if err != nil {
		return "", errs.Internalf(err, "sign ID token with key %s", k.meta.ID)
	}
	return tok, nil
}
