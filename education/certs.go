package education

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/jmoiron/sqlx"

	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/pg"
	"github.com/azora-os/azora/shared/seal"
)

var _ CertificateSigner = (*Ed25519Signer)(nil)

// certificateKeysLock is the pg_advisory_xact_lock key that serialises key
// creation across replicas ("azcertky" in ASCII, so it collides with no
// other lock by accident).
const certificateKeysLock int64 = 0x617a636572746b79

// sealPurpose prefixes the kid in the associated data of a sealed key, so a
// blob sealed for another purpose under the same KEK never opens as one.
const sealPurpose = "azora.education.certificate_key:"

// ErrNoCertificateKey is Sign before any key exists: EnsureKey did not run.
var ErrNoCertificateKey = errs.New(errs.Internal, "no_certificate_key", "no certificate signing key exists")

// Ed25519Signer is the CertificateSigner over the certificate_keys table:
// Ed25519 keys whose private halves are sealed under the Sealer's KEK and
// opened in memory only. Every replica shares the keys. It is safe for
// concurrent use.
type Ed25519Signer struct {
	db     *sqlx.DB
	sealer *seal.Sealer
	logger log.Logger

	mu      sync.RWMutex
	current *openKey                     // the signing key last opened
	public  map[string]ed25519.PublicKey // kid → public key; rows never change
}

// openKey is an unsealed signing key.
type openKey struct {
	id   string
	priv ed25519.PrivateKey
}

// NewEd25519Signer returns a signer over db's certificate_keys, opening keys
// with sealer. A nil logger logs nothing.
func NewEd25519Signer(db *sqlx.DB, sealer *seal.Sealer, logger log.Logger) *Ed25519Signer {
	if logger == nil {
		logger = log.NewNopLogger()
	}
	return &Ed25519Signer{db: db, sealer: sealer, logger: logger, public: map[string]ed25519.PublicKey{}}
}

const (
	lockCertificateKeys = `SELECT pg_advisory_xact_lock($1)`
	hasCurrentKey       = `SELECT EXISTS (SELECT 1 FROM certificate_keys WHERE retired_at IS NULL)`
	retireCurrentKey    = `UPDATE certificate_keys SET retired_at = now() WHERE retired_at IS NULL`
	insertKey           = `INSERT INTO certificate_keys (id, public_key, sealed_private) VALUES ($1, $2, $3)`
)

// EnsureKey creates a signing key when none is current, then opens the
// current key, so that a wrong KEK stops the service at start rather than
// at the first certificate. Replicas starting together take turns under a
// transaction advisory lock and create one key between them. Errors:
// certificate_key_unreadable (the KEK does not open the stored key),
// internal.
func (s *Ed25519Signer) EnsureKey(ctx context.Context) error {
	created := ""
	err := pg.Tx(ctx, s.db, nil, func(ctx context.Context, tx *sqlx.Tx) error {
		created = ""
		if _, err := tx.ExecContext(ctx, lockCertificateKeys, certificateKeysLock); err != nil {
			return err
		}
		// Under READ COMMITTED this statement's snapshot is taken once the
		// lock is ours, so it sees a key another replica just committed.
		var exists bool
		if err := tx.GetContext(ctx, &exists, hasCurrentKey); err != nil {
			return err
		}
		if exists {
			return nil
		}
		id, err := s.insertNew(ctx, tx)
		created = id
		return err
	})
	if err != nil {
		return errs.Internalf(err, "certificate keys: ensure")
	}
	if created != "" {
		level.Info(s.logger).Log("msg", "certificate signing key created", "kid", created)
	}
	_, err = s.signingKey(ctx)
	return err
}

