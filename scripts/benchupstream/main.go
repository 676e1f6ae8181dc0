// Command benchupstream is the trivial upstream of scripts/bench-gateway.sh:
// the service the benchmark puts behind NGINX and behind the gateway, so the
// figures measure the proxies and not a real service. Listening on -addr it
// answers
//
//	GET /.well-known/jwks.json  its RSA public key as a JWKS (RS256, with kid)
//	GET /readyz                 200 {"status":"ready"} (the gateway health-checks instances)
//	anything else               200 {"items":[]}
//
// The key is generated at start and kept in memory only, so the access token
// that goes with it must come from the same process: with -token-file, once
// the listener is open, it writes one RS256 access token signed with that
// key (iss -issuer, aud -audience, a random sub, sid and jti, roles
// ["student"], amr ["pwd"], valid for -token-ttl) to that file, atomically,
// so a script can wait for the file and then start sending requests. It
// serves until SIGINT or SIGTERM.
package main

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/uuid"
)

const (
	pathJWKS  = "/.well-known/jwks.json"
	pathReady = "/readyz"
	// keyBits is the smallest RSA size kit.Verifier accepts.
	keyBits = 2048
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "benchupstream:", err)
		os.Exit(1)
	}
}

// run parses args, listens, writes the token file when asked, reports the
// address on out and serves until ctx is done.
func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("benchupstream", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:4099", "host:port to listen on")
	issuer := fs.String("issuer", "", `iss of the token (default "http://" + the listening address)`)
	audience := fs.String("audience", "azora", "aud of the token")
	tokenFile := fs.String("token-file", "", "write one access token signed with this process's key to this file")
	ttl := fs.Duration("token-ttl", time.Hour, "how long the token is valid")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *ttl <= 0 {
		return errors.New("-token-ttl must be positive")
	}

	key, err := newSigningKey()
	if err != nil {
		return err
	}
	handler, err := newHandler(key)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()

	if *tokenFile != "" {
		iss := *issuer
		if iss == "" {
			iss = "http://" + ln.Addr().String()
		}
		token, err := key.token(iss, *audience, *ttl, time.Now())
		if err == nil {
			err = writeFileAtomic(*tokenFile, []byte(token+"\n"))
		}
		if err != nil {
			_ = srv.Close()
			return err
		}
	}
	fmt.Fprintf(out, "benchupstream listening on %s\n", ln.Addr())

	select {
	case err := <-done:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// signingKey is the process's RSA key and its kid.
type signingKey struct {
	priv *rsa.PrivateKey
	kid  string
}

// newSigningKey generates an RSA key whose kid is its RFC 7638 thumbprint.
func newSigningKey() (signingKey, error) {
	priv, err := rsa.GenerateKey(rand.Reader, keyBits)
	if err != nil {
		return signingKey{}, fmt.Errorf("generate RSA key: %w", err)
	}
	sum, err := (&jose.JSONWebKey{Key: &priv.PublicKey}).Thumbprint(crypto.SHA256)
	if err != nil {
		return signingKey{}, fmt.Errorf("key thumbprint: %w", err)
	}
	return signingKey{priv: priv, kid: base64.RawURLEncoding.EncodeToString(sum)}, nil
}

// jwks returns the JSON of the key set publishing k's public key.
func (k signingKey) jwks() ([]byte, error) {
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{
		Key: &k.priv.PublicKey, KeyID: k.kid, Algorithm: string(jose.RS256), Use: "sig",
	}}}
	b, err := json.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("marshal JWKS: %w", err)
	}
	return b, nil
}

// token returns an RS256 access token signed by k, valid from now for ttl,
// with the claims kit.Verifier and the services read.
func (k signingKey) token(issuer, audience string, ttl time.Duration, now time.Time) (string, error) {
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: k.priv, KeyID: k.kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", fmt.Errorf("new signer: %w", err)
	}
	claims := map[string]any{
		"iss":   issuer,
		"sub":   uuid.NewString(),
		"aud":   []string{audience},
		"exp":   now.Add(ttl).Unix(),
		"iat":   now.Unix(),
		"nbf":   now.Unix(),
		"jti":   uuid.NewString(),
		"sid":   uuid.NewString(),
		"roles": []string{"student"},
		"amr":   []string{"pwd"},
	}
	s, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return s, nil
}

// newHandler serves the JWKS of k, readiness and a fixed JSON body for every
// other request. Bodies are built once: the upstream must cost next to
// nothing so the benchmark measures what sits in front of it.
func newHandler(k signingKey) (http.Handler, error) {
	jwks, err := k.jwks()
	if err != nil {
		return nil, err
	}
	ready := []byte(`{"status":"ready"}`)
	empty := []byte(`{"items":[]}`)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := empty
		switch {
		case r.Method == http.MethodGet && r.URL.Path == pathJWKS:
			body = jwks
		case r.Method == http.MethodGet && r.URL.Path == pathReady:
			body = ready
		}
		h := w.Header()
		h["Content-Type"] = []string{"application/json"}
		h["Content-Length"] = []string{strconv.Itoa(len(body))}
		_, _ = w.Write(body)
	}), nil
}

// writeFileAtomic writes data to a temporary file beside path and renames
// it into place, so a reader never sees a partial token.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".token-*")
	if err != nil {
		return fmt.Errorf("token file: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("token file: %w", err)
	}
	return nil
}
