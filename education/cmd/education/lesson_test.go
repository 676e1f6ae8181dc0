package main

import (
	"testing"

	"github.com/azora-os/azora/shared/app/apptest"
)

// TestLessonEdit: the owner (or an admin) corrects a lesson of a published
// course in place; its place, the other lessons and learners' progress
// stay; nobody else may, and a lesson of another course is not found here.
func TestLessonEdit(t *testing.T) {
	t.Parallel()
	w := start(t, nil)
	owner, other, admin, student := w.user(t, "instructor"), w.user(t, "instructor"), w.user(t, "admin"), w.user(t, "student")
	courseID, lessons := w.course(t, owner, nil, 2)
	otherCourse, otherLessons := w.course(t, other, nil, 1)
	eid := w.enrollFree(t, student, courseID)
	apptest.Want(t, w.c.Do(t, "POST", "/api/v1/enrollments/"+eid+"/lessons/"+lessons[0]+"/complete", student.token, nil), 200, "")
	path := "/api/v1/courses/" + courseID + "/lessons/" + lessons[0]
	before := w.c.Do(t, "GET", "/api/v1/courses/"+courseID, "", nil).Obj("course")["lessons"].([]any)

	r := w.c.Do(t, "PATCH", path, owner.token, map[string]any{"content": "  Corrected text.  "})
	apptest.Want(t, r, 200, "")
	if l := r.Obj("lesson"); l["id"] != lessons[0] || l["content"] != "Corrected text." || l["position"] != float64(1) || l["title"] != before[0].(map[string]any)["title"] {
		t.Errorf("the edited lesson: got %s", r.Raw)
	}
	apptest.Want(t, w.c.Do(t, "PATCH", path, admin.token, map[string]any{"title": "Lesson one, revised"}), 200, "")
	after := w.c.Do(t, "GET", "/api/v1/courses/"+courseID, "", nil).Obj("course")["lessons"].([]any)
	first, second := after[0].(map[string]any), after[1].(map[string]any)
	if len(after) != 2 || first["id"] != lessons[0] || first["title"] != "Lesson one, revised" || first["content"] != "Corrected text." ||
		second["id"] != lessons[1] || second["content"] != before[1].(map[string]any)["content"] {
		t.Errorf("the course after the edits: %v", after)
	}
	p := w.c.Do(t, "GET", "/api/v1/enrollments/"+eid, student.token, nil).Obj("enrollment")["progress"].(map[string]any)
	if p["completed_lessons"] != float64(1) || p["total_lessons"] != float64(2) {
		t.Errorf("the learner's progress after the edits: %v, want 1 of 2", p)
	}

	for _, tc := range []struct {
		name, who, path string
		body            map[string]any
		status          int
		code            string
	}{
		{"another instructor", other.token, path, map[string]any{"title": "Mine now"}, 403, "forbidden"},
		{"a student", student.token, path, map[string]any{"title": "Mine now"}, 403, "forbidden"},
		{"a lesson of another course", owner.token, "/api/v1/courses/" + courseID + "/lessons/" + otherLessons[0], map[string]any{"title": "x"}, 404, "lesson_not_found"},
		{"another course's lesson, by its owner", other.token, "/api/v1/courses/" + otherCourse + "/lessons/" + lessons[0], map[string]any{"title": "x"}, 404, "lesson_not_found"},
		{"no title", owner.token, path, map[string]any{"title": nil}, 400, "validation_failed"},
		{"blank content", owner.token, path, map[string]any{"content": " "}, 400, "validation_failed"},
		{"nothing", owner.token, path, map[string]any{}, 400, "validation_failed"},
	} {
		apptest.Want(t, w.c.Do(t, "PATCH", tc.path, tc.who, tc.body), tc.status, tc.code)
	}
	if got := w.c.Do(t, "GET", "/api/v1/courses/"+courseID, "", nil).Obj("course")["lessons"].([]any)[0].(map[string]any); got["title"] != "Lesson one, revised" {
		t.Errorf("a refused edit changed the lesson: %v", got)
	}
}

// TestDeleteDraft: the owner (or an admin) deletes a draft and its
// lessons; a published course stays for its learners (409); nobody else
// may delete, and a draft is not even found by others.
func TestDeleteDraft(t *testing.T) {
	t.Parallel()
	w := start(t, nil)
	owner, other, admin := w.user(t, "instructor"), w.user(t, "instructor"), w.user(t, "admin")
	draft := func(who user) string {
		t.Helper()
		r := w.c.Do(t, "POST", "/api/v1/courses", who.token, map[string]any{"title": "Scratch", "description": "to be deleted"})
		apptest.Want(t, r, 201, "")
		id := r.Obj("course")["id"].(string)
		apptest.Want(t, w.c.Do(t, "POST", "/api/v1/courses/"+id+"/lessons", who.token, map[string]any{"title": "L", "content": "C"}), 201, "")
		return id
	}
	mine := draft(owner)
	apptest.Want(t, w.c.Do(t, "DELETE", "/api/v1/courses/"+mine, other.token, nil), 404, "course_not_found")
	apptest.Want(t, w.c.Do(t, "DELETE", "/api/v1/courses/"+mine, owner.token, nil), 204, "")
	apptest.Want(t, w.c.Do(t, "GET", "/api/v1/courses/"+mine, owner.token, nil), 404, "course_not_found")
	apptest.Want(t, w.c.Do(t, "DELETE", "/api/v1/courses/"+mine, owner.token, nil), 404, "course_not_found")
	var lessons int
	if err := w.db(t).Get(&lessons, `SELECT count(*) FROM lessons WHERE course_id = $1`, mine); err != nil || lessons != 0 {
		t.Errorf("the draft's lessons: %d left (%v), want none", lessons, err)
	}
	apptest.Want(t, w.c.Do(t, "DELETE", "/api/v1/courses/"+draft(owner), admin.token, nil), 204, "")

	published, _ := w.course(t, owner, nil, 1)
	apptest.Want(t, w.c.Do(t, "DELETE", "/api/v1/courses/"+published, owner.token, nil), 409, "course_published")
	apptest.Want(t, w.c.Do(t, "DELETE", "/api/v1/courses/"+published, other.token, nil), 403, "forbidden")
	apptest.Want(t, w.c.Do(t, "GET", "/api/v1/courses/"+published, "", nil), 200, "")
}
