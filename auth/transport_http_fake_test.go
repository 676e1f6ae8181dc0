package auth_test

import (
	"context"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/azora-os/azora/auth"
	"github.com/azora-os/azora/shared/logging"
	"github.com/azora-os/azora/shared/page"
)

// htCreatedAt is the creation time of every user the fake returns.
var htCreatedAt = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// htTokens is what the fake's token-issuing methods answer.
var htTokens = auth.Tokens{AccessToken: "access.jwt.token", RefreshToken: "sid.secret", TokenType: "Bearer", ExpiresIn: 900}

// htFake is a hand-written auth.Service: it records each method's last
// arguments (and the request id of its ctx) and answers a fixed result, or
// the error set for the method in fail.
type htFake struct {
	mu    sync.Mutex
	fail  map[string]error
	mfa   bool // Login asks for a second factor
	calls map[string][]any
	reqID map[string]string
}

func newHTFake() *htFake {
	return &htFake{fail: map[string]error{}, calls: map[string][]any{}, reqID: map[string]string{}}
}

// failWith makes method answer err.
func (f *htFake) failWith(method string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail[method] = err
}

func (f *htFake) record(ctx context.Context, method string, args ...any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[method] = args
	f.reqID[method] = logging.RequestID(ctx)
	return f.fail[method]
}

// setMFA makes Login ask for a second factor (on) or answer tokens.
func (f *htFake) setMFA(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mfa = on
}

// requestID returns the request id in the ctx of method's last call.
func (f *htFake) requestID(method string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reqID[method]
}

// called returns the arguments of method's last call, and whether it ran.
func (f *htFake) called(method string) ([]any, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	args, ok := f.calls[method]
	return args, ok
}

func (f *htFake) methods() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Sorted(maps.Keys(f.calls))
}

func htUser(id string, roles ...string) auth.User {
	return auth.User{ID: id, Email: "ada@example.com", Name: "Ada", Roles: roles, CreatedAt: htCreatedAt}
}

func (f *htFake) Register(ctx context.Context, req auth.RegisterRequest) (auth.User, error) {
	if err := f.record(ctx, "Register", req); err != nil {
		return auth.User{}, err
	}
	role := req.Role
	if role == "" {
		role = auth.RoleStudent
	}
	return auth.User{ID: "0195f3a0-0000-7000-8000-000000000001", Email: req.Email, Name: req.Name, Roles: []string{role}, CreatedAt: htCreatedAt}, nil
}

func (f *htFake) Login(ctx context.Context, req auth.LoginRequest) (auth.LoginResult, error) {
	if err := f.record(ctx, "Login", req); err != nil {
		return auth.LoginResult{}, err
	}
	f.mu.Lock()
	mfa := f.mfa
	f.mu.Unlock()
	if mfa {
		return auth.LoginResult{MFAToken: "mfa-token-1"}, nil
	}
	t := htTokens
	return auth.LoginResult{Tokens: &t}, nil
}

func (f *htFake) LoginMFA(ctx context.Context, mfaToken, code string) (auth.Tokens, error) {
	if err := f.record(ctx, "LoginMFA", mfaToken, code); err != nil {
		return auth.Tokens{}, err
	}
	return htTokens, nil
}

func (f *htFake) Refresh(ctx context.Context, refreshToken string) (auth.Tokens, error) {
	if err := f.record(ctx, "Refresh", refreshToken); err != nil {
		return auth.Tokens{}, err
	}
	return htTokens, nil
}

func (f *htFake) Logout(ctx context.Context, sid string) error {
	return f.record(ctx, "Logout", sid)
}

func (f *htFake) Me(ctx context.Context, userID string) (auth.User, error) {
	if err := f.record(ctx, "Me", userID); err != nil {
		return auth.User{}, err
	}
	return htUser(userID, auth.RoleStudent), nil
}

func (f *htFake) ListSessions(ctx context.Context, userID, currentSID string, p page.Request) (page.Page[auth.SessionInfo], error) {
	if err := f.record(ctx, "ListSessions", userID, currentSID, p); err != nil {
		return page.Page[auth.SessionInfo]{}, err
	}
	return page.Page[auth.SessionInfo]{Items: []auth.SessionInfo{{ID: currentSID, AMR: []string{"pwd"}, Current: true}}}, nil
}

func (f *htFake) RevokeSession(ctx context.Context, userID, sid string) error {
	return f.record(ctx, "RevokeSession", userID, sid)
}

func (f *htFake) RevokeOtherSessions(ctx context.Context, userID, keepSID string) error {
	return f.record(ctx, "RevokeOtherSessions", userID, keepSID)
}

func (f *htFake) ListUsers(ctx context.Context, filter auth.UserFilter, p page.Request) (page.Page[auth.User], error) {
	if err := f.record(ctx, "ListUsers", filter, p); err != nil {
		return page.Page[auth.User]{}, err
	}
	return page.Page[auth.User]{Items: []auth.User{htUser("user-9", auth.RoleInstructor)}, NextCursor: "next-users"}, nil
}

func (f *htFake) SetupTOTP(ctx context.Context, userID string) (auth.TOTPSetup, error) {
	if err := f.record(ctx, "SetupTOTP", userID); err != nil {
		return auth.TOTPSetup{}, err
	}
	return auth.TOTPSetup{Secret: "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", OTPAuthURL: "otpauth://totp/Azora:ada@example.com?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=Azora"}, nil
}

// htRecoveryCodes are the fake's ten recovery codes.
var htRecoveryCodes = []string{"c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9"}

func (f *htFake) EnableTOTP(ctx context.Context, userID, code string) ([]string, error) {
	if err := f.record(ctx, "EnableTOTP", userID, code); err != nil {
		return nil, err
	}
	return slices.Clone(htRecoveryCodes), nil
}

func (f *htFake) DisableTOTP(ctx context.Context, userID, code string) error {
	return f.record(ctx, "DisableTOTP", userID, code)
}

func (f *htFake) ChangePassword(ctx context.Context, req auth.ChangePasswordRequest) error {
	return f.record(ctx, "ChangePassword", req.UserID, req.SessionID, req.CurrentPassword, req.NewPassword, req.ClientIP != "")
}

func (f *htFake) SetRoles(ctx context.Context, userID string, roles []string) (auth.User, error) {
	if err := f.record(ctx, "SetRoles", userID, roles); err != nil {
		return auth.User{}, err
	}
	return htUser(userID, roles...), nil
}

// htJWKS is the key set the fake publishes.
var htJWKS = auth.JWKS{Keys: []auth.JWK{{KID: "k1", KTY: "RSA", Use: "sig", Alg: "RS256", N: "0vx7", E: "AQAB"}}}

func (f *htFake) JWKS(ctx context.Context) (auth.JWKS, error) {
	if err := f.record(ctx, "JWKS"); err != nil {
		return auth.JWKS{}, err
	}
	return htJWKS, nil
}
