package gateway_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-kit/log"
	"go.uber.org/goleak"

	"github.com/azora-os/azora/gateway"
	"github.com/azora-os/azora/shared/httpx"
)

// pxCapture is an upstream handler remembering the last request it got.
type pxCapture struct {
	mu     sync.Mutex
	header http.Header
	host   string
	uri    string
}

func (c *pxCapture) serve(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	c.header, c.host, c.uri = r.Header.Clone(), r.Host, r.RequestURI
	c.mu.Unlock()
	_, _ = io.WriteString(w, "ok")
}

func (c *pxCapture) last() (http.Header, string, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.header, c.host, c.uri
}

func pxTrusted(t *testing.T, list ...string) httpx.TrustedProxies {
	t.Helper()
	tp, err := httpx.ParseTrustedProxies(list)
	if err != nil {
		t.Fatal(err)
	}
	return tp
}

func TestProxyForwardingHeaders(t *testing.T) {
	cases := []struct {
		name      string
		trusted   []string
		headers   []string
		wantFor   string
		wantProto string
		wantHost  string // "" = the front's own host
	}{
		{"untrusted peer: its forwarding headers are dropped", nil,
			[]string{"X-Forwarded-For", "6.6.6.6", "X-Forwarded-Proto", "https", "X-Forwarded-Host", "evil.example", "X-Real-IP", "6.6.6.6"},
			"127.0.0.1", "http", ""},
		{"trusted NGINX: the client it saw, then NGINX", []string{"127.0.0.1"},
			[]string{"X-Forwarded-For", "6.6.6.6, 1.2.3.4", "X-Forwarded-Proto", "https", "X-Forwarded-Host", "azora.example"},
			"1.2.3.4, 127.0.0.1", "https", "azora.example"},
		{"a chain of trusted proxies", []string{"127.0.0.1", "10.0.0.0/8"},
			[]string{"X-Forwarded-For", "6.6.6.6, 1.2.3.4, 10.0.0.5"},
			"1.2.3.4, 10.0.0.5, 127.0.0.1", "http", ""},
		{"the same trusted hop twice, without spaces", []string{"127.0.0.1", "10.0.0.0/8"},
			[]string{"X-Forwarded-For", "6.6.6.6,1.2.3.4,10.0.0.5,10.0.0.5"},
			"1.2.3.4, 10.0.0.5, 10.0.0.5, 127.0.0.1", "http", ""},
		{"a malformed hop ends the chain", []string{"127.0.0.1"},
			[]string{"X-Forwarded-For", "1.2.3.4, not-an-ip"},
			"127.0.0.1", "http", ""},
		{"trusted peer without X-Forwarded-For", []string{"127.0.0.1"}, nil,
			"127.0.0.1", "http", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var capture pxCapture
			in := upStart(t, capture.serve)
			g := upNew(t, upOptions{trusted: pxTrusted(t, c.trusted...)}, in)
			const uri = "/api/v1/courses?q=go%20lang&limit=5"
			r := g.mustDo(t, http.MethodGet, uri, "", append(c.headers, "X-Request-ID", "req-fwd")...)
			if r.status != http.StatusOK {
				t.Fatalf("status: got %d, want 200", r.status)
			}
			h, host, gotURI := capture.last()
			wantHost := c.wantHost
			if wantHost == "" {
				wantHost = strings.TrimPrefix(g.front.URL, "http://")
			}
			for _, check := range []struct{ name, got, want string }{
				{"X-Forwarded-For", strings.Join(h.Values("X-Forwarded-For"), "|"), c.wantFor},
				{"X-Forwarded-Proto", h.Get("X-Forwarded-Proto"), c.wantProto},
				{"X-Forwarded-Host", h.Get("X-Forwarded-Host"), wantHost},
				{"X-Real-IP", h.Get("X-Real-IP"), ""},
				{"X-Request-ID", strings.Join(h.Values("X-Request-ID"), "|"), "req-fwd"},
				{"Host", host, strings.TrimPrefix(in.URL, "http://")},
				{"request URI", gotURI, uri},
			} {
				if check.got != check.want {
					t.Errorf("%s at the upstream: got %q, want %q", check.name, check.got, check.want)
				}
			}
		})
	}
}

