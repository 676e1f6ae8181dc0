package education_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/go-kit/log"
	"github.com/jmoiron/sqlx"
	jwxjwk "github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/azora-os/azora/education"
	"github.com/azora-os/azora/shared/events"
	"github.com/azora-os/azora/shared/pg"
	"github.com/azora-os/azora/shared/pg/pgtest"
	"github.com/azora-os/azora/shared/seal"
)

// certSealer returns a Sealer with one fresh KEK named id.
func certSealer(t *testing.T, id string) *seal.Sealer {
	t.Helper()
	spec, err := seal.Generate(id)
	if err != nil {
		t.Fatal(err)
	}
	s, err := seal.Load(spec)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// certSigner returns a signer with a key over a fresh database.
func certSigner(t *testing.T) (*education.Ed25519Signer, *sqlx.DB, *seal.Sealer) {
	t.Helper()
	db, _ := pgtest.New(t, education.Migrations, events.Migrations)
	sealer := certSealer(t, "k1")
	s := education.NewEd25519Signer(db, sealer, nil)
	if err := s.EnsureKey(context.Background()); err != nil {
		t.Fatalf("EnsureKey: %v", err)
	}
	return s, db, sealer
}

func TestEd25519SignerSignVerify(t *testing.T) {
	ctx := context.Background()
	s, _, _ := certSigner(t)
	msg := []byte(`{"id":"c1","learner_name":"Zoë Łukasiewicz"}`)
	sig, kid, err := s.Sign(ctx, msg)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	if ok, err := s.Verify(ctx, kid, msg, sig); !ok || err != nil {
		t.Fatalf("Verify of a fresh signature: got %v, %v, want true", ok, err)
	}

	t.Run("every changed byte of msg", func(t *testing.T) {
		for i := range msg {
			m := bytes.Clone(msg)
			m[i] ^= 0x01
			if ok, err := s.Verify(ctx, kid, m, sig); ok || err != nil {
				t.Fatalf("msg byte %d changed: got %v, %v, want false, nil", i, ok, err)
			}
		}
	})
	t.Run("every changed character of sig", func(t *testing.T) {
		for i := range sig {
			b := []byte(sig)
			if b[i] == 'A' {
				b[i] = 'B'
			} else {
				b[i] = 'A'
			}
			if ok, err := s.Verify(ctx, kid, msg, string(b)); ok || err != nil {
				t.Fatalf("sig character %d changed: got %v, %v, want false, nil", i, ok, err)
			}
		}
	})

	raw, _ := base64.RawURLEncoding.DecodeString(sig)
	tests := []struct {
		name, kid, sig string
	}{
		{"unknown key", "no-such-key", sig},
		{"empty key id", "", sig},
		{"empty signature", kid, ""},
		{"padded", kid, base64.URLEncoding.EncodeToString(raw)},
		{"standard alphabet", kid, "+" + sig[1:]},
		{"truncated", kid, sig[:len(sig)-4]},
		{"extended", kid, sig + "AAAA"},
		{"not base64", kid, strings.Repeat("*", len(sig))},
		{"all zero", kid, base64.RawURLEncoding.EncodeToString(make([]byte, ed25519.SignatureSize))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if ok, err := s.Verify(ctx, tt.kid, msg, tt.sig); ok || err != nil {
				t.Fatalf("got %v, %v, want false, nil", ok, err)
			}
		})
	}
}

func TestEd25519SignerNoKeyYet(t *testing.T) {
	ctx := context.Background()
	db, _ := pgtest.New(t, education.Migrations, events.Migrations)
	s := education.NewEd25519Signer(db, certSealer(t, "k1"), nil)
	if _, _, err := s.Sign(ctx, []byte("x")); !errors.Is(err, education.ErrNoCertificateKey) {
		t.Fatalf("Sign before EnsureKey: got %v, want no_certificate_key", err)
	}
	set, err := s.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(set)
	if string(b) != `{"keys":[]}` {
		t.Fatalf("Keys before EnsureKey: got %s, want an empty set", b)
	}
}

