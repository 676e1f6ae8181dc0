package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/azora-os/azora/shared/errs"
)

// Token implements OAuth. The grant type is checked before the client, so
// an unsupported grant costs no lookup; the client before the grant's
// parameters, so nothing about a code or token is told to a stranger.
func (o *OAuthServer) Token(ctx context.Context, req TokenRequest) (TokenResponse, error) {
	switch req.GrantType {
	case GrantAuthorizationCode, GrantClientCredentials, GrantRefreshToken:
	case "":
		return TokenResponse{}, ErrOAuthInvalidRequest.WithMessage("grant_type is required")
	default:
		return TokenResponse{}, ErrUnsupportedGrantType.WithMessage("grant type %q is not supported; use authorization_code, client_credentials or refresh_token", req.GrantType)
	}
	c, err := o.authenticateClient(ctx, req.Client)
	if err != nil {
		return TokenResponse{}, err
	}
	if !c.Allows(req.GrantType) {
		return TokenResponse{}, ErrUnauthorizedClient.WithMessage("the client is not registered for %s", req.GrantType)
	}
	switch req.GrantType {
	case GrantAuthorizationCode:
		return o.exchangeCode(ctx, c, req)
	case GrantRefreshToken:
		return o.refreshGrant(ctx, c, req)
	default:
		return o.clientCredentials(ctx, c, req)
	}
}

// exchangeCode is the authorization_code grant (RFC 6749 §4.1.3, RFC 7636
// §4.6). A code that was exchanged before revokes the session its first
// exchange started (RFC 6749 §4.1.2). Checks that fail leave the code
// usable by its rightful client: its verifier cannot be guessed.
func (o *OAuthServer) exchangeCode(ctx context.Context, c Client, req TokenRequest) (TokenResponse, error) {
	switch {
	case req.Code == "" || req.RedirectURI == "" || req.CodeVerifier == "":
		return TokenResponse{}, ErrOAuthInvalidRequest.WithMessage("code, redirect_uri and code_verifier are required")
	case !validCodeVerifier(req.CodeVerifier):
		return TokenResponse{}, ErrOAuthInvalidRequest.WithMessage("code_verifier must be 43 to 128 unreserved characters")
	}
	hash := hashSecret(req.Code)
	code, err := o.Store.Code(ctx, hash)
	if err != nil {
		return TokenResponse{}, err
	}
	if code.SID != "" {
		return TokenResponse{}, o.codeReused(ctx, hash)
	}
	switch {
	case code.ClientID != c.ID:
		return TokenResponse{}, ErrInvalidGrant.WithMessage("the code was issued to another client")
	case code.RedirectURI != req.RedirectURI:
		return TokenResponse{}, ErrInvalidGrant.WithMessage("redirect_uri differs from the authorization request's")
	case !pkceMatches(req.CodeVerifier, code.Challenge):
		return TokenResponse{}, ErrInvalidGrant.WithMessage("the code_verifier does not match the code_challenge")
	}
	sid, err := uuid.NewV7()
	if err != nil {
		return TokenResponse{}, errs.Internalf(err, "new session id")
	}
	first, earlier, err := o.Store.RedeemCode(ctx, hash, sid.String(), o.ocfg.CodeReuseWindow)
	if err != nil {
		return TokenResponse{}, err
	}
	if !first { // a concurrent exchange won
		return TokenResponse{}, o.revokeReused(ctx, earlier)
	}
	a, err := o.Users.ByID(ctx, code.UserID)
	if errors.Is(err, ErrUserNotFound) {
		return TokenResponse{}, ErrInvalidGrant.WithMessage("the user is gone")
	}
	if err != nil {
		return TokenResponse{}, err
	}
	secret, err := randomToken()
	if err != nil {
		return TokenResponse{}, err
	}
	sess := Session{
		ID: sid.String(), UserID: a.ID, Roles: a.Roles, AMR: code.AMR,
		CreatedAt: code.AuthTime, ExpiresAt: o.cfg.Clock().UTC().Add(o.cfg.SessionTTL),
		ClientID: c.ID, Scope: stillAllowed(code.Scope, c),
	}
	// A session even without a refresh token: it is what a reused code,
	// a revocation or a role change revokes.
	if err := o.Sessions.Create(ctx, sess, hashSecret(secret)); err != nil {
		return TokenResponse{}, err
	}
	// The code may have come back between the redemption and the session:
	// its revocation then ran before Create, so revoke again.
	reused, err := o.Store.CodeReused(ctx, hash)
	if err != nil {
		return TokenResponse{}, err // the session's tokens were never handed out
	}
	if reused {
		return TokenResponse{}, o.revokeReused(ctx, sess.ID)
	}
	return o.grantTokens(ctx, c, a.User, sess, secret, code.Nonce, sess.Scope)
}

