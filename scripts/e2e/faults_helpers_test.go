package e2e

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"mime"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/azora-os/azora/shared/app/apptest"
	"github.com/azora-os/azora/shared/app/apptest/platform"
)

// Helpers of the fault runs that helpers_test.go does not have (yet). They
// are named fault* so that they cannot collide with the journey's helpers;
// faultDo, faultProblem, faultList and faultWallets could move there.

// faultEnv is the environment of a fault run's platform: rate limits far
// above what the run sends, so that a 429 never stands in for the fault
// being measured, plus kv (pairs of name, value).
func faultEnv(kv ...string) map[string]string {
	env := map[string]string{
		// The gateway's three classes (gateway/cmd/gateway defaultRates).
		"GATEWAY_RATE_AUTH":      "100000/1m",
		"GATEWAY_RATE_ANONYMOUS": "100000/1m",
		"GATEWAY_RATE_USER":      "100000/1m",
		// Auth's own password-guessing budgets: every client of a test
		// logs in from 127.0.0.1.
		"AUTH_LOGIN_IP_BURST":   "100000",
		"AUTH_LOGIN_PAIR_BURST": "1000",
	}
	for i := 0; i+1 < len(kv); i += 2 {
		env[kv[i]] = kv[i+1]
	}
	return env
}

// faultDo sends one request through NGINX like apptest.Client.Do, but
// returns a failure to send instead of failing the test, so worker
// goroutines may call it and a caller can measure a call that hangs: the
// request is abandoned after timeout. It also returns how long the
// answer took.
func faultDo(p *platform.Platform, timeout time.Duration, method, path, token string, body any, headers ...string) (apptest.Reply, time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	start := time.Now()
	r, err := api(p).Send(ctx, method, path, token, body, headers...)
	return r, time.Since(start), err
}

// faultProblem says what keeps r from being the problem document API.md
// promises for status: application/problem+json with that status in the
// body, a code (code itself when not empty), a request_id, and nothing that
// looks like a leaked stack trace. It returns "" when r is one.
func faultProblem(r apptest.Reply, status int, code string) string {
	switch ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); {
	case r.Status != status:
		return fmt.Sprintf("status %d, want %d: %.300s", r.Status, status, r.Raw)
	case ct != "application/problem+json":
		return fmt.Sprintf("Content-Type %q, want application/problem+json: %.300s", r.Header.Get("Content-Type"), r.Raw)
	case r.Body == nil:
		return fmt.Sprintf("body is not a JSON object: %.300s", r.Raw)
	case r.Body["status"] != float64(status):
		return fmt.Sprintf("body status %v, want %d: %s", r.Body["status"], status, r.Raw)
	case r.Str("code") == "" || (code != "" && r.Str("code") != code):
		return fmt.Sprintf("code %q, want %q: %s", r.Str("code"), code, r.Raw)
	case r.Str("request_id") == "":
		return fmt.Sprintf("no request_id: %s", r.Raw)
	case bytes.Contains(r.Raw, []byte("goroutine ")) || bytes.Contains(r.Raw, []byte(".go:")):
		return fmt.Sprintf("body looks like a stack trace: %.300s", r.Raw)
	}
	return ""
}

// faultList reads every page of a list route (API.md: items and
// next_cursor) as u, 100 items a page, and returns the items.
func faultList(t testing.TB, p *platform.Platform, u *user, path string) []map[string]any {
	t.Helper()
	var out []map[string]any
	cursor := ""
	for page := 0; ; page++ {
		if page > 1000 {
			t.Fatalf("%s: more than 1000 pages", path)
		}
		q := path + "?limit=100"
		if cursor != "" {
			q += "&cursor=" + cursor
		}
		r := api(p).Do(t, http.MethodGet, q, u.Token, nil)
		apptest.Want(t, r, http.StatusOK, "")
		items, ok := r.Body["items"].([]any)
		if !ok {
			t.Fatalf("GET %s: no items in %s", q, r.Raw)
		}
		for _, it := range items {
			out = append(out, it.(map[string]any))
		}
		if cursor = r.Str("next_cursor"); cursor == "" {
			return out
		}
	}
}

// faultWallets returns u's wallets as finance lists them now (none before
// finance has heard of u).
func faultWallets(t testing.TB, p *platform.Platform, u *user) []map[string]any {
	t.Helper()
	return faultList(t, p, u, "/api/v1/wallets")
}

// faultWait polls cond every 50 ms until it holds or timeout passes, and
// returns how long that took and whether it held; unlike poll it leaves
// the verdict (and its message, which may list what is still missing) to
// the caller.
func faultWait(timeout time.Duration, cond func() bool) (time.Duration, bool) {
	start := time.Now()
	for {
		if cond() {
			return time.Since(start), true
		}
		if time.Since(start) > timeout {
			return time.Since(start), false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// faultCounts formats a map of counts in a stable order for a log line.
func faultCounts(m map[string]int) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s: %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}
