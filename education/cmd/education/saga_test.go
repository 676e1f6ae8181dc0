package main

import (
	"slices"
	"testing"

	"github.com/azora-os/azora/shared/app/apptest"
	"github.com/azora-os/azora/shared/events"
)

var usd = map[string]any{"amount": 1999, "currency": "USD"}

// enroll enrols student in a paid course and returns the enrollment id.
func (w *world) enrollPaid(t *testing.T, student user, courseID string) string {
	t.Helper()
	r := w.c.Do(t, "POST", "/api/v1/courses/"+courseID+"/enrollments", student.token, nil)
	apptest.Want(t, r, 202, "")
	e := r.Obj("enrollment")
	if e["status"] != "pending_payment" {
		t.Fatalf("got %v, want pending_payment", e)
	}
	return e["id"].(string)
}

func (w *world) status(t *testing.T, student user, eid string) (status, reason string) {
	r := w.c.Do(t, "GET", "/api/v1/enrollments/"+eid, student.token, nil)
	apptest.Want(t, r, 200, "")
	e := r.Obj("enrollment")
	reason, _ = e["cancel_reason"].(string)
	return e["status"].(string), reason
}

func TestPaidEnrollmentSaga(t *testing.T) {
	t.Parallel()
	w := start(t, nil)
	inst := w.user(t, "instructor")
	courseID, lessons := w.course(t, inst, usd, 1)

	t.Run("payment.completed activates, once", func(t *testing.T) {
		student := w.user(t, "student")
		eid := w.enrollPaid(t, student, courseID)
		apptest.Want(t, w.c.Do(t, "POST", "/api/v1/enrollments/"+eid+"/lessons/"+lessons[0]+"/complete", student.token, nil), 409, "enrollment_not_active")

		req := w.eventsOf(t, student.id, 1)
		if len(req) != 1 || req[0].Type != "azora.education.enrollment.requested" {
			t.Fatalf("got %v, want enrollment.requested", types(req))
		}
		var d map[string]any
		req[0].Decode(&d)
		if d["enrollment_id"] != eid || d["instructor_id"] != inst.id || d["course_id"] != courseID || d["price"] == nil {
			t.Errorf("enrollment.requested data: got %v", d)
		}
		paid := w.produce(t, events.TopicFinance, "azora.finance.payment.completed", student.id, map[string]any{"payment_id": "p1", "enrollment_id": eid, "user_id": student.id, "amount": 1999})
		eventually(t, "activation", func() bool { s, _ := w.status(t, student, eid); return s == "active" })
		w.produceEvent(t, paid)                                                                                                                                                    // redelivered
		w.produce(t, events.TopicFinance, "azora.finance.payment.failed", student.id, map[string]any{"enrollment_id": eid, "user_id": student.id, "reason": "insufficient_funds"}) // late and contradictory
		evs := w.eventsOf(t, student.id, 2)
		if s, _ := w.status(t, student, eid); s != "active" {
			t.Errorf("after a redelivery and a late failure: got %s, want active", s)
		}
		if want := []string{"azora.education.enrollment.requested", "azora.education.enrollment.activated"}; !slices.Equal(types(evs), want) {
			t.Errorf("got events %v, want %v", types(evs), want)
		}
		apptest.Want(t, w.c.Do(t, "POST", "/api/v1/enrollments/"+eid+"/lessons/"+lessons[0]+"/complete", student.token, nil), 200, "")
	})

	t.Run("payment.failed cancels with the reason", func(t *testing.T) {
		student := w.user(t, "student")
		eid := w.enrollPaid(t, student, courseID)
		w.produce(t, events.TopicFinance, "azora.finance.payment.failed", student.id, map[string]any{"enrollment_id": eid, "user_id": student.id, "reason": "insufficient_funds"})
		eventually(t, "cancellation", func() bool { s, _ := w.status(t, student, eid); return s == "cancelled" })
		if _, reason := w.status(t, student, eid); reason != "insufficient_funds" {
			t.Errorf("cancel_reason: got %q", reason)
		}
		w.produce(t, events.TopicFinance, "azora.finance.payment.completed", student.id, map[string]any{"payment_id": "p2", "enrollment_id": eid, "user_id": student.id, "amount": 1999})
		if evs := w.eventsOf(t, student.id, 2); !slices.Equal(types(evs), []string{"azora.education.enrollment.requested", "azora.education.enrollment.cancelled"}) {
			t.Errorf("got events %v", types(evs))
		}
		if s, _ := w.status(t, student, eid); s != "cancelled" {
			t.Errorf("a completed payment after the failure: got %s, want cancelled", s)
		}
		// A cancelled enrollment does not block a new attempt.
		w.enrollPaid(t, student, courseID)
	})
}

func TestPendingEnrollmentTimesOut(t *testing.T) {
	t.Parallel()
	w := start(t, map[string]string{"EDUCATION_PAYMENT_TIMEOUT": "1s", "EDUCATION_TIMEOUT_CHECK_EVERY": "100ms"})
	courseID, _ := w.course(t, w.user(t, "instructor"), usd, 1)
	student := w.user(t, "student")
	eid := w.enrollPaid(t, student, courseID)
	eventually(t, "the payment timeout", func() bool { s, _ := w.status(t, student, eid); return s == "cancelled" })
	if _, reason := w.status(t, student, eid); reason != "payment_timeout" {
		t.Errorf("cancel_reason: got %q, want payment_timeout", reason)
	}
	evs := w.eventsOf(t, student.id, 2)
	if want := []string{"azora.education.enrollment.requested", "azora.education.enrollment.cancelled"}; !slices.Equal(types(evs), want) {
		t.Errorf("got events %v, want %v (finance refunds a charge that arrives late)", types(evs), want)
	}
}

func TestEnrollmentIdempotencyKey(t *testing.T) {
	t.Parallel()
	w := start(t, nil)
	courseID, _ := w.course(t, w.user(t, "instructor"), nil, 1)
	student := w.user(t, "student")
	path := "/api/v1/courses/" + courseID + "/enrollments"
	first := w.c.Do(t, "POST", path, student.token, nil, "Idempotency-Key", "enrol-1")
	apptest.Want(t, first, 201, "")
	again := w.c.Do(t, "POST", path, student.token, nil, "Idempotency-Key", "enrol-1")
	apptest.Want(t, again, 201, "")
	if string(again.Raw) != string(first.Raw) || again.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("replay: got %s (replayed %q), want the first answer again", again.Raw, again.Header.Get("Idempotent-Replayed"))
	}
	apptest.Want(t, w.c.Do(t, "POST", path, student.token, nil, "Idempotency-Key", "enrol-2"), 409, "already_enrolled")
}
