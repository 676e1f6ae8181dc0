package main

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"testing"
	"time"

	"github.com/azora-os/azora/finance/stripetest"
	"github.com/azora-os/azora/shared/app/apptest"
	"github.com/azora-os/azora/shared/app/apptest/platform"
	"github.com/azora-os/azora/shared/pg/pgtest"
)

// testbed is the shared part of a test platform's environment: one Redis
// key space (so revocations reach every service), one kfake cluster, and
// the issuer every service and the gateway agree on.
type testbed struct {
	t   *testing.T
	env map[string]string
}

const testIssuer = "http://auth.test"

func newPlatform(t *testing.T) *testbed {
	env := apptest.Env(t, apptest.Deps{Redis: true, Kafka: true})
	env["AUTH_ISSUER"] = testIssuer
	return &testbed{t: t, env: env}
}

// service returns the environment of one service: the platform's plus a
// database of its own (shared by all instances of the service).
func (p *testbed) service(kv ...string) map[string]string {
	_, dsn := pgtest.New(p.t)
	return with(p.env, append([]string{"DATABASE_URL", dsn}, kv...)...)
}

// startAuth starts one auth process (cheap password hashing: the cost is
// not what these tests measure).
func (p *testbed) startAuth() *platform.Proc {
	env := p.service("AUTH_SEAL_KEYS", sealKey(), "AUTH_ARGON2_TIME", "1", "AUTH_ARGON2_MEMORY_KIB", "8192")
	a := platform.StartService(p.t, "auth", env)
	p.env["AUTH_JWKS_URL"] = a.Base + "/.well-known/jwks.json"
	return a
}

// startEducation starts n education processes over one database.
func (p *testbed) startEducation(n int) []*platform.Proc {
	env := p.service("EDUCATION_SEAL_KEYS", sealKey(), "EDUCATION_PUBLIC_URL", "https://azora.test")
	out := make([]*platform.Proc, n)
	for i := range out {
		out[i] = platform.StartService(p.t, "education", env)
	}
	return out
}

func (p *testbed) startFinance() *platform.Proc {
	env := p.service("STRIPE_API_BASE", stripetest.Start(p.t), "STRIPE_WEBHOOK_SECRET", "whsec_"+randomHex(16))
	return platform.StartService(p.t, "finance", env)
}

// gateway starts an in-process gateway replica in front of the given
// instances.
func (p *testbed) gateway(authURLs, educationURLs, financeURLs string, kv ...string) string {
	env := with(p.env, "AUTH_URLS", authURLs, "EDUCATION_URLS", educationURLs, "FINANCE_URLS", financeURLs,
		"GATEWAY_HEALTH_INTERVAL", "500ms")
	return apptest.StartService(p.t, with(env, kv...), loadConfig, run)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// TestDashboard registers a user through the gateway, reads the dashboard
// with every service up, then with finance killed: still 200, wallets
// null, degraded ["finance"], and fast — no waiting on the dead service.
func TestDashboard(t *testing.T) {
	t.Parallel()
	p := newPlatform(t)
	a := p.startAuth()
	edu := p.startEducation(1)[0]
	fin := p.startFinance()
	gw := apptest.NewClient(p.gateway(a.Base, edu.Base, fin.Base), "")

	email := "dash-" + randomHex(6) + "@example.com"
	reg := gw.Do(t, "POST", "/api/v1/auth/register", "", map[string]any{"email": email, "password": "correct horse battery staple", "name": "Ada"})
	apptest.Want(t, reg, http.StatusCreated, "")
	login := gw.Do(t, "POST", "/api/v1/auth/login", "", map[string]any{"email": email, "password": "correct horse battery staple"})
	apptest.Want(t, login, http.StatusOK, "")
	token := login.Str("access_token")

	// The wallet opens when finance consumes user.registered.
	var full apptest.Reply
	apptest.Eventually(t, "the dashboard shows the new wallet", func() bool {
		full = gw.Do(t, "GET", "/api/v1/me/dashboard", token, nil)
		w, _ := full.Body["wallets"].([]any)
		return full.Status == http.StatusOK && len(w) == 1
	})
	if got := full.Obj("user")["email"]; got != email {
		t.Errorf("dashboard user email %v, want %s", got, email)
	}
	if e, ok := full.Body["enrollments"].([]any); !ok || len(e) != 0 {
		t.Errorf("enrollments = %v, want []", full.Body["enrollments"])
	}
	if d := apptest.Strings(full.Body["degraded"]); len(d) != 0 {
		t.Errorf("degraded = %v with every service up", d)
	}

	fin.Kill()
	start := time.Now()
	r := gw.Do(t, "GET", "/api/v1/me/dashboard", token, nil)
	took := time.Since(start)
	apptest.Want(t, r, http.StatusOK, "")
	if w, present := r.Body["wallets"]; !present || w != nil {
		t.Errorf("wallets = %v (present %v), want null", w, present)
	}
	if d := apptest.Strings(r.Body["degraded"]); len(d) != 1 || d[0] != "finance" {
		t.Errorf("degraded = %v, want [finance]", d)
	}
	if r.Obj("user")["email"] != email {
		t.Errorf("user missing with only finance down: %s", r.Raw)
	}
	// The dashboard's per-part timeout is the longest it may take.
	if took > 3*time.Second {
		t.Errorf("degraded dashboard took %v, want well under the 3s part timeout", took)
	}
	t.Logf("degraded dashboard answered in %v", took)

	// Without a token there is no dashboard.
	apptest.Want(t, gw.Do(t, "GET", "/api/v1/me/dashboard", "", nil), http.StatusUnauthorized, "missing_token")
}
