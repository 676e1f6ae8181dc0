// Package auth is Azora's identity service: accounts and password login,
// RS256 access tokens published through a JWKS, refresh-token sessions in
// Redis, TOTP multi-factor authentication, roles, and an OAuth 2.0 /
// OpenID Connect authorization server. It publishes azora.auth.* events.
package auth

import (
	"context"
	"time"

	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/events"
	"github.com/azora-os/azora/shared/page"
)

// Roles a user may hold. Admin is never self-chosen at registration.
const (
	RoleStudent    = "student"
	RoleInstructor = "instructor"
	RoleAdmin      = "admin"
)

// Authentication methods recorded in a token's amr claim (RFC 8176).
const (
	AMRPassword = "pwd"
	AMROTP      = "otp"
)

// Event types auth publishes on events.TopicAuth.
const (
	EventUserRegistered   = "azora.auth.user.registered"
	EventUserRolesChanged = "azora.auth.user.roles_changed"
)

// User is the public view of an account, as API.md's `user` object.
type User struct {
	ID         string    `json:"id"`
	Email      string    `json:"email"`
	Name       string    `json:"name"`
	Roles      []string  `json:"roles"`
	MFAEnabled bool      `json:"mfa_enabled"`
	CreatedAt  time.Time `json:"created_at"`
}

// Account is a user with the secrets only the service sees.
type Account struct {
	User
	PasswordHash string // PHC-formatted argon2id hash
	// TOTPSecret is the sealed TOTP seed: pending between setup and
	// enable (MFAEnabled false), in force once enabled. Nil when none.
	TOTPSecret []byte
	// RecoveryCodes are the hashes of the unused recovery codes.
	RecoveryCodes []string
	UpdatedAt     time.Time
}

// Tokens is a successful login's or refresh's answer.
type Tokens struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"` // "Bearer"
	ExpiresIn    int    `json:"expires_in"` // seconds
}

// LoginResult is either tokens or, when the account has MFA on, the
// short-lived token that LoginMFA takes with a code.
type LoginResult struct {
	Tokens   *Tokens
	MFAToken string
}

// TOTPSetup is the seed a user loads into an authenticator app.
type TOTPSetup struct {
	Secret     string `json:"secret"`      // base32
	OTPAuthURL string `json:"otpauth_url"` // otpauth://totp/Azora:email?secret=…&issuer=Azora
}

// Session is one login: its id is the tokens' sid claim. Refresh tokens of
// one session form a family; the session ends at ExpiresAt whatever the
// refreshes.
type Session struct {
	ID        string
	UserID    string
	Roles     []string
	AMR       []string
	CreatedAt time.Time
	ExpiresAt time.Time
	// ClientID is the OAuth client the session was granted to by an
	// authorization code; empty for a first-party login. Only that client
	// can refresh it, and a first-party refresh cannot.
	ClientID string
	// Scope is what the OAuth grant covers; nil for a first-party login.
	Scope []string
}

// SessionInfo is one of a user's sessions as the user sees it (GET
// /api/v1/auth/sessions): never its tokens.
type SessionInfo struct {
	ID        string    `json:"id"`
	CreatedAt time.Time `json:"created_at"` // when the user signed in
	ExpiresAt time.Time `json:"expires_at"` // when its refresh token stops working
	AMR       []string  `json:"amr"`
	// ClientID is the OAuth client the session was granted to; absent for
	// a sign-in to Azora itself.
	ClientID string `json:"client_id,omitempty"`
	Current  bool   `json:"current"` // the session of the token that asked
}

// MFAChallenge is a password-verified login waiting for its second factor.
type MFAChallenge struct {
	UserID   string
	Attempts int // codes tried so far
}

// Limit is a GCRA rate: Burst requests at once, refilled at Rate per Period.
type Limit struct {
	Rate   int
	Burst  int
	Period time.Duration
}

// Decision is a rate limiter's answer.
type Decision struct {
	Allowed    bool
	RetryAfter time.Duration
}

