package auth

import (
	"context"
	"strings"

	"github.com/azora-os/azora/shared/errs"
)

// Bounds of the authorization request's free-form parameters.
const (
	maxStateLen        = 1024 // state and nonce
	codeChallengeLen   = 43   // BASE64URL(SHA-256), no padding
	minCodeVerifierLen = 43
	maxCodeVerifierLen = 128
)

// Authorize implements OAuth. The client and its redirect URI are checked
// first: until both are known good, nothing may be sent to the URI.
func (o *OAuthServer) Authorize(ctx context.Context, req AuthorizationRequest) (Authorization, error) {
	if req.ClientID == "" {
		return Authorization{}, ErrUnknownClient.WithMessage("client_id is required")
	}
	c, err := o.Clients.ByID(ctx, req.ClientID)
	if err != nil {
		return Authorization{}, err
	}
	if req.RedirectURI == "" || !matchRedirectURI(c.RedirectURIs, req.RedirectURI) {
		return Authorization{}, ErrRedirectURIMismatch
	}
	redirect := func(e *errs.Error) error {
		return &RedirectError{Err: e, RedirectURI: req.RedirectURI, State: req.State}
	}
	invalid := ErrOAuthInvalidRequest.WithMessage
	switch {
	case req.ResponseType == "":
		return Authorization{}, redirect(invalid("response_type is required"))
	case req.ResponseType != "code":
		return Authorization{}, redirect(ErrUnsupportedResponseType)
	case !c.Allows(GrantAuthorizationCode):
		return Authorization{}, redirect(ErrUnauthorizedClient)
	case len(req.State) > maxStateLen || len(req.Nonce) > maxStateLen:
		return Authorization{}, redirect(invalid("state and nonce must be at most %d characters", maxStateLen))
	case req.CodeChallenge == "":
		return Authorization{}, redirect(invalid("code_challenge is required (PKCE with S256)"))
	case req.CodeChallengeMethod != PKCEMethodS256:
		return Authorization{}, redirect(invalid("code_challenge_method must be S256; plain is not supported"))
	case len(req.CodeChallenge) != codeChallengeLen || !base64URLChars(req.CodeChallenge):
		return Authorization{}, redirect(invalid("code_challenge must be 43 base64url characters"))
	}
	scopes, err := grantedScopes(req.Scope, c.Scopes, nil)
	if err != nil {
		return Authorization{}, redirect(errs.As(err))
	}
	return Authorization{Request: req, ClientName: c.Name, Scopes: scopes}, nil
}

// SignIn implements OAuth: the password step, under Login's rate limits.
func (o *OAuthServer) SignIn(ctx context.Context, req AuthorizationRequest, login LoginRequest) (SignInResult, error) {
	az, err := o.Authorize(ctx, req)
	if err != nil {
		return SignInResult{}, err
	}
	a, err := o.checkPassword(ctx, login)
	if err != nil {
		return SignInResult{}, err
	}
	if a.MFAEnabled {
		token, err := o.Challenges.NewMFA(ctx, MFAChallenge{UserID: a.ID}, o.cfg.MFATokenTTL)
		if err != nil {
			return SignInResult{}, err
		}
		return SignInResult{Authorization: az, MFAToken: token}, nil
	}
	return o.pendingConsent(ctx, az, a.ID, []string{AMRPassword})
}

// SignInMFA implements OAuth: the code step, as LoginMFA's.
func (o *OAuthServer) SignInMFA(ctx context.Context, req AuthorizationRequest, mfaToken, code string) (SignInResult, error) {
	az, err := o.Authorize(ctx, req)
	if err != nil {
		return SignInResult{}, err
	}
	a, err := o.checkSecondFactor(ctx, mfaToken, code)
	if err != nil {
		return SignInResult{}, err
	}
	return o.pendingConsent(ctx, az, a.ID, []string{AMRPassword, AMROTP})
}

// pendingConsent keeps a signed-in user's authorization until they answer.
func (o *OAuthServer) pendingConsent(ctx context.Context, az Authorization, userID string, amr []string) (SignInResult, error) {
	token, err := o.Store.SaveConsent(ctx, Consent{
		Request: az.Request, UserID: userID, AMR: amr, AuthTime: o.cfg.Clock().UTC(),
	}, o.ocfg.ConsentTTL)
	if err != nil {
		return SignInResult{}, err
	}
	return SignInResult{Authorization: az, ConsentToken: token}, nil
}

// Consent implements OAuth. The pending authorization is taken once,
// whatever the answer; the request is checked again, in case the client
// changed meanwhile.
func (o *OAuthServer) Consent(ctx context.Context, consentToken string, allow bool) (AuthorizationResponse, error) {
	c, err := o.Store.TakeConsent(ctx, consentToken)
	if err != nil {
		return AuthorizationResponse{}, err
	}
	az, err := o.Authorize(ctx, c.Request)
	if err != nil {
		return AuthorizationResponse{}, err
	}
	if !allow {
		return AuthorizationResponse{}, &RedirectError{Err: ErrAccessDenied, RedirectURI: c.Request.RedirectURI, State: c.Request.State}
	}
	code, err := randomToken()
	if err != nil {
		return AuthorizationResponse{}, err
	}
	err = o.Store.SaveCode(ctx, hashSecret(code), AuthCode{
		ClientID: c.Request.ClientID, RedirectURI: c.Request.RedirectURI, UserID: c.UserID,
		Scope: az.Scopes, Nonce: c.Request.Nonce, Challenge: c.Request.CodeChallenge,
		AMR: c.AMR, AuthTime: c.AuthTime,
	}, o.ocfg.CodeTTL)
	if err != nil {
		return AuthorizationResponse{}, err
	}
	return AuthorizationResponse{RedirectURI: c.Request.RedirectURI, Code: code, State: c.Request.State}, nil
}

// base64URLChars reports whether s is all base64url characters.
func base64URLChars(s string) bool {
	return strings.Trim(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == ""
}

// validCodeVerifier checks RFC 7636 §4.1: 43 to 128 unreserved characters.
func validCodeVerifier(v string) bool {
	return len(v) >= minCodeVerifierLen && len(v) <= maxCodeVerifierLen &&
		strings.Trim(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~") == ""
}
