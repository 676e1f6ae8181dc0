package platform

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Edge is NGINX in front of the gateway replicas, configured by
// scripts/nginx.sh exactly as `make run` configures it (TLS 1.3 with a
// self-signed certificate, HTTP → HTTPS redirect, keep-alive upstream
// with passive health checks), with its state under the test's temporary
// directory.
type Edge struct {
	Base     string       // https://127.0.0.1:port
	HTTPBase string       // http://127.0.0.1:port, which redirects to Base
	Client   *http.Client // trusts the certificate, TLS 1.3 only
	Cert     string       // the certificate's PEM file
}

// StartEdge starts NGINX on free loopback ports in front of the gateway
// replicas (base URLs) and returns once it answers.
func StartEdge(t testing.TB, gateways ...string) *Edge {
	t.Helper()
	return startEdge(t, FreeAddr(t), FreeAddr(t), gateways...)
}

func startEdge(t testing.TB, httpsAddr, httpAddr string, gateways ...string) *Edge {
	t.Helper()
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	_, httpsPort, _ := net.SplitHostPort(httpsAddr)
	_, httpPort, _ := net.SplitHostPort(httpAddr)
	render := exec.Command(filepath.Join(root, "scripts", "nginx.sh"), "check")
	render.Env = append(os.Environ(),
		"AZORA_STATE="+dir, "AZORA_RUN_DIR="+dir,
		"GATEWAY_URLS="+strings.Join(gateways, ","),
		"NGINX_HTTPS_PORT="+httpsPort, "NGINX_HTTP_PORT="+httpPort,
		// Passive health as in production, shortened for a test.
		"NGINX_MAX_FAILS=1", "NGINX_FAIL_TIMEOUT=2s")
	if out, err := render.CombinedOutput(); err != nil {
		t.Fatalf("scripts/nginx.sh check: %v\n%s", err, out)
	}
	bin, err := exec.LookPath("nginx")
	if err != nil {
		bin = "/usr/sbin/nginx"
	}
	prefix := filepath.Join(dir, "nginx")
	cmd := exec.Command(bin, "-p", prefix, "-e", filepath.Join(prefix, "error.log"),
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

	certFile := filepath.Join(dir, "certs", "localhost.crt")
	pem, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	e := &Edge{
		Base:     "https://" + httpsAddr,
		HTTPBase: "http://" + httpAddr,
		Cert:     certFile,
		Client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
			TLSClientConfig:     &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS13},
			MaxIdleConnsPerHost: 64,
		}},
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := e.Client.Get(e.Base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return e
			}
		}
		select {
		case <-done:
			t.Fatalf("nginx exited:\n%s", logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx not answering %s/readyz within 20s (last error %v)", e.Base, err)
		}
		time.Sleep(25 * time.Millisecond)
	}
}
