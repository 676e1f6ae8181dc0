package education

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/azora-os/azora/shared/errs"
)

// CompleteLesson implements Service. The enrollment row lock serialises
// completions of one enrollment, so the last lesson completes the course
// and issues the certificate exactly once, in this same transaction.
func (s *EducationService) CompleteLesson(ctx context.Context, a Actor, enrollmentID, lessonID string) (Progress, error) {
	var p Progress
	err := s.Tx.InTx(ctx, func(ctx context.Context) error {
		e, err := s.Repo.LockEnrollment(ctx, enrollmentID)
		if err != nil {
			return err
		}
		if e.UserID != a.UserID {
			return ErrEnrollmentNotFound
		}
		c, err := s.Repo.Course(ctx, e.CourseID)
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(c.Lessons, func(l Lesson) bool { return l.ID == lessonID }) {
			return ErrLessonNotFound
		}
		if e.Status != EnrollmentActive && e.Status != EnrollmentCompleted {
			return ErrEnrollmentNotActive
		}
		inserted, err := s.Repo.CompleteLesson(ctx, e.ID, lessonID)
		if err != nil {
			return err
		}
		if p, err = s.Repo.Progress(ctx, e.ID); err != nil {
			return err
		}
		if !inserted {
			return nil // already completed: idempotent, nothing new to say
		}
		if err := s.publish(ctx, EventLessonCompleted, e.UserID, map[string]any{
			"enrollment_id": e.ID, "lesson_id": lessonID, "user_id": e.UserID, "percent": p.Percent,
		}); err != nil {
			return err
		}
		if e.Status == EnrollmentActive && p.TotalLessons > 0 && p.CompletedLessons == p.TotalLessons {
			return s.completeCourse(ctx, e, c)
		}
		return nil
	})
	return p, err
}

// completeCourse marks e completed and issues its certificate, which
// carries the learner's name as auth's user.registered told it. When that
// event has not been applied yet (a learner who registered and finished a
// course within moments), the certificate waits for it: LearnerRegistered
// issues it, since a signed name cannot be corrected afterwards. The
// learner lock orders the two, so that one of them always issues it.
func (s *EducationService) completeCourse(ctx context.Context, e Enrollment, c Course) error {
	now := s.now()
	e.Status, e.UpdatedAt, e.CompletedAt = EnrollmentCompleted, now, &now
	if err := s.Repo.SaveEnrollment(ctx, e); err != nil {
		return err
	}
	if err := s.publish(ctx, EventCourseCompleted, e.UserID, map[string]any{
		"enrollment_id": e.ID, "course_id": c.ID, "user_id": e.UserID,
	}); err != nil {
		return err
	}
	name, err := s.Repo.LearnerName(ctx, e.UserID)
	if err != nil {
		return err
	}
	if name == "" {
		if err := s.Repo.LockLearner(ctx, e.UserID); err != nil {
			return err
		}
		if name, err = s.Repo.LearnerName(ctx, e.UserID); err != nil || name == "" {
			return err // LearnerRegistered will issue it
		}
	}
	return s.issueCertificate(ctx, e, c, name, now)
}

// issueCertificate signs and stores the certificate of the completed
// enrollment e of course c, issued to name at now, and queues
// certificate.issued.
func (s *EducationService) issueCertificate(ctx context.Context, e Enrollment, c Course, name string, now time.Time) error {
	id, err := newID()
	if err != nil {
		return err
	}
	cert := Certificate{ID: id, EnrollmentID: e.ID, UserID: e.UserID, CourseID: c.ID,
		CourseTitle: c.Title, LearnerName: name, IssuedAt: now}
	if cert.Signature, cert.KeyID, err = s.Signer.Sign(ctx, Canonical(cert)); err != nil {
		return err
	}
	if err := s.Repo.CreateCertificate(ctx, cert); err != nil {
		return err
	}
	return s.publish(ctx, EventCertificateIssued, e.UserID, map[string]any{
		"certificate_id": cert.ID, "course_id": c.ID, "user_id": e.UserID,
	})
}

// Canonical is the byte string a certificate's signature covers: a
// domain-separation line, then the signed fields as JSON with sorted keys
// and the issue time in RFC 3339 UTC with nanoseconds. Changing any field
// changes it.
func Canonical(c Certificate) []byte {
	b, err := json.Marshal(map[string]string{
		"course_id":    c.CourseID,
		"course_title": c.CourseTitle,
		"id":           c.ID,
		"issued_at":    c.IssuedAt.UTC().Format(time.RFC3339Nano),
		"learner_name": c.LearnerName,
		"user_id":      c.UserID,
	}) // encoding/json sorts map keys
	if err != nil {
		panic(err) // strings always marshal
	}
	return append([]byte("azora-certificate-v1\n"), b...)
}

// Verify implements Service.
func (s *EducationService) Verify(ctx context.Context, id string) (Verification, error) {
	c, err := s.Repo.Certificate(ctx, id)
	if err != nil {
		return Verification{}, err
	}
	ok, err := s.Signer.Verify(ctx, c.KeyID, Canonical(c), c.Signature)
	if err != nil {
		return Verification{}, err
	}
	v := Verification{Valid: ok, KeyID: c.KeyID, Certificate: &c}
	if !ok {
		v.Reason = "the signature does not match the certificate's fields under the published key"
	}
	return v, nil
}

// CertificatePDF implements Service.
func (s *EducationService) CertificatePDF(ctx context.Context, id string) ([]byte, error) {
	c, err := s.Repo.Certificate(ctx, id)
	if err != nil {
		return nil, err
	}
	b, err := s.PDF.Render(c, s.VerifyURL(c.ID))
	if err != nil {
		return nil, errs.Internalf(err, "render certificate %s", c.ID)
	}
	return b, nil
}

// VerifyURL is where anyone checks certificate id.
func (s *EducationService) VerifyURL(id string) string {
	return s.cfg.PublicURL + "/api/v1/certificates/" + id + "/verify"
}
