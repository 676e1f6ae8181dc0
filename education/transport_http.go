package education

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-kit/kit/endpoint"
	httptransport "github.com/go-kit/kit/transport/http"
	"github.com/go-kit/log"
	"github.com/gorilla/mux"

	"github.com/azora-os/azora/shared/httpx"
	"github.com/azora-os/azora/shared/idempotency"
	"github.com/azora-os/azora/shared/kit"
	"github.com/azora-os/azora/shared/page"
)

// The paths of API.md's Education table that MakeHTTPHandler serves (with
// two additions the OpenAPI document describes: PathCourseLesson's
// correction and the deletion of a draft at PathCourse), and where the
// certificate verification keys are published.
const (
	PathCourses           = "/api/v1/courses"
	PathCourse            = "/api/v1/courses/{id}"
	PathCourseLessons     = "/api/v1/courses/{id}/lessons"
	PathCourseLesson      = "/api/v1/courses/{id}/lessons/{lesson_id}"
	PathCoursePublish     = "/api/v1/courses/{id}/publish"
	PathCourseEnrollments = "/api/v1/courses/{id}/enrollments"
	PathEnrollments       = "/api/v1/enrollments"
	PathEnrollment        = "/api/v1/enrollments/{id}"
	PathCompleteLesson    = "/api/v1/enrollments/{id}/lessons/{lesson_id}/complete"
	PathCertificates      = "/api/v1/certificates"
	PathCertificate       = "/api/v1/certificates/{id}"
	PathVerify            = "/api/v1/certificates/{id}/verify"
	PathCertificatePDF    = "/api/v1/certificates/{id}/pdf"
	PathCertificateKeys   = "/.well-known/certificate-keys.json"
)

// How long clients and HTTP caches may keep the public documents. A
// certificate never changes once issued, but its PDF's layout may change
// with a deployment, so a day rather than forever. The key set changes
// when the signing key does: a verifier that cached it learns of a new key
// at most this late.
const (
	CertificatePDFMaxAge  = 24 * time.Hour
	CertificateKeysMaxAge = 5 * time.Minute
)

// HTTPOption configures MakeHTTPHandler.
type HTTPOption func(*httpOptions)

type httpOptions struct {
	routeMiddleware httpx.RouteMiddleware
}

// WithRouteMiddleware wraps the route of the endpoint called name (a Name*
// constant) in mw, inside httpx.Stack and the router, outside the go-kit
// server: mw sees the raw request (body unread, bearer token not yet
// verified) and the finished response. main wraps NameEnroll in the
// shared Idempotency-Key middleware this way (API.md marks the route (I)).
// Several options for one route nest in order, the first outermost.
// MakeHTTPHandler panics on a name that is no route: a typo here would
// silently drop the middleware.
func WithRouteMiddleware(name string, mw func(http.Handler) http.Handler) HTTPOption {
	return func(o *httpOptions) {
		o.routeMiddleware.Add(name, mw)
	}
}

// WithEnrollMiddleware is WithRouteMiddleware(NameEnroll, mw): the one
// route API.md marks (I), which main wraps in the shared Idempotency-Key
// middleware.
func WithEnrollMiddleware(mw func(http.Handler) http.Handler) HTTPOption {
	return WithRouteMiddleware(NameEnroll, mw)
}

