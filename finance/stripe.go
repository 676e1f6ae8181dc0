package finance

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/paymentintent"
	"github.com/stripe/stripe-go/v76/refund"

	"github.com/azora-os/azora/shared/errs"
)

// Defaults of the Stripe adapter. Every call carries an idempotency key, so
// stripe-go may safely retry what looks like a transient failure.
const (
	DefaultStripeTimeout = 10 * time.Second
	DefaultStripeRetries = 2
)

// StripePayments is the Payments port over Stripe's API (stripe-go v76),
// or over stripe-mock when built with its URL. Nothing it returns is a
// stripe-go error: each is translated to a finance or errs value.
type StripePayments struct {
	intents paymentintent.Client
	refunds refund.Client
}

// StripeOption configures NewStripePayments.
type StripeOption func(*stripeOptions)

type stripeOptions struct {
	httpClient *http.Client
	timeout    time.Duration
	retries    int64
	logger     log.Logger
}

// WithStripeHTTPClient makes the adapter send its requests with c (tests
// wrap its transport to see them). c's own Timeout then applies.
func WithStripeHTTPClient(c *http.Client) StripeOption {
	return func(o *stripeOptions) { o.httpClient = c }
}

// WithStripeTimeout bounds each HTTP attempt (default
// DefaultStripeTimeout); it is ignored with WithStripeHTTPClient.
func WithStripeTimeout(d time.Duration) StripeOption {
	return func(o *stripeOptions) { o.timeout = d }
}

// WithStripeRetries sets how many times stripe-go retries a request that
// failed in a way it knows to be safe to retry (default
// DefaultStripeRetries; 0 disables retries).
func WithStripeRetries(n int) StripeOption {
	return func(o *stripeOptions) { o.retries = int64(n) }
}

// WithStripeLogger sends stripe-go's warnings and errors (its retries and
// failed requests) to logger; by default they are dropped, because the
// errors this adapter returns are logged where they are handled.
func WithStripeLogger(logger log.Logger) StripeOption {
	return func(o *stripeOptions) { o.logger = logger }
}

// NewStripePayments returns the Stripe adapter authenticating with
// secretKey. apiBase, when set, replaces https://api.stripe.com: stripe-mock
// (http://127.0.0.1:12111) in development and tests.
func NewStripePayments(secretKey, apiBase string, opts ...StripeOption) *StripePayments {
	o := stripeOptions{timeout: DefaultStripeTimeout, retries: DefaultStripeRetries, logger: log.NewNopLogger()}
	for _, opt := range opts {
		opt(&o)
	}
	hc := o.httpClient
	if hc == nil {
		hc = &http.Client{Timeout: o.timeout}
	}
	cfg := &stripe.BackendConfig{
		HTTPClient:        hc,
		MaxNetworkRetries: stripe.Int64(o.retries),
		LeveledLogger:     stripeLogger{o.logger},
		EnableTelemetry:   stripe.Bool(false),
	}
	if apiBase != "" {
		cfg.URL = stripe.String(apiBase)
	}
	// A backend of our own rather than stripe.SetBackend: the package-level
	// one is a global shared by everything in the process.
	b := stripe.GetBackendWithConfig(stripe.APIBackend, cfg)
	return &StripePayments{
		intents: paymentintent.Client{B: b, Key: secretKey},
		refunds: refund.Client{B: b, Key: secretKey},
	}
}

// CreatePaymentIntent creates a PaymentIntent for amount (automatic payment
// methods, the given metadata) under Stripe's idempotency key
// idempotencyKey, and returns its id and client secret. Errors:
// payment_provider_unavailable, card_declined, internal (a request Stripe
// calls invalid: our bug).
func (s *StripePayments) CreatePaymentIntent(ctx context.Context, amount Money, idempotencyKey string, metadata map[string]string) (string, string, error) {
	p := &stripe.PaymentIntentParams{
		Amount:   stripe.Int64(amount.Amount),
		Currency: stripe.String(strings.ToLower(amount.Currency)),
		AutomaticPaymentMethods: &stripe.PaymentIntentAutomaticPaymentMethodsParams{
			Enabled: stripe.Bool(true),
		},
	}
	p.Context = ctx
	p.SetIdempotencyKey(idempotencyKey)
	for k, v := range metadata {
		p.AddMetadata(k, v)
	}
	pi, err := s.intents.New(p)
	if err != nil {
		return "", "", stripeError(err, "create payment intent")
	}
	return pi.ID, pi.ClientSecret, nil
}

// Refund refunds the PaymentIntent in full under Stripe's idempotency key
// idempotencyKey. A PaymentIntent Stripe reports as already refunded counts
// as refunded: the outcome asked for holds, which is what a retry after
// the key expired (Stripe keeps keys 24 h) needs. Errors:
// payment_provider_unavailable, card_declined, internal.
func (s *StripePayments) Refund(ctx context.Context, paymentIntentID, idempotencyKey string) error {
	p := &stripe.RefundParams{PaymentIntent: stripe.String(paymentIntentID)}
	p.Context = ctx
	p.SetIdempotencyKey(idempotencyKey)
	if _, err := s.refunds.New(p); err != nil {
		var se *stripe.Error
		if errors.As(err, &se) && se.Code == stripe.ErrorCodeChargeAlreadyRefunded {
			return nil
		}
		return stripeError(err, "refund payment intent %s", paymentIntentID)
	}
	return nil
}

// stripeError translates a stripe-go error: a card error is the customer's
// (card_declined, with Stripe's message, which Stripe writes for them);
// rate limits, Stripe's 5xx, timeouts and network failures are transient
// (payment_provider_unavailable, so breakers count them); anything else
// (invalid_request_error, authentication, idempotency misuse) is a request
// we should never have sent: internal.
func stripeError(err error, op string, args ...any) error {
	what := fmt.Sprintf("stripe: "+op, args...)
	var se *stripe.Error
	if !errors.As(err, &se) {
		// Network errors, timeouts, a cancelled ctx: stripe-go returns them
		// as they are, after its retries.
		return ErrPaymentProvider.Wrap(fmt.Errorf("%s: %w", what, err))
	}
	switch {
	case se.Type == stripe.ErrorTypeCard:
		e := ErrCardDeclined
		if se.Msg != "" {
			e = e.WithMessage("%s", se.Msg)
		}
		return e.Wrap(fmt.Errorf("%s: %w", what, err))
	case se.HTTPStatusCode == http.StatusTooManyRequests, se.HTTPStatusCode >= 500, se.Type == stripe.ErrorTypeAPI:
		return ErrPaymentProvider.Wrap(fmt.Errorf("%s: %w", what, err))
	default:
		return errs.Internalf(err, "%s (%s %s)", what, se.Type, se.Code)
	}
}

// stripeLogger adapts a go-kit logger to stripe-go's leveled logger,
// keeping only warnings and errors (it logs every request at info).
type stripeLogger struct{ l log.Logger }

func (stripeLogger) Debugf(string, ...any) {}
func (stripeLogger) Infof(string, ...any)  {}

func (s stripeLogger) Warnf(format string, v ...any) {
	level.Warn(s.l).Log("msg", "stripe client", "detail", fmt.Sprintf(format, v...))
}

func (s stripeLogger) Errorf(format string, v ...any) {
	level.Error(s.l).Log("msg", "stripe client", "detail", fmt.Sprintf(format, v...))
}
