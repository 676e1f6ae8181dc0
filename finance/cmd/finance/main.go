// Command finance runs the finance service (see package finance). "finance migrate"
// applies its migrations and exits.
package main

import (
	"context"
	"io"
	"net"
	"os"

	"github.com/azora-os/azora/finance"
	"github.com/azora-os/azora/shared/app"
	"github.com/azora-os/azora/shared/config"
	"github.com/azora-os/azora/shared/events"
	"github.com/azora-os/azora/shared/pg"
)

// Config is the finance binary's configuration.
type Config struct {
	app.Config
}

func loadConfig(r *config.Reader) (Config, error) {
	c := Config{Config: app.LoadConfig(r, "finance", ":4003", app.Needs{Postgres: true, Redis: true, Kafka: true, JWKS: true})}
	return c, r.Err()
}

var migrations = []pg.Migrations{finance.Migrations, events.Migrations}

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
	// Handlers for user.registered, enrollment.requested and the rest arrive
	// with the finance issue.
	a.Consume([]string{events.TopicAuth, events.TopicEducation}, map[string]events.Handler{})
	return a.Serve(ctx, ln)
}