func TestProxyGeneratedRequestIDReachesTheUpstream(t *testing.T) {
	var capture pxCapture
	g := upNew(t, upOptions{}, upStart(t, capture.serve))
	r := g.mustDo(t, http.MethodGet, "/api/v1/courses", "")
	h, _, _ := capture.last()
	if id := r.header.Get("X-Request-ID"); id == "" || h.Get("X-Request-ID") != id {
		t.Errorf("X-Request-ID: upstream got %q, client got %q; want the same, non-empty", h.Get("X-Request-ID"), id)
	}
}

func TestProxyResponseHeadersAreNotDuplicated(t *testing.T) {
	// The upstream runs the shared stack too: it echoes X-Request-ID and
	// sets the same security headers the gateway's stack already set.
	in := upStart(t, httpx.Stack(log.NewNopLogger(), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=60")
		_, _ = io.WriteString(w, "ok")
	})).ServeHTTP)
	g := upNew(t, upOptions{}, in)
	r := g.mustDo(t, http.MethodGet, "/api/v1/certificates/x/keys", "", "X-Request-ID", "req-dup")
	for k, want := range map[string]string{
		"X-Request-Id":                 "req-dup",
		"X-Content-Type-Options":       "nosniff",
		"X-Frame-Options":              "DENY",
		"Referrer-Policy":              "no-referrer",
		"Content-Security-Policy":      "default-src 'none'; frame-ancestors 'none'",
		"Cross-Origin-Resource-Policy": "same-origin",
		"Cache-Control":                "public, max-age=60", // the upstream's own wins
	} {
		if got := r.header.Values(k); len(got) != 1 || got[0] != want {
			t.Errorf("%s: got %q, want exactly [%q]", k, got, want)
		}
	}
}

func TestProxyStripsHopByHopHeaders(t *testing.T) {
	var capture pxCapture
	in := upStart(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "X-Resp-Hop")
		w.Header().Set("X-Resp-Hop", "1")
		w.Header().Set("Keep-Alive", "timeout=5")
		w.Header().Set("X-End-To-End", "kept")
		capture.serve(w, r)
	})
	g := upNew(t, upOptions{}, in)

	// The instance does send them, so the proxy has something to strip.
	direct, err := http.Get(in.URL + "/api/v1/courses")
	if err != nil {
		t.Fatal(err)
	}
	_ = direct.Body.Close()
	if direct.Header.Get("X-Resp-Hop") == "" || direct.Header.Get("Keep-Alive") == "" {
		t.Fatalf("the instance itself sent %v, want its hop-by-hop headers", direct.Header)
	}

	r := g.mustDo(t, http.MethodGet, "/api/v1/courses", "",
		"Connection", "X-Req-Hop", "X-Req-Hop", "1", "Keep-Alive", "timeout=5", "Proxy-Connection", "keep-alive",
		"X-Req-End-To-End", "kept")
	h, _, _ := capture.last()
	for _, k := range []string{"Connection", "X-Req-Hop", "Keep-Alive", "Proxy-Connection"} {
		if v := h.Get(k); v != "" {
			t.Errorf("request header %s reached the upstream: %q", k, v)
		}
	}
	if h.Get("X-Req-End-To-End") != "kept" {
		t.Errorf("end-to-end request header lost")
	}
	for _, k := range []string{"X-Resp-Hop", "Keep-Alive"} {
		if v := r.header.Get(k); v != "" {
			t.Errorf("response header %s reached the client: %q", k, v)
		}
	}
	if r.header.Get("X-End-To-End") != "kept" {
		t.Errorf("end-to-end response header lost")
	}
}

