package education

import (
	"context"
	"database/sql"
	"time"

	"github.com/jmoiron/sqlx"
)

// courseRow is one courses row as sqlx scans it; LessonCount is filled by
// the catalogue query only.
type courseRow struct {
	ID            string         `db:"id"`
	InstructorID  string         `db:"instructor_id"`
	Title         string         `db:"title"`
	Description   string         `db:"description"`
	PriceAmount   sql.NullInt64  `db:"price_amount"`
	PriceCurrency sql.NullString `db:"price_currency"`
	Status        string         `db:"status"`
	CreatedAt     time.Time      `db:"created_at"`
	UpdatedAt     time.Time      `db:"updated_at"`
	PublishedAt   sql.NullTime   `db:"published_at"`
	LessonCount   int            `db:"lesson_count"`
}

func (r courseRow) course() Course {
	return Course{
		ID:           r.ID,
		InstructorID: r.InstructorID,
		Title:        r.Title,
		Description:  r.Description,
		Price:        money(r.PriceAmount, r.PriceCurrency),
		Status:       r.Status,
		LessonCount:  r.LessonCount,
		CreatedAt:    r.CreatedAt.UTC(),
		UpdatedAt:    r.UpdatedAt.UTC(),
		PublishedAt:  timePtr(r.PublishedAt),
	}
}

type lessonRow struct {
	ID        string    `db:"id"`
	CourseID  string    `db:"course_id"`
	Position  int       `db:"position"`
	Title     string    `db:"title"`
	Content   string    `db:"content"`
	CreatedAt time.Time `db:"created_at"`
}

const insertCourse = `
INSERT INTO courses (id, instructor_id, title, description, price_amount, price_currency,
                     status, created_at, updated_at, published_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`

// CreateCourse inserts c; its ids must be UUIDs. A zero CreatedAt or
// UpdatedAt is stored as the current time; times keep microseconds.
// Errors: internal (also for a price or status the schema refuses).
func (r *PostgresRepository) CreateCourse(ctx context.Context, c Course) error {
	amount, currency := priceArgs(c.Price)
	_, err := r.q(ctx).ExecContext(ctx, insertCourse, c.ID, c.InstructorID, c.Title, c.Description,
		amount, currency, c.Status, orNow(c.CreatedAt), orNow(c.UpdatedAt), nullTime(c.PublishedAt))
	return pgErr(err, "create course", nil)
}

const selectCourse = `
SELECT id, instructor_id, title, description, price_amount, price_currency,
       status, created_at, updated_at, published_at
FROM courses
WHERE id = $1`

// Course returns the course with its lessons in position order.
// Errors: course_not_found (also for an id that is not a UUID), internal.
func (r *PostgresRepository) Course(ctx context.Context, id string) (Course, error) {
	return r.course(ctx, id, selectCourse, "course")
}

const selectCourseForUpdate = selectCourse + ` FOR UPDATE`

// LockCourse is Course with the course row locked until ctx's transaction
// ends, so that appending a lesson or publishing is serialised per course.
// Errors: course_not_found, internal (also when ctx carries no transaction).
func (r *PostgresRepository) LockCourse(ctx context.Context, id string) (Course, error) {
	if err := requireTx(ctx, "lock course"); err != nil {
		return Course{}, err
	}
	return r.course(ctx, id, selectCourseForUpdate, "lock course")
}

const selectLessons = `
SELECT id, course_id, position, title, content, created_at
FROM lessons
WHERE course_id = $1
ORDER BY position`

