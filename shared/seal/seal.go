// Package seal encrypts secrets that must be readable again later (TOTP
// seeds, token signing keys, the certificate signing key) before they are
// stored, with AES-256-GCM under a key-encryption key (KEK) that never
// touches the database: it comes from Vault or a Kubernetes secret in
// production and from an environment variable locally.
//
// A Sealer holds several KEKs by id so that the KEK can be rotated: it seals
// with the current one and opens a blob with whichever KEK the blob names.
// A sealed blob is
//
//	version (1 byte) | id length (1 byte) | key id | nonce (12 bytes) | ciphertext and tag
//
// and the header before the nonce is authenticated with the ciphertext, so
// changing any byte of a blob makes Open fail.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"fmt"
	"maps"
	"slices"

	"github.com/azora-os/azora/shared/errs"
)

// KeySize is the length of a key-encryption key: 32 bytes, for AES-256.
const KeySize = 32

// version is the first byte of every blob, so the format can change.
const version byte = 1

const (
	nonceSize = 12 // the 96-bit nonce GCM is designed for
	tagSize   = 16
	maxIDLen  = 64
)

// ErrInvalidKey reports a bad KEK configuration: a key of the wrong length,
// a bad key id, no current key. Its message names the key id, never the key.
var ErrInvalidKey = errs.New(errs.Invalid, "invalid_seal_key", "the key-encryption keys are misconfigured")

// ErrOpen reports a blob that cannot be opened: it is malformed, was
// changed, was sealed with other associated data, or names a KEK this
// Sealer does not hold. It is a server fault: stored secrets are ours.
var ErrOpen = errs.New(errs.Internal, "unseal_failed", "a sealed secret could not be opened")

// Sealer seals and opens secrets. It is safe for concurrent use. It
// satisfies auth.Sealer.
type Sealer struct {
	current string
	aeads   map[string]cipher.AEAD
}

// New returns a Sealer over keys (KEK id → 32-byte key) that seals with
// keys[current]. Key ids are 1 to 64 characters of letters, digits, '.',
// '_' and '-'. It returns ErrInvalidKey when current is not in keys, a key
// is not KeySize bytes or an id is invalid. The Sealer keeps no reference
// to the key slices.
func New(keys map[string][]byte, current string) (*Sealer, error) {
	if _, ok := keys[current]; !ok {
		return nil, ErrInvalidKey.WithMessage("the current key id %q has no key", current)
	}
	s := &Sealer{current: current, aeads: make(map[string]cipher.AEAD, len(keys))}
	// Sorted so that the error for several bad keys is always the same.
	for _, id := range slices.Sorted(maps.Keys(keys)) {
		if !validID(id) {
			return nil, ErrInvalidKey.WithMessage("key id %q must be 1 to %d letters, digits, '.', '_' or '-'", id, maxIDLen)
		}
		k := keys[id]
		if len(k) != KeySize {
			return nil, ErrInvalidKey.WithMessage("key %q is %d bytes, want %d", id, len(k), KeySize)
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, ErrInvalidKey.Wrap(err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, ErrInvalidKey.Wrap(err)
		}
		s.aeads[id] = aead
	}
	return s, nil
}

func validID(id string) bool {
	if id == "" || len(id) > maxIDLen {
		return false
	}
	for _, c := range []byte(id) {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
		if !ok {
			return false
		}
	}
	return true
}

// CurrentKeyID returns the id of the KEK new blobs are sealed with.
func (s *Sealer) CurrentKeyID() string { return s.current }

// Seal encrypts plaintext under the current KEK. It fails only when the
// system's random source does (an internal error).
func (s *Sealer) Seal(plaintext []byte) ([]byte, error) { return s.SealAD(plaintext, nil) }

// Open decrypts a blob made by Seal. It returns ErrOpen when the blob is
// malformed or changed, or names a KEK this Sealer does not hold.
func (s *Sealer) Open(sealed []byte) ([]byte, error) { return s.OpenAD(sealed, nil) }

// SealAD is Seal with associated data: the blob opens only with the same
// ad, so a secret sealed for one record (say, a TOTP seed with its user id)
// cannot be copied onto another.
func (s *Sealer) SealAD(plaintext, ad []byte) ([]byte, error) {
	aead := s.aeads[s.current]
	h := header(s.current)
	out := make([]byte, len(h), len(h)+nonceSize+len(plaintext)+tagSize)
	copy(out, h)
	nonce := out[len(h) : len(h)+nonceSize]
	out = out[:len(h)+nonceSize]
	if _, err := rand.Read(nonce); err != nil {
		return nil, errs.Internalf(err, "seal: random nonce")
	}
	return aead.Seal(out, nonce, plaintext, additional(h, ad)), nil
}

// OpenAD decrypts a blob made by SealAD with the same ad. It returns
// ErrOpen when the blob is malformed, changed, sealed with other associated
// data, or names a KEK this Sealer does not hold.
func (s *Sealer) OpenAD(sealed, ad []byte) ([]byte, error) {
	id, rest, err := parseHeader(sealed)
	if err != nil {
		return nil, err
	}
	aead, ok := s.aeads[id]
	if !ok {
		return nil, ErrOpen.WithMessage("the secret was sealed with key %q, which is not configured", id)
	}
	h := sealed[:len(sealed)-len(rest)]
	plain, err := aead.Open(nil, rest[:nonceSize], rest[nonceSize:], additional(h, ad))
	if err != nil {
		return nil, ErrOpen.Wrap(err)
	}
	return plain, nil
}

// KeyID returns the id of the KEK sealed was sealed with, so that blobs
// under an old KEK can be found and resealed. It returns ErrOpen for a
// malformed blob; it does not check the ciphertext.
func KeyID(sealed []byte) (string, error) {
	id, _, err := parseHeader(sealed)
	return id, err
}

// header returns the blob prefix for key id.
func header(id string) []byte {
	h := make([]byte, 0, 2+len(id))
	h = append(h, version, byte(len(id)))
	return append(h, id...)
}

// parseHeader splits sealed into its key id and the nonce, ciphertext and
// tag that follow.
func parseHeader(sealed []byte) (id string, rest []byte, err error) {
	if len(sealed) < 2 {
		return "", nil, ErrOpen.WithMessage("the sealed secret is truncated")
	}
	if sealed[0] != version {
		return "", nil, ErrOpen.WithMessage("the sealed secret has unknown format version %d", sealed[0])
	}
	n := int(sealed[1])
	if n == 0 || n > maxIDLen || len(sealed) < 2+n+nonceSize+tagSize {
		return "", nil, ErrOpen.WithMessage("the sealed secret is truncated")
	}
	return string(sealed[2 : 2+n]), sealed[2+n:], nil
}

// additional is GCM's associated data: the header, then the caller's ad.
// The header is length-prefixed, so the split between the two is
// unambiguous.
func additional(h, ad []byte) []byte {
	if len(ad) == 0 {
		return h
	}
	return append(append(make([]byte, 0, len(h)+len(ad)), h...), ad...)
}

// String describes the Sealer without its keys, so that printing one by
// mistake leaks nothing.
func (s *Sealer) String() string {
	return fmt.Sprintf("seal.Sealer{current: %q, keys: %d}", s.current, len(s.aeads))
}

// GoString is String, for %#v.
func (s *Sealer) GoString() string { return s.String() }
