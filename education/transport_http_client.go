package education

import (
	"context"
	"net/http"

	"github.com/go-kit/kit/endpoint"
	httptransport "github.com/go-kit/kit/transport/http"
	"github.com/google/uuid"

	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/httpx/httpclient"
	"github.com/azora-os/azora/shared/page"
)

// ErrEducationUnreachable is what the HTTP client returns when no answer
// came back from education (connection refused, timeout, cancelled): a
// server fault, so it counts against breakers.
var ErrEducationUnreachable = errs.New(errs.Unavailable, "education_unreachable", "the education service cannot be reached")

// ClientOption configures NewHTTPClient.
type ClientOption = httpclient.Option

// WithHTTPClient makes the client send its requests with c instead of the
// default: an http.Client with a 10 s timeout that follows no redirects
// (education's API never redirects, and following one would carry the
// caller's bearer token to wherever it points).
func WithHTTPClient(c *http.Client) ClientOption { return httpclient.WithHTTPClient(c) }

// WithClientMiddleware wraps each client endpoint in mw(name), where name
// is the endpoint's Name* constant; typically kit.Chain with a kit.Breaker,
// so calls to education are traced, logged, counted and broken like every
// other hop.
func WithClientMiddleware(mw func(name string) endpoint.Middleware) ClientOption {
	return httpclient.WithMiddleware(mw)
}

// NewHTTPClient returns a Service that calls the education instance at
// instance ("http://education:4002", or "host:port" for plain http) over
// HTTP. It sends the bearer token of the call's ctx (kit.WithToken, which
// kit.HTTPToContext sets on the way in), its request id and its trace
// context, so every method acts for that token's user whatever Actor it is
// given. Enroll sends a fresh Idempotency-Key, the call being one attempt.
// Errors come back as *errs.Error with education's kind and code; an id
// that is not a UUID is the resource's not-found error, unsent;
// ErrEducationUnreachable when no answer came. NewHTTPClient returns an
// invalid_education_url error when instance is not an http(s) URL.
func NewHTTPClient(instance string, opts ...ClientOption) (Service, error) {
	base, err := httpclient.ParseInstance(instance)
	if err != nil {
		return nil, errs.New(errs.Invalid, "invalid_education_url", "the education instance must be an http(s) URL").Wrap(err)
	}
	c := httpclient.New("education", base, ErrEducationUnreachable, opts...)
	client := func(name, method string, to func(any) (call, error), dec httptransport.DecodeResponseFunc) endpoint.Endpoint {
		return c.CallEndpoint(name, method, func(_ context.Context, request any) (call, error) { return to(request) }, dec)
	}
	get, post := http.MethodGet, http.MethodPost
	return Endpoints{
		CreateCourseEndpoint:    client(NameCreateCourse, post, callCreateCourse, decodeResponse[courseResponse]),
		CatalogueEndpoint:       client(NameCatalogue, get, callCatalogue, decodeResponse[page.Page[Course]]),
		CourseEndpoint:          client(NameCourse, get, callByID(ErrCourseNotFound, "courses"), decodeResponse[courseResponse]),
		UpdateCourseEndpoint:    client(NameUpdateCourse, http.MethodPatch, callUpdateCourse, decodeResponse[courseResponse]),
		AddLessonEndpoint:       client(NameAddLesson, post, callAddLesson, decodeResponse[lessonResponse]),
		UpdateLessonEndpoint:    client(NameUpdateLesson, http.MethodPatch, callUpdateLesson, decodeResponse[lessonResponse]),
		PublishEndpoint:         client(NamePublish, post, callByID(ErrCourseNotFound, "courses", "publish"), decodeResponse[courseResponse]),
		DeleteCourseEndpoint:    client(NameDeleteCourse, http.MethodDelete, callByID(ErrCourseNotFound, "courses"), httpclient.DecodeNoContent("education")),
		EnrollEndpoint:          client(NameEnroll, post, callEnroll, decodeResponse[enrolledResponse]),
		EnrollmentsEndpoint:     client(NameEnrollments, get, callList("enrollments"), decodeResponse[page.Page[Enrollment]]),
		EnrollmentEndpoint:      client(NameEnrollment, get, callByID(ErrEnrollmentNotFound, "enrollments"), decodeResponse[enrollmentResponse]),
		CompleteLessonEndpoint:  client(NameCompleteLesson, post, callCompleteLesson, decodeResponse[progressResponse]),
		CertificatesEndpoint:    client(NameCertificates, get, callList("certificates"), decodeResponse[page.Page[Certificate]]),
		CertificateEndpoint:     client(NameCertificate, get, callByID(ErrCertificateNotFound, "certificates"), decodeResponse[certificateResponse]),
		VerifyEndpoint:          client(NameVerify, get, callByID(ErrCertificateNotFound, "certificates", "verify"), decodeResponse[Verification]),
		CertificatePDFEndpoint:  client(NameCertificatePDF, get, callByID(ErrCertificateNotFound, "certificates", "pdf"), decodePDF),
		CertificateKeysEndpoint: client(NameCertificateKeys, get, callKeys, decodeResponse[KeySet]),
	}, nil
}

