package finance

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/azora-os/azora/shared/errs"
)

const (
	webhookSecret    = "whsec_current_0123456789abcdef"
	webhookOldSecret = "whsec_previous_fedcba9876543210"
)

// webhookNow is the verifiers' fixed clock.
var webhookNow = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)

func webhookVerifier() *WebhookVerifier {
	return NewWebhookVerifier([]string{webhookSecret, webhookOldSecret}, 300*time.Second, func() time.Time { return webhookNow })
}

// stripeEventBody is an event as Stripe sends it, trimmed.
func stripeEventBody(typ, pi string, amount int64, currency, lastError string) []byte {
	lpe := "null"
	if lastError != "" {
		lpe = fmt.Sprintf(`{"type":"card_error","code":"card_declined","message":%q}`, lastError)
	}
	return []byte(fmt.Sprintf(`{
  "id": "evt_3OqWxYB7WZ01zgkW0aBcDeFg",
  "object": "event",
  "api_version": "2023-10-16",
  "created": %d,
  "type": %q,
  "livemode": false,
  "pending_webhooks": 1,
  "request": {"id": null, "idempotency_key": "topup-0192"},
  "data": {"object": {
    "id": %q, "object": "payment_intent", "amount": %d, "amount_received": %d,
    "currency": %q, "status": "succeeded", "last_payment_error": %s,
    "metadata": {"wallet_id": "w1", "topup_id": "t1", "user_id": "u1"}
  }}
}`, webhookNow.Unix(), typ, pi, amount, amount, currency, lpe))
}

func TestWebhookParseMapsEvents(t *testing.T) {
	tests := []struct {
		name string
		body []byte
		want StripeEvent
	}{
		{"succeeded", stripeEventBody("payment_intent.succeeded", "pi_A", 1999, "usd", ""),
			StripeEvent{ID: "evt_3OqWxYB7WZ01zgkW0aBcDeFg", Type: "payment_intent.succeeded", PaymentIntentID: "pi_A", Amount: 1999, Currency: "USD"}},
		{"payment failed", stripeEventBody("payment_intent.payment_failed", "pi_B", 500, "eur", "Your card was declined."),
			StripeEvent{ID: "evt_3OqWxYB7WZ01zgkW0aBcDeFg", Type: "payment_intent.payment_failed", PaymentIntentID: "pi_B", Amount: 500, Currency: "EUR", FailureMessage: "Your card was declined."}},
		{"other type passes through", []byte(`{"id":"evt_1","object":"event","type":"charge.refunded","data":{"object":{"id":"ch_1","object":"charge","amount":10,"currency":"usd"}}}`),
			StripeEvent{ID: "evt_1", Type: "charge.refunded"}},
	}
	v := webhookVerifier()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := v.Parse(tt.body, SignPayload(webhookSecret, tt.body, webhookNow))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestWebhookParseVerifiesTheSignature(t *testing.T) {
	body := stripeEventBody("payment_intent.succeeded", "pi_A", 1999, "usd", "")
	at := func(d time.Duration) string { return SignPayload(webhookSecret, body, webhookNow.Add(d)) }
	changed := append([]byte(nil), body...)
	changed[strings.Index(string(changed), "1999")] = '9' // 9999
	good := at(0)
	_, goodSig, _ := strings.Cut(good, ",")
	ts := strings.TrimSuffix(good, ","+goodSig)
	forged := ts + ",v1=" + strings.Repeat("ab", 32)

	tests := []struct {
		name   string
		body   []byte
		header string
		ok     bool
	}{
		{"valid", body, good, true},
		{"a changed byte", changed, good, false},
		{"wrong secret", body, SignPayload("whsec_someone_else", body, webhookNow), false},
		{"missing header", body, "", false},
		{"no timestamp", body, goodSig, false},
		{"timestamp not a number", body, "t=soon," + goodSig, false},
		{"two timestamps", body, ts + "," + ts + "," + goodSig, false},
		{"no v1", body, ts + ",v0=" + strings.TrimPrefix(goodSig, "v1="), false},
		{"element without =", body, good + ",junk", false},
		{"301 s old", body, at(-301 * time.Second), false},
		{"299 s old", body, at(-299 * time.Second), true},
		{"301 s in the future", body, at(301 * time.Second), false},
		{"299 s in the future", body, at(299 * time.Second), true},
		{"rotated old secret", body, SignPayload(webhookOldSecret, body, webhookNow), true},
		{"two v1, the second matches", body, forged + "," + goodSig, true},
		{"two v1, the first matches", body, good + ",v1=" + strings.Repeat("cd", 32), true},
		{"two v1, neither matches", body, forged + ",v1=" + strings.Repeat("cd", 32), false},
		{"non-hex v1 beside a good one", body, ts + ",v1=zz," + goodSig, true},
		{"spaces after commas", body, strings.ReplaceAll(good, ",", ", "), true},
	}
	v := webhookVerifier()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := v.Parse(tt.body, tt.header)
			if tt.ok {
				if err != nil {
					t.Fatalf("got %v, want the event accepted", err)
				}
				if got.PaymentIntentID != "pi_A" {
					t.Errorf("got payment intent %q, want pi_A", got.PaymentIntentID)
				}
				return
			}
			if !errors.Is(err, errInvalidSignature) {
				t.Fatalf("got %v, want invalid_signature", err)
			}
			if k := errs.KindOf(err); k != errs.Invalid {
				t.Errorf("got kind %s, want %s (400)", k, errs.Invalid)
			}
			if got != (StripeEvent{}) {
				t.Errorf("got event %+v with the error, want none", got)
			}
		})
	}
}

