// Package errs is Azora's one error type. Every domain error is a value of
// *Error: a Kind that fixes the HTTP status once (see httpx), a stable
// snake_case Code that clients branch on, and a message safe to show a user.
package errs

import (
	"errors"
	"fmt"
)

// Kind classifies an error. The set is closed; transports map each kind to a
// status code once.
type Kind string

// The kinds, with the HTTP status each maps to.
const (
	Invalid            Kind = "invalid_argument"       // 400
	Unauthenticated    Kind = "unauthenticated"        // 401
	Forbidden          Kind = "forbidden"              // 403
	NotFound           Kind = "not_found"              // 404
	Conflict           Kind = "conflict"               // 409
	TooLarge           Kind = "payload_too_large"      // 413
	UnsupportedMedia   Kind = "unsupported_media_type" // 415
	FailedPrecondition Kind = "failed_precondition"    // 422
	RateLimited        Kind = "rate_limited"           // 429
	Internal           Kind = "internal"               // 500
	Unavailable        Kind = "unavailable"            // 503
)

// FieldError names one invalid input field.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error is a classified error. The zero value is not useful; build one with
// New or E.
type Error struct {
	Kind    Kind
	Code    string       // stable snake_case word, e.g. "insufficient_funds"
	Message string       // user-safe detail
	Fields  []FieldError // validation failures, when Kind is Invalid
	Err     error        // the cause; logged, never shown to clients
}

// New returns a sentinel-style domain error. Two *Error values with the same
// Code match each other under errors.Is, so a sentinel still matches after
// WithMessage or Wrap.
func New(kind Kind, code, message string) *Error {
	return &Error{Kind: kind, Code: code, Message: message}
}

func (e *Error) Error() string {
	msg := e.Code
	if e.Message != "" {
		msg += ": " + e.Message
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is an *Error with the same Code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// WithMessage returns a copy of e with a more specific user-safe message.
func (e *Error) WithMessage(format string, args ...any) *Error {
	c := *e
	c.Message = fmt.Sprintf(format, args...)
	return &c
}

// Wrap returns a copy of e that records cause for logs.
func (e *Error) Wrap(cause error) *Error {
	c := *e
	c.Err = cause
	return &c
}

// E builds an error of kind with the kind's name as its code.
func E(kind Kind, message string, cause error) *Error {
	return &Error{Kind: kind, Code: string(kind), Message: message, Err: cause}
}

// Internalf wraps cause as an internal error; the message is never shown.
func Internalf(cause error, format string, args ...any) *Error {
	return &Error{Kind: Internal, Code: string(Internal), Message: "internal error", Err: fmt.Errorf(format+": %w", append(args, cause)...)}
}

// Validation builds a 400 validation_failed error listing the bad fields.
func Validation(fields ...FieldError) *Error {
	return &Error{Kind: Invalid, Code: "validation_failed", Message: "the request has invalid fields", Fields: fields}
}

// As returns the *Error in err's chain, or an internal error wrapping err
// when there is none. It returns nil for a nil err.
func As(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Kind: Internal, Code: string(Internal), Message: "internal error", Err: err}
}

// KindOf returns the kind of err's *Error, or Internal.
func KindOf(err error) Kind { return As(err).Kind }

// IsServerFault reports whether err is the server's fault (internal,
// unavailable): the only errors circuit breakers count.
func IsServerFault(err error) bool {
	if err == nil {
		return false
	}
	switch KindOf(err) {
	case Internal, Unavailable:
		return true
	}
	return false
}
