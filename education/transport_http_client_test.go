package education_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"sync"
	"testing"

	"github.com/go-kit/kit/endpoint"

	"github.com/azora-os/azora/education"
	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/kit"
	"github.com/azora-os/azora/shared/logging"
	"github.com/azora-os/azora/shared/page"
)

// newHTClient returns an HTTP client of instance whose middleware records
// the endpoint names it wraps calls of.
func newHTClient(t *testing.T, instance string) (education.Service, func() []string) {
	t.Helper()
	var mu sync.Mutex
	var names []string
	svc, err := education.NewHTTPClient(instance, education.WithClientMiddleware(func(name string) endpoint.Middleware {
		return func(next endpoint.Endpoint) endpoint.Endpoint {
			return func(ctx context.Context, req any) (any, error) {
				mu.Lock()
				names = append(names, name)
				mu.Unlock()
				return next(ctx, req)
			}
		}
	}))
	if err != nil {
		t.Fatalf("NewHTTPClient(%q): %v", instance, err)
	}
	return svc, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(names)
	}
}

// testHTTPClientEnrollments is the gateway dashboard's call: the caller's
// token, request id and page travel, the page comes back whole.
func testHTTPClientEnrollments(t *testing.T, e *htEnv) {
	f := newHTFake()
	svc, names := newHTClient(t, e.server(t, f).URL)
	ctx := logging.WithRequestID(kit.WithToken(context.Background(), e.tokens["student"]), "req-dash-1")

	// The Actor argument is not sent: the token decides whose list it is.
	got, err := svc.Enrollments(ctx, education.Actor{UserID: "someone-else"}, page.Request{Limit: 7, Cursor: "c/+1"})
	if err != nil {
		t.Fatalf("Enrollments: %v", err)
	}
	want := htEnrollment("student-1", education.EnrollmentActive)
	want.InstructorID = ""
	if !reflect.DeepEqual(got, page.Page[education.Enrollment]{Items: []education.Enrollment{want}, NextCursor: "next-enrollments"}) {
		t.Errorf("page: got %+v", got)
	}
	if args, _ := f.called("Enrollments"); !reflect.DeepEqual(args, []any{htActors["student"], page.Request{Limit: 7, Cursor: "c/+1"}}) {
		t.Errorf("server args: got %#v, want the token's actor and the page", args)
	}
	if got := f.requestID("Enrollments"); got != "req-dash-1" {
		t.Errorf("request id at the server: got %q, want req-dash-1", got)
	}
	if !slices.Equal(names(), []string{education.NameEnrollments}) {
		t.Errorf("middleware names: got %v, want [%s]", names(), education.NameEnrollments)
	}

	tests := []struct {
		name string
		ctx  context.Context
		p    page.Request
		fail error
		want *errs.Error
	}{
		{"no token", context.Background(), page.Request{}, nil, kit.ErrMissingToken},
		{"bad token", kit.WithToken(context.Background(), e.tokens["bad"]), page.Request{}, nil, kit.ErrInvalidToken},
		{"token without user role", kit.WithToken(context.Background(), e.tokens["norole"]), page.Request{}, nil, kit.ErrForbidden},
		{"bad limit", ctx, page.Request{Limit: 500}, nil, errs.Validation()},
		{"bad cursor", ctx, page.Request{Cursor: "x"}, page.ErrBadCursor, page.ErrBadCursor},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.failWith("Enrollments", tt.fail)
			_, err := svc.Enrollments(tt.ctx, education.Actor{}, tt.p)
			if !errors.Is(err, tt.want) {
				t.Fatalf("error: got %v, want code %s", err, tt.want.Code)
			}
			if got := errs.KindOf(err); got != tt.want.Kind {
				t.Errorf("kind: got %s, want %s", got, tt.want.Kind)
			}
		})
	}
}

