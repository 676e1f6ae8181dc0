package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/azora-os/azora/shared/app/apptest"
	"github.com/azora-os/azora/shared/events"
)

func TestCourseLifecycleAndCatalogue(t *testing.T) {
	t.Parallel()
	w := start(t, nil)
	inst, other, student, admin := w.user(t, "instructor"), w.user(t, "instructor"), w.user(t, "student"), w.user(t, "admin")

	apptest.Want(t, w.c.Do(t, "POST", "/api/v1/courses", student.token, map[string]any{"title": "Nope"}), 403, "forbidden")
	apptest.Want(t, w.c.Do(t, "POST", "/api/v1/courses", "", map[string]any{"title": "Nope"}), 401, "missing_token")
	apptest.Want(t, w.c.Do(t, "POST", "/api/v1/courses", inst.token, map[string]any{"title": ""}), 400, "validation_failed")
	apptest.Want(t, w.c.Do(t, "POST", "/api/v1/courses", inst.token, map[string]any{"title": "X", "price": map[string]any{"amount": -5, "currency": "USD"}}), 400, "validation_failed")

	r := w.c.Do(t, "POST", "/api/v1/courses", inst.token, map[string]any{"title": "Distributed ledgers", "description": "Double-entry bookkeeping for engineers", "price": map[string]any{"amount": 1999, "currency": "USD"}})
	apptest.Want(t, r, 201, "")
	course := r.Obj("course")
	id := course["id"].(string)
	if course["status"] != "draft" || course["instructor_id"] != inst.id {
		t.Fatalf("got %v, want a draft owned by the instructor", course)
	}
	path := "/api/v1/courses/" + id

	apptest.Want(t, w.c.Do(t, "GET", path, "", nil), 404, "course_not_found")
	apptest.Want(t, w.c.Do(t, "GET", path, other.token, nil), 404, "course_not_found")
	apptest.Want(t, w.c.Do(t, "GET", path, inst.token, nil), 200, "")
	apptest.Want(t, w.c.Do(t, "GET", path, admin.token, nil), 200, "")
	apptest.Want(t, w.c.Do(t, "GET", path, "not-a-token", nil), 401, "invalid_token")

	apptest.Want(t, w.c.Do(t, "PATCH", path, inst.token, map[string]any{"status": "published"}), 400, "unknown_field")
	apptest.Want(t, w.c.Do(t, "PATCH", path, inst.token, map[string]any{"instructor_id": other.id}), 400, "unknown_field")
	apptest.Want(t, w.c.Do(t, "PATCH", path, other.token, map[string]any{"title": "Mine now"}), 404, "course_not_found")
	p := w.c.Do(t, "PATCH", path, inst.token, map[string]any{"title": "Distributed ledgers in Go", "price": nil})
	apptest.Want(t, p, 200, "")
	if p.Obj("course")["title"] != "Distributed ledgers in Go" || p.Obj("course")["price"] != nil {
		t.Errorf("patch: got %v, want the new title and no price (free)", p.Obj("course"))
	}

	apptest.Want(t, w.c.Do(t, "POST", path+"/publish", inst.token, nil), 422, "course_has_no_lessons")
	for i := range 3 {
		l := w.c.Do(t, "POST", path+"/lessons", inst.token, map[string]any{"title": fmt.Sprint("Lesson ", i+1), "content": "Postings sum to zero."})
		apptest.Want(t, l, 201, "")
		if got := l.Obj("lesson")["position"]; got != float64(i+1) {
			t.Errorf("lesson %d: got position %v", i+1, got)
		}
	}
	apptest.Want(t, w.c.Do(t, "POST", path+"/lessons", other.token, map[string]any{"title": "Spam", "content": "x"}), 404, "course_not_found")
	pub := w.c.Do(t, "POST", path+"/publish", inst.token, nil)
	apptest.Want(t, pub, 200, "")
	if pub.Obj("course")["status"] != "published" {
		t.Fatalf("got %v", pub.Raw)
	}
	apptest.Want(t, w.c.Do(t, "PATCH", path, other.token, map[string]any{"title": "Mine now"}), 403, "forbidden")

	got := w.c.Do(t, "GET", path, "", nil)
	apptest.Want(t, got, 200, "")
	if ls, _ := got.Obj("course")["lessons"].([]any); len(ls) != 3 {
		t.Errorf("anonymous GET: got %d lessons, want 3 in order", len(ls))
	}
	for _, q := range []string{"ledgers", "bookkeeping"} {
		list := w.c.Do(t, "GET", "/api/v1/courses?q="+q, "", nil)
		apptest.Want(t, list, 200, "")
		items, _ := list.Body["items"].([]any)
		if len(items) != 1 || items[0].(map[string]any)["id"] != id {
			t.Errorf("search %q: got %s, want the course", q, list.Raw)
		}
	}
	if evs := w.eventsOf(t, inst.id, 1); len(evs) != 1 || evs[0].Type != "azora.education.course.published" {
		t.Errorf("got events %v, want course.published", types(evs))
	}
}

