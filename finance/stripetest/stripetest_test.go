package stripetest

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// probe asks the stripe-mock at url for a PaymentIntent and returns the
// status, or the error when nothing answers.
func probe(url string) (int, error) {
	req, err := http.NewRequest(http.MethodGet, url+"/v1/payment_intents/pi_123", nil)
	if err != nil {
		return 0, err
	}
	req.SetBasicAuth("sk_test_123", "")
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

func TestStartServesTheStripeAPI(t *testing.T) {
	url := Start(t)
	if !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("got url %q, want http://127.0.0.1:<port>", url)
	}
	if st, err := probe(url); st != http.StatusOK {
		t.Fatalf("GET a payment intent on %s: got %d (%v), want 200", url, st, err)
	}
	if again := Start(t); again != url {
		t.Errorf("second Start: got %q, want the shared %q", again, url)
	}
}

func TestStartRestartsAStripeMockThatDied(t *testing.T) {
	url := Start(t)
	mu.Lock()
	m := shared
	mu.Unlock()
	// Kill stripe-mock itself (the watchdog's child), as a crash would.
	out, err := exec.Command("pkill", "-KILL", "-P", fmt.Sprint(m.cmd.Process.Pid), "-x", "stripe-mock").CombinedOutput()
	if err != nil {
		t.Fatalf("kill stripe-mock under watchdog %d: %v %s", m.cmd.Process.Pid, err, out)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		gone := m.exited()
		mu.Unlock()
		if gone {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the watchdog did not exit after stripe-mock was killed")
		}
		time.Sleep(20 * time.Millisecond)
	}
	fresh := Start(t)
	if fresh == url {
		t.Fatalf("got the dead stripe-mock's url %q again, want a new one", fresh)
	}
	if st, err := probe(fresh); st != http.StatusOK {
		t.Fatalf("restarted stripe-mock at %s: got %d (%v), want 200", fresh, st, err)
	}
}

// TestStripeMockDiesWithTheTestBinary runs this test binary again as a
// child that starts stripe-mock and exits without any cleanup; stripe-mock
// must be gone soon after.
func TestStripeMockDiesWithTheTestBinary(t *testing.T) {
	if os.Getenv("STRIPETEST_CHILD") == "1" {
		fmt.Println("URL", Start(t))
		os.Exit(0) // no Cleanup, no deferred calls: only the kernel closes our files
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestStripeMockDiesWithTheTestBinary$")
	cmd.Env = append(os.Environ(), "STRIPETEST_CHILD=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child test binary: %v\n%s", err, out)
	}
	var url string
	for sc := bufio.NewScanner(strings.NewReader(string(out))); sc.Scan(); {
		if u, ok := strings.CutPrefix(sc.Text(), "URL "); ok {
			url = u
		}
	}
	if url == "" {
		t.Fatalf("child printed no URL:\n%s", out)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := probe(url); err != nil {
			return // nothing listens: stripe-mock is gone
		}
		if time.Now().After(deadline) {
			t.Fatalf("stripe-mock at %s still answers 5 s after its test binary exited", url)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
