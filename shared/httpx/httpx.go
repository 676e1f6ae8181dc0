// Package httpx is the HTTP edge every Azora service shares: RFC 9457
// problem responses mapped once from errs kinds, strict JSON decoding, the
// middleware stack every server runs (request id, panic recovery, access
// log, security headers, body limit), and a server with graceful drain.
package httpx

import (
	"net/http"

	"github.com/azora-os/azora/shared/errs"
)

// MaxBodyBytes is the largest request body any route accepts (API.md: bodies
// over 1 MiB are a 413).
const MaxBodyBytes = 1 << 20

// Problem is an RFC 9457 problem document as Azora writes it. Type is the
// relative URI "/problems/<code>"; Code is the stable word clients branch on.
type Problem struct {
	Type      string            `json:"type"`
	Title     string            `json:"title"`
	Status    int               `json:"status"`
	Detail    string            `json:"detail,omitempty"`
	Code      string            `json:"code"`
	RequestID string            `json:"request_id,omitempty"`
	Errors    []errs.FieldError `json:"errors,omitempty"`
}

// Status returns the HTTP status for kind; an unknown kind is a 500 because
// an error nobody classified is the server's fault.
func Status(kind errs.Kind) int {
	status, _ := classify(kind)
	return status
}

// classify is the one table from error kind to HTTP status and problem title.
func classify(kind errs.Kind) (status int, title string) {
	switch kind {
	case errs.Invalid:
		return http.StatusBadRequest, "Invalid request"
	case errs.Unauthenticated:
		return http.StatusUnauthorized, "Authentication required"
	case errs.Forbidden:
		return http.StatusForbidden, "Forbidden"
	case errs.NotFound:
		return http.StatusNotFound, "Not found"
	case errs.Conflict:
		return http.StatusConflict, "Conflict"
	case errs.TooLarge:
		return http.StatusRequestEntityTooLarge, "Payload too large"
	case errs.UnsupportedMedia:
		return http.StatusUnsupportedMediaType, "Unsupported media type"
	case errs.FailedPrecondition:
		return http.StatusUnprocessableEntity, "Request cannot be processed"
	case errs.RateLimited:
		return http.StatusTooManyRequests, "Too many requests"
	case errs.Unavailable:
		return http.StatusServiceUnavailable, "Service unavailable"
	default:
		return http.StatusInternalServerError, "Internal server error"
	}
}

// kindOfStatus inverts classify for clients reading a problem back; statuses
// outside the table fall back by class.
func kindOfStatus(status int) errs.Kind {
	switch status {
	case http.StatusBadRequest:
		return errs.Invalid
	case http.StatusUnauthorized:
		return errs.Unauthenticated
	case http.StatusForbidden:
		return errs.Forbidden
	case http.StatusNotFound:
		return errs.NotFound
	case http.StatusConflict:
		return errs.Conflict
	case http.StatusRequestEntityTooLarge:
		return errs.TooLarge
	case http.StatusUnsupportedMediaType:
		return errs.UnsupportedMedia
	case http.StatusUnprocessableEntity:
		return errs.FailedPrecondition
	case http.StatusTooManyRequests:
		return errs.RateLimited
	case http.StatusServiceUnavailable, http.StatusBadGateway, http.StatusGatewayTimeout:
		return errs.Unavailable
	}
	if status >= 400 && status < 500 {
		return errs.Invalid
	}
	return errs.Internal
}
