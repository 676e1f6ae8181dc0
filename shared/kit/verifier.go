package kit

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/azora-os/azora/shared/errs"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// MaxTokenBytes is the largest bearer token Verify parses; real access
// tokens are under 2 KB, and refusing big ones before parsing bounds the
// work an attacker can cause.
const MaxTokenBytes = 8 << 10

// Defaults of VerifierConfig.
const (
	DefaultLeeway             = 30 * time.Second
	DefaultMinRefreshInterval = 30 * time.Second
	DefaultFetchTimeout       = 5 * time.Second
	DefaultCacheSize          = 10000
)

// RevocationChecker says whether the session or token behind verified
// claims has been revoked (logout, refresh-token reuse). Verify asks it on
// every call, cache hits included, so revocations take effect at once.
type RevocationChecker interface {
	// Revoked reports whether c must be refused. An error makes Verify fail
	// closed with ErrAuthUnavailable (or the error itself when it is an
	// *errs.Error).
	Revoked(ctx context.Context, c Claims) (bool, error)
}

// VerifierConfig configures a Verifier. JWKSURL and Issuer are required.
type VerifierConfig struct {
	JWKSURL  string // where the auth service publishes its signing keys
	Issuer   string // the iss every token must carry
	Audience string // when set, aud must contain it
	// Leeway tolerates clock skew on exp, nbf and iat; default 30 s.
	Leeway time.Duration
	// MinRefreshInterval is the shortest time between two JWKS fetches
	// caused by unknown kids; default 30 s.
	MinRefreshInterval time.Duration
	// FetchTimeout bounds one JWKS fetch; default 5 s.
	FetchTimeout time.Duration
	// HTTPClient fetches the JWKS; default a plain http.Client.
	HTTPClient *http.Client
	// CacheSize bounds the verified-token cache; 0 means 10000, negative
	// disables the cache.
	CacheSize int
	// Revocations, when set, is asked about every verified token.
	Revocations RevocationChecker
}

// Verifier checks RS256 access tokens against the keys of a JWKS.
// It is safe for concurrent use.
type Verifier struct {
	issuer      string
	audience    jwt.Audience
	leeway      time.Duration
	keys        *keySet
	cache       *tokenCache // nil when disabled
	revocations RevocationChecker
}

// NewVerifier returns a Verifier for cfg. It fetches nothing yet: keys are
// loaded on first use, so a service can start before auth does. It returns
// an invalid_verifier_config error when JWKSURL is not an absolute http(s)
// URL, Issuer is empty or a duration is negative.
func NewVerifier(cfg VerifierConfig) (*Verifier, error) {
	bad := errs.New(errs.Invalid, "invalid_verifier_config", "")
	u, err := url.Parse(cfg.JWKSURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, bad.WithMessage("JWKS URL %q is not an absolute http(s) URL", cfg.JWKSURL)
	}
	if cfg.Issuer == "" {
		return nil, bad.WithMessage("issuer is required")
	}
	if cfg.Leeway < 0 || cfg.MinRefreshInterval < 0 || cfg.FetchTimeout < 0 {
		return nil, bad.WithMessage("leeway, refresh interval and fetch timeout must not be negative")
	}
	v := &Verifier{
		issuer:      cfg.Issuer,
		leeway:      orDefault(cfg.Leeway, DefaultLeeway),
		revocations: cfg.Revocations,
	}
	if cfg.Audience != "" {
		v.audience = jwt.Audience{cfg.Audience}
	}
	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{}
	}
	v.keys = newKeySet(cfg.JWKSURL, client,
		orDefault(cfg.MinRefreshInterval, DefaultMinRefreshInterval),
		orDefault(cfg.FetchTimeout, DefaultFetchTimeout))
	switch {
	case cfg.CacheSize == 0:
		v.cache = newTokenCache(DefaultCacheSize)
	case cfg.CacheSize > 0:
		v.cache = newTokenCache(cfg.CacheSize)
	}
	return v, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// Verify checks token and returns its claims. A token verified before is
