// Command education runs the education service (see package education). "education migrate"
// applies its migrations and exits.
package main

import (
	"context"
	"io"
	"net"
	"os"

	"github.com/azora-os/azora/education"
	"github.com/azora-os/azora/shared/app"
	"github.com/azora-os/azora/shared/config"
	"github.com/azora-os/azora/shared/events"
	"github.com/azora-os/azora/shared/pg"
)

// Config is the education binary's configuration.
type Config struct {
	app.Config
}

func loadConfig(r *config.Reader) (Config, error) {
	c := Config{Config: app.LoadConfig(r, "education", ":4002", app.Needs{Postgres: true, Redis: true, Kafka: true, JWKS: true})}
	return c, r.Err()
}

var migrations = []pg.Migrations{education.Migrations, events.Migrations}

func main() {
	os.Exit(app.Main(os.Args, os.Stderr, loadConfig, migrations, run))
}

func run(ctx context.Context, cfg Config, ln net.Listener, out io.Writer) error {
	a, err := app.New(ctx, cfg.Config, out, migrations...)
	if err != nil {
		return err
	}
	defer a.Close()
	a.Relay()
	// Handlers for azora.finance.payment.* arrive with the education issue.
	a.Consume([]string{events.TopicFinance}, map[string]events.Handler{})
	return a.Serve(ctx, ln)
}
