// Package logging builds the one go-kit logger a binary passes down, and
// carries the request id through contexts so every line about a request can
// name it (with the trace id, when tracing is on).
package logging

import (
	"context"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"go.opentelemetry.io/otel/trace"
)

// New returns a logger writing format ("json" or "logfmt") to w, dropping
// lines below lvl ("debug", "info", "warn", "error"). Lines carry ts and
// caller.
func New(w io.Writer, format, lvl string) (log.Logger, error) {
	var l log.Logger
	switch format {
	case "json":
		l = log.NewJSONLogger(log.NewSyncWriter(w))
	case "logfmt", "":
		l = log.NewLogfmtLogger(log.NewSyncWriter(w))
	default:
		return nil, fmt.Errorf("log format %q: want json or logfmt", format)
	}
	var opt level.Option
	switch lvl {
	case "debug":
		opt = level.AllowDebug()
	case "info", "":
		opt = level.AllowInfo()
	case "warn":
		opt = level.AllowWarn()
	case "error":
		opt = level.AllowError()
	default:
		return nil, fmt.Errorf("log level %q: want debug, info, warn or error", lvl)
	}
	l = level.NewFilter(l, opt)
	allow(lvl)
	return log.With(l, "ts", log.DefaultTimestampUTC, "caller", log.DefaultCaller), nil
}

// Levels, most verbose first, for Enabled.
const (
	Debug = iota
	Info
	Warn
	Error
)

// verbosity is the most verbose level any logger New made allows (-1:
// New has not been called, so everything counts as enabled).
var verbosity atomic.Int32

func init() { verbosity.Store(-1) }

func allow(lvl string) {
	v := int32(map[string]int{"debug": Debug, "info": Info, "": Info, "warn": Warn, "error": Error}[lvl])
	for {
		cur := verbosity.Load()
		if cur != -1 && cur <= v {
			return
		}
		if verbosity.CompareAndSwap(cur, v) {
			return
		}
	}
}

// Enabled reports whether a line at lvl (Debug … Error) can be written by
// some logger of this process. Hot paths check it before building a line a
// level filter would drop anyway: go-kit computes the timestamp and the
// caller (runtime.Caller) of every line before its filter looks at the
// level, which costs microseconds per request.
func Enabled(lvl int) bool {
	v := verbosity.Load()
	return v == -1 || int32(lvl) >= v
}

type ctxKey struct{}

// WithRequestID returns ctx carrying the request id.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// RequestID returns the request id in ctx, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(ctxKey{}).(string)
	return id
}

// With returns l annotated with ctx's request_id and trace_id, where set.
func With(ctx context.Context, l log.Logger) log.Logger {
	if id := RequestID(ctx); id != "" {
		l = log.With(l, "request_id", id)
	}
	if sc := trace.SpanContextFromContext(ctx); sc.HasTraceID() {
		l = log.With(l, "trace_id", sc.TraceID().String())
	}
	return l
}
