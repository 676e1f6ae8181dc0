package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/azora-os/azora/finance"
)

// delivery is what the fake finance received.
type delivery struct {
	event finance.StripeEvent
	body  map[string]any
}

// fakeFinance verifies deliveries as finance does (WebhookVerifier over the
// raw body) and records those that pass; the others get a 400.
func fakeFinance(t *testing.T, secret string) (string, func() []delivery) {
	t.Helper()
	v := finance.NewWebhookVerifier([]string{secret}, 300*time.Second, time.Now)
	var (
		mu  sync.Mutex
		got []delivery
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		e, err := v.Parse(raw, r.Header.Get("Stripe-Signature"))
		if err != nil {
			http.Error(w, `{"code":"invalid_signature"}`, http.StatusBadRequest)
			return
		}
		var body map[string]any
		if err := json.Unmarshal(raw, &body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		got = append(got, delivery{e, body})
		mu.Unlock()
		io.WriteString(w, `{"received":true}`)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/api/v1/webhooks/stripe", func() []delivery {
		mu.Lock()
		defer mu.Unlock()
		return append([]delivery(nil), got...)
	}
}

func noEnv(string) string { return "" }

func TestRunSendsASignedEvent(t *testing.T) {
	const secret = "whsec_test_0123456789"
	tests := []struct {
		name       string
		args       []string
		want       finance.StripeEvent
		wantStatus string
	}{
		{"succeeded", []string{"-payment-intent", "pi_A1", "-amount", "5000", "-currency", "eur"},
			finance.StripeEvent{Type: "payment_intent.succeeded", PaymentIntentID: "pi_A1", Amount: 5000, Currency: "EUR"}, "succeeded"},
		{"defaults", []string{"-payment-intent", "pi_A2"},
			finance.StripeEvent{Type: "payment_intent.succeeded", PaymentIntentID: "pi_A2", Amount: 1999, Currency: "USD"}, "succeeded"},
		{"payment failed", []string{"-payment-intent", "pi_A3", "-type", "payment_intent.payment_failed", "-failure-message", "Insufficient funds."},
			finance.StripeEvent{Type: "payment_intent.payment_failed", PaymentIntentID: "pi_A3", Amount: 1999, Currency: "USD", FailureMessage: "Insufficient funds."}, "requires_payment_method"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url, deliveries := fakeFinance(t, secret)
			var out strings.Builder
			args := append([]string{"-url", url, "-secret", secret}, tt.args...)
			if err := run(context.Background(), args, noEnv, &out); err != nil {
				t.Fatalf("run: %v\n%s", err, out.String())
			}
			got := deliveries()
			if len(got) != 1 {
				t.Fatalf("got %d verified deliveries, want 1", len(got))
			}
			e := got[0].event
			if !strings.HasPrefix(e.ID, "evt_") || len(e.ID) != len("evt_")+24 {
				t.Errorf("got event id %q, want evt_ and 24 characters", e.ID)
			}
			e.ID = ""
			if e != tt.want {
				t.Errorf("got %+v, want %+v", e, tt.want)
			}
			body := got[0].body
			obj, _ := body["data"].(map[string]any)["object"].(map[string]any)
			if body["object"] != "event" || body["api_version"] == "" || obj["object"] != "payment_intent" || obj["status"] != tt.wantStatus {
				t.Errorf("got event object %v api_version %v, data.object %v status %v; want event, a version, payment_intent, %s",
					body["object"], body["api_version"], obj["object"], obj["status"], tt.wantStatus)
			}
			if !strings.Contains(out.String(), "200 OK") || !strings.Contains(out.String(), `{"received":true}`) {
				t.Errorf("got output %q, want the status and finance's answer", out.String())
			}
		})
	}
}

func TestRunEventIDsDiffer(t *testing.T) {
	url, deliveries := fakeFinance(t, "whsec_x")
	for range 2 {
		if err := run(context.Background(), []string{"-url", url, "-secret", "whsec_x", "-payment-intent", "pi_1"}, noEnv, io.Discard); err != nil {
			t.Fatal(err)
		}
	}
	if got := deliveries(); len(got) != 2 || got[0].event.ID == got[1].event.ID {
		t.Errorf("got deliveries %+v, want two with different event ids", got)
	}
}

func TestRunFindsTheSecret(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "dev-secrets.env")
	if err := os.WriteFile(file, []byte("AUTH_SEAL_KEYS=dev1:abc\nSTRIPE_WEBHOOK_SECRET=whsec_old\nSTRIPE_WEBHOOK_SECRET=whsec_file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	if err := os.MkdirAll(filepath.Join(state, "azora"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(state, "azora", "dev-secrets.env"), []byte("STRIPE_WEBHOOK_SECRET=whsec_state\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		flag string
		env  map[string]string
		want string
	}{
		{"flag wins", "whsec_flag", map[string]string{"STRIPE_WEBHOOK_SECRET": "whsec_env", "AZORA_DEV_SECRETS": file}, "whsec_flag"},
		{"environment", "", map[string]string{"STRIPE_WEBHOOK_SECRET": "whsec_env", "AZORA_DEV_SECRETS": file}, "whsec_env"},
		{"AZORA_DEV_SECRETS, last line", "", map[string]string{"AZORA_DEV_SECRETS": file}, "whsec_file"},
		{"XDG_STATE_HOME", "", map[string]string{"XDG_STATE_HOME": state}, "whsec_state"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url, deliveries := fakeFinance(t, tt.want)
			args := []string{"-url", url, "-payment-intent", "pi_1"}
			if tt.flag != "" {
				args = append(args, "-secret", tt.flag)
			}
			getenv := func(k string) string { return tt.env[k] }
			if err := run(context.Background(), args, getenv, io.Discard); err != nil {
				t.Fatalf("run: %v", err)
			}
			if n := len(deliveries()); n != 1 {
				t.Errorf("got %d verified deliveries, want 1 signed with %s", n, tt.want)
			}
		})
	}
}

func TestRunFails(t *testing.T) {
	url, deliveries := fakeFinance(t, "whsec_right")
	empty := filepath.Join(t.TempDir(), "none.env")
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"wrong secret: finance says 400", []string{"-url", url, "-secret", "whsec_wrong", "-payment-intent", "pi_1"}, "400"},
		{"no payment intent", []string{"-url", url, "-secret", "whsec_right"}, "-payment-intent"},
		{"not a payment intent id", []string{"-url", url, "-secret", "whsec_right", "-payment-intent", "ch_1"}, "-payment-intent"},
		{"zero amount", []string{"-url", url, "-secret", "whsec_right", "-payment-intent", "pi_1", "-amount", "0"}, "-amount"},
		{"no secret anywhere", []string{"-url", url, "-payment-intent", "pi_1"}, "no signing secret"},
	}
	getenv := func(k string) string {
		if k == "AZORA_DEV_SECRETS" {
			return empty
		}
		return ""
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := run(context.Background(), tt.args, getenv, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("got %v, want an error mentioning %q", err, tt.wantErr)
			}
		})
	}
	if n := len(deliveries()); n != 0 {
		t.Errorf("got %d verified deliveries, want none", n)
	}
}
