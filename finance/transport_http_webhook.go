package finance

import (
	"context"
	"errors"
	"io"
	"net/http"

	httptransport "github.com/go-kit/kit/transport/http"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/httpx"
	"github.com/azora-os/azora/shared/kit"
	"github.com/azora-os/azora/shared/logging"
)

// HeaderStripeSignature carries Stripe's signature of a webhook delivery.
const HeaderStripeSignature = "Stripe-Signature"

// ErrWebhookSignature is the webhook route's answer to a delivery whose
// Stripe-Signature does not verify over its raw body (missing, malformed,
// signed with another secret, too old, or a body changed on the way).
// Nothing of such a delivery is applied.
var ErrWebhookSignature = errs.New(errs.Invalid, "invalid_signature", "the Stripe-Signature header does not verify against the request body")

// StripeWebhook verifies and parses one webhook delivery: the Stripe
// adapter, which knows the signing secrets and the tolerance.
type StripeWebhook interface {
	// Parse checks sigHeader (the Stripe-Signature header) against payload,
	// the body exactly as received, and returns the event it carries. Any
	// error means the delivery is not trusted: the route answers an errs
	// Invalid one as it is, any other as ErrWebhookSignature.
	Parse(payload []byte, sigHeader string) (StripeEvent, error)
}

// StripeEventHandler applies a verified event; Service satisfies it.
type StripeEventHandler interface {
	HandleStripeEvent(ctx context.Context, e StripeEvent) error
}

// WebhookHandler is what POST /api/v1/webhooks/stripe runs: Verifier
// checks each delivery and Events applies the events that pass.
// Logger, when set, replaces MakeHTTPHandler's for the route; Metrics,
// when set, counts deliveries as kit.Chain counts every endpoint.
type WebhookHandler struct {
	Verifier StripeWebhook
	Events   StripeEventHandler
	Logger   log.Logger
	Metrics  *kit.Metrics
}

// NewWebhookHandler returns the WebhookHandler of v and events (typically
// the WebhookVerifier and the Service), logging to logger.
func NewWebhookHandler(v StripeWebhook, events StripeEventHandler, logger log.Logger) WebhookHandler {
	return WebhookHandler{Verifier: v, Events: events, Logger: logger}
}

// handler serves the webhook route. It reads the raw body (the signature
// covers those exact bytes, so it is never decoded and re-encoded first;
// over httpx.MaxBodyBytes is a 413) and has Verifier check it: a failure
// is a 400, invalid_signature, or the verifier's own 400 (invalid_event
// for a signed body that is no event), logged at warn, nothing applied.
// Then it hands the event to Events and answers 200 {"received": true}.
// An error there is a 5xx, whatever its kind: Stripe redelivers until it
// gets a 2xx, which is what an event that could not be applied needs.
func (w WebhookHandler) handler(logger log.Logger) http.Handler {
	if w.Verifier == nil || w.Events == nil {
		panic("finance: MakeHTTPHandler: the WebhookHandler needs a Verifier and Events")
	}
	if w.Logger != nil {
		logger = w.Logger
	}
	ep := kit.Chain(logger, w.Metrics, kit.Spec{Name: NameStripeWebhook})(
		func(ctx context.Context, request any) (any, error) {
			e := request.(StripeEvent)
			if err := w.Events.HandleStripeEvent(ctx, e); err != nil {
				if errs.IsServerFault(err) {
					return nil, err
				}
				return nil, errs.Internalf(err, "apply Stripe event %s (%s)", e.ID, e.Type)
			}
			return webhookResponse{Received: true}, nil
		})
	return httptransport.NewServer(ep, w.decode(logger), httpx.EncodeJSON(http.StatusOK), httpx.ServerOptions(logger)...)
}

// decode reads and verifies a delivery into its StripeEvent.
func (w WebhookHandler) decode(logger log.Logger) httptransport.DecodeRequestFunc {
	return func(ctx context.Context, r *http.Request) (any, error) {
		payload, err := readRawBody(r)
		if err != nil {
			return nil, err
		}
		e, err := w.Verifier.Parse(payload, r.Header.Get(HeaderStripeSignature))
		if err != nil {
			// Warn: a run of these means a wrong or rotated signing secret
			// (or someone probing), and the client only ever sees 400.
			_ = level.Warn(logging.With(ctx, logger)).Log("msg", "stripe webhook refused", "err", err)
			if errs.KindOf(err) == errs.Invalid {
				return nil, err // the verifier's own 400: invalid_signature, invalid_event
			}
			return nil, ErrWebhookSignature.Wrap(err)
		}
		return e, nil
	}
}

// readRawBody returns r's body as sent, up to httpx.MaxBodyBytes. Errors:
// payload_too_large (413) past the limit (httpx.BodyLimit's reader, or
// this one's own bound without the Stack), malformed_json (400) when the
// body cannot be read.
func readRawBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, httpx.MaxBodyBytes+1))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return nil, httpx.ErrPayloadTooLarge.WithMessage("the request body exceeds %d bytes", mbe.Limit)
	case err != nil:
		return nil, httpx.ErrMalformedJSON.WithMessage("the request body could not be read").Wrap(err)
	case len(b) > httpx.MaxBodyBytes:
		return nil, httpx.ErrPayloadTooLarge.WithMessage("the request body exceeds %d bytes", httpx.MaxBodyBytes)
	}
	return b, nil
}
