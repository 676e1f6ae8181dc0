package main

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/azora-os/azora/shared/app/apptest"
	"github.com/azora-os/azora/shared/events"
)

// completeAll completes every lesson of the student's enrollment.
func (w *world) completeAll(t *testing.T, student user, eid string, lessons []string) {
	t.Helper()
	for _, l := range lessons {
		apptest.Want(t, w.c.Do(t, "POST", "/api/v1/enrollments/"+eid+"/lessons/"+l+"/complete", student.token, nil), 200, "")
	}
}

// enrollFree enrolls the student in a free course and returns the
// enrollment's id.
func (w *world) enrollFree(t *testing.T, student user, courseID string) string {
	t.Helper()
	r := w.c.Do(t, "POST", "/api/v1/courses/"+courseID+"/enrollments", student.token, nil)
	apptest.Want(t, r, 201, "")
	return r.Obj("enrollment")["id"].(string)
}

// certificatesOf returns the learner names on the student's certificates.
func (w *world) certificatesOf(t *testing.T, student user) []string {
	t.Helper()
	r := w.c.Do(t, "GET", "/api/v1/certificates", student.token, nil)
	apptest.Want(t, r, 200, "")
	var names []string
	for _, it := range r.Body["items"].([]any) {
		names = append(names, it.(map[string]any)["learner_name"].(string))
	}
	return names
}

// TestCertificateWaitsForTheLearnersName: a course completed before auth's
// user.registered reached education gets no certificate with a made-up
// name; the certificate is issued, with the real name, once the event
// arrives, and a redelivery issues no second one.
func TestCertificateWaitsForTheLearnersName(t *testing.T) {
	t.Parallel()
	w := start(t, nil)
	inst, student := w.user(t, "instructor"), w.user(t, "student")
	courseID, lessons := w.course(t, inst, nil, 2)
	eid := w.enrollFree(t, student, courseID)
	w.completeAll(t, student, eid, lessons)

	en := w.c.Do(t, "GET", "/api/v1/enrollments/"+eid, student.token, nil)
	if en.Obj("enrollment")["status"] != "completed" {
		t.Fatalf("got %s, want completed", en.Raw)
	}
	if names := w.certificatesOf(t, student); len(names) != 0 {
		t.Fatalf("a certificate before the name is known: %v", names)
	}

	registered := w.produce(t, events.TopicAuth, "azora.auth.user.registered", student.id,
		map[string]any{"user_id": student.id, "email": "ada@example.com", "name": "Ada Obi", "roles": []string{"student"}})
	eventually(t, "the certificate", func() bool { return len(w.certificatesOf(t, student)) == 1 })
	if names := w.certificatesOf(t, student); !slices.Equal(names, []string{"Ada Obi"}) {
		t.Errorf("certificates: %v, want one for Ada Obi", names)
	}
	w.produceEvent(t, registered) // redelivered
	// A later event of the same key is applied after the redelivery.
	w.produce(t, events.TopicAuth, "azora.auth.user.registered", student.id,
		map[string]any{"user_id": student.id, "email": "ada@example.com", "name": "Ada Obi-Probe", "roles": []string{"student"}})
	eventually(t, "the redelivery applied", func() bool {
		var name string
		w.db(t).Get(&name, `SELECT name FROM learners WHERE user_id = $1`, student.id)
		return name == "Ada Obi-Probe"
	})
	if names := w.certificatesOf(t, student); !slices.Equal(names, []string{"Ada Obi"}) {
		t.Errorf("after the redelivery: certificates %v, want the one for Ada Obi", names)
	}
	want := []string{"azora.education.enrollment.activated", "azora.education.lesson.completed", "azora.education.lesson.completed",
		"azora.education.course.completed", "azora.education.certificate.issued"}
	if got := types(w.eventsOf(t, student.id, len(want))); !slices.Equal(got, want) {
		t.Errorf("got events %v, want %v", got, want)
	}
}

// TestCertificateWhileTheNameArrives completes courses at the moment their
// learners' names arrive, for many learners at once: whichever comes
// first, every learner ends with exactly one certificate, in their name.
func TestCertificateWhileTheNameArrives(t *testing.T) {
	t.Parallel()
	w := start(t, nil)
	inst := w.user(t, "instructor")
	courseID, lessons := w.course(t, inst, nil, 1)
	const n = 24
	students := make([]user, n)
	eids := make([]string, n)
	for i := range students {
		students[i] = w.user(t, "student")
		eids[i] = w.enrollFree(t, students[i], courseID)
	}
	var wg sync.WaitGroup
	for i, s := range students {
		wg.Add(2)
		go func() {
			defer wg.Done()
			w.completeAll(t, s, eids[i], lessons)
		}()
		go func() {
			defer wg.Done()
			w.produce(t, events.TopicAuth, "azora.auth.user.registered", s.id,
				map[string]any{"user_id": s.id, "email": fmt.Sprintf("l%d@example.com", i), "name": fmt.Sprintf("Learner %d", i), "roles": []string{"student"}})
		}()
	}
	wg.Wait()
	for i, s := range students {
		eventually(t, fmt.Sprintf("learner %d's certificate", i), func() bool { return len(w.certificatesOf(t, s)) > 0 })
		if names := w.certificatesOf(t, s); !slices.Equal(names, []string{fmt.Sprintf("Learner %d", i)}) {
			t.Errorf("learner %d: certificates %v, want one in their name", i, names)
		}
	}
}
