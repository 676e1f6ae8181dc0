package education

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/azora-os/azora/shared/page"
)

// repoEnroll stores an enrollment of user in c with status, created at
// created (now when zero), and returns it as Enrollment returns it.
func repoEnroll(t *testing.T, h repoHarness, c Course, user, status string, created time.Time) Enrollment {
	t.Helper()
	if created.IsZero() {
		created = repoNow()
	}
	e := Enrollment{ID: repoID(t), CourseID: c.ID, UserID: user, InstructorID: c.InstructorID,
		Status: status, Price: c.Price, CreatedAt: created, UpdatedAt: created}
	if status == EnrollmentActive {
		e.ActivatedAt = &created
	}
	if err := h.repo.CreateEnrollment(context.Background(), e); err != nil {
		t.Fatalf("create enrollment: %v", err)
	}
	got, err := h.repo.Enrollment(context.Background(), e.ID)
	if err != nil {
		t.Fatalf("enrollment: %v", err)
	}
	return got
}

func contractEnrollments(t *testing.T, h repoHarness) {
	ctx := context.Background()
	published := repoNow()
	paid := repoNewCourse(t, h, "Paid", "", &Money{Amount: 4900, Currency: "USD"}, 2, &published)
	free := repoNewCourse(t, h, "Free", "", nil, 1, &published)

	t.Run("round trip and save", func(t *testing.T) {
		user := repoID(t)
		e := repoEnroll(t, h, paid, user, EnrollmentPending, time.Time{})
		if e.CourseID != paid.ID || e.UserID != user || e.InstructorID != paid.InstructorID ||
			e.Status != EnrollmentPending || e.Price == nil || *e.Price != *paid.Price ||
			e.ActivatedAt != nil || e.CompletedAt != nil || e.CancelReason != "" ||
			e.Progress != (Progress{TotalLessons: 2}) {
			t.Errorf("got %+v, want the pending enrollment with 0 of 2 lessons", e)
		}
		now := repoNow()
		e.Status, e.CancelReason, e.UpdatedAt = EnrollmentCancelled, "insufficient_funds", now
		if err := h.repo.SaveEnrollment(ctx, e); err != nil {
			t.Fatal(err)
		}
		got, err := h.repo.Enrollment(ctx, e.ID)
		if err != nil || got.Status != EnrollmentCancelled || got.CancelReason != "insufficient_funds" || !got.UpdatedAt.Equal(now) {
			t.Errorf("got %+v, %v; want cancelled with its reason", got, err)
		}
		f := repoEnroll(t, h, free, user, EnrollmentActive, time.Time{})
		if f.Price != nil || f.ActivatedAt == nil || f.Status != EnrollmentActive {
			t.Errorf("got %+v, want an active free enrollment", f)
		}
	})
	t.Run("one live enrollment per user and course", func(t *testing.T) {
		user := repoID(t)
		first := repoEnroll(t, h, paid, user, EnrollmentPending, time.Time{})
		e := Enrollment{ID: repoID(t), CourseID: paid.ID, UserID: user, InstructorID: paid.InstructorID,
			Status: EnrollmentActive, CreatedAt: repoNow(), UpdatedAt: repoNow()}
		repoWantErr(t, "second enrollment", h.repo.CreateEnrollment(ctx, e), ErrAlreadyEnrolled)
		first.Status, first.CancelReason = EnrollmentCancelled, ReasonPaymentTimeout
		if err := h.repo.SaveEnrollment(ctx, first); err != nil {
			t.Fatal(err)
		}
		if err := h.repo.CreateEnrollment(ctx, e); err != nil {
			t.Fatalf("enrolling again after a cancellation: got %v, want nil", err)
		}
		first.Status = EnrollmentActive // reviving the cancelled one would make two live ones
		repoWantErr(t, "reviving a cancelled enrollment", h.repo.SaveEnrollment(ctx, first), ErrAlreadyEnrolled)
	})
	t.Run("100 concurrent enrollments, one wins", func(t *testing.T) {
		user := repoID(t)
		var wg sync.WaitGroup
		results := make(chan error, 100)
		for range 100 {
			wg.Go(func() {
				e := Enrollment{ID: repoID(t), CourseID: paid.ID, UserID: user, InstructorID: paid.InstructorID,
					Status: EnrollmentPending, Price: paid.Price, CreatedAt: repoNow(), UpdatedAt: repoNow()}
				results <- h.repo.CreateEnrollment(ctx, e)
			})
		}
		wg.Wait()
		close(results)
		won, lost := 0, 0
		for err := range results {
			switch {
			case err == nil:
				won++
			case errors.Is(err, ErrAlreadyEnrolled):
				lost++
			default:
				t.Errorf("got error %v, want nil or already_enrolled", err)
			}
		}
		if won != 1 || lost != 99 {
			t.Errorf("got %d enrolled and %d already_enrolled, want 1 and 99", won, lost)
		}
		p, err := h.repo.Enrollments(ctx, user, page.Request{Limit: 100})
		if err != nil || len(p.Items) != 1 {
			t.Fatalf("got %d enrollments (%v), want 1", len(p.Items), err)
		}
		e := p.Items[0]
		e.Status, e.CancelReason = EnrollmentCancelled, ReasonPaymentTimeout
		if err := h.repo.SaveEnrollment(ctx, e); err != nil {
			t.Fatal(err)
		}
		repoEnroll(t, h, paid, user, EnrollmentPending, time.Time{}) // allowed again
	})
	t.Run("list newest first, paged, own only", func(t *testing.T) {
		user, other := repoID(t), repoID(t)
		base := repoNow().Add(-time.Hour)
		var want []Enrollment // newest first
		for i := range 5 {
			c := repoNewCourse(t, h, "List", "", nil, i, &published)
			want = append([]Enrollment{repoEnroll(t, h, c, user, EnrollmentActive, base.Add(time.Duration(i)*time.Minute))}, want...)
			repoEnroll(t, h, c, other, EnrollmentActive, base)
		}
		var got []Enrollment
		cursor := ""
		for range 10 {
			p, err := h.repo.Enrollments(ctx, user, page.Request{Limit: 2, Cursor: cursor})
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, p.Items...)
			if cursor = p.NextCursor; cursor == "" {
				break
			}
		}
		if len(got) != len(want) {
			t.Fatalf("got %d enrollments, want %d", len(got), len(want))
		}
		for i := range got {
			if got[i].ID != want[i].ID || got[i].Progress.TotalLessons != want[i].Progress.TotalLessons {
				t.Errorf("item %d: got %s (%d lessons), want %s (%d lessons)", i, got[i].ID,
					got[i].Progress.TotalLessons, want[i].ID, want[i].Progress.TotalLessons)
			}
		}
		p, err := h.repo.Enrollments(ctx, "not-a-uuid", page.Request{Limit: 2})
		if err != nil || len(p.Items) != 0 || p.Items == nil {
			t.Errorf("malformed user: got %+v, %v; want an empty page", p, err)
		}
		_, err = h.repo.Enrollments(ctx, user, page.Request{Limit: 2, Cursor: "!!"})
		repoWantErr(t, "bad cursor", err, page.ErrBadCursor)
	})
	t.Run("lock needs a transaction", func(t *testing.T) {
		e := repoEnroll(t, h, free, repoID(t), EnrollmentActive, time.Time{})
		err := h.tx.InTx(ctx, func(ctx context.Context) error {
			got, err := h.repo.LockEnrollment(ctx, e.ID)
			if err == nil && (got.ID != e.ID || got.Progress.TotalLessons != 1) {
				t.Errorf("got %+v, want the enrollment with its progress", got)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		_, err = h.repo.LockEnrollment(ctx, e.ID)
		repoWantInternal(t, "lock without a transaction", err)
		_, err = h.repo.LockPendingBefore(ctx, repoNow(), 10)
		repoWantInternal(t, "lock pending without a transaction", err)
	})
	t.Run("not found", func(t *testing.T) {
		for _, id := range []string{repoID(t), "not-a-uuid"} {
			_, err := h.repo.Enrollment(ctx, id)
			repoWantErr(t, "enrollment "+id, err, ErrEnrollmentNotFound)
			err = h.tx.InTx(ctx, func(ctx context.Context) error {
				_, err := h.repo.LockEnrollment(ctx, id)
				return err
			})
			repoWantErr(t, "lock enrollment "+id, err, ErrEnrollmentNotFound)
			err = h.repo.SaveEnrollment(ctx, Enrollment{ID: id, Status: EnrollmentActive, UpdatedAt: repoNow()})
			repoWantErr(t, "save enrollment "+id, err, ErrEnrollmentNotFound)
			_, err = h.repo.Progress(ctx, id)
			repoWantErr(t, "progress "+id, err, ErrEnrollmentNotFound)
			e := Enrollment{ID: repoID(t), CourseID: id, UserID: repoID(t), InstructorID: repoID(t),
				Status: EnrollmentActive, CreatedAt: repoNow(), UpdatedAt: repoNow()}
			repoWantErr(t, "enrol in course "+id, h.repo.CreateEnrollment(ctx, e), ErrCourseNotFound)
		}
	})
	t.Run("pending before a cutoff, oldest first", func(t *testing.T) {
		old := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC) // before every other case's rows
		var pending []Enrollment
		for i := range 4 {
			pending = append(pending, repoEnroll(t, h, paid, repoID(t), EnrollmentPending, old.Add(time.Duration(3-i)*time.Minute)))
		}
		repoEnroll(t, h, paid, repoID(t), EnrollmentActive, old)                      // not pending
		repoEnroll(t, h, paid, repoID(t), EnrollmentPending, old.Add(10*time.Minute)) // after the cutoff
		cutoff := old.Add(5 * time.Minute)
		err := h.tx.InTx(ctx, func(ctx context.Context) error {
			got, err := h.repo.LockPendingBefore(ctx, cutoff, 3)
			if err != nil {
				return err
			}
			want := []Enrollment{pending[3], pending[2], pending[1]}
			if len(got) != len(want) {
				t.Errorf("got %d enrollments, want %d", len(got), len(want))
				return nil
			}
			for i := range got {
				if got[i].ID != want[i].ID || got[i].Status != EnrollmentPending {
					t.Errorf("item %d: got %s created %v, want %s created %v", i, got[i].ID, got[i].CreatedAt, want[i].ID, want[i].CreatedAt)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}
