package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	stdlog "log"

	"github.com/go-kit/kit/endpoint"
	"github.com/go-kit/kit/sd/lb"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"

	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/httpx"
	"github.com/azora-os/azora/shared/kit"
	"github.com/azora-os/azora/shared/logging"
)

// proxy forwards requests unchanged to an Upstream through
// httputil.ReverseProxy, which already does what a proxy must and is easy
// to get wrong (hop-by-hop headers both ways, trailers, 1xx, protocol
// upgrades, flushing streamed bodies as they come); its Transport is the
// Upstream's go-kit endpoint.
type proxy struct {
	rp      httputil.ReverseProxy
	trusted httpx.TrustedProxies
	logger  log.Logger
}

// NewProxy returns the handler forwarding every request to u, path and
// query unchanged, with the instance's Host and these headers set:
// X-Forwarded-For (the hops trusted lists vouch for, then the peer; from
// an untrusted peer only the peer), X-Forwarded-Proto and X-Forwarded-Host
// (believed from trusted peers only), X-Request-ID (the id the shared
// stack gave the request) and the W3C trace context of the request's
// current span (traceparent, tracestate, baggage). The upstream's answer
// is streamed back; for the headers the shared stack already set
// (X-Request-ID, the security headers) the upstream's value replaces the
// gateway's instead of being added to it.
// Failures are problems: 502 upstream_unavailable, 503 circuit_open (with
// Retry-After) or upstream_busy, 504 upstream_timeout, 413
// payload_too_large.
func NewProxy(u *Upstream, trusted httpx.TrustedProxies, logger log.Logger) http.Handler {
	p := &proxy{trusted: trusted, logger: logger}
	p.rp = httputil.ReverseProxy{
		Rewrite:      p.rewrite,
		Transport:    upstreamRoundTripper{u},
		BufferPool:   proxyBufferPool{},
		ErrorHandler: p.fail,
		ErrorLog:     stdlog.New(log.NewStdlibAdapter(level.Warn(logger)), "", 0),
	}
	return p
}

// ServeHTTP implements http.Handler.
func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.rp.ServeHTTP(&proxyWriter{ResponseWriter: w}, r)
}

func (p *proxy) rewrite(pr *httputil.ProxyRequest) {
	in, h := pr.In, pr.Out.Header
	trusted := p.trusted.Trusts(in)
	host := in.Host
	if fh := in.Header.Get("X-Forwarded-Host"); trusted && fh != "" {
		host = fh
	}
	// h.Set of each, with the keys already canonical and the values in one
	// allocation; each header gets its own one-value slice, its capacity
	// capped, so an Add appends to a copy.
	v := new([4]string)
	v[0] = forwardedFor(p.trusted, in, trusted)
	v[1] = p.trusted.Proto(in)
	v[2] = host
	h["X-Forwarded-For"] = v[0:1:1]
	h["X-Forwarded-Proto"] = v[1:2:2]
	h["X-Forwarded-Host"] = v[2:3:3]
	delete(h, "X-Real-Ip") // as unverified as X-Forwarded-For; nobody downstream should read it
	if id := logging.RequestID(in.Context()); id != "" {
		v[3] = id
		h["X-Request-Id"] = v[3:4:4]
	}
	// The current span (the shared stack's server span, itself the
	// caller's child) becomes the service's parent. Without a valid span
	// context nothing is set, and the client's traceparent, if any, passes
	// through unchanged.
	otel.GetTextMapPropagator().Inject(in.Context(), propagation.HeaderCarrier(h))
}

// maxForwardedHops bounds the X-Forwarded-For chain passed on.
const maxForwardedHops = 8

// forwardedFor returns the X-Forwarded-For to send: from a trusted peer,
// the hops of its X-Forwarded-For that trusted proxies vouch for (read
// from the right up to and including the first untrusted address, as
// TrustedProxies.ClientIP does, so the first hop is the client's address),
// then the peer; from any other peer, the peer alone.
func forwardedFor(t httpx.TrustedProxies, r *http.Request, trusted bool) string {
	peer := httpx.RemoteIP(r)
	if !trusted {
		return peer
	}
	var hops [maxForwardedHops]string
	n := 0
	values := r.Header.Values("X-Forwarded-For")
walk:
	for i := len(values) - 1; i >= 0; i-- {
		rest := values[i]
		for more := true; more; {
			var hop string
			if c := strings.LastIndexByte(rest, ','); c >= 0 {
				hop, rest = rest[c+1:], rest[:c]
			} else {
				hop, more = rest, false
			}
			hop = strings.TrimSpace(hop)
			a, err := netip.ParseAddr(hop)
			if err != nil || n == len(hops) {
				break walk // a malformed hop: believe nothing further left
			}
			hops[n] = hop
			n++
			if !t.Contains(a) {
				break walk // the client, as the trusted proxies saw it
			}
		}
	}
	var b strings.Builder
	for i := n - 1; i >= 0; i-- {
		b.WriteString(hops[i])
		b.WriteString(", ")
	}
	b.WriteString(peer)
	return b.String()
}

