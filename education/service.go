package education

import (
	"context"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/events"
	"github.com/azora-os/azora/shared/page"
)

// Config tunes the service.
type Config struct {
	// PublicURL is where clients reach this service's routes (through the
	// gateway in production); certificates print PublicURL + the verify path.
	PublicURL string
	Clock     func() time.Time
}

// Deps are the ports the service runs over.
type Deps struct {
	Repo   Repository
	Tx     Transactor
	Outbox Outbox
	Signer CertificateSigner
	PDF    PDFRenderer
}

// EducationService implements Service and Reactions.
type EducationService struct {
	Deps
	cfg Config
}

var (
	_ Service   = (*EducationService)(nil)
	_ Reactions = (*EducationService)(nil)
)

// NewService returns the education service over d.
func NewService(d Deps, cfg Config) *EducationService {
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	cfg.PublicURL = strings.TrimSuffix(cfg.PublicURL, "/")
	return &EducationService{Deps: d, cfg: cfg}
}

// now is the service clock at Postgres's microsecond precision, so what a
// call returns equals what a later read returns.
func (s *EducationService) now() time.Time { return s.cfg.Clock().UTC().Truncate(time.Microsecond) }

// CreateCourse implements Service.
func (s *EducationService) CreateCourse(ctx context.Context, a Actor, in CourseInput) (Course, error) {
	title, desc := strings.TrimSpace(in.Title), strings.TrimSpace(in.Description)
	if err := validateCourse(title, desc, in.Price); err != nil {
		return Course{}, err
	}
	id, err := newID()
	if err != nil {
		return Course{}, err
	}
	now := s.now()
	c := Course{ID: id, InstructorID: a.UserID, Title: title, Description: desc, Price: in.Price,
		Status: CourseDraft, CreatedAt: now, UpdatedAt: now}
	if err := s.Repo.CreateCourse(ctx, c); err != nil {
		return Course{}, err
	}
	return c, nil
}

// Catalogue implements Service.
func (s *EducationService) Catalogue(ctx context.Context, q string, p page.Request) (page.Page[Course], error) {
	return s.Repo.Catalogue(ctx, strings.TrimSpace(q), p)
}

// Course implements Service.
func (s *EducationService) Course(ctx context.Context, a *Actor, id string) (Course, error) {
	c, err := s.Repo.Course(ctx, id)
	if err != nil {
		return Course{}, err
	}
	if c.Status != CoursePublished && (a == nil || !owns(*a, c)) {
		return Course{}, ErrCourseNotFound // a draft does not exist for anyone else
	}
	return c, nil
}

// UpdateCourse implements Service.
func (s *EducationService) UpdateCourse(ctx context.Context, a Actor, id string, p CoursePatch) (Course, error) {
	var c Course
	err := s.Tx.InTx(ctx, func(ctx context.Context) error {
		var err error
		if c, err = s.lockOwned(ctx, a, id); err != nil {
			return err
		}
		if p.Title != nil {
			c.Title = strings.TrimSpace(*p.Title)
		}
		if p.Description != nil {
			c.Description = strings.TrimSpace(*p.Description)
		}
		if p.SetPrice {
			c.Price = p.Price
		}
		if err := validateCourse(c.Title, c.Description, c.Price); err != nil {
			return err
		}
		c.UpdatedAt = s.now()
		return s.Repo.SaveCourse(ctx, c)
	})
	return c, err
}

// AddLesson implements Service. The course row lock orders concurrent
// additions, so positions stay 1, 2, 3 … without gaps or repeats.
func (s *EducationService) AddLesson(ctx context.Context, a Actor, courseID string, in LessonInput) (Lesson, error) {
	title, content := strings.TrimSpace(in.Title), strings.TrimSpace(in.Content)
	var fields []errs.FieldError
	if title == "" || utf8.RuneCountInString(title) > 200 {
		fields = append(fields, errs.FieldError{Field: "title", Message: "must be 1 to 200 characters"})
	}
	if content == "" {
		fields = append(fields, errs.FieldError{Field: "content", Message: "is required"})
	}
	if len(fields) > 0 {
		return Lesson{}, errs.Validation(fields...)
	}
	var l Lesson
	err := s.Tx.InTx(ctx, func(ctx context.Context) error {
		c, err := s.lockOwned(ctx, a, courseID)
		if err != nil {
			return err
		}
		id, err := newID()
		if err != nil {
			return err
		}
		l = Lesson{ID: id, CourseID: c.ID, Position: len(c.Lessons) + 1, Title: title, Content: content, CreatedAt: s.now()}
		if err := s.Repo.AddLesson(ctx, l); err != nil {
			return err
		}
		c.UpdatedAt = l.CreatedAt
		return s.Repo.SaveCourse(ctx, c)
	})
	return l, err
}

