package auth

import (
	"context"
	"errors"

	"github.com/go-kit/kit/endpoint"
	"github.com/go-kit/log"

	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/httpx"
	"github.com/azora-os/azora/shared/kit"
	"github.com/azora-os/azora/shared/page"
)

// Endpoints holds one go-kit endpoint per Service method. Server side,
// MakeEndpoints builds them over a Service; client side, NewHTTPClient
// builds them over HTTP, and Endpoints' methods then satisfy Service.
type Endpoints struct {
	RegisterEndpoint      endpoint.Endpoint
	LoginEndpoint         endpoint.Endpoint
	LoginMFAEndpoint      endpoint.Endpoint
	RefreshEndpoint       endpoint.Endpoint
	LogoutEndpoint        endpoint.Endpoint
	MeEndpoint            endpoint.Endpoint
	SetupTOTPEndpoint     endpoint.Endpoint
	EnableTOTPEndpoint    endpoint.Endpoint
	DisableTOTPEndpoint   endpoint.Endpoint
	PasswordEndpoint      endpoint.Endpoint
	SessionsEndpoint      endpoint.Endpoint
	RevokeSessionEndpoint endpoint.Endpoint
	RevokeOthersEndpoint  endpoint.Endpoint
	ListUsersEndpoint     endpoint.Endpoint
	GetUserEndpoint       endpoint.Endpoint // nil in NewHTTPClient: no Service method calls it
	SetRolesEndpoint      endpoint.Endpoint
	JWKSEndpoint          endpoint.Endpoint
}

// userRoles are the roles of a person's account. User routes demand one of
// them rather than any valid token, so a token without a user behind it
// (an OAuth client's) cannot reach them, and a route built without a
// Verifier fails closed (kit.RBAC answers missing_token).
var userRoles = []string{RoleStudent, RoleInstructor, RoleAdmin}

// MakeEndpoints returns s's endpoints, each wrapped in kit.Chain with its
// name and what it needs: register, login, login_mfa, refresh and jwks are
// public (no JWT step); logout, me and the mfa_totp_* endpoints need a user
// token verified by v; set_roles needs the admin role. The user and session
// of user endpoints always come from the verified claims, never from the
// request. m may be nil (no metrics).
func MakeEndpoints(s Service, logger log.Logger, m *kit.Metrics, v *kit.Verifier) Endpoints {
	public := func(name string, ep endpoint.Endpoint) endpoint.Endpoint {
		return kit.Chain(logger, m, kit.Spec{Name: name})(ep)
	}
	user := func(name string, ep endpoint.Endpoint) endpoint.Endpoint {
		return kit.Chain(logger, m, kit.Spec{Name: name, Verifier: v, Roles: userRoles})(ep)
	}
	admin := func(name string, ep endpoint.Endpoint) endpoint.Endpoint {
		return kit.Chain(logger, m, kit.Spec{Name: name, Verifier: v, Roles: []string{RoleAdmin}})(ep)
	}
	return Endpoints{
		RegisterEndpoint:      public("register", makeRegisterEndpoint(s)),
		LoginEndpoint:         public("login", makeLoginEndpoint(s)),
		LoginMFAEndpoint:      public("login_mfa", makeLoginMFAEndpoint(s)),
		RefreshEndpoint:       public("refresh", makeRefreshEndpoint(s)),
		LogoutEndpoint:        user("logout", makeLogoutEndpoint(s)),
		MeEndpoint:            user("me", makeMeEndpoint(s)),
		SetupTOTPEndpoint:     user("mfa_totp_setup", makeSetupTOTPEndpoint(s)),
		EnableTOTPEndpoint:    user("mfa_totp_enable", makeEnableTOTPEndpoint(s)),
		DisableTOTPEndpoint:   user("mfa_totp_disable", makeDisableTOTPEndpoint(s)),
		PasswordEndpoint:      user("change_password", makeChangePasswordEndpoint(s)),
		SessionsEndpoint:      user("list_sessions", makeListSessionsEndpoint(s)),
		RevokeSessionEndpoint: user("revoke_session", makeRevokeSessionEndpoint(s)),
		RevokeOthersEndpoint:  user("revoke_other_sessions", makeRevokeOthersEndpoint(s)),
		ListUsersEndpoint:     admin("list_users", makeListUsersEndpoint(s)),
		GetUserEndpoint:       admin("get_user", makeGetUserEndpoint(s)),
		SetRolesEndpoint:      admin("set_roles", makeSetRolesEndpoint(s)),
		JWKSEndpoint:          public("jwks", makeJWKSEndpoint(s)),
	}
}

// caller returns the verified claims the JWT step put in ctx. Without them
// the endpoint was wired without a Verifier: refuse rather than trust
// anything else.
func caller(ctx context.Context) (kit.Claims, error) {
	c, ok := kit.ClaimsFrom(ctx)
	if !ok {
		return kit.Claims{}, kit.ErrMissingToken
	}
	return c, nil
}

func makeRegisterEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		req := request.(RegisterRequest)
		if err := validateRegister(&req); err != nil {
			return nil, err
		}
		u, err := s.Register(ctx, req)
		if err != nil {
			return nil, err
		}
		return userResponse{User: u}, nil
	}
}

func makeLoginEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		req := request.(LoginRequest)
		if err := validateLogin(&req); err != nil {
			return nil, err
		}
		res, err := s.Login(ctx, req)
		if err != nil {
			return nil, err
		}
		if res.Tokens == nil && res.MFAToken == "" {
			return nil, errs.Internalf(errors.New("neither tokens nor an MFA token"), "auth: login result")
		}
		return loginResponse{Tokens: res.Tokens, MFARequired: res.Tokens == nil, MFAToken: res.MFAToken}, nil
	}
}

func makeLoginMFAEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		req := request.(loginMFARequest)
		if err := req.validate(); err != nil {
			return nil, err
		}
		return s.LoginMFA(ctx, req.MFAToken, req.Code)
	}
}

func makeRefreshEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		req := request.(refreshRequest)
		if err := req.validate(); err != nil {
			return nil, err
		}
		return s.Refresh(ctx, req.RefreshToken)
	}
}

func makeLogoutEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, _ any) (any, error) {
		c, err := caller(ctx)
		if err != nil {
			return nil, err
		}
		if c.SessionID == "" {
			return nil, kit.ErrInvalidToken.WithMessage("token has no session")
		}
		if err := s.Logout(ctx, c.SessionID); err != nil {
			return nil, err
		}
		return httpx.NoContent{}, nil
	}
}

func makeMeEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, _ any) (any, error) {
		c, err := caller(ctx)
		if err != nil {
			return nil, err
		}
		u, err := s.Me(ctx, c.Subject)
		if err != nil {
			return nil, err
		}
		return userResponse{User: u}, nil
	}
}

func makeSetupTOTPEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, _ any) (any, error) {
		c, err := caller(ctx)
		if err != nil {
			return nil, err
		}
		return s.SetupTOTP(ctx, c.Subject)
	}
}

func makeEnableTOTPEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		c, err := caller(ctx)
		if err != nil {
			return nil, err
		}
		req := request.(codeRequest)
		if err := req.validate(); err != nil {
			return nil, err
		}
		codes, err := s.EnableTOTP(ctx, c.Subject, req.Code)
		if err != nil {
			return nil, err
		}
		return recoveryCodesResponse{RecoveryCodes: codes}, nil
	}
}

func makeDisableTOTPEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		c, err := caller(ctx)
		if err != nil {
			return nil, err
		}
		req := request.(codeRequest)
		if err := req.validate(); err != nil {
			return nil, err
		}
		if err := s.DisableTOTP(ctx, c.Subject, req.Code); err != nil {
			return nil, err
		}
		return httpx.NoContent{}, nil
	}
}

func makeChangePasswordEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		c, err := caller(ctx)
		if err != nil {
			return nil, err
		}
		req := request.(ChangePasswordRequest)
		if err := validateChangePassword(&req); err != nil {
			return nil, err
		}
		req.UserID, req.SessionID = c.Subject, c.SessionID
		if err := s.ChangePassword(ctx, req); err != nil {
			return nil, err
		}
		return httpx.NoContent{}, nil
	}
}

func makeListSessionsEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		c, err := caller(ctx)
		if err != nil {
			return nil, err
		}
		return s.ListSessions(ctx, c.Subject, c.SessionID, request.(page.Request))
	}
}

func makeRevokeSessionEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		c, err := caller(ctx)
		if err != nil {
			return nil, err
		}
		if err := s.RevokeSession(ctx, c.Subject, request.(idRequest).ID); err != nil {
			return nil, err
		}
		return httpx.NoContent{}, nil
	}
}

func makeRevokeOthersEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, _ any) (any, error) {
		c, err := caller(ctx)
		if err != nil {
			return nil, err
		}
		if err := s.RevokeOtherSessions(ctx, c.Subject, c.SessionID); err != nil {
			return nil, err
		}
		return httpx.NoContent{}, nil
	}
}

func makeListUsersEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		req := request.(listUsersRequest)
		return s.ListUsers(ctx, req.Filter, req.Page)
	}
}

// makeGetUserEndpoint serves an admin's look at any user: Me's answer
// for the path's id.
func makeGetUserEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		u, err := s.Me(ctx, request.(idRequest).ID)
		if err != nil {
			return nil, err
		}
		return userResponse{User: u}, nil
	}
}

func makeSetRolesEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		req := request.(setRolesRequest)
		if err := req.validate(); err != nil {
			return nil, err
		}
		u, err := s.SetRoles(ctx, req.UserID, req.Roles)
		if err != nil {
			return nil, err
		}
		return userResponse{User: u}, nil
	}
}

func makeJWKSEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, _ any) (any, error) {
		return s.JWKS(ctx)
	}
}
