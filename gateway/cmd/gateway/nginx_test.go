package main

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// edge is NGINX as make run starts it (scripts/nginx.sh renders
// deploy/nginx/nginx.conf), in front of the given gateway replicas, with
// its state under a temporary directory.
type edge struct {
	Base   string // https://127.0.0.1:port
	Client *http.Client
}

func startNGINX(t *testing.T, gateways ...string) *edge {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	httpsAddr, httpAddr := freeAddr(t), freeAddr(t)
	_, httpsPort, _ := net.SplitHostPort(httpsAddr)
	_, httpPort, _ := net.SplitHostPort(httpAddr)
	render := exec.Command(filepath.Join(root, "scripts", "nginx.sh"), "check")
	render.Env = append(os.Environ(),
		"AZORA_STATE="+dir, "AZORA_RUN_DIR="+dir,
		"GATEWAY_URLS="+strings.Join(gateways, ","),
		"NGINX_HTTPS_PORT="+httpsPort, "NGINX_HTTP_PORT="+httpPort,
		// Passive health as in production, shortened for the test.
		"NGINX_MAX_FAILS=1", "NGINX_FAIL_TIMEOUT=2s")
	if out, err := render.CombinedOutput(); err != nil {
		t.Fatalf("scripts/nginx.sh check: %v\n%s", err, out)
	}
	nginx, err := exec.LookPath("nginx")
	if err != nil {
		nginx = "/usr/sbin/nginx"
	}
	prefix := filepath.Join(dir, "nginx")
	cmd := exec.Command(nginx, "-p", prefix, "-e", filepath.Join(prefix, "error.log"),
		"-c", filepath.Join(prefix, "nginx.conf"), "-g", "daemon off;")
	var logs strings.Builder
	var mu sync.Mutex
	cmd.Stdout = lockedWriter{&mu, &logs}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatalf("start nginx: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			errLog, _ := os.ReadFile(filepath.Join(prefix, "error.log"))
			mu.Lock()
			t.Logf("nginx output:\n%s\nerror.log:\n%s", logs.String(), lastLines(string(errLog), 40))
			mu.Unlock()
		}
	})

	pem, err := os.ReadFile(filepath.Join(dir, "certs", "localhost.crt"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	e := &edge{
		Base: "https://" + httpsAddr,
		Client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
			TLSClientConfig:     &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS13},
			MaxIdleConnsPerHost: 64,
		}},
	}
	waitFor(t, "nginx answers", 20*time.Second, func() bool {
		resp, err := e.Client.Get(e.Base + "/api/v1/courses")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return e
}

// TestKillingAnInstanceUnderLoad runs NGINX → two gateway replicas → two
// education processes, keeps 16 clients reading the catalogue, and kills
// one education process with SIGKILL: no client request fails (the
// gateways retry reads on the other instance), the dead instance's
// breaker opens, and once the instance is restarted the gateways route to
// it again within one health-check interval.
func TestKillingAnInstanceUnderLoad(t *testing.T) {
	t.Parallel()
	p := newPlatform(t)
	edu := p.startEducation(2)
	instances := edu[0].Base + "," + edu[1].Base
	const interval = 500 * time.Millisecond
	unused := "http://" + freeAddr(t)
	var gws []string
	for range 2 {
		gws = append(gws, p.gateway(unused, instances, unused,
			"GATEWAY_HEALTH_INTERVAL", interval.String(), "GATEWAY_RATE_ANONYMOUS", "1000000/1s"))
	}
	ngx := startNGINX(t, gws...)
	victim := edu[0]

	var ok, failed atomic.Int64
	var firstFailure atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := ngx.Client.Get(ngx.Base + "/api/v1/courses")
				if err != nil {
					failed.Add(1)
					firstFailure.CompareAndSwap(nil, err.Error())
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					failed.Add(1)
					firstFailure.CompareAndSwap(nil, resp.Status+" "+string(body))
					continue
				}
				ok.Add(1)
			}
		})
	}
	defer func() { close(stop); wg.Wait() }()

	waitFor(t, "load flowing", 20*time.Second, func() bool { return ok.Load() > 200 })
	victim.Kill()
	killedAt := ok.Load()

	// Every replica's breaker for the dead instance opens.
	for _, gw := range gws {
		waitFor(t, "breaker open on "+gw, 10*time.Second, func() bool {
			return metric(t, gw, "azora_gateway_upstream_breaker_open", victim.addr) == 1
		})
	}
	// The health checks take it out of rotation.
	for _, gw := range gws {
		waitFor(t, "dead instance out of rotation on "+gw, 10*time.Second, func() bool {
			return metric(t, gw, "azora_gateway_upstream_healthy", victim.addr) == 0
		})
	}
	waitFor(t, "load flowing past the dead instance", 20*time.Second, func() bool { return ok.Load() > killedAt+300 })

	victim.Start() // returns once its /readyz answers
	readyAt := time.Now()
	for _, gw := range gws {
		took := waitFor(t, "instance back on "+gw, 10*time.Second, func() bool {
			return metric(t, gw, "azora_gateway_upstream_healthy", victim.addr) == 1
		})
		t.Logf("%s: instance back in rotation %v after it was ready", gw, time.Since(readyAt))
		if since := time.Since(readyAt); since > interval+interval/2 && took > 0 {
			t.Errorf("%s put the instance back %v after it was ready, want within one %v interval", gw, since, interval)
		}
	}
	before := metric(t, gws[0], "azora_gateway_upstream_attempts_total", victim.addr) +
		metric(t, gws[1], "azora_gateway_upstream_attempts_total", victim.addr)
	waitFor(t, "traffic reaching the restarted instance", 10*time.Second, func() bool {
		return metric(t, gws[0], "azora_gateway_upstream_attempts_total", victim.addr)+
			metric(t, gws[1], "azora_gateway_upstream_attempts_total", victim.addr) > before+50
	})

	close(stop)
	wg.Wait()
	stop = make(chan struct{})
	t.Logf("%d reads succeeded, %d failed", ok.Load(), failed.Load())
	if n := failed.Load(); n != 0 {
		t.Fatalf("%d idempotent requests failed across the kill; first: %v", n, firstFailure.Load())
	}
}
