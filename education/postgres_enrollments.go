package education

import (
	"context"
	"database/sql"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/azora-os/azora/shared/page"
)

// enrollmentRow is one enrollments row with its progress counts.
type enrollmentRow struct {
	ID               string         `db:"id"`
	CourseID         string         `db:"course_id"`
	UserID           string         `db:"user_id"`
	InstructorID     string         `db:"instructor_id"`
	Status           string         `db:"status"`
	CancelReason     sql.NullString `db:"cancel_reason"`
	PriceAmount      sql.NullInt64  `db:"price_amount"`
	PriceCurrency    sql.NullString `db:"price_currency"`
	CreatedAt        time.Time      `db:"created_at"`
	UpdatedAt        time.Time      `db:"updated_at"`
	ActivatedAt      sql.NullTime   `db:"activated_at"`
	CompletedAt      sql.NullTime   `db:"completed_at"`
	CompletedLessons int            `db:"completed_lessons"`
	TotalLessons     int            `db:"total_lessons"`
}

func (r enrollmentRow) enrollment() Enrollment {
	return Enrollment{
		ID:           r.ID,
		CourseID:     r.CourseID,
		UserID:       r.UserID,
		InstructorID: r.InstructorID,
		Status:       r.Status,
		CancelReason: r.CancelReason.String,
		Price:        money(r.PriceAmount, r.PriceCurrency),
		Progress:     progressOf(r.CompletedLessons, r.TotalLessons),
		CreatedAt:    r.CreatedAt.UTC(),
		UpdatedAt:    r.UpdatedAt.UTC(),
		ActivatedAt:  timePtr(r.ActivatedAt),
		CompletedAt:  timePtr(r.CompletedAt),
	}
}

// progressOf is completed of total lessons, percent rounded down (0 for a
// course without lessons), so 100 means every lesson is done.
func progressOf(completed, total int) Progress {
	p := Progress{CompletedLessons: completed, TotalLessons: total}
	if total > 0 {
		p.Percent = 100 * completed / total
	}
	return p
}

// enrollmentColumns selects an enrollment (aliased e) with its progress;
// the counts are subqueries per returned row, answered from the primary key
// of lesson_completions and lessons_course_position_key.
const enrollmentColumns = `
SELECT e.id, e.course_id, e.user_id, e.instructor_id, e.status, e.cancel_reason,
       e.price_amount, e.price_currency, e.created_at, e.updated_at, e.activated_at, e.completed_at,
       (SELECT count(*) FROM lesson_completions lc WHERE lc.enrollment_id = e.id) AS completed_lessons,
       (SELECT count(*) FROM lessons l WHERE l.course_id = e.course_id) AS total_lessons
FROM enrollments e`

// enrollmentsOf converts scanned rows, in order.
func enrollmentsOf(rows []enrollmentRow) []Enrollment {
	list := make([]Enrollment, len(rows))
	for i, row := range rows {
		list[i] = row.enrollment()
	}
	return list
}

const insertEnrollment = `
INSERT INTO enrollments (id, course_id, user_id, instructor_id, status, cancel_reason,
                         price_amount, price_currency, created_at, updated_at, activated_at, completed_at)
VALUES ($1, $2, $3, $4, $5, NULLIF($6, ''), $7, $8, $9, $10, $11, $12)`

// CreateEnrollment inserts e (its Progress is not stored). A zero
// CreatedAt or UpdatedAt is stored as the current time. Errors:
// already_enrolled when the user has a live (not cancelled) enrollment in
// the course, decided by the database's partial unique index so that
// concurrent requests cannot both win; course_not_found; internal.
func (r *PostgresRepository) CreateEnrollment(ctx context.Context, e Enrollment) error {
	courseID, err := parseID(e.CourseID, ErrCourseNotFound)
	if err != nil {
		return err
	}
	amount, currency := priceArgs(e.Price)
	_, err = r.q(ctx).ExecContext(ctx, insertEnrollment, e.ID, courseID, e.UserID, e.InstructorID,
		e.Status, e.CancelReason, amount, currency, orNow(e.CreatedAt), orNow(e.UpdatedAt),
		nullTime(e.ActivatedAt), nullTime(e.CompletedAt))
	return pgErr(err, "create enrollment", nil)
}

