package httpx

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/azora-os/azora/shared/errs"
)

// The errors DecodeJSON returns; match them with errors.Is (by code). Wrong
// types come back as errs.Validation (code validation_failed).
var (
	ErrUnsupportedMediaType = errs.New(errs.UnsupportedMedia, "unsupported_media_type", "the request body must be application/json")
	ErrMalformedJSON        = errs.New(errs.Invalid, "malformed_json", "the request body is not valid JSON")
	ErrUnknownField         = errs.New(errs.Invalid, "unknown_field", "the request body has an unknown field")
	ErrDuplicateField       = errs.New(errs.Invalid, "duplicate_field", "the request body repeats a field")
	ErrPayloadTooLarge      = errs.New(errs.TooLarge, "payload_too_large", "the request body is too large")
)

// DecodeJSON strictly decodes r's body, one JSON value, into v (a pointer).
//
// It returns ErrUnsupportedMediaType (415) unless Content-Type is
// application/json or application/*+json (a charset parameter must be
// utf-8); ErrMalformedJSON (400) for an empty body, a syntax error (the
// message gives the byte offset) or data after the value; ErrUnknownField
// (400) naming a field v does not have; errs.Validation (400,
// validation_failed) naming the path of a value of the wrong type;
// ErrDuplicateField (400) naming a key that appears twice in one object, at
// any depth; ErrPayloadTooLarge (413) when the body passes the limit.
//
// Duplicate keys are rejected on purpose. encoding/json silently keeps the
// last one, while other parsers (a proxy, an audit log, a signature check)
// may keep the first: the same bytes would then mean two different requests
// (a parser-differential bug). Keys that differ only in case count as
// duplicates too, because encoding/json folds case when it matches struct
// fields, so {"amount":1,"AMOUNT":2} would also land on one field.
//
// The limit is BodyLimit's http.MaxBytesReader where the Stack is in front
// (it counts bytes read, so it holds for chunked bodies too); DecodeJSON
// also stops reading at MaxBodyBytes itself, so a handler mounted without
// the Stack cannot be made to buffer an unbounded body.
func DecodeJSON(r *http.Request, v any) error {
	if err := checkContentType(r.Header.Get("Content-Type")); err != nil {
		return err
	}
	body, err := readBody(r.Body)
	if err != nil {
		return err
	}
	if err := scan(body); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	return nil
}

func checkContentType(ct string) error {
	if ct == "" {
		return ErrUnsupportedMediaType.WithMessage("the request has no Content-Type; send application/json")
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return ErrUnsupportedMediaType.WithMessage("the Content-Type %q cannot be parsed; send application/json", ct)
	}
	sub, isApp := strings.CutPrefix(mt, "application/")
	if !isApp || (sub != "json" && !strings.HasSuffix(sub, "+json")) {
		return ErrUnsupportedMediaType.WithMessage("the Content-Type %q is not supported; send application/json", mt)
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return ErrUnsupportedMediaType.WithMessage("the charset %q is not supported; JSON is utf-8", cs)
	}
	return nil
}

func readBody(rc io.ReadCloser) ([]byte, error) {
	if rc == nil {
		return nil, ErrMalformedJSON.WithMessage("the request body is empty")
	}
	body, err := io.ReadAll(io.LimitReader(rc, MaxBodyBytes+1))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return nil, ErrPayloadTooLarge.WithMessage("the request body exceeds %d bytes", mbe.Limit)
	case err != nil:
		return nil, ErrMalformedJSON.WithMessage("the request body could not be read").Wrap(err)
	case len(body) > MaxBodyBytes:
		return nil, ErrPayloadTooLarge.WithMessage("the request body exceeds %d bytes", MaxBodyBytes)
	case len(bytes.TrimSpace(body)) == 0:
		return nil, ErrMalformedJSON.WithMessage("the request body is empty")
	}
	return body, nil
}

// decodeError translates encoding/json's errors after scan has ruled out
// syntax errors, duplicates and trailing data.
func decodeError(err error) error {
	var te *json.UnmarshalTypeError
	var ie *json.InvalidUnmarshalError
	var e *errs.Error
	switch {
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "(body)"
		}
		return errs.Validation(errs.FieldError{Field: field, Message: fmt.Sprintf("must be %s, got %s", jsonType(te.Type), te.Value)}).Wrap(err)
	case errors.As(err, &ie):
		return errs.Internalf(err, "httpx: DecodeJSON target")
	case errors.As(err, &e): // a custom UnmarshalJSON already classified it
		return e
	}
	// encoding/json has no type for unknown fields; its message is stable
	// since Go 1.10.
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		if unq, uerr := strconv.Unquote(name); uerr == nil {
			name = unq
		}
		return &errs.Error{
			Kind: errs.Invalid, Code: ErrUnknownField.Code,
			Message: fmt.Sprintf("the field %q is not accepted here", name),
			Fields:  []errs.FieldError{{Field: name, Message: "unknown field"}},
		}
	}
	// What remains comes from a field's own UnmarshalJSON or UnmarshalText
	// (a time that does not parse): the client's input, so a 400.
	return errs.New(errs.Invalid, "validation_failed", "the request has an invalid value: "+err.Error()).Wrap(err)
}

// jsonType names t the way a client sees JSON, not Go.
func jsonType(t reflect.Type) string {
	if t == nil {
		return "a different type"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a non-negative integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Pointer:
		return jsonType(t.Elem())
	}
	return "a " + t.String()
}

// ValidUUID reports whether id is a canonical 36-character UUID: path ids
// that are not cannot name anything, so routes answer their not-found
// error without asking the database.
func ValidUUID(id string) bool {
	if len(id) != 36 {
		return false
	}
	_, err := uuid.Parse(id)
	return err == nil
}
