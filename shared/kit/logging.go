package kit

import (
	"context"
	"time"

	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/logging"
	"github.com/go-kit/kit/endpoint"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
)

// Logging returns a middleware that logs each call of the server endpoint
// name at debug level, with endpoint, duration, the error code and chain on
// failure, and the request and trace ids from ctx. Server faults are not
// raised to error level here: the request is logged once at the HTTP edge,
// whose error encoder logs a fault's chain at error level. It returns the
// endpoint's result unchanged.
func Logging(logger log.Logger, name string) endpoint.Middleware {
	return logCalls(logger, name, level.Debug)
}

// ClientLogging is Logging for client endpoints (calls to another
// service): their server faults are logged at error level, because the
// caller may absorb them (a degraded dashboard) and no edge would log them.
func ClientLogging(logger log.Logger, name string) endpoint.Middleware {
	return logCalls(logger, name, level.Error)
}

func logCalls(logger log.Logger, name string, faultLevel func(log.Logger) log.Logger) endpoint.Middleware {
	return func(next endpoint.Endpoint) endpoint.Endpoint {
		return func(ctx context.Context, request any) (response any, err error) {
			defer func(begin time.Time) {
				fault := errs.IsServerFault(err)
				if !fault && !logging.Enabled(logging.Debug) {
					return // a debug line the filter would drop; building it costs µs
				}
				l := log.With(logging.With(ctx, logger), "endpoint", name, "duration", time.Since(begin))
				switch {
				case err == nil:
					_ = level.Debug(l).Log("msg", "endpoint succeeded")
				case fault:
					// err.Error() of an *errs.Error already includes its cause
					// chain; the client only ever sees the safe message.
					_ = faultLevel(l).Log("msg", "endpoint failed", "code", errs.As(err).Code, "err", err)
				default:
					_ = level.Debug(l).Log("msg", "endpoint refused", "code", errs.As(err).Code)
				}
			}(time.Now())
			return next(ctx, request)
		}
	}
}
