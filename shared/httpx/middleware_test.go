package httpx_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-kit/log"
	"github.com/google/uuid"

	"github.com/azora-os/azora/shared/httpx"
)

func TestPanicIsA500AndServerKeepsServing(t *testing.T) {
	srv, logs := newServer(t)
	resp, body := do(t, newRequest(t, http.MethodGet, srv.URL+"/v1/panic", nil))
	if resp.StatusCode != 500 {
		t.Fatalf("status: got %d, want 500", resp.StatusCode)
	}
	if p := problem(t, resp, body); p.Code != "internal" || strings.Contains(string(body), "boom") {
		t.Errorf("problem: got code %q body %s, want internal without the panic value", p.Code, body)
	}
	panics := logs.lines(t, "panic serving request")
	if len(panics) != 1 || panics[0]["panic"] != "boom" || !strings.Contains(panics[0]["stack"].(string), "goroutine") {
		t.Errorf("panic log: got %v, want one line with the value and a stack", panics)
	}
	if access := logs.lines(t, "request"); len(access) != 1 || access[0]["status"] != 500.0 || access[0]["level"] != "error" {
		t.Errorf("access log: got %v, want one error line with status 500", access)
	}
	resp, _ = do(t, newRequest(t, http.MethodGet, srv.URL+"/v1/ok", nil))
	if resp.StatusCode != 200 {
		t.Errorf("after the panic: got %d, want 200", resp.StatusCode)
	}
}

func TestAbortHandlerPanicAbortsTheResponse(t *testing.T) {
	srv, logs := newServer(t)
	resp, err := http.Get(srv.URL + "/v1/abort")
	if err == nil {
		resp.Body.Close()
		t.Fatalf("got status %d, want the connection aborted", resp.StatusCode)
	}
	if !errors.Is(err, io.EOF) {
		t.Errorf("got %v, want io.EOF (the server closed the connection)", err)
	}
	if n := len(logs.lines(t, "panic serving request")); n != 0 {
		t.Errorf("got %d panic lines for http.ErrAbortHandler, want 0", n)
	}
}

func TestRequestID(t *testing.T) {
	srv, _ := newServer(t)
	tests := []struct {
		name, sent string
		echoed     bool
	}{
		{"uuid", "0190a6b4-3c1e-7d2a-9f00-123456789abc", true},
		{"printable token", "abc-123_XYZ.~!@#", true},
		{"one char", "x", true},
		{"128 chars", strings.Repeat("a", 128), true},
		{"129 chars", strings.Repeat("a", 129), false},
		{"with a space", "abc def", false},
		{"with a tab", "abc\tdef", false},
		{"non-ascii", "réq", false},
		{"absent", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := newRequest(t, http.MethodGet, srv.URL+"/v1/ok", nil)
			if tt.sent != "" {
				req.Header.Set("X-Request-ID", tt.sent)
			}
			resp, _ := do(t, req)
			got := resp.Header.Get("X-Request-ID")
			if tt.echoed {
				if got != tt.sent {
					t.Errorf("X-Request-ID: got %q, want the client's %q", got, tt.sent)
				}
				return
			}
			u, err := uuid.Parse(got)
			if err != nil || u.Version() != 7 {
				t.Errorf("X-Request-ID: got %q, want a new UUIDv7 in place of %q", got, tt.sent)
			}
		})
	}
}

func TestSecurityHeaders(t *testing.T) {
	srv, _ := newServer(t)
	want := map[string]string{
		"X-Content-Type-Options":       "nosniff",
		"X-Frame-Options":              "DENY",
		"Referrer-Policy":              "no-referrer",
		"Content-Security-Policy":      "default-src 'none'; frame-ancestors 'none'",
		"Cache-Control":                "no-store",
		"Cross-Origin-Resource-Policy": "same-origin",
	}
	for _, path := range []string{"/v1/ok", "/v1/errors/conflict?code=c", "/v1/nowhere", "/v1/panic"} {
		t.Run(path, func(t *testing.T) {
			resp, _ := do(t, newRequest(t, http.MethodGet, srv.URL+path, nil))
			for k, v := range want {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("%s: got %q, want %q", k, got, v)
				}
			}
		})
	}
}

