package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/azora-os/azora/shared/app/apptest"
)

// testEnv is the environment of an auth instance on throwaway Postgres,
// Redis keys and kfake, with argon2id at its cheapest allowed cost so the
// suite stays fast (the benchmark uses the production parameters).
func testEnv(t testing.TB, extra map[string]string) map[string]string {
	env := apptest.Env(t, apptest.Deps{Postgres: true, Redis: true, Kafka: true})
	key := make([]byte, 32)
	rand.Read(key)
	env["AUTH_SEAL_KEYS"] = "k1:" + base64.StdEncoding.EncodeToString(key)
	env["AUTH_ARGON2_TIME"] = "1"
	env["AUTH_ARGON2_MEMORY_KIB"] = "8192"
	for k, v := range extra {
		env[k] = v
	}
	return env
}

func startAuth(t testing.TB, extra map[string]string) (base string, env map[string]string) {
	env = testEnv(t, extra)
	return apptest.StartService(t, env, loadConfig, run), env
}

func TestRunServesOperationalEndpoints(t *testing.T) {
	t.Parallel()
	base, _ := startAuth(t, nil)
	apptest.CheckOperational(t, base, "postgres", "redis")
}

// client calls the API from a chosen loopback address, so tests can play
// several client IPs (Linux routes all of 127.0.0.0/8 to lo).
type client struct {
	base string
	http *http.Client
}

func newClient(base, fromIP string) *client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(fromIP)}, Timeout: 5 * time.Second}
	return &client{base: base, http: &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 64},
	}}
}

// reply is a decoded response.
type reply struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    []byte
}

func (r reply) str(key string) string { s, _ := r.Body[key].(string); return s }

func (r reply) obj(key string) map[string]any { m, _ := r.Body[key].(map[string]any); return m }

func (c *client) do(t testing.TB, method, path, token string, body any) reply {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, c.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := reply{Status: resp.StatusCode, Header: resp.Header, Raw: raw}
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &r.Body)
	}
	return r
}

// want fails t unless r has status and, for problems, code.
func want(t testing.TB, r reply, status int, code string) {
	t.Helper()
	if r.Status != status || (code != "" && r.str("code") != code) {
		t.Fatalf("got %d %s, want %d %s", r.Status, r.Raw, status, code)
	}
}

func uniqueEmail() string {
	b := make([]byte, 6)
	rand.Read(b)
	return "user-" + hex.EncodeToString(b) + "@example.com"
}

const goodPassword = "correct horse battery staple"

// registerAndLogin makes a student and returns its id and tokens.
func registerAndLogin(t testing.TB, c *client, email string) (id string, tokens reply) {
	t.Helper()
	r := c.do(t, "POST", "/api/v1/auth/register", "", map[string]any{"email": email, "password": goodPassword, "name": "Ada"})
	want(t, r, 201, "")
	id, _ = r.obj("user")["id"].(string)
	tokens = c.do(t, "POST", "/api/v1/auth/login", "", map[string]any{"email": email, "password": goodPassword})
	want(t, tokens, 200, "")
	return id, tokens
}