// UpdateLesson implements Service, under the course lock like AddLesson.
func (s *EducationService) UpdateLesson(ctx context.Context, a Actor, courseID, lessonID string, p LessonPatch) (Lesson, error) {
	var l Lesson
	err := s.Tx.InTx(ctx, func(ctx context.Context) error {
		c, err := s.lockOwned(ctx, a, courseID)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(c.Lessons, func(l Lesson) bool { return l.ID == lessonID })
		if i < 0 {
			return ErrLessonNotFound
		}
		l = c.Lessons[i]
		if p.Title != nil {
			l.Title = *p.Title
		}
		if p.Content != nil {
			l.Content = *p.Content
		}
		if err := s.Repo.SaveLesson(ctx, l); err != nil {
			return err
		}
		c.UpdatedAt = s.now()
		return s.Repo.SaveCourse(ctx, c)
	})
	return l, err
}

// DeleteCourse implements Service, under the course lock: a draft has no
// enrollment (only published courses take them) and was never announced,
// so it goes without a trace; a published course stays for its learners.
func (s *EducationService) DeleteCourse(ctx context.Context, a Actor, id string) error {
	return s.Tx.InTx(ctx, func(ctx context.Context) error {
		c, err := s.lockOwned(ctx, a, id)
		if err != nil {
			return err
		}
		if c.Status != CourseDraft {
			return ErrCoursePublished
		}
		return s.Repo.DeleteDraft(ctx, c.ID)
	})
}

// Publish implements Service.
func (s *EducationService) Publish(ctx context.Context, a Actor, id string) (Course, error) {
	var c Course
	err := s.Tx.InTx(ctx, func(ctx context.Context) error {
		var err error
		if c, err = s.lockOwned(ctx, a, id); err != nil {
			return err
		}
		if c.Status == CoursePublished {
			return nil
		}
		if len(c.Lessons) == 0 {
			return ErrCourseHasNoLessons
		}
		now := s.now()
		c.Status, c.UpdatedAt, c.PublishedAt = CoursePublished, now, &now
		if err := s.Repo.SaveCourse(ctx, c); err != nil {
			return err
		}
		return s.publish(ctx, EventCoursePublished, c.InstructorID, map[string]any{
			"course_id": c.ID, "instructor_id": c.InstructorID, "title": c.Title, "price": c.Price,
		})
	})
	return c, err
}

// Enroll implements Service.
func (s *EducationService) Enroll(ctx context.Context, a Actor, courseID string) (Enrollment, error) {
	var e Enrollment
	err := s.Tx.InTx(ctx, func(ctx context.Context) error {
		c, err := s.Repo.Course(ctx, courseID)
		if err != nil {
			return err
		}
		if c.Status != CoursePublished {
			return ErrCourseNotFound
		}
		if c.InstructorID == a.UserID {
			return ErrOwnCourse
		}
		id, err := newID()
		if err != nil {
			return err
		}
		now := s.now()
		e = Enrollment{ID: id, CourseID: c.ID, UserID: a.UserID, InstructorID: c.InstructorID, Price: c.Price,
			Status: EnrollmentPending, CreatedAt: now, UpdatedAt: now,
			Progress: progress(0, len(c.Lessons))}
		if c.Price == nil {
			e.Status, e.ActivatedAt = EnrollmentActive, &now
		}
		if err := s.Repo.CreateEnrollment(ctx, e); err != nil {
			return err
		}
		if e.Status == EnrollmentActive {
			return s.publishEnrollment(ctx, EventEnrollmentActivated, e)
		}
		return s.publish(ctx, EventEnrollmentRequested, e.UserID, map[string]any{
			"enrollment_id": e.ID, "course_id": e.CourseID, "user_id": e.UserID,
			"instructor_id": e.InstructorID, "price": e.Price,
		})
	})
	return e, err
}

