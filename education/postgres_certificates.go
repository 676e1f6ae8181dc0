package education

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/page"
)

type certificateRow struct {
	ID           string    `db:"id"`
	EnrollmentID string    `db:"enrollment_id"`
	UserID       string    `db:"user_id"`
	CourseID     string    `db:"course_id"`
	CourseTitle  string    `db:"course_title"`
	LearnerName  string    `db:"learner_name"`
	IssuedAt     time.Time `db:"issued_at"`
	KeyID        string    `db:"key_id"`
	Signature    string    `db:"signature"`
}

func (r certificateRow) certificate() Certificate {
	c := Certificate(r)
	c.IssuedAt = r.IssuedAt.UTC()
	return c
}

const insertCertificate = `
INSERT INTO certificates (id, enrollment_id, user_id, course_id, course_title,
                          learner_name, issued_at, key_id, signature)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`

// CreateCertificate inserts c exactly as given: IssuedAt is part of what
// was signed, so it must already be cut to the microsecond Postgres keeps
// (a finer time would be stored rounded and no longer verify, so it is
// refused). Errors: enrollment_not_found, course_not_found, internal (also
// for a second certificate of one enrollment, or a finer IssuedAt).
func (r *PostgresRepository) CreateCertificate(ctx context.Context, c Certificate) error {
	if c.IssuedAt.Nanosecond()%1000 != 0 {
		return errs.Internalf(errors.New("issued_at finer than a microsecond"), "education: create certificate %s", c.ID)
	}
	enrollmentID, err := parseID(c.EnrollmentID, ErrEnrollmentNotFound)
	if err != nil {
		return err
	}
	courseID, err := parseID(c.CourseID, ErrCourseNotFound)
	if err != nil {
		return err
	}
	_, err = r.q(ctx).ExecContext(ctx, insertCertificate, c.ID, enrollmentID, c.UserID, courseID,
		c.CourseTitle, c.LearnerName, c.IssuedAt, c.KeyID, c.Signature)
	return pgErr(err, "create certificate", nil)
}

const selectCertificate = `
SELECT id, enrollment_id, user_id, course_id, course_title, learner_name, issued_at, key_id, signature
FROM certificates
WHERE id = $1`

// Certificate returns the certificate. Errors: certificate_not_found
// (also for an id that is not a UUID), internal.
func (r *PostgresRepository) Certificate(ctx context.Context, id string) (Certificate, error) {
	id, err := parseID(id, ErrCertificateNotFound)
	if err != nil {
		return Certificate{}, err
	}
	var row certificateRow
	if err := sqlx.GetContext(ctx, r.q(ctx), &row, selectCertificate, id); err != nil {
		return Certificate{}, pgErr(err, "certificate", ErrCertificateNotFound)
	}
	return row.certificate(), nil
}

const selectUserCertificates = `
SELECT id, enrollment_id, user_id, course_id, course_title, learner_name, issued_at, key_id, signature
FROM certificates
WHERE user_id = $1 AND (issued_at, id) < ($2, $3)
ORDER BY issued_at DESC, id DESC
LIMIT $4`

// Certificates pages userID's certificates, newest first
// (certificates_user_idx). A userID that is not a UUID has none. Errors:
// invalid_cursor, internal.
func (r *PostgresRepository) Certificates(ctx context.Context, userID string, p page.Request) (page.Page[Certificate], error) {
	after, limit, err := decodeKeyset(p)
	if err != nil {
		return page.Page[Certificate]{}, err
	}
	uid, err := uuid.Parse(userID)
	if err != nil {
		return page.Page[Certificate]{Items: []Certificate{}}, nil
	}
	var rows []certificateRow
	err = sqlx.SelectContext(ctx, r.q(ctx), &rows, selectUserCertificates, uid.String(), after.At, after.ID, limit+1)
	if err != nil {
		return page.Page[Certificate]{}, pgErr(err, "certificates", nil)
	}
	list := make([]Certificate, len(rows))
	for i, row := range rows {
		list[i] = row.certificate()
	}
	return page.Of(list, limit, func(c Certificate) any { return timeKey{At: c.IssuedAt, ID: c.ID} }), nil
}

const upsertLearner = `
INSERT INTO learners (user_id, name, updated_at)
VALUES ($1, $2, now())
ON CONFLICT (user_id) DO UPDATE SET name = EXCLUDED.name, updated_at = EXCLUDED.updated_at`

// SetLearnerName records name as userID's, replacing any earlier one.
// Errors: validation_failed when userID is not a UUID (an event no retry
// will cure), internal.
func (r *PostgresRepository) SetLearnerName(ctx context.Context, userID, name string) error {
	uid, err := uuid.Parse(userID)
	if err != nil {
		return errs.Validation(errs.FieldError{Field: "user_id", Message: "must be a UUID"})
	}
	_, err = r.q(ctx).ExecContext(ctx, upsertLearner, uid.String(), name)
	return pgErr(err, "set learner name", nil)
}

const selectLearnerName = `SELECT name FROM learners WHERE user_id = $1`

// LearnerName returns userID's recorded name, or "" when none is known
// (also for a userID that is not a UUID). Errors: internal.
func (r *PostgresRepository) LearnerName(ctx context.Context, userID string) (string, error) {
	uid, err := uuid.Parse(userID)
	if err != nil {
		return "", nil
	}
	var name string
	err = sqlx.GetContext(ctx, r.q(ctx), &name, selectLearnerName, uid.String())
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return name, pgErr(err, "learner name", nil)
}

// learnerLockClass namespaces LockLearner's advisory locks (two-key form:
// this class, then a hash of the user id), so they meet no other lock.
const learnerLockClass = 0x61_7a_6c_6e // "azln"

// LockLearner implements Repository with a transaction-scoped advisory
// lock; two users whose ids hash alike only wait for each other. A userID
// that is not a UUID has no certificates and takes no lock. Errors:
// internal (also when ctx carries no transaction).
func (r *PostgresRepository) LockLearner(ctx context.Context, userID string) error {
	if err := requireTx(ctx, "lock learner"); err != nil {
		return err
	}
	uid, err := uuid.Parse(userID)
	if err != nil {
		return nil
	}
	_, err = r.q(ctx).ExecContext(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, learnerLockClass, uid.String())
	return pgErr(err, "lock learner", nil)
}

const selectUncertifiedCompletions = enrollmentColumns + `
WHERE e.user_id = $1 AND e.status = 'completed'
  AND NOT EXISTS (SELECT 1 FROM certificates c WHERE c.enrollment_id = e.id)
ORDER BY e.completed_at, e.id`

// UncertifiedCompletions implements Repository (none for a userID that is
// not a UUID). Errors: internal.
func (r *PostgresRepository) UncertifiedCompletions(ctx context.Context, userID string) ([]Enrollment, error) {
	uid, err := uuid.Parse(userID)
	if err != nil {
		return []Enrollment{}, nil
	}
	var rows []enrollmentRow
	if err := sqlx.SelectContext(ctx, r.q(ctx), &rows, selectUncertifiedCompletions, uid.String()); err != nil {
		return nil, pgErr(err, "uncertified completions", nil)
	}
	return enrollmentsOf(rows), nil
}
