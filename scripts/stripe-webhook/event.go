package main

import (
	"encoding/json"
	"time"

	"github.com/stripe/stripe-go/v76"
)

// event is a Stripe event object as Stripe delivers it to an endpoint.
type event struct {
	ID              string       `json:"id"`
	Object          string       `json:"object"`
	APIVersion      string       `json:"api_version"`
	Created         int64        `json:"created"`
	Data            eventData    `json:"data"`
	Livemode        bool         `json:"livemode"`
	PendingWebhooks int          `json:"pending_webhooks"`
	Request         eventRequest `json:"request"`
	Type            string       `json:"type"`
}

type eventData struct {
	Object paymentIntent `json:"object"`
}

type eventRequest struct {
	ID             *string `json:"id"`
	IdempotencyKey *string `json:"idempotency_key"`
}

// paymentIntent is the part of Stripe's PaymentIntent object a webhook
// consumer is likely to read, with Stripe's field names.
type paymentIntent struct {
	ID                      string            `json:"id"`
	Object                  string            `json:"object"`
	Amount                  int64             `json:"amount"`
	AmountCapturable        int64             `json:"amount_capturable"`
	AmountReceived          int64             `json:"amount_received"`
	AutomaticPaymentMethods map[string]bool   `json:"automatic_payment_methods"`
	CaptureMethod           string            `json:"capture_method"`
	ClientSecret            string            `json:"client_secret"`
	ConfirmationMethod      string            `json:"confirmation_method"`
	Created                 int64             `json:"created"`
	Currency                string            `json:"currency"`
	LastPaymentError        *paymentError     `json:"last_payment_error"`
	LatestCharge            *string           `json:"latest_charge"`
	Livemode                bool              `json:"livemode"`
	Metadata                map[string]string `json:"metadata"`
	PaymentMethod           *string           `json:"payment_method"`
	PaymentMethodTypes      []string          `json:"payment_method_types"`
	Status                  string            `json:"status"`
}

type paymentError struct {
	Code        string `json:"code"`
	DeclineCode string `json:"decline_code"`
	Message     string `json:"message"`
	Type        string `json:"type"`
}

// statusAfter is the PaymentIntent status an event type leaves it in.
var statusAfter = map[string]string{
	"payment_intent.succeeded":                 "succeeded",
	"payment_intent.payment_failed":            "requires_payment_method",
	"payment_intent.canceled":                  "canceled",
	"payment_intent.processing":                "processing",
	"payment_intent.requires_action":           "requires_action",
	"payment_intent.amount_capturable_updated": "requires_capture",
	"payment_intent.created":                   "requires_payment_method",
}

// eventJSON returns the event of type typ about PaymentIntent pi, created
// at now: a succeeded one has its charge and amount received, a failed
// one Stripe's card_declined error with message failure.
func eventJSON(typ, pi string, amount int64, currency, failure string, now time.Time) ([]byte, error) {
	status, ok := statusAfter[typ]
	if !ok {
		status = "requires_payment_method"
	}
	created := now.Add(-time.Minute).Unix() // the intent predates its event
	o := paymentIntent{
		ID: pi, Object: "payment_intent", Amount: amount,
		AutomaticPaymentMethods: map[string]bool{"enabled": true},
		CaptureMethod:           "automatic",
		ClientSecret:            pi + "_secret_" + stripeID(""),
		ConfirmationMethod:      "automatic",
		Created:                 created,
		Currency:                currency,
		Metadata:                map[string]string{},
		PaymentMethodTypes:      []string{"card"},
		Status:                  status,
	}
	pm := stripeID("pm_")
	switch status {
	case "succeeded":
		ch := stripeID("ch_")
		o.AmountReceived, o.LatestCharge, o.PaymentMethod = amount, &ch, &pm
	case "requires_capture":
		o.AmountCapturable, o.PaymentMethod = amount, &pm
	}
	if typ == "payment_intent.payment_failed" {
		o.LastPaymentError = &paymentError{Code: "card_declined", DeclineCode: "generic_decline", Message: failure, Type: "card_error"}
	}
	req := stripeID("req_")
	return json.MarshalIndent(event{
		ID: stripeID("evt_"), Object: "event", APIVersion: stripe.APIVersion,
		Created: now.Unix(), Data: eventData{Object: o}, PendingWebhooks: 1,
		Request: eventRequest{ID: &req}, Type: typ,
	}, "", "  ")
}
