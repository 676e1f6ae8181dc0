package finance

import (
	"context"

	"github.com/azora-os/azora/shared/events"
)

// Handlers maps the event types finance reacts to onto r; each runs in the
// consumer's inbox transaction, so its effect is applied exactly once.
func Handlers(r Reactions) map[string]events.Handler {
	return map[string]events.Handler{
		EventUserRegistered: func(ctx context.Context, e events.Event) error {
			var d struct {
				UserID string `json:"user_id"`
			}
			if err := e.Decode(&d); err != nil {
				return err
			}
			return r.OpenDefaultWallet(ctx, d.UserID)
		},
		EventEnrollmentRequested: func(ctx context.Context, e events.Event) error {
			var d struct {
				EnrollmentID string `json:"enrollment_id"`
				CourseID     string `json:"course_id"`
				UserID       string `json:"user_id"`
				InstructorID string `json:"instructor_id"`
				Price        Money  `json:"price"`
			}
			if err := e.Decode(&d); err != nil {
				return err
			}
			return r.ChargeEnrollment(ctx, d.EnrollmentID, d.CourseID, d.UserID, d.InstructorID, d.Price)
		},
		EventEnrollmentCancelled: func(ctx context.Context, e events.Event) error {
			var d struct {
				EnrollmentID string `json:"enrollment_id"`
				UserID       string `json:"user_id"`
			}
			if err := e.Decode(&d); err != nil {
				return err
			}
			return r.EnrollmentCancelled(ctx, d.EnrollmentID, d.UserID)
		},
		EventCourseCompleted: func(ctx context.Context, e events.Event) error {
			var d struct {
				EnrollmentID string `json:"enrollment_id"`
				UserID       string `json:"user_id"`
			}
			if err := e.Decode(&d); err != nil {
				return err
			}
			return r.CourseCompleted(ctx, d.EnrollmentID, d.UserID)
		},
	}
}
