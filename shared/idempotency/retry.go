package idempotency

import (
	"context"
	"net/http"

	httptransport "github.com/go-kit/kit/transport/http"

	"github.com/azora-os/azora/shared/pg"
)

// attempt is one run of the handler inside the middleware's transaction.
type attempt struct {
	retry error // set when the handler failed on a retryable database error
}

type attemptCtx struct{}

func withAttempt(ctx context.Context, a *attempt) context.Context {
	return context.WithValue(ctx, attemptCtx{}, a)
}

// ErrorEncoder wraps a go-kit error encoder (httpx.ErrorEncoder) for the
// servers behind Middleware. Service code that runs pg.Tx or
// pg.Transactor.InTx inside the handler joins the middleware's transaction,
// so a serialization failure or deadlock comes back to the endpoint as an
// error instead of being retried where the transaction began. This encoder
// hands such an error to the middleware, which rolls back and runs the
// handler again (as pg.Tx would have), instead of answering 500. Other
// errors, and every error outside Middleware, go to next unchanged.
//
//	opts = append(httpx.ServerOptions(logger),
//		httptransport.ServerErrorEncoder(idempotency.ErrorEncoder(httpx.ErrorEncoder(logger))))
func ErrorEncoder(next httptransport.ErrorEncoder) httptransport.ErrorEncoder {
	return func(ctx context.Context, err error, w http.ResponseWriter) {
		if NoteError(ctx, err) {
			// The middleware discards this attempt's answer; a placeholder
			// status keeps the writer's contract. Nothing is logged: the
			// retry is expected, and exhausted retries are logged once.
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		next(ctx, err, w)
	}
}

// NoteError is ErrorEncoder for plain net/http handlers: called with the
// handler's error before answering, it reports whether err is a retryable
// database error (pg.Retryable) inside Middleware, in which case the
// middleware runs the handler again and the handler's answer is discarded.
func NoteError(ctx context.Context, err error) bool {
	a, ok := ctx.Value(attemptCtx{}).(*attempt)
	if !ok || !pg.Retryable(err) {
		return false
	}
	a.retry = err
	return true
}
