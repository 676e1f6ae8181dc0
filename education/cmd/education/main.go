// Command education runs the education service (see package education).
// "education migrate" applies its migrations and exits.
package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/azora-os/azora/education"
	"github.com/azora-os/azora/shared/app"
	"github.com/azora-os/azora/shared/config"
	"github.com/azora-os/azora/shared/events"
	"github.com/azora-os/azora/shared/idempotency"
	"github.com/azora-os/azora/shared/kit"
	"github.com/azora-os/azora/shared/pg"
	"github.com/azora-os/azora/shared/seal"
)

// Config is the education binary's configuration.
type Config struct {
	app.Config
	SealKeys       config.Secret // EDUCATION_SEAL_KEYS "id:base64key,…", or from EDUCATION_SEAL_KEYS_FILE
	SealKeysFile   string
	ReadURL        config.Secret // DATABASE_READ_URL: a read-only replica the public catalogue reads; empty = the primary
	PublicURL      string        // printed on certificates as the verification address
	PaymentTimeout time.Duration // a pending enrollment is cancelled after this
	TimeoutEvery   time.Duration // how often pending enrollments are checked
}

func loadConfig(r *config.Reader) (Config, error) {
	c := Config{
		Config:         app.LoadConfig(r, "education", ":4002", app.Needs{Postgres: true, Redis: true, Kafka: true, JWKS: true}),
		SealKeys:       r.OptionalSecret("EDUCATION_SEAL_KEYS"),
		SealKeysFile:   r.String("EDUCATION_SEAL_KEYS_FILE", ""),
		ReadURL:        r.SecretURL("DATABASE_READ_URL"),
		PublicURL:      r.URL("EDUCATION_PUBLIC_URL", "http://127.0.0.1:4002"),
		PaymentTimeout: r.Duration("EDUCATION_PAYMENT_TIMEOUT", 15*time.Minute),
		TimeoutEvery:   r.Duration("EDUCATION_TIMEOUT_CHECK_EVERY", 30*time.Second),
	}
	r.Check(c.SealKeys != "" || c.SealKeysFile != "", "EDUCATION_SEAL_KEYS", "or EDUCATION_SEAL_KEYS_FILE is required (the key that seals the certificate signing key)")
	r.Check(c.PaymentTimeout > 0 && c.TimeoutEvery > 0, "EDUCATION_PAYMENT_TIMEOUT", "and EDUCATION_TIMEOUT_CHECK_EVERY must be positive")
	return c, r.Err()
}

var migrations = []pg.Migrations{education.Migrations, events.Migrations, idempotency.Migrations}

func main() {
	os.Exit(app.Main(os.Args, os.Stderr, loadConfig, migrations, run))
}

func run(ctx context.Context, cfg Config, ln net.Listener, out io.Writer) error {
	a, err := app.New(ctx, cfg.Config, out, migrations...)
	if err != nil {
		return err
	}
	defer a.Close()
	sealer, err := seal.FromConfig(string(cfg.SealKeys), cfg.SealKeysFile)
	if err != nil {
		return err
	}
	signer := education.NewEd25519Signer(a.DB, sealer, log.With(a.Logger, "component", "certificate_keys"))
	if err := signer.EnsureKey(ctx); err != nil {
		return fmt.Errorf("certificate key: %w", err)
	}
	v, err := a.Verifier("")
	if err != nil {
		return err
	}
	repo := education.NewPostgresRepository(a.DB)
	if cfg.ReadURL != "" {
		read, err := pg.Open(ctx, string(cfg.ReadURL), pg.Pool{})
		if err != nil {
			return fmt.Errorf("DATABASE_READ_URL: %w", err)
		}
		defer read.Close()
		repo = repo.WithReadReplica(read)
	}
	svc := education.NewService(education.Deps{
		Repo:   repo,
		Tx:     pg.Transactor{DB: a.DB},
		Outbox: events.Enqueue,
		Signer: signer,
		PDF:    education.PDF{},
	}, education.Config{PublicURL: cfg.PublicURL})

	a.Relay()
	a.Consume([]string{events.TopicFinance, events.TopicAuth}, education.Handlers(svc))
	a.Go("payment timeouts", func(ctx context.Context) error {
		return svc.RunTimeouts(ctx, cfg.PaymentTimeout, cfg.TimeoutEvery, func(err error) {
			level.Error(a.Logger).Log("msg", "cancelling timed-out enrollments failed; retrying at the next check", "err", err)
		})
	})
	a.Go("idempotency janitor", idempotency.Janitor{DB: a.DB, Logger: a.Logger}.Run)

	e := education.MakeEndpoints(education.Instrument(svc, a.Registry), a.Logger, kit.NewMetrics(a.Registry, "education"), v)
	education.MakeHTTPHandler(e, a.Router, a.Logger, education.WithEnrollMiddleware(idempotency.Middleware(a.DB, idempotency.Config{
		Scope: idempotency.BearerSubject(v), Logger: a.Logger,
	})))
	return a.Serve(ctx, ln)
}
