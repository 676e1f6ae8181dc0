package httpx_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-kit/log"

	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/httpx"
)

// TestErrorFromResponseRoundTrip sends problems through a real server and
// reads them back: kind, code and fields survive the hop.
func TestErrorFromResponseRoundTrip(t *testing.T) {
	srv, _ := newServer(t)
	tests := []struct {
		name, path string
		kind       errs.Kind
		code       string
		retry      time.Duration
	}{
		{"conflict", "/v1/errors/conflict?code=email_taken", errs.Conflict, "email_taken", 0},
		{"precondition", "/v1/errors/failed_precondition?code=currency_mismatch", errs.FailedPrecondition, "currency_mismatch", 0},
		{"validation", "/v1/validation", errs.Invalid, "validation_failed", 0},
		{"internal", "/v1/errors/internal", errs.Internal, "internal", 0},
		{"rate limited", "/v1/retry?after=2s", errs.RateLimited, "too_many_requests", 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := http.Get(srv.URL + tt.path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			got := httpx.ErrorFromResponse(resp)
			e := errs.As(got)
			if e.Kind != tt.kind || e.Code != tt.code {
				t.Errorf("got kind %q code %q, want %q %q (%v)", e.Kind, e.Code, tt.kind, tt.code, got)
			}
			if !errors.Is(got, errs.New(tt.kind, tt.code, "")) {
				t.Errorf("errors.Is by code %q: got false", tt.code)
			}
			var ra interface{ RetryAfter() time.Duration }
			if errors.As(got, &ra) != (tt.retry > 0) || (tt.retry > 0 && ra.RetryAfter() != tt.retry) {
				t.Errorf("RetryAfter: got %v, want %v", ra, tt.retry)
			}
		})
	}
	t.Run("not a problem body", func(t *testing.T) {
		bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "<html>bad gateway</html>", http.StatusBadGateway)
		}))
		defer bad.Close()
		resp, err := http.Get(bad.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		e := errs.As(httpx.ErrorFromResponse(resp))
		if e.Kind != errs.Unavailable || e.Code != "upstream_502" {
			t.Errorf("got kind %q code %q, want unavailable upstream_502", e.Kind, e.Code)
		}
	})
	t.Run("success is nil", func(t *testing.T) {
		resp, err := http.Get(srv.URL + "/v1/ok")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if err := httpx.ErrorFromResponse(resp); err != nil {
			t.Errorf("got %v, want nil", err)
		}
	})
}

type created struct{ ID string }

func (created) StatusCode() int { return http.StatusAccepted }
func (created) Headers() http.Header {
	return http.Header{"Location": []string{"/v1/things/1"}}
}

func TestEncodeJSON(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		response any
		want     int
		body     string
		location string
	}{
		{"plain", 201, map[string]int{"a": 1}, 201, "{\"a\":1}\n", ""},
		{"status coder and headerer", 201, created{ID: "x"}, 202, "{\"ID\":\"x\"}\n", "/v1/things/1"},
		{"no content", 204, nil, 204, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			if err := httpx.EncodeJSON(tt.status)(context.Background(), w, tt.response); err != nil {
				t.Fatal(err)
			}
			if w.Code != tt.want || w.Body.String() != tt.body || w.Header().Get("Location") != tt.location {
				t.Errorf("got %d %q Location %q, want %d %q %q", w.Code, w.Body, w.Header().Get("Location"), tt.want, tt.body, tt.location)
			}
		})
	}
	t.Run("unmarshallable is internal and writes nothing", func(t *testing.T) {
		w := httptest.NewRecorder()
		err := httpx.EncodeJSON(200)(context.Background(), w, map[string]any{"f": func() {}})
		if errs.KindOf(err) != errs.Internal || w.Body.Len() != 0 || w.Header().Get("Content-Type") != "" {
			t.Errorf("got err %v body %q, want an internal error and nothing written", err, w.Body)
		}
	})
}

func TestWriteErrorWithoutStack(t *testing.T) {
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	httpx.WriteError(w, r, log.NewNopLogger(), errors.New("plain error"))
	if w.Code != 500 || !strings.Contains(w.Body.String(), `"code":"internal"`) {
		t.Errorf("got %d %s, want a 500 internal problem for an unclassified error", w.Code, w.Body)
	}
}