func TestFreeEnrollmentProgressAndCertificate(t *testing.T) {
	t.Parallel()
	w := start(t, nil)
	inst, student := w.user(t, "instructor"), w.user(t, "student")
	// auth's user.registered tells education the learner's name.
	w.produce(t, events.TopicAuth, "azora.auth.user.registered", student.id, map[string]any{"user_id": student.id, "email": "zoe@example.com", "name": "Zoë Łukasiewicz", "roles": []string{"student"}})
	courseID, lessons := w.course(t, inst, nil, 3)

	apptest.Want(t, w.c.Do(t, "POST", "/api/v1/courses/"+courseID+"/enrollments", inst.token, nil), 403, "forbidden")
	r := w.c.Do(t, "POST", "/api/v1/courses/"+courseID+"/enrollments", student.token, nil)
	apptest.Want(t, r, 201, "")
	e := r.Obj("enrollment")
	if e["status"] != "active" {
		t.Fatalf("got %v, want active", e)
	}
	eid := e["id"].(string)
	apptest.Want(t, w.c.Do(t, "POST", "/api/v1/courses/"+courseID+"/enrollments", student.token, nil), 409, "already_enrolled")
	apptest.Want(t, w.c.Do(t, "GET", "/api/v1/enrollments/"+eid, w.user(t, "student").token, nil), 404, "enrollment_not_found")
	apptest.Want(t, w.c.Do(t, "POST", "/api/v1/enrollments/"+eid+"/lessons/"+lessons[0]+"x/complete", student.token, nil), 404, "")

	eventually(t, "the learner's name", func() bool {
		var n int
		w.db(t).Get(&n, `SELECT count(*) FROM learners WHERE user_id = $1`, student.id)
		return n == 1
	})
	for i, l := range lessons {
		p := w.c.Do(t, "POST", "/api/v1/enrollments/"+eid+"/lessons/"+l+"/complete", student.token, nil)
		apptest.Want(t, p, 200, "")
		if got := p.Obj("progress")["completed_lessons"]; got != float64(i+1) {
			t.Errorf("after lesson %d: got %v", i+1, p.Raw)
		}
	}
	again := w.c.Do(t, "POST", "/api/v1/enrollments/"+eid+"/lessons/"+lessons[0]+"/complete", student.token, nil)
	apptest.Want(t, again, 200, "")
	if again.Obj("progress")["percent"] != float64(100) {
		t.Errorf("repeat completion: got %s, want 100%%", again.Raw)
	}
	en := w.c.Do(t, "GET", "/api/v1/enrollments/"+eid, student.token, nil)
	if en.Obj("enrollment")["status"] != "completed" {
		t.Errorf("got %s, want completed", en.Raw)
	}

	certs := w.c.Do(t, "GET", "/api/v1/certificates", student.token, nil)
	items, _ := certs.Body["items"].([]any)
	if len(items) != 1 {
		t.Fatalf("got %s, want one certificate", certs.Raw)
	}
	certID := items[0].(map[string]any)["id"].(string)
	c := w.c.Do(t, "GET", "/api/v1/certificates/"+certID, "", nil)
	apptest.Want(t, c, 200, "")
	cert := c.Obj("certificate")
	for _, k := range []string{"id", "user_id", "course_id", "course_title", "learner_name", "issued_at", "signature"} {
		if cert[k] == nil || cert[k] == "" {
			t.Errorf("certificate lacks %s: %v", k, cert)
		}
	}
	if cert["learner_name"] != "Zoë Łukasiewicz" {
		t.Errorf("learner_name: got %v", cert["learner_name"])
	}
	v := w.c.Do(t, "GET", "/api/v1/certificates/"+certID+"/verify", "", nil)
	apptest.Want(t, v, 200, "")
	if v.Body["valid"] != true {
		t.Fatalf("verify: got %s, want valid", v.Raw)
	}

	t.Run("the PDF shows the learner and the id", func(t *testing.T) {
		pdf := w.c.Do(t, "GET", "/api/v1/certificates/"+certID+"/pdf", "", nil)
		apptest.Want(t, pdf, 200, "")
		if ct := pdf.Header.Get("Content-Type"); ct != "application/pdf" {
			t.Fatalf("content type %q", ct)
		}
		file := filepath.Join(t.TempDir(), "c.pdf")
		os.WriteFile(file, pdf.Raw, 0o600)
		out, err := exec.Command("pdftotext", "-layout", file, "-").CombinedOutput()
		if err != nil {
			t.Fatalf("pdftotext (installed by .ci/run: poppler-utils): %v: %s", err, out)
		}
		text := strings.Join(strings.Fields(string(out)), " ")
		for _, want := range []string{"Zoë Łukasiewicz", certID} {
			if !strings.Contains(text, want) {
				t.Errorf("PDF text lacks %q: %s", want, text)
			}
		}
	})
	t.Run("any altered field fails verification", func(t *testing.T) {
		for _, col := range []string{"learner_name", "course_title"} {
			w.db(t).MustExec(`UPDATE certificates SET `+col+` = `+col+` || '!' WHERE id = $1`, certID)
			v := w.c.Do(t, "GET", "/api/v1/certificates/"+certID+"/verify", "", nil)
			if v.Body["valid"] != false {
				t.Errorf("%s altered: got %s, want valid false", col, v.Raw)
			}
			w.db(t).MustExec(`UPDATE certificates SET `+col+` = left(`+col+`, -1) WHERE id = $1`, certID)
		}
		w.db(t).MustExec(`UPDATE certificates SET issued_at = issued_at + interval '1 second' WHERE id = $1`, certID)
		if v := w.c.Do(t, "GET", "/api/v1/certificates/"+certID+"/verify", "", nil); v.Body["valid"] != false {
			t.Errorf("issued_at altered: got %s, want valid false", v.Raw)
		}
	})

	evs := w.eventsOf(t, student.id, 6)
	want := []string{"azora.education.enrollment.activated", "azora.education.lesson.completed", "azora.education.lesson.completed",
		"azora.education.lesson.completed", "azora.education.course.completed", "azora.education.certificate.issued"}
	if !slices.Equal(types(evs), want) {
		t.Errorf("got events %v, want %v", types(evs), want)
	}
}

