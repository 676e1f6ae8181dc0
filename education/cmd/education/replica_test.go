package main

import (
	"testing"

	"github.com/azora-os/azora/education"
	"github.com/azora-os/azora/shared/app/apptest"
	"github.com/azora-os/azora/shared/events"
	"github.com/azora-os/azora/shared/idempotency"
	"github.com/azora-os/azora/shared/pg/pgtest"
)

// TestCatalogueReadsDATABASE_READ_URL points DATABASE_READ_URL at another
// database with the same schema: the public catalogue lists what that
// "replica" holds (nothing), while a course read by id still comes from the
// primary, where it was just published.
func TestCatalogueReadsDATABASE_READ_URL(t *testing.T) {
	t.Parallel()
	_, replica := pgtest.New(t, education.Migrations, events.Migrations, idempotency.Migrations)
	w := start(t, map[string]string{"DATABASE_READ_URL": replica})
	id, _ := w.course(t, w.user(t, "instructor"), nil, 1)

	r := w.c.Do(t, "GET", "/api/v1/courses", "", nil)
	apptest.Want(t, r, 200, "")
	if items, _ := r.Body["items"].([]any); len(items) != 0 {
		t.Fatalf("catalogue = %d courses, want the replica's 0", len(items))
	}
	apptest.Want(t, w.c.Do(t, "GET", "/api/v1/courses/"+id, "", nil), 200, "")
}