// codeReused flags a code presented again and revokes what it gave.
func (o *OAuthServer) codeReused(ctx context.Context, hash string) error {
	_, earlier, err := o.Store.RedeemCode(ctx, hash, "", o.ocfg.CodeReuseWindow)
	if err != nil {
		return err
	}
	return o.revokeReused(ctx, earlier)
}

// revokeReused revokes the session of a reused code and says so.
func (o *OAuthServer) revokeReused(ctx context.Context, sid string) error {
	if sid != "" {
		if err := o.Sessions.Revoke(ctx, sid); err != nil {
			return err
		}
	}
	return ErrInvalidGrant.WithMessage("the code was already used; the tokens issued for it are revoked")
}

// refreshGrant is the refresh_token grant (RFC 6749 §6), rotating the
// session's refresh token as the first-party refresh does, for the
// client the session was granted to only. A narrower scope applies to the
// new access token; the grant keeps its own.
func (o *OAuthServer) refreshGrant(ctx context.Context, c Client, req TokenRequest) (TokenResponse, error) {
	if req.RefreshToken == "" {
		return TokenResponse{}, ErrOAuthInvalidRequest.WithMessage("refresh_token is required")
	}
	sid, secret, ok := strings.Cut(req.RefreshToken, ".")
	if !ok || sid == "" || secret == "" {
		return TokenResponse{}, ErrInvalidGrant
	}
	next, err := randomToken()
	if err != nil {
		return TokenResponse{}, err
	}
	sess, err := o.Sessions.RotateClient(ctx, sid, c.ID, hashSecret(secret), hashSecret(next))
	switch {
	case errors.Is(err, ErrRefreshTokenReused):
		return TokenResponse{}, ErrInvalidGrant.WithMessage("the refresh token was already used; the grant has been revoked")
	case errors.Is(err, ErrInvalidRefreshToken):
		return TokenResponse{}, ErrInvalidGrant
	case err != nil:
		return TokenResponse{}, err
	}
	a, err := o.Users.ByID(ctx, sess.UserID)
	if errors.Is(err, ErrUserNotFound) {
		return TokenResponse{}, errors.Join(ErrInvalidGrant, o.Sessions.Revoke(ctx, sid))
	}
	if err != nil {
		return TokenResponse{}, err
	}
	sess.Roles = a.Roles
	allowed := stillAllowed(sess.Scope, c)
	scope, err := grantedScopes(req.Scope, allowed, allowed)
	if err != nil {
		return TokenResponse{}, err
	}
	return o.grantTokens(ctx, c, a.User, sess, next, "", scope)
}

