package auth

import (
	"bufio"
	"crypto/rand"
	"crypto/subtle"
	_ "embed"
	"encoding/base64"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"github.com/azora-os/azora/shared/errs"
)

// Password length bounds, in characters (runes), as API.md states them.
const (
	MinPasswordLen = 10
	MaxPasswordLen = 128
)

//go:embed passwords/common.txt
var commonPasswordList string

// commonPasswords is the embedded list as a set, built on first use.
var commonPasswords = sync.OnceValue(func() map[string]struct{} {
	set := make(map[string]struct{}, 30000)
	sc := bufio.NewScanner(strings.NewReader(commonPasswordList))
	for sc.Scan() {
		if pw := strings.TrimSpace(sc.Text()); pw != "" {
			set[strings.ToLower(pw)] = struct{}{}
		}
	}
	return set
})

// CheckPassword applies the password policy: 10 to 128 characters
// (counted as Unicode code points; nothing is ever truncated) and not one of
// the 30,000 most common passwords (passwords/README.md), ignoring case.
// It returns ErrWeakPassword otherwise.
func CheckPassword(pw string) error {
	switch n := utf8.RuneCountInString(pw); {
	case n < MinPasswordLen:
		return ErrWeakPassword.WithMessage("the password must be at least %d characters", MinPasswordLen)
	case n > MaxPasswordLen:
		return ErrWeakPassword.WithMessage("the password must be at most %d characters", MaxPasswordLen)
	}
	if _, common := commonPasswords()[strings.ToLower(pw)]; common {
		return ErrWeakPassword.WithMessage("the password is one of the most commonly used; choose another")
	}
	return nil
}

// Argon2Params are the argon2id cost parameters. Zero fields take the
// values of DefaultArgon2Params.
type Argon2Params struct {
	Time      uint32 // passes over memory
	MemoryKiB uint32 // memory in KiB
	Threads   uint8  // lanes
	SaltLen   uint32 // bytes of random salt
	KeyLen    uint32 // bytes of derived hash
}

// DefaultArgon2Params returns OWASP's argon2id recommendation (t=2,
// 19 MiB, p=1) with a 16-byte salt and a 32-byte hash.
func DefaultArgon2Params() Argon2Params {
	return Argon2Params{Time: 2, MemoryKiB: 19456, Threads: 1, SaltLen: 16, KeyLen: 32}
}

// Bounds on the parameters a stored hash may name: a corrupt or hostile
// row must not make Verify allocate gigabytes or loop for minutes.
const (
	maxArgon2MemoryKiB = 1 << 21 // 2 GiB
	maxArgon2Time      = 64
	minArgon2SaltLen   = 8
	maxArgon2SaltLen   = 64
	minArgon2KeyLen    = 16
	maxArgon2KeyLen    = 128
)

// errMalformedHash is a stored password hash Verify cannot read: data
// corruption, so a server fault rather than a wrong password.
var errMalformedHash = errs.New(errs.Internal, "malformed_password_hash", "internal error")

var _ PasswordHasher = (*Argon2Hasher)(nil)

// Argon2Hasher is the PasswordHasher over argon2id with PHC-formatted
// hashes ($argon2id$v=19$m=…,t=…,p=…$salt$hash, unpadded standard base64).
// It is safe for concurrent use.
//
// It computes at most GOMAXPROCS hashes at once; the other callers wait
// their turn. Each hash holds MemoryKiB (19 MiB by default) and a CPU for
// its whole run, so more at once add no throughput, only memory: unbounded,
// 16 clients logging in drove auth's RSS from 80 to 440 MiB (make bench),
// and a burst of logins could get a pod killed for its memory limit.
type Argon2Hasher struct {
	p     Argon2Params
	dummy string        // a hash under p of a random password, for Dummy
	slots chan struct{} // one per hash being computed
}

// NewArgon2Hasher returns a hasher with params p, zero fields taking the
// defaults. It computes one hash (the one Dummy checks against), so it
// takes as long as a login.
func NewArgon2Hasher(p Argon2Params) *Argon2Hasher {
	d := DefaultArgon2Params()
	if p.Time == 0 {
		p.Time = d.Time
	}
	if p.MemoryKiB == 0 {
		p.MemoryKiB = d.MemoryKiB
	}
	if p.Threads == 0 {
		p.Threads = d.Threads
	}
	if p.SaltLen == 0 {
		p.SaltLen = d.SaltLen
	}
	if p.KeyLen == 0 {
		p.KeyLen = d.KeyLen
	}
	h := &Argon2Hasher{p: p, slots: make(chan struct{}, runtime.GOMAXPROCS(0))}
	// The dummy hash has the current parameters, so that checking it costs
	// exactly what checking a real, up-to-date hash does.
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	h.dummy = h.encode(secret, h.salt())
	return h
}