// testHTTPClientRoundTrip calls every other Service method through the
// HTTP client and the real handler, and checks what the fake received and
// what came back.
func testHTTPClientRoundTrip(t *testing.T, e *htEnv) {
	f := newHTFake()
	svc, names := newHTClient(t, e.server(t, f).URL)
	bg := context.Background()
	as := func(who string) context.Context { return kit.WithToken(bg, e.tokens[who]) }
	instructor, student := htActors["instructor"], htActors["student"]
	check := func(method string, want ...any) {
		t.Helper()
		if got, ok := f.called(method); !ok || !reflect.DeepEqual(got, want) {
			t.Errorf("%s args at the server: got %#v (called %v), want %#v", method, got, ok, want)
		}
	}

	in := education.CourseInput{Title: "Go", Description: "d", Price: &education.Money{Amount: 100, Currency: "USD"}}
	if c, err := svc.CreateCourse(as("instructor"), education.Actor{}, in); err != nil || c.ID != htCourseID || c.Status != education.CourseDraft {
		t.Errorf("CreateCourse: got %+v, %v", c, err)
	}
	check("CreateCourse", instructor, in)

	if p, err := svc.Catalogue(bg, "go basics", page.Request{Limit: 3}); err != nil || len(p.Items) != 1 || p.NextCursor != "next-courses" {
		t.Errorf("Catalogue: got %+v, %v", p, err)
	}
	check("Catalogue", "go basics", page.Request{Limit: 3})

	if c, err := svc.Course(bg, nil, htCourseID); err != nil || len(c.Lessons) != 1 {
		t.Errorf("Course anonymous: got %+v, %v", c, err)
	}
	check("Course", (*education.Actor)(nil), htCourseID)
	if _, err := svc.Course(as("instructor"), nil, htCourseID); err != nil {
		t.Errorf("Course as owner: %v", err)
	}
	check("Course", &instructor, htCourseID)

	for _, p := range []education.CoursePatch{
		{Title: htPtr("New"), Description: htPtr("")},
		{SetPrice: true},
		{SetPrice: true, Price: &education.Money{Amount: 5, Currency: "EUR"}},
	} {
		if _, err := svc.UpdateCourse(as("instructor"), education.Actor{}, htCourseID, p); err != nil {
			t.Errorf("UpdateCourse(%+v): %v", p, err)
		}
		check("UpdateCourse", instructor, htCourseID, p)
	}

	if l, err := svc.AddLesson(as("instructor"), education.Actor{}, htCourseID, education.LessonInput{Title: "L", Content: "C"}); err != nil || l.Title != "L" {
		t.Errorf("AddLesson: got %+v, %v", l, err)
	}
	check("AddLesson", instructor, htCourseID, education.LessonInput{Title: "L", Content: "C"})

	if err := svc.DeleteCourse(as("instructor"), education.Actor{}, htCourseID); err != nil {
		t.Errorf("DeleteCourse: %v", err)
	}
	check("DeleteCourse", instructor, htCourseID)

	lp := education.LessonPatch{Content: htPtr("C2")}
	if l, err := svc.UpdateLesson(as("instructor"), education.Actor{}, htCourseID, htLessonID, lp); err != nil || l.Content != "C2" {
		t.Errorf("UpdateLesson: got %+v, %v", l, err)
	}
	check("UpdateLesson", instructor, htCourseID, htLessonID, lp)
	if _, err := svc.UpdateLesson(as("instructor"), education.Actor{}, htCourseID, "7", lp); !errors.Is(err, education.ErrLessonNotFound) {
		t.Errorf("UpdateLesson of a lesson id that is not a UUID: got %v, want lesson_not_found unsent", err)
	}

	if c, err := svc.Publish(as("instructor"), education.Actor{}, htCourseID); err != nil || c.PublishedAt == nil {
		t.Errorf("Publish: got %+v, %v", c, err)
	}
	check("Publish", instructor, htCourseID)

	f.setEnrollStatus(education.EnrollmentPending)
	if en, err := svc.Enroll(as("student"), education.Actor{}, htCourseID); err != nil || en.Status != education.EnrollmentPending {
		t.Errorf("Enroll (202): got %+v, %v", en, err)
	}
	check("Enroll", student, htCourseID)

	if en, err := svc.Enrollment(as("student"), education.Actor{}, htEnrollmentID); err != nil || en.ID != htEnrollmentID {
		t.Errorf("Enrollment: got %+v, %v", en, err)
	}
	if p, err := svc.CompleteLesson(as("student"), education.Actor{}, htEnrollmentID, htLessonID); err != nil || p.Percent != 66 {
		t.Errorf("CompleteLesson: got %+v, %v", p, err)
	}
	check("CompleteLesson", student, htEnrollmentID, htLessonID)
	if p, err := svc.Certificates(as("student"), education.Actor{}, page.Request{}); err != nil || len(p.Items) != 1 || p.NextCursor != "" {
		t.Errorf("Certificates: got %+v, %v", p, err)
	}
	check("Certificates", student, page.Request{Limit: page.DefaultLimit})
	if c, err := svc.Certificate(bg, htCertificateID); err != nil || c.LearnerName != "Ada Lovelace" {
		t.Errorf("Certificate: got %+v, %v", c, err)
	}
	if v, err := svc.Verify(bg, htCertificateID); err != nil || !v.Valid || v.Certificate == nil {
		t.Errorf("Verify: got %+v, %v", v, err)
	}
	if b, err := svc.CertificatePDF(bg, htCertificateID); err != nil || !bytes.Equal(b, htPDF) {
		t.Errorf("CertificatePDF: got %q, %v", b, err)
	}
	if ks, err := svc.CertificateKeys(bg); err != nil || !reflect.DeepEqual(ks, htKeys) {
		t.Errorf("CertificateKeys: got %+v, %v", ks, err)
	}

	wantNames := []string{education.NameCreateCourse, education.NameCatalogue, education.NameCourse, education.NameCourse,
		education.NameUpdateCourse, education.NameUpdateCourse, education.NameUpdateCourse, education.NameAddLesson,
		education.NameDeleteCourse, education.NameUpdateLesson, education.NameUpdateLesson, education.NamePublish, education.NameEnroll, education.NameEnrollment, education.NameCompleteLesson,
		education.NameCertificates, education.NameCertificate, education.NameVerify, education.NameCertificatePDF,
		education.NameCertificateKeys}
	if got := names(); !slices.Equal(got, wantNames) {
		t.Errorf("middleware names: got %v, want %v", got, wantNames)
	}
}

