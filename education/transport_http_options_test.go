package education_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/go-kit/log"
	"github.com/gorilla/mux"

	"github.com/azora-os/azora/education"
	"github.com/azora-os/azora/shared/httpx"
	"github.com/azora-os/azora/shared/page"
)

// testHTTPRouteMiddleware checks the hook main uses for the
// Idempotency-Key middleware: it wraps only the named route, sees the raw
// request before the body is decoded, can answer on its own, and nests
// in the order given.
func testHTTPRouteMiddleware(t *testing.T, e *htEnv) {
	f := newHTFake()
	var mu sync.Mutex
	var seen []string
	mw := func(tag string) func(http.Handler) http.Handler {
		return func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				seen = append(seen, tag+" "+r.Method+" "+r.Header.Get("Idempotency-Key"))
				mu.Unlock()
				if r.Header.Get("Idempotency-Key") == "replay" {
					w.Header().Set("Idempotent-Replayed", "true")
					w.WriteHeader(http.StatusCreated)
					_, _ = io.WriteString(w, `{"enrollment":{}}`)
					return
				}
				next.ServeHTTP(w, r)
			})
		}
	}
	calls := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(seen)
	}
	srv := e.server(t, f, education.WithRouteMiddleware(education.NameEnroll, mw("outer")),
		education.WithRouteMiddleware(education.NameEnroll, mw("inner")))
	send := func(path, key string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+e.tokens["student"])
		if key != "" {
			req.Header.Set("Idempotency-Key", key)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatalf("POST %s: %v", path, err)
		}
		resp.Body.Close()
		return resp
	}

	if resp := send("/api/v1/courses/"+htCourseID+"/enrollments", "k1"); resp.StatusCode != http.StatusCreated {
		t.Errorf("enroll: got %d, want 201", resp.StatusCode)
	}
	if want := []string{"outer POST k1", "inner POST k1"}; !slices.Equal(calls(), want) {
		t.Errorf("middleware calls: got %v, want %v (first option outermost)", calls(), want)
	}
	if _, ok := f.called("Enroll"); !ok {
		t.Errorf("Enroll was not reached through the middleware")
	}

	f2 := newHTFake()
	srv = e.server(t, f2, education.WithEnrollMiddleware(mw("only")))
	mu.Lock()
	seen = nil
	mu.Unlock()
	if resp := send("/api/v1/courses/"+htCourseID+"/enrollments", "replay"); resp.StatusCode != http.StatusCreated || resp.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("replayed enroll: got %d replayed %q, want 201 true", resp.StatusCode, resp.Header.Get("Idempotent-Replayed"))
	}
	if _, ok := f2.called("Enroll"); ok {
		t.Errorf("a replay reached the Service")
	}
	if resp := send("/api/v1/courses/"+htCourseID+"/publish", "p1"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("publish as a student: got %d, want 403", resp.StatusCode)
	}
	if got := calls(); !slices.Equal(got, []string{"only POST replay"}) {
		t.Errorf("middleware calls: got %v, want only the enroll route's", got)
	}

	t.Run("unknown name panics", func(t *testing.T) {
		defer func() {
			if r := recover(); r == nil || !strings.Contains(r.(string), `"enrol"`) {
				t.Errorf("recover: got %v, want a panic naming \"enrol\"", r)
			}
		}()
		eps := education.MakeEndpoints(f, log.NewNopLogger(), nil, e.v)
		education.MakeHTTPHandler(eps, mux.NewRouter(), log.NewNopLogger(), education.WithRouteMiddleware("enrol", mw("typo")))
	})
}

// testHTTPWithoutVerifier checks that endpoints built without a Verifier
// fail closed: user routes refuse every caller, and the course route
// treats every caller as anonymous.
func testHTTPWithoutVerifier(t *testing.T, e *htEnv) {
	f := newHTFake()
	logger := log.NewNopLogger()
	r := mux.NewRouter()
	httpx.HandleUnmatched(r, logger)
	education.MakeHTTPHandler(education.MakeEndpoints(f, logger, nil, nil), r, logger)
	srv := httptest.NewServer(httpx.Stack(logger, r))
	t.Cleanup(srv.Close)

	r1 := e.do(t, srv, http.MethodGet, education.PathEnrollments, htRequest{who: "admin"})
	r1.Problem(t, http.StatusUnauthorized, "missing_token")

	r2 := e.do(t, srv, http.MethodGet, "/api/v1/courses/"+htCourseID, htRequest{who: "admin"})
	if r2.Status != http.StatusOK {
		t.Fatalf("course: got %d, want 200 (%s)", r2.Status, r2.Body)
	}
	if args, _ := f.called("Course"); args[0].(*education.Actor) != nil {
		t.Errorf("course actor: got %+v, want nil (nothing verified the token)", args[0])
	}
	if got := f.methods(); !slices.Equal(got, []string{"Course"}) {
		t.Errorf("service calls: got %v, want [Course]", got)
	}
}

// htNoRows is a Service whose lists come back without a slice at all.
type htNoRows struct{ *htFake }

func (htNoRows) Catalogue(context.Context, string, page.Request) (page.Page[education.Course], error) {
	return page.Page[education.Course]{}, nil
}

func (htNoRows) Enrollments(context.Context, education.Actor, page.Request) (page.Page[education.Enrollment], error) {
	return page.Page[education.Enrollment]{}, nil
}

func (htNoRows) Certificates(context.Context, education.Actor, page.Request) (page.Page[education.Certificate], error) {
	return page.Page[education.Certificate]{}, nil
}

// testHTTPEmptyLists checks that an empty list is {"items": []}, never
// null and without next_cursor, whatever the Service returns.
func testHTTPEmptyLists(t *testing.T, e *htEnv) {
	srv := e.server(t, htNoRows{newHTFake()})
	for _, path := range []string{education.PathCourses, education.PathEnrollments, education.PathCertificates} {
		t.Run(path, func(t *testing.T) {
			r := e.do(t, srv, http.MethodGet, path, htRequest{who: "student"})
			if got := strings.TrimSpace(string(r.Body)); r.Status != http.StatusOK || got != `{"items":[]}` {
				t.Errorf("got %d %s, want 200 {\"items\":[]}", r.Status, got)
			}
		})
	}
}