// MakeHTTPHandler registers the Education routes of API.md, the lesson
// correction, the draft deletion and PathCertificateKeys, on r, serving e.
// Every route copies the bearer token into the context for the JWT step,
// decodes bodies strictly (httpx.DecodeJSON: unknown fields, wrong types
// and bad JSON are 400s, a wrong Content-Type 415) and answers errors as
// RFC 9457 problems (httpx.ServerOptions). A body is decoded before the token is checked, so
// a malformed request is a 400 even without a token; its values are
// checked after (validation_failed), so a caller who may not use the route
// learns nothing from them.
//
// POST /courses/{id}/enrollments answers 201 with an active enrollment and
// 202 with a pending_payment one. PATCH /courses/{id} takes a JSON merge
// patch (RFC 7396) of title, description and price. The certificate PDF
// and the key set are public and cacheable: their encoders set
// Cache-Control after httpx.SecurityHeaders (outside, in httpx.Stack) has
// set no-store, so the route's value wins; their errors keep no-store.
func MakeHTTPHandler(e Endpoints, r *mux.Router, logger log.Logger, opts ...HTTPOption) {
	o := httpOptions{routeMiddleware: httpx.RouteMiddleware{}}
	for _, opt := range opts {
		opt(&o)
	}
	serverOpts := append(httpx.ServerOptions(logger), httptransport.ServerBefore(kit.HTTPToContext()))
	// The enroll route may run inside the Idempotency-Key middleware's
	// transaction; this encoder lets that middleware re-run it after a
	// serialization failure or deadlock instead of answering 500. (Options
	// apply in order, so it replaces ServerOptions' encoder.)
	enrollOpts := append(slices.Clone(serverOpts),
		idempotency.ServerErrorEncoder(logger))
	routes := httpx.NewRoutes(r, o.routeMiddleware)
	handle := func(name, method, path string, ep endpoint.Endpoint, dec httptransport.DecodeRequestFunc, enc httptransport.EncodeResponseFunc) {
		so := serverOpts
		if name == NameEnroll {
			so = enrollOpts
		}
		routes.Mount(name, method, path, httptransport.NewServer(ep, dec, enc, so...))
	}
	ok, created := httpx.EncodeJSON(http.StatusOK), httpx.EncodeJSON(http.StatusCreated)
	get, post := http.MethodGet, http.MethodPost

	handle(NameCreateCourse, post, PathCourses, e.CreateCourseEndpoint, decodeCreateCourse, created)
	handle(NameCatalogue, get, PathCourses, e.CatalogueEndpoint, decodeCatalogue, ok)
	handle(NameCourse, get, PathCourse, e.CourseEndpoint, decodeCourse, ok)
	handle(NameUpdateCourse, http.MethodPatch, PathCourse, e.UpdateCourseEndpoint, decodeUpdateCourse, ok)
	handle(NameDeleteCourse, http.MethodDelete, PathCourse, e.DeleteCourseEndpoint, decodeIDNoBody, ok)
	handle(NameAddLesson, post, PathCourseLessons, e.AddLessonEndpoint, decodeAddLesson, created)
	handle(NameUpdateLesson, http.MethodPatch, PathCourseLesson, e.UpdateLessonEndpoint, decodeUpdateLesson, ok)
	handle(NamePublish, post, PathCoursePublish, e.PublishEndpoint, decodeIDNoBody, ok)
	handle(NameEnroll, post, PathCourseEnrollments, e.EnrollEndpoint, decodeIDNoBody, created) // 202 via StatusCode
	handle(NameEnrollments, get, PathEnrollments, e.EnrollmentsEndpoint, decodeList, ok)
	handle(NameEnrollment, get, PathEnrollment, e.EnrollmentEndpoint, decodeID, ok)
	handle(NameCompleteLesson, post, PathCompleteLesson, e.CompleteLessonEndpoint, decodeCompleteLesson, ok)
	handle(NameCertificates, get, PathCertificates, e.CertificatesEndpoint, decodeList, ok)
	handle(NameCertificate, get, PathCertificate, e.CertificateEndpoint, decodeID, ok)
	handle(NameVerify, get, PathVerify, e.VerifyEndpoint, decodeID, ok)
	handle(NameCertificatePDF, get, PathCertificatePDF, e.CertificatePDFEndpoint, decodeID, encodePDF)
	handle(NameCertificateKeys, get, PathCertificateKeys, e.CertificateKeysEndpoint, decodeNone, encodePublicJSON(CertificateKeysMaxAge))

	routes.Done("education")
}

// decodeCreateCourse strictly decodes a CourseInput: an instructor id,
// status or anything else not in it is an unknown field.
func decodeCreateCourse(_ context.Context, r *http.Request) (any, error) {
	var in CourseInput
	if err := httpx.DecodeJSON(r, &in); err != nil {
		return nil, err
	}
	return in, nil
}

// decodeCatalogue reads ?q=, ?limit= and ?cursor=.
func decodeCatalogue(_ context.Context, r *http.Request) (any, error) {
	q := r.URL.Query()
	p, err := page.FromQuery(q)
	if err != nil {
		return nil, err
	}
	return catalogueRequest{Q: q.Get("q"), Page: p}, nil
}

