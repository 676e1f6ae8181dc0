// Command gateway runs the API gateway (see package gateway).
package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"time"

	"github.com/go-kit/log"

	"github.com/azora-os/azora/gateway"
	"github.com/azora-os/azora/shared/app"
	"github.com/azora-os/azora/shared/config"
	"github.com/azora-os/azora/shared/kit"
)

// Config is the gateway binary's configuration.
type Config struct {
	app.Config
	Upstreams        map[string][]string // service → instance base URLs
	CORSOrigins      []string
	Rates            map[gateway.RateClass]gateway.Rate
	HealthInterval   time.Duration
	UpstreamTimeout  time.Duration
	Attempts         int
	DashboardTimeout time.Duration
}

// defaultRates: the strict class for login and registration, a generous one
// for a signed-in user (a page of the app makes several calls), one per
// address for anonymous browsing, and refused tokens per address: enough
// for the expired tokens of many users behind one NAT (one each per access
// token's life), far too few to matter as signature checks.
var defaultRates = map[gateway.RateClass]string{
	gateway.ClassAuth:      "20/1m",
	gateway.ClassAnonymous: "600/1m",
	gateway.ClassUser:      "1200/1m",
	gateway.ClassBadToken:  "120/1m",
}

func loadConfig(r *config.Reader) (Config, error) {
	c := Config{
		Config: app.LoadConfig(r, "gateway", ":4000", app.Needs{Redis: true, JWKS: true}),
		Upstreams: map[string][]string{
			gateway.ServiceAuth:      r.List("AUTH_URLS", []string{"http://127.0.0.1:4001"}),
			gateway.ServiceEducation: r.List("EDUCATION_URLS", []string{"http://127.0.0.1:4002"}),
			gateway.ServiceFinance:   r.List("FINANCE_URLS", []string{"http://127.0.0.1:4003"}),
		},
		CORSOrigins:      r.List("GATEWAY_CORS_ORIGINS", nil),
		Rates:            map[gateway.RateClass]gateway.Rate{},
		HealthInterval:   r.Duration("GATEWAY_HEALTH_INTERVAL", 2*time.Second),
		UpstreamTimeout:  r.Duration("GATEWAY_UPSTREAM_TIMEOUT", 10*time.Second),
		Attempts:         r.Int("GATEWAY_ATTEMPTS", 3),
		DashboardTimeout: r.Duration("GATEWAY_DASHBOARD_TIMEOUT", gateway.DefaultDashboardTimeout),
	}
	for class, def := range defaultRates {
		name := "GATEWAY_RATE_" + upper(string(class))
		rate, err := gateway.ParseRate(r.String(name, def))
		r.Check(err == nil, name, "%v", err)
		c.Rates[class] = rate
	}
	for service, urls := range c.Upstreams {
		r.Check(len(urls) > 0, upper(service)+"_URLS", "needs at least one instance")
	}
	r.Check(c.HealthInterval > 0, "GATEWAY_HEALTH_INTERVAL", "must be positive")
	r.Check(c.UpstreamTimeout > 0, "GATEWAY_UPSTREAM_TIMEOUT", "must be positive")
	r.Check(c.Attempts >= 1, "GATEWAY_ATTEMPTS", "must be at least 1")
	return c, r.Err()
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

// defaultGCPercent is the gateway's GOGC unless the environment sets one.
// A proxy's live heap is small and almost everything it allocates dies
// with its request, so collecting at 5x the live heap rather than 2x costs
// a few MiB and saves about a fifth of the CPU per request
// (BenchmarkGatewayHandler: ~23 -> ~18 us).
const defaultGCPercent = 400

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
	os.Exit(app.Main(os.Args, os.Stderr, loadConfig, nil, run))
}

// run serves the gateway until ctx ends: the route table to the upstreams
// (each health-checked), the dashboard over the services' Go clients, and
// CORS in front of all of it.
func run(ctx context.Context, cfg Config, ln net.Listener, out io.Writer) error {
	a, err := app.New(ctx, cfg.Config, out)
	if err != nil {
		return err
	}
	defer a.Close()
	verifier, err := a.Verifier(cfg.JWKSURL)
	if err != nil {
		return err
	}
	metrics := kit.NewMetrics(a.Registry, "gateway")

	proxies := map[string]http.Handler{}
	upstreams := map[string]*gateway.Upstream{}
	for service, instances := range cfg.Upstreams {
		u, err := gateway.NewUpstream(gateway.UpstreamConfig{
			Service:        service,
			Instances:      instances,
			HealthInterval: cfg.HealthInterval,
			Timeout:        cfg.UpstreamTimeout,
			Attempts:       cfg.Attempts,
		}, log.With(a.Logger, "upstream", service), a.Registry)
		if err != nil {
			return err
		}
		defer u.Close()
		a.Go(service+" health checks", u.Run)
		upstreams[service] = u
		proxies[service] = gateway.NewProxy(u, cfg.TrustedProxies, a.Logger)
	}

	sources := gateway.SourceConfig{Logger: a.Logger, Metrics: metrics, Timeout: cfg.DashboardTimeout}
	svc := gateway.NewService(
		gateway.NewUserSource(upstreams[gateway.ServiceAuth].Instancer(), sources),
		gateway.NewEnrollmentSource(upstreams[gateway.ServiceEducation].Instancer(), sources),
		gateway.NewWalletSource(upstreams[gateway.ServiceFinance].Instancer(), sources),
		cfg.DashboardTimeout,
	)
	limiter := gateway.NewLimiter(a.Redis, cfg.KeyPrefix+"gateway:", a.Logger, a.Registry)
	defer limiter.Close()

	a.Use(gateway.CORS(gateway.CORSConfig{AllowedOrigins: cfg.CORSOrigins}))
	if err := gateway.MakeHTTPHandler(a.Router, svc, gateway.HTTPConfig{
		Upstreams: proxies,
		Verifier:  verifier,
		Limiter:   limiter,
		Rates:     cfg.Rates,
		Trusted:   cfg.TrustedProxies,
		Logger:    a.Logger,
		Metrics:   metrics,
	}); err != nil {
		return err
	}
	return a.Serve(ctx, ln)
}
