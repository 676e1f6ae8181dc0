// Package app is the runtime every Azora service binary shares: it turns a
// Config into a logger, tracing, a migrated Postgres pool, Redis, a router
// behind the shared HTTP stack, health and metrics endpoints, the outbox
// relay and event consumers, and runs them until the context ends, shutting
// down gracefully. A service's cmd/<svc>/main.go only adds its own routes
// and handlers.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/gorilla/mux"
	"github.com/jmoiron/sqlx"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"

	"github.com/azora-os/azora/shared/events"
	"github.com/azora-os/azora/shared/health"
	"github.com/azora-os/azora/shared/httpx"
	"github.com/azora-os/azora/shared/logging"
	"github.com/azora-os/azora/shared/pg"
	"github.com/azora-os/azora/shared/redisx"
	"github.com/azora-os/azora/shared/tracing"
)

// App holds a running service's dependencies. Build it with New, add
// routes to Router and workers with Relay, Consume or Go, then call Serve.
type App struct {
	Config   Config
	Logger   log.Logger
	Registry *prometheus.Registry
	DB       *sqlx.DB              // nil unless Config.DatabaseURL is set
	Redis    redis.UniversalClient // nil unless Redis is configured
	Router   *mux.Router

	checks   []health.Check
	wrap     []func(http.Handler) http.Handler
	workers  []worker
	closers  []func() error
	shutdown func(context.Context) error
}

type worker struct {
	name string
	run  func(context.Context) error
}

// New opens everything cfg names, applying sets to the database first. It
// writes logs to out. On error, whatever was opened is closed.
func New(ctx context.Context, cfg Config, out io.Writer, sets ...pg.Migrations) (_ *App, err error) {
	logger, err := logging.New(out, cfg.LogFormat, cfg.LogLevel)
	if err != nil {
		return nil, err
	}
	a := &App{
		Config:   cfg,
		Logger:   log.With(logger, "service", cfg.Name),
		Registry: prometheus.NewRegistry(),
		Router:   mux.NewRouter(),
	}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	a.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	httpx.HandleUnmatched(a.Router, a.Logger)
	// Spans are named by route template, not by path: one name per route.
	a.Router.Use(httpx.TraceRoute)

	if a.shutdown, err = tracing.Setup(ctx, cfg.Name, cfg.OTLPEndpoint); err != nil {
		return nil, err
	}
	if dsn := string(cfg.DatabaseURL); dsn != "" {
		if err := pg.Migrate(ctx, dsn, sets...); err != nil {
			return nil, err
		}
		if a.DB, err = pg.Open(ctx, dsn, pg.Pool{}); err != nil {
			return nil, err
		}
		a.closers = append(a.closers, a.DB.Close)
		db := a.DB
		a.checks = append(a.checks, health.Check{Name: "postgres", Fn: func(ctx context.Context) error { return db.PingContext(ctx) }})
	}
	if cfg.RedisURL != "" || len(cfg.RedisAddrs) > 0 {
		if a.Redis, err = redisx.Open(ctx, redisx.Config{URL: string(cfg.RedisURL), Addrs: cfg.RedisAddrs, Password: string(cfg.RedisPassword)}); err != nil {
			return nil, err
		}
		a.closers = append(a.closers, a.Redis.Close)
		a.checks = append(a.checks, health.Check{Name: "redis", Fn: redisx.Ping(a.Redis)})
	}
	return a, nil
}

// Relay runs the outbox relay, publishing this service's outbox to Kafka.
// Kafka is deliberately not a readiness check: while it is down, requests
// still commit and the outbox holds their events until it is back.
func (a *App) Relay() {
	r := &events.Relay{DB: a.DB, DSN: string(a.Config.DatabaseURL), Brokers: a.Config.KafkaBrokers,
		Security: a.Config.KafkaSecurity, Logger: a.Logger, Metrics: a.Registry}
	a.Go("outbox relay", r.Run)
}

// Consume runs a consumer group named after the service over topics,
// applying handlers (by event type) exactly once through the inbox.
func (a *App) Consume(topics []string, handlers map[string]events.Handler) {
	c := &events.Consumer{Group: a.Config.Name, Brokers: a.Config.KafkaBrokers, Security: a.Config.KafkaSecurity,
		Topics: topics, DB: a.DB, Handlers: handlers, Logger: log.With(a.Logger, "component", "consumer"),
		Metrics: a.Registry}
	a.Go("event consumer", c.Run)
}

// Use wraps the whole Router in mw, inside the shared HTTP stack (so after
// request ids and recovery) but before routing: for middleware that must
// see requests no route matches, such as CORS preflights. The first Use is
// the outermost.
func (a *App) Use(mw func(http.Handler) http.Handler) {
	a.wrap = append(a.wrap, mw)
}

// Go runs fn beside the server for the life of Serve. fn must return when
// its ctx is done; an error from it stops the whole service.
func (a *App) Go(name string, fn func(context.Context) error) {
	a.workers = append(a.workers, worker{name, fn})
}

// Serve mounts /healthz, /readyz and /metrics, serves Router behind the
// shared HTTP stack on ln, and runs the workers, until ctx is done or a
// worker fails. On the way out readiness turns 503, in-flight requests
// drain, and the workers stop.
func (a *App) Serve(ctx context.Context, ln net.Listener) error {
	h := health.New(a.checks...)
	h.Register(a.Router, a.Registry)
	var root http.Handler = a.Router
	for i := len(a.wrap) - 1; i >= 0; i-- {
		root = a.wrap[i](root)
	}
	srv := httpx.NewServer(ln.Addr().String(), httpx.Stack(a.Logger, root))

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	for _, w := range a.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := w.run(ctx)
			if err != nil && ctx.Err() == nil {
				cancel(fmt.Errorf("%s: %w", w.name, err))
			}
		}()
	}
	if a.Config.DebugAddr != "" {
		stop, err := serveDebug(a.Config.DebugAddr, a.Logger)
		if err != nil {
			return err
		}
		defer stop()
	}
	level.Info(a.Logger).Log("msg", "listening", "addr", ln.Addr().String())
	err := httpx.Serve(ctx, srv, ln, h.SetDraining, a.Config.DrainDelay, a.Config.ShutdownTimeout)
	cancel(nil)
	wg.Wait()
	if cause := context.Cause(ctx); err == nil && cause != nil && !errors.Is(cause, context.Canceled) {
		err = cause
	}
	level.Info(a.Logger).Log("msg", "stopped", "err", err)
	return err
}

// Close releases what New opened, flushing traces. Safe after a failed New.
func (a *App) Close() error {
	var errs []error
	for i := len(a.closers) - 1; i >= 0; i-- {
		errs = append(errs, a.closers[i]())
	}
	if a.shutdown != nil {
		errs = append(errs, a.shutdown(context.Background()))
	}
	return errors.Join(errs...)
}
