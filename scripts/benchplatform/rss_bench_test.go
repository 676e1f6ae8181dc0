package benchplatform

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/azora-os/azora/finance"
	"github.com/azora-os/azora/shared/app/apptest"
	"github.com/azora-os/azora/shared/app/apptest/platform"
)

func TestMain(m *testing.M) { platform.Main(m) }

const (
	students = 20         // each with a funded wallet; the load's users
	courses  = 20         // published: a full first page of the catalogue
	funds    = 10_000_000 // minor units per wallet: transfers of 1–100 never run it dry
	password = "correct horse battery staple"
	// unlimited lifts the gateway's rate limits: every request comes from
	// 127.0.0.1, and the load is meant to reach the services, not the limiter.
	unlimited = "100000000/1s"
	// sampleEvery is how often the services' RSS is read.
	sampleEvery = 100 * time.Millisecond
)

// services are the measured processes by name; the gateway's figure is
// the largest of its replicas.
var services = []string{"auth", "education", "finance", "gateway"}

// schedule is the mixed load, one entry per request in turn: catalogue
// reads 40 %, wallet reads 20 %, transfers 30 %, logins 10 %.
var schedule = []string{"catalogue", "catalogue", "catalogue", "catalogue", "wallet", "wallet",
	"transfer", "transfer", "transfer", "login"}

