package gateway

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/afex/hystrix-go/hystrix"
	"github.com/go-kit/kit/endpoint"
	"github.com/go-kit/kit/sd"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/kit"
)

// ErrUpstreamUnavailable is the error of a request no instance of the
// upstream service answered: every attempt failed to connect, or the
// connection broke before a response arrived. The proxy answers it 502.
var ErrUpstreamUnavailable = errs.New(errs.Unavailable, "upstream_unavailable", "the upstream service could not be reached")

// UpstreamConfig configures the instances of one upstream service. Zero
// fields take the defaults named beside them.
type UpstreamConfig struct {
	Service   string   // the service name, e.g. ServiceEducation
	Instances []string // base URLs without a path, e.g. http://127.0.0.1:4002

	// Health checks: every HealthInterval (2 s) each instance is sent
	// GET HealthPath ("/readyz") with HealthTimeout (1 s). HealthFailures
	// (2) failed checks in a row (no 2xx, a timeout, a refused connection)
	// take an instance out; one passing check puts it back, so a restarted
	// instance serves again within one interval. Two failures, not one:
	// live traffic finds a dead instance first (its requests go to the
	// next instance, and its breaker opens within about a second, see
	// Breaker); the checks confirm it, and a single slow /readyz under load
	// does not take out a working instance.
	HealthPath     string
	HealthInterval time.Duration
	HealthTimeout  time.Duration
	HealthFailures int

	// Timeout bounds one attempt until the response headers arrive (10 s);
	// the body then streams for as long as the client stays. It is also the
	// breaker's Timeout unless Breaker.Timeout is set.
	Timeout time.Duration
	// Attempts caps the instances one request is tried on (3).
	Attempts int
	// Breaker configures the circuit breaker of each instance (hystrix
	// command "<service>@<host:port>"). Zero fields: Timeout as above,
	// MaxConcurrent 1024, ErrorPercentThreshold 10, SleepWindow
	// HealthInterval (so a restarted instance's circuit half-opens as soon
	// as it is back), the rest kit.DefaultBreakerConfig's. hystrix-go
	// judges the last 10 s: an instance that dies under steady load fails
	// 10 % of that window after 1 s, before the health checks take it out,
	// where kit's 50 % would take 5 s and so never open. Faults:
	// instanceFault (an instance's 503 answer does not count).
	Breaker kit.BreakerConfig
	// Transport sends requests and health checks; nil is a transport pooled
	// for load: 512 idle keep-alive connections per instance kept 90 s, 2 s
	// dial timeout, HTTP/1.1 only, no compression.
	Transport http.RoundTripper
}

// Upstream sends requests to the healthy instances of one service: a
// go-kit client endpoint per instance, each behind its own breaker,
// balanced round-robin, a failed attempt retried on the next instance when
// that is safe (the rules are on roundTrip, in proxy.go). Its health
// checks run in Run. NewProxy serves HTTP through it.
type Upstream struct {
	cfg          UpstreamConfig
	logger       log.Logger
	transport    http.RoundTripper
	ownTransport *http.Transport // closed by Close; nil when cfg.Transport was given
	instances    []*upstreamInstance
	byBase       map[string]*upstreamInstance
	health       *healthChecker
	endpointer   *sd.DefaultEndpointer
	next         atomic.Uint64 // round-robin position of the next request's first attempt
	retries      prometheus.Counter
	reg          prometheus.Registerer
	collector    prometheus.Collector
	closeOnce    sync.Once

	runMu   sync.Mutex
	closed  bool
	running chan struct{} // closed when Run returns; nil before Run
}

// upstreamInstance is one configured instance of an Upstream.
type upstreamInstance struct {
	base     string // the sd instance string: the configured base URL
	scheme   string
	host     string // host:port, the Host of requests sent to it
	circuit  string // hystrix command name
	endpoint endpoint.Endpoint

	failedChecks int // health checks failed in a row; only Run touches it
	checksOK     prometheus.Counter
	checksFailed prometheus.Counter
}

