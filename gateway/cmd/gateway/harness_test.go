package main

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The end-to-end tests run the services as real processes — built once per
// test binary from this checkout — so an instance can be killed with
// SIGKILL and started again on the same address, as in production.

var built struct {
	once sync.Once
	dir  string
	err  error
}

// TestMain removes the binaries built for the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// binary returns the path of the named service's binary (auth, education,
// finance, gateway), building all four on first use. They are built with -race
// when the tests are, which reuses the packages the test build compiled.
func binary(t testing.TB, name string) string {
	t.Helper()
	built.once.Do(func() {
		dir, err := os.MkdirTemp("", "azora-gateway-e2e-")
		if err != nil {
			built.err = err
			return
		}
		built.dir = dir
		root, err := moduleRoot()
		if err != nil {
			built.err = err
			return
		}
		args := []string{"build", "-o", dir + string(os.PathSeparator)}
		if raceEnabled {
			args = append(args, "-race")
		}
		args = append(args, "./auth/cmd/auth", "./education/cmd/education", "./finance/cmd/finance", "./gateway/cmd/gateway")
		cmd := exec.Command("go", args...)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			built.err = fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return filepath.Join(built.dir, name)
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %v", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("not inside the module")
	}
	return filepath.Dir(mod), nil
}

// proc is one service instance running as a child process.
type proc struct {
	t    testing.TB
	name string
	bin  string
	env  map[string]string
	addr string // host:port, kept across restarts
	Base string // http://addr

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	logs bytes.Buffer
}

// startProc runs the binary bin as an instance called name with env (plus
// HTTP_ADDR on a free port) and returns once its /readyz answers 200. The
// process is killed when the test ends; its log is printed if the test
// failed.
func startProc(t testing.TB, name, bin string, env map[string]string) *proc {
	t.Helper()
	p := &proc{t: t, name: name, bin: bin, env: env, addr: freeAddr(t)}
	p.Base = "http://" + p.addr
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			p.mu.Lock()
			t.Logf("%s log:\n%s", name, lastLines(p.logs.String(), 60))
			p.mu.Unlock()
		}
	})
	p.Start()
	return p
}

// Start (re)starts the process on its address and waits until it is ready.
func (p *proc) Start() {
	p.t.Helper()
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir(), "HTTP_ADDR=" + p.addr}
	for k, v := range p.env {
		env = append(env, k+"="+v)
	}
	sort.Strings(env)
	cmd := exec.Command(p.bin)
	cmd.Env = env
	w := lockedWriter{&p.mu, &p.logs}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		p.t.Fatalf("start %s: %v", p.name, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	p.mu.Lock()
	p.cmd, p.done = cmd, done
	p.mu.Unlock()

	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-done:
			p.mu.Lock()
			defer p.mu.Unlock()
			p.t.Fatalf("%s exited before it was ready:\n%s", p.name, lastLines(p.logs.String(), 40))
		default:
		}
		if resp, err := http.Get(p.Base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s not ready after 60s", p.name)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// Kill sends SIGKILL (no drain, no goodbye) and waits for the process to
// be gone. Killing a stopped process does nothing.
func (p *proc) Kill() {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.cmd = nil
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGKILL)
	<-done
}

// lockedWriter serialises writes to w (a process's stdout and stderr) with
// the reads the test makes under the same mutex.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}

// freeAddr returns a loopback address whose port was free a moment ago.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

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