// clientCredentials is the client_credentials grant (RFC 6749 §4.4): a
// service identity, sub = client_id, no user roles, the client's service
// scopes (all of them unless fewer are asked for). It gets a sid of its
// own, with no session behind it, so that revoking it reaches every
// service through the revocation list; the sid is tracked under the
// client, so deleting the client revokes it too.
func (o *OAuthServer) clientCredentials(ctx context.Context, c Client, req TokenRequest) (TokenResponse, error) {
	if c.Public() {
		return TokenResponse{}, ErrUnauthorizedClient.WithMessage("a public client cannot use client_credentials")
	}
	var service []string
	for _, s := range c.Scopes {
		if s != ScopeOpenID && s != ScopeProfile && s != ScopeEmail {
			service = append(service, s)
		}
	}
	scope, err := grantedScopes(req.Scope, service, service)
	if err != nil {
		return TokenResponse{}, err
	}
	sid, err := uuid.NewV7()
	if err != nil {
		return TokenResponse{}, errs.Internalf(err, "new grant id")
	}
	now := o.cfg.Clock().UTC()
	if err := o.Sessions.TrackGrant(ctx, c.ID, sid.String(), now.Add(o.cfg.AccessTTL)); err != nil {
		return TokenResponse{}, err
	}
	access, err := o.signAccess(ctx, AccessClaims{Subject: c.ID, SessionID: sid.String(), ClientID: c.ID, Scope: scope, IssuedAt: now})
	if err != nil {
		return TokenResponse{}, err
	}
	return TokenResponse{AccessToken: access, TokenType: "Bearer", ExpiresIn: o.expiresIn(), Scope: strings.Join(scope, " ")}, nil
}

// grantTokens signs the tokens of a user's grant: the access token, the
// refresh token when the client may refresh, and an ID token when the
// openid scope was granted.
func (o *OAuthServer) grantTokens(ctx context.Context, c Client, u User, sess Session, secret, nonce string, scope []string) (TokenResponse, error) {
	now := o.cfg.Clock().UTC()
	access, err := o.signAccess(ctx, AccessClaims{
		Subject: u.ID, SessionID: sess.ID, Roles: sess.Roles, AMR: sess.AMR,
		ClientID: c.ID, Scope: scope, IssuedAt: now,
	})
	if err != nil {
		return TokenResponse{}, err
	}
	resp := TokenResponse{AccessToken: access, TokenType: "Bearer", ExpiresIn: o.expiresIn(), Scope: strings.Join(scope, " ")}
	if c.Allows(GrantRefreshToken) {
		resp.RefreshToken = sess.ID + "." + secret
	}
	if !slices.Contains(scope, ScopeOpenID) {
		return resp, nil
	}
	id := IDTokenClaims{
		Subject: u.ID, Audience: c.ID, Nonce: nonce, AuthTime: sess.CreatedAt, AMR: sess.AMR,
		AccessTokenHash: atHash(access), IssuedAt: now, ExpiresAt: now.Add(o.cfg.AccessTTL),
	}
	if slices.Contains(scope, ScopeProfile) {
		id.Name = u.Name
	}
	if slices.Contains(scope, ScopeEmail) {
		id.Email = u.Email
	}
	if resp.IDToken, err = o.IDTokens.SignIDToken(ctx, id); err != nil {
		return TokenResponse{}, err
	}
	return resp, nil
}

// signAccess signs an access token living AccessTTL from c.IssuedAt (now
// when zero), with a fresh jti.
func (o *OAuthServer) signAccess(ctx context.Context, c AccessClaims) (string, error) {
	jti, err := uuid.NewV7()
	if err != nil {
		return "", errs.Internalf(err, "new token id")
	}
	if c.IssuedAt.IsZero() {
		c.IssuedAt = o.cfg.Clock().UTC()
	}
	c.ID, c.ExpiresAt = jti.String(), c.IssuedAt.Add(o.cfg.AccessTTL)
	return o.Signer.Sign(ctx, c)
}

func (o *OAuthServer) expiresIn() int { return int(o.cfg.AccessTTL / time.Second) }

// pkceMatches checks an S256 code verifier against its challenge.
func pkceMatches(verifier, challenge string) bool {
	sum := sha256.Sum256([]byte(verifier))
	return subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(challenge)) == 1
}

// atHash is an ID token's at_hash (OIDC Core §3.1.3.6): the left half of
// the access token's SHA-256, base64url.
func atHash(access string) string {
	sum := sha256.Sum256([]byte(access))
	return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2])
}
