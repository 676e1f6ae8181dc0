package education

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/azora-os/azora/shared/events"
	"github.com/azora-os/azora/shared/page"
	"github.com/azora-os/azora/shared/pg"
	"github.com/azora-os/azora/shared/pg/pgtest"
)

// newPostgresHarness returns the Postgres repository over a fresh database.
func newPostgresHarness(t *testing.T) (repoHarness, *sqlx.DB) {
	t.Helper()
	db, _ := pgtest.New(t, Migrations, events.Migrations)
	return repoHarness{repo: NewPostgresRepository(db), tx: pg.Transactor{DB: db}}, db
}

func TestPostgresRepositoryContract(t *testing.T) {
	runRepositoryContract(t, func(t *testing.T) repoHarness {
		h, _ := newPostgresHarness(t)
		return h
	})
}

func TestPostgresCatalogueFullText(t *testing.T) {
	h, db := newPostgresHarness(t)
	at := func(m int) *time.Time { t := repoNow().Add(time.Duration(m) * time.Minute); return &t }
	// Matches at both ends of the catalogue, with non-matching courses
	// around them, so that a window that is not the newest shows up.
	filler := func(m int) { repoNewCourse(t, h, fmt.Sprintf("Filler %d", m), "nothing to find", nil, 1, at(m)) }
	legacy := repoNewCourse(t, h, "Database Legacy", "Old systems", nil, 1, at(-11))
	history := repoNewCourse(t, h, "Database History", "How it began", nil, 1, at(-10))
	for _, m := range []int{-4, -3, -2, 0} {
		filler(m)
	}
	design := repoNewCourse(t, h, "Database Design", "Normal forms and design patterns", nil, 1, at(1))
	programs := repoNewCourse(t, h, "Writing Programs", "Running small programs in Go", nil, 1, at(2))
	patterns := repoNewCourse(t, h, "Patterns of Enterprise Software", "Design, then patterns", nil, 1, at(3))
	filler(4)
	filler(5)
	draft := repoNewCourse(t, h, "Database Drafts", "unpublished databases", nil, 1, nil)

	tests := []struct {
		name, q string
		want    []Course
	}{
		{"plural finds singular", "databases", []Course{design, history, legacy}},
		{"stemmed verb", "programming", []Course{programs}},
		{"stemmed description", "run", []Course{programs}},
		{"case insensitive", "DATABASE", []Course{design, history, legacy}},
		{"phrase", `"design patterns"`, []Course{design}},
		{"or", "programs or database", []Course{programs, design, history, legacy}},
		{"exclusion", "design -database", []Course{patterns}},
		{"stop words only", "the and of", nil},
		{"punctuation is not syntax", "design & (patterns | !", []Course{patterns, design}},
	}
	// Small search windows make pages answered by the window walk, by the
	// GIN lookup, and by both in turn, as a large catalogue would.
	for _, window := range []int{defaultSearchWindow, 1, 2, 3} {
		r := NewPostgresRepository(db)
		r.searchWindow = window
		hw := repoHarness{repo: r, tx: h.tx}
		for _, tc := range tests {
			t.Run(fmt.Sprintf("%s window %d", tc.name, window), func(t *testing.T) {
				for _, limit := range []int{1, 2, 5} {
					repoWantCourses(t, fmt.Sprintf("%s limit %d", tc.q, limit), repoCataloguePages(t, hw, tc.q, limit), tc.want)
				}
			})
		}
		if got := repoCataloguePages(t, hw, "drafts", 5); len(got) != 0 {
			t.Errorf("draft %s is searchable: got %d courses, want none", draft.ID, len(got))
		}
	}
}

func TestPostgresLockPendingBeforeSkipsLockedRows(t *testing.T) {
	h, db := newPostgresHarness(t)
	ctx := context.Background()
	published := repoNow()
	c := repoNewCourse(t, h, "Paid", "", &Money{Amount: 100, Currency: "USD"}, 1, &published)
	old := repoNow().Add(-time.Hour)
	var pending []Enrollment // oldest first
	for i := range 5 {
		pending = append(pending, repoEnroll(t, h, c, repoID(t), EnrollmentPending, old.Add(time.Duration(i)*time.Second)))
	}

	// A first sweeper (or a payment event) holds the two oldest rows.
	tx1, err := db.BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx1.Rollback()
	held, err := h.repo.LockPendingBefore(pg.WithTx(ctx, tx1), repoNow(), 2)
	if err != nil || len(held) != 2 || held[0].ID != pending[0].ID || held[1].ID != pending[1].ID {
		t.Fatalf("first sweep: got %d rows, %v; want the two oldest", len(held), err)
	}

	// A second one, concurrently, must take the rest at once instead of waiting.
	done := make(chan []Enrollment, 1)
	go func() {
		var got []Enrollment
		err := h.tx.InTx(ctx, func(ctx context.Context) error {
			var err error
			got, err = h.repo.LockPendingBefore(ctx, repoNow(), 10)
			return err
		})
		if err != nil {
			t.Errorf("second sweep: %v", err)
		}
		done <- got
	}()
	select {
	case got := <-done:
		want := pending[2:]
		if len(got) != len(want) {
			t.Fatalf("second sweep: got %d rows, want %d", len(got), len(want))
		}
		for i := range got {
			if got[i].ID != want[i].ID {
				t.Errorf("second sweep item %d: got %s, want %s", i, got[i].ID, want[i].ID)
			}
		}
	case <-time.After(5 * time.Second):
		t.Fatal("second sweep waited for the first one's locks; want them skipped")
	}
}

