package education

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/page"
)

// repoHarness is what the Repository contract runs against: a repository
// and the Transactor whose transactions its Lock methods join.
type repoHarness struct {
	repo Repository
	tx   Transactor
}

// runRepositoryContract checks what every Repository must do, whatever
// stores it. open returns an empty store; the suite opens one per group of
// cases that needs to see all of a store (the catalogue).
func runRepositoryContract(t *testing.T, open func(t *testing.T) repoHarness) {
	h := open(t)
	t.Run("Courses", func(t *testing.T) { contractCourses(t, h) })
	t.Run("Catalogue", func(t *testing.T) { contractCatalogue(t, open(t)) })
	t.Run("Enrollments", func(t *testing.T) { contractEnrollments(t, h) })
	t.Run("Progress", func(t *testing.T) { contractProgress(t, h) })
	t.Run("Certificates", func(t *testing.T) { contractCertificates(t, h) })
	t.Run("Learners", func(t *testing.T) { contractLearners(t, h) })
}

// repoID returns a fresh UUIDv7 string.
func repoID(t testing.TB) string {
	t.Helper()
	id, err := uuid.NewV7()
	if err != nil {
		t.Fatal(err)
	}
	return id.String()
}

// repoNow is the current time cut to the microsecond stores keep.
func repoNow() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// repoNewCourse stores a draft with n lessons, published at publishedAt
// unless that is nil, and returns it as Course returns it.
func repoNewCourse(t *testing.T, h repoHarness, title, description string, price *Money, n int, publishedAt *time.Time) Course {
	t.Helper()
	ctx := context.Background()
	now := repoNow()
	c := Course{ID: repoID(t), InstructorID: repoID(t), Title: title, Description: description,
		Price: price, Status: CourseDraft, CreatedAt: now, UpdatedAt: now}
	if err := h.repo.CreateCourse(ctx, c); err != nil {
		t.Fatalf("create course: %v", err)
	}
	for i := 1; i <= n; i++ {
		l := Lesson{ID: repoID(t), CourseID: c.ID, Position: i, Title: fmt.Sprintf("Lesson %d", i), Content: "text", CreatedAt: now}
		if err := h.repo.AddLesson(ctx, l); err != nil {
			t.Fatalf("add lesson: %v", err)
		}
	}
	if publishedAt != nil {
		c.Status, c.PublishedAt = CoursePublished, publishedAt
		if err := h.repo.SaveCourse(ctx, c); err != nil {
			t.Fatalf("publish: %v", err)
		}
	}
	got, err := h.repo.Course(ctx, c.ID)
	if err != nil {
		t.Fatalf("course: %v", err)
	}
	return got
}

// repoWantErr fails unless err is want.
func repoWantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: got error %v, want %v", what, err, want)
	}
}

// repoWantInternal fails unless err is an internal *errs.Error.
func repoWantInternal(t *testing.T, what string, err error) {
	t.Helper()
	var e *errs.Error
	if !errors.As(err, &e) || e.Kind != errs.Internal {
		t.Errorf("%s: got error %v, want an internal *errs.Error", what, err)
	}
}