// Domain errors, as API.md names their codes.
var (
	ErrEmailTaken         = errs.New(errs.Conflict, "email_taken", "an account with this email already exists")
	ErrWeakPassword       = errs.New(errs.Invalid, "weak_password", "the password must be 10 to 128 characters and not a commonly used one")
	ErrInvalidCredentials = errs.New(errs.Unauthenticated, "invalid_credentials", "the email or password is wrong")
	// ErrWrongPassword refuses a password change whose current password is
	// wrong: a 403, since the caller's token itself is good.
	ErrWrongPassword       = errs.New(errs.Forbidden, "wrong_password", "the current password is wrong")
	ErrSessionNotFound     = errs.New(errs.NotFound, "session_not_found", "you have no such session")
	ErrInvalidMFAToken     = errs.New(errs.Unauthenticated, "invalid_mfa_token", "the MFA token is unknown, expired or used up; log in again")
	ErrInvalidCode         = errs.New(errs.Unauthenticated, "invalid_code", "the code is wrong or was already used")
	ErrInvalidRefreshToken = errs.New(errs.Unauthenticated, "invalid_refresh_token", "the refresh token is unknown or expired")
	ErrRefreshTokenReused  = errs.New(errs.Unauthenticated, "refresh_token_reused", "the refresh token was already used; the session has been revoked")
	ErrUserNotFound        = errs.New(errs.NotFound, "user_not_found", "no such user")
	ErrMFAAlreadyEnabled   = errs.New(errs.Conflict, "mfa_already_enabled", "multi-factor authentication is already on")
	ErrMFANotEnabled       = errs.New(errs.Conflict, "mfa_not_enabled", "multi-factor authentication is not on")
	ErrMFANotSetUp         = errs.New(errs.Conflict, "mfa_not_set_up", "call /mfa/totp/setup first")
	ErrInvalidRole         = errs.New(errs.Invalid, "invalid_role", "roles must be student, instructor or admin")
	ErrSessionRevoked      = errs.New(errs.Unauthenticated, "session_revoked", "the session has ended")
	ErrNoSigningKey        = errs.New(errs.Unavailable, "no_signing_key", "no signing key is available")
)

// RateLimitedError is a 429 that knows when to try again; httpx turns
// RetryAfter into the Retry-After header.
type RateLimitedError struct{ After time.Duration }

func (e *RateLimitedError) Error() string { return "rate_limited: too many attempts" }

// RetryAfter says when the client may try again.
func (e *RateLimitedError) RetryAfter() time.Duration { return e.After }

// Unwrap classifies the error as rate_limited for the problem encoder.
func (e *RateLimitedError) Unwrap() error {
	return errs.New(errs.RateLimited, "rate_limited", "too many attempts; try again later")
}

// RegisterRequest is a self-registration.
type RegisterRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	Name     string `json:"name"`
	Role     string `json:"role,omitempty"` // student (default) or instructor
}

// LoginRequest is a password login. ClientIP comes from the transport.
type LoginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	ClientIP string `json:"-"`
}

// UserFilter narrows an admin's list of users (GET /api/v1/auth/users);
// an empty field matches every user.
type UserFilter struct {
	Email string // the whole address, in any case
	Role  string // one of the roles
}

// ChangePasswordRequest changes the caller's password (POST
// /api/v1/auth/password). UserID and SessionID come from the verified
// token, ClientIP from the transport.
type ChangePasswordRequest struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
	UserID          string `json:"-"`
	SessionID       string `json:"-"`
	ClientIP        string `json:"-"`
}

// Service is the auth domain. Callers (the endpoint layer) have already
// authenticated the caller and checked roles where a method needs them.
type Service interface {
	// Register creates a student or instructor account and queues
	// user.registered. Errors: validation_failed, weak_password, email_taken.
	Register(ctx context.Context, req RegisterRequest) (User, error)
	// Login checks a password. Errors: invalid_credentials, rate_limited
	// (*RateLimitedError).
	Login(ctx context.Context, req LoginRequest) (LoginResult, error)
	// LoginMFA completes a login with a TOTP or recovery code. Errors:
	// invalid_mfa_token, invalid_code.
	LoginMFA(ctx context.Context, mfaToken, code string) (Tokens, error)
	// Refresh rotates a refresh token. Errors: invalid_refresh_token,
	// refresh_token_reused (the session is revoked).
	Refresh(ctx context.Context, refreshToken string) (Tokens, error)
	// Logout revokes the session sid: its access and refresh tokens stop
	// working at once.
	Logout(ctx context.Context, sid string) error
	// Me returns the user. Errors: user_not_found.
	Me(ctx context.Context, userID string) (User, error)
	// SetupTOTP creates a pending TOTP seed. Errors: mfa_already_enabled.
	SetupTOTP(ctx context.Context, userID string) (TOTPSetup, error)
	// EnableTOTP turns MFA on with a first code and returns 10 recovery
	// codes. Errors: mfa_not_set_up, mfa_already_enabled, invalid_code.
	EnableTOTP(ctx context.Context, userID, code string) ([]string, error)
	// DisableTOTP turns MFA off with a current code. Errors:
	// mfa_not_enabled, invalid_code.
	DisableTOTP(ctx context.Context, userID, code string) error
	// ChangePassword replaces the user's password, given the current one,
	// and revokes every other session of the user. Errors: wrong_password,
	// weak_password, rate_limited, user_not_found.
	ChangePassword(ctx context.Context, req ChangePasswordRequest) error
	// ListSessions pages through the user's live sessions, newest first,
	// marking currentSID's. Errors: invalid_cursor.
	ListSessions(ctx context.Context, userID, currentSID string, p page.Request) (page.Page[SessionInfo], error)
	// RevokeSession ends one of the user's sessions (the caller's own
	// included: a logout). Errors: session_not_found.
	RevokeSession(ctx context.Context, userID, sid string) error
	// RevokeOtherSessions ends every session of the user but keepSID.
	RevokeOtherSessions(ctx context.Context, userID, keepSID string) error
	// ListUsers pages through the users f matches, newest first. Errors:
	// invalid_role, invalid_cursor.
	ListUsers(ctx context.Context, f UserFilter, p page.Request) (page.Page[User], error)
	// SetRoles replaces a user's roles and queues user.roles_changed.
	// Errors: invalid_role, user_not_found.
	SetRoles(ctx context.Context, userID string, roles []string) (User, error)
	// JWKS returns the public keys tokens may be signed with.
	JWKS(ctx context.Context) (JWKS, error)
}

