package education

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/page"
	"github.com/azora-os/azora/shared/pg"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Migrations is the education schema, applied at start and by "education migrate"
// (the events tables come separately, from events.Migrations).
var Migrations = pg.Migrations{FS: migrationFS, Dir: "migrations", Table: "schema_migrations"}

// Constraint and index names of migrations/0002 that errors are mapped by.
const (
	constraintLiveEnrollment       = "enrollments_live_key"
	constraintLessonCourse         = "lessons_course_fk"
	constraintEnrollmentCourse     = "enrollments_course_fk"
	constraintCompletionEnrollment = "lesson_completions_enrollment_fk"
	constraintCompletionLesson     = "lesson_completions_lesson_fk"
	constraintCertificateEnroll    = "certificates_enrollment_fk"
	constraintCertificateCourse    = "certificates_course_fk"
)

// PostgresRepository is the Repository port over Postgres. Every method
// joins the transaction ctx carries (pg.FromContext), so a state change and
// the outbox rows announcing it commit together; the Lock methods refuse to
// run without one, since a row lock outside a transaction ends at once.
// Driver errors never leave it: they become the domain errors the
// Repository documents, or internal errors.
type PostgresRepository struct {
	db           *sqlx.DB
	read         *sqlx.DB // the catalogue's reads outside a transaction (WithReadReplica)
	searchWindow int      // see defaultSearchWindow; tests shrink it
}

var _ Repository = (*PostgresRepository)(nil)

// NewPostgresRepository returns the Repository over db.
func NewPostgresRepository(db *sqlx.DB) *PostgresRepository {
	return &PostgresRepository{db: db, read: db, searchWindow: defaultSearchWindow}
}

// WithReadReplica makes the public catalogue (browse and search) read from
// read, a pool on a read-only replica (DATABASE_READ_URL), when it runs
// outside a transaction; everything else stays on the primary. The
// catalogue may then lag the primary by the replica's delay: a course just
// published can take that long to be listed, never longer.
func (r *PostgresRepository) WithReadReplica(read *sqlx.DB) *PostgresRepository {
	c := *r
	c.read = read
	return &c
}

// q returns what a method queries through: the transaction in ctx, or the pool.
func (r *PostgresRepository) q(ctx context.Context) sqlx.ExtContext { return pg.Ext(ctx, r.db) }

// readQ is q for the catalogue: the transaction in ctx, or the read pool.
func (r *PostgresRepository) readQ(ctx context.Context) sqlx.ExtContext { return pg.Ext(ctx, r.read) }

// requireTx returns the transaction in ctx, or an internal error naming op:
// SELECT … FOR UPDATE in autocommit would release its lock before the
// caller could act on the row, which is a programming error.
func requireTx(ctx context.Context, op string) error {
	if pg.FromContext(ctx) == nil {
		return errs.Internalf(errors.New("no transaction in ctx"), "education: %s needs a transaction", op)
	}
	return nil
}

// parseID returns id in canonical form, or notFound when it is not a UUID:
// no row can have such an id, and Postgres would refuse it with 22P02.
func parseID(id string, notFound *errs.Error) (string, error) {
	u, err := uuid.Parse(id)
	if err != nil {
		return "", notFound
	}
	return u.String(), nil
}

// pgErr translates a driver error into the domain error it means, so that
// nothing above the adapter sees a *pq.Error: no rows is notFound, the live
// enrollment index is already_enrolled, a broken foreign key names what is
// missing, and anything else is internal.
func pgErr(err error, op string, notFound *errs.Error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) && notFound != nil {
		return notFound
	}
	switch pg.Code(err) {
	case pg.CodeUniqueViolation:
		if pg.Constraint(err) == constraintLiveEnrollment {
			return ErrAlreadyEnrolled
		}
	case pg.CodeForeignKeyViolation:
		switch pg.Constraint(err) {
		case constraintLessonCourse, constraintEnrollmentCourse, constraintCertificateCourse:
			return ErrCourseNotFound
		case constraintCompletionEnrollment, constraintCertificateEnroll:
			return ErrEnrollmentNotFound
		case constraintCompletionLesson:
			return ErrLessonNotFound
		}
	}
	var e *errs.Error
	if errors.As(err, &e) {
		return err
	}
	return errs.Internalf(err, "education: %s", op)
}

// mustAffect returns notFound when res changed no row.
func mustAffect(res sql.Result, op string, notFound *errs.Error) error {
	n, err := res.RowsAffected()
	if err != nil {
		return errs.Internalf(err, "education: %s", op)
	}
	if n == 0 {
		return notFound
	}
	return nil
}

// timeKey is the keyset position of a row in a newest-first list: the last
// row of a page, encoded in its next_cursor.
type timeKey struct {
	At time.Time `json:"t"`
	ID string    `json:"i"`
}

// keysetStart sorts after every row, so the first page uses the same query
// (and the same index range scan) as the next ones.
var keysetStart = timeKey{At: time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC), ID: "ffffffff-ffff-ffff-ffff-ffffffffffff"}

// decodeKeyset returns the position after which p's page starts, and the
// number of rows to fetch (the page's limit, clamped as API.md says).
// Errors: invalid_cursor.
func decodeKeyset(p page.Request) (timeKey, int, error) {
	limit := p.Size()
	k := keysetStart
	if err := page.Decode(p.Cursor, &k); err != nil {
		return timeKey{}, 0, err
	}
	u, err := uuid.Parse(k.ID)
	if err != nil || k.At.IsZero() {
		return timeKey{}, 0, page.ErrBadCursor
	}
	k.ID = u.String()
	return k, limit, nil
}

// money returns the price columns as a *Money, nil when they are NULL.
func money(amount sql.NullInt64, currency sql.NullString) *Money {
	if !amount.Valid {
		return nil
	}
	return &Money{Amount: amount.Int64, Currency: currency.String}
}

// priceArgs returns m as the two price column values, NULL for a free price.
func priceArgs(m *Money) (amount, currency any) {
	if m == nil {
		return nil, nil
	}
	return m.Amount, m.Currency
}

// nullTime returns t as a column value, NULL for nil.
func nullTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return *t
}

// timePtr returns the UTC time of a nullable column, nil when NULL.
func timePtr(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	u := t.Time.UTC()
	return &u
}

// orNow returns t, or the current time when t is zero.
func orNow(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now()
	}
	return t
}
