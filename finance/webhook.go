package finance

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/azora-os/azora/shared/errs"
)

// DefaultWebhookTolerance is how far a Stripe-Signature timestamp may be
// from now (API.md: 300 s), Stripe's own default.
const DefaultWebhookTolerance = 300 * time.Second

// Webhook errors: both are 400s, so Stripe reports the delivery failed and
// retries it; neither says which check failed. Callers match the first
// with ErrWebhookSignature (the same code).
var (
	errInvalidSignature = errs.New(errs.Invalid, "invalid_signature", "the Stripe-Signature header does not verify this body")
	errInvalidEvent     = errs.New(errs.Invalid, "invalid_event", "the body is not a Stripe event")
)

// WebhookVerifier checks Stripe-Signature headers and parses the events
// they sign. It is safe for concurrent use.
type WebhookVerifier struct {
	secrets   [][]byte
	tolerance time.Duration
	clock     func() time.Time
}

// NewWebhookVerifier returns a verifier accepting a signature made with any
// of secrets (the current one first, then, during a rotation, the old one)
// whose timestamp lies within tolerance of clock() either way. Empty
// secrets are ignored: anyone can compute an HMAC with an empty key. A
// tolerance ≤ 0 means DefaultWebhookTolerance, a nil clock time.Now.
func NewWebhookVerifier(secrets []string, tolerance time.Duration, clock func() time.Time) *WebhookVerifier {
	v := &WebhookVerifier{tolerance: tolerance, clock: clock}
	for _, s := range secrets {
		if s != "" {
			v.secrets = append(v.secrets, []byte(s))
		}
	}
	if v.tolerance <= 0 {
		v.tolerance = DefaultWebhookTolerance
	}
	if v.clock == nil {
		v.clock = time.Now
	}
	return v
}

// Parse verifies sigHeader (the Stripe-Signature header) over payload, the
// raw request body, then returns the event it carries: for a
// payment_intent.* event, the PaymentIntent's id, amount, upper-case
// currency and last error message; for any other type just ID and Type, so
// the service can ignore it. Errors: invalid_signature (a missing or
// malformed header, no v1 signature matching any secret, a timestamp
// outside the tolerance), invalid_event (a signed body that is not an
// event).
func (v *WebhookVerifier) Parse(payload []byte, sigHeader string) (StripeEvent, error) {
	if err := v.verify(payload, sigHeader); err != nil {
		return StripeEvent{}, errInvalidSignature.Wrap(err)
	}
	return parseStripeEvent(payload)
}

// verify implements Stripe's v1 scheme: the header is
// "t=<unix seconds>,v1=<hex>[,v1=<hex>…][,v0=…]" and a v1 is
// HMAC-SHA256(secret, "<t>.<payload>"). Several v1 appear while Stripe
// rolls a secret; one matching is enough.
func (v *WebhookVerifier) verify(payload []byte, header string) error {
	if header == "" {
		return errors.New("no Stripe-Signature header")
	}
	var (
		ts     int64
		haveTS bool
		sigs   [][]byte
	)
	for _, part := range strings.Split(header, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return fmt.Errorf("malformed Stripe-Signature element %q", part)
		}
		switch k {
		case "t":
			n, err := strconv.ParseInt(val, 10, 64)
			if err != nil || haveTS {
				return errors.New("malformed Stripe-Signature timestamp")
			}
			ts, haveTS = n, true
		case "v1":
			// A signature that is not hex cannot match; others may.
			if sig, err := hex.DecodeString(val); err == nil && len(sig) == sha256.Size {
				sigs = append(sigs, sig)
			}
		}
	}
	if !haveTS {
		return errors.New("no timestamp in Stripe-Signature")
	}
	if len(sigs) == 0 {
		return errors.New("no v1 signature in Stripe-Signature")
	}
	// The window bounds how long a captured delivery can be replayed; it
	// is checked first, and the caller cannot tell which check failed.
	// In whole seconds, as the timestamp is: a delivery signed 300 s ago
	// by the clock's second is still within a 300 s tolerance a few
	// milliseconds later, when the second has ticked over.
	age := time.Duration(v.clock().Unix()-ts) * time.Second
	if age > v.tolerance || age < -v.tolerance {
		return fmt.Errorf("timestamp %d is %s from now, beyond the %s tolerance", ts, age.Round(time.Second), v.tolerance)
	}
	for _, secret := range v.secrets {
		want := stripeSignature(secret, ts, payload)
		for _, sig := range sigs {
			if hmac.Equal(want, sig) {
				return nil
			}
		}
	}
	return errors.New("no v1 signature matches a configured secret")
}

// stripeSignature is Stripe's v1 signature of payload at Unix time ts.
func stripeSignature(secret []byte, ts int64, payload []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(strconv.FormatInt(ts, 10)))
	m.Write([]byte{'.'})
	m.Write(payload)
	return m.Sum(nil)
}

// SignPayload returns a Stripe-Signature header value signing payload with
// secret at time t, exactly as Stripe does ("t=…,v1=…"): for tests and
// scripts/stripe-webhook.
func SignPayload(secret string, payload []byte, t time.Time) string {
	ts := t.Unix()
	return "t=" + strconv.FormatInt(ts, 10) + ",v1=" + hex.EncodeToString(stripeSignature([]byte(secret), ts, payload))
}

// stripeEventJSON is the part of a Stripe event finance reads. It is
// decoded by hand rather than as a stripe.Event so that an event of
// another API version than stripe-go's still parses: these fields are
// stable across versions.
type stripeEventJSON struct {
	ID   string `json:"id"`
	Type string `json:"type"`
	Data struct {
		Object struct {
			ID               string `json:"id"`
			Object           string `json:"object"`
			Amount           int64  `json:"amount"`
			Currency         string `json:"currency"`
			LastPaymentError *struct {
				Message string `json:"message"`
			} `json:"last_payment_error"`
		} `json:"object"`
	} `json:"data"`
}

// parseStripeEvent maps a verified event body to a StripeEvent. Errors:
// invalid_event.
func parseStripeEvent(payload []byte) (StripeEvent, error) {
	var j stripeEventJSON
	if err := json.Unmarshal(payload, &j); err != nil {
		return StripeEvent{}, errInvalidEvent.Wrap(err)
	}
	if j.ID == "" || j.Type == "" {
		return StripeEvent{}, errInvalidEvent.Wrap(errors.New("event without id or type"))
	}
	e := StripeEvent{ID: j.ID, Type: j.Type}
	if !strings.HasPrefix(j.Type, "payment_intent.") {
		return e, nil
	}
	o := j.Data.Object
	if o.Object != "payment_intent" || o.ID == "" {
		return StripeEvent{}, errInvalidEvent.Wrap(fmt.Errorf("%s event carries a %q object, want a payment_intent", j.Type, o.Object))
	}
	e.PaymentIntentID = o.ID
	e.Amount = o.Amount
	e.Currency = strings.ToUpper(o.Currency)
	if o.LastPaymentError != nil {
		e.FailureMessage = o.LastPaymentError.Message
	}
	return e, nil
}
