package platform

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Proc is one component of the platform running as a child process: a
// service instance, Redis or the Kafka broker. Its address is fixed when it
// is created, so it can be killed and started again where its clients
// expect it, as a restarted pod would be.
type Proc struct {
	Name string
	Addr string // host:port it listens on, kept across restarts
	Base string // http://Addr for a service, "" for the others

	t     testing.TB
	bin   string
	args  []string
	env   map[string]string
	ready func(p *Proc) bool

	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{}
	logs    bytes.Buffer
	started int // how many times Start ran the process
}

// newProc prepares (without starting) a process that runs bin with args and
// env (PATH and HOME are added) and is ready when ready says so. The
// process is killed when the test ends, and its log printed if it failed.
func newProc(t testing.TB, name, addr, bin string, args []string, env map[string]string, ready func(*Proc) bool) *Proc {
	p := &Proc{Name: name, Addr: addr, t: t, bin: bin, args: args, env: env, ready: ready}
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			t.Logf("%s log (last lines):\n%s", name, lastLines(p.Logs(), 60))
		}
	})
	return p
}

// httpReady is the readiness check of a service: GET /readyz answers 200.
func httpReady(p *Proc) bool {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get(p.Base + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// Start (re)starts the process and returns once it is ready; it fails the
// test when the process exits first or is not ready within a minute.
func (p *Proc) Start() {
	p.t.Helper()
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir()}
	for k, v := range p.env {
		env = append(env, k+"="+v)
	}
	sort.Strings(env)
	cmd := exec.Command(p.bin, p.args...)
	cmd.Env = env
	w := lockedWriter{&p.mu, &p.logs}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		p.t.Fatalf("start %s: %v", p.Name, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	p.mu.Lock()
	p.cmd, p.done = cmd, done
	p.started++
	p.mu.Unlock()

	deadline := time.Now().Add(time.Minute)
	for !p.ready(p) {
		select {
		case <-done:
			p.t.Fatalf("%s exited before it was ready:\n%s", p.Name, lastLines(p.Logs(), 40))
		default:
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s not ready after a minute:\n%s", p.Name, lastLines(p.Logs(), 40))
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// Kill sends SIGKILL (no drain, no goodbye) and waits until the process is
// gone. Killing a stopped process does nothing.
func (p *Proc) Kill() { p.stop(syscall.SIGKILL) }

// Stop asks the process to shut down cleanly (SIGTERM) and waits for it,
// for at most 30 s before killing it.
func (p *Proc) Stop() { p.stop(syscall.SIGTERM) }

func (p *Proc) stop(sig syscall.Signal) {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.cmd = nil
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGCONT) // a paused process cannot act on SIGTERM
	cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-done
	}
}

// Pause freezes the process (SIGSTOP): it keeps its sockets but answers
// nothing, as a host that stopped responding. Resume undoes it.
func (p *Proc) Pause() { p.signal(syscall.SIGSTOP) }

// Resume continues a paused process (SIGCONT).
func (p *Proc) Resume() { p.signal(syscall.SIGCONT) }

func (p *Proc) signal(sig syscall.Signal) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		p.cmd.Process.Signal(sig)
	}
}

// Pid returns the process id, or 0 when it is not running.
func (p *Proc) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// RSS returns the resident set size of the process in bytes (VmRSS).
func (p *Proc) RSS() (int64, error) {
	pid := p.Pid()
	if pid == 0 {
		return 0, fmt.Errorf("%s is not running", p.Name)
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "VmRSS:" && f[2] == "kB" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// starts returns how many times the process was started.
func (p *Proc) starts() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.started
}

// Logs returns what the process wrote to stdout and stderr so far, across
// restarts.
func (p *Proc) Logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

// lockedWriter serialises writes to w with reads made under the same mutex.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (w lockedWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(b)
}

// FreeAddr returns a loopback address whose port was free a moment ago.
func FreeAddr(t testing.TB) string {
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