func TestProxyStreamsALargeResponseWithoutBufferingIt(t *testing.T) {
	const size = 20 << 20
	chunk := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB
	in := upStart(t, func(w http.ResponseWriter, _ *http.Request) {
		for written := 0; written < size; written += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	g := upNew(t, upOptions{}, in)
	g.mustDo(t, http.MethodGet, "/warm", "") // connections and pools in place

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	resp, err := g.cl.Get(g.front.URL + "/api/v1/certificates/x/pdf")
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	runtime.ReadMemStats(&after)
	if err != nil || n != size {
		t.Fatalf("read %d bytes (%v), want %d", n, err, size)
	}
	// The upstream, the proxy and the client together allocate a small
	// fraction of the body: nothing holds it whole.
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > size/4 {
		t.Errorf("streaming %d MiB allocated %d KiB, want well under the body's size", size>>20, alloc>>10)
	}
}

func TestProxyStreamsASlowResponseAsItComes(t *testing.T) {
	release := make(chan struct{})
	in := upStart(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "first\n")
		http.NewResponseController(w).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		_, _ = io.WriteString(w, "second\n")
	})
	g := upNew(t, upOptions{}, in)
	resp, err := g.cl.Get(g.front.URL + "/api/v1/courses")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	// The upstream is still holding its second line: the first can only
	// arrive if the proxy passed it on as it came.
	if line, err := br.ReadString('\n'); line != "first\n" {
		t.Fatalf("first line: got %q (%v), want %q", line, err, "first\n")
	}
	close(release)
	if line, err := br.ReadString('\n'); line != "second\n" {
		t.Fatalf("second line: got %q (%v), want %q", line, err, "second\n")
	}
}

func TestProxyStreamsARequestBodyIntact(t *testing.T) {
	body := make([]byte, 900<<10)
	_, _ = rand.Read(body)
	want := sha256.Sum256(body)
	got := make(chan [32]byte, 1)
	in := upStart(t, func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		_, _ = io.Copy(h, r.Body)
		got <- [32]byte(h.Sum(nil))
	})
	g := upNew(t, upOptions{}, in)
	for _, method := range []string{http.MethodPost, http.MethodPut} { // streamed, buffered for retries
		if r := g.mustDo(t, method, "/api/v1/transfers", string(body)); r.status != http.StatusOK {
			t.Fatalf("%s: got %d, want 200", method, r.status)
		}
		if h := <-got; h != want {
			t.Errorf("%s: the upstream got a different body", method)
		}
	}
}

func TestProxyRequestBodyOverTheLimitIs413(t *testing.T) {
	in := upStart(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	})
	g := upNew(t, upOptions{}, in)
	for _, method := range []string{http.MethodPost, http.MethodPut} {
		// A chunked body, so that only reading it finds it too large.
		req, err := http.NewRequest(method, g.front.URL+"/api/v1/transfers", io.MultiReader(bytes.NewReader(make([]byte, httpx.MaxBodyBytes+1))))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := g.cl.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", method, err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("%s with a body over the limit: got %d, want 413", method, resp.StatusCode)
		}
	}
}

func TestProxyClientLeavingCancelsTheUpstreamRequest(t *testing.T) {
	started, canceled := make(chan struct{}), make(chan struct{})
	in := upStart(t, func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done()
		close(canceled)
	})
	g := upNew(t, upOptions{}, in)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, g.front.URL+"/api/v1/courses", nil)
	done := make(chan error, 1)
	go func() {
		resp, err := g.cl.Do(req)
		if err == nil {
			_ = resp.Body.Close()
		}
		done <- err
	}()
	<-started
	cancel()
	select {
	case <-canceled:
	case <-time.After(10 * time.Second):
		t.Fatal("the upstream request was not cancelled when the client left")
	}
	if err := <-done; err == nil {
		t.Error("the client's request succeeded, want it cancelled")
	}
	if got := in.hits.Load(); got != 1 {
		t.Errorf("the upstream saw %d requests, want 1: a client that left is not retried", got)
	}
}

func TestProxyUpstreamTimeoutIs504(t *testing.T) {
	canceled := make(chan struct{}, 1)
	in := upStart(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
			canceled <- struct{}{}
		case <-time.After(10 * time.Second):
		}
	})
	g := upNew(t, upOptions{cfg: gateway.UpstreamConfig{Timeout: 100 * time.Millisecond, Attempts: 1}}, in)
	r := g.mustDo(t, http.MethodGet, "/api/v1/courses", "")
	if r.status != http.StatusGatewayTimeout || r.problem.Code != "upstream_timeout" || r.problem.Status != 504 {
		t.Errorf("got %d %+v, want 504 upstream_timeout", r.status, r.problem)
	}
	select {
	case <-canceled:
	case <-time.After(10 * time.Second):
		t.Error("the timed-out upstream request was not cancelled")
	}
}

