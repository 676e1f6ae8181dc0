package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"testing"

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

func uniqueEmail() string {
	b := make([]byte, 6)
	rand.Read(b)
	return "user-" + hex.EncodeToString(b) + "@example.com"
}

const goodPassword = "correct horse battery staple"

// startAuthWithAdmin is startAuth with a bootstrap admin: it also returns a
// client of the instance and the admin's access token.
func startAuthWithAdmin(t *testing.T) (c *apptest.Client, env map[string]string, admin string) {
	t.Helper()
	const adminEmail, adminPassword = "root@azora.test", "a long admin passphrase"
	base, env := startAuth(t, map[string]string{
		"AUTH_BOOTSTRAP_ADMIN_EMAIL":    adminEmail,
		"AUTH_BOOTSTRAP_ADMIN_PASSWORD": adminPassword,
	})
	c = apptest.NewClient(base, "127.0.0.1")
	r := c.Do(t, "POST", "/api/v1/auth/login", "", map[string]any{"email": adminEmail, "password": adminPassword})
	apptest.Want(t, r, 200, "")
	return c, env, r.Str("access_token")
}

// registerAndLogin makes a student and returns its id and tokens.
func registerAndLogin(t testing.TB, c *apptest.Client, email string) (id string, tokens apptest.Reply) {
	t.Helper()
	r := c.Do(t, "POST", "/api/v1/auth/register", "", map[string]any{"email": email, "password": goodPassword, "name": "Ada"})
	apptest.Want(t, r, 201, "")
	id, _ = r.Obj("user")["id"].(string)
	tokens = c.Do(t, "POST", "/api/v1/auth/login", "", map[string]any{"email": email, "password": goodPassword})
	apptest.Want(t, tokens, 200, "")
	return id, tokens
}
