package education_test

import (
	"context"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/azora-os/azora/education"
	"github.com/azora-os/azora/shared/kit"
	"github.com/azora-os/azora/shared/logging"
	"github.com/azora-os/azora/shared/page"
)

// Ids and times of what the fake answers. Ids are UUIDs: the endpoints
// refuse anything else before the Service sees it.
const (
	htCourseID      = "0195f3a0-0000-7000-8000-00000000c001"
	htLessonID      = "0195f3a0-0000-7000-8000-00000000a001"
	htEnrollmentID  = "0195f3a0-0000-7000-8000-00000000e001"
	htCertificateID = "0195f3a0-0000-7000-8000-0000000ce001"
	htInstructorID  = "0195f3a0-0000-7000-8000-000000001001"
)

var htCreatedAt = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// htPDF is the document the fake renders.
var htPDF = []byte("%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n")

// htKeys is the key set the fake publishes.
var htKeys = education.KeySet{Keys: []education.PublicKey{{KID: "cert-k1", KTY: "OKP", Crv: "Ed25519", Use: "sig", Alg: "EdDSA", X: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}}}

func htCourse() education.Course {
	return education.Course{ID: htCourseID, InstructorID: htInstructorID, Title: "Go", Description: "Learn Go",
		Price: &education.Money{Amount: 1999, Currency: "USD"}, Status: education.CoursePublished, LessonCount: 1,
		CreatedAt: htCreatedAt, UpdatedAt: htCreatedAt}
}

func htLesson() education.Lesson {
	return education.Lesson{ID: htLessonID, CourseID: htCourseID, Position: 1, Title: "Hello", Content: "fmt.Println", CreatedAt: htCreatedAt}
}

func htEnrollment(userID, status string) education.Enrollment {
	return education.Enrollment{ID: htEnrollmentID, CourseID: htCourseID, UserID: userID, InstructorID: htInstructorID,
		Status: status, Price: &education.Money{Amount: 1999, Currency: "USD"},
		Progress:  education.Progress{CompletedLessons: 1, TotalLessons: 3, Percent: 33},
		CreatedAt: htCreatedAt, UpdatedAt: htCreatedAt}
}

func htCertificate() education.Certificate {
	return education.Certificate{ID: htCertificateID, EnrollmentID: htEnrollmentID, UserID: "student-1", CourseID: htCourseID,
		CourseTitle: "Go", LearnerName: "Ada Lovelace", IssuedAt: htCreatedAt, KeyID: "cert-k1", Signature: "c2ln"}
}

// htFake is a hand-written education.Service: it records each method's
// last arguments (and the request id and token of its ctx) and answers a
// fixed result, or the error set for the method.
type htFake struct {
	mu           sync.Mutex
	fail         map[string]error
	enrollStatus string // what Enroll answers; active unless set
	forged       bool   // Verify finds the signature wrong
	calls        map[string][]any
	reqID        map[string]string
	claims       map[string]bool // whether ctx carried verified claims
}

func newHTFake() *htFake {
	return &htFake{fail: map[string]error{}, enrollStatus: education.EnrollmentActive,
		calls: map[string][]any{}, reqID: map[string]string{}, claims: map[string]bool{}}
}

// failWith makes method answer err (nil: succeed again).
func (f *htFake) failWith(method string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail[method] = err
}

// setForged makes Verify answer that the signature does not match.
func (f *htFake) setForged(forged bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.forged = forged
}

// setEnrollStatus makes Enroll answer an enrollment in status.
func (f *htFake) setEnrollStatus(status string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.enrollStatus = status
}

func (f *htFake) record(ctx context.Context, method string, args ...any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[method] = args
	f.reqID[method] = logging.RequestID(ctx)
	_, f.claims[method] = kit.ClaimsFrom(ctx)
	return f.fail[method]
}

// called returns the arguments of method's last call, and whether it ran.
func (f *htFake) called(method string) ([]any, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	args, ok := f.calls[method]
	return args, ok
}

// requestID returns the request id in the ctx of method's last call.
func (f *htFake) requestID(method string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reqID[method]
}

func (f *htFake) methods() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Sorted(maps.Keys(f.calls))
}

func (f *htFake) CreateCourse(ctx context.Context, a education.Actor, in education.CourseInput) (education.Course, error) {
	if err := f.record(ctx, "CreateCourse", a, in); err != nil {
		return education.Course{}, err
	}
	return education.Course{ID: htCourseID, InstructorID: a.UserID, Title: in.Title, Description: in.Description,
		Price: in.Price, Status: education.CourseDraft, CreatedAt: htCreatedAt, UpdatedAt: htCreatedAt}, nil
}

func (f *htFake) Catalogue(ctx context.Context, q string, p page.Request) (page.Page[education.Course], error) {
	if err := f.record(ctx, "Catalogue", q, p); err != nil {
		return page.Page[education.Course]{}, err
	}
	return page.Page[education.Course]{Items: []education.Course{htCourse()}, NextCursor: "next-courses"}, nil
}

func (f *htFake) Course(ctx context.Context, a *education.Actor, id string) (education.Course, error) {
	if err := f.record(ctx, "Course", a, id); err != nil {
		return education.Course{}, err
	}
	c := htCourse()
	c.ID, c.Lessons = id, []education.Lesson{htLesson()}
	return c, nil
}

