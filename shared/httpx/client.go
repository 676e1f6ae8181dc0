package httpx

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/azora-os/azora/shared/errs"
)

// maxProblemBytes bounds how much of an error body a client reads.
const maxProblemBytes = 64 << 10

// ErrorFromResponse reads a non-2xx response from another Azora service and
// returns it as an *errs.Error, so the error keeps its kind and code across
// the hop: the kind follows the status; code, message and fields come from
// the problem body. A body that is not a problem still yields an error of
// the status's kind, with code "upstream_<status>". A Retry-After header
// survives as the error's RetryAfter method, which ErrorEncoder passes on.
// The caller closes resp.Body. It returns nil for a status below 400.
func ErrorFromResponse(resp *http.Response) error {
	if resp.StatusCode < 400 {
		return nil
	}
	var p Problem
	body, rerr := io.ReadAll(io.LimitReader(resp.Body, maxProblemBytes))
	if rerr != nil || json.Unmarshal(body, &p) != nil || p.Code == "" {
		p = Problem{Code: "upstream_" + strconv.Itoa(resp.StatusCode), Detail: http.StatusText(resp.StatusCode)}
	}
	where := ""
	if resp.Request != nil {
		where = resp.Request.Method + " " + resp.Request.URL.Redacted() + ": "
	}
	e := &errs.Error{Kind: kindOfStatus(resp.StatusCode), Code: p.Code, Message: p.Detail, Fields: p.Errors,
		Err: fmt.Errorf("%sstatus %d, request_id %q", where, resp.StatusCode, p.RequestID)}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
		return &retryError{err: e, after: time.Duration(s) * time.Second}
	}
	return e
}

// retryError is a remote error that came with a Retry-After.
type retryError struct {
	err   *errs.Error
	after time.Duration
}

func (e *retryError) Error() string             { return e.err.Error() }
func (e *retryError) Unwrap() error             { return e.err }
func (e *retryError) RetryAfter() time.Duration { return e.after }
