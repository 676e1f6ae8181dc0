package httpx

import (
	"fmt"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/google/uuid"

	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/logging"
)

// Stack wraps h in the middlewares every Azora server runs, outermost
// first: RequestID, Trace, Recover, AccessLog, SecurityHeaders,
// BodyLimit(MaxBodyBytes). The request id comes first so that every later
// line and problem names it; Trace comes next so that everything after it
// runs in the request's server span, which sees Recover's 500; Recover sits
// outside AccessLog so a panic is still logged as one 500 request line.
func Stack(logger log.Logger, h http.Handler) http.Handler {
	h = BodyLimit(MaxBodyBytes)(h)
	h = SecurityHeaders(h)
	h = AccessLog(logger)(h)
	h = Recover(logger)(h)
	h = Trace(h)
	return RequestID(h)
}

// RequestID gives each request an id: the client's X-Request-ID when it is
// 1–128 printable ASCII characters without spaces, else a new UUIDv7. The id
// goes on the response's X-Request-ID header and into the context
// (logging.WithRequestID).
func RequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-ID")
		if !validRequestID(id) {
			id = newRequestID()
		}
		w.Header()["X-Request-Id"] = []string{id} // Set("X-Request-ID", id), without canonicalising the key per request
		next.ServeHTTP(w, r.WithContext(logging.WithRequestID(r.Context(), id)))
	})
}

// validRequestID bounds what a client can inject into our logs.
func validRequestID(id string) bool {
	if len(id) == 0 || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] > 0x7e {
			return false
		}
	}
	return true
}

func newRequestID() string {
	if u, err := uuid.NewV7(); err == nil {
		return u.String()
	}
	return uuid.NewString() // NewV7 fails only when the random source does
}

// Recover turns a handler's panic into a logged 500 problem, with the stack,
// and keeps the server serving. http.ErrAbortHandler is passed on, as
// net/http expects; a panic after the response has started also aborts the
// connection, so the client cannot take a truncated body for a whole one.
func Recover(logger log.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rec := &recorder{ResponseWriter: w}
			defer func() {
				v := recover()
				if v == nil {
					return
				}
				if v == http.ErrAbortHandler {
					panic(v)
				}
				level.Error(logging.With(r.Context(), logger)).Log("msg", "panic serving request",
					"method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				if rec.status != 0 {
					panic(http.ErrAbortHandler)
				}
				writeProblem(r.Context(), rec, errs.Internalf(fmt.Errorf("%v", v), "panic"))
			}()
			next.ServeHTTP(rec, r)
		})
	}
}

// AccessLog logs each request once when it ends: method, path (never the
// query, which may carry secrets), status, bytes, duration_ms, remote,
// request_id and, for problems, code; at info below 500 and error from 500.
// Headers and bodies are never logged.
func AccessLog(logger log.Logger) func(http.Handler) http.Handler {
	// The level is the first key either way (level.Info(logging.With(…))
	// puts it there too); adding it once here saves a copy of the logger's
	// keys per request.
	info, fault := level.Info(logger), level.Error(logger)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			rec := &recorder{ResponseWriter: w}
			completed := false
			defer func() {
				status := rec.final(completed)
				l := info
				if status >= 500 {
					l = fault
				} else if !logging.Enabled(logging.Info) {
					return // LOG_LEVEL above info: the filter would drop this line
				}
				l = logging.With(r.Context(), l)
				kv := make([]any, 0, 16)
				kv = append(kv, "msg", "request", "method", r.Method, "path", r.URL.Path, "status", status,
					"bytes", rec.bytes, "duration_ms", float64(time.Since(start).Microseconds())/1000,
					"remote", r.RemoteAddr)
				if !completed && rec.code == "" {
					rec.code = "internal" // what Recover will answer
				}
				if rec.code != "" {
					kv = append(kv, "code", rec.code)
				}
				l.Log(kv...)
			}()
			next.ServeHTTP(rec, r)
			completed = true
		})
	}
}

// SecurityHeaders sets the headers every API response carries. They are set
// before the handler runs, so a handler may still override one (a public,
// cacheable document may replace Cache-Control). HSTS is NGINX's job.
func SecurityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		// What h.Set would do for each, in one allocation instead of six
		// and without canonicalising the keys again per request. Each
		// header gets its own one-value slice of the array, its capacity
		// capped, so an Add appends to a copy, never over a neighbour.
		values := new([len(securityHeaders)]string)
		for i, sh := range securityHeaders {
			values[i] = sh.value
			h[sh.key] = values[i : i+1 : i+1]
		}
		next.ServeHTTP(w, r)
	})
}

// securityHeaders are what SecurityHeaders sets, keys in canonical form
// (http.CanonicalHeaderKey), as h.Set would store them.
var securityHeaders = [...]struct{ key, value string }{
	{"X-Content-Type-Options", "nosniff"},
	{"X-Frame-Options", "DENY"},
	{"Referrer-Policy", "no-referrer"},
	{"Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"},
	{"Cache-Control", "no-store"}, // responses are per user
	{"Cross-Origin-Resource-Policy", "same-origin"},
}

// BodyLimit answers 413 payload_too_large at once, without reading, when a
// request declares a Content-Length over n; otherwise it caps the body with
// http.MaxBytesReader so a chunked body fails at byte n+1 (DecodeJSON turns
// that *http.MaxBytesError into the same 413).
func BodyLimit(n int64) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.ContentLength > n {
				writeProblem(r.Context(), w, ErrPayloadTooLarge.WithMessage("the request body exceeds %d bytes", n))
				return
			}
			if r.Body != nil && r.Body != http.NoBody {
				r.Body = http.MaxBytesReader(w, r.Body, n)
			}
			next.ServeHTTP(w, r)
		})
	}
}
