package education

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/azora-os/azora/shared/events"
	"github.com/azora-os/azora/shared/page"
)

// fixedSigner signs everything with one fake key: the tests here are
// about when a certificate is issued, not its signature.
type fixedSigner struct{}

func (fixedSigner) Sign(context.Context, []byte) (string, string, error) { return "c2ln", "k1", nil }
func (fixedSigner) Verify(context.Context, string, []byte, string) (bool, error) {
	return true, nil
}
func (fixedSigner) Keys(context.Context) (KeySet, error) { return KeySet{}, nil }

// pausingRepo holds the completion's transaction right after its second
// look at the learner's name (the one under LockLearner) until proceed
// closes.
type pausingRepo struct {
	Repository
	reads   atomic.Int32
	reread  chan struct{}
	proceed chan struct{}
}

func (r *pausingRepo) LearnerName(ctx context.Context, userID string) (string, error) {
	name, err := r.Repository.LearnerName(ctx, userID)
	if r.reads.Add(1) == 2 {
		close(r.reread)
		<-r.proceed
	}
	return name, err
}

// TestCertificateNameArrivesMidCompletion forces the interleaving that
// would lose a certificate: the completion has looked twice and found no
// name; the name then arrives before the completion commits. The learner
// lock makes the name's transaction wait for the completion's, so it sees
// the completed enrollment and issues the certificate.
func TestCertificateNameArrivesMidCompletion(t *testing.T) {
	h, _ := newPostgresHarness(t)
	ctx := context.Background()
	published := repoNow()
	course := repoNewCourse(t, h, "Ledgers", "", nil, 1, &published)
	learner := repoID(t)
	e := repoEnroll(t, h, course, learner, EnrollmentActive, time.Time{})
	repo := &pausingRepo{Repository: h.repo, reread: make(chan struct{}), proceed: make(chan struct{})}
	svc := NewService(Deps{Repo: repo, Tx: h.tx, Outbox: events.Enqueue, Signer: fixedSigner{}, PDF: PDF{}}, Config{})

	completed := make(chan error, 1)
	go func() {
		_, err := svc.CompleteLesson(ctx, Actor{UserID: learner}, e.ID, course.Lessons[0].ID)
		completed <- err
	}()
	<-repo.reread
	named := make(chan error, 1)
	go func() { named <- svc.LearnerRegistered(ctx, learner, "Ada Obi") }()
	var nameErr error
	select {
	case nameErr = <-named:
		t.Logf("the name was applied while the completion was open: nothing serialised them")
		named = nil
	case <-time.After(300 * time.Millisecond): // waiting for the learner lock, as it should
	}
	close(repo.proceed)
	if err := <-completed; err != nil {
		t.Fatal(err)
	}
	if named != nil {
		nameErr = <-named
	}
	if nameErr != nil {
		t.Fatal(nameErr)
	}
	certs, err := h.repo.Certificates(ctx, learner, page.Request{})
	if err != nil {
		t.Fatal(err)
	}
	if len(certs.Items) != 1 || certs.Items[0].LearnerName != "Ada Obi" || certs.Items[0].EnrollmentID != e.ID {
		t.Fatalf("certificates: %+v, want one for Ada Obi's enrollment", certs.Items)
	}
}

func TestPostgresUncertifiedCompletionsAndLearnerLock(t *testing.T) {
	h, _ := newPostgresHarness(t)
	ctx := context.Background()
	published := repoNow()
	course := repoNewCourse(t, h, "Ledgers", "", nil, 1, &published)
	other := repoNewCourse(t, h, "Queues", "", nil, 1, &published)
	third := repoNewCourse(t, h, "Caches", "", nil, 1, &published)
	learner := repoID(t)
	complete := func(e Enrollment, at time.Time) Enrollment {
		e.Status, e.CompletedAt, e.UpdatedAt = EnrollmentCompleted, &at, at
		if err := h.repo.SaveEnrollment(ctx, e); err != nil {
			t.Fatal(err)
		}
		return e
	}
	later := complete(repoEnroll(t, h, course, learner, EnrollmentActive, time.Time{}), repoNow().Add(time.Minute))
	earlier := complete(repoEnroll(t, h, other, learner, EnrollmentActive, time.Time{}), repoNow())
	certified := complete(repoEnroll(t, h, third, learner, EnrollmentActive, time.Time{}), repoNow())
	if err := h.repo.CreateCertificate(ctx, Certificate{ID: repoID(t), EnrollmentID: certified.ID, UserID: learner, CourseID: third.ID,
		CourseTitle: third.Title, LearnerName: "Ada", IssuedAt: repoNow(), KeyID: "k1", Signature: "c2ln"}); err != nil {
		t.Fatal(err)
	}
	repoEnroll(t, h, course, repoID(t), EnrollmentActive, time.Time{}) // another learner's, not completed

	got, err := h.repo.UncertifiedCompletions(ctx, learner)
	if err != nil || len(got) != 2 || got[0].ID != earlier.ID || got[1].ID != later.ID {
		t.Fatalf("got %+v, %v; want the two completions without certificate, earlier first", got, err)
	}
	if got, err := h.repo.UncertifiedCompletions(ctx, "not-a-uuid"); err != nil || len(got) != 0 {
		t.Errorf("a malformed user id: got %v, %v", got, err)
	}
	repoWantInternal(t, "LockLearner outside a transaction", h.repo.LockLearner(ctx, learner))
	if err := h.tx.InTx(ctx, func(ctx context.Context) error { return h.repo.LockLearner(ctx, learner) }); err != nil {
		t.Errorf("LockLearner in a transaction: %v", err)
	}
}