// NewUpstream validates cfg and returns the Upstream of cfg.Service with
// every instance taken as healthy until the checks of Run say otherwise
// (the first runs at once), so the gateway serves as soon as it starts,
// whatever order the services came up in; a request to an instance that
// is not up yet is refused at connect and goes to the next. Its metrics
// are registered with reg (nil: none):
// azora_gateway_upstream_attempts_total{service,instance,code},
// azora_gateway_upstream_retries_total{service},
// azora_gateway_upstream_healthy{service,instance} and
// azora_gateway_upstream_breaker_open{service,instance}. It returns an
// error for a missing service name or instance, a malformed or duplicate
// instance URL, or metrics already registered for the same service.
func NewUpstream(cfg UpstreamConfig, logger log.Logger, reg prometheus.Registerer) (*Upstream, error) {
	cfg = cfg.withDefaults()
	if cfg.Service == "" {
		return nil, fmt.Errorf("upstream: no service name")
	}
	if len(cfg.Instances) == 0 {
		return nil, fmt.Errorf("upstream %s: no instances", cfg.Service)
	}
	u := &Upstream{
		cfg:       cfg,
		logger:    log.With(logger, "upstream", cfg.Service),
		transport: cfg.Transport,
		byBase:    make(map[string]*upstreamInstance, len(cfg.Instances)),
		reg:       reg,
	}
	if u.transport == nil {
		u.ownTransport = newUpstreamTransport()
		u.transport = u.ownTransport
	}
	attempts, retries, checks := upstreamCounters(reg)
	u.retries = retries.WithLabelValues(cfg.Service)
	metrics := kit.NewMetrics(reg, "gateway")
	for _, base := range cfg.Instances {
		in, err := parseInstance(cfg.Service, base)
		if err != nil {
			return nil, err
		}
		if u.byBase[in.base] != nil {
			return nil, fmt.Errorf("upstream %s: instance %s listed twice", cfg.Service, base)
		}
		// The chain is built once per instance, not per health flap: the
		// factory below hands out the same endpoint when it comes back.
		ep := kit.Chain(u.logger, metrics, kit.Spec{
			Name:    "proxy_" + cfg.Service,
			Breaker: kit.NewSyncBreaker(in.circuit, cfg.Breaker),
		})(u.attemptEndpoint(in))
		counted := attempts.MustCurryWith(prometheus.Labels{"service": cfg.Service, "instance": in.host})
		in.endpoint = countAttempts(counted)(ep)
		in.checksOK = checks.WithLabelValues(cfg.Service, in.host, "ok")
		in.checksFailed = checks.WithLabelValues(cfg.Service, in.host, "failed")
		u.instances = append(u.instances, in)
		u.byBase[in.base] = in
	}

	u.health = newHealthChecker(cfg.Instances)
	u.endpointer = sd.NewEndpointer(u.health, u.factory, u.logger)
	// The endpointer takes the first event in a goroutine of its own; wait
	// for it so the first request finds the instances.
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Microsecond) {
		if eps, _ := u.endpointer.Endpoints(); len(eps) == len(u.instances) {
			break
		}
	}
	if reg != nil {
		u.collector = newUpstreamCollector(u)
		if err := reg.Register(u.collector); err != nil {
			u.Close()
			return nil, fmt.Errorf("upstream %s: register metrics: %w", cfg.Service, err)
		}
	}
	return u, nil
}