func contractCourses(t *testing.T, h repoHarness) {
	ctx := context.Background()
	t.Run("round trip with lessons in order", func(t *testing.T) {
		price := &Money{Amount: 1999, Currency: "USD"}
		c := repoNewCourse(t, h, "Go in Practice", "Channels and more", price, 3, nil)
		if c.Title != "Go in Practice" || c.Description != "Channels and more" || c.Status != CourseDraft ||
			c.Price == nil || *c.Price != *price || c.PublishedAt != nil {
			t.Errorf("got course %+v, want the stored draft", c)
		}
		if c.LessonCount != 3 || len(c.Lessons) != 3 {
			t.Fatalf("got %d lessons (count %d), want 3", len(c.Lessons), c.LessonCount)
		}
		for i, l := range c.Lessons {
			if l.Position != i+1 || l.CourseID != c.ID || l.Title != fmt.Sprintf("Lesson %d", i+1) {
				t.Errorf("lesson %d: got %+v, want position %d of %s", i, l, i+1, c.ID)
			}
		}
	})
	t.Run("free course has no price", func(t *testing.T) {
		c := repoNewCourse(t, h, "Free", "", nil, 0, nil)
		if c.Price != nil || c.LessonCount != 0 || len(c.Lessons) != 0 {
			t.Errorf("got price %v, %d lessons; want nil and 0", c.Price, c.LessonCount)
		}
	})
	t.Run("save writes the mutable fields", func(t *testing.T) {
		c := repoNewCourse(t, h, "Old", "old", &Money{Amount: 500, Currency: "EUR"}, 1, nil)
		published := repoNow().Add(time.Second)
		c.Title, c.Description, c.Price = "New", "new", nil
		c.Status, c.PublishedAt, c.UpdatedAt = CoursePublished, &published, published
		if err := h.repo.SaveCourse(ctx, c); err != nil {
			t.Fatal(err)
		}
		got, err := h.repo.Course(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Title != "New" || got.Description != "new" || got.Price != nil || got.Status != CoursePublished ||
			got.PublishedAt == nil || !got.PublishedAt.Equal(published) || !got.UpdatedAt.Equal(published) {
			t.Errorf("got %+v, want the saved fields", got)
		}
	})
	t.Run("lock in a transaction", func(t *testing.T) {
		c := repoNewCourse(t, h, "Lockable", "", nil, 2, nil)
		err := h.tx.InTx(ctx, func(ctx context.Context) error {
			got, err := h.repo.LockCourse(ctx, c.ID)
			if err == nil && (got.ID != c.ID || got.LessonCount != 2 || len(got.Lessons) != 2) {
				t.Errorf("got %+v, want the course with its 2 lessons", got)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		_, err = h.repo.LockCourse(ctx, c.ID)
		repoWantInternal(t, "lock without a transaction", err)
	})
	t.Run("not found", func(t *testing.T) {
		for _, id := range []string{repoID(t), "not-a-uuid", ""} {
			_, err := h.repo.Course(ctx, id)
			repoWantErr(t, "course "+id, err, ErrCourseNotFound)
			err = h.tx.InTx(ctx, func(ctx context.Context) error {
				_, err := h.repo.LockCourse(ctx, id)
				return err
			})
			repoWantErr(t, "lock course "+id, err, ErrCourseNotFound)
			err = h.repo.SaveCourse(ctx, Course{ID: id, Title: "x", Status: CourseDraft, UpdatedAt: repoNow()})
			repoWantErr(t, "save course "+id, err, ErrCourseNotFound)
			err = h.repo.AddLesson(ctx, Lesson{ID: repoID(t), CourseID: id, Position: 1, Title: "x", CreatedAt: repoNow()})
			repoWantErr(t, "add lesson to "+id, err, ErrCourseNotFound)
		}
	})
}

func contractCatalogue(t *testing.T, h repoHarness) {
	ctx := context.Background()
	base := repoNow().Add(-time.Hour)
	at := func(minutes int) *time.Time { t := base.Add(time.Duration(minutes) * time.Minute); return &t }
	// Three courses share a publication time, so the id orders them (more
	// of them than a page of one fetches, limit+1, so a wrong tie-break shows).
	cooking := repoNewCourse(t, h, "Cooking with Fire", "Grilling basics", nil, 1, at(1))
	goA := repoNewCourse(t, h, "Go Concurrency", "Channels and goroutines", nil, 2, at(2))
	goB := repoNewCourse(t, h, "Advanced Go", "Profiling and goroutines", nil, 1, at(2))
	goC := repoNewCourse(t, h, "Go Testing", "Table tests", nil, 4, at(2))
	rust := repoNewCourse(t, h, "Rust Ownership", "Borrowing rules", nil, 3, at(3))
	sqlIdx := repoNewCourse(t, h, "SQL Indexes", "Btree pages, no goroutines", nil, 1, at(4))
	repoNewCourse(t, h, "Go Drafts", "goroutines draft", nil, 1, nil) // never listed
	tied := []Course{goA, goB, goC}
	slices.SortFunc(tied, func(a, b Course) int { return strings.Compare(b.ID, a.ID) })
	newestFirst := []Course{sqlIdx, rust, tied[0], tied[1], tied[2], cooking}
	goroutines := []Course{sqlIdx}
	for _, c := range tied {
		if c.ID != goC.ID {
			goroutines = append(goroutines, c)
		}
	}

	t.Run("pages cover every published course once, newest first", func(t *testing.T) {
		for _, limit := range []int{1, 2, 3, 5, 6, 7} {
			got := repoCataloguePages(t, h, "", limit)
			repoWantCourses(t, fmt.Sprintf("limit %d", limit), got, newestFirst)
		}
	})
	t.Run("lesson counts without lessons", func(t *testing.T) {
		p, err := h.repo.Catalogue(ctx, "", page.Request{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]int{sqlIdx.ID: 1, rust.ID: 3, goA.ID: 2, goB.ID: 1, goC.ID: 4, cooking.ID: 1}
		for _, c := range p.Items {
			if c.LessonCount != want[c.ID] || c.Lessons != nil {
				t.Errorf("%s: got lesson count %d and %d lessons, want %d and none", c.Title, c.LessonCount, len(c.Lessons), want[c.ID])
			}
			if c.Status != CoursePublished || c.PublishedAt == nil {
				t.Errorf("%s: got status %q, published_at %v; want published", c.Title, c.Status, c.PublishedAt)
			}
		}
	})
	searches := []struct {
		name, q string
		want    []Course
	}{
		{"title word", "rust", []Course{rust}},
		{"description word", "grilling", []Course{cooking}},
		{"title or description, paged", "goroutines", goroutines},
		{"all words must match", "go profiling", []Course{goB}},
		{"no match", "haskell", nil},
		{"blank is browsing", "   ", newestFirst},
	}
	for _, tc := range searches {
		t.Run("search "+tc.name, func(t *testing.T) {
			repoWantCourses(t, tc.q, repoCataloguePages(t, h, tc.q, 2), tc.want)
		})
	}
	t.Run("bad cursor", func(t *testing.T) {
		for _, cursor := range []string{"!!", page.Encode(timeKey{At: base, ID: "x"}), page.Encode("text")} {
			_, err := h.repo.Catalogue(ctx, "", page.Request{Limit: 2, Cursor: cursor})
			repoWantErr(t, "cursor "+cursor, err, page.ErrBadCursor)
		}
	})
}

// repoCataloguePages follows next_cursor to the end and returns every item.
func repoCataloguePages(t *testing.T, h repoHarness, q string, limit int) []Course {
	t.Helper()
	var all []Course
	cursor := ""
	for range 100 {
		p, err := h.repo.Catalogue(context.Background(), q, page.Request{Limit: limit, Cursor: cursor})
		if err != nil {
			t.Fatalf("catalogue %q: %v", q, err)
		}
		if len(p.Items) > limit || (p.NextCursor != "" && len(p.Items) != limit) {
			t.Fatalf("got a page of %d items with cursor %q at limit %d", len(p.Items), p.NextCursor, limit)
		}
		all = append(all, p.Items...)
		if cursor = p.NextCursor; cursor == "" {
			return all
		}
	}
	t.Fatal("catalogue pages never end")
	return nil
}

// repoWantCourses fails unless got holds want's courses, in want's order.
func repoWantCourses(t *testing.T, what string, got, want []Course) {
	t.Helper()
	ids := func(cs []Course) (s []string) {
		for _, c := range cs {
			s = append(s, c.Title)
		}
		return s
	}
	if len(got) != len(want) {
		t.Errorf("%s: got %q, want %q", what, ids(got), ids(want))
		return
	}
	for i := range got {
		if got[i].ID != want[i].ID {
			t.Errorf("%s: got %q, want %q", what, ids(got), ids(want))
			return
		}
	}
}
