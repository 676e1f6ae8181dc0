package seal_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"testing"

	"github.com/azora-os/azora/shared/seal"
)

func key(t testing.TB) []byte {
	t.Helper()
	k := make([]byte, seal.KeySize)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func newSealer(t testing.TB, keys map[string][]byte, current string) *seal.Sealer {
	t.Helper()
	s, err := seal.New(keys, current)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func TestSealRoundTrip(t *testing.T) {
	s := newSealer(t, map[string][]byte{"k1": key(t)}, "k1")
	for _, plain := range [][]byte{nil, []byte("x"), []byte("a TOTP seed of twenty"), bytes.Repeat([]byte{0xA5}, 4096)} {
		t.Run(fmt.Sprintf("%d bytes", len(plain)), func(t *testing.T) {
			blob, err := s.Seal(plain)
			if err != nil {
				t.Fatalf("Seal: %v", err)
			}
			if len(plain) > 4 && bytes.Contains(blob, plain) {
				t.Fatal("the sealed blob contains the plaintext")
			}
			got, err := s.Open(blob)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if !bytes.Equal(got, plain) {
				t.Fatalf("got %x, want %x", got, plain)
			}
			id, err := seal.KeyID(blob)
			if err != nil || id != "k1" {
				t.Fatalf("KeyID: got %q, %v, want k1", id, err)
			}
		})
	}
}

func TestOpenRefusesEveryTamperedByte(t *testing.T) {
	s := newSealer(t, map[string][]byte{"k1": key(t), "k2": key(t)}, "k1")
	blob, err := s.SealAD([]byte("secret seed"), []byte("user-1"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range blob {
		for _, flip := range []byte{0x01, 0x80} {
			bad := bytes.Clone(blob)
			bad[i] ^= flip
			if got, err := s.OpenAD(bad, []byte("user-1")); !errors.Is(err, seal.ErrOpen) {
				t.Fatalf("byte %d ^ %#x: got %q, %v, want ErrOpen", i, flip, got, err)
			}
		}
	}
	for _, n := range []int{0, 1, 2, len(blob) - 1} {
		if _, err := s.OpenAD(blob[:n], []byte("user-1")); !errors.Is(err, seal.ErrOpen) {
			t.Errorf("truncated to %d bytes: got %v, want ErrOpen", n, err)
		}
	}
	if _, err := s.OpenAD(append(bytes.Clone(blob), 0), []byte("user-1")); !errors.Is(err, seal.ErrOpen) {
		t.Errorf("one byte appended: got %v, want ErrOpen", err)
	}
	if _, err := s.OpenAD(blob, []byte("user-1")); err != nil {
		t.Fatalf("the untouched blob: %v", err)
	}
}

func TestAssociatedDataBindsTheBlob(t *testing.T) {
	s := newSealer(t, map[string][]byte{"k1": key(t)}, "k1")
	blob, err := s.SealAD([]byte("seed"), []byte("user-1"))
	if err != nil {
		t.Fatal(err)
	}
	for name, ad := range map[string][]byte{"other record": []byte("user-2"), "none": nil, "prefix": []byte("user-")} {
		t.Run(name, func(t *testing.T) {
			if _, err := s.OpenAD(blob, ad); !errors.Is(err, seal.ErrOpen) {
				t.Fatalf("got %v, want ErrOpen", err)
			}
		})
	}
	plain, err := s.Seal([]byte("seed"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.OpenAD(plain, []byte("user-1")); !errors.Is(err, seal.ErrOpen) {
		t.Fatalf("a blob sealed without ad opened with ad: got %v, want ErrOpen", err)
	}
}

func TestOpenWithWrongKeyFails(t *testing.T) {
	a := newSealer(t, map[string][]byte{"k1": key(t)}, "k1")
	b := newSealer(t, map[string][]byte{"k1": key(t)}, "k1") // same id, other key
	c := newSealer(t, map[string][]byte{"k9": key(t)}, "k9") // other id
	blob, err := a.Seal([]byte("signing key"))
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]*seal.Sealer{"same id, other key": b, "unknown id": c} {
		t.Run(name, func(t *testing.T) {
			if got, err := s.Open(blob); !errors.Is(err, seal.ErrOpen) {
				t.Fatalf("got %q, %v, want ErrOpen", got, err)
			}
		})
	}
}

func TestOldKEKStillOpensAfterRotation(t *testing.T) {
	k1, k2 := key(t), key(t)
	before := newSealer(t, map[string][]byte{"k1": k1}, "k1")
	old, err := before.Seal([]byte("sealed under k1"))
	if err != nil {
		t.Fatal(err)
	}
	after := newSealer(t, map[string][]byte{"k2": k2, "k1": k1}, "k2")
	got, err := after.Open(old)
	if err != nil || string(got) != "sealed under k1" {
		t.Fatalf("opening an old blob: got %q, %v", got, err)
	}
	fresh, err := after.Seal([]byte("sealed under k2"))
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := seal.KeyID(fresh); id != "k2" {
		t.Fatalf("new blobs sealed with %q, want k2", id)
	}
	if _, err := before.Open(fresh); !errors.Is(err, seal.ErrOpen) {
		t.Fatalf("a Sealer without k2 opened a k2 blob: %v", err)
	}
	if after.CurrentKeyID() != "k2" {
		t.Fatalf("CurrentKeyID: got %q, want k2", after.CurrentKeyID())
	}
}

func TestNewChecksKeys(t *testing.T) {
	tests := []struct {
		name    string
		keys    map[string][]byte
		current string
	}{
		{"short key", map[string][]byte{"k1": make([]byte, 16)}, "k1"},
		{"long key", map[string][]byte{"k1": make([]byte, 33)}, "k1"},
		{"empty key", map[string][]byte{"k1": nil}, "k1"},
		{"a bad old key", map[string][]byte{"k1": key(t), "k0": make([]byte, 31)}, "k1"},
		{"current missing", map[string][]byte{"k1": key(t)}, "k2"},
		{"no keys", nil, ""},
		{"bad id", map[string][]byte{"k:1": key(t)}, "k:1"},
		{"empty id", map[string][]byte{"": key(t)}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := seal.New(tt.keys, tt.current)
			if !errors.Is(err, seal.ErrInvalidKey) {
				t.Fatalf("got %v, %v, want ErrInvalidKey", s, err)
			}
		})
	}
}

func TestNoncesDiffer(t *testing.T) {
	s := newSealer(t, map[string][]byte{"k1": key(t)}, "k1")
	const n = 1000
	seen := make(map[string]bool, n)
	var first []byte
	for i := range n {
		blob, err := s.Seal([]byte("same plaintext"))
		if err != nil {
			t.Fatal(err)
		}
		nonce := string(blob[2+len("k1") : 2+len("k1")+12])
		if seen[nonce] {
			t.Fatalf("seal %d reused a nonce", i)
		}
		seen[nonce] = true
		if i == 0 {
			first = blob
		} else if bytes.Equal(blob, first) {
			t.Fatalf("seal %d gave the same blob as seal 0", i)
		}
	}
}

func TestSealerPrintsNoKey(t *testing.T) {
	k := key(t)
	s := newSealer(t, map[string][]byte{"k1": k}, "k1")
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		out := fmt.Sprintf(format, s)
		if bytes.Contains([]byte(out), k) || out != `seal.Sealer{current: "k1", keys: 1}` {
			t.Errorf("%s: got %q", format, out)
		}
	}
}

func BenchmarkSealOpen(b *testing.B) {
	s := newSealer(b, map[string][]byte{"k1": key(b)}, "k1")
	plain := make([]byte, 1200) // a PKCS#8 RSA-2048 key
	for b.Loop() {
		blob, err := s.Seal(plain)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Open(blob); err != nil {
			b.Fatal(err)
		}
	}
}
