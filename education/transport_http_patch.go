package education

import (
	"bytes"
	"context"
	"encoding/json"
	"mime"
	"net/http"
	"slices"

	"github.com/gorilla/mux"

	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/httpx"
)

// coursePatchBody is the merge patch PATCH /courses/{id} accepts. Only
// these three members exist, so one naming the owner, the status, an id or
// a date is an unknown field (400), not silently ignored.
type coursePatchBody struct {
	Title       patchMember[string] `json:"title"`
	Description patchMember[string] `json:"description"`
	Price       patchMember[Money]  `json:"price"`
}

// lessonPatchBody is the merge patch PATCH /courses/{id}/lessons/{lesson_id}
// accepts: the title and the content, neither of which may be removed.
type lessonPatchBody struct {
	Title   patchMember[string] `json:"title"`
	Content patchMember[string] `json:"content"`
}

// patchMember is one member of a merge patch, which has three states a Go
// pointer cannot tell apart: absent (leave alone), null (remove) and a
// value (replace).
type patchMember[T any] struct {
	Set   bool // the member was present
	Null  bool // … as null
	Value T
}

// UnmarshalJSON records the member as present; encoding/json calls it for
// a null too. The value is decoded as strictly as the body around it.
func (m *patchMember[T]) UnmarshalJSON(b []byte) error {
	m.Set = true
	if string(b) == "null" {
		m.Null = true
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(&m.Value)
}

// decodeUpdateCourse decodes a JSON merge patch (RFC 7396) of a course
// into a CoursePatch: "price": null makes the course free and
// "description": null empties the description; "title": null is refused
// (a course always has a title). Content-Type application/json or
// application/merge-patch+json. An empty patch decodes, and the endpoint
// refuses it (validation_failed) after checking the caller.
func decodeUpdateCourse(_ context.Context, r *http.Request) (any, error) {
	if err := checkPatchMediaType(r); err != nil {
		return nil, err
	}
	var body coursePatchBody
	if err := httpx.DecodeJSON(r, &body); err != nil {
		return nil, err
	}
	if body.Title.Null {
		return nil, errs.Validation(errs.FieldError{Field: "title", Message: "cannot be removed: a course always has a title"})
	}
	var p CoursePatch
	if body.Title.Set {
		p.Title = &body.Title.Value
	}
	if body.Description.Set {
		p.Description = &body.Description.Value // "" when null
	}
	if body.Price.Set {
		p.SetPrice = true
		if !body.Price.Null {
			p.Price = &body.Price.Value
		}
	}
	return updateCourseRequest{ID: mux.Vars(r)["id"], Patch: p}, nil
}

// patchMediaTypes are what PATCH accepts: a JSON merge patch, or plain
// JSON meaning the same. application/json-patch+json (RFC 6902, a list of
// operations) is another language, so it is a 415 rather than a confusing
// 400 about its shape.
var patchMediaTypes = []string{"application/json", "application/merge-patch+json"}

func checkPatchMediaType(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if ct != "" && err == nil && !slices.Contains(patchMediaTypes, mt) {
		return httpx.ErrUnsupportedMediaType.WithMessage("the Content-Type %q is not supported; send application/merge-patch+json", mt)
	}
	return nil // httpx.DecodeJSON refuses a missing or malformed one
}

// decodeUpdateLesson decodes a JSON merge patch of a lesson into a
// LessonPatch; "title": null and "content": null are refused (a lesson
// always has both). Content types as decodeUpdateCourse's; an empty patch
// decodes, and the endpoint refuses it after checking the caller.
func decodeUpdateLesson(_ context.Context, r *http.Request) (any, error) {
	if err := checkPatchMediaType(r); err != nil {
		return nil, err
	}
	var body lessonPatchBody
	if err := httpx.DecodeJSON(r, &body); err != nil {
		return nil, err
	}
	var f []errs.FieldError
	var p LessonPatch
	for _, m := range []struct {
		name   string
		member *patchMember[string]
		to     **string
	}{{"title", &body.Title, &p.Title}, {"content", &body.Content, &p.Content}} {
		switch {
		case m.member.Null:
			f = append(f, errs.FieldError{Field: m.name, Message: "cannot be removed: a lesson always has one"})
		case m.member.Set:
			*m.to = &m.member.Value
		}
	}
	if len(f) > 0 {
		return nil, errs.Validation(f...)
	}
	vars := mux.Vars(r)
	return updateLessonRequest{CourseID: vars["id"], LessonID: vars["lesson_id"], Patch: p}, nil
}
