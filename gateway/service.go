package gateway

import (
	"context"
	"sync"
	"time"

	"github.com/azora-os/azora/education"
	"github.com/azora-os/azora/finance"
	"github.com/azora-os/azora/shared/kit"
	"github.com/azora-os/azora/shared/page"
)

// DefaultDashboardTimeout bounds each part of the dashboard: a service that
// has not answered by then is reported degraded rather than holding up the
// others.
const DefaultDashboardTimeout = 3 * time.Second

// service implements Service over the three sources.
type service struct {
	users       UserSource
	enrollments EnrollmentSource
	wallets     WalletSource
	timeout     time.Duration
}

// NewService returns the gateway's Service reading through the given
// sources, each call bounded by timeout (DefaultDashboardTimeout when ≤ 0).
func NewService(users UserSource, enrollments EnrollmentSource, wallets WalletSource, timeout time.Duration) Service {
	if timeout <= 0 {
		timeout = DefaultDashboardTimeout
	}
	return &service{users: users, enrollments: enrollments, wallets: wallets, timeout: timeout}
}

// Dashboard implements Service. The three reads run concurrently; any
// error, including the part's timeout, leaves that part nil and names its
// service in Degraded, in a fixed order (auth, education, finance). The
// caller's identity is the only input, so nothing a client sends can make
// one source read another user's data.
func (s *service) Dashboard(ctx context.Context) (Dashboard, error) {
	c, err := kit.RequireClaims(ctx)
	if err != nil {
		return Dashboard{}, err
	}
	var (
		d      Dashboard
		failed [3]bool
		wg     sync.WaitGroup
	)
	part := func(i int, read func(ctx context.Context) error) {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(ctx, s.timeout)
			defer cancel()
			failed[i] = read(ctx) != nil
		})
	}
	part(0, func(ctx context.Context) error {
		u, err := s.users.Me(ctx, c.Subject)
		if err == nil {
			d.User = &u
		}
		return err
	})
	part(1, func(ctx context.Context) error {
		p, err := s.enrollments.Enrollments(ctx, education.Actor{UserID: c.Subject, Roles: c.Roles}, page.Request{Limit: page.DefaultLimit})
		if err == nil {
			d.Enrollments = nonNil(p.Items)
		}
		return err
	})
	part(2, func(ctx context.Context) error {
		p, err := s.wallets.Wallets(ctx, finance.Actor{UserID: c.Subject, Roles: c.Roles}, page.Request{Limit: page.MaxLimit})
		if err == nil {
			d.Wallets = nonNil(p.Items)
		}
		return err
	})
	wg.Wait()
	d.Degraded = []string{}
	for i, name := range []string{ServiceAuth, ServiceEducation, ServiceFinance} {
		if failed[i] {
			d.Degraded = append(d.Degraded, name)
		}
	}
	return d, nil
}

// nonNil makes an empty list encode as [] rather than null: null means the
// part is missing.
func nonNil[T any](items []T) []T {
	if items == nil {
		return []T{}
	}
	return items
}
