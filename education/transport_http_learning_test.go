package education_test

import (
	"bytes"
	"maps"
	"net/http"
	"slices"
	"testing"

	"github.com/azora-os/azora/education"
	"github.com/azora-os/azora/shared/page"
)

func testHTTPLearningRoutes(t *testing.T, e *htEnv) {
	get, post := http.MethodGet, http.MethodPost
	student, instructor, admin := htActors["student"], htActors["instructor"], htActors["admin"]

	t.Run("enroll", func(t *testing.T) {
		p := "/api/v1/courses/" + htCourseID + "/enrollments"
		status := func(want string) func(*testing.T, htResponse, *htFake) {
			return func(t *testing.T, r htResponse, _ *htFake) {
				t.Helper()
				var body struct {
					Enrollment map[string]any `json:"enrollment"`
				}
				r.Decode(t, &body)
				if got := body.Enrollment["status"]; got != want {
					t.Errorf("enrollment status: got %v, want %s", got, want)
				}
				if _, leaked := body.Enrollment["instructor_id"]; leaked {
					t.Errorf("enrollment: instructor_id is not part of API.md's object: %v", body.Enrollment)
				}
			}
		}
		e.run(t, []htCase{
			{name: "free course active 201", method: post, path: p, htRequest: htRequest{who: "student"}, status: 201, calls: "Enroll",
				check: htAll(htWantKeys("enrollment"), htWantArgs("Enroll", student, htCourseID), status(education.EnrollmentActive))},
			{name: "paid course pending 202", method: post, path: p, htRequest: htRequest{who: "student"}, pending: true, status: 202, calls: "Enroll",
				check: htAll(htWantKeys("enrollment"), status(education.EnrollmentPending))},
			{name: "empty object body", method: post, path: p, htRequest: htRequest{who: "student", body: `{}`}, status: 201, calls: "Enroll"},
			{name: "user not from body", method: post, path: p, htRequest: htRequest{who: "student", body: `{"user_id":"student-2"}`},
				status: 400, code: "unknown_field", fields: []string{"user_id"}},
			{name: "missing token", method: post, path: p, status: 401, code: "missing_token"},
			{name: "bad token", method: post, path: p, htRequest: htRequest{who: "bad"}, status: 401, code: "invalid_token"},
			{name: "instructor refused", method: post, path: p, htRequest: htRequest{who: "instructor"}, status: 403, code: "forbidden"},
			{name: "admin refused", method: post, path: p, htRequest: htRequest{who: "admin"}, status: 403, code: "forbidden"},
			{name: "course not found", method: post, path: p, htRequest: htRequest{who: "student"},
				fail: htFails("Enroll", education.ErrCourseNotFound), status: 404, code: "course_not_found", calls: "Enroll"},
			{name: "not a uuid", method: post, path: "/api/v1/courses/x/enrollments", htRequest: htRequest{who: "student"}, status: 404, code: "course_not_found"},
			{name: "already enrolled", method: post, path: p, htRequest: htRequest{who: "student"},
				fail: htFails("Enroll", education.ErrAlreadyEnrolled), status: 409, code: "already_enrolled", calls: "Enroll"},
			{name: "own course", method: post, path: p, htRequest: htRequest{who: "student"},
				fail: htFails("Enroll", education.ErrOwnCourse), status: 409, code: "own_course", calls: "Enroll"},
		})
	})

	t.Run("enrollments", func(t *testing.T) {
		p := education.PathEnrollments
		want := htEnrollment("student-1", education.EnrollmentActive)
		want.InstructorID = "" // not on the wire
		e.run(t, []htCase{
			{name: "own list", method: get, path: p + "?limit=2&cursor=c1", htRequest: htRequest{who: "student"}, status: 200, calls: "Enrollments",
				check: htAll(htWantKeys("items", "next_cursor"), htWantArgs("Enrollments", student, page.Request{Limit: 2, Cursor: "c1"}),
					htWantBody("", page.Page[education.Enrollment]{Items: []education.Enrollment{want}, NextCursor: "next-enrollments"}))},
			{name: "instructor too", method: get, path: p, htRequest: htRequest{who: "instructor"}, status: 200, calls: "Enrollments",
				check: htWantArgs("Enrollments", instructor, page.Request{Limit: page.DefaultLimit})},
			{name: "bad limit", method: get, path: p + "?limit=0", htRequest: htRequest{who: "student"}, status: 400, code: "validation_failed", fields: []string{"limit"}},
			{name: "bad cursor", method: get, path: p + "?cursor=zzz", htRequest: htRequest{who: "student"},
				fail: htFails("Enrollments", page.ErrBadCursor), status: 400, code: "invalid_cursor", calls: "Enrollments"},
			{name: "missing token", method: get, path: p, status: 401, code: "missing_token"},
			{name: "token without user role", method: get, path: p, htRequest: htRequest{who: "norole"}, status: 403, code: "forbidden"},
		})
	})

	t.Run("enrollment", func(t *testing.T) {
		p := "/api/v1/enrollments/" + htEnrollmentID
		e.run(t, []htCase{
			{name: "own", method: get, path: p, htRequest: htRequest{who: "student"}, status: 200, calls: "Enrollment",
				check: htAll(htWantKeys("enrollment"), htWantArgs("Enrollment", student, htEnrollmentID),
					htWantBody("enrollment", education.Enrollment{ID: htEnrollmentID, CourseID: htCourseID, UserID: "student-1",
						Status: education.EnrollmentActive, Price: &education.Money{Amount: 1999, Currency: "USD"},
						Progress:  education.Progress{CompletedLessons: 1, TotalLessons: 3, Percent: 33},
						CreatedAt: htCreatedAt, UpdatedAt: htCreatedAt}))},
			{name: "admin", method: get, path: p, htRequest: htRequest{who: "admin"}, status: 200, calls: "Enrollment",
				check: htWantArgs("Enrollment", admin, htEnrollmentID)},
			{name: "missing token", method: get, path: p, status: 401, code: "missing_token"},
			{name: "not found", method: get, path: p, htRequest: htRequest{who: "student"},
				fail: htFails("Enrollment", education.ErrEnrollmentNotFound), status: 404, code: "enrollment_not_found", calls: "Enrollment"},
			{name: "not a uuid", method: get, path: "/api/v1/enrollments/abc", htRequest: htRequest{who: "student"}, status: 404, code: "enrollment_not_found"},
		})
	})

	t.Run("complete lesson", func(t *testing.T) {
		p := "/api/v1/enrollments/" + htEnrollmentID + "/lessons/" + htLessonID + "/complete"
		e.run(t, []htCase{
			{name: "progress", method: post, path: p, htRequest: htRequest{who: "student"}, status: 200, calls: "CompleteLesson",
				check: htAll(htWantKeys("progress"), htWantArgs("CompleteLesson", student, htEnrollmentID, htLessonID),
					htWantBody("progress", education.Progress{CompletedLessons: 2, TotalLessons: 3, Percent: 66}))},
			{name: "missing token", method: post, path: p, status: 401, code: "missing_token"},
			{name: "bad token", method: post, path: p, htRequest: htRequest{who: "bad"}, status: 401, code: "invalid_token"},
			{name: "enrollment not found", method: post, path: p, htRequest: htRequest{who: "student"},
				fail: htFails("CompleteLesson", education.ErrEnrollmentNotFound), status: 404, code: "enrollment_not_found", calls: "CompleteLesson"},
			{name: "lesson not found", method: post, path: p, htRequest: htRequest{who: "student"},
				fail: htFails("CompleteLesson", education.ErrLessonNotFound), status: 404, code: "lesson_not_found", calls: "CompleteLesson"},
			{name: "lesson not a uuid", method: post, path: "/api/v1/enrollments/" + htEnrollmentID + "/lessons/first/complete",
				htRequest: htRequest{who: "student"}, status: 404, code: "lesson_not_found"},
			{name: "not active", method: post, path: p, htRequest: htRequest{who: "student"},
				fail: htFails("CompleteLesson", education.ErrEnrollmentNotActive), status: 409, code: "enrollment_not_active", calls: "CompleteLesson"},
		})
	})

	t.Run("certificates", func(t *testing.T) {
		p := education.PathCertificates
		want := htCertificate()
		want.EnrollmentID = "" // not on the wire
		e.run(t, []htCase{
			{name: "own list, last page", method: get, path: p, htRequest: htRequest{who: "student"}, status: 200, calls: "Certificates",
				check: htAll(htWantKeys("items"), htWantArgs("Certificates", student, page.Request{Limit: page.DefaultLimit}),
					htWantBody("", page.Page[education.Certificate]{Items: []education.Certificate{want}}))},
			{name: "missing token", method: get, path: p, status: 401, code: "missing_token"},
			{name: "expired token", method: get, path: p, htRequest: htRequest{who: "expired"}, status: 401, code: "invalid_token"},
		})
	})

	t.Run("certificate", func(t *testing.T) {
		p := "/api/v1/certificates/" + htCertificateID
		want := htCertificate()
		want.EnrollmentID = ""
		e.run(t, []htCase{
			{name: "public", method: get, path: p, status: 200, calls: "Certificate",
				check: htAll(htWantKeys("certificate"), htWantArgs("Certificate", htCertificateID), htWantBody("certificate", want))},
			{name: "not found", method: get, path: p, fail: htFails("Certificate", education.ErrCertificateNotFound),
				status: 404, code: "certificate_not_found", calls: "Certificate"},
			{name: "not a uuid", method: get, path: "/api/v1/certificates/nope", status: 404, code: "certificate_not_found"},
		})
	})

	t.Run("verify", func(t *testing.T) {
		p := "/api/v1/certificates/" + htCertificateID + "/verify"
		e.run(t, []htCase{
			{name: "valid", method: get, path: p, status: 200, calls: "Verify",
				check: htAll(htWantKeys("valid", "key_id", "certificate"), htWantArgs("Verify", htCertificateID))},
			{name: "forged", method: get, path: p, forged: true, status: 200, calls: "Verify", check: htAll(
				htWantKeys("valid", "reason", "key_id", "certificate"),
				func(t *testing.T, r htResponse, _ *htFake) {
					t.Helper()
					var v education.Verification
					r.Decode(t, &v)
					if v.Valid || v.Reason != "signature_mismatch" {
						t.Errorf("verification: got valid %v reason %q, want false signature_mismatch", v.Valid, v.Reason)
					}
				})},
			{name: "not found", method: get, path: p, fail: htFails("Verify", education.ErrCertificateNotFound),
				status: 404, code: "certificate_not_found", calls: "Verify"},
		})
	})

	t.Run("certificate pdf", func(t *testing.T) {
		p := "/api/v1/certificates/" + htCertificateID + "/pdf"
		e.run(t, []htCase{
			{name: "inline and cacheable", method: get, path: p, status: 200, calls: "CertificatePDF", check: htAll(
				htWantArgs("CertificatePDF", htCertificateID),
				func(t *testing.T, r htResponse, _ *htFake) {
					t.Helper()
					if !bytes.Equal(r.Body, htPDF) {
						t.Errorf("body: got %q, want the rendered PDF %q", r.Body, htPDF)
					}
					for h, want := range map[string]string{
						"Content-Type":           "application/pdf",
						"Content-Disposition":    `inline; filename="certificate-` + htCertificateID + `.pdf"`,
						"Cache-Control":          "public, max-age=86400",
						"X-Content-Type-Options": "nosniff",
					} {
						if got := r.Header.Values(h); !slices.Equal(got, []string{want}) {
							t.Errorf("%s: got %q, want [%s]", h, got, want)
						}
					}
				})},
			{name: "not found", method: get, path: p, fail: htFails("CertificatePDF", education.ErrCertificateNotFound),
				status: 404, code: "certificate_not_found", calls: "CertificatePDF"},
			{name: "renderer failure", method: get, path: p, fail: htFails("CertificatePDF", education.ErrCertificateKeyLocked),
				status: 500, code: "internal", calls: "CertificatePDF"}, // server faults are never detailed
		})
	})

	t.Run("certificate keys", func(t *testing.T) {
		e.run(t, []htCase{
			{name: "jwks cacheable", method: get, path: education.PathCertificateKeys, status: 200, calls: "CertificateKeys", check: htAll(
				htWantKeys("keys"), htWantBody("", htKeys),
				func(t *testing.T, r htResponse, _ *htFake) {
					t.Helper()
					var set struct {
						Keys []map[string]string `json:"keys"`
					}
					r.Decode(t, &set)
					want := map[string]string{"kid": "cert-k1", "kty": "OKP", "crv": "Ed25519", "use": "sig", "alg": "EdDSA", "x": htKeys.Keys[0].X}
					if len(set.Keys) != 1 || !maps.Equal(set.Keys[0], want) {
						t.Errorf("keys: got %v, want [%v]", set.Keys, want)
					}
					if cc := r.Header.Values("Cache-Control"); !slices.Equal(cc, []string{"public, max-age=300"}) {
						t.Errorf("Cache-Control: got %q, want [public, max-age=300]", cc)
					}
				})},
			{name: "key unreadable", method: get, path: education.PathCertificateKeys, fail: htFails("CertificateKeys", education.ErrCertificateKeyLocked),
				status: 500, code: "internal", calls: "CertificateKeys"},
		})
	})

	t.Run("routing", func(t *testing.T) {
		e.run(t, []htCase{
			{name: "wrong method on a collection", method: http.MethodDelete, path: education.PathCourses, status: 405, code: "method_not_allowed"},
			{name: "get on a post-only path", method: get, path: "/api/v1/courses/" + htCourseID + "/publish", status: 405, code: "method_not_allowed"},
			{name: "no such path", method: get, path: "/api/v1/lessons", status: 404, code: "not_found"},
		})
	})
}