// JWKS is a JSON Web Key Set (RFC 7517) of RSA public keys.
type JWKS struct {
	Keys []JWK `json:"keys"`
}

// JWK is one RSA public signing key.
type JWK struct {
	KID string `json:"kid"`
	KTY string `json:"kty"` // "RSA"
	Use string `json:"use"` // "sig"
	Alg string `json:"alg"` // "RS256"
	N   string `json:"n"`
	E   string `json:"e"`
}

// Users stores accounts. Implementations join the transaction in ctx
// (pg.FromContext) when there is one.
type Users interface {
	// Create inserts a. Errors: email_taken.
	Create(ctx context.Context, a Account) error
	// ByEmail finds an account by normalised email. Errors: user_not_found.
	ByEmail(ctx context.Context, email string) (Account, error)
	// ByID finds an account. Errors: user_not_found.
	ByID(ctx context.Context, id string) (Account, error)
	// Update locks the account, lets fn change it, and saves the result
	// (fn's error aborts without saving). Errors: user_not_found, fn's.
	Update(ctx context.Context, id string, fn func(*Account) error) (Account, error)
	// List pages through the users f matches, newest first. Errors:
	// invalid_cursor.
	List(ctx context.Context, f UserFilter, p page.Request) (page.Page[User], error)
	// CountAdmins reports how many accounts hold the admin role.
	CountAdmins(ctx context.Context) (int, error)
}

// Transactor runs fn in one database transaction carried by fn's ctx, so
// Users writes and the outbox (events.Enqueue) commit together.
type Transactor interface {
	InTx(ctx context.Context, fn func(ctx context.Context) error) error
}

// Outbox queues events inside the transaction in ctx: events.Enqueue.
type Outbox func(ctx context.Context, evs ...events.Event) error

// Sessions stores login sessions and their refresh-token families. A
// refresh token is "<sid>.<secret>"; only a hash of the secret is stored.
type Sessions interface {
	// Create stores s with the hash of its first refresh secret.
	Create(ctx context.Context, s Session, refreshHash string) error
	// Rotate atomically replaces the session's current refresh hash old
	// with next and returns the session. Presenting a spent hash revokes
	// the session and returns refresh_token_reused; an unknown session or
	// hash returns invalid_refresh_token.
	Rotate(ctx context.Context, sid, old, next string) (Session, error)
	// RotateClient is Rotate for the session's OAuth client: a session of
	// another client (or a first-party one, client "") is
	// invalid_refresh_token and left untouched. Rotate is RotateClient
	// with client "".
	RotateClient(ctx context.Context, sid, clientID, old, next string) (Session, error)
	// Get returns the session and its current refresh hash. Errors:
	// invalid_refresh_token when there is no such session.
	Get(ctx context.Context, sid string) (Session, string, error)
	// Revoked reports whether sid is marked revoked, asking the store
	// itself (no cache).
	Revoked(ctx context.Context, sid string) (bool, error)
	// Revoke ends the session: it is deleted and its sid published as
	// revoked (for as long as its access tokens live) so every service
	// refuses them. Revoking an unknown sid is not an error.
	Revoke(ctx context.Context, sid string) error
	// RevokeUser revokes every session of the user but the sids in except.
	RevokeUser(ctx context.Context, userID string, except ...string) error
	// OfUser returns the user's live sessions, in no particular order.
	OfUser(ctx context.Context, userID string) ([]Session, error)
	// TrackGrant records that sid, live until expires, was granted to the
	// OAuth client, so RevokeClient reaches it; Create does it for a
	// session with a ClientID. Errors: invalid_client once the client is
	// being deleted.
	TrackGrant(ctx context.Context, clientID, sid string, expires time.Time) error
	// RevokeClient revokes every grant of the client and refuses new ones
	// from then on (its deletion).
	RevokeClient(ctx context.Context, clientID string) error
}