// decodeList reads ?limit= and ?cursor= of a list of the caller's own.
func decodeList(_ context.Context, r *http.Request) (any, error) {
	p, err := page.FromQuery(r.URL.Query())
	if err != nil {
		return nil, err
	}
	return listRequest{Page: p}, nil
}

// decodeID takes the id from the path; GET bodies mean nothing and are
// not read.
func decodeID(_ context.Context, r *http.Request) (any, error) {
	return idRequest{ID: mux.Vars(r)["id"]}, nil
}

func decodeNone(context.Context, *http.Request) (any, error) { return emptyRequest{}, nil }

// decodeCourse is decodeID for the one route where a token is optional.
// An Authorization header that carries no bearer token (another scheme,
// an empty token) is refused rather than taken for anonymous: the client
// meant to authenticate, and must not be shown less than it expects
// without being told.
func decodeCourse(ctx context.Context, r *http.Request) (any, error) {
	if r.Header.Get("Authorization") != "" && kit.TokenFrom(ctx) == "" {
		return nil, kit.ErrInvalidToken.WithMessage("the Authorization header carries no bearer token")
	}
	return idRequest{ID: mux.Vars(r)["id"]}, nil
}

// decodeIDNoBody takes the id from the path of a POST without input. It
// accepts no body or a JSON object without fields, so these routes refuse
// fields they do not know like every other.
func decodeIDNoBody(_ context.Context, r *http.Request) (any, error) {
	if err := decodeEmptyBody(r); err != nil {
		return nil, err
	}
	return idRequest{ID: mux.Vars(r)["id"]}, nil
}

func decodeCompleteLesson(_ context.Context, r *http.Request) (any, error) {
	if err := decodeEmptyBody(r); err != nil {
		return nil, err
	}
	v := mux.Vars(r)
	return completeLessonRequest{EnrollmentID: v["id"], LessonID: v["lesson_id"]}, nil
}

// decodeEmptyBody accepts an absent or empty body (also a chunked one,
// whose length is unknown) or {}; anything else goes through the strict
// decoder, which names what is wrong.
func decodeEmptyBody(r *http.Request) error {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return nil
	}
	br := bufio.NewReader(r.Body)
	if _, err := br.Peek(1); errors.Is(err, io.EOF) {
		return nil
	}
	r.Body = struct {
		io.Reader
		io.Closer
	}{br, r.Body}
	return httpx.DecodeJSON(r, &emptyRequest{})
}

func decodeAddLesson(_ context.Context, r *http.Request) (any, error) {
	var in LessonInput
	if err := httpx.DecodeJSON(r, &in); err != nil {
		return nil, err
	}
	return addLessonRequest{CourseID: mux.Vars(r)["id"], Input: in}, nil
}

// encodePDF writes a certificate as an inline PDF that may be cached.
func encodePDF(_ context.Context, w http.ResponseWriter, response any) error {
	res := response.(pdfResponse)
	h := w.Header()
	h.Set("Content-Type", "application/pdf")
	h.Set("Content-Disposition", `inline; filename="certificate-`+fileSafe(res.ID)+`.pdf"`)
	h.Set("Content-Length", strconv.Itoa(len(res.PDF)))
	h.Set("Cache-Control", maxAgeHeader(CertificatePDFMaxAge))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(res.PDF) // a failed write means the client left
	return nil
}

// fileSafe keeps the characters of a UUID, so an id can never break out of
// the quoted filename.
func fileSafe(id string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') {
			return r
		}
		return -1
	}, id)
}

// encodePublicJSON writes a public document as JSON that may be cached for
// maxAge. Set, not Add: httpx.SecurityHeaders already put no-store there.
func encodePublicJSON(maxAge time.Duration) httptransport.EncodeResponseFunc {
	cc := maxAgeHeader(maxAge)
	return func(_ context.Context, w http.ResponseWriter, response any) error {
		w.Header().Set("Cache-Control", cc)
		return httpx.WriteJSON(w, http.StatusOK, response)
	}
}

func maxAgeHeader(d time.Duration) string {
	return "public, max-age=" + strconv.FormatInt(int64(d/time.Second), 10)
}