// answered from the cache (a SHA-256 and a map lookup) until its exp; the
// revocation check runs every time. It returns ErrMissingToken for an
// empty token; ErrInvalidToken, with the reason as message, for a token
// that is oversized, malformed, not RS256, without kid, signed by an
// unknown key, badly signed, without exp, expired, not yet valid, from
// another issuer or audience, or revoked; and ErrAuthUnavailable when the
// JWKS or the revocation checker cannot be reached.
func (v *Verifier) Verify(ctx context.Context, token string) (Claims, error) {
	if token == "" {
		return Claims{}, ErrMissingToken
	}
	if len(token) > MaxTokenBytes {
		return Claims{}, invalid("token is larger than 8 KB")
	}
	now := time.Now()
	var (
		c   Claims
		hit bool
		sum [sha256.Size]byte
	)
	if v.cache != nil {
		sum = sha256.Sum256([]byte(token))
		c, hit = v.cache.get(sum, now)
	}
	if !hit {
		var err error
		if c, err = v.verify(ctx, token, now); err != nil {
			return Claims{}, err
		}
		if v.cache != nil {
			v.cache.put(sum, c)
		}
	}
	if v.revocations != nil {
		revoked, err := v.revocations.Revoked(ctx, c)
		if err != nil {
			var e *errs.Error
			if errors.As(err, &e) {
				return Claims{}, err
			}
			return Claims{}, ErrAuthUnavailable.Wrap(err)
		}
		if revoked {
			return Claims{}, invalid("token revoked")
		}
	}
	return c.clone(), nil
}

func invalid(why string) *errs.Error { return ErrInvalidToken.WithMessage("%s", why) }

// header is the part of the JOSE header Verify decides on before parsing.
type header struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
}

// private are Azora's claims beyond the registered ones.
type private struct {
	SessionID string   `json:"sid"`
	Roles     []string `json:"roles"`
	AMR       []string `json:"amr"`
	ClientID  string   `json:"client_id"`
	Scope     string   `json:"scope"`
}

// verify does the full check of a token not in the cache.
func (v *Verifier) verify(ctx context.Context, token string, now time.Time) (Claims, error) {
	// Read alg and kid ourselves first: go-jose would refuse other algs
	// too, but only with an opaque parse error.
	enc, _, ok := strings.Cut(token, ".")
	if !ok {
		return Claims{}, invalid("malformed token")
	}
	raw, err := base64.RawURLEncoding.DecodeString(enc)
	var h header
	if err != nil || json.Unmarshal(raw, &h) != nil {
		return Claims{}, invalid("malformed token")
	}
	if h.Alg != string(jose.RS256) {
		return Claims{}, invalid("token must be signed with RS256")
	}
	if h.Kid == "" {
		return Claims{}, invalid("token has no key id")
	}
	tok, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		return Claims{}, invalid("malformed token")
	}
	key, err := v.keys.key(ctx, h.Kid)
	if err != nil {
		return Claims{}, err
	}
	var std jwt.Claims
	var priv private
	if err := tok.Claims(key, &std, &priv); err != nil {
		if errors.Is(err, jose.ErrCryptoFailure) {
			return Claims{}, invalid("bad signature")
		}
		return Claims{}, invalid("malformed claims")
	}
	if std.Expiry == nil {
		return Claims{}, invalid("token has no expiry")
	}
	if std.Subject == "" {
		return Claims{}, invalid("token has no subject")
	}
	err = std.ValidateWithLeeway(jwt.Expected{Issuer: v.issuer, AnyAudience: v.audience, Time: now}, v.leeway)
	switch {
	case err == nil:
	case errors.Is(err, jwt.ErrExpired):
		return Claims{}, invalid("token expired")
	case errors.Is(err, jwt.ErrNotValidYet):
		return Claims{}, invalid("token not yet valid")
	case errors.Is(err, jwt.ErrIssuedInTheFuture):
		return Claims{}, invalid("token issued in the future")
	case errors.Is(err, jwt.ErrInvalidIssuer):
		return Claims{}, invalid("wrong issuer")
	case errors.Is(err, jwt.ErrInvalidAudience):
		return Claims{}, invalid("wrong audience")
	default:
		return Claims{}, invalid("invalid claims")
	}
	return Claims{
		Subject:   std.Subject,
		Issuer:    std.Issuer,
		Audience:  std.Audience,
		ExpiresAt: std.Expiry.Time(),
		IssuedAt:  timeOf(std.IssuedAt),
		NotBefore: timeOf(std.NotBefore),
		ID:        std.ID,
		SessionID: priv.SessionID,
		Roles:     priv.Roles,
		AMR:       priv.AMR,
		ClientID:  priv.ClientID,
		Scope:     scopeList(priv.Scope),
	}, nil
}

func timeOf(d *jwt.NumericDate) time.Time {
	if d == nil {
		return time.Time{}
	}
	return d.Time()
}

// scopeList splits a scope claim; no scopes is nil.
func scopeList(scope string) []string {
	if f := strings.Fields(scope); len(f) > 0 {
		return f
	}
	return nil
}
