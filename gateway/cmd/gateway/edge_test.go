package main

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/azora-os/azora/shared/app/apptest"
	"github.com/azora-os/azora/shared/kit/kittest"
)

// countingUpstream stands in for a service instance where the test only
// needs to know what reached it: it answers 200 to everything and counts
// requests per path (health checks apart).
type countingUpstream struct {
	*httptest.Server
	mu   sync.Mutex
	hits map[string]int
	last http.Header
}

func newCountingUpstream(t *testing.T) *countingUpstream {
	u := &countingUpstream{hits: map[string]int{}}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" && r.URL.Path != "/healthz" {
			u.mu.Lock()
			u.hits[r.URL.Path]++
			u.last = r.Header.Clone()
			u.mu.Unlock()
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"items":[]}`)
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *countingUpstream) Hits(path string) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.hits[path]
}

func (u *countingUpstream) LastHeader() http.Header {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.last
}

// gatewayEnv is a gateway's environment on throwaway Redis keys, trusting
// tokens of iss and sending every service's routes to upstream.
func gatewayEnv(t *testing.T, iss *kittest.Issuer, upstream string, kv ...string) map[string]string {
	env := apptest.Env(t, apptest.Deps{Redis: true})
	env["AUTH_JWKS_URL"] = iss.JWKSURL()
	env["AUTH_ISSUER"] = kittest.DefaultIssuer
	env["AUTH_AUDIENCE"] = kittest.DefaultAudience
	env["AUTH_URLS"], env["EDUCATION_URLS"], env["FINANCE_URLS"] = upstream, upstream, upstream
	env["GATEWAY_HEALTH_INTERVAL"] = "200ms"
	return with(env, kv...)
}

func TestEdgeRefusesBadTokensBeforeTheService(t *testing.T) {
	t.Parallel()
	iss := kittest.NewIssuer(t)
	up := newCountingUpstream(t)
	gw := apptest.NewClient(apptest.StartService(t, gatewayEnv(t, iss, up.URL), loadConfig, run), "")
	sub := uuid.NewString()
	good := iss.Token(t, kittest.Claims{Subject: sub, Roles: []string{"student"}})
	parts := strings.Split(good, ".")
	sig := []byte(parts[2])
	sig[len(sig)/2] ^= 1
	tampered := parts[0] + "." + parts[1] + "." + string(sig)

	cases := []struct {
		name, token, code string
	}{
		{"no token", "", "missing_token"},
		{"tampered signature", tampered, "invalid_token"},
		{"expired", iss.Token(t, kittest.Claims{Subject: sub, ExpiresAt: time.Now().Add(-time.Minute),
			IssuedAt: time.Now().Add(-20 * time.Minute), NotBefore: time.Now().Add(-20 * time.Minute)}), "invalid_token"},
		{"foreign key", iss.Token(t, kittest.Claims{Subject: sub}, kittest.SignedByForeignKey()), "invalid_token"},
		{"alg none", iss.NoneToken(t, kittest.Claims{Subject: sub}), "invalid_token"},
		{"other audience", iss.Token(t, kittest.Claims{Subject: sub, Audience: []string{"elsewhere"}}), "invalid_token"},
	}
	for _, path := range []string{"/api/v1/enrollments", "/api/v1/wallets", "/api/v1/auth/me"} {
		for _, tc := range cases {
			r := gw.Do(t, "GET", path, tc.token, nil)
			apptest.Want(t, r, http.StatusUnauthorized, tc.code)
			if got := up.Hits(path); got != 0 {
				t.Fatalf("%s with %s: the service saw %d requests, want none", path, tc.name, got)
			}
		}
	}
	// A tampered token on a route where a token is optional is refused too.
	r := gw.Do(t, "GET", "/api/v1/courses/"+uuid.NewString(), tampered, nil)
	apptest.Want(t, r, http.StatusUnauthorized, "invalid_token")

	// The control: the same routes with the good token reach the service,
	// with the token and the request id forwarded.
	r = gw.Do(t, "GET", "/api/v1/enrollments", good, nil, "X-Request-ID", "req-edge-1")
	apptest.Want(t, r, http.StatusOK, "")
	if up.Hits("/api/v1/enrollments") != 1 {
		t.Fatalf("the good token's request did not reach the service once")
	}
	h := up.LastHeader()
	if h.Get("Authorization") != "Bearer "+good || h.Get("X-Request-Id") != "req-edge-1" {
		t.Errorf("forwarded headers: Authorization %q, X-Request-ID %q", h.Get("Authorization"), h.Get("X-Request-Id"))
	}
	if got := r.Header.Values("X-Request-Id"); len(got) != 1 || got[0] != "req-edge-1" {
		t.Errorf("response X-Request-ID = %q, want exactly [req-edge-1]", got)
	}
	// Public routes do not look at the token at all.
	r = gw.Do(t, "GET", "/api/v1/courses", tampered, nil)
	apptest.Want(t, r, http.StatusOK, "")
	// Unknown paths stop at the gateway.
	r = gw.Do(t, "GET", "/api/v1/nothing-here", good, nil)
	apptest.Want(t, r, http.StatusNotFound, "")
	if up.Hits("/api/v1/nothing-here") != 0 {
		t.Error("an unknown path reached the service")
	}
}

// TestEdgeStopsCheckingTokensFromAnAddressThatForgesThem sends tampered
// tokens from one client address (X-Forwarded-For from a trusted peer)
// until its GATEWAY_RATE_BAD_TOKEN budget is spent: each is a 401 until
// then; afterwards even a good token from that address is a 429 with
// Retry-After, which shows the token was not checked at all, and the
// service sees nothing. Another address, and public routes, are untouched.
func TestEdgeStopsCheckingTokensFromAnAddressThatForgesThem(t *testing.T) {
	t.Parallel()
	iss := kittest.NewIssuer(t)
	up := newCountingUpstream(t)
	const budget = 4
	gw := apptest.NewClient(apptest.StartService(t, gatewayEnv(t, iss, up.URL,
		"GATEWAY_RATE_BAD_TOKEN", fmt.Sprintf("%d/1h", budget)), loadConfig, run), "")
	good := iss.Token(t, kittest.Claims{Subject: uuid.NewString(), Roles: []string{"student"}})
	parts := strings.Split(good, ".")
	forged := func(i int) string { // a valid header and claims under a made-up signature
		sig := []byte(parts[2])
		sig[i%len(sig)] ^= 1
		return parts[0] + "." + parts[1] + "." + string(sig)
	}
	const attacker, bystander = "203.0.113.7", "198.51.100.2"
	for i := range budget {
		r := gw.Do(t, "GET", "/api/v1/enrollments", forged(i), nil, "X-Forwarded-For", attacker)
		apptest.Want(t, r, http.StatusUnauthorized, "invalid_token")
	}
	for _, path := range []string{"/api/v1/enrollments", "/api/v1/courses/" + uuid.NewString()} { // User, OptionalUser
		r := gw.Do(t, "GET", path, good, nil, "X-Forwarded-For", attacker)
		apptest.Want(t, r, http.StatusTooManyRequests, "rate_limited")
		if s, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || s < 1 {
			t.Errorf("%s: Retry-After %q, want whole seconds ≥ 1", path, r.Header.Get("Retry-After"))
		}
		if r.Header.Get("RateLimit-Limit") != strconv.Itoa(budget) || r.Header.Get("RateLimit-Remaining") != "0" {
			t.Errorf("%s: RateLimit-Limit %q, -Remaining %q; want %d and 0", path,
				r.Header.Get("RateLimit-Limit"), r.Header.Get("RateLimit-Remaining"), budget)
		}
	}
	if hits := up.Hits("/api/v1/enrollments"); hits != 0 {
		t.Errorf("the service saw %d requests from the refused address, want none", hits)
	}
	// Routes that do not look at tokens still serve the address.
	apptest.Want(t, gw.Do(t, "GET", "/api/v1/courses", good, nil, "X-Forwarded-For", attacker), http.StatusOK, "")
	// Another address with the same good token is served.
	apptest.Want(t, gw.Do(t, "GET", "/api/v1/enrollments", good, nil, "X-Forwarded-For", bystander), http.StatusOK, "")
	if hits := up.Hits("/api/v1/enrollments"); hits != 1 {
		t.Errorf("the service saw %d requests, want the bystander's one", hits)
	}
}

// TestRateLimitHoldsAcrossReplicas drives two gateway replicas sharing one
// Redis from many clients that each send a random X-Forwarded-For. The
// test client is not a trusted proxy, so the header is ignored: every
// request counts against one address, and the two replicas together admit
// what one GCRA bucket allows — burst + rate × elapsed — never more, and
// no less than 85 % of it. Two replicas each keeping their own bucket
// would admit about twice that. The rate is low so that even a loaded CI
// machine offers several times the limit: a bucket that is not kept busy
// admits less than it allows, and the lower bound would mean nothing.
func TestRateLimitHoldsAcrossReplicas(t *testing.T) {
	t.Parallel()
	iss := kittest.NewIssuer(t)
	up := newCountingUpstream(t)
	const perSecond, burst = 25, 10
	env := gatewayEnv(t, iss, up.URL, "TRUSTED_PROXIES", "none",
		"GATEWAY_RATE_ANONYMOUS", fmt.Sprintf("%d/1s:%d", perSecond, burst))
	replicas := []string{
		apptest.StartService(t, env, loadConfig, run),
		apptest.StartService(t, env, loadConfig, run),
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var admitted, refused, other atomic.Int64
	var badHeaders atomic.Value
	const duration = 4 * time.Second
	start := time.Now()
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Go(func() {
			for time.Since(start) < duration {
				req, _ := http.NewRequest("GET", replicas[i%2]+"/api/v1/courses", nil)
				req.Header.Set("X-Forwarded-For", fmt.Sprintf("10.%d.%d.%d", rand.IntN(256), rand.IntN(256), rand.IntN(256)))
				resp, err := client.Do(req)
				if err != nil {
					other.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.Header.Get("RateLimit-Limit") == "" || resp.Header.Get("RateLimit-Remaining") == "" || resp.Header.Get("RateLimit-Reset") == "" {
					badHeaders.Store(fmt.Sprintf("status %d without RateLimit-* headers: %v", resp.StatusCode, resp.Header))
				}
				switch resp.StatusCode {
				case http.StatusOK:
					admitted.Add(1)
				case http.StatusTooManyRequests:
					refused.Add(1)
					if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || s < 1 {
						badHeaders.Store(fmt.Sprintf("429 with Retry-After %q", resp.Header.Get("Retry-After")))
					}
				default:
					other.Add(1)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if v := badHeaders.Load(); v != nil {
		t.Error(v)
	}
	for _, base := range replicas {
		t.Logf("%s: %v local decisions, %v Redis calls, %v Redis failures", base,
			metric(t, base, "azora_gateway_ratelimit_local_decisions_total", ""),
			metric(t, base, "azora_gateway_ratelimit_redis_calls_total", ""),
			metric(t, base, "azora_gateway_ratelimit_redis_failures_total", ""))
	}
	want := float64(burst) + perSecond*elapsed.Seconds()
	got := float64(admitted.Load())
	t.Logf("admitted %d, refused %d, other %d in %v; GCRA allows %.0f", admitted.Load(), refused.Load(), other.Load(), elapsed, want)
	if other.Load() != 0 {
		t.Errorf("%d requests neither admitted nor refused", other.Load())
	}
	if refused.Load() < admitted.Load() {
		t.Fatalf("offered %d requests for %.0f admissions: the load must exceed the limit well for the count to mean anything", admitted.Load()+refused.Load(), want)
	}
	// The clock starts before the first request reaches a replica and stops
	// after the last answer, so elapsed overstates the bucket's window: the
	// upper bound is exact, the lower one leaves room for that slack.
	if got > want+1 || got < want*0.85 {
		t.Errorf("admitted %.0f, want between %.0f and %.0f", got, want*0.85, want+1)
	}
	if hits := up.Hits("/api/v1/courses"); hits != int(admitted.Load()) {
		t.Errorf("the service saw %d requests, the clients were admitted %d", hits, admitted.Load())
	}
}

// TestRateLimitKeysUsersApart shows a signed-in user has a budget of their
// own: one user spending theirs does not touch another's.
func TestRateLimitKeysUsersApart(t *testing.T) {
	t.Parallel()
	iss := kittest.NewIssuer(t)
	up := newCountingUpstream(t)
	gw := apptest.NewClient(apptest.StartService(t, gatewayEnv(t, iss, up.URL, "GATEWAY_RATE_USER", "5/1m"), loadConfig, run), "")
	alice := iss.Token(t, kittest.Claims{Subject: uuid.NewString()})
	bob := iss.Token(t, kittest.Claims{Subject: uuid.NewString()})
	for i := range 5 {
		r := gw.Do(t, "GET", "/api/v1/enrollments", alice, nil)
		apptest.Want(t, r, http.StatusOK, "")
		if got, want := r.Header.Get("RateLimit-Remaining"), strconv.Itoa(4-i); got != want {
			t.Errorf("request %d: RateLimit-Remaining %q, want %q", i+1, got, want)
		}
	}
	r := gw.Do(t, "GET", "/api/v1/enrollments", alice, nil)
	apptest.Want(t, r, http.StatusTooManyRequests, "rate_limited")
	apptest.Want(t, gw.Do(t, "GET", "/api/v1/enrollments", bob, nil), http.StatusOK, "")
}

func TestCORSAllowList(t *testing.T) {
	t.Parallel()
	iss := kittest.NewIssuer(t)
	up := newCountingUpstream(t)
	base := apptest.StartService(t, gatewayEnv(t, iss, up.URL, "GATEWAY_CORS_ORIGINS", "https://app.azora.test"), loadConfig, run)
	preflight := func(origin string) *http.Response {
		req, _ := http.NewRequest("OPTIONS", base+"/api/v1/transfers", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization,content-type,idempotency-key") // as browsers send it
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	ok := preflight("https://app.azora.test")
	if ok.Header.Get("Access-Control-Allow-Origin") != "https://app.azora.test" ||
		!strings.Contains(strings.ToLower(ok.Header.Get("Access-Control-Allow-Headers")), "idempotency-key") {
		t.Errorf("allowed origin's preflight: %d %v", ok.StatusCode, ok.Header)
	}
	if bad := preflight("https://evil.test"); bad.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("unlisted origin got Access-Control-Allow-Origin %q", bad.Header.Get("Access-Control-Allow-Origin"))
	}
	if up.Hits("/api/v1/transfers") != 0 {
		t.Error("a preflight reached the service")
	}
}

func TestServesTheOpenAPIDocument(t *testing.T) {
	t.Parallel()
	iss := kittest.NewIssuer(t)
	up := newCountingUpstream(t)
	gw := apptest.NewClient(apptest.StartService(t, gatewayEnv(t, iss, up.URL), loadConfig, run), "")
	r := gw.Do(t, "GET", "/api/v1/openapi.json", "", nil)
	apptest.Want(t, r, http.StatusOK, "")
	if paths, _ := r.Body["paths"].(map[string]any); paths["/api/v1/me/dashboard"] == nil || paths["/api/v1/transfers"] == nil {
		t.Errorf("openapi.json lacks the dashboard or transfers: %v", keys(paths))
	}
	resp, err := http.Get(gw.Base + "/api/v1/docs")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(string(body), "/api/v1/transfers") {
		t.Errorf("docs page: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
