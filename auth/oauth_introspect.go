package auth

import (
	"context"
	"crypto/subtle"
	"errors"
	"strings"
	"time"

	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/kit"
)

// Introspect implements OAuth (RFC 7662). Access tokens are checked as
// every service checks them, then against the revocation marks in the
// store itself, so a token revoked a moment ago is inactive at once
// whatever the verifier has cached. A refresh token is active only to the
// client it was issued to. Tokens are told apart by shape (a JWT has two
// dots, a refresh token one), so the hint is not needed.
func (o *OAuthServer) Introspect(ctx context.Context, ca ClientAuth, token, _ string) (Introspection, error) {
	c, err := o.authenticateClient(ctx, ca)
	if err != nil {
		return Introspection{}, err
	}
	if c.Public() {
		return Introspection{}, ErrInvalidClient.WithMessage("introspection is for confidential clients")
	}
	if token == "" {
		return Introspection{}, ErrOAuthInvalidRequest.WithMessage("token is required")
	}
	switch strings.Count(token, ".") {
	case 2:
		cl, ok, err := o.liveAccessToken(ctx, token)
		if err != nil || !ok {
			return Introspection{}, err
		}
		return Introspection{
			Active: true, Scope: strings.Join(cl.Scope, " "), ClientID: cl.ClientID, TokenType: "Bearer",
			Exp: cl.ExpiresAt.Unix(), Iat: unix(cl.IssuedAt), Nbf: unix(cl.NotBefore),
			Sub: cl.Subject, Aud: cl.Audience, Iss: cl.Issuer, Jti: cl.ID, Roles: cl.Roles,
		}, nil
	case 1:
		s, ok, err := o.liveRefreshToken(ctx, c, token)
		if err != nil || !ok {
			return Introspection{}, err
		}
		return Introspection{
			Active: true, Scope: strings.Join(s.Scope, " "), ClientID: s.ClientID, TokenType: "refresh_token",
			Exp: s.ExpiresAt.Unix(), Iat: s.CreatedAt.Unix(), Sub: s.UserID,
		}, nil
	}
	return Introspection{}, nil
}

// Revoke implements OAuth (RFC 7009): it ends the grant of a token the
// client holds (its session, so the access and refresh tokens of the
// grant stop together). A token that is invalid, expired, already revoked
// or another client's is left alone without an error.
func (o *OAuthServer) Revoke(ctx context.Context, ca ClientAuth, token, _ string) error {
	c, err := o.authenticateClient(ctx, ca)
	if err != nil {
		return err
	}
	if token == "" {
		return ErrOAuthInvalidRequest.WithMessage("token is required")
	}
	var sid string
	switch strings.Count(token, ".") {
	case 2:
		cl, ok, err := o.liveAccessToken(ctx, token)
		if err != nil || !ok || cl.ClientID != c.ID {
			return err
		}
		sid = cl.SessionID
	case 1:
		s, ok, err := o.liveRefreshToken(ctx, c, token)
		if err != nil || !ok {
			return err
		}
		sid = s.ID
	}
	if sid == "" {
		return nil
	}
	return o.Sessions.Revoke(ctx, sid)
}

// liveAccessToken verifies an access token and asks the store whether its
// sid is revoked. Errors: only when it cannot be checked (unavailable).
func (o *OAuthServer) liveAccessToken(ctx context.Context, token string) (kit.Claims, bool, error) {
	cl, err := o.Verifier.Verify(ctx, token)
	if err != nil {
		if errs.KindOf(err) == errs.Unauthenticated {
			return kit.Claims{}, false, nil
		}
		return kit.Claims{}, false, err
	}
	if cl.SessionID != "" {
		revoked, err := o.Sessions.Revoked(ctx, cl.SessionID)
		if err != nil || revoked {
			return kit.Claims{}, false, err
		}
	}
	return cl, true, nil
}

// liveRefreshToken returns the session of a current refresh token of c.
func (o *OAuthServer) liveRefreshToken(ctx context.Context, c Client, token string) (Session, bool, error) {
	sid, secret, _ := strings.Cut(token, ".")
	if sid == "" || secret == "" {
		return Session{}, false, nil
	}
	s, hash, err := o.Sessions.Get(ctx, sid)
	if errors.Is(err, ErrInvalidRefreshToken) {
		return Session{}, false, nil
	}
	if err != nil {
		return Session{}, false, err
	}
	if s.ClientID != c.ID || subtle.ConstantTimeCompare([]byte(hashSecret(secret)), []byte(hash)) != 1 {
		return Session{}, false, nil
	}
	return s, true, nil
}

// UserInfo implements OAuth (OIDC Core §5.3). A first-party token sees
// every claim; a client's needs openid, and profile and email for those.
func (o *OAuthServer) UserInfo(ctx context.Context, cl kit.Claims) (UserInfo, error) {
	if cl.IsService() {
		return UserInfo{}, kit.ErrForbidden.WithMessage("the token was issued to a client, not for a user")
	}
	first := cl.ClientID == ""
	if !first && !cl.HasScope(ScopeOpenID) {
		return UserInfo{}, ErrInsufficientScope
	}
	a, err := o.Users.ByID(ctx, cl.Subject)
	if err != nil {
		return UserInfo{}, err
	}
	info := UserInfo{Sub: a.ID, Roles: a.Roles}
	if first || cl.HasScope(ScopeProfile) {
		info.Name = a.Name
	}
	if first || cl.HasScope(ScopeEmail) {
		info.Email = a.Email
	}
	return info, nil
}

// unix is t in seconds, 0 (omitted) when t is zero.
func unix(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}
