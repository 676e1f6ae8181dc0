package education_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/azora-os/azora/education"
	"github.com/azora-os/azora/shared/page"
)

func testHTTPCourseRoutes(t *testing.T, e *htEnv) {
	get, post, patch, del := http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodDelete
	coursePath := "/api/v1/courses/" + htCourseID
	instructor, student, admin := htActors["instructor"], htActors["student"], htActors["admin"]

	t.Run("create course", func(t *testing.T) {
		p := education.PathCourses
		e.run(t, []htCase{
			{name: "created draft", method: post, path: p, htRequest: htRequest{who: "instructor",
				body: `{"title":"  Go  ","description":" Learn Go ","price":{"amount":1999,"currency":"USD"}}`},
				status: 201, calls: "CreateCourse", check: htAll(htWantKeys("course"),
					htWantArgs("CreateCourse", instructor, education.CourseInput{Title: "Go", Description: "Learn Go", Price: &education.Money{Amount: 1999, Currency: "USD"}}),
					htWantBody("course", education.Course{ID: htCourseID, InstructorID: htInstructorID, Title: "Go", Description: "Learn Go",
						Price: &education.Money{Amount: 1999, Currency: "USD"}, Status: education.CourseDraft, CreatedAt: htCreatedAt, UpdatedAt: htCreatedAt}))},
			{name: "free by admin", method: post, path: p, htRequest: htRequest{who: "admin", body: `{"title":"Free","price":null}`},
				status: 201, calls: "CreateCourse", check: htWantArgs("CreateCourse", admin, education.CourseInput{Title: "Free"})},
			{name: "required title", method: post, path: p, htRequest: htRequest{who: "instructor", body: `{"title":"   "}`},
				status: 400, code: "validation_failed", fields: []string{"title"}},
			{name: "every bad field", method: post, path: p, htRequest: htRequest{who: "instructor",
				body: `{"title":"` + strings.Repeat("é", 201) + `","description":"` + strings.Repeat("d", 10001) + `","price":{"amount":0,"currency":"usd"}}`},
				status: 400, code: "validation_failed", fields: []string{"title", "description", "price.amount", "price.currency"}},
			{name: "limits inclusive", method: post, path: p, htRequest: htRequest{who: "instructor",
				body: `{"title":"` + strings.Repeat("é", 200) + `","description":"` + strings.Repeat("d", 10000) + `","price":{"amount":1,"currency":"EUR"}}`},
				status: 201, calls: "CreateCourse"},
			{name: "negative price", method: post, path: p, htRequest: htRequest{who: "instructor", body: `{"title":"Go","price":{"amount":-5,"currency":"USD"}}`},
				status: 400, code: "validation_failed", fields: []string{"price.amount"}},
			{name: "fractional price", method: post, path: p, htRequest: htRequest{who: "instructor", body: `{"title":"Go","price":{"amount":19.99,"currency":"USD"}}`},
				status: 400, code: "validation_failed", fields: []string{"price.amount"}},
			{name: "owner not from body", method: post, path: p, htRequest: htRequest{who: "instructor", body: `{"title":"Go","instructor_id":"someone"}`},
				status: 400, code: "unknown_field", fields: []string{"instructor_id"}},
			{name: "status not from body", method: post, path: p, htRequest: htRequest{who: "instructor", body: `{"title":"Go","status":"published"}`},
				status: 400, code: "unknown_field", fields: []string{"status"}},
			{name: "malformed json", method: post, path: p, htRequest: htRequest{who: "instructor", body: `{"title":`},
				status: 400, code: "malformed_json"},
			{name: "not json", method: post, path: p, htRequest: htRequest{who: "instructor", body: `title=Go`, ctype: "application/x-www-form-urlencoded"},
				status: 415, code: "unsupported_media_type"},
			{name: "missing token", method: post, path: p, htRequest: htRequest{body: `{"title":"Go"}`}, status: 401, code: "missing_token"},
			{name: "bad token", method: post, path: p, htRequest: htRequest{who: "bad", body: `{"title":"Go"}`}, status: 401, code: "invalid_token"},
			{name: "expired token", method: post, path: p, htRequest: htRequest{who: "expired", body: `{"title":"Go"}`}, status: 401, code: "invalid_token"},
			{name: "student refused", method: post, path: p, htRequest: htRequest{who: "student", body: `{"title":"Go"}`}, status: 403, code: "forbidden"},
			{name: "student learns nothing of the body", method: post, path: p, htRequest: htRequest{who: "student", body: `{"title":""}`},
				status: 403, code: "forbidden"},
		})
	})

	t.Run("catalogue", func(t *testing.T) {
		p := education.PathCourses
		e.run(t, []htCase{
			{name: "first page", method: get, path: p, status: 200, calls: "Catalogue", check: htAll(
				htWantKeys("items", "next_cursor"), htWantArgs("Catalogue", "", page.Request{Limit: page.DefaultLimit}),
				htWantBody("", page.Page[education.Course]{Items: []education.Course{htCourse()}, NextCursor: "next-courses"}))},
			{name: "search and cursor", method: get, path: p + "?q=+golang+basics+&limit=5&cursor=abc", status: 200, calls: "Catalogue",
				check: htWantArgs("Catalogue", "golang basics", page.Request{Limit: 5, Cursor: "abc"})},
			{name: "with a token too", method: get, path: p, htRequest: htRequest{who: "student"}, status: 200, calls: "Catalogue"},
			{name: "limit too large", method: get, path: p + "?limit=101", status: 400, code: "validation_failed", fields: []string{"limit"}},
			{name: "limit not a number", method: get, path: p + "?limit=ten", status: 400, code: "validation_failed", fields: []string{"limit"}},
			{name: "query too long", method: get, path: p + "?q=" + strings.Repeat("a", 201), status: 400, code: "validation_failed", fields: []string{"q"}},
			{name: "bad cursor", method: get, path: p + "?cursor=zzz", fail: htFails("Catalogue", page.ErrBadCursor),
				status: 400, code: "invalid_cursor", calls: "Catalogue"},
		})
	})

	t.Run("course", func(t *testing.T) {
		withLessons := htCourse()
		withLessons.Lessons = []education.Lesson{htLesson()}
		e.run(t, []htCase{
			{name: "anonymous", method: get, path: coursePath, status: 200, calls: "Course", check: htAll(
				htWantKeys("course"), htWantArgs("Course", (*education.Actor)(nil), htCourseID), htWantBody("course", withLessons),
				func(t *testing.T, r htResponse, _ *htFake) {
					t.Helper()
					var body struct {
						Course map[string]any `json:"course"`
					}
					r.Decode(t, &body)
					if ls, ok := body.Course["lessons"].([]any); !ok || len(ls) != 1 {
						t.Errorf("lessons: got %v, want one lesson", body.Course["lessons"])
					}
				})},
			{name: "owner as actor", method: get, path: coursePath, htRequest: htRequest{who: "instructor"}, status: 200, calls: "Course",
				check: htWantArgs("Course", &instructor, htCourseID)},
			{name: "admin as actor", method: get, path: coursePath, htRequest: htRequest{who: "admin"}, status: 200, calls: "Course",
				check: htWantArgs("Course", &admin, htCourseID)},
			{name: "bad token refused", method: get, path: coursePath, htRequest: htRequest{who: "bad"}, status: 401, code: "invalid_token"},
			{name: "expired token refused", method: get, path: coursePath, htRequest: htRequest{who: "expired"}, status: 401, code: "invalid_token"},
			{name: "other scheme refused", method: get, path: coursePath, htRequest: htRequest{auth: "Basic YWRhOnB3"}, status: 401, code: "invalid_token"},
			{name: "empty bearer refused", method: get, path: coursePath, htRequest: htRequest{auth: "Bearer   "}, status: 401, code: "invalid_token"},
			{name: "draft hidden", method: get, path: coursePath, htRequest: htRequest{who: "student"},
				fail: htFails("Course", education.ErrCourseNotFound), status: 404, code: "course_not_found", calls: "Course",
				check: htWantArgs("Course", &student, htCourseID)},
			{name: "not a uuid", method: get, path: "/api/v1/courses/not-a-uuid", status: 404, code: "course_not_found"},
		})
	})

	t.Run("update course", func(t *testing.T) {
		merge := "application/merge-patch+json"
		e.run(t, []htCase{
			{name: "title and description", method: patch, path: coursePath, htRequest: htRequest{who: "instructor", ctype: merge,
				body: `{"title":" Go 2 ","description":" new "}`}, status: 200, calls: "UpdateCourse", check: htAll(htWantKeys("course"),
				htWantArgs("UpdateCourse", instructor, htCourseID, education.CoursePatch{Title: htPtr("Go 2"), Description: htPtr("new")}))},
			{name: "price null makes free", method: patch, path: coursePath, htRequest: htRequest{who: "instructor", ctype: merge, body: `{"price":null}`},
				status: 200, calls: "UpdateCourse", check: htAll(
					htWantArgs("UpdateCourse", instructor, htCourseID, education.CoursePatch{SetPrice: true}),
					func(t *testing.T, r htResponse, _ *htFake) {
						t.Helper()
						var body struct {
							Course map[string]any `json:"course"`
						}
						r.Decode(t, &body)
						if v, ok := body.Course["price"]; !ok || v != nil {
							t.Errorf("price: got %v (present %v), want null", v, ok)
						}
					})},
			{name: "new price as plain json", method: patch, path: coursePath, htRequest: htRequest{who: "admin", body: `{"price":{"amount":500,"currency":"EUR"}}`},
				status: 200, calls: "UpdateCourse",
				check: htWantArgs("UpdateCourse", admin, htCourseID, education.CoursePatch{SetPrice: true, Price: &education.Money{Amount: 500, Currency: "EUR"}})},
			{name: "description null empties it", method: patch, path: coursePath, htRequest: htRequest{who: "instructor", body: `{"description":null}`},
				status: 200, calls: "UpdateCourse", check: htWantArgs("UpdateCourse", instructor, htCourseID, education.CoursePatch{Description: htPtr("")})},
			{name: "empty patch", method: patch, path: coursePath, htRequest: htRequest{who: "instructor", ctype: merge, body: `{}`},
				status: 400, code: "validation_failed", fields: []string{"(body)"}},
			{name: "title null", method: patch, path: coursePath, htRequest: htRequest{who: "instructor", body: `{"title":null}`},
				status: 400, code: "validation_failed", fields: []string{"title"}},
			{name: "bad values", method: patch, path: coursePath, htRequest: htRequest{who: "instructor",
				body: `{"title":"","price":{"amount":0,"currency":"US"}}`},
				status: 400, code: "validation_failed", fields: []string{"title", "price.amount", "price.currency"}},
			{name: "wrong type", method: patch, path: coursePath, htRequest: htRequest{who: "instructor", body: `{"price":{"amount":"ten","currency":"USD"}}`},
				status: 400, code: "validation_failed", fields: []string{"price.amount"}},
			{name: "status refused", method: patch, path: coursePath, htRequest: htRequest{who: "instructor", ctype: merge, body: `{"status":"published"}`},
				status: 400, code: "unknown_field", fields: []string{"status"}},
			{name: "owner refused", method: patch, path: coursePath, htRequest: htRequest{who: "admin", body: `{"title":"Go","instructor_id":"x"}`},
				status: 400, code: "unknown_field", fields: []string{"instructor_id"}},
			{name: "id refused", method: patch, path: coursePath, htRequest: htRequest{who: "instructor", body: `{"id":"x"}`},
				status: 400, code: "unknown_field", fields: []string{"id"}},
			{name: "created_at refused", method: patch, path: coursePath, htRequest: htRequest{who: "instructor", body: `{"created_at":"2020-01-01T00:00:00Z"}`},
				status: 400, code: "unknown_field", fields: []string{"created_at"}},
			{name: "unknown price member", method: patch, path: coursePath, htRequest: htRequest{who: "instructor", body: `{"price":{"amount":1,"currency":"USD","tax":1}}`},
				status: 400, code: "unknown_field"},
			{name: "json patch refused", method: patch, path: coursePath, htRequest: htRequest{who: "instructor", ctype: "application/json-patch+json",
				body: `[{"op":"replace","path":"/title","value":"x"}]`}, status: 415, code: "unsupported_media_type"},
			{name: "no content type", method: patch, path: coursePath, htRequest: htRequest{who: "instructor", ctype: "", body: ""},
				status: 415, code: "unsupported_media_type"},
			{name: "missing token", method: patch, path: coursePath, htRequest: htRequest{body: `{"title":"Go"}`}, status: 401, code: "missing_token"},
			{name: "student refused", method: patch, path: coursePath, htRequest: htRequest{who: "student", body: `{"title":"Go"}`}, status: 403, code: "forbidden"},
			{name: "not the owner", method: patch, path: coursePath, htRequest: htRequest{who: "instructor", body: `{"title":"Go"}`},
				fail: htFails("UpdateCourse", education.ErrNotOwner), status: 403, code: "forbidden", calls: "UpdateCourse"},
			{name: "not found", method: patch, path: coursePath, htRequest: htRequest{who: "instructor", body: `{"title":"Go"}`},
				fail: htFails("UpdateCourse", education.ErrCourseNotFound), status: 404, code: "course_not_found", calls: "UpdateCourse"},
			{name: "not a uuid", method: patch, path: "/api/v1/courses/42", htRequest: htRequest{who: "instructor", body: `{"title":"Go"}`},
				status: 404, code: "course_not_found"},
		})
	})

	t.Run("add lesson", func(t *testing.T) {
		p := coursePath + "/lessons"
		e.run(t, []htCase{
			{name: "created", method: post, path: p, htRequest: htRequest{who: "instructor", body: `{"title":" Hello ","content":"\nfmt.Println\n"}`},
				status: 201, calls: "AddLesson", check: htAll(htWantKeys("lesson"),
					htWantArgs("AddLesson", instructor, htCourseID, education.LessonInput{Title: "Hello", Content: "fmt.Println"}),
					htWantBody("lesson", education.Lesson{ID: htLessonID, CourseID: htCourseID, Position: 1, Title: "Hello", Content: "fmt.Println", CreatedAt: htCreatedAt}))},
			{name: "required fields", method: post, path: p, htRequest: htRequest{who: "instructor", body: `{"title":" ","content":"  "}`},
				status: 400, code: "validation_failed", fields: []string{"title", "content"}},
			{name: "content too long", method: post, path: p, htRequest: htRequest{who: "instructor", body: `{"title":"t","content":"` + strings.Repeat("c", 100001) + `"}`},
				status: 400, code: "validation_failed", fields: []string{"content"}},
			{name: "position not from body", method: post, path: p, htRequest: htRequest{who: "instructor", body: `{"title":"t","content":"c","position":1}`},
				status: 400, code: "unknown_field", fields: []string{"position"}},
			{name: "missing token", method: post, path: p, htRequest: htRequest{body: `{"title":"t","content":"c"}`}, status: 401, code: "missing_token"},
			{name: "student refused", method: post, path: p, htRequest: htRequest{who: "student", body: `{"title":"t","content":"c"}`}, status: 403, code: "forbidden"},
			{name: "not the owner", method: post, path: p, htRequest: htRequest{who: "instructor", body: `{"title":"t","content":"c"}`},
				fail: htFails("AddLesson", education.ErrNotOwner), status: 403, code: "forbidden", calls: "AddLesson"},
			{name: "course not found", method: post, path: p, htRequest: htRequest{who: "instructor", body: `{"title":"t","content":"c"}`},
				fail: htFails("AddLesson", education.ErrCourseNotFound), status: 404, code: "course_not_found", calls: "AddLesson"},
		})
	})

	t.Run("delete course", func(t *testing.T) {
		e.run(t, []htCase{
			{name: "deleted", method: del, path: coursePath, htRequest: htRequest{who: "instructor"}, status: 204, calls: "DeleteCourse",
				check: htWantArgs("DeleteCourse", instructor, htCourseID)},
			{name: "a body", method: del, path: coursePath, htRequest: htRequest{who: "instructor", body: `{"force":true}`}, status: 400, code: "unknown_field"},
			{name: "published", method: del, path: coursePath, htRequest: htRequest{who: "instructor"},
				fail: htFails("DeleteCourse", education.ErrCoursePublished), status: 409, code: "course_published", calls: "DeleteCourse"},
			{name: "not the owner", method: del, path: coursePath, htRequest: htRequest{who: "instructor"},
				fail: htFails("DeleteCourse", education.ErrNotOwner), status: 403, code: "forbidden", calls: "DeleteCourse"},
			{name: "student refused", method: del, path: coursePath, htRequest: htRequest{who: "student"}, status: 403, code: "forbidden"},
			{name: "missing token", method: del, path: coursePath, status: 401, code: "missing_token"},
			{name: "not a uuid", method: del, path: "/api/v1/courses/42", htRequest: htRequest{who: "instructor"}, status: 404, code: "course_not_found"},
		})
	})

	t.Run("update lesson", func(t *testing.T) {
		p := coursePath + "/lessons/" + htLessonID
		e.run(t, []htCase{
			{name: "content only", method: patch, path: p, htRequest: htRequest{who: "instructor", ctype: "application/merge-patch+json", body: `{"content":" fmt.Printf \n"}`},
				status: 200, calls: "UpdateLesson", check: htAll(htWantKeys("lesson"),
					htWantArgs("UpdateLesson", instructor, htCourseID, htLessonID, education.LessonPatch{Content: htPtr("fmt.Printf")}),
					htWantBody("lesson", education.Lesson{ID: htLessonID, CourseID: htCourseID, Position: 1, Title: "Hello", Content: "fmt.Printf", CreatedAt: htCreatedAt}))},
			{name: "both", method: patch, path: p, htRequest: htRequest{who: "admin", body: `{"title":" Hi ","content":"c"}`}, status: 200, calls: "UpdateLesson",
				check: htWantArgs("UpdateLesson", education.Actor{UserID: "admin-1", Roles: []string{"admin"}}, htCourseID, htLessonID,
					education.LessonPatch{Title: htPtr("Hi"), Content: htPtr("c")})},
			{name: "nothing to change", method: patch, path: p, htRequest: htRequest{who: "instructor", body: `{}`}, status: 400, code: "validation_failed"},
			{name: "nulls refused", method: patch, path: p, htRequest: htRequest{who: "instructor", body: `{"title":null,"content":null}`},
				status: 400, code: "validation_failed", fields: []string{"title", "content"}},
			{name: "blank title", method: patch, path: p, htRequest: htRequest{who: "instructor", body: `{"title":"  "}`},
				status: 400, code: "validation_failed", fields: []string{"title"}},
			{name: "position not from body", method: patch, path: p, htRequest: htRequest{who: "instructor", body: `{"position":2}`},
				status: 400, code: "unknown_field", fields: []string{"position"}},
			{name: "missing token", method: patch, path: p, htRequest: htRequest{body: `{"title":"t"}`}, status: 401, code: "missing_token"},
			{name: "student refused", method: patch, path: p, htRequest: htRequest{who: "student", body: `{"title":"t"}`}, status: 403, code: "forbidden"},
			{name: "not the owner", method: patch, path: p, htRequest: htRequest{who: "instructor", body: `{"title":"t"}`},
				fail: htFails("UpdateLesson", education.ErrNotOwner), status: 403, code: "forbidden", calls: "UpdateLesson"},
			{name: "lesson not found", method: patch, path: p, htRequest: htRequest{who: "instructor", body: `{"title":"t"}`},
				fail: htFails("UpdateLesson", education.ErrLessonNotFound), status: 404, code: "lesson_not_found", calls: "UpdateLesson"},
			{name: "lesson not a uuid", method: patch, path: coursePath + "/lessons/7", htRequest: htRequest{who: "instructor", body: `{"title":"t"}`},
				status: 404, code: "lesson_not_found"},
		})
	})

	t.Run("publish", func(t *testing.T) {
		p := coursePath + "/publish"
		e.run(t, []htCase{
			{name: "published", method: post, path: p, htRequest: htRequest{who: "instructor"}, status: 200, calls: "Publish",
				check: htAll(htWantKeys("course"), htWantArgs("Publish", instructor, htCourseID))},
			{name: "empty object body", method: post, path: p, htRequest: htRequest{who: "admin", body: `{}`}, status: 200, calls: "Publish"},
			{name: "status not from body", method: post, path: p, htRequest: htRequest{who: "instructor", body: `{"status":"draft"}`},
				status: 400, code: "unknown_field"},
			{name: "no lessons", method: post, path: p, htRequest: htRequest{who: "instructor"},
				fail: htFails("Publish", education.ErrCourseHasNoLessons), status: 422, code: "course_has_no_lessons", calls: "Publish"},
			{name: "missing token", method: post, path: p, status: 401, code: "missing_token"},
			{name: "student refused", method: post, path: p, htRequest: htRequest{who: "student"}, status: 403, code: "forbidden"},
			{name: "not the owner", method: post, path: p, htRequest: htRequest{who: "instructor"},
				fail: htFails("Publish", education.ErrNotOwner), status: 403, code: "forbidden", calls: "Publish"},
			{name: "not found", method: post, path: p, htRequest: htRequest{who: "instructor"},
				fail: htFails("Publish", education.ErrCourseNotFound), status: 404, code: "course_not_found", calls: "Publish"},
		})
	})
}
