package education

import (
	"context"

	"github.com/azora-os/azora/shared/events"
)

// Handlers maps the event types education reacts to onto r. Each runs in
// the consumer's inbox transaction (its ctx carries it), so an event's
// effect is applied exactly once; an event whose data cannot be decoded
// fails every try and is parked in dead_letters.
func Handlers(r Reactions) map[string]events.Handler {
	return map[string]events.Handler{
		EventPaymentCompleted: func(ctx context.Context, e events.Event) error {
			var d struct {
				PaymentID    string `json:"payment_id"`
				EnrollmentID string `json:"enrollment_id"`
			}
			if err := e.Decode(&d); err != nil {
				return err
			}
			return r.PaymentCompleted(ctx, d.EnrollmentID, d.PaymentID)
		},
		EventPaymentFailed: func(ctx context.Context, e events.Event) error {
			var d struct {
				EnrollmentID string `json:"enrollment_id"`
				Reason       string `json:"reason"`
			}
			if err := e.Decode(&d); err != nil {
				return err
			}
			return r.PaymentFailed(ctx, d.EnrollmentID, d.Reason)
		},
		EventUserRegistered: func(ctx context.Context, e events.Event) error {
			var d struct {
				UserID string `json:"user_id"`
				Name   string `json:"name"`
			}
			if err := e.Decode(&d); err != nil {
				return err
			}
			return r.LearnerRegistered(ctx, d.UserID, d.Name)
		},
	}
}
