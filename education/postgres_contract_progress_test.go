package education

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/azora-os/azora/shared/page"
)

func contractProgress(t *testing.T, h repoHarness) {
	ctx := context.Background()
	published := repoNow()

	// Percent is floor(100 * completed / total): 1 of 7 is 14, 6 of 7 is 85.
	tests := []struct {
		name          string
		lessons, done int
		wantPercent   int
	}{
		{"no lessons", 0, 0, 0},
		{"none done", 3, 0, 0},
		{"one of three", 3, 1, 33},
		{"two of three", 3, 2, 66},
		{"all three", 3, 3, 100},
		{"one of seven", 7, 1, 14},
		{"six of seven", 7, 6, 85},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := repoNewCourse(t, h, "Progress", "", nil, tc.lessons, &published)
			user := repoID(t)
			e := repoEnroll(t, h, c, user, EnrollmentActive, time.Time{})
			for _, l := range c.Lessons[:tc.done] {
				if ok, err := h.repo.CompleteLesson(ctx, e.ID, l.ID); err != nil || !ok {
					t.Fatalf("complete lesson %d: got %v, %v; want true, nil", l.Position, ok, err)
				}
			}
			want := Progress{CompletedLessons: tc.done, TotalLessons: tc.lessons, Percent: tc.wantPercent}
			if got, err := h.repo.Progress(ctx, e.ID); err != nil || got != want {
				t.Errorf("Progress: got %+v, %v; want %+v", got, err, want)
			}
			if got, err := h.repo.Enrollment(ctx, e.ID); err != nil || got.Progress != want {
				t.Errorf("Enrollment: got progress %+v, %v; want %+v", got.Progress, err, want)
			}
			if p, err := h.repo.Enrollments(ctx, user, page.Request{Limit: 5}); err != nil || len(p.Items) != 1 || p.Items[0].Progress != want {
				t.Errorf("Enrollments: got %+v, %v; want one item with progress %+v", p.Items, err, want)
			}
		})
	}

	c := repoNewCourse(t, h, "Completions", "", nil, 2, &published)
	other := repoNewCourse(t, h, "Other", "", nil, 1, &published)
	t.Run("completing twice counts once", func(t *testing.T) {
		e := repoEnroll(t, h, c, repoID(t), EnrollmentActive, time.Time{})
		for i, want := range []bool{true, false, false} {
			if got, err := h.repo.CompleteLesson(ctx, e.ID, c.Lessons[0].ID); err != nil || got != want {
				t.Errorf("call %d: got %v, %v; want %v", i+1, got, err, want)
			}
		}
		if p, _ := h.repo.Progress(ctx, e.ID); p.CompletedLessons != 1 {
			t.Errorf("got %d completed lessons, want 1", p.CompletedLessons)
		}
	})
	t.Run("200 concurrent completions, one inserts", func(t *testing.T) {
		e := repoEnroll(t, h, c, repoID(t), EnrollmentActive, time.Time{})
		var inserted, failed atomic.Int32
		var wg sync.WaitGroup
		for range 200 {
			wg.Go(func() {
				ok, err := h.repo.CompleteLesson(ctx, e.ID, c.Lessons[1].ID)
				if err != nil {
					failed.Add(1)
					t.Errorf("complete lesson: %v", err)
				}
				if ok {
					inserted.Add(1)
				}
			})
		}
		wg.Wait()
		if inserted.Load() != 1 || failed.Load() != 0 {
			t.Errorf("got %d true and %d errors, want exactly one true and no errors", inserted.Load(), failed.Load())
		}
		if p, _ := h.repo.Progress(ctx, e.ID); p != (Progress{CompletedLessons: 1, TotalLessons: 2, Percent: 50}) {
			t.Errorf("got %+v, want 1 of 2 (50%%)", p)
		}
	})
	t.Run("not found", func(t *testing.T) {
		e := repoEnroll(t, h, c, repoID(t), EnrollmentActive, time.Time{})
		tests := []struct {
			name               string
			enrollment, lesson string
			want               error
		}{
			{"unknown enrollment", repoID(t), c.Lessons[0].ID, ErrEnrollmentNotFound},
			{"malformed enrollment", "nope", c.Lessons[0].ID, ErrEnrollmentNotFound},
			{"unknown lesson", e.ID, repoID(t), ErrLessonNotFound},
			{"malformed lesson", e.ID, "nope", ErrLessonNotFound},
			{"lesson of another course", e.ID, other.Lessons[0].ID, ErrLessonNotFound},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				ok, err := h.repo.CompleteLesson(ctx, tc.enrollment, tc.lesson)
				if ok || !errors.Is(err, tc.want) {
					t.Errorf("got %v, %v; want false, %v", ok, err, tc.want)
				}
			})
		}
		if p, _ := h.repo.Progress(ctx, e.ID); p.CompletedLessons != 0 {
			t.Errorf("got %d completed lessons after refused completions, want 0", p.CompletedLessons)
		}
	})
}