const selectEnrollment = enrollmentColumns + ` WHERE e.id = $1`

// Enrollment returns the enrollment with its progress. Errors:
// enrollment_not_found (also for an id that is not a UUID), internal.
func (r *PostgresRepository) Enrollment(ctx context.Context, id string) (Enrollment, error) {
	return r.enrollment(ctx, id, selectEnrollment, "enrollment")
}

const selectEnrollmentForUpdate = selectEnrollment + ` FOR UPDATE OF e`

// LockEnrollment is Enrollment with the row locked until ctx's transaction
// ends, so that payment events, the timeout and lesson completions change
// an enrollment one at a time. Errors: enrollment_not_found, internal (also
// when ctx carries no transaction).
func (r *PostgresRepository) LockEnrollment(ctx context.Context, id string) (Enrollment, error) {
	if err := requireTx(ctx, "lock enrollment"); err != nil {
		return Enrollment{}, err
	}
	return r.enrollment(ctx, id, selectEnrollmentForUpdate, "lock enrollment")
}

func (r *PostgresRepository) enrollment(ctx context.Context, id, query, op string) (Enrollment, error) {
	id, err := parseID(id, ErrEnrollmentNotFound)
	if err != nil {
		return Enrollment{}, err
	}
	var row enrollmentRow
	if err := sqlx.GetContext(ctx, r.q(ctx), &row, query, id); err != nil {
		return Enrollment{}, pgErr(err, op, ErrEnrollmentNotFound)
	}
	return row.enrollment(), nil
}

const updateEnrollment = `
UPDATE enrollments
SET status = $2, cancel_reason = NULLIF($3, ''), updated_at = $4, activated_at = $5, completed_at = $6
WHERE id = $1`

// SaveEnrollment writes status, cancel_reason, updated_at, activated_at
// and completed_at of e. Errors: enrollment_not_found; already_enrolled
// when e leaves cancelled while another live enrollment exists; internal.
func (r *PostgresRepository) SaveEnrollment(ctx context.Context, e Enrollment) error {
	id, err := parseID(e.ID, ErrEnrollmentNotFound)
	if err != nil {
		return err
	}
	res, err := r.q(ctx).ExecContext(ctx, updateEnrollment, id, e.Status, e.CancelReason,
		orNow(e.UpdatedAt), nullTime(e.ActivatedAt), nullTime(e.CompletedAt))
	if err != nil {
		return pgErr(err, "save enrollment", nil)
	}
	return mustAffect(res, "save enrollment", ErrEnrollmentNotFound)
}

const selectUserEnrollments = enrollmentColumns + `
WHERE e.user_id = $1 AND (e.created_at, e.id) < ($2, $3)
ORDER BY e.created_at DESC, e.id DESC
LIMIT $4`

// Enrollments pages userID's enrollments, newest first, each with its
// progress, in one query (enrollments_user_idx). A userID that is not a
// UUID has none. Errors: invalid_cursor, internal.
func (r *PostgresRepository) Enrollments(ctx context.Context, userID string, p page.Request) (page.Page[Enrollment], error) {
	after, limit, err := decodeKeyset(p)
	if err != nil {
		return page.Page[Enrollment]{}, err
	}
	uid, err := uuid.Parse(userID)
	if err != nil {
		return page.Page[Enrollment]{Items: []Enrollment{}}, nil
	}
	var rows []enrollmentRow
	err = sqlx.SelectContext(ctx, r.q(ctx), &rows, selectUserEnrollments, uid.String(), after.At, after.ID, limit+1)
	if err != nil {
		return page.Page[Enrollment]{}, pgErr(err, "enrollments", nil)
	}
	return page.Of(enrollmentsOf(rows), limit, func(e Enrollment) any { return timeKey{At: e.CreatedAt, ID: e.ID} }), nil
}

