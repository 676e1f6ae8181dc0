package auth

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/kit"
)

// Defaults of KeyConfig.
const (
	DefaultAccessTTL   = 15 * time.Minute
	DefaultPrePublish  = time.Minute
	DefaultKeyRefresh  = 15 * time.Second
	DefaultRSABits     = 2048
	AccessTokenType    = "at+jwt" // the JOSE typ of access tokens (RFC 9068)
	keyRetentionLeeway = time.Minute
)

// ErrInvalidKeyConfig reports a KeyConfig that cannot work; EnsureKey,
// Rotate, Sign and Run return it.
var ErrInvalidKeyConfig = errs.New(errs.Invalid, "invalid_key_config", "the signing key configuration is invalid")

// errSigningKeyUnreadable is a stored signing key that cannot be opened: a
// wrong key-encryption key, or a changed row. It is never papered over.
var errSigningKeyUnreadable = errs.New(errs.Internal, "signing_key_unreadable", "internal error")

// KeyConfig configures a KeyManager. Zero durations take the defaults.
type KeyConfig struct {
	Issuer   string // iss of every token; required
	Audience string // aud of every token; required
	// AccessTTL is the longest life of an access token (default 15 min); a
	// retired key stays published this long (plus a minute) after it
	// stopped signing.
	AccessTTL time.Duration
	// RotateEvery is the age at which Run replaces the newest key; 0
	// rotates only on command (Rotate).
	RotateEvery time.Duration
	// PrePublish is how long a new key is published before it signs
	// (default 1 min). It must cover Refresh plus the verifiers' minimum
	// JWKS refresh interval (kit.DefaultMinRefreshInterval, 30 s), so every
	// auth instance publishes the key and every verifier has had a chance
	// to fetch it before the first token it signs appears.
	PrePublish time.Duration
	// Refresh is how often the key set is re-read from the store, so that
	// instances learn of each other's rotations (default 15 s).
	Refresh time.Duration
	// RSABits is the size of new keys: 2048 (default), 3072 or 4096.
	RSABits int
	// Clock returns the time; default time.Now. Tests move it.
	Clock func() time.Time
}

