package education

import (
	"context"

	"github.com/go-kit/kit/endpoint"
	"github.com/go-kit/log"

	"github.com/azora-os/azora/shared/kit"
)

// The endpoint names. They label spans, logs and metrics, and name a
// route for WithRouteMiddleware and an endpoint for WithClientMiddleware.
const (
	NameCreateCourse    = "create_course"
	NameCatalogue       = "catalogue"
	NameCourse          = "course"
	NameUpdateCourse    = "update_course"
	NameAddLesson       = "add_lesson"
	NameUpdateLesson    = "update_lesson"
	NamePublish         = "publish_course"
	NameDeleteCourse    = "delete_course"
	NameEnroll          = "enroll"
	NameEnrollments     = "enrollments"
	NameEnrollment      = "enrollment"
	NameCompleteLesson  = "complete_lesson"
	NameCertificates    = "certificates"
	NameCertificate     = "certificate"
	NameVerify          = "verify_certificate"
	NameCertificatePDF  = "certificate_pdf"
	NameCertificateKeys = "certificate_keys"
)

// Endpoints holds one go-kit endpoint per Service method. Server side,
// MakeEndpoints builds them over a Service; client side, NewHTTPClient
// builds them over HTTP, and Endpoints' methods then satisfy Service.
type Endpoints struct {
	CreateCourseEndpoint    endpoint.Endpoint
	CatalogueEndpoint       endpoint.Endpoint
	CourseEndpoint          endpoint.Endpoint
	UpdateCourseEndpoint    endpoint.Endpoint
	AddLessonEndpoint       endpoint.Endpoint
	UpdateLessonEndpoint    endpoint.Endpoint
	PublishEndpoint         endpoint.Endpoint
	DeleteCourseEndpoint    endpoint.Endpoint
	EnrollEndpoint          endpoint.Endpoint
	EnrollmentsEndpoint     endpoint.Endpoint
	EnrollmentEndpoint      endpoint.Endpoint
	CompleteLessonEndpoint  endpoint.Endpoint
	CertificatesEndpoint    endpoint.Endpoint
	CertificateEndpoint     endpoint.Endpoint
	VerifyEndpoint          endpoint.Endpoint
	CertificatePDFEndpoint  endpoint.Endpoint
	CertificateKeysEndpoint endpoint.Endpoint
}

// The role sets routes demand. User routes demand a person's role rather
// than any valid token, so a token without a user behind it (an OAuth
// client's) cannot reach them, and a route built without a Verifier fails
// closed (kit.RBAC answers missing_token).
var (
	userRoles    = []string{RoleStudent, RoleInstructor, RoleAdmin}
	authorRoles  = []string{RoleInstructor, RoleAdmin}
	learnerRoles = []string{RoleStudent}
)