// BenchmarkServiceRSS starts the platform as `make run` does (two gateway
// replicas behind NGINX with TLS), reads each service's RSS (VmRSS) idle,
// then drives a mixed load through NGINX — anonymous catalogue reads,
// logins, wallet reads and transfers with an Idempotency-Key — from
// BENCH_LOAD_CLIENTS clients (default 16) for BENCH_DURATION (default 10s;
// wrk's syntax: 10s, 1m, or plain seconds), reading RSS every 100 ms, and
// reports each service's idle and peak RSS in MiB. Every request must
// succeed and the wallets must still hold all the money afterwards, or the
// benchmark fails: a peak measured under a failing load would mean nothing.
//
// auth is asked for the production argon2id cost (t=2, m=19 MiB), since a
// login's hash is most of auth's memory under load; argon2_t and argon2_KiB
// report the cost auth actually ran with, read from its environment.
//
//	go test -run '^$' -bench BenchmarkServiceRSS -benchtime 1x ./scripts/benchplatform/
func BenchmarkServiceRSS(b *testing.B) {
	load := envDuration(b, "BENCH_DURATION", 10*time.Second)
	clients := envInt(b, "BENCH_LOAD_CLIENTS", 16)
	p := platform.Start(b, platform.Options{Env: map[string]string{
		"GATEWAY_RATE_AUTH": unlimited, "GATEWAY_RATE_ANONYMOUS": unlimited, "GATEWAY_RATE_USER": unlimited,
		"AUTH_LOGIN_PAIR_BURST": "100000000", "AUTH_LOGIN_IP_BURST": "100000000",
		"AUTH_ARGON2_TIME": "2", "AUTH_ARGON2_MEMORY_KIB": "19456",
	}})
	procs := map[string][]*platform.Proc{
		"auth": {p.Auth}, "education": {p.Education}, "finance": {p.Finance}, "gateway": p.Gateways,
	}
	argonT, argonKiB := argon2Cost(b, p.Auth)
	b.Logf("auth runs argon2id at t=%d m=%d KiB", argonT, argonKiB)

	// Idle: the services just started and have settled; nothing has called them.
	time.Sleep(2 * time.Second)
	settled := make(chan struct{})
	time.AfterFunc(time.Second, func() { close(settled) })
	idle := sampleRSS(b, procs, settled)

	c := &client{api: &apptest.Client{Base: p.NGINX.Base, HTTP: p.NGINX.Client}}
	w := setUp(b, c, p.WebhookSecret)

	for range b.N {
		b.ResetTimer()
		stop := make(chan struct{})
		peakc := make(chan map[string]int64)
		go func() { peakc <- sampleRSS(b, procs, stop) }()
		st := w.drive(c, clients, load)
		close(stop)
		peak := <-peakc
		b.StopTimer()

		for _, op := range schedule[:len(schedule)-1] {
			if st.ok[op].Load() == 0 {
				b.Errorf("no %s request succeeded", op)
			}
		}
		if st.failed.Load() > 0 {
			b.Fatalf("%d of %d requests failed; first: %s", st.failed.Load(), st.total(), strings.Join(st.firstErrors, "; "))
		}
		w.checkBooks(b, c)
		for _, s := range services {
			b.ReportMetric(mib(idle[s]), s+"_idle_MiB")
			b.ReportMetric(mib(peak[s]), s+"_peak_MiB")
			b.Logf("RSS %-9s idle %6.1f MiB, peak under load %6.1f MiB", s, mib(idle[s]), mib(peak[s]))
		}
		b.ReportMetric(float64(st.total())/load.Seconds(), "req/s")
		b.ReportMetric(float64(st.ok["transfer"].Load())/load.Seconds(), "transfers/s")
		b.ReportMetric(float64(st.ok["login"].Load())/load.Seconds(), "logins/s")
		b.ReportMetric(float64(clients), "clients")
		b.ReportMetric(float64(argonT), "argon2_t")
		b.ReportMetric(float64(argonKiB), "argon2_KiB")
	}
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

// sampleRSS reads every process's RSS each sampleEvery until done, and
// returns the largest value seen per service (over its replicas too). A
// read that fails — a process gone — fails the benchmark.
func sampleRSS(b *testing.B, procs map[string][]*platform.Proc, done <-chan struct{}) map[string]int64 {
	peak := map[string]int64{}
	tick := time.NewTicker(sampleEvery)
	defer tick.Stop()
	for {
		for name, ps := range procs {
			for _, p := range ps {
				rss, err := p.RSS()
				if err != nil {
					b.Errorf("RSS of %s: %v", name, err)
					continue
				}
				peak[name] = max(peak[name], rss)
			}
		}
		select {
		case <-done:
			return peak
		case <-tick.C:
		}
	}
}

// argon2Cost returns the argon2id time and memory (KiB) auth was started
// with, from its environment: the harness may override what was asked.
func argon2Cost(b *testing.B, auth *platform.Proc) (t, kib int) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", auth.Pid()))
	if err != nil {
		b.Fatalf("auth's environment: %v", err)
	}
	t, kib = 2, 19456 // auth.DefaultArgon2Params, when the environment says nothing
	for _, kv := range strings.Split(string(raw), "\x00") {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "AUTH_ARGON2_TIME":
			t, err = strconv.Atoi(v)
		case "AUTH_ARGON2_MEMORY_KIB":
			kib, err = strconv.Atoi(v)
		}
		if err != nil {
			b.Fatalf("auth's %s: %v", kv, err)
		}
	}
	return t, kib
}

// --- the platform's users ----------------------------------------------------

type student struct {
	email, token, wallet string
}

type world struct {
	students []student
}

