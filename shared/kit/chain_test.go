package kit_test

import (
	"bytes"
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/azora-os/azora/shared/kit"
	"github.com/azora-os/azora/shared/kit/kittest"
	"github.com/azora-os/azora/shared/tracing/tracingtest"
	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
)

func TestChainOrder(t *testing.T) {
	rec := tracingtest.Record(t)
	iss := kittest.NewIssuer(t)
	v := newVerifier(t, iss, nil)
	student := iss.Token(t, kittest.Claims{Subject: "u1", Roles: []string{"student"}})
	instructor := iss.Token(t, kittest.Claims{Subject: "u2", Roles: []string{"instructor"}})

	tests := []struct {
		name    string
		spec    kit.Spec
		token   string
		code    string // "" = success
		reached bool
		subject string // claims the endpoint sees; "" = none
	}{
		{"public", kit.Spec{Name: "catalogue"}, "", "", true, ""},
		{"public ignores a token", kit.Spec{Name: "catalogue"}, student, "", true, ""},
		{"user, no token", kit.Spec{Name: "transfer", Verifier: v, Roles: []string{"student"}}, "", "missing_token", false, ""},
		{"user, bad token", kit.Spec{Name: "transfer", Verifier: v, Roles: []string{"student"}}, "x.y.z", "invalid_token", false, ""},
		{"user, wrong role", kit.Spec{Name: "transfer", Verifier: v, Roles: []string{"student"}}, instructor, "forbidden", false, ""},
		{"user, right role", kit.Spec{Name: "transfer", Verifier: v, Roles: []string{"student"}}, student, "", true, "u1"},
		{"any user", kit.Spec{Name: "me", Verifier: v}, instructor, "", true, "u2"},
		{"roles without verifier fail closed", kit.Spec{Name: "admin", Roles: []string{"admin"}}, student, "missing_token", false, ""},
		{"breaker behind auth", kit.Spec{Name: "pay", Verifier: v, Roles: []string{"student"}, Breaker: kit.NewBreaker("kit-test-chain-pay", kit.DefaultBreakerConfig())}, student, "", true, "u1"},
		{"breaker not reached without auth", kit.Spec{Name: "pay", Verifier: v, Roles: []string{"student"}, Breaker: kit.NewBreaker("kit-test-chain-pay", kit.DefaultBreakerConfig())}, "", "missing_token", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			reg := prometheus.NewRegistry()
			var reached atomic.Bool
			var seen string
			ep := kit.Chain(log.NewLogfmtLogger(&buf), kit.NewMetrics(reg, "svc"), tt.spec)(func(ctx context.Context, req any) (any, error) {
				reached.Store(true)
				if c, ok := kit.ClaimsFrom(ctx); ok {
					seen = c.Subject
				}
				return req, nil
			})
			ctx := context.Background()
			if tt.token != "" {
				ctx = kit.WithToken(ctx, tt.token)
			}
			spans := len(rec.Ended())
			resp, err := ep(ctx, "req")

			code, outcome := "", "ok"
			if err != nil {
				code = kitCode(err)
				outcome = kitKind(err)
			}
			if code != tt.code {
				t.Fatalf("code: got %q (err %v), want %q", code, err, tt.code)
			}
			if err == nil && resp != "req" {
				t.Errorf("response: got %v, want req", resp)
			}
			if reached.Load() != tt.reached {
				t.Errorf("endpoint reached: got %v, want %v", reached.Load(), tt.reached)
			}
			if seen != tt.subject {
				t.Errorf("claims subject at the endpoint: got %q, want %q", seen, tt.subject)
			}
			// Metrics wrap JWT and RBAC: refusals are counted too.
			if got := requests(t, reg, tt.spec.Name, outcome); got != 1 {
				t.Errorf("requests{outcome=%q}: got %v, want 1", outcome, got)
			}
			// Tracing wraps logging: the log line names the span's trace.
			if ended := rec.Ended(); len(ended) != spans+1 || ended[len(ended)-1].Name() != tt.spec.Name {
				t.Errorf("spans: got %d new, want 1 named %q", len(ended)-spans, tt.spec.Name)
			}
			if line := buf.String(); !strings.Contains(line, "trace_id=") || !strings.Contains(line, "endpoint="+tt.spec.Name) {
				t.Errorf("log line %q: want endpoint and trace_id", line)
			}
		})
	}
}
