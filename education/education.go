// Package education is Azora's learning service: instructors publish
// courses made of ordered lessons, students enrol (paying through the
// finance service's saga when a course has a price), track their progress,
// and earn Ed25519-signed certificates anyone can verify. It publishes
// azora.education.* events and reacts to azora.finance.payment.* ones (and
// to azora.auth.user.registered, to know learners' names).
package education

import (
	"context"
	"time"

	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/events"
	"github.com/azora-os/azora/shared/page"
)

// Course statuses.
const (
	CourseDraft     = "draft"
	CoursePublished = "published"
)

// Enrollment statuses. pending_payment ends in active or cancelled;
// active ends in completed.
const (
	EnrollmentPending   = "pending_payment"
	EnrollmentActive    = "active"
	EnrollmentCancelled = "cancelled"
	EnrollmentCompleted = "completed"
)

// Cancel reasons education itself sets (finance's payment.failed reason
// is passed through, e.g. "insufficient_funds").
const ReasonPaymentTimeout = "payment_timeout"

// Roles (from access tokens).
const (
	RoleStudent    = "student"
	RoleInstructor = "instructor"
	RoleAdmin      = "admin"
)

// Event types education publishes on events.TopicEducation.
const (
	EventCoursePublished     = "azora.education.course.published"
	EventEnrollmentRequested = "azora.education.enrollment.requested"
	EventEnrollmentActivated = "azora.education.enrollment.activated"
	EventEnrollmentCancelled = "azora.education.enrollment.cancelled"
	EventLessonCompleted     = "azora.education.lesson.completed"
	EventCourseCompleted     = "azora.education.course.completed"
	EventCertificateIssued   = "azora.education.certificate.issued"
)

// Event types education reacts to.
const (
	EventUserRegistered   = "azora.auth.user.registered"
	EventPaymentCompleted = "azora.finance.payment.completed"
	EventPaymentFailed    = "azora.finance.payment.failed"
)

// Money is an amount in integer minor units of an ISO 4217 currency.
type Money struct {
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
}

// Course is API.md's course object. Price nil means free.
type Course struct {
	ID           string     `json:"id"`
	InstructorID string     `json:"instructor_id"`
	Title        string     `json:"title"`
	Description  string     `json:"description"`
	Price        *Money     `json:"price"`
	Status       string     `json:"status"`
	LessonCount  int        `json:"lesson_count"`
	Lessons      []Lesson   `json:"lessons,omitempty"` // in order; on GET /courses/{id} only
	CreatedAt    time.Time  `json:"created_at"`
	UpdatedAt    time.Time  `json:"updated_at"`
	PublishedAt  *time.Time `json:"published_at,omitempty"`
}

// Lesson is one step of a course, at Position 1, 2, 3 …
type Lesson struct {
	ID        string    `json:"id"`
	CourseID  string    `json:"course_id"`
	Position  int       `json:"position"`
	Title     string    `json:"title"`
	Content   string    `json:"content"`
	CreatedAt time.Time `json:"created_at"`
}

// Progress is how far an enrollment got.
type Progress struct {
	CompletedLessons int `json:"completed_lessons"`
	TotalLessons     int `json:"total_lessons"`
	Percent          int `json:"percent"` // floor(100 * completed / total)
}

// Enrollment is API.md's enrollment object.
type Enrollment struct {
	ID           string     `json:"id"`
	CourseID     string     `json:"course_id"`
	UserID       string     `json:"user_id"`
	InstructorID string     `json:"-"`
	Status       string     `json:"status"`
	CancelReason string     `json:"cancel_reason,omitempty"`
	Price        *Money     `json:"price"` // what the student pays; nil for a free course
	Progress     Progress   `json:"progress"`
	CreatedAt    time.Time  `json:"created_at"`
	UpdatedAt    time.Time  `json:"updated_at"`
	ActivatedAt  *time.Time `json:"activated_at,omitempty"`
	CompletedAt  *time.Time `json:"completed_at,omitempty"`
}