func (f *htFake) UpdateCourse(ctx context.Context, a education.Actor, id string, p education.CoursePatch) (education.Course, error) {
	if err := f.record(ctx, "UpdateCourse", a, id, p); err != nil {
		return education.Course{}, err
	}
	c := htCourse()
	c.ID = id
	if p.Title != nil {
		c.Title = *p.Title
	}
	if p.Description != nil {
		c.Description = *p.Description
	}
	if p.SetPrice {
		c.Price = p.Price
	}
	return c, nil
}

func (f *htFake) AddLesson(ctx context.Context, a education.Actor, courseID string, in education.LessonInput) (education.Lesson, error) {
	if err := f.record(ctx, "AddLesson", a, courseID, in); err != nil {
		return education.Lesson{}, err
	}
	return education.Lesson{ID: htLessonID, CourseID: courseID, Position: 1, Title: in.Title, Content: in.Content, CreatedAt: htCreatedAt}, nil
}

func (f *htFake) UpdateLesson(ctx context.Context, a education.Actor, courseID, lessonID string, p education.LessonPatch) (education.Lesson, error) {
	if err := f.record(ctx, "UpdateLesson", a, courseID, lessonID, p); err != nil {
		return education.Lesson{}, err
	}
	l := education.Lesson{ID: lessonID, CourseID: courseID, Position: 1, Title: "Hello", Content: "fmt.Println", CreatedAt: htCreatedAt}
	if p.Title != nil {
		l.Title = *p.Title
	}
	if p.Content != nil {
		l.Content = *p.Content
	}
	return l, nil
}

func (f *htFake) DeleteCourse(ctx context.Context, a education.Actor, id string) error {
	return f.record(ctx, "DeleteCourse", a, id)
}

func (f *htFake) Publish(ctx context.Context, a education.Actor, id string) (education.Course, error) {
	if err := f.record(ctx, "Publish", a, id); err != nil {
		return education.Course{}, err
	}
	c := htCourse()
	c.ID, c.PublishedAt = id, &htCreatedAt
	return c, nil
}

func (f *htFake) Enroll(ctx context.Context, a education.Actor, courseID string) (education.Enrollment, error) {
	if err := f.record(ctx, "Enroll", a, courseID); err != nil {
		return education.Enrollment{}, err
	}
	f.mu.Lock()
	status := f.enrollStatus
	f.mu.Unlock()
	e := htEnrollment(a.UserID, status)
	e.CourseID = courseID
	return e, nil
}

func (f *htFake) Enrollments(ctx context.Context, a education.Actor, p page.Request) (page.Page[education.Enrollment], error) {
	if err := f.record(ctx, "Enrollments", a, p); err != nil {
		return page.Page[education.Enrollment]{}, err
	}
	return page.Page[education.Enrollment]{Items: []education.Enrollment{htEnrollment(a.UserID, education.EnrollmentActive)}, NextCursor: "next-enrollments"}, nil
}

func (f *htFake) Enrollment(ctx context.Context, a education.Actor, id string) (education.Enrollment, error) {
	if err := f.record(ctx, "Enrollment", a, id); err != nil {
		return education.Enrollment{}, err
	}
	e := htEnrollment(a.UserID, education.EnrollmentActive)
	e.ID = id
	return e, nil
}

func (f *htFake) CompleteLesson(ctx context.Context, a education.Actor, enrollmentID, lessonID string) (education.Progress, error) {
	if err := f.record(ctx, "CompleteLesson", a, enrollmentID, lessonID); err != nil {
		return education.Progress{}, err
	}
	return education.Progress{CompletedLessons: 2, TotalLessons: 3, Percent: 66}, nil
}

func (f *htFake) Certificates(ctx context.Context, a education.Actor, p page.Request) (page.Page[education.Certificate], error) {
	if err := f.record(ctx, "Certificates", a, p); err != nil {
		return page.Page[education.Certificate]{}, err
	}
	return page.Page[education.Certificate]{Items: []education.Certificate{htCertificate()}}, nil
}

func (f *htFake) Certificate(ctx context.Context, id string) (education.Certificate, error) {
	if err := f.record(ctx, "Certificate", id); err != nil {
		return education.Certificate{}, err
	}
	c := htCertificate()
	c.ID = id
	return c, nil
}

func (f *htFake) Verify(ctx context.Context, id string) (education.Verification, error) {
	if err := f.record(ctx, "Verify", id); err != nil {
		return education.Verification{}, err
	}
	f.mu.Lock()
	forged := f.forged
	f.mu.Unlock()
	c := htCertificate()
	c.ID = id
	if forged {
		return education.Verification{Valid: false, Reason: "signature_mismatch", KeyID: c.KeyID, Certificate: &c}, nil
	}
	return education.Verification{Valid: true, KeyID: c.KeyID, Certificate: &c}, nil
}

func (f *htFake) CertificatePDF(ctx context.Context, id string) ([]byte, error) {
	if err := f.record(ctx, "CertificatePDF", id); err != nil {
		return nil, err
	}
	return slices.Clone(htPDF), nil
}

func (f *htFake) CertificateKeys(ctx context.Context) (education.KeySet, error) {
	if err := f.record(ctx, "CertificateKeys"); err != nil {
		return education.KeySet{}, err
	}
	return htKeys, nil
}
