// Package kittest mints access tokens for tests of code behind kit.JWT: an
// Issuer holds RSA signing keys, publishes them as a JWKS from an httptest
// server, and signs tokens a kit.Verifier built from its VerifierConfig
// accepts. It also mints the malformed and hostile tokens transport tests
// need (alg none, HS256 keyed with the public key, unknown kid, foreign
// signature, no exp).
package kittest

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/azora-os/azora/shared/kit"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/google/uuid"
)

// The iss and aud tokens carry unless Claims say otherwise, and that
// VerifierConfig expects.
const (
	DefaultIssuer   = "https://auth.azora.test"
	DefaultAudience = "azora"
)

// signingKey is one published RSA key.
type signingKey struct {
	kid  string
	priv *rsa.PrivateKey
}

// Issuer is a test token issuer with its own JWKS endpoint.
type Issuer struct {
	srv     *httptest.Server
	fetches atomic.Int64

	mu        sync.Mutex
	keys      []signingKey // every key made, published or not
	published []signingKey
	current   signingKey
	foreign   *rsa.PrivateKey // lazily made; never published
	failJWKS  bool
}

// NewIssuer returns an Issuer with one fresh RSA-2048 key, its JWKS served
// until t ends. It fails t if the key cannot be generated.
func NewIssuer(t testing.TB) *Issuer {
	t.Helper()
	i := &Issuer{current: newKey(t)}
	i.keys = []signingKey{i.current}
	i.published = []signingKey{i.current}
	i.srv = httptest.NewServer(http.HandlerFunc(i.serveJWKS))
	t.Cleanup(i.srv.Close)
	return i
}

func newKey(t testing.TB) signingKey {
	t.Helper()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatalf("generate RSA key: %v", err)
	}
	id, err := uuid.NewV7()
	if err != nil {
		t.Fatalf("key id: %v", err)
	}
	return signingKey{kid: id.String(), priv: priv}
}

func (i *Issuer) serveJWKS(w http.ResponseWriter, _ *http.Request) {
	i.fetches.Add(1)
	i.mu.Lock()
	fail := i.failJWKS
	set := jose.JSONWebKeySet{}
	for _, k := range i.published {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: &k.priv.PublicKey, KeyID: k.kid, Algorithm: string(jose.RS256), Use: "sig"})
	}
	i.mu.Unlock()
	if fail {
		http.Error(w, "jwks unavailable", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(set)
}

// JWKSURL returns the URL the Issuer's key set is served at.
func (i *Issuer) JWKSURL() string { return i.srv.URL }

// VerifierConfig returns a kit.VerifierConfig that accepts the Issuer's
// default tokens: its JWKS URL, DefaultIssuer and DefaultAudience. Other
// fields keep kit's defaults for the caller to override.
func (i *Issuer) VerifierConfig() kit.VerifierConfig {
	return kit.VerifierConfig{JWKSURL: i.JWKSURL(), Issuer: DefaultIssuer, Audience: DefaultAudience, HTTPClient: i.srv.Client()}
}

// Fetches returns how many times the JWKS has been requested.
func (i *Issuer) Fetches() int { return int(i.fetches.Load()) }

// KID returns the key id tokens are signed with now.
func (i *Issuer) KID() string {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.current.kid
}

// PublicKey returns the public half of the current signing key.
func (i *Issuer) PublicKey() *rsa.PublicKey {
	i.mu.Lock()
	defer i.mu.Unlock()
	return &i.current.priv.PublicKey
}

// Rotate makes a fresh key current and publishes it beside the old ones,
// which keep verifying until Remove. It returns the new kid.
func (i *Issuer) Rotate(t testing.TB) string {
	t.Helper()
	kid := i.NextKey(t)
	i.Publish(kid)
	return kid
}

// NextKey makes a fresh key current without publishing it, so tokens are
// signed with a kid the JWKS does not list until Publish. Key generation is
// slow; this lets timing-sensitive tests do it up front. It returns the kid.
func (i *Issuer) NextKey(t testing.TB) string {
	t.Helper()
	k := newKey(t)
	i.mu.Lock()
	defer i.mu.Unlock()
	i.keys = append(i.keys, k)
	i.current = k
	return k.kid
}

// Publish adds the key kid, made by NewIssuer, Rotate or NextKey, to the
// JWKS. It does nothing for an unknown or already published kid.
func (i *Issuer) Publish(kid string) {
	i.mu.Lock()
	defer i.mu.Unlock()
	for _, k := range i.published {
		if k.kid == kid {
			return
		}
	}
	for _, k := range i.keys {
		if k.kid == kid {
			i.published = append(i.published, k)
			return
		}
	}
}

// Remove stops publishing the key kid (Publish brings it back); tokens can
// still be minted with it while it is current.
func (i *Issuer) Remove(kid string) {
	i.mu.Lock()
	defer i.mu.Unlock()
	kept := i.published[:0]
	for _, k := range i.published {
		if k.kid != kid {
			kept = append(kept, k)
		}
	}
	i.published = kept
}

// FailJWKS makes the JWKS endpoint answer 503 (fail true) or serve the keys
// again (fail false).
func (i *Issuer) FailJWKS(fail bool) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.failJWKS = fail
}
