// Command finance runs the finance service (see package finance).
// Subcommands: "finance migrate" applies its migrations; "finance
// reconcile" rebuilds every balance from the postings and reports each
// difference, exiting non-zero on any.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/azora-os/azora/finance"
	"github.com/azora-os/azora/shared/app"
	"github.com/azora-os/azora/shared/config"
	"github.com/azora-os/azora/shared/events"
	"github.com/azora-os/azora/shared/idempotency"
	"github.com/azora-os/azora/shared/kit"
	"github.com/azora-os/azora/shared/pg"
)

// stripeMockKey is what stripe-mock accepts; it is only ever sent to
// STRIPE_API_BASE when no real key is configured.
const stripeMockKey = "sk_test_123"

// Config is the finance binary's configuration.
type Config struct {
	app.Config
	StripeSecretKey     config.Secret // unset: payments are simulated by stripe-mock at StripeAPIBase
	StripeAPIBase       string
	WebhookSecret       config.Secret
	WebhookSecretBefore config.Secret // the previous secret, accepted while Stripe's is rotated
	DefaultCurrency     string
	FeeBasisPoints      int
	RewardAmount        int
}

func loadConfig(r *config.Reader) (Config, error) {
	c := Config{
		Config:              app.LoadConfig(r, "finance", ":4003", app.Needs{Postgres: true, Redis: true, Kafka: true, JWKS: true}),
		StripeSecretKey:     r.OptionalSecret("STRIPE_SECRET_KEY"),
		StripeAPIBase:       r.URL("STRIPE_API_BASE", ""),
		WebhookSecret:       r.Secret("STRIPE_WEBHOOK_SECRET"),
		WebhookSecretBefore: r.OptionalSecret("STRIPE_WEBHOOK_SECRET_PREVIOUS"),
		DefaultCurrency:     r.String("FINANCE_DEFAULT_CURRENCY", "USD"),
		FeeBasisPoints:      r.Int("FINANCE_FEE_BASIS_POINTS", 1000),
		RewardAmount:        r.Int("FINANCE_REWARD_AMOUNT", 0),
	}
	if c.StripeSecretKey == "" && c.StripeAPIBase == "" {
		c.StripeAPIBase = "http://127.0.0.1:12111" // stripe-mock, which make run starts
	}
	r.Check(len(c.DefaultCurrency) == 3, "FINANCE_DEFAULT_CURRENCY", "must be an ISO 4217 code such as USD")
	r.Check(c.FeeBasisPoints >= 0 && c.FeeBasisPoints <= 10000, "FINANCE_FEE_BASIS_POINTS", "must be 0 to 10000")
	r.Check(c.RewardAmount >= 0, "FINANCE_REWARD_AMOUNT", "must not be negative")
	return c, r.Err()
}

var migrations = []pg.Migrations{finance.Migrations, events.Migrations, idempotency.Migrations}

func main() {
	os.Exit(app.Main(os.Args, os.Stderr, loadConfig, migrations, run,
		app.Command[Config]{Name: "reconcile", Run: reconcile}))
}

func newService(cfg Config, a *app.App) *finance.FinanceService {
	key := string(cfg.StripeSecretKey)
	if key == "" {
		key = stripeMockKey
	}
	return finance.NewService(finance.Deps{
		Ledger:   finance.InstrumentLedger(finance.NewPostgresLedger(a.DB), a.Registry, cfg.DefaultCurrency),
		Tx:       pg.Transactor{DB: a.DB},
		Outbox:   events.Enqueue,
		Payments: finance.NewStripePayments(key, cfg.StripeAPIBase),
	}, finance.Config{
		DefaultCurrency: cfg.DefaultCurrency,
		FeeBasisPoints:  int64(cfg.FeeBasisPoints),
		Reward:          finance.Money{Amount: int64(cfg.RewardAmount), Currency: cfg.DefaultCurrency},
	})
}

func run(ctx context.Context, cfg Config, ln net.Listener, out io.Writer) error {
	a, err := app.New(ctx, cfg.Config, out, migrations...)
	if err != nil {
		return err
	}
	defer a.Close()
	v, err := a.Verifier("")
	if err != nil {
		return err
	}
	svc := newService(cfg, a)
	a.Relay()
	a.Consume([]string{events.TopicAuth, events.TopicEducation}, finance.Handlers(svc))
	a.Go("idempotency janitor", idempotency.Janitor{DB: a.DB, Logger: a.Logger}.Run)

	secrets := []string{string(cfg.WebhookSecret)}
	if cfg.WebhookSecretBefore != "" {
		secrets = append(secrets, string(cfg.WebhookSecretBefore))
	}
	keyed := idempotency.Middleware(a.DB, idempotency.Config{Required: true, Scope: idempotency.BearerSubject(v), Logger: a.Logger})
	e := finance.MakeEndpoints(svc, a.Logger, kit.NewMetrics(a.Registry, "finance"), v)
	finance.MakeHTTPHandler(e, a.Router, a.Logger,
		finance.NewWebhookHandler(finance.NewWebhookVerifier(secrets, 300*time.Second, time.Now), svc, a.Logger),
		finance.WithRouteMiddleware(finance.NameTransfer, keyed),
		finance.WithRouteMiddleware(finance.NameCreateTopup, keyed),
		finance.WithRouteMiddleware(finance.NameRefundTopup, keyed))
	return a.Serve(ctx, ln)
}

// reconcile is "finance reconcile".
func reconcile(ctx context.Context, cfg Config, out io.Writer) error {
	a, err := app.New(ctx, cfg.Config, io.Discard, migrations...)
	if err != nil {
		return err
	}
	defer a.Close()
	diffs, err := finance.NewPostgresLedger(a.DB).Reconcile(ctx)
	if err != nil {
		return err
	}
	for _, d := range diffs {
		fmt.Fprintf(out, "account %s: stored balance %d, postings sum to %d\n", d.AccountID, d.Stored, d.Computed)
	}
	if len(diffs) > 0 {
		return errors.New(fmt.Sprint(len(diffs), " account(s) disagree with their postings"))
	}
	fmt.Fprintln(out, "reconcile: every balance equals the sum of its postings")
	return nil
}
