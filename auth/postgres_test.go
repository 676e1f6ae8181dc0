package auth_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/azora-os/azora/auth"
	"github.com/azora-os/azora/shared/events"
	"github.com/azora-os/azora/shared/page"
	"github.com/azora-os/azora/shared/pg"
	"github.com/azora-os/azora/shared/pg/pgtest"
)

func newAuthDB(t *testing.T) *sqlx.DB {
	t.Helper()
	db, _ := pgtest.New(t, auth.Migrations, events.Migrations)
	return db
}

// newTestAccount returns an account as the service would build it, times
// cut to the microsecond Postgres keeps.
func newTestAccount(t *testing.T, email string, roles ...string) auth.Account {
	t.Helper()
	id, err := uuid.NewV7()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	return auth.Account{
		User:         auth.User{ID: id.String(), Email: email, Name: "Ada " + email, Roles: roles, CreatedAt: now},
		PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA", UpdatedAt: now,
	}
}

// assertSameAccount fails unless got and want agree on every field.
func assertSameAccount(t *testing.T, got, want auth.Account) {
	t.Helper()
	if got.ID != want.ID || got.Email != want.Email || got.Name != want.Name ||
		!slices.Equal(got.Roles, want.Roles) || got.MFAEnabled != want.MFAEnabled ||
		got.PasswordHash != want.PasswordHash || !slices.Equal(got.RecoveryCodes, want.RecoveryCodes) ||
		string(got.TOTPSecret) != string(want.TOTPSecret) || (got.TOTPSecret == nil) != (want.TOTPSecret == nil) ||
		!got.CreatedAt.Equal(want.CreatedAt) {
		t.Errorf("got account %+v, want %+v", got, want)
	}
}

// assertDomainErr fails unless err is want and carries no driver error.
func assertDomainErr(t *testing.T, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("got error %v, want %v", err, want)
	}
	var pe *pq.Error
	if errors.As(err, &pe) {
		t.Errorf("got a driver error in the chain (%v), want only domain errors", pe)
	}
}

