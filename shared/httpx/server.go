package httpx

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// NewServer returns an http.Server for h on addr with every timeout set:
// net/http's zero values mean "wait forever", which lets a slow client hold
// a connection (and its goroutine) open indefinitely.
func NewServer(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    1 << 20,
	}
}

// Serve serves srv on ln until ctx is done, then stops gracefully: it calls
// onDrain (health's SetDraining, so /readyz answers 503 and load balancers
// stop sending), keeps serving for drainDelay while they notice, then shuts
// srv down, letting in-flight requests finish for up to shutdownTimeout.
// Keep-alives are switched off for the drain so clients reconnect elsewhere.
//
// It returns nil on a clean stop (including srv being shut down by someone
// else); the serve error when serving fails (a closed listener); or the shutdown error, after closing every connection,
// when requests outlive shutdownTimeout. In-flight requests are not
// cancelled by ctx: their contexts descend from srv's BaseContext.
func Serve(ctx context.Context, srv *http.Server, ln net.Listener, onDrain func(), drainDelay, shutdownTimeout time.Duration) error {
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	select {
	case err := <-served:
		return serveError(ln, err)
	case <-ctx.Done():
	}

	if onDrain != nil {
		onDrain()
	}
	srv.SetKeepAlivesEnabled(false)
	timer := time.NewTimer(drainDelay)
	defer timer.Stop()
	select {
	case err := <-served:
		return serveError(ln, err)
	case <-timer.C:
	}

	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
		<-served
		return fmt.Errorf("httpx: shutdown after %s: %w", shutdownTimeout, err)
	}
	return serveError(ln, <-served)
}

// serveError reports why srv.Serve returned; ErrServerClosed means someone
// shut the server down on purpose, which is a clean stop.
func serveError(ln net.Listener, err error) error {
	if err == nil || errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return fmt.Errorf("httpx: serve %s: %w", ln.Addr(), err)
}