// setUp creates, through NGINX, an instructor's published courses and the
// students, each logged in with a wallet funded by a card top-up (a
// PaymentIntent on stripe-mock and its signed payment_intent.succeeded
// webhook), as a real client and Stripe would.
func setUp(b *testing.B, c *client, webhookSecret string) *world {
	b.Helper()
	instructor := c.account(b, "instructor")
	for i := range courses {
		r := c.must(b, 201, "POST", "/api/v1/courses", instructor.token,
			map[string]any{"title": fmt.Sprintf("Course %d", i), "description": "Benchmark course number " + strconv.Itoa(i)})
		id, _ := r.obj("course")["id"].(string)
		c.must(b, 201, "POST", "/api/v1/courses/"+id+"/lessons", instructor.token, map[string]any{"title": "Lesson 1", "content": "Text."})
		c.must(b, 200, "POST", "/api/v1/courses/"+id+"/publish", instructor.token, nil)
	}
	w := &world{}
	for range students {
		s := c.account(b, "student")
		// finance opens the wallet when auth's user.registered reaches it.
		deadline := time.Now().Add(30 * time.Second)
		for s.wallet == "" {
			items, _ := c.must(b, 200, "GET", "/api/v1/wallets", s.token, nil).body["items"].([]any)
			if len(items) == 1 {
				s.wallet, _ = items[0].(map[string]any)["id"].(string)
			} else if time.Now().After(deadline) {
				b.Fatalf("no wallet for %s 30 s after registration", s.email)
			} else {
				time.Sleep(50 * time.Millisecond)
			}
		}
		r := c.must(b, 201, "POST", "/api/v1/wallets/"+s.wallet+"/topups", s.token,
			map[string]any{"amount": funds, "currency": "USD"}, "Idempotency-Key", "fund-"+s.wallet)
		pi, _ := r.obj("topup")["payment_intent_id"].(string)
		c.stripeSucceeded(b, webhookSecret, pi, funds)
		if got := c.balance(b, s); got != funds {
			b.Fatalf("wallet %s holds %d after its top-up, want %d", s.wallet, got, funds)
		}
		w.students = append(w.students, s)
	}
	return w
}

// checkBooks fails b unless the students' wallets together hold exactly
// what was topped up: transfers move money between them, never make or
// lose any.
func (w *world) checkBooks(b *testing.B, c *client) {
	var sum int64
	for _, s := range w.students {
		sum += c.balance(b, s)
	}
	if want := int64(students * funds); sum != want {
		b.Errorf("after the load the wallets hold %d in all, want %d", sum, want)
	}
}

// --- the load -------------------------------------------------------------------

type stats struct {
	ok          map[string]*atomic.Int64
	failed      atomic.Int64
	mu          sync.Mutex
	firstErrors []string
}

func (st *stats) total() int64 {
	n := st.failed.Load()
	for _, c := range st.ok {
		n += c.Load()
	}
	return n
}

func (st *stats) fail(err error) {
	st.failed.Add(1)
	st.mu.Lock()
	if len(st.firstErrors) < 3 {
		st.firstErrors = append(st.firstErrors, err.Error())
	}
	st.mu.Unlock()
}

