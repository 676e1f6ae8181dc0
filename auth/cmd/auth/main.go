// Command auth runs the auth service (see package auth). Subcommands:
// "auth migrate" applies its migrations; "auth rotate-keys" adds a new
// signing key now (it signs once published for the pre-publication delay).
package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/azora-os/azora/auth"
	"github.com/azora-os/azora/shared/app"
	"github.com/azora-os/azora/shared/config"
	"github.com/azora-os/azora/shared/events"
	"github.com/azora-os/azora/shared/kit"
	"github.com/azora-os/azora/shared/pg"
	"github.com/azora-os/azora/shared/revocation"
	"github.com/azora-os/azora/shared/seal"
)

// Config is the auth binary's configuration.
type Config struct {
	app.Config
	SealKeys       config.Secret // AUTH_SEAL_KEYS "id:base64key,…" (first seals), or from AUTH_SEAL_KEYS_FILE
	SealKeysFile   string
	Argon2         auth.Argon2Params
	AccessTTL      time.Duration
	SessionTTL     time.Duration
	RotateEvery    time.Duration
	PrePublish     time.Duration
	AdminEmail     string
	AdminPassword  config.Secret
	LoginPairBurst int      // attempts at one account from one address before 429
	LoginIPBurst   int      // attempts from one address (every account) before 429
	OAuthScopes    []string // service scopes OAuth clients may register (client_credentials)
}

func loadConfig(r *config.Reader) (Config, error) {
	c := Config{
		Config:       app.LoadConfig(r, "auth", ":4001", app.Needs{Postgres: true, Redis: true, Kafka: true}),
		SealKeys:     r.OptionalSecret("AUTH_SEAL_KEYS"),
		SealKeysFile: r.String("AUTH_SEAL_KEYS_FILE", ""),
		Argon2: auth.Argon2Params{
			Time:      uint32(r.Int("AUTH_ARGON2_TIME", 2)),
			MemoryKiB: uint32(r.Int("AUTH_ARGON2_MEMORY_KIB", 19456)),
			Threads:   uint8(r.Int("AUTH_ARGON2_THREADS", 1)),
		},
		AccessTTL:      r.Duration("AUTH_ACCESS_TTL", 15*time.Minute),
		SessionTTL:     r.Duration("AUTH_SESSION_TTL", 30*24*time.Hour),
		RotateEvery:    r.Duration("AUTH_KEY_ROTATE_EVERY", 30*24*time.Hour),
		PrePublish:     r.Duration("AUTH_KEY_PREPUBLISH", time.Minute),
		AdminEmail:     r.String("AUTH_BOOTSTRAP_ADMIN_EMAIL", ""),
		AdminPassword:  r.OptionalSecret("AUTH_BOOTSTRAP_ADMIN_PASSWORD"),
		LoginPairBurst: r.Int("AUTH_LOGIN_PAIR_BURST", auth.DefaultLoginLimits.PerAccountIP.Burst),
		LoginIPBurst:   r.Int("AUTH_LOGIN_IP_BURST", auth.DefaultLoginLimits.PerIP.Burst),
		OAuthScopes:    r.List("AUTH_OAUTH_SCOPES", nil),
	}
	for _, s := range c.OAuthScopes {
		r.Check(validScope(s), "AUTH_OAUTH_SCOPES", "%q is not a scope: printable ASCII without spaces, quotes or backslashes, and not openid, profile or email", s)
	}
	r.Check(c.SealKeys != "" || c.SealKeysFile != "", "AUTH_SEAL_KEYS", "or AUTH_SEAL_KEYS_FILE is required (the key that seals signing keys and TOTP seeds)")
	r.Check(c.Argon2.Time >= 1 && c.Argon2.MemoryKiB >= 8192 && c.Argon2.Threads >= 1, "AUTH_ARGON2_*", "must be at least t=1, m=8192 KiB, p=1")
	r.Check((c.AdminEmail == "") == (c.AdminPassword == ""), "AUTH_BOOTSTRAP_ADMIN_EMAIL", "and AUTH_BOOTSTRAP_ADMIN_PASSWORD go together")
	r.Check(c.AccessTTL > 0 && c.SessionTTL > c.AccessTTL, "AUTH_SESSION_TTL", "must be longer than AUTH_ACCESS_TTL")
	r.Check(c.LoginPairBurst >= 1, "AUTH_LOGIN_PAIR_BURST", "must be at least 1")
	r.Check(c.LoginIPBurst >= 1, "AUTH_LOGIN_IP_BURST", "must be at least 1")
	return c, r.Err()
}

var migrations = []pg.Migrations{auth.Migrations, events.Migrations}

func main() {
	os.Exit(app.Main(os.Args, os.Stderr, loadConfig, migrations, run,
		app.Command[Config]{Name: "rotate-keys", Run: rotateKeys}))
}