// runUsersContract is the behaviour every Users implementation must have;
// newUsers returns an empty store.
func runUsersContract(t *testing.T, newUsers func(t *testing.T) auth.Users) {
	ctx := context.Background()

	t.Run("create then find by id and by email in any case", func(t *testing.T) {
		users := newUsers(t)
		a := newTestAccount(t, "ada@example.com", auth.RoleStudent)
		if err := users.Create(ctx, a); err != nil {
			t.Fatalf("create: %v", err)
		}
		for _, email := range []string{"ada@example.com", "ADA@Example.COM"} {
			got, err := users.ByEmail(ctx, email)
			if err != nil {
				t.Fatalf("by email %q: %v", email, err)
			}
			assertSameAccount(t, got, a)
		}
		got, err := users.ByID(ctx, a.ID)
		if err != nil {
			t.Fatalf("by id: %v", err)
		}
		assertSameAccount(t, got, a)
		if got.RecoveryCodes != nil || got.TOTPSecret != nil {
			t.Errorf("got codes %v secret %v, want nil for none", got.RecoveryCodes, got.TOTPSecret)
		}
	})

	t.Run("duplicate email is email_taken whatever its case", func(t *testing.T) {
		users := newUsers(t)
		if err := users.Create(ctx, newTestAccount(t, "bob@example.com", auth.RoleStudent)); err != nil {
			t.Fatal(err)
		}
		for _, email := range []string{"bob@example.com", "Bob@EXAMPLE.com"} {
			err := users.Create(ctx, newTestAccount(t, email, auth.RoleInstructor))
			assertDomainErr(t, err, auth.ErrEmailTaken)
		}
	})

	t.Run("unknown or malformed account is user_not_found", func(t *testing.T) {
		users := newUsers(t)
		unknown := uuid.Must(uuid.NewV7()).String()
		cases := []struct {
			name string
			call func() error
		}{
			{"by email", func() error { _, err := users.ByEmail(ctx, "nobody@example.com"); return err }},
			{"by id", func() error { _, err := users.ByID(ctx, unknown); return err }},
			{"by malformed id", func() error { _, err := users.ByID(ctx, "not-a-uuid'; --"); return err }},
			{"by empty id", func() error { _, err := users.ByID(ctx, ""); return err }},
			{"update", func() error {
				_, err := users.Update(ctx, unknown, func(*auth.Account) error { return nil })
				return err
			}},
			{"update malformed id", func() error {
				_, err := users.Update(ctx, "42", func(*auth.Account) error { return nil })
				return err
			}},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) { assertDomainErr(t, c.call(), auth.ErrUserNotFound) })
		}
	})

	t.Run("update round trip", func(t *testing.T) {
		users := newUsers(t)
		a := newTestAccount(t, "cy@example.com", auth.RoleStudent)
		if err := users.Create(ctx, a); err != nil {
			t.Fatal(err)
		}
		secret := []byte{0x00, 0xff, 0x10, 0x00, 'x'} // NULs and high bytes survive bytea
		want := a
		want.Name, want.Roles, want.MFAEnabled = "Cy", []string{auth.RoleStudent, auth.RoleAdmin}, true
		want.TOTPSecret, want.RecoveryCodes, want.PasswordHash = secret, []string{"h1", "h2"}, "$argon2id$new"
		saved, err := users.Update(ctx, a.ID, func(acc *auth.Account) error {
			assertSameAccount(t, *acc, a)
			acc.Name, acc.Roles, acc.MFAEnabled = want.Name, want.Roles, true
			acc.TOTPSecret, acc.RecoveryCodes, acc.PasswordHash = secret, want.RecoveryCodes, want.PasswordHash
			return nil
		})
		if err != nil {
			t.Fatalf("update: %v", err)
		}
		assertSameAccount(t, saved, want)
		if saved.UpdatedAt.Before(a.UpdatedAt) {
			t.Errorf("got updated_at %v, want at or after %v", saved.UpdatedAt, a.UpdatedAt)
		}
		got, err := users.ByID(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		assertSameAccount(t, got, want)
		if !got.UpdatedAt.Equal(saved.UpdatedAt) {
			t.Errorf("got updated_at %v on reread, want %v as Update returned", got.UpdatedAt, saved.UpdatedAt)
		}

		// Clearing MFA stores NULL and no codes again.
		want.MFAEnabled, want.TOTPSecret, want.RecoveryCodes = false, nil, nil
		if _, err := users.Update(ctx, a.ID, func(acc *auth.Account) error {
			acc.MFAEnabled, acc.TOTPSecret, acc.RecoveryCodes = false, nil, nil
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		got, _ = users.ByID(ctx, a.ID)
		assertSameAccount(t, got, want)
	})

	t.Run("fn error aborts without saving", func(t *testing.T) {
		users := newUsers(t)
		a := newTestAccount(t, "dee@example.com", auth.RoleStudent)
		if err := users.Create(ctx, a); err != nil {
			t.Fatal(err)
		}
		boom := errors.New("boom")
		_, err := users.Update(ctx, a.ID, func(acc *auth.Account) error {
			acc.Name, acc.RecoveryCodes = "changed", []string{"x"}
			return boom
		})
		if err != boom {
			t.Errorf("got error %v, want fn's error unchanged", err)
		}
		got, _ := users.ByID(ctx, a.ID)
		assertSameAccount(t, got, a)
	})

	t.Run("unknown or missing role is invalid_role", func(t *testing.T) {
		users := newUsers(t)
		cases := []struct {
			name  string
			roles []string
		}{
			{"superuser", []string{"superuser"}},
			{"known and unknown", []string{auth.RoleStudent, "superuser"}},
			{"none", nil},
			{"empty", []string{}},
		}
		for i, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				err := users.Create(ctx, newTestAccount(t, fmt.Sprintf("r%d@example.com", i), c.roles...))
				assertDomainErr(t, err, auth.ErrInvalidRole)
			})
		}
		a := newTestAccount(t, "eve@example.com", auth.RoleStudent)
		if err := users.Create(ctx, a); err != nil {
			t.Fatal(err)
		}
		_, err := users.Update(ctx, a.ID, func(acc *auth.Account) error {
			acc.Roles = []string{"superuser"}
			return nil
		})
		assertDomainErr(t, err, auth.ErrInvalidRole)
		got, _ := users.ByID(ctx, a.ID)
		assertSameAccount(t, got, a)
	})

	t.Run("update to a taken email is email_taken", func(t *testing.T) {
		users := newUsers(t)
		a, b := newTestAccount(t, "fay@example.com", auth.RoleStudent), newTestAccount(t, "gus@example.com", auth.RoleStudent)
		for _, acc := range []auth.Account{a, b} {
			if err := users.Create(ctx, acc); err != nil {
				t.Fatal(err)
			}
		}
		_, err := users.Update(ctx, b.ID, func(acc *auth.Account) error {
			acc.Email = "FAY@example.com"
			return nil
		})
		assertDomainErr(t, err, auth.ErrEmailTaken)
	})

	t.Run("count admins", func(t *testing.T) {
		users := newUsers(t)
		roles := [][]string{{auth.RoleAdmin}, {auth.RoleStudent}, {auth.RoleInstructor, auth.RoleAdmin}, {auth.RoleInstructor}}
		for i, r := range roles {
			if err := users.Create(ctx, newTestAccount(t, fmt.Sprintf("u%d@example.com", i), r...)); err != nil {
				t.Fatal(err)
			}
		}
		n, err := users.CountAdmins(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n != 2 {
			t.Errorf("got %d admins, want 2", n)
		}
	})
}

