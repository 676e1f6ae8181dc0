package kittest

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"maps"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/uuid"
)

// Claims are what a test token says. Zero fields take defaults: Issuer
// DefaultIssuer, Audience [DefaultAudience], IssuedAt and NotBefore now,
// ExpiresAt 15 minutes from now, ID and SessionID fresh UUIDs.
type Claims struct {
	Subject   string
	Roles     []string
	SessionID string
	ID        string
	AMR       []string
	Issuer    string
	Audience  []string
	ExpiresAt time.Time
	NotBefore time.Time
	IssuedAt  time.Time
	// Extra claims, added as they are (e.g. a large one to exceed
	// kit.MaxTokenBytes).
	Extra map[string]any
}

// Option changes how Token signs.
type Option func(*tokenOptions)

type tokenOptions struct {
	kid       string
	noKID     bool
	noExpiry  bool
	foreign   bool
	kidForced bool
}

// WithKID puts kid in the header instead of the current key's; pass an
// unpublished kid to test unknown keys. The current key still signs.
func WithKID(kid string) Option {
	return func(o *tokenOptions) { o.kid, o.kidForced = kid, true }
}

// WithoutKID leaves kid out of the header.
func WithoutKID() Option { return func(o *tokenOptions) { o.noKID = true } }

// WithoutExpiry leaves exp out of the claims.
func WithoutExpiry() Option { return func(o *tokenOptions) { o.noExpiry = true } }

// SignedByForeignKey signs with a key that is never published, under the
// current kid: a token with a bad signature.
func SignedByForeignKey() Option { return func(o *tokenOptions) { o.foreign = true } }

// Token returns an RS256 token for c, signed with the current key unless
// opts say otherwise. It fails t if signing fails.
func (i *Issuer) Token(t testing.TB, c Claims, opts ...Option) string {
	t.Helper()
	var o tokenOptions
	for _, opt := range opts {
		opt(&o)
	}
	i.mu.Lock()
	key := i.current
	if o.foreign {
		if i.foreign == nil {
			i.foreign = newKey(t).priv
		}
		key.priv = i.foreign
	}
	i.mu.Unlock()
	if o.kidForced {
		key.kid = o.kid
	}
	var signingKey any = jose.JSONWebKey{Key: key.priv, KeyID: key.kid}
	if o.noKID {
		signingKey = key.priv
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: signingKey}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatalf("new signer: %v", err)
	}
	s, err := jwt.Signed(signer).Claims(i.payload(t, c, o.noExpiry)).Serialize()
	if err != nil {
		t.Fatalf("sign token: %v", err)
	}
	return s
}

// NoneToken returns c as an unsigned token (alg "none") under the current
// kid, which verifiers must refuse.
func (i *Issuer) NoneToken(t testing.TB, c Claims) string {
	t.Helper()
	h, err := json.Marshal(map[string]string{"alg": "none", "typ": "JWT", "kid": i.KID()})
	if err != nil {
		t.Fatalf("marshal header: %v", err)
	}
	p, err := json.Marshal(i.payload(t, c, false))
	if err != nil {
		t.Fatalf("marshal claims: %v", err)
	}
	return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p) + "."
}

// HS256Token returns c signed HS256 with the current public key (PEM) as
// the HMAC secret, under the current kid: the key-confusion attack a
// verifier that trusts the header's alg falls for.
func (i *Issuer) HS256Token(t testing.TB, c Claims) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(i.PublicKey())
	if err != nil {
		t.Fatalf("marshal public key: %v", err)
	}
	secret := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	// go-jose does not put a symmetric JWK's kid in the header; set it
	// directly so the token names the RSA key it abuses.
	opts := (&jose.SignerOptions{}).WithType("JWT").WithHeader(jose.HeaderKey("kid"), i.KID())
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: secret}, opts)
	if err != nil {
		t.Fatalf("new HMAC signer: %v", err)
	}
	s, err := jwt.Signed(signer).Claims(i.payload(t, c, false)).Serialize()
	if err != nil {
		t.Fatalf("sign token: %v", err)
	}
	return s
}

// payload returns c's JSON claims with the defaults filled in.
func (i *Issuer) payload(t testing.TB, c Claims, noExpiry bool) map[string]any {
	t.Helper()
	now := time.Now()
	if c.Issuer == "" {
		c.Issuer = DefaultIssuer
	}
	if c.Audience == nil {
		c.Audience = []string{DefaultAudience}
	}
	if c.IssuedAt.IsZero() {
		c.IssuedAt = now
	}
	if c.NotBefore.IsZero() {
		c.NotBefore = now
	}
	if c.ExpiresAt.IsZero() {
		c.ExpiresAt = now.Add(15 * time.Minute)
	}
	if c.ID == "" {
		c.ID = newID(t)
	}
	if c.SessionID == "" {
		c.SessionID = newID(t)
	}
	p := map[string]any{
		"iss": c.Issuer, "sub": c.Subject, "aud": c.Audience,
		"iat": c.IssuedAt.Unix(), "nbf": c.NotBefore.Unix(),
		"jti": c.ID, "sid": c.SessionID,
	}
	if !noExpiry {
		p["exp"] = c.ExpiresAt.Unix()
	}
	if c.Roles != nil {
		p["roles"] = c.Roles
	}
	if c.AMR != nil {
		p["amr"] = c.AMR
	}
	maps.Copy(p, c.Extra)
	return p
}

func newID(t testing.TB) string {
	t.Helper()
	id, err := uuid.NewV7()
	if err != nil {
		t.Fatalf("uuid: %v", err)
	}
	return id.String()
}