// Params returns the parameters new hashes are made with.
func (h *Argon2Hasher) Params() Argon2Params { return h.p }

// Hash returns the PHC string of password under a fresh random salt. It
// hashes every byte of the password: nothing is truncated. It never fails
// (the error is the port's).
func (h *Argon2Hasher) Hash(password string) (string, error) {
	return h.encode([]byte(password), h.salt()), nil
}

// salt returns fresh random bytes; crypto/rand.Read never fails (since Go
// 1.24 it crashes the program instead of returning an error).
func (h *Argon2Hasher) salt() []byte {
	salt := make([]byte, h.p.SaltLen)
	_, _ = rand.Read(salt)
	return salt
}

func (h *Argon2Hasher) encode(password, salt []byte) string {
	key := h.key(password, salt, h.p)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version,
		h.p.MemoryKiB, h.p.Time, h.p.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// key derives password's argon2id key under p, waiting for a free slot.
func (h *Argon2Hasher) key(password, salt []byte, p Argon2Params) []byte {
	h.slots <- struct{}{}
	defer func() { <-h.slots }()
	return argon2.IDKey(password, salt, p.Time, p.MemoryKiB, p.Threads, p.KeyLen)
}

// Verify reports whether password matches the PHC string encoded, comparing
// in constant time, and whether encoded should be replaced by a new Hash
// because its parameters (costs, salt or hash length) differ from the
// current ones. A hash it cannot read returns an internal
// malformed_password_hash error.
func (h *Argon2Hasher) Verify(password, encoded string) (ok, rehash bool, err error) {
	p, salt, want, err := decodeArgon2(encoded)
	if err != nil {
		return false, false, err
	}
	got := h.key([]byte(password), salt, p)
	ok = subtle.ConstantTimeCompare(got, want) == 1
	return ok, p != h.p, nil
}

// Dummy checks password against a hash of a random secret under the
// current parameters and throws the answer away: a login for an unknown
// email takes as long as one for a known email with a wrong password.
func (h *Argon2Hasher) Dummy(password string) {
	_, _, _ = h.Verify(password, h.dummy)
}

// decodeArgon2 parses "$argon2id$v=19$m=M,t=T,p=P$salt$hash".
func decodeArgon2(s string) (Argon2Params, []byte, []byte, error) {
	var p Argon2Params
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" {
		return p, nil, nil, errMalformedHash.WithMessage("not a PHC string")
	}
	if parts[1] != "argon2id" {
		return p, nil, nil, errMalformedHash.WithMessage("algorithm %q is not argon2id", parts[1])
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return p, nil, nil, errMalformedHash.WithMessage("unsupported argon2 version %q", parts[2])
	}
	m, t, threads, ok := parseArgon2Costs(parts[3])
	if !ok {
		return p, nil, nil, errMalformedHash.WithMessage("bad parameters %q", parts[3])
	}
	salt, err1 := base64.RawStdEncoding.Strict().DecodeString(parts[4])
	key, err2 := base64.RawStdEncoding.Strict().DecodeString(parts[5])
	if err1 != nil || err2 != nil ||
		len(salt) < minArgon2SaltLen || len(salt) > maxArgon2SaltLen ||
		len(key) < minArgon2KeyLen || len(key) > maxArgon2KeyLen {
		return p, nil, nil, errMalformedHash.WithMessage("bad salt or hash")
	}
	p = Argon2Params{Time: t, MemoryKiB: m, Threads: threads, SaltLen: uint32(len(salt)), KeyLen: uint32(len(key))}
	return p, salt, key, nil
}

// parseArgon2Costs parses "m=M,t=T,p=P", in that order as the PHC format
// for argon2 fixes it, within the bounds Verify accepts.
func parseArgon2Costs(s string) (m, t uint32, p uint8, ok bool) {
	fields := strings.Split(s, ",")
	if len(fields) != 3 {
		return 0, 0, 0, false
	}
	var vals [3]uint64
	for i, name := range []string{"m=", "t=", "p="} {
		v, found := strings.CutPrefix(fields[i], name)
		if !found {
			return 0, 0, 0, false
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil || (len(v) > 1 && v[0] == '0') {
			return 0, 0, 0, false
		}
		vals[i] = n
	}
	m, t = uint32(vals[0]), uint32(vals[1])
	if vals[2] < 1 || vals[2] > 255 || t < 1 || t > maxArgon2Time ||
		m < 8*uint32(vals[2]) || m > maxArgon2MemoryKiB {
		return 0, 0, 0, false
	}
	return m, t, uint8(vals[2]), true
}