// TestProxyLeavesNoGoroutines runs every path (success, retry, timeout,
// client gone, streaming) and checks that once the clients, the proxy and
// the instances are closed nothing of them is left running. hystrix-go's
// per-circuit monitors are process-wide and stay by design.
func TestProxyLeavesNoGoroutines(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent(),
		goleak.IgnoreTopFunction("github.com/afex/hystrix-go/hystrix.(*metricExchange).Monitor"),
		goleak.IgnoreTopFunction("github.com/afex/hystrix-go/hystrix.(*poolMetrics).Monitor"))
	t.Run("traffic", func(t *testing.T) {
		slow := upStart(t, func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Query().Has("slow") {
				<-r.Context().Done()
				return
			}
			_, _ = w.Write(make([]byte, 256<<10))
		})
		dead := upStart(t, upOK)
		dead.stop()
		g := upNew(t, upOptions{run: true, cfg: gateway.UpstreamConfig{
			Timeout: 100 * time.Millisecond, HealthInterval: 20 * time.Millisecond,
		}}, slow, dead)
		for range 4 {
			g.mustDo(t, http.MethodGet, "/api/v1/courses", "")
			g.mustDo(t, http.MethodPost, "/api/v1/transfers", "{}")
		}
		g.mustDo(t, http.MethodGet, "/api/v1/courses?slow", "")
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, g.front.URL+"/api/v1/courses?slow", nil)
		if resp, err := g.cl.Do(req); err == nil {
			_ = resp.Body.Close()
			t.Error("a request the client gave up on succeeded")
		}
	})
}

// BenchmarkProxy sends parallel GETs through the gateway's proxy and,
// for comparison, through a plain httputil.ReverseProxy with net/http's
// default transport, both behind the shared stack, to a trivial upstream.
func BenchmarkProxy(b *testing.B) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, `{"items":[]}`)
	}))
	defer upstream.Close()
	logger := log.NewNopLogger()

	b.Run("gateway", func(b *testing.B) {
		up, err := gateway.NewUpstream(gateway.UpstreamConfig{Service: gateway.ServiceEducation, Instances: []string{upstream.URL}}, logger, nil)
		if err != nil {
			b.Fatal(err)
		}
		defer up.Close()
		pxBench(b, httpx.Stack(logger, gateway.NewProxy(up, nil, logger)))
	})
	target, _ := url.Parse(upstream.URL)
	rewrite := func(pr *httputil.ProxyRequest) {
		pr.SetURL(target)
		pr.SetXForwarded()
	}
	b.Run("httputil", func(b *testing.B) {
		pxBench(b, httpx.Stack(logger, &httputil.ReverseProxy{Rewrite: rewrite}))
	})
	// The same with a pool the size of the gateway's: what is left of the
	// difference is the cost of go-kit, the breakers and the retries.
	b.Run("httputil-pooled", func(b *testing.B) {
		tr := &http.Transport{MaxIdleConnsPerHost: 512}
		defer tr.CloseIdleConnections()
		pxBench(b, httpx.Stack(logger, &httputil.ReverseProxy{Rewrite: rewrite, Transport: tr}))
	})
}

// pxCPU returns the CPU time this process has used.
func pxCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func pxBench(b *testing.B, h http.Handler) {
	front := httptest.NewServer(h)
	defer front.Close()
	tr := &http.Transport{MaxIdleConnsPerHost: 1024}
	defer tr.CloseIdleConnections()
	cl := &http.Client{Transport: tr}
	target := front.URL + "/api/v1/courses"
	b.SetParallelism(16) // 16 clients per core, as a loaded gateway has
	b.ReportAllocs()
	b.ResetTimer()
	cpu := pxCPU(b)
	defer func() {
		// CPU per request (client, proxy and upstream together) is steadier
		// than ns/op on a shared machine, and what bounds throughput.
		b.ReportMetric(float64((pxCPU(b)-cpu).Microseconds())/float64(b.N), "cpu-µs/op")
	}()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := cl.Get(target)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
}