func contractCertificates(t *testing.T, h repoHarness) {
	ctx := context.Background()
	published := repoNow()
	c := repoNewCourse(t, h, "Certified", "", nil, 1, &published)
	user := repoID(t)
	base := repoNow().Add(-time.Hour)
	var want []Certificate // newest first
	for i := range 3 {
		e := repoEnroll(t, h, c, user, EnrollmentActive, time.Time{})
		e.Status = EnrollmentCancelled // frees the course for the next enrollment
		if err := h.repo.SaveEnrollment(ctx, e); err != nil {
			t.Fatal(err)
		}
		cert := Certificate{ID: repoID(t), EnrollmentID: e.ID, UserID: user, CourseID: c.ID, CourseTitle: c.Title,
			LearnerName: "Ada Lovelace", IssuedAt: base.Add(time.Duration(i) * time.Minute), KeyID: "k1", Signature: "sig"}
		if err := h.repo.CreateCertificate(ctx, cert); err != nil {
			t.Fatalf("create certificate: %v", err)
		}
		want = append([]Certificate{cert}, want...)
	}

	t.Run("round trip", func(t *testing.T) {
		got, err := h.repo.Certificate(ctx, want[0].ID)
		if err != nil || got != want[0] {
			t.Errorf("got %+v, %v; want %+v", got, err, want[0])
		}
	})
	t.Run("list newest first, paged", func(t *testing.T) {
		p1, err := h.repo.Certificates(ctx, user, page.Request{Limit: 2})
		if err != nil || len(p1.Items) != 2 || p1.NextCursor == "" {
			t.Fatalf("page 1: got %+v, %v; want 2 items and a cursor", p1, err)
		}
		p2, err := h.repo.Certificates(ctx, user, page.Request{Limit: 2, Cursor: p1.NextCursor})
		if err != nil || len(p2.Items) != 1 || p2.NextCursor != "" {
			t.Fatalf("page 2: got %+v, %v; want 1 item and no cursor", p2, err)
		}
		got := append(p1.Items, p2.Items...)
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("item %d: got %+v, want %+v", i, got[i], want[i])
			}
		}
		for _, u := range []string{repoID(t), "nope"} {
			if p, err := h.repo.Certificates(ctx, u, page.Request{Limit: 2}); err != nil || len(p.Items) != 0 {
				t.Errorf("user %s: got %+v, %v; want an empty page", u, p, err)
			}
		}
	})
	t.Run("one per enrollment", func(t *testing.T) {
		dup := want[0]
		dup.ID = repoID(t)
		repoWantInternal(t, "second certificate", h.repo.CreateCertificate(ctx, dup))
	})
	t.Run("not found", func(t *testing.T) {
		for _, id := range []string{repoID(t), "nope"} {
			_, err := h.repo.Certificate(ctx, id)
			repoWantErr(t, "certificate "+id, err, ErrCertificateNotFound)
			cert := want[0]
			cert.ID, cert.EnrollmentID = repoID(t), id
			repoWantErr(t, "certificate of enrollment "+id, h.repo.CreateCertificate(ctx, cert), ErrEnrollmentNotFound)
		}
	})
}

func contractLearners(t *testing.T, h repoHarness) {
	ctx := context.Background()
	user := repoID(t)
	for _, id := range []string{user, "nope"} {
		if name, err := h.repo.LearnerName(ctx, id); err != nil || name != "" {
			t.Errorf("unknown learner %s: got %q, %v; want \"\"", id, name, err)
		}
	}
	for _, name := range []string{"Ada", "Ada Lovelace"} {
		if err := h.repo.SetLearnerName(ctx, user, name); err != nil {
			t.Fatal(err)
		}
		if got, err := h.repo.LearnerName(ctx, user); err != nil || got != name {
			t.Errorf("got %q, %v; want %q", got, err, name)
		}
	}
}