func TestPostgresUsersContract(t *testing.T) {
	db := newAuthDB(t) // one database; each case uses its own emails
	var mu sync.Mutex
	runUsersContract(t, func(t *testing.T) auth.Users {
		// CountAdmins needs an empty table: start each case from one.
		mu.Lock()
		defer mu.Unlock()
		if _, err := db.Exec(`TRUNCATE users`); err != nil {
			t.Fatal(err)
		}
		return auth.NewPostgresUsers(db)
	})
}

func TestPostgresUsersConcurrentUpdatesLoseNothing(t *testing.T) {
	ctx := context.Background()
	users := auth.NewPostgresUsers(newAuthDB(t))
	a := newTestAccount(t, "hal@example.com", auth.RoleStudent)
	if err := users.Create(ctx, a); err != nil {
		t.Fatal(err)
	}
	const n = 20
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, err := users.Update(ctx, a.ID, func(acc *auth.Account) error {
				acc.RecoveryCodes = append(acc.RecoveryCodes, fmt.Sprintf("code-%02d", i))
				return nil
			})
			if err != nil {
				t.Errorf("update %d: %v", i, err)
			}
		}()
	}
	close(start)
	wg.Wait()
	got, err := users.ByID(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got.RecoveryCodes)
	if len(slices.Compact(got.RecoveryCodes)) != n {
		t.Errorf("got %d distinct codes %v, want %d: an update was lost", len(got.RecoveryCodes), got.RecoveryCodes, n)
	}
}

