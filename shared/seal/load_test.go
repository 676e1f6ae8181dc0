package seal_test

import (
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/azora-os/azora/shared/seal"
)

func TestLoadSpec(t *testing.T) {
	k1, k0 := key(t), key(t)
	std1, std0 := base64.StdEncoding.EncodeToString(k1), base64.StdEncoding.EncodeToString(k0)
	old, err := seal.New(map[string][]byte{"k0": k0}, "k0")
	if err != nil {
		t.Fatal(err)
	}
	oldBlob, err := old.Seal([]byte("old secret"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, spec string
	}{
		{"comma separated", "k1:" + std1 + ",k0:" + std0},
		{"spaces and newlines", "  k1 : " + std1 + " \n k0:" + std0 + "\n"},
		{"crlf file", "k1:" + std1 + "\r\nk0:" + std0 + "\r\n"},
		{"url-safe unpadded", "k1:" + base64.RawURLEncoding.EncodeToString(k1) + ",k0:" + base64.RawURLEncoding.EncodeToString(k0)},
		{"trailing comma", "k1:" + std1 + ",k0:" + std0 + ","},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := seal.Load(tt.spec)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if s.CurrentKeyID() != "k1" {
				t.Fatalf("current: got %q, want k1 (the first entry)", s.CurrentKeyID())
			}
			if got, err := s.Open(oldBlob); err != nil || string(got) != "old secret" {
				t.Fatalf("open a k0 blob: got %q, %v", got, err)
			}
			// The loaded k1 is the real k1: a Sealer built from it directly opens its blobs.
			blob, err := s.Seal([]byte("new"))
			if err != nil {
				t.Fatal(err)
			}
			direct, err := seal.New(map[string][]byte{"k1": k1}, "k1")
			if err != nil {
				t.Fatal(err)
			}
			if got, err := direct.Open(blob); err != nil || string(got) != "new" {
				t.Fatalf("open with the k1 given: got %q, %v", got, err)
			}
		})
	}
}

func TestLoadErrorsNameTheProblemNotTheKey(t *testing.T) {
	good := base64.StdEncoding.EncodeToString(key(t))
	short := base64.StdEncoding.EncodeToString([]byte("sixteen byte key"))
	tests := []struct {
		name, spec, want string
		secret           string // must not appear in the error
	}{
		{"empty", "", "no key-encryption key", ""},
		{"only separators", " , \n ", "no key-encryption key", ""},
		{"no id", good, "entry 1 is not of the form", good},
		{"empty id", ":" + good, "entry 1 is not of the form", good},
		{"empty key", "k1:", "entry 1 is not of the form", ""},
		{"bad id", "k/1:" + good, "entry 1: id must be", good},
		{"second entry", "k1:" + good + ",oops", "entry 2 is not of the form", good},
		{"duplicate", "k1:" + good + ",k1:" + good, `key id "k1" appears twice`, good},
		{"not base64", "k1:" + "not*base64!", `key "k1" is not valid base64`, "not*base64!"},
		{"short key", "k1:" + good + ",k0:" + short, `key "k0" is 16 bytes, want 32`, short},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := seal.Load(tt.spec)
			if !errors.Is(err, seal.ErrInvalidKey) {
				t.Fatalf("got %v, %v, want ErrInvalidKey", s, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %q, want it to say %q", err, tt.want)
			}
			if tt.secret != "" && strings.Contains(err.Error(), tt.secret) {
				t.Errorf("the error %q shows key material", err)
			}
		})
	}
}

func TestLoadFile(t *testing.T) {
	spec, err := seal.Generate("k7")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "kek")
	if err := os.WriteFile(path, []byte(spec+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := seal.LoadFile(path)
	if err != nil {
		t.Fatalf("LoadFile: %v", err)
	}
	if s.CurrentKeyID() != "k7" {
		t.Fatalf("current: got %q, want k7", s.CurrentKeyID())
	}
	fromEnv, err := seal.Load(spec)
	if err != nil {
		t.Fatal(err)
	}
	blob, err := s.Seal([]byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := fromEnv.Open(blob); err != nil || string(got) != "x" {
		t.Fatalf("the same spec from a file and a value disagree: got %q, %v", got, err)
	}

	missing := filepath.Join(t.TempDir(), "absent")
	if _, err := seal.LoadFile(missing); !errors.Is(err, seal.ErrInvalidKey) || !strings.Contains(err.Error(), missing) {
		t.Fatalf("missing file: got %v, want ErrInvalidKey naming %s", err, missing)
	}
}

func TestGenerate(t *testing.T) {
	a, err := seal.Generate("dev")
	if err != nil {
		t.Fatal(err)
	}
	b, err := seal.Generate("dev")
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Fatal("two generated keys are equal")
	}
	id, b64, _ := strings.Cut(a, ":")
	k, err := base64.StdEncoding.DecodeString(b64)
	if id != "dev" || err != nil || len(k) != seal.KeySize {
		t.Fatalf("got id %q and a %d-byte key (%v), want dev and %d bytes", id, len(k), err, seal.KeySize)
	}
	if _, err := seal.Generate("a b"); !errors.Is(err, seal.ErrInvalidKey) {
		t.Fatalf("bad id: got %v, want ErrInvalidKey", err)
	}
}