// completeLesson inserts the completion only when the lesson belongs to the
// enrollment's course, and reports in the same round trip whether the
// enrollment and the lesson were found and whether a row was inserted.
const completeLesson = `
WITH target AS (
    SELECT e.id AS enrollment_id, l.id AS lesson_id
    FROM enrollments e JOIN lessons l ON l.course_id = e.course_id
    WHERE e.id = $1 AND l.id = $2
), inserted AS (
    INSERT INTO lesson_completions (enrollment_id, lesson_id, completed_at)
    SELECT enrollment_id, lesson_id, now() FROM target
    ON CONFLICT (enrollment_id, lesson_id) DO NOTHING
    RETURNING 1
)
SELECT EXISTS (SELECT 1 FROM enrollments WHERE id = $1) AS enrollment_found,
       EXISTS (SELECT 1 FROM target) AS lesson_found,
       EXISTS (SELECT 1 FROM inserted) AS inserted`

// CompleteLesson records that the enrollment completed the lesson, once:
// of concurrent calls for one pair exactly one reports true (the primary
// key decides, ON CONFLICT DO NOTHING). It does not look at the
// enrollment's status; the caller does. Errors: enrollment_not_found,
// lesson_not_found (also for a lesson of another course), internal.
func (r *PostgresRepository) CompleteLesson(ctx context.Context, enrollmentID, lessonID string) (bool, error) {
	enrollmentID, err := parseID(enrollmentID, ErrEnrollmentNotFound)
	if err != nil {
		return false, err
	}
	if lessonID, err = parseID(lessonID, ErrLessonNotFound); err != nil {
		return false, err
	}
	var res struct {
		EnrollmentFound bool `db:"enrollment_found"`
		LessonFound     bool `db:"lesson_found"`
		Inserted        bool `db:"inserted"`
	}
	if err := sqlx.GetContext(ctx, r.q(ctx), &res, completeLesson, enrollmentID, lessonID); err != nil {
		return false, pgErr(err, "complete lesson", nil)
	}
	switch {
	case !res.EnrollmentFound:
		return false, ErrEnrollmentNotFound
	case !res.LessonFound:
		return false, ErrLessonNotFound
	}
	return res.Inserted, nil
}

const selectProgress = `
SELECT (SELECT count(*) FROM lesson_completions lc WHERE lc.enrollment_id = e.id) AS completed_lessons,
       (SELECT count(*) FROM lessons l WHERE l.course_id = e.course_id) AS total_lessons
FROM enrollments e
WHERE e.id = $1`

// Progress counts the enrollment's completed lessons against its course's
// lessons. Errors: enrollment_not_found, internal.
func (r *PostgresRepository) Progress(ctx context.Context, enrollmentID string) (Progress, error) {
	id, err := parseID(enrollmentID, ErrEnrollmentNotFound)
	if err != nil {
		return Progress{}, err
	}
	var row struct {
		Completed int `db:"completed_lessons"`
		Total     int `db:"total_lessons"`
	}
	if err := sqlx.GetContext(ctx, r.q(ctx), &row, selectProgress, id); err != nil {
		return Progress{}, pgErr(err, "progress", ErrEnrollmentNotFound)
	}
	return progressOf(row.Completed, row.Total), nil
}

const lockPendingBefore = enrollmentColumns + `
WHERE e.status = 'pending_payment' AND e.created_at < $1
ORDER BY e.created_at
LIMIT $2
FOR UPDATE OF e SKIP LOCKED`

// LockPendingBefore locks up to limit pending enrollments created before
// cutoff, oldest first, until ctx's transaction ends. Rows another
// transaction holds (a payment event being applied, another replica's
// sweep) are skipped rather than waited for, so sweepers never queue
// behind each other. Errors: internal (also when ctx carries no
// transaction).
func (r *PostgresRepository) LockPendingBefore(ctx context.Context, cutoff time.Time, limit int) ([]Enrollment, error) {
	if err := requireTx(ctx, "lock pending enrollments"); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return []Enrollment{}, nil
	}
	var rows []enrollmentRow
	if err := sqlx.SelectContext(ctx, r.q(ctx), &rows, lockPendingBefore, cutoff, limit); err != nil {
		return nil, pgErr(err, "lock pending enrollments", nil)
	}
	return enrollmentsOf(rows), nil
}
