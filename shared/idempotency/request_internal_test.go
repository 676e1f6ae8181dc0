package idempotency

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestRequestHash(t *testing.T) {
	hash := func(method, target, body string) []byte {
		return requestHash(httptest.NewRequest(method, target, nil), []byte(body))
	}
	base := hash("POST", "/a/b", `{"x":1}`)
	if same := hash("POST", "/a/b", `{"x":1}`); !bytes.Equal(same, base) {
		t.Fatalf("same request: got %x, want %x", same, base)
	}
	tests := []struct {
		name                 string
		method, target, body string
	}{
		{"method", "PUT", "/a/b", `{"x":1}`},
		{"path", "POST", "/a/c", `{"x":1}`},
		{"query", "POST", "/a/b?x=1", `{"x":1}`},
		{"body", "POST", "/a/b", `{"x":2}`},
		{"body whitespace", "POST", "/a/b", `{"x": 1}`},
		{"path bytes moved into the body", "POST", "/a/", `b{"x":1}`},
		{"escaped path", "POST", "/a%2Fb", `{"x":1}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := hash(tt.method, tt.target, tt.body); bytes.Equal(got, base) {
				t.Errorf("got the base request's hash %x, want another", got)
			}
		})
	}
}

func TestCapture(t *testing.T) {
	real := httptest.NewRecorder()
	real.Header().Set("X-Request-ID", "r1")
	c := newCapture(real)
	if got := c.Header().Get("X-Request-ID"); got != "r1" {
		t.Errorf("inherited header: got %q, want r1", got)
	}
	c.WriteHeader(http.StatusEarlyHints) // interim: not the answer
	c.Header().Set("Content-Type", "text/plain")
	c.Header().Set("Location", "/x")
	c.Header().Set("X-Other", "o")
	c.Header().Del("X-Request-ID")
	c.WriteHeader(http.StatusAccepted)
	c.WriteHeader(http.StatusTeapot) // superfluous: ignored
	_, _ = c.Write([]byte("hello"))
	if err := http.NewResponseController(c).Flush(); err != nil {
		t.Errorf("Flush: got %v, want nil", err)
	}
	if _, _, err := http.NewResponseController(c).Hijack(); err == nil {
		t.Error("Hijack: got nil, want an error")
	}
	if real.Body.Len() != 0 || real.Code != http.StatusOK || real.Flushed {
		t.Fatalf("client's writer before send: got %d bytes, code %d, flushed %v; want it untouched", real.Body.Len(), real.Code, real.Flushed)
	}
	res := c.result()
	if res.Status != http.StatusAccepted || string(res.Body) != "hello" {
		t.Errorf("result: got %d %q, want 202 hello", res.Status, res.Body)
	}
	if len(res.Header) != 2 || res.Header.Get("Content-Type") != "text/plain" || res.Header.Get("Location") != "/x" {
		t.Errorf("stored headers: got %v, want Content-Type and Location only", res.Header)
	}
	c.send(real)
	if real.Code != http.StatusAccepted || real.Body.String() != "hello" {
		t.Errorf("sent: got %d %q, want 202 hello", real.Code, real.Body.String())
	}
	if got := real.Header().Get("X-Request-ID"); got != "" {
		t.Errorf("sent X-Request-ID: got %q, want it deleted as the handler did", got)
	}
	if got := real.Header().Get("X-Other"); got != "o" {
		t.Errorf("sent X-Other: got %q, want o", got)
	}
	if got := real.Header().Get("Content-Length"); got != "5" {
		t.Errorf("sent Content-Length: got %q, want 5", got)
	}
}

func TestCaptureWithoutWrite(t *testing.T) {
	if res := newCapture(httptest.NewRecorder()).result(); res.Status != http.StatusOK || len(res.Body) != 0 {
		t.Errorf("result of a silent handler: got %d %q, want 200 and no body", res.Status, res.Body)
	}
}