// Certificate is API.md's certificate object. Signature is the Ed25519
// signature (base64url) of the certificate's canonical form under the
// education key KeyID.
type Certificate struct {
	ID           string    `json:"id"`
	EnrollmentID string    `json:"-"`
	UserID       string    `json:"user_id"`
	CourseID     string    `json:"course_id"`
	CourseTitle  string    `json:"course_title"`
	LearnerName  string    `json:"learner_name"`
	IssuedAt     time.Time `json:"issued_at"`
	KeyID        string    `json:"key_id"`
	Signature    string    `json:"signature"`
}

// Verification is the answer of GET /certificates/{id}/verify.
type Verification struct {
	Valid       bool         `json:"valid"`
	Reason      string       `json:"reason,omitempty"` // why not valid
	KeyID       string       `json:"key_id,omitempty"`
	Certificate *Certificate `json:"certificate,omitempty"`
}

// Actor is the caller, from a verified access token.
type Actor struct {
	UserID string
	Roles  []string
}

// CourseInput creates a course.
type CourseInput struct {
	Title       string `json:"title"`
	Description string `json:"description"`
	Price       *Money `json:"price,omitempty"`
}

// CoursePatch is a partial update (JSON merge patch): nil fields are left
// alone; SetPrice with a nil Price makes the course free.
type CoursePatch struct {
	Title       *string
	Description *string
	SetPrice    bool
	Price       *Money
}

// LessonPatch changes a lesson (PATCH
// /api/v1/courses/{id}/lessons/{lesson_id}); nil leaves a field alone.
type LessonPatch struct {
	Title   *string
	Content *string
}

// LessonInput appends a lesson.
type LessonInput struct {
	Title   string `json:"title"`
	Content string `json:"content"`
}

// Domain errors.
var (
	ErrCourseNotFound       = errs.New(errs.NotFound, "course_not_found", "no such course")
	ErrLessonNotFound       = errs.New(errs.NotFound, "lesson_not_found", "no such lesson in this course")
	ErrEnrollmentNotFound   = errs.New(errs.NotFound, "enrollment_not_found", "no such enrollment")
	ErrCertificateNotFound  = errs.New(errs.NotFound, "certificate_not_found", "no such certificate")
	ErrNotOwner             = errs.New(errs.Forbidden, "forbidden", "only the course's instructor or an admin may do this")
	ErrAlreadyEnrolled      = errs.New(errs.Conflict, "already_enrolled", "you are already enrolled in this course")
	ErrEnrollmentNotActive  = errs.New(errs.Conflict, "enrollment_not_active", "the enrollment is not active")
	ErrCourseHasNoLessons   = errs.New(errs.FailedPrecondition, "course_has_no_lessons", "a course needs at least one lesson to be published")
	ErrCoursePublished      = errs.New(errs.Conflict, "course_published", "a published course cannot be deleted: learners may hold it")
	ErrOwnCourse            = errs.New(errs.Conflict, "own_course", "instructors cannot enrol in their own course")
	ErrCertificateKeyLocked = errs.New(errs.Internal, "certificate_key_unreadable", "the certificate signing key cannot be opened")
)

