package education

import (
	"context"
	"errors"
	"strings"
	"time"
)

// PaymentCompleted implements Reactions. Only a pending enrollment moves:
// a redelivered or late event finds it active or cancelled and changes
// nothing. A payment that completes after the enrollment was cancelled
// (payment_timeout) is finance's to refund: it heard enrollment.cancelled.
func (s *EducationService) PaymentCompleted(ctx context.Context, enrollmentID, paymentID string) error {
	return s.settle(ctx, enrollmentID, func(e *Enrollment, now time.Time) string {
		e.Status, e.ActivatedAt = EnrollmentActive, &now
		return EventEnrollmentActivated
	})
}

// PaymentFailed implements Reactions.
func (s *EducationService) PaymentFailed(ctx context.Context, enrollmentID, reason string) error {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		reason = "payment_failed"
	}
	return s.settle(ctx, enrollmentID, func(e *Enrollment, _ time.Time) string {
		e.Status, e.CancelReason = EnrollmentCancelled, reason
		return EventEnrollmentCancelled
	})
}

// settle applies to to a pending enrollment and queues the event it names.
// An unknown enrollment is not an error: the event is not for us to retry.
func (s *EducationService) settle(ctx context.Context, id string, to func(*Enrollment, time.Time) string) error {
	return s.Tx.InTx(ctx, func(ctx context.Context) error {
		e, err := s.Repo.LockEnrollment(ctx, id)
		if errors.Is(err, ErrEnrollmentNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if e.Status != EnrollmentPending {
			return nil
		}
		now := s.now()
		typ := to(&e, now)
		e.UpdatedAt = now
		if err := s.Repo.SaveEnrollment(ctx, e); err != nil {
			return err
		}
		return s.publishEnrollment(ctx, typ, e)
	})
}

// ExpirePending implements Reactions.
func (s *EducationService) ExpirePending(ctx context.Context, cutoff time.Time, limit int) (int, error) {
	n := 0
	err := s.Tx.InTx(ctx, func(ctx context.Context) error {
		n = 0
		pending, err := s.Repo.LockPendingBefore(ctx, cutoff, limit)
		if err != nil {
			return err
		}
		now := s.now()
		for _, e := range pending {
			e.Status, e.CancelReason, e.UpdatedAt = EnrollmentCancelled, ReasonPaymentTimeout, now
			if err := s.Repo.SaveEnrollment(ctx, e); err != nil {
				return err
			}
			if err := s.publishEnrollment(ctx, EventEnrollmentCancelled, e); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}

// LearnerRegistered implements Reactions: it records the learner's name,
// then issues the certificates of courses completed before the name was
// known (completeCourse left them to it). A redelivered event finds them
// issued and issues nothing.
func (s *EducationService) LearnerRegistered(ctx context.Context, userID, name string) error {
	name = strings.TrimSpace(name)
	if userID == "" || name == "" {
		return nil
	}
	return s.Tx.InTx(ctx, func(ctx context.Context) error {
		if err := s.Repo.LockLearner(ctx, userID); err != nil {
			return err
		}
		if err := s.Repo.SetLearnerName(ctx, userID, name); err != nil {
			return err
		}
		waiting, err := s.Repo.UncertifiedCompletions(ctx, userID)
		if err != nil {
			return err
		}
		now := s.now()
		for _, e := range waiting {
			c, err := s.Repo.Course(ctx, e.CourseID)
			if err != nil {
				return err
			}
			if err := s.issueCertificate(ctx, e, c, name, now); err != nil {
				return err
			}
		}
		return nil
	})
}

// RunTimeouts cancels pending enrollments older than timeout, checking
// every interval, until ctx ends; a failed pass is reported to onError and
// tried again at the next tick. Replicas may run it together: the rows are
// locked with SKIP LOCKED.
func (s *EducationService) RunTimeouts(ctx context.Context, timeout, interval time.Duration, onError func(error)) error {
	const batch = 100
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		for {
			n, err := s.ExpirePending(ctx, s.cfg.Clock().Add(-timeout), batch)
			if err != nil && ctx.Err() == nil {
				onError(err)
			}
			if err != nil || n < batch {
				break
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
