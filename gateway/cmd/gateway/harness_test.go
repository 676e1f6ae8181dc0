package main

import (
	"crypto/rand"
	"encoding/base64"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/azora-os/azora/shared/app/apptest/platform"
)

// The end-to-end tests run the services as real processes (the platform
// harness builds them once per test binary from this checkout), so an
// instance can be killed with SIGKILL and started again on the same
// address, as in production.

// TestMain removes the binaries built for the tests.
func TestMain(m *testing.M) { platform.Main(m) }

func sealKey() string {
	key := make([]byte, 32)
	rand.Read(key)
	return "k1:" + base64.StdEncoding.EncodeToString(key)
}

// with returns a copy of env with the pairs kv set.
func with(env map[string]string, kv ...string) map[string]string {
	out := make(map[string]string, len(env)+len(kv)/2)
	for k, v := range env {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

// waitFor polls cond every 10 ms until it holds or timeout passes, and
// returns how long that took.
func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > timeout {
			t.Fatalf("%s: not within %v", what, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}

// metric sums the samples of the Prometheus metric name on base's /metrics
// whose labels mention label (e.g. an instance's host:port).
func metric(t testing.TB, base, name, label string) float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatalf("metrics of %s: %v", base, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, line := range strings.Split(string(body), "\n") {
		if !(strings.HasPrefix(line, name+"{") || strings.HasPrefix(line, name+" ")) || !strings.Contains(line, label) {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", line, err)
		}
		sum += v
	}
	return sum
}