func TestConcurrentCompletionsAndEnrollments(t *testing.T) {
	t.Parallel()
	w := start(t, nil)
	inst := w.user(t, "instructor")
	courseID, lessons := w.course(t, inst, nil, 2)

	student := w.user(t, "student")
	var created, conflicts atomic.Int32
	var wg sync.WaitGroup
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			switch r := w.c.Do(t, "POST", "/api/v1/courses/"+courseID+"/enrollments", student.token, nil); r.Status {
			case 201:
				created.Add(1)
			case 409:
				conflicts.Add(1)
			default:
				t.Errorf("got %d %s", r.Status, r.Raw)
			}
		}()
	}
	wg.Wait()
	if created.Load() != 1 || conflicts.Load() != 99 {
		t.Fatalf("100 concurrent enrollments: got %d created, %d conflicts; want 1 and 99", created.Load(), conflicts.Load())
	}
	list := w.c.Do(t, "GET", "/api/v1/enrollments", student.token, nil)
	items, _ := list.Body["items"].([]any)
	if len(items) != 1 {
		t.Fatalf("got %d enrollments, want 1", len(items))
	}
	eid := items[0].(map[string]any)["id"].(string)

	for range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := w.c.Do(t, "POST", "/api/v1/enrollments/"+eid+"/lessons/"+lessons[0]+"/complete", student.token, nil)
			if r.Status != 200 {
				t.Errorf("got %d %s", r.Status, r.Raw)
			}
		}()
	}
	wg.Wait()
	p := w.c.Do(t, "GET", "/api/v1/enrollments/"+eid, student.token, nil)
	if got := p.Obj("enrollment")["progress"].(map[string]any)["completed_lessons"]; got != float64(1) {
		t.Errorf("200 concurrent completions of one lesson: got %v completed, want 1", got)
	}
	evs := w.eventsOf(t, student.id, 2)
	if n := strings.Count(strings.Join(types(evs), " "), "lesson.completed"); n != 1 {
		t.Errorf("got %d lesson.completed events, want 1", n)
	}
}

func types(evs []events.Event) []string { return apptest.Types(evs) }
