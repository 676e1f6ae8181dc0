package auth

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/page"
)

// Login implements Service. Every attempt spends the per-address budgets
// before the password is checked, so concurrent guesses cannot overrun
// them; only failures spend the account's own budget.
func (s *AuthService) Login(ctx context.Context, req LoginRequest) (LoginResult, error) {
	a, err := s.checkPassword(ctx, req)
	if err != nil {
		return LoginResult{}, err
	}
	if a.MFAEnabled {
		token, err := s.Challenges.NewMFA(ctx, MFAChallenge{UserID: a.ID}, s.cfg.MFATokenTTL)
		if err != nil {
			return LoginResult{}, err
		}
		return LoginResult{MFAToken: token}, nil
	}
	t, err := s.issue(ctx, a.User, []string{AMRPassword})
	if err != nil {
		return LoginResult{}, err
	}
	return LoginResult{Tokens: &t}, nil
}

// checkPassword is the password step of Login and of the OAuth sign-in
// page: it returns the account whose password req carries. Errors:
// invalid_credentials, rate_limited.
func (s *AuthService) checkPassword(ctx context.Context, req LoginRequest) (Account, error) {
	email := NormalizeEmail(req.Email)
	if email == "" || req.Password == "" {
		return Account{}, ErrInvalidCredentials
	}
	pairKey, acctKey := "login:pair:"+email+"|"+req.ClientIP, "login:acct:"+email
	if err := s.admit(ctx,
		limitStep{"login:ip:" + req.ClientIP, s.cfg.Limits.PerIP, 1},
		limitStep{pairKey, s.cfg.Limits.PerAccountIP, 1},
		limitStep{acctKey, s.cfg.Limits.PerAccount, 0},
	); err != nil {
		return Account{}, err
	}

	a, err := s.Users.ByEmail(ctx, email)
	if errors.Is(err, ErrUserNotFound) {
		s.Hasher.Dummy(req.Password) // an unknown email costs what a wrong password does
		return Account{}, s.failed(ctx, acctKey)
	}
	if err != nil {
		return Account{}, err
	}
	ok, rehash, err := s.Hasher.Verify(req.Password, a.PasswordHash)
	if err != nil {
		return Account{}, errs.Internalf(err, "verify password of %s", a.ID)
	}
	if !ok {
		return Account{}, s.failed(ctx, acctKey)
	}
	if err := s.Limiter.Reset(ctx, pairKey); err != nil {
		return Account{}, err
	}
	if rehash {
		if err := s.rehash(ctx, a.ID, req.Password); err != nil {
			return Account{}, err
		}
	}
	return a, nil
}

type limitStep struct {
	key   string
	limit Limit
	n     int
}

// admit runs every step and refuses with the longest wait when any is out
// of budget.
func (s *AuthService) admit(ctx context.Context, steps ...limitStep) error {
	var wait time.Duration
	denied := false
	for _, st := range steps {
		d, err := s.Limiter.Allow(ctx, st.key, st.limit, st.n)
		if err != nil {
			return err
		}
		if !d.Allowed {
			denied, wait = true, max(wait, d.RetryAfter)
		}
	}
	if denied {
		return &RateLimitedError{After: wait}
	}
	return nil
}

// failed spends one unit of the account's failure budget and returns the
// error the client sees.
func (s *AuthService) failed(ctx context.Context, acctKey string) error {
	if _, err := s.Limiter.Allow(ctx, acctKey, s.cfg.Limits.PerAccount, 1); err != nil {
		return err
	}
	return ErrInvalidCredentials
}

// rehash stores a hash with the current parameters after a successful
// login with an old one.
func (s *AuthService) rehash(ctx context.Context, userID, password string) error {
	hash, err := s.Hasher.Hash(password)
	if err != nil {
		return errs.Internalf(err, "rehash password")
	}
	_, err = s.Users.Update(ctx, userID, func(a *Account) error {
		a.PasswordHash = hash
		return nil
	})
	return err
}

// LoginMFA implements Service.
func (s *AuthService) LoginMFA(ctx context.Context, mfaToken, code string) (Tokens, error) {
	a, err := s.checkSecondFactor(ctx, mfaToken, code)
	if err != nil {
		return Tokens{}, err
	}
	return s.issue(ctx, a.User, []string{AMRPassword, AMROTP})
}