// Service is the education domain. The endpoint layer has verified the
// caller (Actor) and the roles a route needs; ownership is checked here.
type Service interface {
	// CreateCourse creates a draft owned by the caller. Errors: validation_failed.
	CreateCourse(ctx context.Context, a Actor, in CourseInput) (Course, error)
	// Catalogue lists published courses, newest first, matching q (full
	// text over title and description) when q is set. Errors: invalid_cursor.
	Catalogue(ctx context.Context, q string, p page.Request) (page.Page[Course], error)
	// Course returns a course with its lessons. Drafts are visible to
	// their owner and admins only (course_not_found for anyone else).
	// a is nil for an anonymous caller.
	Course(ctx context.Context, a *Actor, id string) (Course, error)
	// UpdateCourse applies a patch. Errors: course_not_found, forbidden, validation_failed.
	UpdateCourse(ctx context.Context, a Actor, id string, p CoursePatch) (Course, error)
	// AddLesson appends a lesson. Errors: course_not_found, forbidden, validation_failed.
	AddLesson(ctx context.Context, a Actor, courseID string, in LessonInput) (Lesson, error)
	// UpdateLesson changes a lesson's title or content; its place and the
	// learners' progress stay. Errors: course_not_found, lesson_not_found,
	// forbidden, validation_failed.
	UpdateLesson(ctx context.Context, a Actor, courseID, lessonID string, p LessonPatch) (Lesson, error)
	// DeleteCourse deletes a draft and its lessons (no learner ever saw
	// it). Errors: course_not_found, forbidden, course_published.
	DeleteCourse(ctx context.Context, a Actor, id string) error
	// Publish makes a course visible (idempotent) and queues
	// course.published the first time. Errors: course_not_found,
	// forbidden, course_has_no_lessons.
	Publish(ctx context.Context, a Actor, id string) (Course, error)
	// Enroll enrols the caller: active at once in a free course, else
	// pending_payment with enrollment.requested queued. Errors:
	// course_not_found (also for drafts), already_enrolled, own_course.
	Enroll(ctx context.Context, a Actor, courseID string) (Enrollment, error)
	// Enrollments lists the caller's enrollments, newest first.
	Enrollments(ctx context.Context, a Actor, p page.Request) (page.Page[Enrollment], error)
	// Enrollment returns one enrollment with its progress, to its owner or
	// an admin. Errors: enrollment_not_found.
	Enrollment(ctx context.Context, a Actor, id string) (Enrollment, error)
	// CompleteLesson records a completed lesson (idempotent); the last one
	// completes the enrollment and issues its certificate in the same
	// transaction. Errors: enrollment_not_found, lesson_not_found,
	// enrollment_not_active.
	CompleteLesson(ctx context.Context, a Actor, enrollmentID, lessonID string) (Progress, error)
	// Certificates lists the caller's certificates, newest first.
	Certificates(ctx context.Context, a Actor, p page.Request) (page.Page[Certificate], error)
	// Certificate returns a certificate to anyone. Errors: certificate_not_found.
	Certificate(ctx context.Context, id string) (Certificate, error)
	// Verify checks a stored certificate's signature against the
	// published key. Errors: certificate_not_found.
	Verify(ctx context.Context, id string) (Verification, error)
	// CertificatePDF renders the printable certificate. Errors: certificate_not_found.
	CertificatePDF(ctx context.Context, id string) ([]byte, error)
	// CertificateKeys returns the public keys certificates verify with.
	CertificateKeys(ctx context.Context) (KeySet, error)
}

// Reactions are what the event consumer and the timeout worker call.
type Reactions interface {
	// PaymentCompleted activates a pending enrollment (a no-op otherwise).
	PaymentCompleted(ctx context.Context, enrollmentID, paymentID string) error
	// PaymentFailed cancels a pending enrollment with reason (a no-op otherwise).
	PaymentFailed(ctx context.Context, enrollmentID, reason string) error
	// ExpirePending cancels (payment_timeout) pending enrollments created
	// before cutoff, at most limit of them, and reports how many.
	ExpirePending(ctx context.Context, cutoff time.Time, limit int) (int, error)
	// LearnerRegistered records the name certificates print for userID.
	LearnerRegistered(ctx context.Context, userID, name string) error
}

// KeySet is a JWKS of Ed25519 public keys (RFC 8037: kty OKP, crv Ed25519).
type KeySet struct {
	Keys []PublicKey `json:"keys"`
}

// PublicKey is one certificate verification key.
type PublicKey struct {
	KID string `json:"kid"`
	KTY string `json:"kty"` // "OKP"
	Crv string `json:"crv"` // "Ed25519"
	Use string `json:"use"` // "sig"
	Alg string `json:"alg"` // "EdDSA"
	X   string `json:"x"`   // base64url public key
}

