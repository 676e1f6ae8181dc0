package education

import (
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/httpx"
	"github.com/azora-os/azora/shared/page"
)

// The request and response bodies of the endpoints. CourseInput and
// LessonInput are the domain's own (education.go); ids always come from
// the path, never from a body.
type (
	catalogueRequest struct {
		Q    string
		Page page.Request
	}
	// idRequest names one course, enrollment or certificate.
	idRequest struct {
		ID string
	}
	updateCourseRequest struct {
		ID    string
		Patch CoursePatch
	}
	addLessonRequest struct {
		CourseID string
		Input    LessonInput
	}
	updateLessonRequest struct {
		CourseID string
		LessonID string
		Patch    LessonPatch
	}
	completeLessonRequest struct {
		EnrollmentID string
		LessonID     string
	}
	// listRequest is a page of the caller's own enrollments or certificates.
	listRequest struct {
		Page page.Request
	}
	// emptyRequest is what routes without input decode.
	emptyRequest struct{}

	courseResponse struct {
		Course Course `json:"course"`
	}
	lessonResponse struct {
		Lesson Lesson `json:"lesson"`
	}
	enrollmentResponse struct {
		Enrollment Enrollment `json:"enrollment"`
	}
	// enrolledResponse is enrollmentResponse answered by POST …/enrollments.
	enrolledResponse struct {
		Enrollment Enrollment `json:"enrollment"`
	}
	progressResponse struct {
		Progress Progress `json:"progress"`
	}
	certificateResponse struct {
		Certificate Certificate `json:"certificate"`
	}
	// pdfResponse is a rendered certificate; ID names its file.
	pdfResponse struct {
		ID  string
		PDF []byte
	}
)

// StatusCode makes httpx.EncodeJSON answer 201 for an enrollment that is
// active at once (a free course) and 202 for one that waits for finance's
// payment (API.md): the client polls GET /enrollments/{id} for the outcome.
func (r enrolledResponse) StatusCode() int {
	if r.Enrollment.Status == EnrollmentPending {
		return http.StatusAccepted
	}
	return http.StatusCreated
}

// Input limits, in characters (runes). Bodies are capped at 1 MiB anyway;
// these keep pages and certificates printable and searches cheap.
const (
	maxTitleRunes       = 200
	maxDescriptionRunes = 10_000
	maxContentRunes     = 100_000
	maxQueryRunes       = 200
)

// inputProblems collects every bad field of a request, so a client learns
// all of them from one 400.
type inputProblems []errs.FieldError

func (f *inputProblems) add(field, message string) {
	*f = append(*f, errs.FieldError{Field: field, Message: message})
}

// err returns errs.Validation of the collected fields, or nil.
func (f inputProblems) err() error {
	if len(f) == 0 {
		return nil
	}
	return errs.Validation(f...)
}

// title trims *s and checks its length.
func (f *inputProblems) title(field string, s *string) {
	*s = strings.TrimSpace(*s)
	if n := utf8.RuneCountInString(*s); n == 0 || n > maxTitleRunes {
		f.add(field, "must be 1 to 200 characters")
	}
}

// description trims *s and checks its length.
func (f *inputProblems) description(s *string) {
	*s = strings.TrimSpace(*s)
	if utf8.RuneCountInString(*s) > maxDescriptionRunes {
		f.add("description", "must be at most 10,000 characters")
	}
}

// content trims *s, a lesson's content, and checks its length.
func (f *inputProblems) content(s *string) {
	*s = strings.TrimSpace(*s)
	if n := utf8.RuneCountInString(*s); n == 0 || n > maxContentRunes {
		f.add("content", "must be 1 to 100,000 characters")
	}
}

// price checks a price as sent: no rounding, no case folding, so what is
// stored is exactly what the instructor asked for.
func (f *inputProblems) price(p *Money) {
	if p == nil {
		return
	}
	if p.Amount <= 0 {
		f.add("price.amount", "must be a positive integer of minor units (omit price for a free course)")
	}
	if !isCurrencyCode(p.Currency) {
		f.add("price.currency", "must be an ISO 4217 code of 3 uppercase letters, such as USD")
	}
}

func isCurrencyCode(s string) bool {
	if len(s) != 3 {
		return false
	}
	for i := range len(s) {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

// checkCourseInput trims in's text and checks it: a title, a description
// that fits, a positive price in a currency code (or no price: free).
func checkCourseInput(in *CourseInput) error {
	var f inputProblems
	f.title("title", &in.Title)
	f.description(&in.Description)
	f.price(in.Price)
	return f.err()
}

// checkCoursePatch trims and checks what p changes, and refuses a patch
// that changes nothing. It replaces p's string pointers rather than write
// through them, so a caller's strings stay its own.
func checkCoursePatch(p *CoursePatch) error {
	if p.Title == nil && p.Description == nil && !p.SetPrice {
		return errs.Validation(errs.FieldError{Field: "(body)", Message: "must set at least one of title, description, price"}).
			WithMessage("the patch changes nothing")
	}
	var f inputProblems
	if p.Title != nil {
		t := *p.Title
		f.title("title", &t)
		p.Title = &t
	}
	if p.Description != nil {
		d := *p.Description
		f.description(&d)
		p.Description = &d
	}
	if p.SetPrice {
		f.price(p.Price)
	}
	return f.err()
}

// checkLessonInput trims in's text and checks it: a title and some
// content, each within its limit.
func checkLessonInput(in *LessonInput) error {
	var f inputProblems
	f.title("title", &in.Title)
	f.content(&in.Content)
	return f.err()
}

// checkLessonPatch trims what p sets and checks it as checkLessonInput
// does; a patch that sets nothing is refused.
func checkLessonPatch(p *LessonPatch) error {
	if p.Title == nil && p.Content == nil {
		return errs.Validation(errs.FieldError{Field: "(body)", Message: "must set at least one of title, content"}).
			WithMessage("the patch changes nothing")
	}
	var f inputProblems
	if p.Title != nil {
		t := *p.Title
		f.title("title", &t)
		p.Title = &t
	}
	if p.Content != nil {
		c := *p.Content
		f.content(&c)
		p.Content = &c
	}
	return f.err()
}

// check trims the search text and bounds it: a full-text query is parsed
// and planned per request.
func (r *catalogueRequest) check() error {
	var f inputProblems
	r.Q = strings.TrimSpace(r.Q)
	if utf8.RuneCountInString(r.Q) > maxQueryRunes {
		f.add("q", "must be at most 200 characters")
	}
	return f.err()
}

// validID reports whether id can name a row: every id is a UUID in its
// canonical 36-character form. Anything else names nothing, so the caller
// answers not found without asking the database (which would refuse to
// cast it).
func validID(id string) bool { return httpx.ValidUUID(id) }