// withDefaults fills zero fields and reports what cannot work.
func (c KeyConfig) withDefaults() (KeyConfig, error) {
	if c.AccessTTL == 0 {
		c.AccessTTL = DefaultAccessTTL
	}
	if c.PrePublish == 0 {
		c.PrePublish = DefaultPrePublish
	}
	if c.Refresh == 0 {
		c.Refresh = DefaultKeyRefresh
	}
	if c.RSABits == 0 {
		c.RSABits = DefaultRSABits
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	bad := ErrInvalidKeyConfig.WithMessage
	switch {
	case c.Issuer == "" || c.Audience == "":
		return c, bad("the token issuer and audience are required")
	case c.AccessTTL < 0 || c.RotateEvery < 0 || c.Refresh < 0:
		return c, bad("durations must not be negative")
	case c.PrePublish < c.Refresh+kit.DefaultMinRefreshInterval:
		return c, bad("the pre-publication delay %v must be at least the refresh interval %v plus %v", c.PrePublish, c.Refresh, kit.DefaultMinRefreshInterval)
	case c.RotateEvery != 0 && c.RotateEvery <= c.PrePublish:
		return c, bad("keys must live longer (%v) than their pre-publication (%v)", c.RotateEvery, c.PrePublish)
	case c.RSABits != 2048 && c.RSABits != 3072 && c.RSABits != 4096:
		return c, bad("RSA keys must be 2048, 3072 or 4096 bits, not %d", c.RSABits)
	}
	return c, nil
}

var _ Signer = (*KeyManager)(nil)

// KeyManager signs access tokens (RS256) and publishes their keys, and
// rotates the keys, which every auth instance shares through the store,
// each sealed under the Sealer's key-encryption key. Private keys are
// opened in memory only. It implements Signer and is safe for concurrent
// use.
type KeyManager struct {
	store  SigningKeys
	sealer Sealer
	cfg    KeyConfig
	cfgErr error
	logger log.Logger

	snap      atomic.Pointer[keySnapshot]
	refreshMu sync.Mutex // one store read at a time
}

// keySnapshot is the key set as last read from the store.
type keySnapshot struct {
	checked time.Time   // when the store was last asked (even if it failed)
	keys    []*keyEntry // newest first
}

// keyEntry is one stored key, opened.
type keyEntry struct {
	meta   SigningKey
	jwk    JWK
	signer jose.Signer
	// idSigner signs ID tokens: typ JWT, so that an ID token is never
	// taken for an access token (at+jwt, RFC 9068 §4).
	idSigner jose.Signer
	err      error // set when the key cannot be opened: it neither signs nor is published
}

// NewKeyManager returns a KeyManager over store and sealer. A bad cfg is
// reported by EnsureKey, Rotate and Sign (ErrInvalidKeyConfig). A nil
// logger logs nothing.
func NewKeyManager(store SigningKeys, sealer Sealer, cfg KeyConfig, logger log.Logger) *KeyManager {
	if logger == nil {
		logger = log.NewNopLogger()
	}
	cfg, err := cfg.withDefaults()
	return &KeyManager{store: store, sealer: sealer, cfg: cfg, cfgErr: err, logger: logger}
}

func (m *KeyManager) now() time.Time { return m.cfg.Clock() }

// retention is how long after retirement a key stays published: until
// every token it signed has expired, plus verifiers' leeway and clock skew.
func (m *KeyManager) retention() time.Duration { return m.cfg.AccessTTL + keyRetentionLeeway }

// tokenClaims is the access token payload, in API.md's claim names.
type tokenClaims struct {
	Issuer    string           `json:"iss"`
	Subject   string           `json:"sub"`
	Audience  jwt.Audience     `json:"aud"`
	Expiry    *jwt.NumericDate `json:"exp"`
	IssuedAt  *jwt.NumericDate `json:"iat"`
	NotBefore *jwt.NumericDate `json:"nbf"`
	ID        string           `json:"jti"`
	SessionID string           `json:"sid"`
	Roles     []string         `json:"roles"`
	AMR       []string         `json:"amr"`
	ClientID  string           `json:"client_id,omitempty"`
	Scope     string           `json:"scope,omitempty"`
}

// Sign returns an RS256 JWT (typ at+jwt) for c, signed with the key active
// now; a zero IssuedAt means now and a zero ExpiresAt IssuedAt + AccessTTL.
// Errors: no_signing_key when no key is active yet; signing_key_unreadable
// (internal) when the active key cannot be opened; internal for claims
// without a subject or living longer than AccessTTL; invalid_key_config.
func (m *KeyManager) Sign(ctx context.Context, c AccessClaims) (string, error) {
	k, err := m.stamp(ctx, c.Subject, &c.IssuedAt, &c.ExpiresAt)
	if err != nil {
		return "", err
	}
	claims := tokenClaims{
		Issuer:    m.cfg.Issuer,
		Subject:   c.Subject,
		Audience:  jwt.Audience{m.cfg.Audience},
		Expiry:    jwt.NewNumericDate(c.ExpiresAt),
		IssuedAt:  jwt.NewNumericDate(c.IssuedAt),
		NotBefore: jwt.NewNumericDate(c.IssuedAt),
		ID:        c.ID,
		SessionID: c.SessionID,
		Roles:     nonNil(c.Roles),
		AMR:       nonNil(c.AMR),
		ClientID:  c.ClientID,
		Scope:     strings.Join(c.Scope, " "),
	}
	tok, err := jwt.Signed(k.signer).Claims(claims).Serialize()
	if err != nil {
		return "", errs.Internalf(err, "sign with key %s", k.meta.ID)
	}
	return tok, nil
}

// activeKey returns the key that signs now, and now. Errors:
// invalid_key_config, no_signing_key, signing_key_unreadable, the store's.
// stamp returns the key active now for a token about subject, filling a
// zero *iat with now and a zero *exp with *iat + AccessTTL, and checking
// the result (checkClaims). Errors: those of activeKey and checkClaims.
func (m *KeyManager) stamp(ctx context.Context, subject string, iat, exp *time.Time) (*keyEntry, error) {
	k, now, err := m.activeKey(ctx)
	if err != nil {
		return nil, err
	}
	if iat.IsZero() {
		*iat = now
	}
	if exp.IsZero() {
		*exp = iat.Add(m.cfg.AccessTTL)
	}
	if err := m.checkClaims(subject, *iat, *exp); err != nil {
		return nil, err
	}
	return k, nil
}

func (m *KeyManager) activeKey(ctx context.Context) (*keyEntry, time.Time, error) {
	if m.cfgErr != nil {
		return nil, time.Time{}, m.cfgErr
	}
	s, err := m.snapshot(ctx)
	if err != nil {
		return nil, time.Time{}, err
	}
	now := m.now()
	k := s.signing(now)
	if k == nil {
		return nil, now, ErrNoSigningKey
	}
	if k.err != nil {
		return nil, now, k.err
	}
	return k, now, nil
}

// checkClaims refuses a token without a subject or living longer than
// AccessTTL: it would outlive its key's publication.
func (m *KeyManager) checkClaims(subject string, iat, exp time.Time) error {
	switch {
	case subject == "":
		return errs.Internalf(fmt.Errorf("no subject"), "sign")
	case !exp.After(iat) || exp.Sub(iat) > m.cfg.AccessTTL:
		return errs.Internalf(fmt.Errorf("lifetime %v is not within (0, %v]", exp.Sub(iat), m.cfg.AccessTTL), "sign")
	}
	return nil
}

// nonNil makes a nil list an empty JSON array rather than null.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// JWKS returns the public keys of every key that may have signed a
// still-valid token or is about to sign: each from its creation (before it
// signs) until AccessTTL plus a minute after its retirement. It reads the
// in-memory set, re-reading the store when the set is older than Refresh.
// Errors: the store's, only when no key set was ever read.
func (m *KeyManager) JWKS(ctx context.Context) (JWKS, error) {
	s, err := m.snapshot(ctx)
	if err != nil {
		return JWKS{}, err
	}
	now := m.now()
	set := JWKS{Keys: []JWK{}}
	for _, k := range s.keys {
		if k.err == nil && m.published(k.meta, now) {
			set.Keys = append(set.Keys, k.jwk)
		}
	}
	return set, nil
}

// published reports whether k belongs in the JWKS at now.
func (m *KeyManager) published(k SigningKey, now time.Time) bool {
	return k.RetiredAt.IsZero() || now.Before(k.RetiredAt.Add(m.retention()))
}

// signing returns the key that signs at now: the latest to have become
// active and not retired. Nil when none.
func (s *keySnapshot) signing(now time.Time) *keyEntry {
	var best *keyEntry
	for _, k := range s.keys {
		if k.meta.ActiveFrom.After(now) || (!k.meta.RetiredAt.IsZero() && !now.Before(k.meta.RetiredAt)) {
			continue
		}
		if best == nil || k.meta.ActiveFrom.After(best.meta.ActiveFrom) {
			best = k
		}
	}
	return best
}

// snapshot returns the key set, re-reading the store when it is older than
// Refresh. A failed re-read keeps the old set (logged): tokens keep being
// signed and verified while the database is briefly away.
func (m *KeyManager) snapshot(ctx context.Context) (*keySnapshot, error) {
	s := m.snap.Load()
	if m.fresh(s) {
		return s, nil
	}
	if s == nil {
		m.refreshMu.Lock()
	} else if !m.refreshMu.TryLock() {
		return s, nil // another caller is re-reading; the set we have serves
	}
	defer m.refreshMu.Unlock()
	if cur := m.snap.Load(); m.fresh(cur) {
		return cur, nil // re-read while we waited for the lock
	}
	next, err := m.reloadLocked(ctx)
	if err != nil && next != nil {
		level.Warn(m.logger).Log("msg", "cannot re-read signing keys; keeping the ones loaded", "err", err)
		return next, nil
	}
	return next, err
}

func (m *KeyManager) fresh(s *keySnapshot) bool {
	return s != nil && m.now().Sub(s.checked) < m.cfg.Refresh
}

// reload reads the store now and installs the new set. On failure it keeps
// the previous set, when there is one, and returns it with the error.
func (m *KeyManager) reload(ctx context.Context) (*keySnapshot, error) {
	m.refreshMu.Lock()
	defer m.refreshMu.Unlock()
	return m.reloadLocked(ctx)
}

// reloadLocked is reload with refreshMu held.
func (m *KeyManager) reloadLocked(ctx context.Context) (*keySnapshot, error) {
	prev := m.snap.Load()
	now := m.now()
	stored, err := m.store.List(ctx)
	if err != nil {
		if prev == nil {
			return nil, err
		}
		// Marked checked all the same, so the next try waits for Refresh
		// instead of every request hammering a sick database.
		kept := &keySnapshot{checked: now, keys: prev.keys}
		m.snap.Store(kept)
		return kept, err
	}
	old := map[string]*keyEntry{}
	if prev != nil {
		for _, k := range prev.keys {
			old[k.meta.ID] = k
		}
	}
	next := &keySnapshot{checked: now, keys: make([]*keyEntry, 0, len(stored))}
	for _, meta := range stored {
		if k, ok := old[meta.ID]; ok && bytes.Equal(k.meta.Sealed, meta.Sealed) {
			reused := *k
			reused.meta = meta // retirement may have changed
			next.keys = append(next.keys, &reused)
			continue
		}
		k := m.open(meta)
		if k.err != nil {
			level.Error(m.logger).Log("msg", "signing key cannot be opened; it will neither sign nor be published", "kid", meta.ID, "err", k.err)
		}
		next.keys = append(next.keys, k)
	}
	m.snap.Store(next)
	return next, nil
}

// open unseals and checks a stored key. Its kid must be the RFC 7638
// thumbprint of its public key, so a sealed key copied onto another row is
// refused too.
func (m *KeyManager) open(meta SigningKey) *keyEntry {
	k := &keyEntry{meta: meta}
	fail := func(format string, args ...any) *keyEntry {
		k.err = errSigningKeyUnreadable.Wrap(fmt.Errorf("key %s: "+format, append([]any{meta.ID}, args...)...))
		return k
	}
	der, err := m.sealer.Open(meta.Sealed)
	if err != nil {
		return fail("unseal: %w", err)
	}
	defer clear(der)
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return fail("parse: %w", err)
	}
	priv, ok := parsed.(*rsa.PrivateKey)
	if !ok || priv.N.BitLen() < 2048 {
		return fail("not an RSA key of at least 2048 bits")
	}
	kid, err := thumbprint(&priv.PublicKey)
	if err != nil {
		return fail("thumbprint: %w", err)
	}
	if kid != meta.ID {
		return fail("the key's thumbprint is %s", kid)
	}
	k.signer, err = jose.NewSigner(
		jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: priv, KeyID: meta.ID}},
		(&jose.SignerOptions{}).WithType(AccessTokenType))
	if err != nil {
		return fail("signer: %w", err)
	}
	k.idSigner, err = jose.NewSigner(
		jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: priv, KeyID: meta.ID}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return fail("ID token signer: %w", err)
	}
	k.jwk = publicJWK(meta.ID, &priv.PublicKey)
	return k
}

// thumbprint is the RFC 7638 SHA-256 thumbprint of pub, base64url: the kid.
func thumbprint(pub *rsa.PublicKey) (string, error) {
	sum, err := (&jose.JSONWebKey{Key: pub}).Thumbprint(crypto.SHA256)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(sum), nil
}

func publicJWK(kid string, pub *rsa.PublicKey) JWK {
	return JWK{
		KID: kid, KTY: "RSA", Use: "sig", Alg: string(jose.RS256),
		N: base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		E: base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
	}
}