// testHTTPClientErrors checks errors that keep their code across the hop,
// ids refused before sending, and an instance that does not answer.
func testHTTPClientErrors(t *testing.T, e *htEnv) {
	f := newHTFake()
	svc, names := newHTClient(t, e.server(t, f).URL)
	student := kit.WithToken(context.Background(), e.tokens["student"])

	f.failWith("Enroll", education.ErrAlreadyEnrolled)
	if _, err := svc.Enroll(student, education.Actor{}, htCourseID); !errors.Is(err, education.ErrAlreadyEnrolled) || errs.KindOf(err) != errs.Conflict {
		t.Errorf("Enroll: got %v, want already_enrolled (conflict)", err)
	}
	f.failWith("CompleteLesson", education.ErrEnrollmentNotActive)
	if _, err := svc.CompleteLesson(student, education.Actor{}, htEnrollmentID, htLessonID); !errors.Is(err, education.ErrEnrollmentNotActive) {
		t.Errorf("CompleteLesson: got %v, want enrollment_not_active", err)
	}
	if _, err := svc.AddLesson(student, education.Actor{}, htCourseID, education.LessonInput{Title: "t", Content: "c"}); !errors.Is(err, kit.ErrForbidden) {
		t.Errorf("AddLesson as a student: got %v, want forbidden", err)
	}

	before := len(names())
	unsent := []struct {
		name string
		call func() error
		want error
	}{
		{"course", func() error { _, err := svc.Course(student, nil, "../enrollments"); return err }, education.ErrCourseNotFound},
		{"enrollment", func() error { _, err := svc.Enrollment(student, education.Actor{}, "a/b"); return err }, education.ErrEnrollmentNotFound},
		{"lesson", func() error {
			_, err := svc.CompleteLesson(student, education.Actor{}, htEnrollmentID, "")
			return err
		}, education.ErrLessonNotFound},
		{"certificate pdf", func() error { _, err := svc.CertificatePDF(student, "?x=1"); return err }, education.ErrCertificateNotFound},
	}
	for _, u := range unsent {
		t.Run("unsent "+u.name, func(t *testing.T) {
			if err := u.call(); !errors.Is(err, u.want) {
				t.Errorf("error: got %v, want %v", err, u.want)
			}
		})
	}
	if got := f.methods(); slices.Contains(got, "Course") || slices.Contains(got, "Enrollment") || slices.Contains(got, "CertificatePDF") {
		t.Errorf("server calls: got %v, want none for invalid ids", got)
	}
	if got := len(names()) - before; got != len(unsent) {
		t.Errorf("client middleware calls: got %d, want %d (the ids are refused inside the client endpoint)", got, len(unsent))
	}

	t.Run("unreachable", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("listen: %v", err)
		}
		addr := ln.Addr().String()
		ln.Close() // nothing listens there now
		down, _ := newHTClient(t, addr)
		_, err = down.Enrollments(student, education.Actor{}, page.Request{})
		if !errors.Is(err, education.ErrEducationUnreachable) || !errs.IsServerFault(err) {
			t.Errorf("error: got %v, want education_unreachable, a server fault", err)
		}
	})

	t.Run("not a url", func(t *testing.T) {
		for _, instance := range []string{"ftp://education", "http://", "http://[::1"} {
			if _, err := education.NewHTTPClient(instance); errs.As(err).Code != "invalid_education_url" {
				t.Errorf("NewHTTPClient(%q): got %v, want invalid_education_url", instance, err)
			}
		}
	})

	t.Run("not a pdf", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			_, _ = w.Write([]byte("<html>proxy error</html>"))
		}))
		t.Cleanup(srv.Close)
		odd, _ := newHTClient(t, srv.URL)
		if _, err := odd.CertificatePDF(context.Background(), htCertificateID); errs.KindOf(err) != errs.Internal {
			t.Errorf("error: got %v, want an internal error", err)
		}
	})
}