func run(ctx context.Context, cfg Config, ln net.Listener, out io.Writer) error {
	a, err := app.New(ctx, cfg.Config, out, migrations...)
	if err != nil {
		return err
	}
	defer a.Close()
	b, err := build(ctx, cfg, a)
	if err != nil {
		return err
	}
	svc, keys := b.svc, b.keys
	if err := keys.EnsureKey(ctx); err != nil {
		return fmt.Errorf("signing key: %w", err)
	}
	if cfg.AdminEmail != "" {
		if err := svc.EnsureAdmin(ctx, cfg.AdminEmail, string(cfg.AdminPassword)); err != nil {
			return fmt.Errorf("bootstrap admin %s: %w", cfg.AdminEmail, err)
		}
		level.Info(a.Logger).Log("msg", "bootstrap admin ensured", "email", cfg.AdminEmail)
	}
	// Auth checks its own tokens the way every service does: through its
	// published JWKS and the shared revocation list.
	jwks := cfg.JWKSURL
	if jwks == "" {
		jwks = "http://" + ln.Addr().String() + "/.well-known/jwks.json"
	}
	// Auth is where sessions end, so it never trusts a cached "not
	// revoked": the request after a logout or role change is refused.
	v, err := a.Verifier(jwks, revocation.Options{NotRevokedTTL: -1})
	if err != nil {
		return err
	}
	a.Relay()
	a.Go("signing keys", keys.Run)
	oauth := auth.NewOAuthServer(svc, auth.OAuthDeps{
		Clients:  auth.NewPostgresClients(a.DB),
		Store:    auth.NewRedisOAuthStore(a.Redis, b.prefix),
		IDTokens: keys,
		Verifier: v,
	}, auth.OAuthConfig{ServiceScopes: cfg.OAuthScopes})
	m := kit.NewMetrics(a.Registry, "auth")
	opts := []auth.HTTPOption{
		auth.WithClientIP(cfg.TrustedProxies.ClientIP),
		auth.WithProto(cfg.TrustedProxies.Proto),
		auth.WithDiscovery(auth.NewDiscovery(cfg.Issuer).WithOAuth(oauth.Scopes())),
	}
	auth.MakeHTTPHandler(auth.MakeEndpoints(auth.Instrument(svc, a.Registry), a.Logger, m, v), a.Router, a.Logger, cfg.Issuer, opts...)
	auth.MakeOAuthHTTPHandler(auth.MakeOAuthEndpoints(oauth, a.Logger, m, v), a.Router, a.Logger, cfg.Issuer, b.sealer, opts...)
	return a.Serve(ctx, ln)
}

// validScope accepts an RFC 6749 §3.3 scope token that is not one of
// OpenID Connect's (those are always offered).
func validScope(s string) bool {
	if s == "" || s == auth.ScopeOpenID || s == auth.ScopeProfile || s == auth.ScopeEmail {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// built is the service assembled over its adapters.
type built struct {
	svc    *auth.AuthService
	keys   *auth.KeyManager
	sealer auth.Sealer
	prefix string // where auth's Redis keys live
}

// build assembles the service over its Postgres and Redis adapters.
func build(ctx context.Context, cfg Config, a *app.App) (built, error) {
	sealer, err := seal.FromConfig(string(cfg.SealKeys), cfg.SealKeysFile)
	if err != nil {
		return built{}, err
	}
	keys := auth.NewKeyManager(auth.NewPostgresSigningKeys(a.DB), sealer, auth.KeyConfig{
		Issuer: cfg.Issuer, Audience: cfg.Audience, AccessTTL: cfg.AccessTTL,
		RotateEvery: cfg.RotateEvery, PrePublish: cfg.PrePublish,
	}, log.With(a.Logger, "component", "keys"))
	limits := auth.DefaultLoginLimits
	limits.PerAccountIP.Burst = cfg.LoginPairBurst
	limits.PerIP.Burst = cfg.LoginIPBurst
	prefix := app.RevocationPrefix(cfg.Config) // sessions mark revocations where checkers look
	svc := auth.NewService(auth.Deps{
		Users:      auth.NewPostgresUsers(a.DB),
		Tx:         pg.Transactor{DB: a.DB},
		Outbox:     events.Enqueue,
		Sessions:   auth.NewRedisSessions(a.Redis, prefix, cfg.AccessTTL),
		Challenges: auth.NewRedisChallenges(a.Redis, prefix),
		Limiter:    auth.NewRedisLimiter(a.Redis, prefix),
		Hasher:     auth.NewArgon2Hasher(cfg.Argon2),
		Signer:     keys,
		Sealer:     sealer,
	}, auth.Config{AccessTTL: cfg.AccessTTL, SessionTTL: cfg.SessionTTL, Limits: limits})
	return built{svc: svc, keys: keys, sealer: sealer, prefix: prefix}, nil
}

// rotateKeys is "auth rotate-keys": an operator's rotation, outside the
// schedule (a suspected key compromise, say).
func rotateKeys(ctx context.Context, cfg Config, out io.Writer) error {
	a, err := app.New(ctx, cfg.Config, out, migrations...)
	if err != nil {
		return err
	}
	defer a.Close()
	b, err := build(ctx, cfg, a)
	if err != nil {
		return err
	}
	rotated, err := b.keys.Rotate(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "rotated: %v\n", rotated)
	return nil
}