func TestWebhookVerifierIgnoresEmptySecrets(t *testing.T) {
	body := stripeEventBody("payment_intent.succeeded", "pi_A", 1999, "usd", "")
	v := NewWebhookVerifier([]string{""}, 0, func() time.Time { return webhookNow })
	if _, err := v.Parse(body, SignPayload("", body, webhookNow)); !errors.Is(err, errInvalidSignature) {
		t.Errorf("signed with the empty secret: got %v, want invalid_signature", err)
	}
}

func TestWebhookRejectsSignedBodiesThatAreNotEvents(t *testing.T) {
	tests := []struct{ name, body string }{
		{"not JSON", "hello"},
		{"no id", `{"type":"payment_intent.succeeded","data":{"object":{"id":"pi_1","object":"payment_intent"}}}`},
		{"payment_intent event without one", `{"id":"evt_1","type":"payment_intent.succeeded","data":{"object":{"id":"ch_1","object":"charge"}}}`},
	}
	v := webhookVerifier()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := []byte(tt.body)
			_, err := v.Parse(body, SignPayload(webhookSecret, body, webhookNow))
			if !errors.Is(err, errInvalidEvent) {
				t.Errorf("got %v, want invalid_event", err)
			}
		})
	}
}

// TestSignPayloadIsStripesScheme checks our signer and verifier against
// stripe-go's own implementation of the scheme, both ways.
func TestSignPayloadIsStripesScheme(t *testing.T) {
	body := stripeEventBody("payment_intent.succeeded", "pi_A", 1999, "usd", "")
	now := time.Now()
	if err := webhook.ValidatePayloadWithTolerance(body, SignPayload(webhookSecret, body, now), webhookSecret, 300*time.Second); err != nil {
		t.Errorf("stripe-go rejects SignPayload's header: %v", err)
	}
	theirs := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: body, Secret: webhookSecret, Timestamp: now})
	v := NewWebhookVerifier([]string{webhookSecret}, 0, func() time.Time { return now })
	if _, err := v.Parse(body, theirs.Header); err != nil {
		t.Errorf("got %v for stripe-go's header %q, want it accepted", err, theirs.Header)
	}
}

// TestWebhookToleranceCountsWholeSeconds: Stripe's timestamp is in whole
// seconds, so the window is too. A delivery signed 300 s ago by the second
// is accepted even when the verifying clock is 999 ms into the next
// second (it used to be refused as 300.999 s old, a flake under load);
// 301 s is refused however the milliseconds fall.
func TestWebhookToleranceCountsWholeSeconds(t *testing.T) {
	body := stripeEventBody("payment_intent.succeeded", "pi_A", 1999, "usd", "")
	base := time.Unix(1_800_000_000, 0)
	for _, tc := range []struct {
		signedAgo time.Duration
		clockMs   int64
		ok        bool
	}{
		{300 * time.Second, 999, true},
		{300 * time.Second, 0, true},
		{301 * time.Second, 0, false},
		{301 * time.Second, 999, false},
	} {
		now := base.Add(time.Duration(tc.clockMs) * time.Millisecond)
		v := NewWebhookVerifier([]string{webhookSecret}, 300*time.Second, func() time.Time { return now })
		got, err := v.Parse(body, SignPayload(webhookSecret, body, base.Add(-tc.signedAgo)))
		switch {
		case tc.ok && (err != nil || got.PaymentIntentID != "pi_A"):
			t.Errorf("signed %v ago, clock +%d ms: got %+v, %v; want accepted", tc.signedAgo, tc.clockMs, got, err)
		case !tc.ok && !errors.Is(err, errInvalidSignature):
			t.Errorf("signed %v ago, clock +%d ms: got %v, want invalid_signature", tc.signedAgo, tc.clockMs, err)
		}
	}
}
