package education

import (
	"context"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/azora-os/azora/shared/page"
)

// defaultSearchWindow is how many of the newest published courses (after
// the cursor) a search first looks through before it asks the GIN index.
// A word in at least (limit+1)/window of the courses, a 1% at the default
// page, is served by the first walk alone; a rarer one costs the walk
// (about 2 ms) and a GIN lookup that finds at most a few percent of the
// catalogue.
const defaultSearchWindow = 2000

// Searches name the 'english' configuration the stored search column was
// built with (migrations/0002 says why English); another one would miss
// stemmed lexemes.
//
// Every catalogue query cuts its page inside (LIMIT $3, which is limit+1)
// and counts lessons for those rows only, in the same round trip.
//
// Search results are ordered newest first too, not by ts_rank: a rank is
// computed per matching row, so every page would have to rank and sort
// every match, and a (rank, id) cursor cannot be served by an index. With
// (published_at, id) the page boundary is an index position at any depth.
const (
	catalogueBrowse = `
WITH page AS (
    SELECT id, instructor_id, title, description, price_amount, price_currency,
           status, created_at, updated_at, published_at
    FROM courses
    WHERE status = 'published' AND (published_at, id) < ($1, $2)
    ORDER BY published_at DESC, id DESC
    LIMIT $3
)
SELECT p.id, p.instructor_id, p.title, p.description, p.price_amount, p.price_currency,
       p.status, p.created_at, p.updated_at, p.published_at,
       (SELECT count(*) FROM lessons l WHERE l.course_id = p.id) AS lesson_count
FROM page p
ORDER BY p.published_at DESC, p.id DESC`

	// catalogueSearchRecent walks courses_catalogue_idx from the cursor
	// over at most $5 rows and keeps the matches: the first page of a
	// common word, found without touching the rest of the catalogue.
	catalogueSearchRecent = `
WITH recent AS (
    SELECT id, instructor_id, title, description, price_amount, price_currency,
           status, created_at, updated_at, published_at, search
    FROM courses
    WHERE status = 'published' AND (published_at, id) < ($1, $2)
    ORDER BY published_at DESC, id DESC
    LIMIT $5
), page AS (
    SELECT id, instructor_id, title, description, price_amount, price_currency,
           status, created_at, updated_at, published_at
    FROM recent
    WHERE search @@ websearch_to_tsquery('english', $4)
    ORDER BY published_at DESC, id DESC
    LIMIT $3
)
SELECT p.id, p.instructor_id, p.title, p.description, p.price_amount, p.price_currency,
       p.status, p.created_at, p.updated_at, p.published_at,
       (SELECT count(*) FROM lessons l WHERE l.course_id = p.id) AS lesson_count
FROM page p
ORDER BY p.published_at DESC, p.id DESC`

	// catalogueSearchIndexed finds every match after the cursor through
	// courses_search_idx and sorts them. MATERIALIZED keeps the planner
	// from turning it back into a walk of courses_catalogue_idx that
	// filters row by row: it would pick that walk from a selectivity
	// estimate, and for a word outside its statistics the estimate is a
	// flat 0.5%, so a rare word would walk the whole catalogue.
	catalogueSearchIndexed = `
WITH hits AS MATERIALIZED (
    SELECT id, published_at
    FROM courses
    WHERE status = 'published' AND search @@ websearch_to_tsquery('english', $4)
      AND (published_at, id) < ($1, $2)
), page AS (
    SELECT id, published_at
    FROM hits
    ORDER BY published_at DESC, id DESC
    LIMIT $3
)
SELECT c.id, c.instructor_id, c.title, c.description, c.price_amount, c.price_currency,
       c.status, c.created_at, c.updated_at, c.published_at,
       (SELECT count(*) FROM lessons l WHERE l.course_id = c.id) AS lesson_count
FROM page p JOIN courses c ON c.id = p.id
ORDER BY p.published_at DESC, p.id DESC`
)

// Catalogue pages published courses, newest first, with their lesson
// counts (not their lessons). A non-blank q is a web-search query (words,
// "quoted phrases", -exclusions, or) over title and description, stemmed
// in English; a q of stop words only matches nothing. Errors:
// invalid_cursor, internal.
func (r *PostgresRepository) Catalogue(ctx context.Context, q string, p page.Request) (page.Page[Course], error) {
	after, limit, err := decodeKeyset(p)
	if err != nil {
		return page.Page[Course]{}, err
	}
	var rows []courseRow
	if q = strings.TrimSpace(q); q == "" {
		err = sqlx.SelectContext(ctx, r.readQ(ctx), &rows, catalogueBrowse, after.At, after.ID, limit+1)
	} else {
		rows, err = r.search(ctx, q, after, limit+1)
	}
	if err != nil {
		return page.Page[Course]{}, pgErr(err, "catalogue", nil)
	}
	courses := make([]Course, len(rows))
	for i, row := range rows {
		courses[i] = row.course()
	}
	return page.Of(courses, limit, func(c Course) any {
		return timeKey{At: *c.PublishedAt, ID: c.ID}
	}), nil
}

// search returns the first n courses after `after` that match q, newest
// first. Which plan is fast depends on how common q's words are: walking
// the newest courses and filtering finds a common word's page at once but
// reads the whole catalogue for a rare one; the GIN index finds a rare
// word's few matches at once but must fetch and sort every match of a
// common one (about 40 ms for a third of 100,000 courses). Rather than
// trust the planner's guess, it walks a bounded window first and asks the
// GIN index only when the window held fewer than n matches. Both answers
// are the same rows: the window is the newest courses after the cursor.
func (r *PostgresRepository) search(ctx context.Context, q string, after timeKey, n int) ([]courseRow, error) {
	var rows []courseRow
	err := sqlx.SelectContext(ctx, r.readQ(ctx), &rows, catalogueSearchRecent, after.At, after.ID, n, q, r.searchWindow)
	if err != nil || len(rows) == n {
		return rows, err
	}
	rows = nil
	err = sqlx.SelectContext(ctx, r.readQ(ctx), &rows, catalogueSearchIndexed, after.At, after.ID, n, q)
	return rows, err
}
