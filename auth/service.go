package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/mail"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/events"
	"github.com/azora-os/azora/shared/page"
)

// Config tunes the service. Zero fields take the defaults in NewService.
type Config struct {
	AccessTTL      time.Duration // access token life; default 15m
	SessionTTL     time.Duration // absolute refresh-token family life; default 30 days
	MFATokenTTL    time.Duration // how long a password-verified login waits for its code; default 5m
	MFAMaxAttempts int           // codes tried per mfa_token; default 5
	TOTPIssuer     string        // the name authenticator apps show; default "Azora"
	Limits         LoginLimits
	Clock          func() time.Time
}

// LoginLimits bound password guessing. PerAccountIP is the tightest, so an
// attacker at one address is stopped long before the account's own budget
// (PerAccount, spent only by failures) runs out and the real user, from
// another address, can still log in.
type LoginLimits struct {
	PerIP        Limit // every login attempt from one address
	PerAccountIP Limit // attempts at one account from one address
	PerAccount   Limit // failed attempts at one account, from anywhere
}

// DefaultLoginLimits are the production limits.
var DefaultLoginLimits = LoginLimits{
	PerIP:        Limit{Rate: 60, Burst: 30, Period: time.Hour},
	PerAccountIP: Limit{Rate: 10, Burst: 5, Period: 15 * time.Minute},
	PerAccount:   Limit{Rate: 50, Burst: 20, Period: time.Hour},
}

// Deps are the ports the service runs over.
type Deps struct {
	Users      Users
	Tx         Transactor
	Outbox     Outbox
	Sessions   Sessions
	Challenges Challenges
	Limiter    Limiter
	Hasher     PasswordHasher
	Signer     Signer
	Sealer     Sealer
}

// AuthService implements Service.
type AuthService struct {
	Deps
	cfg Config
}

var _ Service = (*AuthService)(nil)