// Rotate retires the current key and creates the key that signs from now
// on, returning its id. The retired key stays published and keeps
// verifying the certificates it signed. Errors: internal.
func (s *Ed25519Signer) Rotate(ctx context.Context) (string, error) {
	var id string
	err := pg.Tx(ctx, s.db, nil, func(ctx context.Context, tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, lockCertificateKeys, certificateKeysLock); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, retireCurrentKey); err != nil {
			return err
		}
		var err error
		id, err = s.insertNew(ctx, tx)
		return err
	})
	if err != nil {
		return "", errs.Internalf(err, "certificate keys: rotate")
	}
	level.Info(s.logger).Log("msg", "certificate signing key rotated", "kid", id)
	return id, nil
}

// insertNew generates a key, seals its seed bound to its kid and stores it.
func (s *Ed25519Signer) insertNew(ctx context.Context, tx *sqlx.Tx) (string, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", fmt.Errorf("generate: %w", err)
	}
	seed := priv.Seed()
	defer clear(seed)
	defer clear(priv)
	id := Thumbprint(pub)
	sealed, err := s.sealer.SealAD(seed, []byte(sealPurpose+id))
	if err != nil {
		return "", err
	}
	if _, err := tx.ExecContext(ctx, insertKey, id, []byte(pub), sealed); err != nil {
		return "", fmt.Errorf("insert %s: %w", id, err)
	}
	return id, nil
}

// Thumbprint is the RFC 7638 SHA-256 thumbprint of pub's RFC 8037 JWK,
// base64url without padding: the kid of a certificate key.
func Thumbprint(pub ed25519.PublicKey) string {
	// The required members crv, kty, x in lexicographic order, no spaces;
	// none of the values needs JSON escaping.
	canon := `{"crv":"Ed25519","kty":"OKP","x":"` + base64.RawURLEncoding.EncodeToString(pub) + `"}`
	sum := sha256.Sum256([]byte(canon))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// Sign signs msg with the current key and returns the signature (base64url,
// unpadded) and the key's id. It reads the current key's id on every call
// (joining the transaction in ctx), so a rotation by any replica takes
// effect at once, and unseals a key only when it is not the one cached.
// Errors: no_certificate_key, certificate_key_unreadable, internal.
func (s *Ed25519Signer) Sign(ctx context.Context, msg []byte) (sig, keyID string, err error) {
	k, err := s.signingKey(ctx)
	if err != nil {
		return "", "", err
	}
	return base64.RawURLEncoding.EncodeToString(ed25519.Sign(k.priv, msg)), k.id, nil
}

type currentKeyRow struct {
	ID     string `db:"id"`
	Public []byte `db:"public_key"`
	Sealed []byte `db:"sealed_private"`
}

// The unique index certificate_keys_one_current allows one unretired key;
// the ORDER BY only makes the choice explicit.
const selectCurrentKey = `
SELECT id, public_key, sealed_private FROM certificate_keys
WHERE retired_at IS NULL ORDER BY created_at DESC, id LIMIT 1`

// signingKey returns the current key, opened.
func (s *Ed25519Signer) signingKey(ctx context.Context) (*openKey, error) {
	var row currentKeyRow
	err := sqlx.GetContext(ctx, pg.Ext(ctx, s.db), &row, selectCurrentKey)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNoCertificateKey
	}
	if err != nil {
		return nil, errs.Internalf(err, "certificate keys: current")
	}
	s.mu.RLock()
	cur := s.current
	s.mu.RUnlock()
	if cur != nil && cur.id == row.ID {
		return cur, nil
	}
	k, err := s.open(row)
	if err != nil {
		level.Error(s.logger).Log("msg", "certificate signing key cannot be opened", "kid", row.ID, "err", err)
		return nil, err
	}
	s.mu.Lock()
	s.current = k
	s.public[k.id] = k.priv.Public().(ed25519.PublicKey)
	s.mu.Unlock()
	return k, nil
}

