package httpx

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strconv"
	"time"

	httptransport "github.com/go-kit/kit/transport/http"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/logging"
)

// genericDetail is all a client learns about a server fault; the chain goes
// to the log under the same request id.
const genericDetail = "an internal error occurred; quote the request_id when reporting it"

// retryAfterer is implemented by errors that know when the client may try
// again (rate limits, breakers).
type retryAfterer interface{ RetryAfter() time.Duration }

// ErrorEncoder returns the one go-kit error encoder: it writes err as an
// RFC 9457 problem whose status comes from the error's errs.Kind, carrying
// the request id from ctx. Server faults (internal, unavailable) are logged
// here, once, at error level with the whole cause chain; their detail is
// replaced by a generic sentence for internal errors. A 401 carries
// WWW-Authenticate, and an error with a RetryAfter() method sets Retry-After.
func ErrorEncoder(logger log.Logger) httptransport.ErrorEncoder {
	return func(ctx context.Context, err error, w http.ResponseWriter) {
		writeError(ctx, w, logger, err)
	}
}

// WriteError writes err as a problem response for plain net/http handlers;
// it behaves exactly as ErrorEncoder with r's context.
func WriteError(w http.ResponseWriter, r *http.Request, logger log.Logger, err error) {
	writeError(r.Context(), w, logger, err)
}

// ServerOptions returns the options every go-kit server in Azora takes: the
// shared error encoder. No ServerErrorHandler is installed on purpose: the
// encoder already logs server faults, and go-kit calls both for every error,
// so a logging handler would write each fault twice; 4xx show up in the
// access log with their problem code.
func ServerOptions(logger log.Logger) []httptransport.ServerOption {
	return []httptransport.ServerOption{
		httptransport.ServerErrorEncoder(ErrorEncoder(logger)),
	}
}

func writeError(ctx context.Context, w http.ResponseWriter, logger log.Logger, err error) {
	if err == nil {
		err = errors.New("httpx: error encoder called with a nil error")
	}
	e := errs.As(err)
	if errs.IsServerFault(e) {
		level.Error(logging.With(ctx, logger)).Log("msg", "request failed", "code", e.Code, "err", err)
	}
	var ra retryAfterer
	if errors.As(err, &ra) {
		w.Header().Set("Retry-After", strconv.FormatInt(retrySeconds(ra.RetryAfter()), 10))
	}
	writeProblem(ctx, w, e)
}

// writeProblem renders e; it does not log, so middlewares that answer 4xx on
// their own (body limit, 404) can use it without a logger.
func writeProblem(ctx context.Context, w http.ResponseWriter, e *errs.Error) {
	status, title := classify(e.Kind)
	writeProblemStatus(ctx, w, e, status, title)
}

// writeProblemStatus renders e with a status and title of the caller's
// choosing, for the router's 405 which no errs kind stands for.
func writeProblemStatus(ctx context.Context, w http.ResponseWriter, e *errs.Error, status int, title string) {
	p := Problem{
		Title:     title,
		Status:    status,
		Code:      e.Code,
		Detail:    e.Message,
		RequestID: logging.RequestID(ctx),
		Errors:    e.Fields,
	}
	if status == http.StatusInternalServerError {
		// Neither the code nor the message of an internal error is meant for
		// clients: both may name the part that broke.
		p.Code, p.Detail, p.Errors = string(errs.Internal), genericDetail, nil
	}
	if p.Code == "" {
		p.Code = string(e.Kind)
	}
	p.Type = "/problems/" + p.Code
	body, err := json.Marshal(p)
	if err != nil { // a Problem of strings and ints cannot fail to marshal
		body = []byte(`{"type":"/problems/internal","title":"Internal server error","status":500,"code":"internal"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Del("Content-Length") // a handler may have set it for the body it meant to send
	if status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", bearerChallenge(p.Code))
	}
	noteCode(w, p.Code)
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// bearerChallenge follows RFC 6750 §3: a request without a token gets the
// bare challenge; one whose token failed gets error="invalid_token".
func bearerChallenge(code string) string {
	if code == "missing_token" {
		return "Bearer"
	}
	return `Bearer error="invalid_token"`
}

// retrySeconds rounds d up to whole seconds, at least 1: Retry-After has no
// fractions, and 0 would invite an immediate retry storm.
func retrySeconds(d time.Duration) int64 {
	s := int64(math.Ceil(d.Seconds()))
	if s < 1 {
		s = 1
	}
	return s
}
