package main

import (
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/azora-os/azora/shared/app/apptest"
)

// oathtool computes a TOTP code with Debian's oathtool, an implementation
// independent of ours, for the 30 s step that holds unix time at.
func oathtool(t testing.TB, secret string, at time.Time) string {
	t.Helper()
	out, err := exec.Command("oathtool", "--totp", "--base32", "--now", at.UTC().Format("2006-01-02 15:04:05 UTC"), secret).CombinedOutput()
	if err != nil {
		t.Fatalf("oathtool (installed by .ci/run: apt-get install oathtool): %v: %s", err, out)
	}
	return strings.TrimSpace(string(out))
}

// steps hands out TOTP time steps inside the server's ±1 window around
// now that no earlier code used, since each step works once per user.
type steps map[int64]bool

// fresh returns a moment in an unused step of the window around now.
func (s steps) fresh(t testing.TB) time.Time {
	t.Helper()
	cur := time.Now().Unix() / 30
	for _, st := range []int64{cur, cur + 1, cur - 1} {
		if !s[st] {
			s[st] = true
			return time.Unix(st*30+1, 0)
		}
	}
	t.Fatal("every step of the TOTP window is used")
	return time.Time{}
}

func TestTOTPWithAnIndependentImplementation(t *testing.T) {
	t.Parallel()
	base, _ := startAuth(t, map[string]string{"AUTH_LOGIN_PAIR_BURST": "100"})
	c := apptest.NewClient(base, "127.0.0.1")
	email := uniqueEmail()
	_, tok := registerAndLogin(t, c, email)
	access := tok.Str("access_token")

	apptest.Want(t, c.Do(t, "POST", "/api/v1/auth/mfa/totp/enable", access, map[string]any{"code": "123456"}), 409, "mfa_not_set_up")
	setup := c.Do(t, "POST", "/api/v1/auth/mfa/totp/setup", access, nil)
	apptest.Want(t, setup, 200, "")
	secret := setup.Str("secret")
	if len(secret) < 32 || !strings.HasPrefix(setup.Str("otpauth_url"), "otpauth://totp/") {
		t.Fatalf("setup: got %s, want a 160-bit base32 secret and an otpauth URL", setup.Raw)
	}

	used := steps{}
	enabledAt := used.fresh(t)
	apptest.Want(t, c.Do(t, "POST", "/api/v1/auth/mfa/totp/enable", access, map[string]any{"code": "000000"}), 401, "invalid_code")
	enable := c.Do(t, "POST", "/api/v1/auth/mfa/totp/enable", access, map[string]any{"code": oathtool(t, secret, enabledAt)})
	apptest.Want(t, enable, 200, "")
	recovery := apptest.Strings(enable.Body["recovery_codes"])
	if len(recovery) != 10 {
		t.Fatalf("got %d recovery codes, want 10", len(recovery))
	}
	apptest.Want(t, c.Do(t, "POST", "/api/v1/auth/mfa/totp/setup", access, nil), 409, "mfa_already_enabled")

	login := func() string {
		r := c.Do(t, "POST", "/api/v1/auth/login", "", map[string]any{"email": email, "password": goodPassword})
		apptest.Want(t, r, 200, "")
		if r.Body["mfa_required"] != true || r.Str("mfa_token") == "" || r.Str("access_token") != "" {
			t.Fatalf("login with MFA on: got %s, want only mfa_required and mfa_token", r.Raw)
		}
		return r.Str("mfa_token")
	}

	t.Run("the step used to enable is spent", func(t *testing.T) {
		apptest.Want(t, c.Do(t, "POST", "/api/v1/auth/login/mfa", "", map[string]any{"mfa_token": login(), "code": oathtool(t, secret, enabledAt)}), 401, "invalid_code")
	})
	t.Run("a fresh code logs in once", func(t *testing.T) {
		code := oathtool(t, secret, used.fresh(t))
		r := c.Do(t, "POST", "/api/v1/auth/login/mfa", "", map[string]any{"mfa_token": login(), "code": code})
		apptest.Want(t, r, 200, "")
		if r.Str("access_token") == "" {
			t.Fatalf("got %s", r.Raw)
		}
		apptest.Want(t, c.Do(t, "POST", "/api/v1/auth/login/mfa", "", map[string]any{"mfa_token": login(), "code": code}), 401, "invalid_code")
	})
	t.Run("20 concurrent submissions of one code: exactly one succeeds", func(t *testing.T) {
		tokens := make([]string, 20)
		for i := range tokens {
			tokens[i] = login()
		}
		code := oathtool(t, secret, used.fresh(t))
		var ok atomic.Int32
		var wg sync.WaitGroup
		for _, mt := range tokens {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := c.Do(t, "POST", "/api/v1/auth/login/mfa", "", map[string]any{"mfa_token": mt, "code": code})
				if r.Status == 200 {
					ok.Add(1)
				} else if r.Status != 401 {
					t.Errorf("got %d %s", r.Status, r.Raw)
				}
			}()
		}
		wg.Wait()
		if got := ok.Load(); got != 1 {
			t.Errorf("got %d successes, want exactly 1", got)
		}
	})
	t.Run("an mfa_token takes at most 5 codes", func(t *testing.T) {
		mt := login()
		for i := range 5 {
			apptest.Want(t, c.Do(t, "POST", "/api/v1/auth/login/mfa", "", map[string]any{"mfa_token": mt, "code": fmt.Sprintf("%06d", i)}), 401, "invalid_code")
		}
		apptest.Want(t, c.Do(t, "POST", "/api/v1/auth/login/mfa", "", map[string]any{"mfa_token": mt, "code": "999999"}), 401, "invalid_mfa_token")
	})
	t.Run("a recovery code works once", func(t *testing.T) {
		r := c.Do(t, "POST", "/api/v1/auth/login/mfa", "", map[string]any{"mfa_token": login(), "code": strings.ToUpper(recovery[0])})
		apptest.Want(t, r, 200, "")
		if r.Str("access_token") == "" {
			t.Fatalf("got %s, want tokens", r.Raw)
		}
		apptest.Want(t, c.Do(t, "POST", "/api/v1/auth/login/mfa", "", map[string]any{"mfa_token": login(), "code": recovery[0]}), 401, "invalid_code")
	})
	t.Run("disable needs a valid code", func(t *testing.T) {
		apptest.Want(t, c.Do(t, "POST", "/api/v1/auth/mfa/totp/disable", access, map[string]any{"code": "000000"}), 401, "invalid_code")
		apptest.Want(t, c.Do(t, "POST", "/api/v1/auth/mfa/totp/disable", access, map[string]any{"code": recovery[1]}), 204, "")
		r := c.Do(t, "POST", "/api/v1/auth/login", "", map[string]any{"email": email, "password": goodPassword})
		apptest.Want(t, r, 200, "")
		if r.Str("access_token") == "" {
			t.Errorf("login after disabling MFA: got %s, want tokens", r.Raw)
		}
		apptest.Want(t, c.Do(t, "POST", "/api/v1/auth/mfa/totp/disable", access, map[string]any{"code": "123456"}), 409, "mfa_not_enabled")
	})
}