// fail is the ReverseProxy's ErrorHandler: it answers err as a problem.
func (p *proxy) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case r.Context().Err() != nil || errors.Is(err, kit.ErrRequestCanceled):
		// The client left: nobody reads this, but the access log records
		// it as NGINX does, as 499 rather than a fault of ours.
		writeStatusProblem(w, r, 499, "Client closed request", kit.ErrRequestCanceled)
	case errors.Is(err, kit.ErrUpstreamTimeout):
		p.logFault(r, err)
		writeStatusProblem(w, r, http.StatusGatewayTimeout, "Gateway timeout", errs.As(err))
	case errors.Is(err, ErrUpstreamUnavailable):
		p.logFault(r, err)
		writeStatusProblem(w, r, http.StatusBadGateway, "Bad gateway", errs.As(err))
	case errs.As(err).Code == string(errs.Internal):
		// Not an *errs.Error: ReverseProxy's own (a failed protocol
		// upgrade, a bad Upgrade header).
		p.logFault(r, err)
		writeStatusProblem(w, r, http.StatusBadGateway, "Bad gateway", ErrUpstreamUnavailable.Wrap(err))
	default:
		// circuit_open and upstream_busy (503, Retry-After when known),
		// payload_too_large, an unreadable body: the shared encoder's table.
		httpx.WriteError(w, r, p.logger, err)
	}
}

func (p *proxy) logFault(r *http.Request, err error) {
	_ = level.Error(logging.With(r.Context(), p.logger)).Log("msg", "request failed", "code", errs.As(err).Code, "err", err)
}

