package httpx_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-kit/kit/endpoint"
	httptransport "github.com/go-kit/kit/transport/http"
	"github.com/gorilla/mux"

	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/httpx"
	"github.com/azora-os/azora/shared/logging"
)

// logBuffer collects JSON log lines written by the server under test.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// lines returns the parsed log lines whose msg is msg.
func (l *logBuffer) lines(t *testing.T, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, s := range strings.Split(strings.TrimSpace(l.String()), "\n") {
		if s == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			t.Fatalf("log line %q is not JSON: %v", s, err)
		}
		if m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// thing is the body the decode route accepts.
type thing struct {
	Name   string `json:"name"`
	Amount int64  `json:"amount"`
	Nested struct {
		Count int `json:"count"`
	} `json:"nested"`
	Items []struct {
		ID string `json:"id"`
	} `json:"items"`
}

// retryErr is an error that knows when to retry, wrapping a domain error.
type retryErr struct{ after time.Duration }

func (e retryErr) Error() string             { return "slow down" }
func (e retryErr) Unwrap() error             { return errs.New(errs.RateLimited, "too_many_requests", "slow down") }
func (e retryErr) RetryAfter() time.Duration { return e.after }

// newServer starts the real Stack around a router with one route per
// behaviour under test, go-kit and plain net/http alike.
func newServer(t testing.TB) (*httptest.Server, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	logger, err := logging.New(logs, "json", "debug")
	if err != nil {
		t.Fatal(err)
	}
	r := mux.NewRouter()
	httpx.HandleUnmatched(r, logger)

	r.HandleFunc("/v1/things", func(w http.ResponseWriter, req *http.Request) {
		var v thing
		if err := httpx.DecodeJSON(req, &v); err != nil {
			httpx.WriteError(w, req, logger, err)
			return
		}
		_ = httpx.WriteJSON(w, http.StatusCreated, map[string]any{"name_len": len(v.Name), "amount": v.Amount})
	}).Methods(http.MethodPost)

	r.Handle("/v1/errors/{kind}", httptransport.NewServer(
		func(_ context.Context, _ any) (any, error) { return nil, nil },
		func(_ context.Context, req *http.Request) (any, error) {
			kind := errs.Kind(mux.Vars(req)["kind"])
			code := req.URL.Query().Get("code")
			if kind == errs.Internal {
				return nil, errs.Internalf(errors.New("dial tcp: password=hunter2 refused"), "load wallet")
			}
			return nil, fmt.Errorf("decorated: %w", errs.New(kind, code, "detail for "+code))
		},
		httpx.EncodeJSON(http.StatusOK),
		httpx.ServerOptions(logger)...,
	)).Methods(http.MethodGet)

	r.Handle("/v1/retry", httptransport.NewServer(
		func(_ context.Context, req any) (any, error) {
			d, _ := time.ParseDuration(req.(string))
			return nil, fmt.Errorf("limiter: %w", retryErr{after: d})
		},
		func(_ context.Context, req *http.Request) (any, error) { return req.URL.Query().Get("after"), nil },
		httpx.EncodeJSON(http.StatusOK),
		httpx.ServerOptions(logger)...,
	)).Methods(http.MethodGet)

	r.Handle("/v1/validation", httptransport.NewServer(
		endpoint.Nop,
		func(_ context.Context, _ *http.Request) (any, error) {
			return nil, errs.Validation(errs.FieldError{Field: "email", Message: "must be an email address"})
		},
		httpx.EncodeJSON(http.StatusOK),
		httpx.ServerOptions(logger)...,
	)).Methods(http.MethodGet)

	r.HandleFunc("/v1/ok", func(w http.ResponseWriter, _ *http.Request) {
		_ = httpx.WriteJSON(w, http.StatusOK, map[string]bool{"ok": true})
	}).Methods(http.MethodGet)
	r.HandleFunc("/v1/panic", func(http.ResponseWriter, *http.Request) { panic("boom") }).Methods(http.MethodGet)
	r.HandleFunc("/v1/abort", func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) }).Methods(http.MethodGet)

	srv := httptest.NewServer(httpx.Stack(logger, r))
	t.Cleanup(srv.Close)
	return srv, logs
}

// do sends req and returns the response with its body read.
func do(t *testing.T, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return resp, body
}

// problem parses a problem response and checks what every problem shares:
// its media type, type URI, and request_id equal to the X-Request-ID header.
func problem(t *testing.T, resp *http.Response, body []byte) httpx.Problem {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type: got %q, want application/problem+json", ct)
	}
	var p httpx.Problem
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("problem body %q: %v", body, err)
	}
	if p.Status != resp.StatusCode {
		t.Errorf("problem status: got %d, want the response's %d", p.Status, resp.StatusCode)
	}
	if want := "/problems/" + p.Code; p.Type != want {
		t.Errorf("type: got %q, want %q", p.Type, want)
	}
	if p.Title == "" {
		t.Error("title: got empty")
	}
	if rid := resp.Header.Get("X-Request-ID"); rid == "" || p.RequestID != rid {
		t.Errorf("request_id: got %q, want the X-Request-ID header %q", p.RequestID, rid)
	}
	return p
}

func newRequest(t testing.TB, method, url string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	return req
}
