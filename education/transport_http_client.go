package education

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-kit/kit/endpoint"
	httptransport "github.com/go-kit/kit/transport/http"
	"github.com/google/uuid"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"

	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/kit"
	"github.com/azora-os/azora/shared/logging"
	"github.com/azora-os/azora/shared/page"
)

// ErrEducationUnreachable is what the HTTP client returns when no answer
// came back from education (connection refused, timeout, cancelled): a
// server fault, so it counts against breakers.
var ErrEducationUnreachable = errs.New(errs.Unavailable, "education_unreachable", "the education service cannot be reached")

// defaultClientTimeout bounds a call when the caller gives no http.Client:
// http.DefaultClient would wait forever on a hung instance.
const defaultClientTimeout = 10 * time.Second

// ClientOption configures NewHTTPClient.
type ClientOption func(*clientOptions)

type clientOptions struct {
	http       *http.Client
	middleware func(name string) endpoint.Middleware
}

// WithHTTPClient makes the client send its requests with c instead of the
// default: an http.Client with a 10 s timeout that follows no redirects
// (education's API never redirects, and following one would carry the
// caller's bearer token to wherever it points).
func WithHTTPClient(c *http.Client) ClientOption {
	return func(o *clientOptions) { o.http = c }
}

// WithClientMiddleware wraps each client endpoint in mw(name), where name
// is the endpoint's Name* constant; typically kit.Chain with a kit.Breaker,
// so calls to education are traced, logged, counted and broken like every
// other hop.
func WithClientMiddleware(mw func(name string) endpoint.Middleware) ClientOption {
	return func(o *clientOptions) { o.middleware = mw }
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
	if !strings.Contains(instance, "://") {
		instance = "http://" + instance
	}
	base, err := url.Parse(instance)
	if err != nil || base.Host == "" || (base.Scheme != "http" && base.Scheme != "https") {
		return nil, errs.New(errs.Invalid, "invalid_education_url", "the education instance must be an http(s) URL").Wrap(err)
	}
	o := clientOptions{http: &http.Client{
		Timeout:       defaultClientTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
	for _, opt := range opts {
		opt(&o)
	}
	client := func(name, method string, to func(any) (call, error), dec httptransport.DecodeResponseFunc) endpoint.Endpoint {
		ep := httptransport.NewClient(method, base, encodeCall(base, to), dec,
			httptransport.SetClient(o.http), httptransport.ClientBefore(forwardContext)).Endpoint()
		ep = classifyUnreachable(ep)
		if o.middleware != nil {
			ep = o.middleware(name)(ep)
		}
		return ep
	}
	get, post := http.MethodGet, http.MethodPost
	return Endpoints{
		CreateCourseEndpoint:    client(NameCreateCourse, post, callCreateCourse, decodeResponse[courseResponse]),
		CatalogueEndpoint:       client(NameCatalogue, get, callCatalogue, decodeResponse[page.Page[Course]]),
		CourseEndpoint:          client(NameCourse, get, callByID(ErrCourseNotFound, "courses"), decodeResponse[courseResponse]),
		UpdateCourseEndpoint:    client(NameUpdateCourse, http.MethodPatch, callUpdateCourse, decodeResponse[courseResponse]),
		AddLessonEndpoint:       client(NameAddLesson, post, callAddLesson, decodeResponse[lessonResponse]),
		PublishEndpoint:         client(NamePublish, post, callByID(ErrCourseNotFound, "courses", "publish"), decodeResponse[courseResponse]),
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

// forwardContext passes the caller's bearer token, request id and trace
// context on to education.
func forwardContext(ctx context.Context, r *http.Request) context.Context {
	if t := kit.TokenFrom(ctx); t != "" {
		r.Header.Set("Authorization", "Bearer "+t)
	}
	if id := logging.RequestID(ctx); id != "" {
		r.Header.Set("X-Request-ID", id)
	}
	otel.GetTextMapPropagator().Inject(ctx, propagation.HeaderCarrier(r.Header))
	return ctx
}

// classifyUnreachable turns transport failures, which carry no *errs.Error,
// into ErrEducationUnreachable; education's own answers pass unchanged.
func classifyUnreachable(next endpoint.Endpoint) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		response, err := next(ctx, request)
		var e *errs.Error
		if err != nil && !errors.As(err, &e) {
			return nil, ErrEducationUnreachable.Wrap(err)
		}
		return response, err
	}
}

// The per-endpoint requests: where each goes and what it carries.

func callCreateCourse(request any) (call, error) {
	return call{path: []string{"courses"}, body: request.(CourseInput)}, nil
}

func callCatalogue(request any) (call, error) {
	req := request.(catalogueRequest)
	q := pageQuery(req.Page)
	if req.Q != "" {
		q.Set("q", req.Q)
	}
	return call{path: []string{"courses"}, query: q}, nil
}

// callByID is a request without a body to the resource named by the
// request's id under collection, or to its sub-path.
func callByID(notFound error, collection string, sub ...string) func(any) (call, error) {
	return func(request any) (call, error) {
		id := request.(idRequest).ID
		if !validID(id) {
			return call{}, notFound
		}
		return call{path: append([]string{collection, id}, sub...)}, nil
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
	return call{path: []string{"courses", req.ID}, body: patch, contentType: "application/merge-patch+json"}, nil
}

func callAddLesson(request any) (call, error) {
	req := request.(addLessonRequest)
	if !validID(req.CourseID) {
		return call{}, ErrCourseNotFound
	}
	return call{path: []string{"courses", req.CourseID, "lessons"}, body: req.Input}, nil
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
	c.header = http.Header{"Idempotency-Key": {key.String()}}
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
	return call{path: []string{"enrollments", req.EnrollmentID, "lessons", req.LessonID, "complete"}}, nil
}

func callList(collection string) func(any) (call, error) {
	return func(request any) (call, error) {
		return call{path: []string{collection}, query: pageQuery(request.(listRequest).Page)}, nil
	}
}

// callKeys is the one request outside /api/v1.
func callKeys(any) (call, error) {
	return call{rooted: PathCertificateKeys}, nil
}

// pageQuery is p as ?limit= and ?cursor=; a zero Limit leaves the
// server's default.
func pageQuery(p page.Request) url.Values {
	q := url.Values{}
	if p.Limit != 0 {
		q.Set("limit", strconv.Itoa(p.Limit))
	}
	if p.Cursor != "" {
		q.Set("cursor", p.Cursor)
	}
	return q
}