func TestPostgresLockCourseHoldsTheRow(t *testing.T) {
	h, db := newPostgresHarness(t)
	ctx := context.Background()
	c := repoNewCourse(t, h, "Locked", "", nil, 1, nil)

	tx1, err := db.BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx1.Rollback()
	if _, err := h.repo.LockCourse(pg.WithTx(ctx, tx1), c.ID); err != nil {
		t.Fatal(err)
	}
	err = h.tx.InTx(ctx, func(ctx context.Context) error {
		if _, err := pg.FromContext(ctx).ExecContext(ctx, `SET LOCAL lock_timeout = '100ms'`); err != nil {
			return err
		}
		if _, err := h.repo.Course(ctx, c.ID); err != nil { // readers do not wait
			t.Errorf("reading a locked course: got %v, want nil", err)
		}
		_, err := h.repo.LockCourse(ctx, c.ID)
		return err
	})
	repoWantInternal(t, "second lock while the first is held", err)
	if pg.Code(err) != "55P03" {
		t.Errorf("got SQLSTATE %q under the internal error, want 55P03 (lock_not_available)", pg.Code(err))
	}
}

func TestPostgresSchemaRefusesHalfPrices(t *testing.T) {
	h, _ := newPostgresHarness(t)
	ctx := context.Background()
	tests := []struct {
		name  string
		price *Money
	}{
		{"zero amount", &Money{Amount: 0, Currency: "USD"}},
		{"negative amount", &Money{Amount: -1, Currency: "USD"}},
		{"no currency", &Money{Amount: 100}},
		{"lower-case currency", &Money{Amount: 100, Currency: "usd"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			now := repoNow()
			c := Course{ID: repoID(t), InstructorID: repoID(t), Title: "x", Price: tc.price,
				Status: CourseDraft, CreatedAt: now, UpdatedAt: now}
			repoWantInternal(t, "create", h.repo.CreateCourse(ctx, c))
		})
	}
	t.Run("published without published_at", func(t *testing.T) {
		now := repoNow()
		c := Course{ID: repoID(t), InstructorID: repoID(t), Title: "x", Status: CoursePublished, CreatedAt: now, UpdatedAt: now}
		repoWantInternal(t, "create", h.repo.CreateCourse(ctx, c))
	})
	t.Run("certificate time finer than Postgres keeps", func(t *testing.T) {
		cert := Certificate{ID: repoID(t), EnrollmentID: repoID(t), UserID: repoID(t), CourseID: repoID(t),
			IssuedAt: time.Now().Truncate(time.Microsecond).Add(time.Nanosecond)}
		repoWantInternal(t, "create certificate", h.repo.CreateCertificate(ctx, cert))
	})
	if _, err := h.repo.Catalogue(ctx, "", page.Request{}); err != nil {
		t.Errorf("zero page request: got %v, want the default page", err)
	}
}

// TestPostgresCatalogueReadsTheReplica gives the repository an empty
// database as its "replica": the public catalogue outside a transaction
// comes from it, while a transaction still sees the primary.
func TestPostgresCatalogueReadsTheReplica(t *testing.T) {
	h, db := newPostgresHarness(t)
	replica, _ := pgtest.New(t, Migrations, events.Migrations)
	published := time.Now()
	repoNewCourse(t, h, "Replicated reads", "Catalogue from a replica", nil, 1, &published)

	if got := repoCataloguePages(t, h, "", 5); len(got) != 1 {
		t.Fatalf("primary catalogue: %d courses, want 1", len(got))
	}
	r := NewPostgresRepository(db).WithReadReplica(replica)
	if got := repoCataloguePages(t, repoHarness{repo: r, tx: h.tx}, "", 5); len(got) != 0 {
		t.Fatalf("catalogue with a replica: %d courses, want the replica's 0", len(got))
	}
	if got := repoCataloguePages(t, repoHarness{repo: r, tx: h.tx}, "replica", 5); len(got) != 0 {
		t.Fatalf("search with a replica: %d courses, want the replica's 0", len(got))
	}
	err := pg.Tx(context.Background(), db, nil, func(ctx context.Context, _ *sqlx.Tx) error {
		p, err := r.Catalogue(ctx, "", page.Request{Limit: 5})
		if err == nil && len(p.Items) != 1 {
			t.Errorf("catalogue inside a transaction: %d courses, want the primary's 1", len(p.Items))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