func (c UpstreamConfig) withDefaults() UpstreamConfig {
	if c.HealthPath == "" {
		c.HealthPath = "/readyz"
	}
	if c.HealthInterval <= 0 {
		c.HealthInterval = 2 * time.Second
	}
	if c.HealthTimeout <= 0 {
		c.HealthTimeout = time.Second
	}
	if c.HealthFailures <= 0 {
		c.HealthFailures = 2
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	if c.Attempts <= 0 {
		c.Attempts = 3
	}
	if c.Breaker.Timeout <= 0 {
		c.Breaker.Timeout = c.Timeout
	}
	if c.Breaker.MaxConcurrent <= 0 {
		c.Breaker.MaxConcurrent = 1024
	}
	if c.Breaker.ErrorPercentThreshold <= 0 {
		c.Breaker.ErrorPercentThreshold = 10
	}
	if c.Breaker.SleepWindow <= 0 {
		c.Breaker.SleepWindow = c.HealthInterval
	}
	if c.Breaker.Faults == nil {
		c.Breaker.Faults = instanceFault
	}
	return c
}

func parseInstance(service, base string) (*upstreamInstance, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("upstream %s: instance %q: %w", service, base, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") ||
		u.RawQuery != "" || u.User != nil {
		return nil, fmt.Errorf("upstream %s: instance %q: want http(s)://host:port with no path", service, base)
	}
	return &upstreamInstance{base: base, scheme: u.Scheme, host: u.Host, circuit: service + "@" + u.Host}, nil
}

// newUpstreamTransport is sized for the gateway's load: net/http's default
// keeps 2 idle connections per host, so under concurrency most requests
// would open (and leave in TIME_WAIT) a connection of their own.
func newUpstreamTransport() *http.Transport {
	dialer := &net.Dialer{Timeout: 2 * time.Second, KeepAlive: 30 * time.Second}
	var protocols http.Protocols
	protocols.SetHTTP1(true) // services speak HTTP/1.1; no h2 to upstreams
	return &http.Transport{
		DialContext:           dialer.DialContext,
		MaxIdleConnsPerHost:   512,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   2 * time.Second,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true, // pass the client's Accept-Encoding and the answer through as they are
		Protocols:             &protocols,
	}
}

// factory is the sd.Factory of the Upstream's endpointer: the prebuilt
// endpoint of a configured instance.
func (u *Upstream) factory(instance string) (endpoint.Endpoint, io.Closer, error) {
	in, ok := u.byBase[instance]
	if !ok {
		return nil, nil, fmt.Errorf("upstream %s: unknown instance %q", u.cfg.Service, instance)
	}
	return in.endpoint, nil, nil
}

// Instancer returns the go-kit sd.Instancer publishing the instances
// requests go to: the healthy ones, or all of them while none is (see
// healthChecker). Others may build endpointers of their own over it.
func (u *Upstream) Instancer() sd.Instancer { return u.health }

// Healthy returns the base URLs of the instances the health checks keep in
// rotation (all but those that failed HealthFailures checks in a row),
// sorted.
func (u *Upstream) Healthy() []string { return u.health.healthyList() }

// Run checks every instance's health at once, then every HealthInterval,
// until ctx ends or Close is called; it returns nil then. Call it once.
func (u *Upstream) Run(ctx context.Context) error {
	u.runMu.Lock()
	if u.closed {
		u.runMu.Unlock()
		return nil
	}
	running := make(chan struct{})
	u.running = running
	u.runMu.Unlock()
	defer close(running)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { // Close cuts short the probes in flight
		select {
		case <-u.health.stopped:
			cancel()
		case <-ctx.Done():
		}
	}()
	ticker := time.NewTicker(u.cfg.HealthInterval)
	defer ticker.Stop()
	for {
		u.checkHealth(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
	}
}

// Close stops Run and waits for it to return, stops the endpointer,
// unregisters the metrics and closes the idle connections of the default
// transport. Requests in flight finish.
func (u *Upstream) Close() {
	u.closeOnce.Do(func() {
		u.health.Stop()
		u.runMu.Lock()
		u.closed = true
		running := u.running
		u.runMu.Unlock()
		if running != nil {
			<-running
		}
		u.endpointer.Close()
		if u.collector != nil {
			u.reg.Unregister(u.collector)
		}
		if u.ownTransport != nil {
			u.ownTransport.CloseIdleConnections()
		}
	})
}

// checkHealth probes every instance in parallel and publishes the result.
func (u *Upstream) checkHealth(ctx context.Context) {
	failures := make([]error, len(u.instances))
	var wg sync.WaitGroup
	for i, in := range u.instances {
		wg.Go(func() { failures[i] = u.probe(ctx, in) })
	}
	wg.Wait()
	if ctx.Err() != nil {
		return // a probe cut short says nothing about the instance
	}
	healthy := make(map[string]bool, len(u.instances))
	failed := make(map[string]error, len(u.instances))
	for i, in := range u.instances {
		if failures[i] == nil {
			in.failedChecks = 0
			in.checksOK.Inc()
		} else {
			in.failedChecks++
			in.checksFailed.Inc()
		}
		healthy[in.base] = in.failedChecks < u.cfg.HealthFailures
		failed[in.base] = failures[i]
	}
	for _, base := range u.health.update(healthy) {
		if healthy[base] {
			_ = level.Info(u.logger).Log("msg", "instance back in rotation", "instance", u.byBase[base].host)
		} else {
			_ = level.Warn(u.logger).Log("msg", "instance taken out of rotation", "instance", u.byBase[base].host,
				"err", failed[base])
		}
	}
}

// probe sends one health check; any answer but a 2xx is a failure.
func (u *Upstream) probe(ctx context.Context, in *upstreamInstance) error {
	ctx, cancel := context.WithTimeout(ctx, u.cfg.HealthTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, in.scheme+"://"+in.host+u.cfg.HealthPath, nil)
	if err != nil {
		return fmt.Errorf("health check request: %w", err)
	}
	req.Header.Set("User-Agent", "azora-gateway-health")
	resp, err := u.transport.RoundTrip(req)
	if err != nil {
		return fmt.Errorf("health check: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10)) // keep the connection reusable
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("health check: GET %s answered %d", u.cfg.HealthPath, resp.StatusCode)
	}
	return nil
}

// healthChecker is the sd.Instancer of an Upstream. It publishes the
// instances the health checks keep in rotation; while there is none, it
// publishes all of them instead. Failing open is deliberate: a health check
// that fails everywhere at once is as likely a fault of the checks (a
// network policy, a slow /readyz under load) as of every instance, and each
// instance's breaker still cuts off one that really is down, so a client
// gets a fast 502/503 either way but keeps being served in the first case.
type healthChecker struct {
	mu        sync.Mutex
	all       []string        // every configured instance, sorted
	healthy   map[string]bool // by instance: in rotation
	published []string        // the instances of the last event
	subs      map[chan<- sd.Event]struct{}
	stopped   chan struct{}
	stopOnce  sync.Once
}

func newHealthChecker(instances []string) *healthChecker {
	h := &healthChecker{
		all:     slices.Sorted(slices.Values(instances)),
		healthy: make(map[string]bool, len(instances)),
		subs:    make(map[chan<- sd.Event]struct{}),
		stopped: make(chan struct{}),
	}
	for _, in := range instances {
		h.healthy[in] = true
	}
	h.published = h.all
	return h
}

// Register implements sd.Instancer: ch gets the current instances at once
// and every change after. Its reader must keep receiving until Deregister.
func (h *healthChecker) Register(ch chan<- sd.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.subs[ch] = struct{}{}
	ch <- sd.Event{Instances: slices.Clone(h.published)}
}

// Deregister implements sd.Instancer.
func (h *healthChecker) Deregister(ch chan<- sd.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.subs, ch)
}

// Stop implements sd.Instancer: it ends the Upstream's Run.
func (h *healthChecker) Stop() { h.stopOnce.Do(func() { close(h.stopped) }) }

// update records the result of a round of checks, publishes the new set
// when it changed, and returns the instances whose health changed.
func (h *healthChecker) update(healthy map[string]bool) (changed []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var up []string
	for _, in := range h.all {
		if healthy[in] != h.healthy[in] {
			changed = append(changed, in)
		}
		h.healthy[in] = healthy[in]
		if healthy[in] {
			up = append(up, in)
		}
	}
	if len(up) == 0 {
		up = h.all // fail open, see healthChecker
	}
	if slices.Equal(up, h.published) {
		return changed
	}
	h.published = up
	for ch := range h.subs {
		ch <- sd.Event{Instances: slices.Clone(up)}
	}
	return changed
}

func (h *healthChecker) healthyList() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var up []string
	for _, in := range h.all {
		if h.healthy[in] {
			up = append(up, in)
		}
	}
	return up
}

// upstreamCounters returns the attempt, retry and health-check counters,
// shared by the Upstreams of one registry.
func upstreamCounters(reg prometheus.Registerer) (attempts, retries, checks *prometheus.CounterVec) {
	attempts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "azora_gateway_upstream_attempts_total",
		Help: "Attempts to send a request to an upstream instance, by service, instance and code (the HTTP status, or the error code when none came back).",
	}, []string{"service", "instance", "code"})
	retries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "azora_gateway_upstream_retries_total",
		Help: "Requests sent again to another instance after an attempt failed, by service.",
	}, []string{"service"})
	checks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "azora_gateway_upstream_health_checks_total",
		Help: "Health checks of an upstream instance, by service, instance and result (ok, failed); a check cut short by shutdown is not counted.",
	}, []string{"service", "instance", "result"})
	if reg != nil {
		attempts = kit.MustRegister(reg, attempts)
		retries = kit.MustRegister(reg, retries)
		checks = kit.MustRegister(reg, checks)
	}
	return attempts, retries, checks
}

