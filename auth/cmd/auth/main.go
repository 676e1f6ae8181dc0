// Command auth runs the auth service (see package auth). "auth migrate"
// applies its migrations and exits.
package main

import (
	"context"
	"io"
	"net"
	"os"

	"github.com/azora-os/azora/auth"
	"github.com/azora-os/azora/shared/app"
	"github.com/azora-os/azora/shared/config"
	"github.com/azora-os/azora/shared/events"
	"github.com/azora-os/azora/shared/pg"
)

// Config is the auth binary's configuration.
type Config struct {
	app.Config
}

func loadConfig(r *config.Reader) (Config, error) {
	c := Config{Config: app.LoadConfig(r, "auth", ":4001", app.Needs{Postgres: true, Redis: true, Kafka: true, JWKS: false})}
	return c, r.Err()
}

var migrations = []pg.Migrations{auth.Migrations, events.Migrations}

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

	return a.Serve(ctx, ln)
}
