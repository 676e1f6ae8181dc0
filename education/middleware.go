package education

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/azora-os/azora/shared/kit"
	"github.com/azora-os/azora/shared/pg"
)

// Instrument returns s counting, in reg, what the business watches:
// azora_education_enrollments_total{status}, one per enrollment created,
// by the status it started in (active for a free course, pending_payment
// for a paid one), counted once its transaction has committed. Every other
// method passes through.
func Instrument(s Service, reg prometheus.Registerer) Service {
	enrollments := kit.Counter(reg, "azora_education_enrollments_total",
		"Enrollments created, by the status they started in.", []string{"status"},
		[]string{EnrollmentActive}, []string{EnrollmentPending})
	return instrumented{Service: s, enrollments: enrollments}
}

type instrumented struct {
	Service
	enrollments *prometheus.CounterVec
}

// Enroll implements Service. It runs inside the Idempotency-Key's
// transaction, which may roll back or be retried after Enroll returned, so
// the count waits for the commit; a replayed request never reaches here.
func (s instrumented) Enroll(ctx context.Context, a Actor, courseID string) (Enrollment, error) {
	e, err := s.Service.Enroll(ctx, a, courseID)
	if err == nil {
		pg.OnCommit(ctx, s.enrollments.WithLabelValues(e.Status).Inc)
	}
	return e, err
}
