package finance

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/azora-os/azora/finance/stripetest"
	"github.com/azora-os/azora/shared/errs"
)

const stripeTestKey = "sk_test_azora"

// recorded is one request the Stripe adapter sent.
type recorded struct {
	method, path string
	header       http.Header
	form         url.Values
}

// recordingTransport records each request before passing it on.
type recordingTransport struct {
	mu   sync.Mutex
	reqs []recorded
}

func (rt *recordingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	var body []byte
	if r.Body != nil {
		var err error
		if body, err = io.ReadAll(r.Body); err != nil {
			return nil, err
		}
		r.Body.Close()
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	form, _ := url.ParseQuery(string(body))
	rt.mu.Lock()
	rt.reqs = append(rt.reqs, recorded{r.Method, r.URL.Path, r.Header.Clone(), form})
	rt.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

func (rt *recordingTransport) requests() []recorded {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return append([]recorded(nil), rt.reqs...)
}

// recordingStripe is the adapter over stripe-mock, recording its requests.
func recordingStripe(t *testing.T) (*StripePayments, *recordingTransport) {
	t.Helper()
	rt := &recordingTransport{}
	return NewStripePayments(stripeTestKey, stripetest.Start(t),
		WithStripeHTTPClient(&http.Client{Transport: rt, Timeout: 10 * time.Second})), rt
}

func TestStripeCreatePaymentIntent(t *testing.T) {
	s, rt := recordingStripe(t)
	meta := map[string]string{"wallet_id": "w-1", "topup_id": "t-1", "user_id": "u-1"}
	id, secret, err := s.CreatePaymentIntent(context.Background(), Money{Amount: 1999, Currency: "USD"}, "topup-t-1", meta)
	if err != nil {
		t.Fatalf("CreatePaymentIntent: %v", err)
	}
	if !strings.HasPrefix(id, "pi_") {
		t.Errorf("got id %q, want pi_…", id)
	}
	if !strings.Contains(secret, "_secret_") {
		t.Errorf("got client secret %q, want <id>_secret_…", secret)
	}

	reqs := rt.requests()
	if len(reqs) != 1 {
		t.Fatalf("got %d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.method != http.MethodPost || r.path != "/v1/payment_intents" {
		t.Errorf("got %s %s, want POST /v1/payment_intents", r.method, r.path)
	}
	if got := r.header.Get("Idempotency-Key"); got != "topup-t-1" {
		t.Errorf("got Idempotency-Key %q, want topup-t-1", got)
	}
	if got := r.header.Get("Authorization"); got != "Bearer "+stripeTestKey {
		t.Errorf("got Authorization %q, want the secret key as bearer", got)
	}
	want := map[string]string{
		"amount": "1999", "currency": "usd", "automatic_payment_methods[enabled]": "true",
		"metadata[wallet_id]": "w-1", "metadata[topup_id]": "t-1", "metadata[user_id]": "u-1",
	}
	for k, v := range want {
		if got := r.form.Get(k); got != v {
			t.Errorf("form %s: got %q, want %q", k, got, v)
		}
	}
}

func TestStripeRefund(t *testing.T) {
	s, rt := recordingStripe(t)
	if err := s.Refund(context.Background(), "pi_123", "refund-t-1"); err != nil {
		t.Fatalf("Refund: %v", err)
	}
	reqs := rt.requests()
	if len(reqs) != 1 {
		t.Fatalf("got %d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.method != http.MethodPost || r.path != "/v1/refunds" {
		t.Errorf("got %s %s, want POST /v1/refunds", r.method, r.path)
	}
	if got := r.header.Get("Idempotency-Key"); got != "refund-t-1" {
		t.Errorf("got Idempotency-Key %q, want refund-t-1", got)
	}
	if got := r.form.Get("payment_intent"); got != "pi_123" {
		t.Errorf("got payment_intent %q, want pi_123", got)
	}
}

// stripeErrorServer answers every request with status and a Stripe error
// body of typ, code and message.
func stripeErrorServer(t *testing.T, status int, typ, code, message string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Request-Id", "req_test")
		w.WriteHeader(status)
		io.WriteString(w, `{"error":{"type":"`+typ+`","code":"`+code+`","message":"`+message+`","doc_url":"https://stripe.com/docs/error-codes/`+code+`"}}`)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestStripeErrorsAreTranslated(t *testing.T) {
	// A listener closed at once: connecting to it is refused.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + ln.Addr().String()
	ln.Close()
	hang := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(slow.Close)
	t.Cleanup(func() { close(hang) })

	tests := []struct {
		name     string
		base     string
		wantCode string
		wantKind errs.Kind
		wantMsg  string
	}{
		{"card error", stripeErrorServer(t, 402, "card_error", "card_declined", "Your card was declined."),
			"card_declined", errs.FailedPrecondition, "Your card was declined."},
		{"invalid request: our bug", stripeErrorServer(t, 400, "invalid_request_error", "parameter_missing", "Missing required param: amount."),
			"internal", errs.Internal, "internal error"},
		{"bad key: our configuration", stripeErrorServer(t, 401, "invalid_request_error", "", "Invalid API Key provided: sk_test_***"),
			"internal", errs.Internal, "internal error"},
		{"rate limited", stripeErrorServer(t, 429, "invalid_request_error", "rate_limit", "Too many requests."),
			"payment_provider_unavailable", errs.Unavailable, ErrPaymentProvider.Message},
		{"stripe 500", stripeErrorServer(t, 500, "api_error", "", "Something went wrong on Stripe's end."),
			"payment_provider_unavailable", errs.Unavailable, ErrPaymentProvider.Message},
		{"stripe 503", stripeErrorServer(t, 503, "api_error", "", "Unavailable."),
			"payment_provider_unavailable", errs.Unavailable, ErrPaymentProvider.Message},
		{"connection refused", refused,
			"payment_provider_unavailable", errs.Unavailable, ErrPaymentProvider.Message},
		{"timeout", slow.URL,
			"payment_provider_unavailable", errs.Unavailable, ErrPaymentProvider.Message},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// No retries: each class once, without stripe-go's back-off sleeps.
			s := NewStripePayments(stripeTestKey, tt.base, WithStripeRetries(0), WithStripeTimeout(200*time.Millisecond))
			ops := map[string]func() error{
				"create": func() error {
					_, _, err := s.CreatePaymentIntent(context.Background(), Money{Amount: 100, Currency: "USD"}, "k1", nil)
					return err
				},
				"refund": func() error { return s.Refund(context.Background(), "pi_1", "k2") },
			}
			for op, call := range ops {
				err := call()
				e := errs.As(err)
				if e == nil || e.Code != tt.wantCode || e.Kind != tt.wantKind {
					t.Errorf("%s: got %v, want code %s kind %s", op, err, tt.wantCode, tt.wantKind)
					continue
				}
				if e.Message != tt.wantMsg {
					t.Errorf("%s: got message %q, want %q", op, e.Message, tt.wantMsg)
				}
			}
		})
	}
}

func TestStripeCancelledContextIsProviderUnavailable(t *testing.T) {
	s := NewStripePayments(stripeTestKey, stripetest.Start(t))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err := s.CreatePaymentIntent(ctx, Money{Amount: 100, Currency: "USD"}, "k-cancel", nil)
	if !errors.Is(err, ErrPaymentProvider) {
		t.Errorf("got %v, want payment_provider_unavailable", err)
	}
}

func TestStripeRefundOfARefundedIntentSucceeds(t *testing.T) {
	base := stripeErrorServer(t, 400, "invalid_request_error", "charge_already_refunded", "Charge ch_1 has already been refunded.")
	s := NewStripePayments(stripeTestKey, base, WithStripeRetries(0))
	if err := s.Refund(context.Background(), "pi_1", "refund-again"); err != nil {
		t.Errorf("got %v, want nil: the intent is refunded, as asked", err)
	}
}

// TestStripeRetriesKeepTheIdempotencyKey proves retries are safe: a 503
// is retried by stripe-go with the same Idempotency-Key, so Stripe applies
// the request at most once.
func TestStripeRetriesKeepTheIdempotencyKey(t *testing.T) {
	var (
		calls atomic.Int32
		mu    sync.Mutex
		keys  []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		keys = append(keys, r.Header.Get("Idempotency-Key"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `{"error":{"type":"api_error","message":"try again"}}`)
			return
		}
		io.WriteString(w, `{"id":"pi_retried","object":"payment_intent","client_secret":"pi_retried_secret_x","amount":100,"currency":"usd"}`)
	}))
	t.Cleanup(srv.Close)

	s := NewStripePayments(stripeTestKey, srv.URL) // default retries
	id, _, err := s.CreatePaymentIntent(context.Background(), Money{Amount: 100, Currency: "USD"}, "topup-retry", nil)
	if err != nil {
		t.Fatalf("CreatePaymentIntent: %v", err)
	}
	if id != "pi_retried" {
		t.Errorf("got id %q, want pi_retried", id)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(keys) != 2 || keys[0] != "topup-retry" || keys[1] != "topup-retry" {
		t.Errorf("got Idempotency-Keys %q, want [topup-retry topup-retry]", keys)
	}
}