func TestPostgresTransactorCommitsUsersAndOutboxTogether(t *testing.T) {
	ctx := context.Background()
	db := newAuthDB(t)
	users, tx := auth.NewPostgresUsers(db), pg.Transactor{DB: db}
	if err := users.Create(ctx, newTestAccount(t, "taken@example.com", auth.RoleStudent)); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	cases := []struct {
		name    string
		email   string
		fail    error // returned by fn after both writes
		wantErr error
	}{
		{"fn succeeds: both commit", "ivy@example.com", nil, nil},
		{"fn fails after both writes: both roll back", "jo@example.com", boom, boom},
		{"create fails after the enqueue: both roll back", "taken@example.com", nil, auth.ErrEmailTaken},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := newTestAccount(t, c.email, auth.RoleStudent)
			ev, err := events.New(events.TopicAuth, auth.EventUserRegistered, a.ID, map[string]string{"user_id": a.ID})
			if err != nil {
				t.Fatal(err)
			}
			err = tx.InTx(ctx, func(ctx context.Context) error {
				if err := events.Enqueue(ctx, ev); err != nil {
					return err
				}
				if err := users.Create(ctx, a); err != nil {
					return err
				}
				return c.fail
			})
			if !errors.Is(err, c.wantErr) || (c.wantErr == nil) != (err == nil) {
				t.Fatalf("got error %v, want %v", err, c.wantErr)
			}
			var outbox int
			if err := db.Get(&outbox, `SELECT count(*) FROM outbox WHERE event_id = $1`, ev.ID); err != nil {
				t.Fatal(err)
			}
			_, userErr := users.ByID(ctx, a.ID)
			committed := c.wantErr == nil
			if (outbox == 1) != committed || (userErr == nil) != committed {
				t.Errorf("got outbox rows %d and user lookup error %v, want both committed=%v", outbox, userErr, committed)
			}
		})
	}

	t.Run("update joins the outer transaction", func(t *testing.T) {
		a := newTestAccount(t, "kai@example.com", auth.RoleStudent)
		if err := users.Create(ctx, a); err != nil {
			t.Fatal(err)
		}
		err := tx.InTx(ctx, func(ctx context.Context) error {
			if _, err := users.Update(ctx, a.ID, func(acc *auth.Account) error {
				acc.Roles = []string{auth.RoleAdmin}
				return nil
			}); err != nil {
				return err
			}
			if n, err := users.CountAdmins(ctx); err != nil || n != 1 {
				t.Errorf("got %d admins (err %v) inside the transaction, want 1", n, err)
			}
			return boom
		})
		if err != boom {
			t.Fatalf("got error %v, want boom", err)
		}
		got, _ := users.ByID(ctx, a.ID)
		if !slices.Equal(got.Roles, a.Roles) {
			t.Errorf("got roles %v after rollback, want %v", got.Roles, a.Roles)
		}
	})
}

var keyBase = time.Date(2030, 1, 2, 3, 4, 5, 123456000, time.UTC)

func TestPostgresUsersList(t *testing.T) {
	s := auth.NewPostgresUsers(newAuthDB(t))
	ctx := context.Background()
	var ids []string // newest first
	for i, roles := range [][]string{{"student"}, {"instructor"}, {"instructor", "student"}, {"admin"}} {
		a := newTestAccount(t, fmt.Sprintf("user%d@example.com", i), roles...)
		if err := s.Create(ctx, a); err != nil {
			t.Fatal(err)
		}
		ids = append([]string{a.ID}, ids...)
	}
	list := func(f auth.UserFilter, limit int) []string {
		t.Helper()
		var got []string
		p := page.Request{Limit: limit}
		for range 10 {
			pg, err := s.List(ctx, f, p)
			if err != nil {
				t.Fatal(err)
			}
			for _, u := range pg.Items {
				got = append(got, u.ID)
			}
			if p.Cursor = pg.NextCursor; p.Cursor == "" {
				return got
			}
		}
		t.Fatal("the pages never ended")
		return nil
	}
	for _, tc := range []struct {
		name string
		f    auth.UserFilter
		want []string
	}{
		{"everyone", auth.UserFilter{}, ids},
		{"by email, any case", auth.UserFilter{Email: "USER1@example.com"}, ids[2:3]},
		{"by role", auth.UserFilter{Role: "instructor"}, ids[1:3]},
		{"by email and role", auth.UserFilter{Email: "user2@example.com", Role: "student"}, ids[1:2]},
		{"email and another role", auth.UserFilter{Email: "user2@example.com", Role: "admin"}, nil},
	} {
		if got := list(tc.f, 1); !slices.Equal(got, tc.want) {
			t.Errorf("%s, one a page: got %v, want %v", tc.name, got, tc.want)
		}
		if got := list(tc.f, 0); !slices.Equal(got, tc.want) {
			t.Errorf("%s, the default page: got %v, want %v", tc.name, got, tc.want)
		}
	}
	if _, err := s.List(ctx, auth.UserFilter{}, page.Request{Cursor: "@@"}); !errors.Is(err, page.ErrBadCursor) {
		t.Errorf("a bad cursor: got %v, want invalid_cursor", err)
	}
}