// Repository stores courses, enrollments and certificates. Methods join
// the transaction in ctx (pg.FromContext); the Lock methods require one.
type Repository interface {
	CreateCourse(ctx context.Context, c Course) error
	// Course returns c with its lessons in order. Errors: course_not_found.
	Course(ctx context.Context, id string) (Course, error)
	// LockCourse is Course under SELECT … FOR UPDATE (lessons included).
	LockCourse(ctx context.Context, id string) (Course, error)
	// SaveCourse writes title, description, price, status, updated_at and
	// published_at of c.
	SaveCourse(ctx context.Context, c Course) error
	// AddLesson stores l at l.Position (the caller holds the course lock).
	AddLesson(ctx context.Context, l Lesson) error
	// SaveLesson writes the title and content of l (the caller holds the
	// course lock). Errors: lesson_not_found.
	SaveLesson(ctx context.Context, l Lesson) error
	// DeleteDraft deletes a draft course and its lessons (the caller holds
	// the course lock). Errors: course_not_found (no draft has that id).
	DeleteDraft(ctx context.Context, id string) error
	// Catalogue pages published courses, newest first; q (when set) is a
	// full-text query over title and description. Errors: invalid_cursor.
	Catalogue(ctx context.Context, q string, p page.Request) (page.Page[Course], error)

	// CreateEnrollment stores e. Errors: already_enrolled (a live
	// enrollment of the user in the course exists).
	CreateEnrollment(ctx context.Context, e Enrollment) error
	// Enrollment returns e with its progress. Errors: enrollment_not_found.
	Enrollment(ctx context.Context, id string) (Enrollment, error)
	// LockEnrollment is Enrollment under SELECT … FOR UPDATE.
	LockEnrollment(ctx context.Context, id string) (Enrollment, error)
	// SaveEnrollment writes status, cancel_reason, updated_at,
	// activated_at and completed_at of e.
	SaveEnrollment(ctx context.Context, e Enrollment) error
	// Enrollments pages a user's enrollments, newest first, with progress.
	Enrollments(ctx context.Context, userID string, p page.Request) (page.Page[Enrollment], error)
	// CompleteLesson records (enrollmentID, lessonID) once; it reports
	// whether this call inserted it.
	CompleteLesson(ctx context.Context, enrollmentID, lessonID string) (bool, error)
	// Progress counts an enrollment's completed lessons against its
	// course's lessons.
	Progress(ctx context.Context, enrollmentID string) (Progress, error)
	// LockPendingBefore locks up to limit pending enrollments created before
	// cutoff, skipping rows other transactions hold (FOR UPDATE SKIP LOCKED).
	LockPendingBefore(ctx context.Context, cutoff time.Time, limit int) ([]Enrollment, error)

	// CreateCertificate stores c (one per enrollment).
	CreateCertificate(ctx context.Context, c Certificate) error
	// Certificate returns c. Errors: certificate_not_found.
	Certificate(ctx context.Context, id string) (Certificate, error)
	// Certificates pages a user's certificates, newest first.
	Certificates(ctx context.Context, userID string, p page.Request) (page.Page[Certificate], error)

	// SetLearnerName records the name of userID (insert or update).
	SetLearnerName(ctx context.Context, userID, name string) error
	// LearnerName returns the recorded name, or "" when none is known.
	LearnerName(ctx context.Context, userID string) (string, error)
	// LockLearner serialises, until ctx's transaction ends, the
	// transactions that issue userID's certificates or set their name.
	LockLearner(ctx context.Context, userID string) error
	// UncertifiedCompletions returns userID's completed enrollments that
	// have no certificate, oldest completion first.
	UncertifiedCompletions(ctx context.Context, userID string) ([]Enrollment, error)
}

// Transactor runs fn in one transaction carried by ctx (pg.Transactor).
type Transactor interface {
	InTx(ctx context.Context, fn func(ctx context.Context) error) error
}

// Outbox queues events in the transaction in ctx: events.Enqueue.
type Outbox func(ctx context.Context, evs ...events.Event) error

// CertificateSigner signs and checks certificates with Ed25519 keys that
// it keeps sealed (shared/seal) and publishes as a KeySet.
type CertificateSigner interface {
	// Sign returns the signature (base64url) of msg and the key id.
	Sign(ctx context.Context, msg []byte) (sig, keyID string, err error)
	// Verify reports whether sig is keyID's signature of msg; an unknown
	// key is simply not valid.
	Verify(ctx context.Context, keyID string, msg []byte, sig string) (bool, error)
	// Keys returns every public key certificates may verify with.
	Keys(ctx context.Context) (KeySet, error)
}

// PDFRenderer draws the printable certificate with a QR code of verifyURL.
type PDFRenderer interface {
	Render(c Certificate, verifyURL string) ([]byte, error)
}
