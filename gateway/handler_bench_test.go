package gateway

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/mux"

	"github.com/azora-os/azora/shared/httpx"
	"github.com/azora-os/azora/shared/kit"
	"github.com/azora-os/azora/shared/kit/kittest"
	"github.com/azora-os/azora/shared/logging"
	"github.com/azora-os/azora/shared/redisx/redistest"
)

// benchTransport answers every request at once with a small 200, as the
// benchmark's upstream (scripts/benchupstream) does, without a network:
// what the handler benchmarks measure is the gateway's own work.
type benchTransport struct{}

func (benchTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	const body = `{"items":[]}`
	return &http.Response{
		Status: "200 OK", StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{"Content-Type": {"application/json"}, "Content-Length": {"12"}},
		Body:          io.NopCloser(strings.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       r,
	}, nil
}

// processCPU returns the CPU time the process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkGatewayHandler sends GET /api/v1/enrollments with a bearer
// token through what the gateway binary serves (the shared stack with its
// logger at warn, the route table, the edge JWT check, the per-user rate
// limit in Redis, the proxy with its breaker, retries and metrics) and,
// for comparison, through a bare httputil.ReverseProxy; both reach
// benchTransport, so ns/op and allocs/op are the request path's own cost,
// without sockets.
func BenchmarkGatewayHandler(b *testing.B) {
	logger, err := logging.New(io.Discard, "logfmt", "warn")
	if err != nil {
		b.Fatal(err)
	}
	iss := kittest.NewIssuer(b)
	token := iss.Token(b, kittest.Claims{Subject: "user-1", Roles: []string{"student"}})
	target := "/api/v1/enrollments"

	run := func(b *testing.B, h http.Handler) {
		req := httptest.NewRequest(http.MethodGet, target, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		req.RemoteAddr = "127.0.0.1:40000"
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
		b.ReportAllocs()
		cpu := processCPU(b)
		for b.Loop() {
			h.ServeHTTP(httptest.NewRecorder(), req)
		}
		// The process's CPU per request counts the work the request leaves
		// to other goroutines (hystrix-go's metrics, the limiter's Redis
		// calls) too, which ns/op misses on a second core.
		b.ReportMetric(float64((processCPU(b)-cpu).Nanoseconds())/float64(b.N), "cpu-ns/op")
	}

	b.Run("gateway", func(b *testing.B) {
		verifier, err := kit.NewVerifier(iss.VerifierConfig())
		if err != nil {
			b.Fatal(err)
		}
		c, prefix := redistest.New(b)
		limiter, _ := rlNew(b, c, prefix, nil)
		limiter.timeout = rateRedisTimeout
		upstreams := map[string]http.Handler{}
		for _, service := range []string{ServiceAuth, ServiceEducation, ServiceFinance} {
			u, err := NewUpstream(UpstreamConfig{Service: service, Instances: []string{"http://127.0.0.1:1"},
				Transport: benchTransport{}, HealthInterval: time.Hour}, logger, nil)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(u.Close)
			upstreams[service] = NewProxy(u, nil, logger)
		}
		r := mux.NewRouter()
		httpx.HandleUnmatched(r, logger)
		if err := MakeHTTPHandler(r, nil, HTTPConfig{
			Upstreams: upstreams,
			Verifier:  verifier,
			Limiter:   limiter,
			Rates:     map[RateClass]Rate{ClassUser: {Limit: 100_000_000, Period: time.Second}, ClassBadToken: {Limit: 120, Period: time.Minute}},
			Logger:    logger,
		}); err != nil {
			b.Fatal(err)
		}
		run(b, httpx.Stack(logger, CORS(CORSConfig{})(r)))
	})
	b.Run("httputil", func(b *testing.B) {
		u, _ := url.Parse("http://127.0.0.1:1")
		rp := httputil.NewSingleHostReverseProxy(u)
		rp.Transport = benchTransport{}
		rp.BufferPool = proxyBufferPool{}
		run(b, rp)
	})
}
