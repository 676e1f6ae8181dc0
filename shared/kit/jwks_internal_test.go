package kit

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// jwksServer serves a replaceable JWKS, or 503 when body is nil.
type jwksServer struct {
	mu      sync.Mutex
	body    []byte
	fetches int
}

func (s *jwksServer) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fetches++
	if s.body == nil {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	_, _ = w.Write(s.body)
}

func (s *jwksServer) set(t *testing.T, keys ...jose.JSONWebKey) {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKeySet{Keys: keys})
	if err != nil {
		t.Fatalf("marshal JWKS: %v", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.body = b
}

func (s *jwksServer) fail() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.body = nil
}

func rsaKey(t *testing.T, bits int) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatalf("generate RSA key: %v", err)
	}
	return k
}

func TestKeySetSkipsUnusableKeys(t *testing.T) {
	good, small := rsaKey(t, 2048), rsaKey(t, 1024)
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("generate EC key: %v", err)
	}
	js := &jwksServer{}
	js.set(t,
		jose.JSONWebKey{Key: &good.PublicKey, KeyID: "good", Use: "sig", Algorithm: "RS256"},
		jose.JSONWebKey{Key: &good.PublicKey, KeyID: "no-alg"},
		jose.JSONWebKey{Key: &good.PublicKey, KeyID: ""},
		jose.JSONWebKey{Key: &small.PublicKey, KeyID: "small"},
		jose.JSONWebKey{Key: &ec.PublicKey, KeyID: "ec", Algorithm: "ES256"},
		jose.JSONWebKey{Key: &good.PublicKey, KeyID: "enc", Use: "enc"},
		jose.JSONWebKey{Key: &good.PublicKey, KeyID: "ps256", Algorithm: "PS256"},
	)
	srv := httptest.NewServer(js)
	defer srv.Close()
	ks := newKeySet(srv.URL, srv.Client(), time.Hour, time.Second)
	tests := []struct {
		kid  string
		want bool
	}{{"good", true}, {"no-alg", true}, {"small", false}, {"ec", false}, {"enc", false}, {"ps256", false}}
	for _, tt := range tests {
		t.Run(tt.kid, func(t *testing.T) {
			_, err := ks.key(context.Background(), tt.kid)
			if got := err == nil; got != tt.want {
				t.Errorf("usable: got %v (err %v), want %v", got, err, tt.want)
			}
			if !tt.want && !errors.Is(err, ErrInvalidToken) {
				t.Errorf("error: got %v, want invalid_token", err)
			}
		})
	}
}

func TestKeySetRefreshesStaleSet(t *testing.T) {
	k1, k2 := rsaKey(t, 2048), rsaKey(t, 2048)
	js := &jwksServer{}
	js.set(t, jose.JSONWebKey{Key: &k1.PublicKey, KeyID: "k1"}, jose.JSONWebKey{Key: &k2.PublicKey, KeyID: "k2"})
	srv := httptest.NewServer(js)
	defer srv.Close()
	ks := newKeySet(srv.URL, srv.Client(), time.Millisecond, time.Second)
	ks.maxAge = 50 * time.Millisecond
	ctx := context.Background()
	if _, err := ks.key(ctx, "k1"); err != nil {
		t.Fatalf("k1: %v", err)
	}

	// auth withdraws k1 (say, compromised): once the set is stale it is gone,
	// although no unknown kid ever asked for a refetch.
	js.set(t, jose.JSONWebKey{Key: &k2.PublicKey, KeyID: "k2"})
	if _, err := ks.key(ctx, "k1"); err != nil {
		t.Fatalf("k1 while the set is fresh: got %v, want the cached key", err)
	}
	time.Sleep(60 * time.Millisecond)
	if _, err := ks.key(ctx, "k1"); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("withdrawn k1 after max age: got %v, want invalid_token", err)
	}

	// A failed refresh keeps serving the keys already known.
	js.fail()
	time.Sleep(60 * time.Millisecond)
	if _, err := ks.key(ctx, "k2"); err != nil {
		t.Errorf("k2 during a failed refresh: got %v, want the stale key", err)
	}
	if _, err := ks.key(ctx, "k3"); !errors.Is(err, ErrAuthUnavailable) {
		t.Errorf("unknown kid during a failed refresh: got %v, want auth_unavailable", err)
	}
}

func TestKeySetWaitersHonourTheirContext(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		<-release
		_, _ = w.Write([]byte(`{"keys":[]}`))
	}))
	defer srv.Close()
	defer close(release)
	ks := newKeySet(srv.URL, srv.Client(), time.Hour, 5*time.Second)

	fetching := make(chan error, 1)
	go func() {
		_, err := ks.key(context.Background(), "a")
		fetching <- err
	}()
	// Wait until the first caller owns the fetch.
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(time.Millisecond) {
		ks.mu.Lock()
		busy := ks.inflight != nil
		ks.mu.Unlock()
		if busy {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("fetch never started")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := ks.key(ctx, "b")
	if !errors.Is(err, ErrAuthUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("waiter with a short deadline: got %v, want auth_unavailable wrapping the deadline", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("waiter returned after %v, want about 20ms", took)
	}
	release <- struct{}{}
	if err := <-fetching; !errors.Is(err, ErrInvalidToken) {
		t.Errorf("fetching caller: got %v, want invalid_token (kid absent from an empty set)", err)
	}
}