// MakeEndpoints returns s's endpoints, each wrapped in kit.Chain under its
// Name* constant with what it needs:
//
//   - public, no JWT step: catalogue, certificate, verify_certificate,
//     certificate_pdf, certificate_keys;
//   - course is public but looks at a token when one is presented: a valid
//     one makes its holder the Actor (so owners and admins see drafts), an
//     invalid one is a 401 (missing_token never: no token is anonymous);
//   - any user (student, instructor, admin): enrollments, enrollment,
//     complete_lesson, certificates;
//   - instructor or admin: create_course, update_course, add_lesson,
//     publish_course (ownership is the Service's check);
//   - student: enroll.
//
// The Actor always comes from the claims v verified, never from the
// request. Inputs are checked (validation_failed naming every bad field)
// before s is called, and ids that are not UUIDs are the resource's
// not-found error. m may be nil (no metrics).
func MakeEndpoints(s Service, logger log.Logger, m *kit.Metrics, v *kit.Verifier) Endpoints {
	public := func(name string, ep endpoint.Endpoint) endpoint.Endpoint {
		return kit.Chain(logger, m, kit.Spec{Name: name})(ep)
	}
	withRoles := func(roles []string) func(string, endpoint.Endpoint) endpoint.Endpoint {
		return func(name string, ep endpoint.Endpoint) endpoint.Endpoint {
			return kit.Chain(logger, m, kit.Spec{Name: name, Verifier: v, Roles: roles})(ep)
		}
	}
	user, author, learner := withRoles(userRoles), withRoles(authorRoles), withRoles(learnerRoles)
	return Endpoints{
		CreateCourseEndpoint:    author(NameCreateCourse, makeCreateCourseEndpoint(s)),
		CatalogueEndpoint:       public(NameCatalogue, makeCatalogueEndpoint(s)),
		CourseEndpoint:          public(NameCourse, optionalJWT(v)(makeCourseEndpoint(s))),
		UpdateCourseEndpoint:    author(NameUpdateCourse, makeUpdateCourseEndpoint(s)),
		AddLessonEndpoint:       author(NameAddLesson, makeAddLessonEndpoint(s)),
		UpdateLessonEndpoint:    author(NameUpdateLesson, makeUpdateLessonEndpoint(s)),
		PublishEndpoint:         author(NamePublish, makePublishEndpoint(s)),
		DeleteCourseEndpoint:    author(NameDeleteCourse, makeDeleteCourseEndpoint(s)),
		EnrollEndpoint:          learner(NameEnroll, makeEnrollEndpoint(s)),
		EnrollmentsEndpoint:     user(NameEnrollments, makeEnrollmentsEndpoint(s)),
		EnrollmentEndpoint:      user(NameEnrollment, makeEnrollmentEndpoint(s)),
		CompleteLessonEndpoint:  user(NameCompleteLesson, makeCompleteLessonEndpoint(s)),
		CertificatesEndpoint:    user(NameCertificates, makeCertificatesEndpoint(s)),
		CertificateEndpoint:     public(NameCertificate, makeCertificateEndpoint(s)),
		VerifyEndpoint:          public(NameVerify, makeVerifyEndpoint(s)),
		CertificatePDFEndpoint:  public(NameCertificatePDF, makeCertificatePDFEndpoint(s)),
		CertificateKeysEndpoint: public(NameCertificateKeys, makeCertificateKeysEndpoint(s)),
	}
}

// optionalJWT is kit.JWT for a route anyone may call: without a token in
// ctx the call goes on anonymously, with one it must verify (the
// Verifier's invalid_token or auth_unavailable otherwise) and the call goes
// on with its claims. A nil v verifies nothing, so every caller stays
// anonymous: a misconfigured route grants less, never more.
func optionalJWT(v *kit.Verifier) endpoint.Middleware {
	return func(next endpoint.Endpoint) endpoint.Endpoint {
		return func(ctx context.Context, request any) (any, error) {
			token := kit.TokenFrom(ctx)
			if token == "" || v == nil {
				return next(ctx, request)
			}
			c, err := v.Verify(ctx, token)
			if err != nil {
				return nil, err
			}
			return next(kit.WithClaims(ctx, c), request)
		}
	}
}

// actorOf returns the caller the JWT step verified. Without claims the
// endpoint was wired without a Verifier: refuse rather than trust anything
// else (missing_token).
func actorOf(ctx context.Context) (Actor, error) {
	c, err := kit.RequireClaims(ctx)
	return Actor{UserID: c.Subject, Roles: c.Roles}, err
}

// actorAndID is the prologue of the endpoints where a caller acts on one
// resource: the verified caller, and the path's id, or notFound when the
// id cannot name a row.
func actorAndID(ctx context.Context, request any, notFound error) (Actor, string, error) {
	a, err := actorOf(ctx)
	if err != nil {
		return Actor{}, "", err
	}
	id := request.(idRequest).ID
	if !validID(id) {
		return Actor{}, "", notFound
	}
	return a, id, nil
}

// optionalActor returns the verified caller, or nil for an anonymous one.
func optionalActor(ctx context.Context) *Actor {
	c, ok := kit.ClaimsFrom(ctx)
	if !ok {
		return nil
	}
	return &Actor{UserID: c.Subject, Roles: c.Roles}
}