// Enrollments implements Service.
func (s *EducationService) Enrollments(ctx context.Context, a Actor, p page.Request) (page.Page[Enrollment], error) {
	return s.Repo.Enrollments(ctx, a.UserID, p)
}

// Enrollment implements Service. Another user's enrollment does not exist
// for the caller (404, not 403: ids are not confirmed to strangers).
func (s *EducationService) Enrollment(ctx context.Context, a Actor, id string) (Enrollment, error) {
	e, err := s.Repo.Enrollment(ctx, id)
	if err != nil {
		return Enrollment{}, err
	}
	if e.UserID != a.UserID && !slices.Contains(a.Roles, RoleAdmin) {
		return Enrollment{}, ErrEnrollmentNotFound
	}
	return e, nil
}

// Certificates implements Service.
func (s *EducationService) Certificates(ctx context.Context, a Actor, p page.Request) (page.Page[Certificate], error) {
	return s.Repo.Certificates(ctx, a.UserID, p)
}

// Certificate implements Service.
func (s *EducationService) Certificate(ctx context.Context, id string) (Certificate, error) {
	return s.Repo.Certificate(ctx, id)
}

// CertificateKeys implements Service.
func (s *EducationService) CertificateKeys(ctx context.Context) (KeySet, error) {
	return s.Signer.Keys(ctx)
}

// lockOwned locks a course the actor owns (or any course for an admin).
func (s *EducationService) lockOwned(ctx context.Context, a Actor, id string) (Course, error) {
	c, err := s.Repo.LockCourse(ctx, id)
	if err != nil {
		return Course{}, err
	}
	if !owns(a, c) {
		if c.Status != CoursePublished {
			return Course{}, ErrCourseNotFound
		}
		return Course{}, ErrNotOwner
	}
	return c, nil
}

func owns(a Actor, c Course) bool {
	return a.UserID == c.InstructorID || slices.Contains(a.Roles, RoleAdmin)
}

func validateCourse(title, desc string, price *Money) error {
	var fields []errs.FieldError
	if title == "" || utf8.RuneCountInString(title) > 200 {
		fields = append(fields, errs.FieldError{Field: "title", Message: "must be 1 to 200 characters"})
	}
	if utf8.RuneCountInString(desc) > 10000 {
		fields = append(fields, errs.FieldError{Field: "description", Message: "must be at most 10,000 characters"})
	}
	if price != nil {
		if price.Amount <= 0 {
			fields = append(fields, errs.FieldError{Field: "price.amount", Message: "must be a positive integer of minor units (omit price for a free course)"})
		}
		if !validCurrency(price.Currency) {
			fields = append(fields, errs.FieldError{Field: "price.currency", Message: "must be an ISO 4217 code such as USD"})
		}
	}
	if len(fields) > 0 {
		return errs.Validation(fields...)
	}
	return nil
}

func validCurrency(c string) bool {
	return len(c) == 3 && strings.Trim(c, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") == ""
}

func progress(done, total int) Progress {
	p := Progress{CompletedLessons: done, TotalLessons: total}
	if total > 0 {
		p.Percent = 100 * done / total
	}
	return p
}

func (s *EducationService) publishEnrollment(ctx context.Context, typ string, e Enrollment) error {
	return s.publish(ctx, typ, e.UserID, map[string]any{"enrollment_id": e.ID, "course_id": e.CourseID, "user_id": e.UserID})
}

func (s *EducationService) publish(ctx context.Context, typ, userID string, data any) error {
	ev, err := events.New(events.TopicEducation, typ, userID, data)
	if err != nil {
		return errs.Internalf(err, "build %s", typ)
	}
	return s.Outbox(ctx, ev)
}

func newID() (string, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return "", errs.Internalf(err, "new id")
	}
	return id.String(), nil
}