// The per-endpoint requests: where each goes and what it carries.

func callCreateCourse(request any) (call, error) {
	return call{Path: []string{"courses"}, Body: request.(CourseInput)}, nil
}

func callCatalogue(request any) (call, error) {
	req := request.(catalogueRequest)
	q := req.Page.Query()
	if req.Q != "" {
		q.Set("q", req.Q)
	}
	return call{Path: []string{"courses"}, Query: q}, nil
}

// callByID is a request without a body to the resource named by the
// request's id under collection, or to its sub-path.
func callByID(notFound error, collection string, sub ...string) func(any) (call, error) {
	return func(request any) (call, error) {
		id := request.(idRequest).ID
		if !validID(id) {
			return call{}, notFound
		}
		return call{Path: append([]string{collection, id}, sub...)}, nil
	}
}

func callUpdateCourse(request any) (call, error) {
	req := request.(updateCourseRequest)
	if !validID(req.ID) {
		return call{}, ErrCourseNotFound
	}
	patch := map[string]any{}
	if req.Patch.Title != nil {
		patch["title"] = *req.Patch.Title
	}
	if req.Patch.Description != nil {
		patch["description"] = *req.Patch.Description
	}
	if req.Patch.SetPrice {
		patch["price"] = req.Patch.Price // nil marshals as null: free
	}
	return call{Path: []string{"courses", req.ID}, Body: patch, ContentType: "application/merge-patch+json"}, nil
}

func callAddLesson(request any) (call, error) {
	req := request.(addLessonRequest)
	if !validID(req.CourseID) {
		return call{}, ErrCourseNotFound
	}
	return call{Path: []string{"courses", req.CourseID, "lessons"}, Body: req.Input}, nil
}

func callUpdateLesson(request any) (call, error) {
	req := request.(updateLessonRequest)
	switch {
	case !validID(req.CourseID):
		return call{}, ErrCourseNotFound
	case !validID(req.LessonID):
		return call{}, ErrLessonNotFound
	}
	patch := map[string]any{}
	if req.Patch.Title != nil {
		patch["title"] = *req.Patch.Title
	}
	if req.Patch.Content != nil {
		patch["content"] = *req.Patch.Content
	}
	return call{Path: []string{"courses", req.CourseID, "lessons", req.LessonID}, Body: patch, ContentType: "application/merge-patch+json"}, nil
}

func callEnroll(request any) (call, error) {
	c, err := callByID(ErrCourseNotFound, "courses", "enrollments")(request)
	if err != nil {
		return call{}, err
	}
	key, err := uuid.NewV7()
	if err != nil {
		return call{}, errs.Internalf(err, "education client: idempotency key")
	}
	c.Header = http.Header{"Idempotency-Key": {key.String()}}
	return c, nil
}

func callCompleteLesson(request any) (call, error) {
	req := request.(completeLessonRequest)
	switch {
	case !validID(req.EnrollmentID):
		return call{}, ErrEnrollmentNotFound
	case !validID(req.LessonID):
		return call{}, ErrLessonNotFound
	}
	return call{Path: []string{"enrollments", req.EnrollmentID, "lessons", req.LessonID, "complete"}}, nil
}

func callList(collection string) func(any) (call, error) {
	return func(request any) (call, error) {
		return call{Path: []string{collection}, Query: request.(listRequest).Page.Query()}, nil
	}
}

// callKeys is the one request outside /api/v1.
func callKeys(any) (call, error) {
	return call{Rooted: PathCertificateKeys}, nil
}