// checkSecondFactor is the code step of LoginMFA and of the OAuth sign-in
// page: it spends the challenge and returns its account. Errors:
// invalid_mfa_token, invalid_code.
func (s *AuthService) checkSecondFactor(ctx context.Context, mfaToken, code string) (Account, error) {
	ch, err := s.Challenges.AttemptMFA(ctx, mfaToken, s.cfg.MFAMaxAttempts)
	if err != nil {
		return Account{}, err
	}
	a, err := s.Users.ByID(ctx, ch.UserID)
	if errors.Is(err, ErrUserNotFound) {
		return Account{}, ErrInvalidMFAToken
	}
	if err != nil {
		return Account{}, err
	}
	if !a.MFAEnabled {
		return Account{}, ErrInvalidMFAToken
	}
	if err := s.checkCode(ctx, a, code, true); err != nil {
		return Account{}, err
	}
	if err := s.Challenges.DeleteMFA(ctx, mfaToken); err != nil {
		return Account{}, err
	}
	return a, nil
}

// Refresh implements Service. The new access token carries the user's
// current roles, so a role change reaches the client at its next refresh.
func (s *AuthService) Refresh(ctx context.Context, refreshToken string) (Tokens, error) {
	sid, secret, ok := strings.Cut(refreshToken, ".")
	if !ok || sid == "" || secret == "" {
		return Tokens{}, ErrInvalidRefreshToken
	}
	next, err := randomToken()
	if err != nil {
		return Tokens{}, err
	}
	sess, err := s.Sessions.Rotate(ctx, sid, hashSecret(secret), hashSecret(next))
	if err != nil {
		return Tokens{}, err
	}
	a, err := s.Users.ByID(ctx, sess.UserID)
	if errors.Is(err, ErrUserNotFound) {
		return Tokens{}, errors.Join(ErrInvalidRefreshToken, s.Sessions.Revoke(ctx, sid))
	}
	if err != nil {
		return Tokens{}, err
	}
	sess.Roles = a.Roles
	return s.tokens(ctx, sess, sid+"."+next)
}

// Logout implements Service.
func (s *AuthService) Logout(ctx context.Context, sid string) error {
	if sid == "" {
		return ErrSessionRevoked
	}
	return s.Sessions.Revoke(ctx, sid)
}

// issue starts a session for u and returns its first tokens.
func (s *AuthService) issue(ctx context.Context, u User, amr []string) (Tokens, error) {
	sid, err := uuid.NewV7()
	if err != nil {
		return Tokens{}, errs.Internalf(err, "new session id")
	}
	secret, err := randomToken()
	if err != nil {
		return Tokens{}, err
	}
	now := s.cfg.Clock().UTC()
	sess := Session{ID: sid.String(), UserID: u.ID, Roles: u.Roles, AMR: amr, CreatedAt: now, ExpiresAt: now.Add(s.cfg.SessionTTL)}
	if err := s.Sessions.Create(ctx, sess, hashSecret(secret)); err != nil {
		return Tokens{}, err
	}
	return s.tokens(ctx, sess, sess.ID+"."+secret)
}

// tokens signs an access token for sess and pairs it with refresh.
func (s *AuthService) tokens(ctx context.Context, sess Session, refresh string) (Tokens, error) {
	jti, err := uuid.NewV7()
	if err != nil {
		return Tokens{}, errs.Internalf(err, "new token id")
	}
	now := s.cfg.Clock().UTC()
	access, err := s.Signer.Sign(ctx, AccessClaims{
		Subject: sess.UserID, SessionID: sess.ID, Roles: sess.Roles, AMR: sess.AMR,
		ID: jti.String(), IssuedAt: now, ExpiresAt: now.Add(s.cfg.AccessTTL),
	})
	if err != nil {
		return Tokens{}, err
	}
	return Tokens{AccessToken: access, RefreshToken: refresh, TokenType: "Bearer", ExpiresIn: int(s.cfg.AccessTTL / time.Second)}, nil
}

