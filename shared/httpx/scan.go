package httpx

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"

	"github.com/azora-os/azora/shared/errs"
)

// smallObject is how many keys an object may hold before duplicate checks
// switch from a linear scan (no allocation beyond the slice) to a map.
const smallObject = 16

// frame is one open object or array while scanning.
type frame struct {
	obj     bool
	wantKey bool   // obj: the next string token is a key
	key     string // obj: the key whose value is being read
	idx     int    // array: index of the element being read
	keys    []string
	folded  map[string]struct{}
}

// scan reads body's tokens once to find what encoding/json's Unmarshal
// forgives or reports vaguely: syntax errors (with their offset), keys that
// repeat within one object, and data after the first value.
func scan(body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber() // numbers stay text: no float parsing, no overflow here
	var stack []frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return syntaxError(err, dec.InputOffset())
		}
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{':
				stack = append(stack, frame{obj: true, wantKey: true})
			case '[':
				stack = append(stack, frame{})
			default:
				stack = stack[:len(stack)-1]
				valueDone(stack)
			}
		} else if top := len(stack) - 1; top >= 0 && stack[top].wantKey {
			key, _ := tok.(string) // Token yields only strings in key position
			if stack[top].seen(key) {
				return duplicate(stack, key)
			}
			stack[top].wantKey, stack[top].key = false, key
		} else {
			valueDone(stack)
		}
		if len(stack) == 0 {
			break
		}
	}
	off := dec.InputOffset()
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return ErrMalformedJSON.WithMessage("unexpected data after the JSON value at offset %d", off)
	}
	return nil
}

// valueDone records that a complete value was read inside the top frame.
func valueDone(stack []frame) {
	if len(stack) == 0 {
		return
	}
	top := &stack[len(stack)-1]
	if top.obj {
		top.wantKey = true
	} else {
		top.idx++
	}
}

// seen adds key to the object's keys and reports whether it, or a key equal
// to it under case folding, was there already.
func (f *frame) seen(key string) bool {
	if f.folded != nil {
		k := strings.ToLower(key)
		if _, ok := f.folded[k]; ok {
			return true
		}
		f.folded[k] = struct{}{}
		return false
	}
	for _, k := range f.keys {
		if strings.EqualFold(k, key) {
			return true
		}
	}
	f.keys = append(f.keys, key)
	if len(f.keys) > smallObject {
		f.folded = make(map[string]struct{}, 2*len(f.keys))
		for _, k := range f.keys {
			f.folded[strings.ToLower(k)] = struct{}{}
		}
		f.keys = nil
	}
	return false
}

// duplicate names key by its path from the root, e.g. "items[2].id".
func duplicate(stack []frame, key string) error {
	var b strings.Builder
	for _, f := range stack[:len(stack)-1] {
		if f.obj {
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(f.key)
		} else {
			b.WriteString("[" + strconv.Itoa(f.idx) + "]")
		}
	}
	if b.Len() > 0 {
		b.WriteByte('.')
	}
	b.WriteString(key)
	path := b.String()
	e := ErrDuplicateField.WithMessage("the field %q appears more than once", path)
	e.Fields = []errs.FieldError{{Field: path, Message: "duplicate field"}}
	return e
}

func syntaxError(err error, off int64) error {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		return ErrMalformedJSON.WithMessage("malformed JSON at offset %d: %s", se.Offset, se.Error())
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return ErrMalformedJSON.WithMessage("unexpected end of JSON input at offset %d", off)
	}
	return ErrMalformedJSON.WithMessage("malformed JSON at offset %d", off).Wrap(err)
}
