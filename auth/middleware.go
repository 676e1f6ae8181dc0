package auth

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/azora-os/azora/shared/kit"
	"github.com/azora-os/azora/shared/pg"
)

// Instrument returns s counting, in reg, what the business watches:
// azora_auth_registrations_total{role}, one per account created (role is
// the role chosen at registration: student or instructor). Every other
// method passes through.
func Instrument(s Service, reg prometheus.Registerer) Service {
	registrations := kit.Counter(reg, "azora_auth_registrations_total",
		"Accounts registered, by the role chosen at registration.", []string{"role"},
		[]string{RoleStudent}, []string{RoleInstructor})
	return instrumented{Service: s, registrations: registrations}
}

type instrumented struct {
	Service
	registrations *prometheus.CounterVec
}

// Register implements Service.
func (s instrumented) Register(ctx context.Context, req RegisterRequest) (User, error) {
	u, err := s.Service.Register(ctx, req)
	if err == nil {
		role := RoleStudent
		for _, r := range u.Roles {
			if r == RoleInstructor {
				role = RoleInstructor
			}
		}
		pg.OnCommit(ctx, s.registrations.WithLabelValues(role).Inc)
	}
	return u, err
}
