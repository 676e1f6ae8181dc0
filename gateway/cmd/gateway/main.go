// Command gateway runs the API gateway (see package gateway).
package main

import (
	"context"
	"io"
	"net"
	"os"

	"github.com/azora-os/azora/shared/app"
	"github.com/azora-os/azora/shared/config"
)

// Config is the gateway binary's configuration.
type Config struct {
	app.Config
	AuthURLs      []string
	EducationURLs []string
	FinanceURLs   []string
}

func loadConfig(r *config.Reader) (Config, error) {
	c := Config{
		Config:        app.LoadConfig(r, "gateway", ":4000", app.Needs{Redis: true, JWKS: true}),
		AuthURLs:      r.List("AUTH_URLS", []string{"http://127.0.0.1:4001"}),
		EducationURLs: r.List("EDUCATION_URLS", []string{"http://127.0.0.1:4002"}),
		FinanceURLs:   r.List("FINANCE_URLS", []string{"http://127.0.0.1:4003"}),
	}
	return c, r.Err()
}

func main() {
	os.Exit(app.Main(os.Args, os.Stderr, loadConfig, nil, run))
}

// run serves the gateway. Routing to AuthURLs, EducationURLs and
// FinanceURLs arrives with the gateway issue; until then it serves health
// and metrics only.
func run(ctx context.Context, cfg Config, ln net.Listener, out io.Writer) error {
	a, err := app.New(ctx, cfg.Config, out)
	if err != nil {
		return err
	}
	defer a.Close()
	return a.Serve(ctx, ln)
}