func TestEd25519SignerEnsureKeyConcurrentReplicas(t *testing.T) {
	ctx := context.Background()
	db, dsn := pgtest.New(t, education.Migrations, events.Migrations)
	db2, err := pg.Open(ctx, dsn, pg.Pool{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db2.Close() })
	sealer := certSealer(t, "k1")
	// Two replicas, each with its own pool and memory, start together; each
	// runs EnsureKey from several goroutines to widen the race.
	replicas := []*education.Ed25519Signer{
		education.NewEd25519Signer(db, sealer, nil),
		education.NewEd25519Signer(db2, sealer, nil),
	}
	var wg sync.WaitGroup
	errc := make(chan error, 8)
	for i := range 8 {
		wg.Go(func() { errc <- replicas[i%2].EnsureKey(ctx) })
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		if err != nil {
			t.Fatalf("EnsureKey: %v", err)
		}
	}
	var n int
	if err := db.GetContext(ctx, &n, `SELECT count(*) FROM certificate_keys`); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("keys after concurrent EnsureKey: got %d, want 1", n)
	}
	_, kid0, err := replicas[0].Sign(ctx, []byte("m"))
	if err != nil {
		t.Fatal(err)
	}
	sig1, kid1, err := replicas[1].Sign(ctx, []byte("m"))
	if err != nil {
		t.Fatal(err)
	}
	if kid0 != kid1 {
		t.Fatalf("the replicas sign with %s and %s, want one key", kid0, kid1)
	}
	if ok, err := replicas[0].Verify(ctx, kid1, []byte("m"), sig1); !ok || err != nil {
		t.Fatalf("replica 0 verifying replica 1's signature: got %v, %v, want true", ok, err)
	}
}

func TestEd25519SignerUnreadableKey(t *testing.T) {
	ctx := context.Background()
	s, db, _ := certSigner(t)
	sig, kid, err := s.Sign(ctx, []byte("m"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		sealer *seal.Sealer
		want   string // in the error
	}{
		{"another KEK id", certSealer(t, "k2"), `sealed with key "k1", which is not configured`},
		{"same KEK id, other key", certSealer(t, "k1"), "unseal_failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			other := education.NewEd25519Signer(db, tt.sealer, log.NewLogfmtLogger(&logs))
			err := other.EnsureKey(ctx)
			if !errors.Is(err, education.ErrCertificateKeyLocked) || !errors.Is(err, seal.ErrOpen) {
				t.Fatalf("EnsureKey: got %v, want certificate_key_unreadable wrapping unseal_failed", err)
			}
			if !strings.Contains(err.Error(), kid) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("EnsureKey: got %q, want it to name key %s and say %q", err, kid, tt.want)
			}
			if _, _, err := other.Sign(ctx, []byte("m")); !errors.Is(err, education.ErrCertificateKeyLocked) {
				t.Fatalf("Sign: got %v, want certificate_key_unreadable", err)
			}
			if !strings.Contains(logs.String(), "kid="+kid) {
				t.Errorf("log: got %q, want the failure logged with the kid", logs.String())
			}
			// Verifying needs only the public key, not the KEK.
			if ok, err := other.Verify(ctx, kid, []byte("m"), sig); !ok || err != nil {
				t.Fatalf("Verify: got %v, %v, want true", ok, err)
			}
		})
	}
}

func TestEd25519SignerSealedKeyBoundToItsRow(t *testing.T) {
	ctx := context.Background()
	s, db, sealer := certSigner(t)
	if _, err := s.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	// Copy the retired key's sealed seed onto the current row: the blob
	// opens under the KEK, but it is bound to the other kid.
	if _, err := db.ExecContext(ctx, `
UPDATE certificate_keys SET sealed_private = (SELECT sealed_private FROM certificate_keys WHERE retired_at IS NOT NULL)
WHERE retired_at IS NULL`); err != nil {
		t.Fatal(err)
	}
	fresh := education.NewEd25519Signer(db, sealer, nil)
	if _, _, err := fresh.Sign(ctx, []byte("m")); !errors.Is(err, education.ErrCertificateKeyLocked) {
		t.Fatalf("Sign with a swapped sealed key: got %v, want certificate_key_unreadable", err)
	}
}

func TestEd25519SignerRotate(t *testing.T) {
	ctx := context.Background()
	s, db, sealer := certSigner(t)
	other := education.NewEd25519Signer(db, sealer, nil) // another replica
	oldSig, oldKid, err := other.Sign(ctx, []byte("old"))
	if err != nil {
		t.Fatal(err)
	}
	newKid, err := s.Rotate(ctx)
	if err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	if newKid == oldKid {
		t.Fatalf("Rotate kept key %s", oldKid)
	}
	// The other replica cached the old key; it must sign with the new one.
	sig, kid, err := other.Sign(ctx, []byte("new"))
	if err != nil || kid != newKid {
		t.Fatalf("Sign after another replica rotated: got key %s (%v), want %s", kid, err, newKid)
	}
	for _, c := range []struct{ kid, msg, sig string }{{oldKid, "old", oldSig}, {newKid, "new", sig}} {
		if ok, err := s.Verify(ctx, c.kid, []byte(c.msg), c.sig); !ok || err != nil {
			t.Errorf("Verify %q under %s: got %v, %v, want true", c.msg, c.kid, ok, err)
		}
	}
	if ok, _ := s.Verify(ctx, newKid, []byte("old"), oldSig); ok {
		t.Error("the old signature verifies under the new key")
	}
	set, err := s.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != 2 || set.Keys[0].KID != newKid || set.Keys[1].KID != oldKid {
		t.Fatalf("Keys after rotation: got %+v, want %s then %s", set.Keys, newKid, oldKid)
	}
	var retired int
	if err := db.GetContext(ctx, &retired, `SELECT count(*) FROM certificate_keys WHERE retired_at IS NOT NULL`); err != nil {
		t.Fatal(err)
	}
	if retired != 1 {
		t.Fatalf("retired keys: got %d, want 1", retired)
	}
}