// open unseals a stored key and checks that it is the key its row names:
// the seed must give the stored public key, whose thumbprint is the id.
func (s *Ed25519Signer) open(row currentKeyRow) (*openKey, error) {
	fail := func(format string, args ...any) error {
		return ErrCertificateKeyLocked.Wrap(fmt.Errorf("key %s: "+format, append([]any{row.ID}, args...)...))
	}
	seed, err := s.sealer.OpenAD(row.Sealed, []byte(sealPurpose+row.ID))
	if err != nil {
		return nil, fail("%w", err)
	}
	defer clear(seed)
	if len(seed) != ed25519.SeedSize {
		return nil, fail("the sealed seed is %d bytes, want %d", len(seed), ed25519.SeedSize)
	}
	priv := ed25519.NewKeyFromSeed(seed)
	pub := priv.Public().(ed25519.PublicKey)
	if !bytes.Equal(pub, row.Public) || Thumbprint(pub) != row.ID {
		return nil, fail("the sealed key does not match the stored public key")
	}
	return &openKey{id: row.ID, priv: priv}, nil
}

const selectPublicKey = `SELECT public_key FROM certificate_keys WHERE id = $1`

// Verify reports whether sig (base64url, unpadded) is keyID's signature of
// msg. Retired keys still verify. An unknown key or a malformed signature
// is simply not valid (false, nil). Errors: internal, when the store
// cannot be read.
func (s *Ed25519Signer) Verify(ctx context.Context, keyID string, msg []byte, sig string) (bool, error) {
	// Strict: a signature whose last character differs only in unused
	// bits would otherwise decode to the same bytes.
	raw, err := base64.RawURLEncoding.Strict().DecodeString(sig)
	if err != nil || len(raw) != ed25519.SignatureSize || keyID == "" {
		return false, nil
	}
	pub, err := s.publicKey(ctx, keyID)
	if err != nil || pub == nil {
		return false, err
	}
	return ed25519.Verify(pub, msg, raw), nil
}

// publicKey returns keyID's public key, nil when there is no such key.
// Found keys are cached: a stored key never changes.
func (s *Ed25519Signer) publicKey(ctx context.Context, keyID string) (ed25519.PublicKey, error) {
	s.mu.RLock()
	pub, ok := s.public[keyID]
	s.mu.RUnlock()
	if ok {
		return pub, nil
	}
	var raw []byte
	err := sqlx.GetContext(ctx, pg.Ext(ctx, s.db), &raw, selectPublicKey, keyID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, errs.Internalf(err, "certificate keys: public key %s", keyID)
	}
	if len(raw) != ed25519.PublicKeySize {
		return nil, errs.Internalf(fmt.Errorf("%d bytes", len(raw)), "certificate keys: public key %s", keyID)
	}
	pub = ed25519.PublicKey(raw)
	s.mu.Lock()
	s.public[keyID] = pub
	s.mu.Unlock()
	return pub, nil
}

type publicKeyRow struct {
	ID     string `db:"id"`
	Public []byte `db:"public_key"`
}

const selectPublicKeys = `
SELECT id, public_key FROM certificate_keys
ORDER BY retired_at IS NULL DESC, created_at DESC, id`

// Keys returns every key certificates may verify with, the current one
// first, as an RFC 8037 JWKS (kty OKP, crv Ed25519, alg EdDSA, use sig).
// Retired keys stay: certificates live forever. Errors: internal.
func (s *Ed25519Signer) Keys(ctx context.Context) (KeySet, error) {
	var rows []publicKeyRow
	if err := sqlx.SelectContext(ctx, pg.Ext(ctx, s.db), &rows, selectPublicKeys); err != nil {
		return KeySet{}, errs.Internalf(err, "certificate keys: list")
	}
	set := KeySet{Keys: make([]PublicKey, 0, len(rows))}
	for _, r := range rows {
		set.Keys = append(set.Keys, PublicKey{
			KID: r.ID, KTY: "OKP", Crv: "Ed25519", Use: "sig", Alg: "EdDSA",
			X: base64.RawURLEncoding.EncodeToString(r.Public),
		})
	}
	return set, nil
}