// TestStackHeadersAreCanonicalAndIndependent checks what the stack's
// headers look like to a handler: stored under their canonical keys, as
// Header.Set would store them (a handler's Set or Del replaces them), one
// value each, and each its own slice, so a handler adding a value to one
// neither changes another nor another response's.
func TestStackHeadersAreCanonicalAndIndependent(t *testing.T) {
	keys := []string{"X-Request-Id", "X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy",
		"Content-Security-Policy", "Cache-Control", "Cross-Origin-Resource-Policy"}
	h := httpx.Stack(log.NewNopLogger(), http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		for _, k := range keys {
			if k != http.CanonicalHeaderKey(k) {
				t.Fatalf("test key %q is not canonical", k)
			}
			if v := w.Header()[k]; len(v) != 1 || v[0] == "" {
				t.Errorf("handler sees %s = %q under its canonical key, want one value", k, v)
			}
		}
		w.Header().Add("X-Content-Type-Options", "added")
		w.Header().Add("Cache-Control", "private")
		w.WriteHeader(http.StatusNoContent)
	}))
	for i := range 2 {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/ok", nil))
		got := rec.Header()
		if v := got["X-Content-Type-Options"]; len(v) != 2 || v[0] != "nosniff" || v[1] != "added" {
			t.Errorf("response %d: X-Content-Type-Options = %q, want [nosniff added]", i, v)
		}
		if v := got["X-Frame-Options"]; len(v) != 1 || v[0] != "DENY" {
			t.Errorf("response %d: X-Frame-Options = %q, want [DENY] (the Add beside it must not touch it)", i, v)
		}
		if v := got["Referrer-Policy"]; len(v) != 1 || v[0] != "no-referrer" {
			t.Errorf("response %d: Referrer-Policy = %q, want [no-referrer] (the Add beside it must not touch it)", i, v)
		}
		if v := got["Cache-Control"]; len(v) != 2 || v[0] != "no-store" || v[1] != "private" {
			t.Errorf("response %d: Cache-Control = %q, want [no-store private]", i, v)
		}
	}
}

func TestAccessLogOncePerRequestWithoutSecrets(t *testing.T) {
	srv, logs := newServer(t)
	req := newRequest(t, http.MethodPost, srv.URL+"/v1/things?token=querysecret", strings.NewReader(`{"name":"bodysecret"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer headersecret")
	req.Header.Set("X-Request-ID", "access-1")
	resp, body := do(t, req)
	if resp.StatusCode != 201 {
		t.Fatalf("status: got %d, want 201", resp.StatusCode)
	}
	lines := logs.lines(t, "request")
	if len(lines) != 1 {
		t.Fatalf("got %d access lines, want 1: %s", len(lines), logs)
	}
	l := lines[0]
	want := map[string]any{"method": "POST", "path": "/v1/things", "status": 201.0, "bytes": float64(len(body)),
		"request_id": "access-1", "level": "info"}
	for k, v := range want {
		if l[k] != v {
			t.Errorf("%s: got %v, want %v", k, l[k], v)
		}
	}
	for _, k := range []string{"duration_ms", "remote"} {
		if _, ok := l[k]; !ok {
			t.Errorf("%s: missing from %v", k, l)
		}
	}
	for _, secret := range []string{"querysecret", "bodysecret", "headersecret"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the log contains %q: %s", secret, logs)
		}
	}
}

func TestUnmatchedRoutes(t *testing.T) {
	srv, _ := newServer(t)
	tests := []struct {
		name, method, path string
		status             int
		code, allow        string
	}{
		{"no route", http.MethodGet, "/v1/nowhere", 404, "not_found", ""},
		{"wrong method", http.MethodDelete, "/v1/things", 405, "method_not_allowed", "POST"},
		{"wrong method on a GET route", http.MethodPut, "/v1/ok", 405, "method_not_allowed", "GET"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := do(t, newRequest(t, tt.method, srv.URL+tt.path, nil))
			if resp.StatusCode != tt.status {
				t.Fatalf("status: got %d, want %d", resp.StatusCode, tt.status)
			}
			if p := problem(t, resp, body); p.Code != tt.code {
				t.Errorf("code: got %q, want %q", p.Code, tt.code)
			}
			if got := resp.Header.Get("Allow"); got != tt.allow {
				t.Errorf("Allow: got %q, want %q", got, tt.allow)
			}
		})
	}
}

// TestBodyLimitAlone checks BodyLimit without DecodeJSON's own backstop: a
// declared length over the limit never reaches the handler, and a chunked
// body fails in the handler's read at byte n+1.
func TestBodyLimitAlone(t *testing.T) {
	const n = 10
	tests := []struct {
		name      string
		size      int
		chunked   bool
		status    int
		reachedOK bool // the handler ran and read the whole body
	}{
		{"declared over", n + 1, false, 413, false},
		{"chunked over", n + 1, true, 413, false},
		{"chunked at the limit", n, true, 204, true},
		{"declared at the limit", n, false, 204, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reached := false
			h := httpx.BodyLimit(n)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if _, err := io.ReadAll(r.Body); err != nil {
					var mbe *http.MaxBytesError
					if !errors.As(err, &mbe) {
						t.Errorf("read: got %v, want *http.MaxBytesError", err)
					}
					w.WriteHeader(http.StatusRequestEntityTooLarge)
					return
				}
				reached = true
				w.WriteHeader(http.StatusNoContent)
			}))
			srv := httptest.NewServer(h)
			defer srv.Close()
			var body io.Reader = strings.NewReader(strings.Repeat("x", tt.size))
			if tt.chunked {
				body = io.MultiReader(body)
			}
			req := newRequest(t, http.MethodPost, srv.URL, body)
			if tt.chunked {
				req.ContentLength = -1
			}
			resp, _ := do(t, req)
			if resp.StatusCode != tt.status || reached != tt.reachedOK {
				t.Errorf("got %d (handler read all: %v), want %d (%v)", resp.StatusCode, reached, tt.status, tt.reachedOK)
			}
		})
	}
}