// NewService returns the auth service over d.
func NewService(d Deps, cfg Config) *AuthService {
	if cfg.AccessTTL == 0 {
		cfg.AccessTTL = 15 * time.Minute
	}
	if cfg.SessionTTL == 0 {
		cfg.SessionTTL = 30 * 24 * time.Hour
	}
	if cfg.MFATokenTTL == 0 {
		cfg.MFATokenTTL = 5 * time.Minute
	}
	if cfg.MFAMaxAttempts == 0 {
		cfg.MFAMaxAttempts = 5
	}
	if cfg.TOTPIssuer == "" {
		cfg.TOTPIssuer = "Azora"
	}
	if cfg.Limits == (LoginLimits{}) {
		cfg.Limits = DefaultLoginLimits
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	return &AuthService{Deps: d, cfg: cfg}
}

// Register implements Service.
func (s *AuthService) Register(ctx context.Context, req RegisterRequest) (User, error) {
	email, name := NormalizeEmail(req.Email), strings.TrimSpace(req.Name)
	var fields []errs.FieldError
	if !validEmail(email) {
		fields = append(fields, errs.FieldError{Field: "email", Message: "must be a valid email address"})
	}
	if name == "" || utf8.RuneCountInString(name) > 100 {
		fields = append(fields, errs.FieldError{Field: "name", Message: "must be 1 to 100 characters"})
	}
	role := req.Role
	if role == "" {
		role = RoleStudent
	}
	if role != RoleStudent && role != RoleInstructor {
		fields = append(fields, errs.FieldError{Field: "role", Message: "must be student or instructor"})
	}
	if len(fields) > 0 {
		return User{}, errs.Validation(fields...)
	}
	if err := CheckPassword(req.Password); err != nil {
		return User{}, err
	}
	hash, err := s.Hasher.Hash(req.Password)
	if err != nil {
		return User{}, errs.Internalf(err, "hash password")
	}
	id, err := uuid.NewV7()
	if err != nil {
		return User{}, errs.Internalf(err, "new user id")
	}
	// Postgres keeps microseconds: truncate so Register answers the same
	// created_at that Me later reads back.
	now := s.cfg.Clock().UTC().Truncate(time.Microsecond)
	a := Account{
		User:         User{ID: id.String(), Email: email, Name: name, Roles: []string{role}, CreatedAt: now},
		PasswordHash: hash,
		UpdatedAt:    now,
	}
	err = s.Tx.InTx(ctx, func(ctx context.Context) error {
		if err := s.Users.Create(ctx, a); err != nil {
			return err
		}
		return s.publish(ctx, EventUserRegistered, a.ID, map[string]any{
			"user_id": a.ID, "email": a.Email, "name": a.Name, "roles": a.Roles,
		})
	})
	if err != nil {
		return User{}, err
	}
	return a.User, nil
}

// Me implements Service.
func (s *AuthService) Me(ctx context.Context, userID string) (User, error) {
	a, err := s.Users.ByID(ctx, userID)
	if err != nil {
		return User{}, err
	}
	return a.User, nil
}

// ListUsers implements Service. Errors: invalid_role, invalid_cursor.
func (s *AuthService) ListUsers(ctx context.Context, f UserFilter, p page.Request) (page.Page[User], error) {
	f.Email, f.Role = NormalizeEmail(f.Email), strings.TrimSpace(f.Role)
	if f.Role != "" {
		if _, err := normalizeRoles([]string{f.Role}); err != nil {
			return page.Page[User]{}, err
		}
	}
	return s.Users.List(ctx, f, p)
}

// SetRoles implements Service. When a role is taken away, the user's
// sessions are revoked, so no access token keeps a privilege for the rest
// of its life.
func (s *AuthService) SetRoles(ctx context.Context, userID string, roles []string) (User, error) {
	roles, err := normalizeRoles(roles)
	if err != nil {
		return User{}, err
	}
	var before []string
	var a Account
	err = s.Tx.InTx(ctx, func(ctx context.Context) error {
		var err error
		a, err = s.Users.Update(ctx, userID, func(a *Account) error {
			before = a.Roles
			a.Roles = roles
			return nil
		})
		if err != nil {
			return err
		}
		return s.publish(ctx, EventUserRolesChanged, a.ID, map[string]any{"user_id": a.ID, "roles": a.Roles})
	})
	if err != nil {
		return User{}, err
	}
	for _, r := range before {
		if !slices.Contains(roles, r) {
			if err := s.Sessions.RevokeUser(ctx, userID); err != nil {
				return User{}, err
			}
			break
		}
	}
	return a.User, nil
}

// JWKS implements Service.
func (s *AuthService) JWKS(ctx context.Context) (JWKS, error) { return s.Signer.JWKS(ctx) }

// EnsureAdmin makes the bootstrap admin exist: it creates the account with
// the admin role, or adds the role to an existing account with that email.
// The password must pass the same policy as any other.
func (s *AuthService) EnsureAdmin(ctx context.Context, email, password string) error {
	email = NormalizeEmail(email)
	a, err := s.Users.ByEmail(ctx, email)
	switch {
	case errors.Is(err, ErrUserNotFound):
		u, err := s.Register(ctx, RegisterRequest{Email: email, Password: password, Name: "Administrator"})
		if err != nil && !errors.Is(err, ErrEmailTaken) { // a replica starting beside us won the race
			return err
		}
		if err == nil {
			a.ID = u.ID
		} else if a, err = s.Users.ByEmail(ctx, email); err != nil {
			return err
		}
	case err != nil:
		return err
	}
	if slices.Contains(a.Roles, RoleAdmin) {
		return nil
	}
	_, err = s.SetRoles(ctx, a.ID, append(slices.Clone(a.Roles), RoleAdmin))
	return err
}

func (s *AuthService) publish(ctx context.Context, typ, userID string, data any) error {
	ev, err := events.New(events.TopicAuth, typ, userID, data)
	if err != nil {
		return errs.Internalf(err, "build %s", typ)
	}
	return s.Outbox(ctx, ev)
}

// NormalizeEmail trims and lower-cases an address: accounts are unique by
// it, whatever case a client types.
func NormalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

func validEmail(email string) bool {
	if len(email) > 254 {
		return false
	}
	a, err := mail.ParseAddress(email)
	return err == nil && a.Address == email && a.Name == ""
}

func normalizeRoles(roles []string) ([]string, error) {
	out := make([]string, 0, len(roles))
	for _, r := range roles {
		switch r = strings.TrimSpace(r); r {
		case RoleStudent, RoleInstructor, RoleAdmin:
			if !slices.Contains(out, r) {
				out = append(out, r)
			}
		default:
			return nil, ErrInvalidRole.WithMessage("unknown role %q: roles must be student, instructor or admin", r)
		}
	}
	if len(out) == 0 {
		return nil, ErrInvalidRole.WithMessage("at least one role is required")
	}
	slices.Sort(out)
	return out, nil
}

// randomToken returns 256 random bits, base64url without padding.
func randomToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", errs.Internalf(err, "random token")
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// hashSecret is what is stored of a refresh secret or recovery code: they
// carry 256 (or 60) random bits, so a fast hash suffices.
func hashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}