// TestBruteForceIsCappedAndTheOwnerStillGetsIn sends 200 wrong passwords
// at one account from one address: at most the configured burst reach
// the hash check (401), the rest are refused before it (429), and the
// owner, from another address, logs in.
func TestBruteForceIsCappedAndTheOwnerStillGetsIn(t *testing.T) {
	t.Parallel()
	const burst = 5
	base, _ := startAuth(t, map[string]string{"AUTH_LOGIN_PAIR_BURST": fmt.Sprint(burst)})
	owner := apptest.NewClient(base, "127.0.0.1")
	email := uniqueEmail()
	registerAndLogin(t, owner, email)

	attacker := apptest.NewClient(base, "127.0.0.66")
	checked, limited := 0, 0
	for range 200 {
		r := attacker.Do(t, "POST", "/api/v1/auth/login", "", map[string]any{"email": email, "password": "not the password"})
		switch r.Status {
		case 401:
			checked++
		case 429:
			limited++
			if r.Str("code") != "rate_limited" || r.Header.Get("Retry-After") == "" {
				t.Fatalf("429 without code or Retry-After: %v %s", r.Header, r.Raw)
			}
		default:
			t.Fatalf("got %d %s", r.Status, r.Raw)
		}
	}
	if checked > burst || checked+limited != 200 {
		t.Errorf("got %d attempts reaching the password check and %d limited, want at most %d checked", checked, limited, burst)
	}
	fresh := apptest.NewClient(base, "127.0.0.77")
	apptest.Want(t, fresh.Do(t, "POST", "/api/v1/auth/login", "", map[string]any{"email": email, "password": goodPassword}), 200, "")
}