func TestEd25519SignerKeysJWKS(t *testing.T) {
	ctx := context.Background()
	s, _, _ := certSigner(t)
	msg := []byte("a canonical certificate")
	sig, kid, err := s.Sign(ctx, msg)
	if err != nil {
		t.Fatal(err)
	}
	set, err := s.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	body, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}

	// The JSON as a client sees it, exactly these members.
	var doc struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Keys) != 1 {
		t.Fatalf("got %d keys, want 1: %s", len(doc.Keys), body)
	}
	k := doc.Keys[0]
	want := map[string]string{"kid": kid, "kty": "OKP", "crv": "Ed25519", "use": "sig", "alg": "EdDSA"}
	for name, v := range want {
		if k[name] != v {
			t.Errorf("%s: got %q, want %q", name, k[name], v)
		}
	}
	if len(k) != len(want)+1 {
		t.Errorf("members: got %v, want %v and x", k, want)
	}

	// Independently of the signer: decode x and verify with crypto/ed25519.
	x, err := base64.RawURLEncoding.DecodeString(k["x"])
	if err != nil || len(x) != ed25519.PublicKeySize {
		t.Fatalf("x: got %d bytes (%v), want %d", len(x), err, ed25519.PublicKeySize)
	}
	rawSig, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil {
		t.Fatal(err)
	}
	if !ed25519.Verify(ed25519.PublicKey(x), msg, rawSig) {
		t.Fatal("the published x does not verify the signature")
	}

	// And another JOSE library agrees that kid is the key's RFC 7638 thumbprint.
	parsed, err := jwxjwk.Parse(body)
	if err != nil {
		t.Fatalf("jwx parses the set: %v", err)
	}
	key, _ := parsed.Key(0)
	tp, err := key.Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if got := base64.RawURLEncoding.EncodeToString(tp); got != kid {
		t.Fatalf("kid: got %s, want the thumbprint %s", kid, got)
	}
}

// TestThumbprintRFC8037 checks the example of RFC 8037, appendix A.3.
func TestThumbprintRFC8037(t *testing.T) {
	x, err := base64.RawURLEncoding.DecodeString("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := education.Thumbprint(x), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

func TestEd25519SignerLogsNoKeyMaterial(t *testing.T) {
	ctx := context.Background()
	db, _ := pgtest.New(t, education.Migrations, events.Migrations)
	sealer := certSealer(t, "k1")
	var logs bytes.Buffer
	s := education.NewEd25519Signer(db, sealer, log.NewLogfmtLogger(&logs))
	if err := s.EnsureKey(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Sign(ctx, []byte("m")); err != nil {
		t.Fatal(err)
	}
	var rows []struct {
		ID     string `db:"id"`
		Sealed []byte `db:"sealed_private"`
	}
	if err := db.SelectContext(ctx, &rows, `SELECT id, sealed_private FROM certificate_keys`); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "certificate signing key created") || !strings.Contains(logs.String(), "rotated") {
		t.Fatalf("log: got %q, want the creation and the rotation", logs.String())
	}
	for _, r := range rows {
		seed, err := sealer.OpenAD(r.Sealed, []byte("azora.education.certificate_key:"+r.ID))
		if err != nil {
			t.Fatalf("open %s: %v", r.ID, err)
		}
		priv := ed25519.NewKeyFromSeed(seed)
		for _, secret := range []string{
			base64.StdEncoding.EncodeToString(seed), base64.RawURLEncoding.EncodeToString(seed), hex.EncodeToString(seed),
			base64.StdEncoding.EncodeToString(priv), base64.RawURLEncoding.EncodeToString(priv), hex.EncodeToString(priv),
			string(seed),
		} {
			if strings.Contains(logs.String(), secret) {
				t.Fatalf("the log shows key %s's private key", r.ID)
			}
		}
	}
}
