package education

import (
	"context"

	"github.com/azora-os/azora/shared/page"
)

// Endpoints satisfies Service, so other Go code (the gateway's dashboard)
// calls education through NewHTTPClient's Endpoints as if in process.
// Methods act for the caller of ctx (its bearer token over HTTP, its
// verified claims in process), never for their Actor argument, which is
// not sent: a client cannot speak for someone else.
var _ Service = Endpoints{}

// CreateCourse implements Service. Errors: missing_token, invalid_token,
// forbidden, validation_failed.
func (e Endpoints) CreateCourse(ctx context.Context, _ Actor, in CourseInput) (Course, error) {
	resp, err := e.CreateCourseEndpoint(ctx, in)
	if err != nil {
		return Course{}, err
	}
	return resp.(courseResponse).Course, nil
}

// Catalogue implements Service. Errors: validation_failed, invalid_cursor.
func (e Endpoints) Catalogue(ctx context.Context, q string, p page.Request) (page.Page[Course], error) {
	resp, err := e.CatalogueEndpoint(ctx, catalogueRequest{Q: q, Page: p})
	if err != nil {
		return page.Page[Course]{}, err
	}
	return resp.(page.Page[Course]), nil
}

// Course implements Service for ctx's caller, anonymous without a token.
// Errors: invalid_token, course_not_found.
func (e Endpoints) Course(ctx context.Context, _ *Actor, id string) (Course, error) {
	resp, err := e.CourseEndpoint(ctx, idRequest{ID: id})
	if err != nil {
		return Course{}, err
	}
	return resp.(courseResponse).Course, nil
}

// UpdateCourse implements Service. Errors: missing_token, invalid_token,
// forbidden, course_not_found, validation_failed.
func (e Endpoints) UpdateCourse(ctx context.Context, _ Actor, id string, p CoursePatch) (Course, error) {
	resp, err := e.UpdateCourseEndpoint(ctx, updateCourseRequest{ID: id, Patch: p})
	if err != nil {
		return Course{}, err
	}
	return resp.(courseResponse).Course, nil
}

// DeleteCourse implements Service. Errors: missing_token, invalid_token,
// forbidden, course_not_found, course_published.
func (e Endpoints) DeleteCourse(ctx context.Context, _ Actor, id string) error {
	_, err := e.DeleteCourseEndpoint(ctx, idRequest{ID: id})
	return err
}

// UpdateLesson implements Service. Errors: missing_token, invalid_token,
// forbidden, validation_failed, course_not_found, lesson_not_found.
func (e Endpoints) UpdateLesson(ctx context.Context, _ Actor, courseID, lessonID string, p LessonPatch) (Lesson, error) {
	resp, err := e.UpdateLessonEndpoint(ctx, updateLessonRequest{CourseID: courseID, LessonID: lessonID, Patch: p})
	if err != nil {
		return Lesson{}, err
	}
	return resp.(lessonResponse).Lesson, nil
}

// AddLesson implements Service. Errors: missing_token, invalid_token,
// forbidden, course_not_found, validation_failed.
func (e Endpoints) AddLesson(ctx context.Context, _ Actor, courseID string, in LessonInput) (Lesson, error) {
	resp, err := e.AddLessonEndpoint(ctx, addLessonRequest{CourseID: courseID, Input: in})
	if err != nil {
		return Lesson{}, err
	}
	return resp.(lessonResponse).Lesson, nil
}

// Publish implements Service. Errors: missing_token, invalid_token,
// forbidden, course_not_found, course_has_no_lessons.
func (e Endpoints) Publish(ctx context.Context, _ Actor, id string) (Course, error) {
	resp, err := e.PublishEndpoint(ctx, idRequest{ID: id})
	if err != nil {
		return Course{}, err
	}
	return resp.(courseResponse).Course, nil
}

// Enroll implements Service. Errors: missing_token, invalid_token,
// forbidden (not a student), course_not_found, already_enrolled,
// own_course.
func (e Endpoints) Enroll(ctx context.Context, _ Actor, courseID string) (Enrollment, error) {
	resp, err := e.EnrollEndpoint(ctx, idRequest{ID: courseID})
	if err != nil {
		return Enrollment{}, err
	}
	return resp.(enrolledResponse).Enrollment, nil
}

// Enrollments implements Service: the enrollments of ctx's caller.
// Errors: missing_token, invalid_token, forbidden, validation_failed
// (limit), invalid_cursor.
func (e Endpoints) Enrollments(ctx context.Context, _ Actor, p page.Request) (page.Page[Enrollment], error) {
	resp, err := e.EnrollmentsEndpoint(ctx, listRequest{Page: p})
	if err != nil {
		return page.Page[Enrollment]{}, err
	}
	return resp.(page.Page[Enrollment]), nil
}

// Enrollment implements Service. Errors: missing_token, invalid_token,
// forbidden, enrollment_not_found.
func (e Endpoints) Enrollment(ctx context.Context, _ Actor, id string) (Enrollment, error) {
	resp, err := e.EnrollmentEndpoint(ctx, idRequest{ID: id})
	if err != nil {
		return Enrollment{}, err
	}
	return resp.(enrollmentResponse).Enrollment, nil
}

// CompleteLesson implements Service. Errors: missing_token,
// invalid_token, forbidden, enrollment_not_found, lesson_not_found,
// enrollment_not_active.
func (e Endpoints) CompleteLesson(ctx context.Context, _ Actor, enrollmentID, lessonID string) (Progress, error) {
	resp, err := e.CompleteLessonEndpoint(ctx, completeLessonRequest{EnrollmentID: enrollmentID, LessonID: lessonID})
	if err != nil {
		return Progress{}, err
	}
	return resp.(progressResponse).Progress, nil
}

// Certificates implements Service: the certificates of ctx's caller.
// Errors: missing_token, invalid_token, forbidden, validation_failed
// (limit), invalid_cursor.
func (e Endpoints) Certificates(ctx context.Context, _ Actor, p page.Request) (page.Page[Certificate], error) {
	resp, err := e.CertificatesEndpoint(ctx, listRequest{Page: p})
	if err != nil {
		return page.Page[Certificate]{}, err
	}
	return resp.(page.Page[Certificate]), nil
}

// Certificate implements Service. Errors: certificate_not_found.
func (e Endpoints) Certificate(ctx context.Context, id string) (Certificate, error) {
	resp, err := e.CertificateEndpoint(ctx, idRequest{ID: id})
	if err != nil {
		return Certificate{}, err
	}
	return resp.(certificateResponse).Certificate, nil
}

// Verify implements Service. Errors: certificate_not_found.
func (e Endpoints) Verify(ctx context.Context, id string) (Verification, error) {
	resp, err := e.VerifyEndpoint(ctx, idRequest{ID: id})
	if err != nil {
		return Verification{}, err
	}
	return resp.(Verification), nil
}

// CertificatePDF implements Service. Errors: certificate_not_found.
func (e Endpoints) CertificatePDF(ctx context.Context, id string) ([]byte, error) {
	resp, err := e.CertificatePDFEndpoint(ctx, idRequest{ID: id})
	if err != nil {
		return nil, err
	}
	return resp.(pdfResponse).PDF, nil
}

// CertificateKeys implements Service.
func (e Endpoints) CertificateKeys(ctx context.Context) (KeySet, error) {
	resp, err := e.CertificateKeysEndpoint(ctx, emptyRequest{})
	if err != nil {
		return KeySet{}, err
	}
	return resp.(KeySet), nil
}
