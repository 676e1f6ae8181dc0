package seal

import (
	"crypto/rand"
	"encoding/base64"
	"os"
	"strings"

	"github.com/azora-os/azora/shared/errs"
)

// Load builds a Sealer from a configuration value of the form
//
//	k2:BASE64KEY,k1:BASE64KEY
//
// listing KEKs by id, the first being the current one; entries may also be
// separated by newlines, and surrounding spaces are ignored. Keys are 32
// bytes in standard or URL-safe base64, padded or not. It returns
// ErrInvalidKey naming the entry that is wrong (by position and id, never
// showing key material): empty spec, an entry without "id:", a duplicate
// id, a key that is not base64 or not 32 bytes.
func Load(spec string) (*Sealer, error) {
	entries := strings.FieldsFunc(spec, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' })
	keys := make(map[string][]byte, len(entries))
	current := ""
	n := 0
	for _, e := range entries {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		n++
		id, b64, ok := strings.Cut(e, ":")
		id, b64 = strings.TrimSpace(id), strings.TrimSpace(b64)
		if !ok || id == "" || b64 == "" {
			return nil, ErrInvalidKey.WithMessage("key entry %d is not of the form id:base64key", n)
		}
		if !validID(id) {
			return nil, ErrInvalidKey.WithMessage("key entry %d: id must be 1 to %d letters, digits, '.', '_' or '-'", n, maxIDLen)
		}
		if _, dup := keys[id]; dup {
			return nil, ErrInvalidKey.WithMessage("key id %q appears twice", id)
		}
		k, ok := decodeKey(b64)
		if !ok {
			return nil, ErrInvalidKey.WithMessage("key %q is not valid base64", id)
		}
		if len(k) != KeySize {
			return nil, ErrInvalidKey.WithMessage("key %q is %d bytes, want %d", id, len(k), KeySize)
		}
		if current == "" {
			current = id
		}
		keys[id] = k
	}
	if n == 0 {
		return nil, ErrInvalidKey.WithMessage("no key-encryption key is configured")
	}
	s, err := New(keys, current)
	for _, k := range keys {
		clear(k) // the AEADs hold their own expanded copies
	}
	return s, err
}

// LoadFile is Load over the contents of the file at path, as mounted by a
// Vault agent or a Kubernetes secret. It returns ErrInvalidKey when the file
// cannot be read (naming the path) or its contents are invalid.
func LoadFile(path string) (*Sealer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, ErrInvalidKey.WithMessage("cannot read the key file %s", path).Wrap(err)
	}
	defer clear(b)
	return Load(string(b))
}

// Generate returns a fresh spec for Load with one random KEK named id:
// for development secrets and tests. It returns ErrInvalidKey for a bad id.
func Generate(id string) (string, error) {
	if !validID(id) {
		return "", ErrInvalidKey.WithMessage("key id %q must be 1 to %d letters, digits, '.', '_' or '-'", id, maxIDLen)
	}
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		return "", errs.Internalf(err, "seal: random key")
	}
	return id + ":" + base64.StdEncoding.EncodeToString(k), nil
}

// decodeKey accepts the base64 spellings operators produce (openssl rand
// -base64 gives padded standard base64; some tools give URL-safe or
// unpadded forms).
func decodeKey(s string) ([]byte, bool) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil {
			return k, true
		}
	}
	return nil, false
}

// FromConfig returns the Sealer a service is configured with: from file
// when it is set (a Vault agent or Kubernetes secret mount), else from
// spec (an environment variable). Errors name the problem, never a key.
func FromConfig(spec, file string) (*Sealer, error) {
	if file != "" {
		return LoadFile(file)
	}
	return Load(spec)
}
