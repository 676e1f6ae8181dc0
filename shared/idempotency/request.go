package idempotency

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io"
	"net/http"

	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/httpx"
	"github.com/azora-os/azora/shared/kit"
)

var errBodyUnreadable = errs.New(errs.Invalid, "body_unreadable", "the request body could not be read")

// keyOf returns r's Idempotency-Key and whether it sent one. It returns
// ErrBadKey for a key sent twice, empty, longer than MaxKeyLength or with a
// byte outside printable ASCII: the key is stored and logged, so its shape
// is bounded.
func keyOf(r *http.Request) (string, bool, error) {
	vs := r.Header.Values(HeaderKey)
	switch len(vs) {
	case 0:
		return "", false, nil
	case 1:
	default:
		return "", true, ErrBadKey.WithMessage("send the Idempotency-Key header once")
	}
	k := vs[0]
	if len(k) == 0 || len(k) > MaxKeyLength {
		return "", true, ErrBadKey
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x20 || k[i] > 0x7e {
			return "", true, ErrBadKey
		}
	}
	return k, true, nil
}

// readBody reads r's whole body, at most httpx.MaxBodyBytes, and gives r a
// fresh reader over the same bytes for the handler. It returns
// httpx.ErrPayloadTooLarge past the limit (whether httpx.BodyLimit's reader
// or this one noticed) and errBodyUnreadable when the client's body broke off.
func readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, httpx.MaxBodyBytes+1))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge), err == nil && len(body) > httpx.MaxBodyBytes:
		return nil, httpx.ErrPayloadTooLarge.WithMessage("the request body exceeds %d bytes", httpx.MaxBodyBytes)
	case err != nil:
		return nil, errBodyUnreadable.Wrap(err)
	}
	_ = r.Body.Close()
	r.Body = io.NopCloser(bytes.NewReader(body))
	return body, nil
}

// requestHash is SHA-256 over method, escaped path, raw query and body, each
// length-prefixed so no two different requests frame to the same bytes. The
// query is included (beyond API.md's "same body") because a route may read
// it: the same key with another query is another request.
func requestHash(r *http.Request, body []byte) []byte {
	h := sha256.New()
	var n [8]byte
	for _, part := range [][]byte{[]byte(r.Method), []byte(r.URL.EscapedPath()), []byte(r.URL.RawQuery), body} {
		binary.BigEndian.PutUint64(n[:], uint64(len(part)))
		h.Write(n[:])
		h.Write(part)
	}
	return h.Sum(nil)
}

// BearerSubject returns a Config.Scope that verifies r's bearer token with
// v and scopes keys to its subject. It returns kit's errors: ErrMissingToken
// and ErrInvalidToken (401s), ErrAuthUnavailable (503). The endpoint's own
// kit.JWT verifies the token again; v's cache makes that a hash and a map
// lookup (plus the revocation check).
func BearerSubject(v *kit.Verifier) func(*http.Request) (string, error) {
	toCtx := kit.HTTPToContext()
	return func(r *http.Request) (string, error) {
		c, err := v.Verify(r.Context(), kit.TokenFrom(toCtx(r.Context(), r)))
		if err != nil {
			return "", err
		}
		return c.Subject, nil
	}
}
