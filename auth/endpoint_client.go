package auth

import (
	"context"

	"github.com/azora-os/azora/shared/kit"
	"github.com/azora-os/azora/shared/page"
)

// Endpoints satisfies Service, so other Go code calls auth through
// NewHTTPClient's Endpoints as if in process. User methods act for the
// caller of ctx (its bearer token over HTTP, its verified claims in
// process), not for an id argument: see Logout, Me and the TOTP methods.
var _ Service = Endpoints{}

// Register implements Service. Errors: validation_failed, weak_password,
// email_taken.
func (e Endpoints) Register(ctx context.Context, req RegisterRequest) (User, error) {
	resp, err := e.RegisterEndpoint(ctx, req)
	if err != nil {
		return User{}, err
	}
	return resp.(userResponse).User, nil
}

// Login implements Service. Over HTTP, req.ClientIP is not sent: auth
// limits by the address it sees. Errors: validation_failed,
// invalid_credentials, rate_limited (with a RetryAfter method).
func (e Endpoints) Login(ctx context.Context, req LoginRequest) (LoginResult, error) {
	resp, err := e.LoginEndpoint(ctx, req)
	if err != nil {
		return LoginResult{}, err
	}
	r := resp.(loginResponse)
	if r.MFARequired {
		return LoginResult{MFAToken: r.MFAToken}, nil
	}
	return LoginResult{Tokens: r.Tokens}, nil
}

// LoginMFA implements Service. Errors: validation_failed,
// invalid_mfa_token, invalid_code.
func (e Endpoints) LoginMFA(ctx context.Context, mfaToken, code string) (Tokens, error) {
	resp, err := e.LoginMFAEndpoint(ctx, loginMFARequest{MFAToken: mfaToken, Code: code})
	if err != nil {
		return Tokens{}, err
	}
	return resp.(Tokens), nil
}

// Refresh implements Service. Errors: validation_failed,
// invalid_refresh_token, refresh_token_reused.
func (e Endpoints) Refresh(ctx context.Context, refreshToken string) (Tokens, error) {
	resp, err := e.RefreshEndpoint(ctx, refreshRequest{RefreshToken: refreshToken})
	if err != nil {
		return Tokens{}, err
	}
	return resp.(Tokens), nil
}

// Logout implements Service: it ends the session of ctx's caller; sid is
// not sent. Errors: missing_token, invalid_token.
func (e Endpoints) Logout(ctx context.Context, _ string) error {
	_, err := e.LogoutEndpoint(ctx, emptyRequest{})
	return err
}

// Me implements Service: it returns ctx's caller, and refuses with
// forbidden when userID is set and names someone else. Errors:
// missing_token, invalid_token, forbidden, user_not_found.
func (e Endpoints) Me(ctx context.Context, userID string) (User, error) {
	resp, err := e.MeEndpoint(ctx, emptyRequest{})
	if err != nil {
		return User{}, err
	}
	u := resp.(userResponse).User
	if userID != "" && u.ID != userID {
		return User{}, kit.ErrForbidden.WithMessage("the caller's token belongs to another user")
	}
	return u, nil
}

// SetupTOTP implements Service for ctx's caller; userID is not sent.
// Errors: missing_token, invalid_token, mfa_already_enabled.
func (e Endpoints) SetupTOTP(ctx context.Context, _ string) (TOTPSetup, error) {
	resp, err := e.SetupTOTPEndpoint(ctx, emptyRequest{})
	if err != nil {
		return TOTPSetup{}, err
	}
	return resp.(TOTPSetup), nil
}

// EnableTOTP implements Service for ctx's caller; userID is not sent.
// Errors: missing_token, invalid_token, validation_failed, mfa_not_set_up,
// mfa_already_enabled, invalid_code.
func (e Endpoints) EnableTOTP(ctx context.Context, _, code string) ([]string, error) {
	resp, err := e.EnableTOTPEndpoint(ctx, codeRequest{Code: code})
	if err != nil {
		return nil, err
	}
	return resp.(recoveryCodesResponse).RecoveryCodes, nil
}

// DisableTOTP implements Service for ctx's caller; userID is not sent.
// Errors: missing_token, invalid_token, validation_failed,
// mfa_not_enabled, invalid_code.
func (e Endpoints) DisableTOTP(ctx context.Context, _, code string) error {
	_, err := e.DisableTOTPEndpoint(ctx, codeRequest{Code: code})
	return err
}

// ChangePassword implements Service for ctx's caller: req's UserID,
// SessionID and ClientIP are not sent (the server takes them from the
// token and the connection). Errors: missing_token, invalid_token,
// validation_failed, wrong_password, weak_password, rate_limited.
func (e Endpoints) ChangePassword(ctx context.Context, req ChangePasswordRequest) error {
	_, err := e.PasswordEndpoint(ctx, ChangePasswordRequest{CurrentPassword: req.CurrentPassword, NewPassword: req.NewPassword})
	return err
}

// ListSessions implements Service for ctx's caller (userID and currentSID
// are the token's, not sent). Errors: missing_token, invalid_token,
// validation_failed, invalid_cursor.
func (e Endpoints) ListSessions(ctx context.Context, _, _ string, p page.Request) (page.Page[SessionInfo], error) {
	resp, err := e.SessionsEndpoint(ctx, p)
	if err != nil {
		return page.Page[SessionInfo]{}, err
	}
	return resp.(page.Page[SessionInfo]), nil
}

// RevokeSession implements Service for ctx's caller (userID is the
// token's, not sent). Errors: missing_token, invalid_token,
// session_not_found.
func (e Endpoints) RevokeSession(ctx context.Context, _, sid string) error {
	_, err := e.RevokeSessionEndpoint(ctx, idRequest{ID: sid})
	return err
}

// RevokeOtherSessions implements Service for ctx's caller: every session
// but the token's own (userID and keepSID are the token's, not sent).
// Errors: missing_token, invalid_token.
func (e Endpoints) RevokeOtherSessions(ctx context.Context, _, _ string) error {
	_, err := e.RevokeOthersEndpoint(ctx, emptyRequest{})
	return err
}

// ListUsers implements Service; ctx's caller must be an admin. Errors:
// missing_token, invalid_token, forbidden, validation_failed,
// invalid_role, invalid_cursor.
func (e Endpoints) ListUsers(ctx context.Context, f UserFilter, p page.Request) (page.Page[User], error) {
	resp, err := e.ListUsersEndpoint(ctx, listUsersRequest{Filter: f, Page: p})
	if err != nil {
		return page.Page[User]{}, err
	}
	return resp.(page.Page[User]), nil
}

// SetRoles implements Service; ctx's caller must be an admin. Errors:
// missing_token, invalid_token, forbidden, validation_failed, invalid_role,
// user_not_found.
func (e Endpoints) SetRoles(ctx context.Context, userID string, roles []string) (User, error) {
	resp, err := e.SetRolesEndpoint(ctx, setRolesRequest{UserID: userID, Roles: roles})
	if err != nil {
		return User{}, err
	}
	return resp.(userResponse).User, nil
}

// JWKS implements Service. Errors: no_signing_key.
func (e Endpoints) JWKS(ctx context.Context) (JWKS, error) {
	resp, err := e.JWKSEndpoint(ctx, emptyRequest{})
	if err != nil {
		return JWKS{}, err
	}
	return resp.(JWKS), nil
}
