package idempotency

import (
	"bufio"
	"bytes"
	"errors"
	"net"
	"net/http"
	"strconv"
)

// capture is the ResponseWriter the handler writes to: it buffers the whole
// response, because nothing may reach the client before the transaction
// that produced it has committed.
type capture struct {
	real   http.ResponseWriter // the client's writer; only Unwrap reaches it
	header http.Header
	status int
	body   bytes.Buffer
}

// newCapture starts from a copy of w's headers, so the handler sees (and
// may override) what outer middleware set, as it would without us.
func newCapture(w http.ResponseWriter) *capture {
	return &capture{real: w, header: w.Header().Clone()}
}

func (c *capture) Header() http.Header { return c.header }

func (c *capture) WriteHeader(status int) {
	if c.status == 0 && status >= 200 { // 1xx are interim, not the answer
		c.status = status
	}
}

func (c *capture) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	return c.body.Write(b)
}

// Flush does nothing: the response is sent whole after the commit. It
// exists so http.ResponseController does not reach through Unwrap and
// flush the client's writer early.
func (c *capture) Flush() {}

// Hijack refuses: a hijacked connection's bytes could not be stored or
// held back until the commit.
func (c *capture) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return nil, nil, errors.New("idempotency: hijacking is not supported on an idempotent route")
}

// Unwrap lets httpx note a problem's code on the access-log recorder
// outside, and deadlines reach the connection.
func (c *capture) Unwrap() http.ResponseWriter { return c.real }

// result returns what the handler answered (200 with no body when it wrote
// nothing, as net/http would).
func (c *capture) result() stored {
	s := stored{Status: c.status, Header: http.Header{}, Body: c.body.Bytes()}
	if s.Status == 0 {
		s.Status = http.StatusOK
	}
	for _, k := range storedHeaders {
		if vs := c.header.Values(k); len(vs) > 0 {
			s.Header[k] = append([]string(nil), vs...)
		}
	}
	return s
}

// send writes the handler's own response to w: all the headers it left,
// its status and body.
func (c *capture) send(w http.ResponseWriter) {
	h := w.Header()
	for k := range h {
		if _, ok := c.header[k]; !ok {
			delete(h, k)
		}
	}
	for k, vs := range c.header {
		h[k] = vs
	}
	writeBody(w, c.result())
}

// replay writes a stored response to w, marked Idempotent-Replayed.
func replay(w http.ResponseWriter, s stored) {
	h := w.Header()
	for k, vs := range s.Header {
		h[k] = vs
	}
	h.Set(HeaderReplayed, "true")
	writeBody(w, s)
}

func writeBody(w http.ResponseWriter, s stored) {
	if s.Status != http.StatusNoContent && s.Status != http.StatusNotModified {
		w.Header().Set("Content-Length", strconv.Itoa(len(s.Body)))
	} else {
		w.Header().Del("Content-Length")
	}
	w.WriteHeader(s.Status)
	if len(s.Body) > 0 {
		_, _ = w.Write(s.Body) // the client may be gone; nothing is left to tell it
	}
}