func (r *PostgresRepository) course(ctx context.Context, id, query, op string) (Course, error) {
	id, err := parseID(id, ErrCourseNotFound)
	if err != nil {
		return Course{}, err
	}
	var row courseRow
	if err := sqlx.GetContext(ctx, r.q(ctx), &row, query, id); err != nil {
		return Course{}, pgErr(err, op, ErrCourseNotFound)
	}
	var lessons []lessonRow
	if err := sqlx.SelectContext(ctx, r.q(ctx), &lessons, selectLessons, id); err != nil {
		return Course{}, pgErr(err, op+" lessons", nil)
	}
	c := row.course()
	c.Lessons = make([]Lesson, len(lessons))
	for i, l := range lessons {
		c.Lessons[i] = Lesson(l)
		c.Lessons[i].CreatedAt = l.CreatedAt.UTC()
	}
	c.LessonCount = len(lessons)
	return c, nil
}

const updateCourse = `
UPDATE courses
SET title = $2, description = $3, price_amount = $4, price_currency = $5,
    status = $6, updated_at = $7, published_at = $8
WHERE id = $1`

// SaveCourse writes title, description, price, status, updated_at and
// published_at of c. Errors: course_not_found, internal.
func (r *PostgresRepository) SaveCourse(ctx context.Context, c Course) error {
	id, err := parseID(c.ID, ErrCourseNotFound)
	if err != nil {
		return err
	}
	amount, currency := priceArgs(c.Price)
	res, err := r.q(ctx).ExecContext(ctx, updateCourse, id, c.Title, c.Description,
		amount, currency, c.Status, orNow(c.UpdatedAt), nullTime(c.PublishedAt))
	if err != nil {
		return pgErr(err, "save course", nil)
	}
	return mustAffect(res, "save course", ErrCourseNotFound)
}

const insertLesson = `
INSERT INTO lessons (id, course_id, position, title, content, created_at)
VALUES ($1, $2, $3, $4, $5, $6)`

// deleteDraft removes a draft and its lessons in one statement; a
// published course (or none) deletes nothing.
const deleteDraft = `
WITH course AS (DELETE FROM courses WHERE id = $1 AND status = 'draft' RETURNING id),
     lessons AS (DELETE FROM lessons WHERE course_id IN (SELECT id FROM course))
SELECT count(*) FROM course`

// DeleteDraft deletes the draft and its lessons; the caller holds the
// course lock. Errors: course_not_found (no draft has that id), internal.
func (r *PostgresRepository) DeleteDraft(ctx context.Context, id string) error {
	id, err := parseID(id, ErrCourseNotFound)
	if err != nil {
		return err
	}
	var n int
	if err := sqlx.GetContext(ctx, r.q(ctx), &n, deleteDraft, id); err != nil {
		return pgErr(err, "delete draft", nil)
	}
	if n == 0 {
		return ErrCourseNotFound
	}
	return nil
}

const updateLesson = `UPDATE lessons SET title = $3, content = $4 WHERE id = $1 AND course_id = $2`

// SaveLesson writes l's title and content; the caller holds the course
// lock. Errors: lesson_not_found (also for ids that are not UUIDs, or a
// lesson of another course), internal.
func (r *PostgresRepository) SaveLesson(ctx context.Context, l Lesson) error {
	id, err := parseID(l.ID, ErrLessonNotFound)
	if err != nil {
		return err
	}
	courseID, err := parseID(l.CourseID, ErrLessonNotFound)
	if err != nil {
		return err
	}
	res, err := r.q(ctx).ExecContext(ctx, updateLesson, id, courseID, l.Title, l.Content)
	if err != nil {
		return pgErr(err, "save lesson", nil)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return pgErr(err, "save lesson", nil)
	}
	if n == 0 {
		return ErrLessonNotFound
	}
	return nil
}

// AddLesson stores l at l.Position; the caller holds the course lock
// (LockCourse), so positions do not race. Errors: course_not_found,
// internal (also for a position already taken).
func (r *PostgresRepository) AddLesson(ctx context.Context, l Lesson) error {
	courseID, err := parseID(l.CourseID, ErrCourseNotFound)
	if err != nil {
		return err
	}
	_, err = r.q(ctx).ExecContext(ctx, insertLesson, l.ID, courseID, l.Position, l.Title, l.Content, orNow(l.CreatedAt))
	return pgErr(err, "add lesson", nil)
}