// drive runs the mixed load from n clients for d. Each client walks the
// schedule from its own offset, as its own student.
func (w *world) drive(c *client, n int, d time.Duration) *stats {
	st := &stats{ok: map[string]*atomic.Int64{}}
	for _, op := range schedule {
		st.ok[op] = &atomic.Int64{}
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var wg sync.WaitGroup
	for k := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				op := schedule[(k+i)%len(schedule)]
				if err := w.request(c, op, k, i); err != nil {
					st.fail(fmt.Errorf("%s: %w", op, err))
				} else {
					st.ok[op].Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return st
}

// request sends client k's i-th request, op, and checks its status.
func (w *world) request(c *client, op string, k, i int) error {
	s := w.students[(k+i)%len(w.students)]
	var (
		r    reply
		want int
	)
	switch op {
	case "catalogue":
		r, want = c.do("GET", "/api/v1/courses", "", nil), 200
	case "wallet":
		r, want = c.do("GET", "/api/v1/wallets/"+s.wallet, s.token, nil), 200
	case "transfer":
		to := w.students[(k+i+1+rand.IntN(len(w.students)-1))%len(w.students)]
		r, want = c.do("POST", "/api/v1/transfers", s.token,
			map[string]any{"from_wallet_id": s.wallet, "to_wallet_id": to.wallet, "amount": 1 + rand.IntN(100), "currency": "USD"},
			"Idempotency-Key", fmt.Sprintf("load-%d-%d", k, i)), 201
	case "login":
		r, want = c.do("POST", "/api/v1/auth/login", "", map[string]any{"email": s.email, "password": password}), 200
	}
	if r.err != nil {
		return r.err
	}
	if r.status != want {
		return fmt.Errorf("got %d %.200s, want %d", r.status, r.raw, want)
	}
	return nil
}

// --- HTTP through NGINX ---------------------------------------------------------

type client struct{ api *apptest.Client }

type reply struct {
	status int
	body   map[string]any
	raw    []byte
	err    error
}

func (r reply) obj(key string) map[string]any { m, _ := r.body[key].(map[string]any); return m }

// do sends a request with an optional bearer token, JSON body and header
// pairs. It never fails the benchmark itself, so the load's goroutines
// may call it.
func (c *client) do(method, path, token string, body any, headers ...string) reply {
	r, err := c.api.Send(context.Background(), method, path, token, body, headers...)
	return reply{status: r.Status, body: r.Body, raw: r.Raw, err: err}
}

// must is do for the set-up: anything but status fails b.
func (c *client) must(b *testing.B, status int, method, path, token string, body any, headers ...string) reply {
	b.Helper()
	r := c.do(method, path, token, body, headers...)
	if r.err != nil {
		b.Fatal(r.err)
	}
	if r.status != status {
		b.Fatalf("%s %s: got %d %s, want %d", method, path, r.status, r.raw, status)
	}
	return r
}

// account registers a user with role and logs it in.
func (c *client) account(b *testing.B, role string) student {
	b.Helper()
	s := student{email: fmt.Sprintf("bench-%s-%d@example.com", role, rand.Int64())}
	c.must(b, 201, "POST", "/api/v1/auth/register", "", map[string]any{"email": s.email, "password": password, "name": "Bench", "role": role})
	s.token, _ = c.must(b, 200, "POST", "/api/v1/auth/login", "", map[string]any{"email": s.email, "password": password}).body["access_token"].(string)
	if s.token == "" {
		b.Fatalf("no access token for %s", s.email)
	}
	return s
}

func (c *client) balance(b *testing.B, s student) int64 {
	b.Helper()
	bal, ok := c.must(b, 200, "GET", "/api/v1/wallets/"+s.wallet, s.token, nil).obj("wallet")["balance"].(float64)
	if !ok {
		b.Fatalf("wallet %s: no balance", s.wallet)
	}
	return int64(bal)
}

// stripeSucceeded delivers Stripe's payment_intent.succeeded for pi,
// signed with the platform's webhook secret.
func (c *client) stripeSucceeded(b *testing.B, secret, pi string, amount int64) {
	b.Helper()
	now := time.Now()
	payload, _ := json.Marshal(map[string]any{
		"id": "evt_" + pi, "object": "event", "type": "payment_intent.succeeded", "api_version": "2023-10-16", "created": now.Unix(),
		"data": map[string]any{"object": map[string]any{"id": pi, "object": "payment_intent", "amount": amount, "currency": "usd", "status": "succeeded"}},
	})
	r := c.do(http.MethodPost, "/api/v1/webhooks/stripe", "", payload,
		"Stripe-Signature", finance.SignPayload(secret, payload, now))
	if r.err != nil || r.status != 200 {
		b.Fatalf("webhook for %s: %d %s %v", pi, r.status, r.raw, r.err)
	}
}

// --- knobs ----------------------------------------------------------------------

// envDuration reads a duration in wrk's syntax (10s, 1m, 2h, or plain
// seconds), the one scripts/bench.sh passes to wrk as well.
func envDuration(b *testing.B, name string, def time.Duration) time.Duration {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	if _, err := strconv.Atoi(v); err == nil {
		v += "s"
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		b.Fatalf("%s=%q: want a positive duration such as 10s, 1m or 30", name, v)
	}
	return d
}

func envInt(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		b.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}
