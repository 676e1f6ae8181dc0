package gateway_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-kit/kit/sd"
	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/azora-os/azora/gateway"
	"github.com/azora-os/azora/shared/app/apptest"
	"github.com/azora-os/azora/shared/httpx"
	"github.com/azora-os/azora/shared/kit"
)

// upInstance is a real upstream instance on 127.0.0.1: /readyz answers
// 200 while ready, everything else goes to its handler and is counted. It
// can be stopped (listener and connections closed) and restarted on the
// same address.
type upInstance struct {
	t       testing.TB
	addr    string
	URL     string
	handler http.Handler
	ready   atomic.Bool
	hits    atomic.Int64 // requests other than health checks

	mu   sync.Mutex
	srv  *http.Server
	done chan struct{}
}

func upStart(t testing.TB, h http.HandlerFunc) *upInstance {
	t.Helper()
	in := &upInstance{t: t}
	in.ready.Store(true)
	in.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/readyz" {
			if !in.ready.Load() {
				w.WriteHeader(http.StatusServiceUnavailable)
			}
			return
		}
		in.hits.Add(1)
		h(w, r)
	})
	in.listen("127.0.0.1:0")
	in.addr = in.srv.Addr
	in.URL = "http://" + in.addr
	t.Cleanup(in.stop)
	return in
}

func (in *upInstance) listen(addr string) {
	in.t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		in.t.Fatalf("listen %s: %v", addr, err)
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	in.srv = &http.Server{Addr: ln.Addr().String(), Handler: in.handler}
	in.done = make(chan struct{})
	srv, done := in.srv, in.done
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
}

// stop kills the instance: the listener and every connection close at once.
func (in *upInstance) stop() {
	in.mu.Lock()
	srv, done := in.srv, in.done
	in.srv = nil
	in.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
		<-done
	}
}

// restart serves again on the same address.
func (in *upInstance) restart() { in.listen(in.addr) }

// upOptions are the knobs a test turns.
type upOptions struct {
	cfg     gateway.UpstreamConfig // Service and Instances are filled in
	run     bool                   // run the health checks
	trusted httpx.TrustedProxies
}

// upRig is an Upstream over real instances with the gateway's proxy in
// front of it, behind the shared HTTP stack, on a real listener.
type upRig struct {
	up    *gateway.Upstream
	reg   *prometheus.Registry
	front *httptest.Server
	cl    *http.Client
}

func upNew(t testing.TB, o upOptions, instances ...*upInstance) *upRig {
	t.Helper()
	o.cfg.Service = gateway.ServiceEducation
	for _, in := range instances {
		o.cfg.Instances = append(o.cfg.Instances, in.URL)
	}
	reg := prometheus.NewRegistry()
	logger := log.NewNopLogger()
	up, err := gateway.NewUpstream(o.cfg, logger, reg)
	if err != nil {
		t.Fatalf("NewUpstream: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	if o.run {
		go func() { ran <- up.Run(ctx) }()
	} else {
		ran <- nil
	}
	front := httptest.NewServer(httpx.Stack(logger, gateway.NewProxy(up, o.trusted, logger)))
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		front.Close()
		cancel()
		if err := <-ran; err != nil {
			t.Errorf("Run: got %v, want nil", err)
		}
		up.Close()
	})
	return &upRig{up: up, reg: reg, front: front, cl: &http.Client{Transport: tr}}
}

// upReply is a finished response, body read.
type upReply struct {
	status  int
	header  http.Header
	body    string
	problem httpx.Problem
}

// do sends method path with body and headers ("k", "v" pairs) through
// the front; transport errors are returned, not fatal, so goroutines may
// call it.
func (g *upRig) do(method, path, body string, headers ...string) (upReply, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, g.front.URL+path, rd)
	if err != nil {
		return upReply{}, err
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := g.cl.Do(req)
	if err != nil {
		return upReply{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return upReply{}, err
	}
	r := upReply{status: resp.StatusCode, header: resp.Header, body: string(b)}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/problem+json") {
		_ = json.Unmarshal(b, &r.problem)
	}
	return r, nil
}

