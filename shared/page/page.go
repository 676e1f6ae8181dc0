// Package page is keyset pagination as API.md fixes it: ?limit= (default
// 20, at most 100) and an opaque ?cursor= that names the last row seen, so
// a page costs an index range scan whatever its depth (never OFFSET).
package page

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strconv"

	"github.com/azora-os/azora/shared/errs"
)

// Limits of a page.
const (
	DefaultLimit = 20
	MaxLimit     = 100
)

// ErrBadCursor is returned for a cursor this API did not issue.
var ErrBadCursor = errs.New(errs.Invalid, "invalid_cursor", "the cursor is malformed; use next_cursor from a previous page")

// Request is a page request: Limit rows after the row Cursor names.
type Request struct {
	Limit  int
	Cursor string // opaque; decode it with Decode
}

// Page is a list response: {"items": [...], "next_cursor": "..."}, with
// next_cursor absent on the last page.
type Page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// Size is how many rows r's page holds: Limit, DefaultLimit when unset (a
// caller in process may leave it zero), and never more than MaxLimit.
func (r Request) Size() int {
	if r.Limit <= 0 {
		return DefaultLimit
	}
	return min(r.Limit, MaxLimit)
}

// Query is r as ?limit= and ?cursor=, what a client sends for it (the
// inverse of FromQuery); a zero Limit or empty Cursor is left out, so the
// server's default applies.
func (r Request) Query() url.Values {
	q := url.Values{}
	if r.Limit != 0 {
		q.Set("limit", strconv.Itoa(r.Limit))
	}
	if r.Cursor != "" {
		q.Set("cursor", r.Cursor)
	}
	return q
}

// FromQuery reads limit and cursor from q. A limit that is not an integer
// from 1 to MaxLimit is a validation error naming the field.
func FromQuery(q url.Values) (Request, error) {
	r := Request{Limit: DefaultLimit, Cursor: q.Get("cursor")}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxLimit {
			return Request{}, errs.Validation(errs.FieldError{Field: "limit", Message: "must be an integer from 1 to 100"})
		}
		r.Limit = n
	}
	return r, nil
}

// Encode returns the opaque cursor for key, the sort key of the last row
// of a page (a struct of its ordering columns).
func Encode(key any) string {
	b, err := json.Marshal(key)
	if err != nil {
		panic("page: cursor key does not marshal: " + err.Error()) // a programming error
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// Decode fills key from cursor; an empty cursor leaves key as it is (the
// first page). Errors: ErrBadCursor.
func Decode(cursor string, key any) error {
	if cursor == "" {
		return nil
	}
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil || json.Unmarshal(b, key) != nil {
		return ErrBadCursor
	}
	return nil
}

// Of builds a page from rows fetched with limit+1: the extra row, when
// present, only proves that another page exists, and the cursor names the
// last row kept. key returns a row's sort key.
func Of[T any](rows []T, limit int, key func(T) any) Page[T] {
	if rows == nil {
		rows = []T{}
	}
	if len(rows) <= limit {
		return Page[T]{Items: rows}
	}
	rows = rows[:limit]
	return Page[T]{Items: rows, NextCursor: Encode(key(rows[len(rows)-1]))}
}