// ChangePassword implements Service. The current password is checked as a
// login checks it, under the same limits, so a stolen access token cannot
// be used to guess it faster than the login page allows. The new password
// meets the registration policy and differs from the current one. Every
// other session of the user (other devices, OAuth grants) is revoked; the
// caller's own stays.
func (s *AuthService) ChangePassword(ctx context.Context, req ChangePasswordRequest) error {
	if err := CheckPassword(req.NewPassword); err != nil {
		return err
	}
	if req.NewPassword == req.CurrentPassword {
		return ErrWeakPassword.WithMessage("the new password must differ from the current one")
	}
	a, err := s.Users.ByID(ctx, req.UserID)
	if err != nil {
		return err
	}
	_, err = s.checkPassword(ctx, LoginRequest{Email: a.Email, Password: req.CurrentPassword, ClientIP: req.ClientIP})
	if errors.Is(err, ErrInvalidCredentials) {
		return ErrWrongPassword
	}
	if err != nil {
		return err
	}
	hash, err := s.Hasher.Hash(req.NewPassword)
	if err != nil {
		return errs.Internalf(err, "hash password")
	}
	// The current password is checked again under the row lock, so of
	// concurrent changes from one current password exactly one wins; the
	// others find it no longer current.
	if _, err := s.Users.Update(ctx, a.ID, func(a *Account) error {
		ok, _, err := s.Hasher.Verify(req.CurrentPassword, a.PasswordHash)
		switch {
		case err != nil:
			return errs.Internalf(err, "verify password of %s", a.ID)
		case !ok:
			return ErrWrongPassword
		}
		a.PasswordHash = hash
		return nil
	}); err != nil {
		return err
	}
	return s.Sessions.RevokeUser(ctx, a.ID, req.SessionID)
}

// sessionKey is the keyset position of a session in the newest-first
// list: the last one of a page, encoded in its next_cursor.
type sessionKey struct {
	At time.Time `json:"t"`
	ID string    `json:"i"`
}

// newestFirst orders session keys by sign-in time, newest first, then by
// id.
func newestFirst(a, b sessionKey) int {
	if c := b.At.Compare(a.At); c != 0 {
		return c
	}
	return strings.Compare(b.ID, a.ID)
}

// ListSessions implements Service. A user's sessions are few (each is a
// sign-in within the session lifetime), so they are read whole and paged
// here, newest sign-in first.
func (s *AuthService) ListSessions(ctx context.Context, userID, currentSID string, p page.Request) (page.Page[SessionInfo], error) {
	limit := p.Size()
	var after *sessionKey
	if p.Cursor != "" {
		after = &sessionKey{}
		if err := page.Decode(p.Cursor, after); err != nil {
			return page.Page[SessionInfo]{}, err
		}
	}
	all, err := s.Sessions.OfUser(ctx, userID)
	if err != nil {
		return page.Page[SessionInfo]{}, err
	}
	key := func(s Session) sessionKey { return sessionKey{At: s.CreatedAt, ID: s.ID} }
	slices.SortFunc(all, func(a, b Session) int { return newestFirst(key(a), key(b)) })
	infos := make([]SessionInfo, 0, min(len(all), limit+1))
	for _, sess := range all {
		if after != nil && newestFirst(key(sess), *after) <= 0 {
			continue // on an earlier page
		}
		infos = append(infos, SessionInfo{ID: sess.ID, CreatedAt: sess.CreatedAt, ExpiresAt: sess.ExpiresAt,
			AMR: nonNil(sess.AMR), ClientID: sess.ClientID, Current: sess.ID == currentSID})
		if len(infos) > limit {
			break
		}
	}
	return page.Of(infos, limit, func(i SessionInfo) any { return sessionKey{At: i.CreatedAt, ID: i.ID} }), nil
}

// RevokeSession implements Service. Another user's session, or one that
// is over, is not found.
func (s *AuthService) RevokeSession(ctx context.Context, userID, sid string) error {
	sess, _, err := s.Sessions.Get(ctx, sid)
	switch {
	case errors.Is(err, ErrInvalidRefreshToken):
		return ErrSessionNotFound
	case err != nil:
		return err
	case sess.UserID != userID:
		return ErrSessionNotFound
	}
	return s.Sessions.Revoke(ctx, sid)
}

// RevokeOtherSessions implements Service.
func (s *AuthService) RevokeOtherSessions(ctx context.Context, userID, keepSID string) error {
	return s.Sessions.RevokeUser(ctx, userID, keepSID)
}