func (g *upRig) mustDo(t testing.TB, method, path, body string, headers ...string) upReply {
	t.Helper()
	r, err := g.do(method, path, body, headers...)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

// gauge reads a gauge of the rig's registry for one instance (-1: absent).
func (g *upRig) gauge(t testing.TB, name string, in *upInstance) float64 {
	t.Helper()
	mfs, err := g.reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if upLabel(m, "instance") == in.addr {
				return m.GetGauge().GetValue()
			}
		}
	}
	return -1
}

// counter sums the counter name of the rig's registry over the series
// whose labels include want.
func (g *upRig) counter(t testing.TB, name string, want map[string]string) float64 {
	t.Helper()
	mfs, err := g.reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			for k, v := range want {
				if upLabel(m, k) != v {
					continue series
				}
			}
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}

func upLabel(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func upOK(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }

func upFail(status int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(status)
	}
}

func TestNewUpstreamRejectsBadConfig(t *testing.T) {
	cases := []struct {
		name string
		cfg  gateway.UpstreamConfig
	}{
		{"no service", gateway.UpstreamConfig{Instances: []string{"http://127.0.0.1:1"}}},
		{"no instances", gateway.UpstreamConfig{Service: "auth"}},
		{"not a URL", gateway.UpstreamConfig{Service: "auth", Instances: []string{"127.0.0.1:1"}}},
		{"a path", gateway.UpstreamConfig{Service: "auth", Instances: []string{"http://127.0.0.1:1/api"}}},
		{"twice", gateway.UpstreamConfig{Service: "auth", Instances: []string{"http://127.0.0.1:1", "http://127.0.0.1:1"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			u, err := gateway.NewUpstream(c.cfg, log.NewNopLogger(), nil)
			if err == nil {
				u.Close()
				t.Fatalf("NewUpstream(%+v): got nil error, want one", c.cfg)
			}
		})
	}
}

func TestHealthChecksTakeAnInstanceOutAndPutItBack(t *testing.T) {
	const interval = 250 * time.Millisecond
	a, b := upStart(t, upOK), upStart(t, upOK)
	g := upNew(t, upOptions{run: true, cfg: gateway.UpstreamConfig{HealthInterval: interval, HealthTimeout: 100 * time.Millisecond}}, a, b)
	events := make(chan sd.Event, 16)
	g.up.Instancer().Register(events)
	defer g.up.Instancer().Deregister(events)
	if got := (<-events).Instances; len(got) != 2 {
		t.Fatalf("first event: got %v, want both instances", got)
	}
	// Out after two failed checks in a row, back after one passing check;
	// each bound allows for the probe's own round trip.
	waitFor := func(what string, want []string, intervals int) {
		t.Helper()
		start := time.Now()
		apptest.Eventually(t, what, func() bool { return slices.Equal(g.up.Healthy(), want) })
		if took, bound := time.Since(start), time.Duration(intervals)*interval; took > bound+150*time.Millisecond {
			t.Errorf("%s took %v, want at most %d interval(s) (%v)", what, took, intervals, bound)
		}
	}
	sorted := func(s ...string) []string { return slices.Sorted(slices.Values(s)) }

	t.Run("failing readyz", func(t *testing.T) {
		b.ready.Store(false)
		waitFor("b taken out", []string{a.URL}, 2)
		if ev := <-events; !slices.Equal(ev.Instances, []string{a.URL}) {
			t.Errorf("event: got %v, want only %s", ev.Instances, a.URL)
		}
		// The endpointer applies the event in a goroutine of its own: wait
		// for a round of requests that all miss b.
		apptest.Eventually(t, "10 GETs in a row served by a alone", func() bool {
			before := b.hits.Load()
			for range 10 {
				if r := g.mustDo(t, http.MethodGet, "/api/v1/courses", ""); r.status != http.StatusOK {
					t.Fatalf("GET: got %d, want 200", r.status)
				}
			}
			return b.hits.Load() == before
		})
		if got := g.gauge(t, "azora_gateway_upstream_healthy", b); got != 0 {
			t.Errorf("healthy gauge of b: got %v, want 0", got)
		}
		b.ready.Store(true)
		waitFor("b back", sorted(a.URL, b.URL), 1)
		if ev := <-events; !slices.Equal(ev.Instances, sorted(a.URL, b.URL)) {
			t.Errorf("event: got %v, want both", ev.Instances)
		}
	})

	t.Run("stopped and restarted", func(t *testing.T) {
		b.stop()
		waitFor("stopped b taken out", []string{a.URL}, 2)
		<-events
		b.restart()
		waitFor("restarted b back", sorted(a.URL, b.URL), 1)
		<-events
		before := b.hits.Load()
		apptest.Eventually(t, "requests reaching b again", func() bool {
			g.mustDo(t, http.MethodGet, "/api/v1/courses", "")
			return b.hits.Load() > before
		})
	})
}

func TestCloseStopsRun(t *testing.T) {
	// An instance whose /readyz hangs: Close must not wait out the probe.
	probed, hang := make(chan struct{}, 1), make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		select {
		case probed <- struct{}{}:
		default:
		}
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(hang)
	up, err := gateway.NewUpstream(gateway.UpstreamConfig{Service: gateway.ServiceAuth, Instances: []string{srv.URL},
		HealthTimeout: time.Minute}, log.NewNopLogger(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ran := make(chan error, 1)
	go func() { ran <- up.Run(context.Background()) }()
	<-probed
	closed := make(chan struct{})
	go func() {
		up.Close()
		close(closed)
	}()
	select {
	case err := <-ran:
		if err != nil {
			t.Errorf("Run: got %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run still running 10 s after Close, with a probe in flight")
	}
	<-closed
}

func TestNoHealthyInstanceFailsOpen(t *testing.T) {
	a, b := upStart(t, upOK), upStart(t, upOK)
	a.ready.Store(false)
	b.ready.Store(false)
	g := upNew(t, upOptions{run: true, cfg: gateway.UpstreamConfig{HealthInterval: 50 * time.Millisecond}}, a, b)
	apptest.Eventually(t, "both out", func() bool { return len(g.up.Healthy()) == 0 })
	events := make(chan sd.Event, 1)
	g.up.Instancer().Register(events)
	g.up.Instancer().Deregister(events)
	if got := (<-events).Instances; len(got) != 2 {
		t.Errorf("instances with none healthy: got %v, want both (fail open)", got)
	}
	if r := g.mustDo(t, http.MethodGet, "/api/v1/courses", ""); r.status != http.StatusOK {
		t.Errorf("GET with none healthy but both serving: got %d, want 200", r.status)
	}
}

func TestRetries(t *testing.T) {
	type want struct {
		status  int   // of the requests sent to a first
		aHits   int64 // requests the failing instance a saw
		bHits   int64 // requests the healthy instance b saw
		bodyAtB bool  // b received every body intact
	}
	const n = 6
	body := strings.Repeat("azora-", 20000) // 120 kB
	cases := []struct {
		name    string
		a       http.HandlerFunc // nil: a is stopped (connection refused)
		aCode   string           // the code a's attempts are counted under
		method  string
		headers []string
		want    want
	}{
		{"GET from a stopped instance goes to the other", nil, "upstream_unavailable", http.MethodGet, nil,
			want{status: 200, aHits: 0, bHits: n}},
		{"GET answered 503 is retried", upFail(503), "503", http.MethodGet, nil,
			want{status: 200, aHits: n / 2, bHits: n}},
		{"PUT answered 502 is retried with its body", upFail(502), "502", http.MethodPut, nil,
			want{status: 200, aHits: n / 2, bHits: n, bodyAtB: true}},
		{"POST with an Idempotency-Key answered 504 is retried with its body", upFail(504), "504", http.MethodPost,
			[]string{"Idempotency-Key", "k1"}, want{status: 200, aHits: n / 2, bHits: n, bodyAtB: true}},
		{"POST without a key answered 503 is not retried", upFail(503), "503", http.MethodPost, nil,
			want{status: 503, aHits: n / 2, bHits: n / 2, bodyAtB: true}},
		{"POST without a key to a stopped instance is sent to the other: nothing was sent", nil, "upstream_unavailable", http.MethodPost, nil,
			want{status: 200, aHits: 0, bHits: n, bodyAtB: true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var bodyOK atomic.Int64
			a := upStart(t, c.a)
			if c.a == nil {
				a.stop()
			}
			b := upStart(t, func(w http.ResponseWriter, r *http.Request) {
				got, _ := io.ReadAll(r.Body)
				if string(got) == body {
					bodyOK.Add(1)
				}
				_, _ = io.WriteString(w, "from b")
			})
			g := upNew(t, upOptions{cfg: gateway.UpstreamConfig{Attempts: 2}}, a, b)
			failed := 0
			for range n {
				sent := ""
				if c.method != http.MethodGet {
					sent = body
				}
				r := g.mustDo(t, c.method, "/api/v1/courses", sent, c.headers...)
				if r.status != http.StatusOK {
					failed++
					if r.status != c.want.status {
						t.Errorf("status: got %d, want %d or 200", r.status, c.want.status)
					}
				} else if r.body != "from b" {
					t.Errorf("body: got %q, want b's", r.body)
				}
			}
			if c.want.status == 200 && failed > 0 {
				t.Errorf("%d of %d requests failed, want none", failed, n)
			}
			if c.want.status != 200 && failed != n/2 {
				t.Errorf("%d of %d requests failed, want the %d that went to a", failed, n, n/2)
			}
			if got := a.hits.Load(); got != c.want.aHits {
				t.Errorf("a saw %d requests, want %d", got, c.want.aHits)
			}
			if got := b.hits.Load(); got != c.want.bHits {
				t.Errorf("b saw %d requests, want %d", got, c.want.bHits)
			}
			if c.want.bodyAtB && bodyOK.Load() != c.want.bHits {
				t.Errorf("b got the body intact %d times, want %d", bodyOK.Load(), c.want.bHits)
			}
			wantRetries := 0.0
			if c.want.status == http.StatusOK {
				wantRetries = n / 2
			}
			if got := g.counter(t, "azora_gateway_upstream_retries_total", map[string]string{"service": gateway.ServiceEducation}); got != wantRetries {
				t.Errorf("retries_total: got %v, want %v", got, wantRetries)
			}
			// Every attempt is counted at its instance, with the status it
			// got or, for a refused connection, the error's code.
			attempts := func(in *upInstance, code string) float64 {
				return g.counter(t, "azora_gateway_upstream_attempts_total", map[string]string{"instance": in.addr, "code": code})
			}
			if got := attempts(b, "200"); got != float64(c.want.bHits) {
				t.Errorf("attempts_total{b, 200}: got %v, want %d", got, c.want.bHits)
			}
			if got := attempts(a, c.aCode); got != n/2 {
				t.Errorf("attempts_total{a, %s}: got %v, want %d", c.aCode, got, n/2)
			}
		})
	}
}

func TestEveryInstanceDownIs502(t *testing.T) {
	a, b := upStart(t, upOK), upStart(t, upOK)
	a.stop()
	b.stop()
	g := upNew(t, upOptions{}, a, b)
	r := g.mustDo(t, http.MethodGet, "/api/v1/courses", "", "X-Request-ID", "req-502")
	if r.status != http.StatusBadGateway || r.problem.Code != "upstream_unavailable" || r.problem.Status != 502 {
		t.Fatalf("got %d %+v, want 502 upstream_unavailable", r.status, r.problem)
	}
	if r.problem.RequestID != "req-502" {
		t.Errorf("request_id: got %q, want req-502", r.problem.RequestID)
	}
}

func TestBreakerOpensThenFastFails(t *testing.T) {
	a := upStart(t, upFail(http.StatusBadGateway))
	g := upNew(t, upOptions{cfg: gateway.UpstreamConfig{
		Attempts: 1,
		Breaker:  kit.BreakerConfig{RequestVolumeThreshold: 4, ErrorPercentThreshold: 50, SleepWindow: time.Minute},
	}}, a)
	var last upReply
	apptest.Eventually(t, "the circuit to open", func() bool {
		last = g.mustDo(t, http.MethodGet, "/api/v1/courses", "")
		return last.problem.Code == "circuit_open"
	})
	if last.status != http.StatusServiceUnavailable || last.header.Get("Retry-After") != "60" {
		t.Errorf("open circuit: got %d Retry-After %q, want 503 Retry-After 60", last.status, last.header.Get("Retry-After"))
	}
	if got := g.gauge(t, "azora_gateway_upstream_breaker_open", a); got != 1 {
		t.Errorf("breaker_open gauge: got %v, want 1", got)
	}
	before := a.hits.Load()
	for range 5 {
		if r := g.mustDo(t, http.MethodGet, "/api/v1/courses", ""); r.problem.Code != "circuit_open" {
			t.Errorf("got %d %q, want circuit_open", r.status, r.problem.Code)
		}
	}
	if got := a.hits.Load(); got != before {
		t.Errorf("the instance saw %d requests through an open circuit, want 0", got-before)
	}
}

// TestAnInstances503DoesNotOpenItsCircuit: an instance answering 503 (a
// dependency of some of its routes is down) keeps its circuit closed, so
// the routes it still serves keep working; its 503s reach the client as
// the service wrote them.
func TestAnInstances503DoesNotOpenItsCircuit(t *testing.T) {
	var failing atomic.Bool
	failing.Store(true)
	a := upStart(t, func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() && r.URL.Path == "/api/v1/enrollments" {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"type":"/problems/auth_unavailable","title":"Service unavailable","status":503,"code":"auth_unavailable"}`))
			return
		}
		upOK(w, r)
	})
	g := upNew(t, upOptions{cfg: gateway.UpstreamConfig{
		Attempts: 1,
		Breaker:  kit.BreakerConfig{RequestVolumeThreshold: 4, ErrorPercentThreshold: 50, SleepWindow: time.Minute},
	}}, a)
	for i := range 40 {
		r := g.mustDo(t, http.MethodGet, "/api/v1/enrollments", "")
		if r.status != http.StatusServiceUnavailable || r.problem.Code != "auth_unavailable" {
			t.Fatalf("request %d: got %s, want the service's own 503 auth_unavailable", i, r.summary())
		}
	}
	if r := g.mustDo(t, http.MethodGet, "/api/v1/courses", ""); r.status != http.StatusOK {
		t.Errorf("a route the instance still serves, after 40 of its 503s: got %s, want 200", r.summary())
	}
	if got := g.gauge(t, "azora_gateway_upstream_breaker_open", a); got != 0 {
		t.Errorf("breaker_open gauge: got %v, want 0", got)
	}
}

// TestKillingAnInstanceUnderLoad is the acceptance test in small: an
// instance dies under load, no GET fails, its breaker opens and the
// health check takes it out; restarted, it serves again.
func TestKillingAnInstanceUnderLoad(t *testing.T) {
	a, b := upStart(t, upOK), upStart(t, upOK)
	g := upNew(t, upOptions{run: true, cfg: gateway.UpstreamConfig{
		HealthInterval: 200 * time.Millisecond,
		Breaker:        kit.BreakerConfig{RequestVolumeThreshold: 5},
	}}, a, b)

	ctx, stop := context.WithCancel(context.Background())
	var (
		wg       sync.WaitGroup
		sent     atomic.Int64
		failures = make(chan string, 100)
	)
	for range 8 {
		wg.Go(func() {
			for ctx.Err() == nil {
				r, err := g.do(http.MethodGet, "/api/v1/courses", "")
				sent.Add(1)
				switch {
				case err != nil:
					failures <- err.Error()
				case r.status != http.StatusOK:
					failures <- r.summary()
				}
			}
		})
	}
	apptest.Eventually(t, "load", func() bool { return b.hits.Load() > 50 })
	b.stop()
	apptest.Eventually(t, "b's breaker to open", func() bool { return g.gauge(t, "azora_gateway_upstream_breaker_open", b) == 1 })
	apptest.Eventually(t, "b out of rotation", func() bool { return slices.Equal(g.up.Healthy(), []string{a.URL}) })
	b.restart()
	before := b.hits.Load()
	apptest.Eventually(t, "b serving again", func() bool { return b.hits.Load() > before+50 })
	apptest.Eventually(t, "b's breaker to close", func() bool { return g.gauge(t, "azora_gateway_upstream_breaker_open", b) == 0 })
	stop()
	wg.Wait()
	close(failures)
	for f := range failures {
		t.Errorf("a GET failed while an instance died: %s", f)
	}
	t.Logf("%d GETs sent", sent.Load())
}

// summary names a failed reply in a test message.
func (r upReply) summary() string { return strconv.Itoa(r.status) + " " + r.problem.Code }