// upstreamCollector reports, at scrape time, each instance's health and
// whether its circuit is open: nothing on the request path.
type upstreamCollector struct {
	u       *Upstream
	healthy *prometheus.Desc
	open    *prometheus.Desc
}

func newUpstreamCollector(u *Upstream) *upstreamCollector {
	service := prometheus.Labels{"service": u.cfg.Service}
	return &upstreamCollector{
		u: u,
		healthy: prometheus.NewDesc("azora_gateway_upstream_healthy",
			"1 while the health checks keep the instance in rotation.", []string{"instance"}, service),
		open: prometheus.NewDesc("azora_gateway_upstream_breaker_open",
			"1 while the instance's circuit breaker is open.", []string{"instance"}, service),
	}
}

// Describe implements prometheus.Collector.
func (c *upstreamCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.healthy
	ch <- c.open
}

// Collect implements prometheus.Collector.
func (c *upstreamCollector) Collect(ch chan<- prometheus.Metric) {
	healthy := c.u.health.healthyList()
	for _, in := range c.u.instances {
		ch <- prometheus.MustNewConstMetric(c.healthy, prometheus.GaugeValue, boolValue(slices.Contains(healthy, in.base)), in.host)
		open := false
		if circuit, _, err := hystrix.GetCircuit(in.circuit); err == nil {
			open = circuit.IsOpen()
		}
		ch <- prometheus.MustNewConstMetric(c.open, prometheus.GaugeValue, boolValue(open), in.host)
	}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