// Challenges stores short-lived MFA state in Redis.
type Challenges interface {
	// NewMFA stores c under a fresh random token valid for ttl.
	NewMFA(ctx context.Context, c MFAChallenge, ttl time.Duration) (token string, err error)
	// AttemptMFA counts one code attempt on token and returns the
	// challenge; after maxAttempts the token is gone. Errors:
	// invalid_mfa_token.
	AttemptMFA(ctx context.Context, token string, maxAttempts int) (MFAChallenge, error)
	// DeleteMFA removes token (after a successful second factor).
	DeleteMFA(ctx context.Context, token string) error
	// UseTOTPStep records that userID used TOTP time step step; it returns
	// false when that step was already used (each step works once).
	UseTOTPStep(ctx context.Context, userID string, step int64) (bool, error)
}

// Limiter is a GCRA rate limiter shared by every auth instance.
type Limiter interface {
	// Allow takes n (0 = only look) from key's budget under l.
	Allow(ctx context.Context, key string, l Limit, n int) (Decision, error)
	// Reset forgets key's history.
	Reset(ctx context.Context, key string) error
}

// PasswordHasher hashes and checks passwords (argon2id).
type PasswordHasher interface {
	// Hash returns a PHC-formatted hash of password.
	Hash(password string) (string, error)
	// Verify reports whether password matches hash, and whether hash should
	// be recomputed because its parameters differ from the current ones.
	Verify(password, hash string) (ok, rehash bool, err error)
	// Dummy spends the time of one Verify, for unknown accounts.
	Dummy(password string)
}

// Signer issues access tokens and publishes the keys they verify with.
type Signer interface {
	// Sign returns an RS256 JWT for c signed with the current key.
	// Errors: no_signing_key.
	Sign(ctx context.Context, c AccessClaims) (string, error)
	// JWKS returns the current and previous public keys.
	JWKS(ctx context.Context) (JWKS, error)
}

// AccessClaims are an access token's claims (API.md).
type AccessClaims struct {
	Subject   string
	SessionID string
	Roles     []string
	AMR       []string
	ID        string // jti
	IssuedAt  time.Time
	ExpiresAt time.Time
	ClientID  string   // client_id of an OAuth-issued token
	Scope     []string // scope of an OAuth-issued token
}

// Sealer encrypts secrets at rest (AES-256-GCM). The AD variants bind a
// secret to its owner (a TOTP seed to its user id), so a sealed value
// copied to another row does not open there.
type Sealer interface {
	Seal(plaintext []byte) ([]byte, error)
	Open(sealed []byte) ([]byte, error)
	SealAD(plaintext, ad []byte) ([]byte, error)
	OpenAD(sealed, ad []byte) ([]byte, error)
}

// SigningKey is an RSA key that access tokens are signed with. It is
// published in the JWKS from CreatedAt (before it signs anything, so that
// verifiers which cached the key set find it on their next refresh) until
// every token it signed has expired.
type SigningKey struct {
	ID         string    // the kid
	Sealed     []byte    // the PKCS#8 DER private key, sealed by a Sealer
	CreatedAt  time.Time // published from here
	ActiveFrom time.Time // signs from here (CreatedAt + the pre-publication delay)
	RetiredAt  time.Time // stopped signing (a newer key took over); zero while in use
}

// SigningKeys stores signing keys (Postgres, shared by every auth instance).
type SigningKeys interface {
	// List returns every stored key, newest first.
	List(ctx context.Context) ([]SigningKey, error)
	// Add inserts next unless a key created after since already exists
	// (another instance rotated first); it reports whether it inserted.
	// The keys next replaces are marked retired at next.ActiveFrom in the
	// same transaction.
	Add(ctx context.Context, next SigningKey, since time.Time) (bool, error)
	// Purge deletes keys retired before t.
	Purge(ctx context.Context, before time.Time) error
}
