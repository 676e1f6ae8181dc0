package gateway_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/azora-os/azora/auth"
	"github.com/azora-os/azora/education"
	"github.com/azora-os/azora/finance"
	"github.com/azora-os/azora/gateway"
	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/kit"
	"github.com/azora-os/azora/shared/page"
)

// The dashboard's ports, answered in memory: what each returns (or how
// long it hangs) is set per test.
type (
	users struct {
		err  error
		hang bool
	}
	enrollments struct{ err error }
	wallets     struct {
		err   error
		items []finance.Wallet
		seen  *finance.Actor
	}
)

func (u users) Me(ctx context.Context, id string) (auth.User, error) {
	if u.hang {
		<-ctx.Done()
		return auth.User{}, ctx.Err()
	}
	return auth.User{ID: id, Email: "ada@example.com"}, u.err
}

func (e enrollments) Enrollments(context.Context, education.Actor, page.Request) (page.Page[education.Enrollment], error) {
	return page.Page[education.Enrollment]{}, e.err
}

func (w wallets) Wallets(_ context.Context, a finance.Actor, _ page.Request) (page.Page[finance.Wallet], error) {
	if w.seen != nil {
		*w.seen = a
	}
	return page.Page[finance.Wallet]{Items: w.items}, w.err
}

func caller() context.Context {
	return kit.WithClaims(context.Background(), kit.Claims{Subject: "u-1", Roles: []string{"student"}})
}

func TestDashboardAllUp(t *testing.T) {
	var seen finance.Actor
	s := gateway.NewService(users{}, enrollments{}, wallets{items: []finance.Wallet{{ID: "w-1"}}, seen: &seen}, time.Second)
	d, err := s.Dashboard(caller())
	if err != nil {
		t.Fatal(err)
	}
	if d.User == nil || d.User.ID != "u-1" || len(d.Wallets) != 1 || len(d.Degraded) != 0 {
		t.Fatalf("got %+v", d)
	}
	if seen.UserID != "u-1" || !slices.Equal(seen.Roles, []string{"student"}) {
		t.Errorf("wallets read for %+v, want the caller", seen)
	}
	b, _ := json.Marshal(d)
	var m map[string]any
	json.Unmarshal(b, &m)
	if e, ok := m["enrollments"].([]any); !ok || len(e) != 0 {
		t.Errorf("enrollments encode as %v, want [] (null means missing)", m["enrollments"])
	}
	if deg, ok := m["degraded"].([]any); !ok || len(deg) != 0 {
		t.Errorf("degraded encodes as %v, want []", m["degraded"])
	}
}

func TestDashboardDegradesPerPart(t *testing.T) {
	down := errors.New("connection refused")
	s := gateway.NewService(users{}, enrollments{err: down}, wallets{err: down}, time.Second)
	d, err := s.Dashboard(caller())
	if err != nil {
		t.Fatal(err)
	}
	if d.User == nil || d.Enrollments != nil || d.Wallets != nil {
		t.Errorf("got user %v, enrollments %v, wallets %v; want only the user", d.User, d.Enrollments, d.Wallets)
	}
	if !slices.Equal(d.Degraded, []string{"education", "finance"}) {
		t.Errorf("degraded %v, want [education finance]", d.Degraded)
	}
	b, _ := json.Marshal(d)
	var m map[string]any
	json.Unmarshal(b, &m)
	if v, present := m["wallets"]; !present || v != nil {
		t.Errorf("wallets encodes as %v (present %v), want null", v, present)
	}
}

func TestDashboardTimesOutAHungPart(t *testing.T) {
	s := gateway.NewService(users{hang: true}, enrollments{}, wallets{}, 100*time.Millisecond)
	start := time.Now()
	d, err := s.Dashboard(caller())
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("took %v with a 100ms part timeout", took)
	}
	if d.User != nil || !slices.Equal(d.Degraded, []string{"auth"}) {
		t.Errorf("got user %v degraded %v, want nil and [auth]", d.User, d.Degraded)
	}
}

func TestDashboardNeedsACaller(t *testing.T) {
	s := gateway.NewService(users{}, enrollments{}, wallets{}, time.Second)
	_, err := s.Dashboard(context.Background())
	if errs.KindOf(err) != errs.Unauthenticated {
		t.Errorf("got %v, want unauthenticated", err)
	}
}
