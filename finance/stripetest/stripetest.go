// Package stripetest gives tests a real stripe-mock
// (github.com/stripe/stripe-mock), Stripe's own API simulator, to talk to.
//
// Starting stripe-mock takes most of a second (it loads Stripe's whole
// OpenAPI spec), so a test binary starts one, on the first Start, and
// shares it. It needs no TestMain to stop: stripe-mock runs under a small
// sh watchdog that holds the read end of a pipe whose write end only this
// process holds, so when the test binary exits — normally, by panic, a
// timeout or SIGKILL — the kernel closes the pipe and the watchdog kills
// stripe-mock. stripe-mock is stateless, so sharing it leaks nothing from
// one test into another.
package stripetest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Version is the stripe-mock release installed when none is found; the
// same one scripts/run.sh installs.
const Version = "v0.203.0"

// startTimeout bounds how long stripe-mock may take to listen.
const startTimeout = 30 * time.Second

// watchdog runs stripe-mock ("$@") and kills it once fd 3 reaches EOF,
// which happens only when the one holder of the pipe's write end, this
// process, closes it or exits. The shell itself lives exactly as long as
// stripe-mock, so its exit tells us stripe-mock is gone.
const watchdog = `"$@" </dev/null 3<&- & pid=$!
{ read -r _ <&3; kill $pid 2>/dev/null; } &
wait $pid`

var (
	mu     sync.Mutex
	shared *mock
)

// mock is one running stripe-mock.
type mock struct {
	url   string
	err   error     // why it could not be started; sticks, so we try once
	stdin *os.File  // the write end of the watchdog's pipe
	cmd   *exec.Cmd // the watchdog
	gone  bool      // the watchdog has exited and been reaped
}

// Start returns the base URL (http://127.0.0.1:port) of the test binary's
// stripe-mock, starting it on free loopback ports (HTTP and HTTPS) if it is
// not running yet. The binary is stripe-mock from PATH or GOBIN/GOPATH/bin;
// when there is none, Start runs `go install
// github.com/stripe/stripe-mock@Version` once. It fails t when stripe-mock
// cannot be installed or started. The process is shared by every test of
// the binary and ends with it, not with t (see the package doc).
func Start(t testing.TB) string {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	if shared != nil && shared.err == nil && shared.exited() {
		shared.stop() // it crashed: release its watchdog, start another
		shared = nil
	}
	if shared == nil {
		shared = start()
	}
	if shared.err != nil {
		t.Fatalf("stripetest: %v", shared.err)
	}
	return shared.url
}

func start() *mock {
	bin, err := binary()
	if err != nil {
		return &mock{err: err}
	}
	m, err := launch(bin)
	if err != nil {
		return &mock{err: err}
	}
	return m
}

// binary finds stripe-mock, installing it when missing.
func binary() (string, error) {
	if p, err := exec.LookPath("stripe-mock"); err == nil {
		return p, nil
	}
	dir, err := goBinDir()
	if err != nil {
		return "", err
	}
	p := filepath.Join(dir, "stripe-mock")
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	cmd := exec.Command("go", "install", "github.com/stripe/stripe-mock@"+Version)
	// Outside any module, with the environment's GOFLAGS cleared, so that
	// the current module's settings (-mod=vendor, say) cannot break it.
	cmd.Dir = os.TempDir()
	cmd.Env = append(os.Environ(), "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("stripe-mock is not installed and `go install github.com/stripe/stripe-mock@%s` failed (%v): %s", Version, err, bytes.TrimSpace(out))
	}
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("go install github.com/stripe/stripe-mock@%s succeeded but %s is missing: %v", Version, p, err)
	}
	return p, nil
}

// goBinDir is where go install puts binaries: GOBIN, else GOPATH/bin.
func goBinDir() (string, error) {
	out, err := exec.Command("go", "env", "GOBIN", "GOPATH").Output()
	if err != nil {
		return "", fmt.Errorf("stripe-mock is not on PATH and `go env` failed: %v", err)
	}
	// One line per variable, in order; an unset GOBIN is an empty first
	// line, so the output must not be trimmed before it is split.
	lines := strings.Split(string(out), "\n")
	if len(lines) > 0 && strings.TrimSpace(lines[0]) != "" {
		return strings.TrimSpace(lines[0]), nil
	}
	if len(lines) < 2 || strings.TrimSpace(lines[1]) == "" {
		return "", errors.New("stripe-mock is not on PATH and go env reports no GOPATH")
	}
	// GOPATH may list several directories; go install uses the first.
	return filepath.Join(filepath.SplitList(strings.TrimSpace(lines[1]))[0], "bin"), nil
}

var listening = regexp.MustCompile(`Listening for HTTP at address: (\S+)`)

// launch starts bin under the watchdog with both listeners on
// system-chosen loopback ports (no window in which another process could
// take a port we picked) and waits until it says where HTTP listens.
func launch(bin string) (*mock, error) {
	// Its output goes to an unlinked file, not a pipe: nobody has to keep
	// draining it, and the test binary's own stdout stays ours.
	out, err := os.CreateTemp("", "stripe-mock-*.log")
	if err != nil {
		return nil, fmt.Errorf("stripe-mock log: %v", err)
	}
	defer out.Close()
	os.Remove(out.Name())
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("stripe-mock pipe: %v", err)
	}
	defer pr.Close()

	cmd := exec.Command("/bin/sh", "-c", watchdog, "stripe-mock-watchdog",
		bin, "-http-addr", "127.0.0.1:", "-https-addr", "127.0.0.1:")
	cmd.Stdout, cmd.Stderr = out, out
	cmd.ExtraFiles = []*os.File{pr} // fd 3
	if err := cmd.Start(); err != nil {
		pw.Close()
		return nil, fmt.Errorf("start %s: %v", bin, err)
	}
	m := &mock{stdin: pw, cmd: cmd}

	deadline := time.Now().Add(startTimeout)
	buf := make([]byte, 64<<10)
	for {
		n, _ := out.ReadAt(buf, 0)
		if sm := listening.FindSubmatch(buf[:n]); sm != nil {
			m.url = "http://" + string(sm[1])
			return m, nil
		}
		if m.exited() {
			m.stop()
			return nil, fmt.Errorf("%s exited before listening; its output:\n%s", bin, bytes.TrimSpace(buf[:n]))
		}
		if time.Now().After(deadline) {
			m.stop()
			return nil, fmt.Errorf("%s did not listen within %s; its output:\n%s", bin, startTimeout, bytes.TrimSpace(buf[:n]))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// exited reports, without blocking, whether the watchdog (and so
// stripe-mock) is gone, reaping it if so. A waiting goroutine would do the
// same but outlive every test, which goroutine-leak checks would flag.
func (m *mock) exited() bool {
	if m.gone {
		return true
	}
	var ws syscall.WaitStatus
	pid, err := syscall.Wait4(m.cmd.Process.Pid, &ws, syscall.WNOHANG, nil)
	m.gone = pid == m.cmd.Process.Pid || err != nil
	return m.gone
}

// stop closes the watchdog's pipe, which stops stripe-mock, and reaps the
// watchdog.
func (m *mock) stop() {
	m.stdin.Close()
	if !m.gone {
		m.cmd.Process.Wait()
		m.gone = true
	}
}