// writeStatusProblem writes e as httpx does, with a status no errs kind
// maps to (502, 504, 499).
func writeStatusProblem(w http.ResponseWriter, r *http.Request, status int, title string, e *errs.Error) {
	body, err := json.Marshal(httpx.Problem{
		Type:      "/problems/" + e.Code,
		Title:     title,
		Status:    status,
		Detail:    e.Message,
		Code:      e.Code,
		RequestID: logging.RequestID(r.Context()),
	})
	if err != nil { // a Problem of strings and ints cannot fail to marshal
		body = []byte(`{"type":"/problems/upstream_unavailable","title":"Bad gateway","status":502,"code":"upstream_unavailable"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Del("Content-Length")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// stackHeaders are the response headers the shared HTTP stack sets before
// the proxy runs, which the services set too: one value each.
var stackHeaders = []string{
	"X-Request-Id", "X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy",
	"Content-Security-Policy", "Cache-Control", "Cross-Origin-Resource-Policy",
}

// proxyWriter keeps one value of each of stackHeaders: ReverseProxy adds
// the upstream's headers to those already set, and the upstream's (the
// last) is the one meant for this response (a public document's
// Cache-Control, say).
type proxyWriter struct {
	http.ResponseWriter
	wroteHeader bool
}

func (w *proxyWriter) WriteHeader(status int) {
	if !w.wroteHeader && status >= 200 {
		w.wroteHeader = true
		h := w.Header()
		for _, k := range stackHeaders {
			if v := h[k]; len(v) > 1 {
				h[k] = v[len(v)-1:]
			}
		}
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *proxyWriter) Write(b []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController (flushing, upgrades) reach the
// connection's writer.
func (w *proxyWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// proxyBufferSize is the copy buffer of a streamed response body.
const proxyBufferSize = 32 << 10

// proxyBuffers holds arrays, not slices, so that Put does not allocate.
var proxyBuffers = sync.Pool{New: func() any { return new([proxyBufferSize]byte) }}

// proxyBufferPool is the ReverseProxy's httputil.BufferPool.
type proxyBufferPool struct{}

func (proxyBufferPool) Get() []byte { return proxyBuffers.Get().(*[proxyBufferSize]byte)[:] }

func (proxyBufferPool) Put(b []byte) {
	if cap(b) >= proxyBufferSize {
		proxyBuffers.Put((*[proxyBufferSize]byte)(b[:proxyBufferSize]))
	}
}

// upstreamRoundTripper is the ReverseProxy's Transport.
type upstreamRoundTripper struct{ u *Upstream }

// RoundTrip implements http.RoundTripper; see Upstream.roundTrip.
func (t upstreamRoundTripper) RoundTrip(r *http.Request) (*http.Response, error) {
	return t.u.roundTrip(r)
}

// roundTrip sends r, an outbound request of the proxy, to u's instances
// through go-kit: retryWithCallback (lb.RetryWithCallback's contract, on
// the request's goroutine) over a round-robin balancer of the endpointer's
// endpoints, each instance's endpoint counted, traced, logged, timed and
// behind its breaker (kit.Chain over kit.NewSyncBreaker). The retry rules:
//   - an attempt that cannot have reached the instance (its circuit open,
//     too many calls in flight, the connection refused) is tried on the
//     next instance whatever the method: nothing was sent;
//   - one that may have reached it (the connection broke, no headers in
//     Timeout, a 502/503/504 answer) is tried again only when Retryable(r);
//   - never more than Attempts attempts, and none once the client left.
//
// A request's attempts go to distinct instances in turn (go-kit's shared
// lb.RoundRobin may hand a retry the instance that just failed, which
// under load loses requests when an instance dies). A final 502/503/504
// answer is returned as the response, so the service's own problem reaches
// the client; other failures are errors for the proxy's ErrorHandler.
// The body of a retryable request is buffered (the shared stack caps it at
// httpx.MaxBodyBytes) so it can be sent again; any other body streams.
func (u *Upstream) roundTrip(r *http.Request) (*http.Response, error) {
	pr := &proxyRequest{u: u, out: r, ctx: r.Context(), retryable: Retryable(r), first: u.next.Add(1) - 1}
	if pr.retryable && r.Body != nil && r.Body != http.NoBody {
		body, err := readProxyBody(r)
		if err != nil {
			return nil, err
		}
		pr.body = body
	}
	resp, err := retryWithCallback(pr, pr.retry)(pr.ctx, pr)
	if err == nil {
		return resp.(*http.Response), nil
	}
	var final lb.RetryError
	if errors.As(err, &final) {
		err = final.Final
	}
	var se *statusError
	switch {
	case errors.As(err, &se):
		return se.resp, nil
	case pr.ctx.Err() != nil:
		return nil, kit.ErrRequestCanceled.Wrap(err)
	case errors.Is(err, context.DeadlineExceeded):
		return nil, kit.ErrUpstreamTimeout.Wrap(err) // a deadline no layer below translated
	case errors.Is(err, lb.ErrNoEndpoints):
		return nil, ErrUpstreamUnavailable.Wrap(err)
	}
	return nil, err
}

// readProxyBody reads the body of a request that may be sent twice.
func readProxyBody(r *http.Request) ([]byte, error) {
	var body []byte
	var err error
	if n := r.ContentLength; n > 0 && n <= httpx.MaxBodyBytes {
		body = make([]byte, n) // net/http holds the body to its Content-Length
		_, err = io.ReadFull(r.Body, body)
	} else {
		body, err = io.ReadAll(io.LimitReader(r.Body, httpx.MaxBodyBytes+1))
	}
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge) || len(body) > httpx.MaxBodyBytes || r.ContentLength > httpx.MaxBodyBytes:
		return nil, httpx.ErrPayloadTooLarge
	case err != nil && r.Context().Err() != nil:
		return nil, kit.ErrRequestCanceled.Wrap(err)
	case err != nil:
		return nil, errs.E(errs.Invalid, "the request body could not be read", err)
	}
	return body, nil
}

// retryWithCallback is go-kit's lb.RetryWithCallback without its
// goroutine, channels and timer: the same contract (b picks each
// attempt's endpoint, cb decides after each failure whether another
// follows, the failures are returned as an lb.RetryError) with the
// attempts run one after the other on the caller's goroutine. go-kit runs
// each attempt on a goroutine of its own so that it can give up on one at
// its overall timeout while the attempt still runs; here every attempt
// already ends by its breaker's deadline (kit.Breaker gives run a ctx
// with it and returns only once run has), the caller waits for the
// response anyway, and cb stops after Attempts, so that timeout could
// never fire first. Dropping it saves a goroutine, two channels and a
// timer per request.
func retryWithCallback(b lb.Balancer, cb lb.Callback) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		var final lb.RetryError
		for i := 1; ; i++ {
			e, err := b.Endpoint()
			if err == nil {
				var response any
				if response, err = e(ctx, request); err == nil {
					return response, nil
				}
			}
			final.RawErrors = append(final.RawErrors, err)
			keepTrying, replacement := cb(i, err)
			if replacement != nil {
				err = replacement
			}
			if !keepTrying {
				final.Final = err
				return nil, final
			}
		}
	}
}

// proxyRequest is what an instance's endpoint takes: one client request,
// sent to one instance per attempt. It is also the lb.Balancer of its own
// attempts.
type proxyRequest struct {
	u         *Upstream
	out       *http.Request   // scheme, host and Host are set per attempt
	ctx       context.Context // the client's; outbound requests live as long as it
	body      []byte          // a retryable request's body; nil when it streams
	retryable bool
	first     uint64 // round-robin position of the first attempt
	picks     uint64 // instances picked so far; only the request's goroutine, one attempt at a time, touches it
}

// Endpoint implements lb.Balancer: the instance after the one tried last.
func (pr *proxyRequest) Endpoint() (endpoint.Endpoint, error) {
	eps, err := pr.u.endpointer.Endpoints()
	if err != nil {
		return nil, err
	}
	if len(eps) == 0 {
		return nil, lb.ErrNoEndpoints
	}
	ep := eps[(pr.first+pr.picks)%uint64(len(eps))]
	pr.picks++
	return ep, nil
}

// retry is the lb.Callback deciding whether attempt n's failure err earns
// another attempt (see roundTrip).
func (pr *proxyRequest) retry(n int, err error) (bool, error) {
	again := n < pr.u.cfg.Attempts && pr.ctx.Err() == nil &&
		(notSent(err) || (pr.retryable && maybeSent(err)))
	if again {
		var se *statusError
		if errors.As(err, &se) {
			_ = se.resp.Body.Close()
		}
		pr.u.retries.Inc()
	}
	return again, nil
}

// notSent reports whether err proves the attempt never reached the
// instance.
func notSent(err error) bool {
	var op *net.OpError
	return errors.Is(err, kit.ErrCircuitOpen) || errors.Is(err, kit.ErrUpstreamBusy) ||
		(errors.As(err, &op) && op.Op == "dial")
}

// maybeSent reports whether err is an instance's failure that another
// instance may not share.
func maybeSent(err error) bool {
	var se *statusError
	return errors.As(err, &se) || errors.Is(err, ErrUpstreamUnavailable) || errors.Is(err, kit.ErrUpstreamTimeout)
}

// attemptEndpoint is the go-kit client endpoint of one instance: it sends
// a *proxyRequest there and returns the *http.Response, or a *statusError
// for a 502/503/504 (a fault the breaker counts and the retry may skip).
func (u *Upstream) attemptEndpoint(in *upstreamInstance) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		resp, err := u.attempt(ctx, in, request.(*proxyRequest))
		if err != nil {
			return nil, err
		}
		return resp, nil
	}
}

func (u *Upstream) attempt(ctx context.Context, in *upstreamInstance, pr *proxyRequest) (*http.Response, error) {
	// The retry and the breaker cancel ctx as soon as they return, which is
	// when the headers are in but the body has yet to stream: the outbound
	// request hangs off the client's ctx instead, and ctx cuts it short
	// only until the headers arrive.
	octx, cancel := context.WithCancel(pr.ctx)
	stop := context.AfterFunc(ctx, cancel)
	out := pr.out.WithContext(octx)
	target := *pr.out.URL
	target.Scheme, target.Host = in.scheme, in.host
	out.URL, out.Host = &target, ""
	switch {
	case pr.body != nil:
		out.Body = io.NopCloser(bytes.NewReader(pr.body))
		out.GetBody = pr.getBody
		out.ContentLength = int64(len(pr.body))
	case out.Body != nil && out.Body != http.NoBody:
		// The transport closes the body when it fails to connect; an
		// attempt's own wrapper keeps the body readable for the next.
		out.Body = &attemptBody{r: out.Body}
	}
	resp, err := u.transport.RoundTrip(out)
	if !stop() { // ctx ended first: the breaker's deadline, or the client left
		cancel()
		if err == nil {
			_ = resp.Body.Close()
			err = ctx.Err()
		}
		return nil, attemptError(ctx, pr.ctx, err)
	}
	if err != nil {
		cancel()
		return nil, attemptError(ctx, pr.ctx, err)
	}
	resp.Body = &upstreamBody{ReadCloser: resp.Body, cancel: cancel}
	switch resp.StatusCode {
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return nil, &statusError{resp: resp}
	}
	return resp, nil
}

func (pr *proxyRequest) getBody() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(pr.body)), nil
}

// attemptBody is a streamed body as one attempt sees it: closing it
// ends that attempt's reads only, so a body an attempt never got to send
// can still go to the next instance.
type attemptBody struct {
	r      io.Reader
	closed atomic.Bool
}

func (b *attemptBody) Read(p []byte) (int, error) {
	if b.closed.Load() {
		return 0, errAttemptBodyClosed
	}
	return b.r.Read(p)
}

func (b *attemptBody) Close() error {
	b.closed.Store(true)
	return nil
}

var errAttemptBodyClosed = errors.New("gateway: read of a request body after its attempt ended")

// attemptError classifies a failed attempt: the client leaving, a timeout,
// a body over the limit, or the instance unreachable.
func attemptError(ctx, client context.Context, err error) error {
	var (
		timeout  interface{ Timeout() bool }
		tooLarge *http.MaxBytesError
	)
	switch {
	case client.Err() != nil:
		return kit.ErrRequestCanceled.Wrap(err)
	case errors.Is(ctx.Err(), context.DeadlineExceeded),
		errors.As(err, &timeout) && timeout.Timeout():
		return kit.ErrUpstreamTimeout.Wrap(err)
	case errors.As(err, &tooLarge):
		return httpx.ErrPayloadTooLarge
	}
	return ErrUpstreamUnavailable.Wrap(err)
}

// upstreamBody releases the outbound request's ctx once the proxy is done
// with the response.
type upstreamBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *upstreamBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// errUpstreamStatus is what a *statusError is, for the breaker and metrics.
var errUpstreamStatus = errs.New(errs.Unavailable, "upstream_status", "the upstream service answered with a gateway error")

// statusError is an instance's 502, 503 or 504 answer: a failed attempt,
// whose response is relayed when no other attempt follows.
type statusError struct{ resp *http.Response }

func (e *statusError) Error() string { return "upstream answered " + e.resp.Status }
func (e *statusError) Unwrap() error { return errUpstreamStatus }

// instanceFault is what counts against an instance's circuit: it could
// not be reached, did not answer in time, or answered 502 or 504 (it
// failed the way a broken instance does). A 503 is the instance answering
// that it cannot serve this request now — most often for want of a
// dependency every instance shares, such as Redis for token checks —
// and counting it would open the circuit of every instance and refuse
// requests they still serve (anonymous catalogue reads, say). A 503
// still goes to the next instance when the request may be retried, and
// is relayed to the client otherwise.
func instanceFault(err error) bool {
	var se *statusError
	if errors.As(err, &se) && se.resp.StatusCode == http.StatusServiceUnavailable {
		return false
	}
	return errs.IsServerFault(err)
}

// countAttempts counts each attempt at one instance by its HTTP status, or
// its error code when no answer came (circuit_open, upstream_timeout …).
func countAttempts(codes *prometheus.CounterVec) endpoint.Middleware {
	c := &attemptCounters{vec: codes}
	return func(next endpoint.Endpoint) endpoint.Endpoint {
		return func(ctx context.Context, request any) (any, error) {
			resp, err := next(ctx, request)
			var se *statusError
			switch {
			case err == nil:
				c.status(resp.(*http.Response).StatusCode).Inc()
			case errors.As(err, &se):
				c.status(se.resp.StatusCode).Inc()
			default:
				codes.WithLabelValues(errs.As(err).Code).Inc()
			}
			return resp, err
		}
	}
}

// attemptCounters keeps the counter of each status an instance answered
// with, so that an attempt costs an array read instead of WithLabelValues
// (hashing and looking up the label in the vector, under its lock). A
// counter is made on the status's first attempt, as WithLabelValues would:
// no series for a status never seen.
type attemptCounters struct {
	vec      *prometheus.CounterVec // curried with service and instance
	byStatus [len(statusLabels)]atomic.Pointer[prometheus.Counter]
}

func (c *attemptCounters) status(status int) prometheus.Counter {
	if status < 0 || status >= len(c.byStatus) {
		return c.vec.WithLabelValues(statusLabel(status))
	}
	if p := c.byStatus[status].Load(); p != nil {
		return *p
	}
	counter := c.vec.WithLabelValues(statusLabels[status]) // the same child however many race here
	c.byStatus[status].Store(&counter)
	return counter
}

// statusLabels are the label values of statuses, made once.
var statusLabels = func() (l [600]string) {
	for i := range l {
		l[i] = strconv.Itoa(i)
	}
	return l
}()

func statusLabel(status int) string {
	if status >= 0 && status < len(statusLabels) {
		return statusLabels[status]
	}
	return strconv.Itoa(status)
}
