package httpx_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/httpx"
)

func TestEveryKindMapsToItsStatus(t *testing.T) {
	srv, _ := newServer(t)
	tests := []struct {
		kind   errs.Kind
		status int
	}{
		{errs.Invalid, 400},
		{errs.Unauthenticated, 401},
		{errs.Forbidden, 403},
		{errs.NotFound, 404},
		{errs.Conflict, 409},
		{errs.TooLarge, 413},
		{errs.UnsupportedMedia, 415},
		{errs.FailedPrecondition, 422},
		{errs.RateLimited, 429},
		{errs.Internal, 500},
		{errs.Unavailable, 503},
	}
	for _, tt := range tests {
		t.Run(string(tt.kind), func(t *testing.T) {
			if got := httpx.Status(tt.kind); got != tt.status {
				t.Errorf("Status(%s): got %d, want %d", tt.kind, got, tt.status)
			}
			code := "some_" + string(tt.kind)
			resp, body := do(t, newRequest(t, http.MethodGet, srv.URL+"/v1/errors/"+string(tt.kind)+"?code="+code, nil))
			if resp.StatusCode != tt.status {
				t.Fatalf("status: got %d, want %d (body %s)", resp.StatusCode, tt.status, body)
			}
			p := problem(t, resp, body)
			wantCode, wantDetail := code, "detail for "+code
			if tt.kind == errs.Internal {
				wantCode, wantDetail = "internal", p.Detail // detail is checked by the internal test
			}
			if p.Code != wantCode || p.Detail != wantDetail {
				t.Errorf("code, detail: got %q, %q; want %q, %q", p.Code, p.Detail, wantCode, wantDetail)
			}
		})
	}
	t.Run("unknown kind is internal", func(t *testing.T) {
		if got := httpx.Status("made_up"); got != 500 {
			t.Errorf("Status(made_up): got %d, want 500", got)
		}
	})
}

func TestUnauthenticatedCarriesBearerChallenge(t *testing.T) {
	srv, _ := newServer(t)
	tests := []struct{ code, want string }{
		{"missing_token", "Bearer"},
		{"token_expired", `Bearer error="invalid_token"`},
		{"invalid_token", `Bearer error="invalid_token"`},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			resp, body := do(t, newRequest(t, http.MethodGet, srv.URL+"/v1/errors/unauthenticated?code="+tt.code, nil))
			problem(t, resp, body)
			if got := resp.Header.Get("WWW-Authenticate"); got != tt.want {
				t.Errorf("WWW-Authenticate: got %q, want %q", got, tt.want)
			}
		})
	}
	t.Run("403 has no challenge", func(t *testing.T) {
		resp, _ := do(t, newRequest(t, http.MethodGet, srv.URL+"/v1/errors/forbidden?code=not_owner", nil))
		if got := resp.Header.Get("WWW-Authenticate"); got != "" {
			t.Errorf("WWW-Authenticate on 403: got %q, want none", got)
		}
	})
}

func TestRetryAfterFromError(t *testing.T) {
	srv, _ := newServer(t)
	tests := []struct{ after, want string }{
		{"1500ms", "2"},
		{"3s", "3"},
		{"10ms", "1"},
		{"0s", "1"},
	}
	for _, tt := range tests {
		t.Run(tt.after, func(t *testing.T) {
			resp, body := do(t, newRequest(t, http.MethodGet, srv.URL+"/v1/retry?after="+tt.after, nil))
			if resp.StatusCode != http.StatusTooManyRequests {
				t.Fatalf("status: got %d, want 429", resp.StatusCode)
			}
			if p := problem(t, resp, body); p.Code != "too_many_requests" {
				t.Errorf("code: got %q, want too_many_requests", p.Code)
			}
			if got := resp.Header.Get("Retry-After"); got != tt.want {
				t.Errorf("Retry-After: got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestInternalErrorIsGenericAndLogged(t *testing.T) {
	srv, logs := newServer(t)
	resp, body := do(t, newRequest(t, http.MethodGet, srv.URL+"/v1/errors/internal", nil))
	if resp.StatusCode != 500 {
		t.Fatalf("status: got %d, want 500", resp.StatusCode)
	}
	p := problem(t, resp, body)
	if strings.Contains(string(body), "hunter2") || strings.Contains(string(body), "load wallet") {
		t.Errorf("body leaks the cause: %s", body)
	}
	if p.Code != "internal" || p.Detail == "" {
		t.Errorf("code, detail: got %q, %q; want internal and a generic sentence", p.Code, p.Detail)
	}
	lines := logs.lines(t, "request failed")
	if len(lines) != 1 {
		t.Fatalf("got %d 'request failed' lines, want 1: %s", len(lines), logs)
	}
	l := lines[0]
	if l["level"] != "error" || l["request_id"] != p.RequestID || !strings.Contains(l["err"].(string), "load wallet: dial tcp") {
		t.Errorf("log line: got %v; want level error, request_id %q, the whole chain in err", l, p.RequestID)
	}
}

func TestClientErrorsAreNotLoggedAsFaults(t *testing.T) {
	srv, logs := newServer(t)
	resp, _ := do(t, newRequest(t, http.MethodGet, srv.URL+"/v1/errors/conflict?code=email_taken", nil))
	if resp.StatusCode != 409 {
		t.Fatalf("status: got %d, want 409", resp.StatusCode)
	}
	if n := len(logs.lines(t, "request failed")); n != 0 {
		t.Errorf("got %d fault lines for a 409, want 0", n)
	}
	access := logs.lines(t, "request")
	if len(access) != 1 || access[0]["code"] != "email_taken" || access[0]["level"] != "info" {
		t.Errorf("access log: got %v, want one info line with code email_taken", access)
	}
}

func TestValidationListsFields(t *testing.T) {
	srv, _ := newServer(t)
	resp, body := do(t, newRequest(t, http.MethodGet, srv.URL+"/v1/validation", nil))
	if resp.StatusCode != 400 {
		t.Fatalf("status: got %d, want 400", resp.StatusCode)
	}
	p := problem(t, resp, body)
	if p.Code != "validation_failed" || len(p.Errors) != 1 || p.Errors[0].Field != "email" || p.Errors[0].Message == "" {
		t.Errorf("got code %q errors %+v, want validation_failed naming email", p.Code, p.Errors)
	}
}
