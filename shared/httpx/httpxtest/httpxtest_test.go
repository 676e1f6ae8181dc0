package httpxtest_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/go-kit/log"

	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/httpx"
	"github.com/azora-os/azora/shared/httpx/httpxtest"
)

// echo answers /fail with a not_found problem and anything else with what
// it received, behind the stack the services run.
func echo() http.Handler {
	logger := log.NewNopLogger()
	return httpx.Stack(logger, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/fail" {
			httpx.WriteError(w, r, logger, errs.New(errs.NotFound, "thing_not_found", "no such thing"))
			return
		}
		b, _ := io.ReadAll(r.Body)
		_ = httpx.WriteJSON(w, http.StatusOK, map[string]string{
			"method": r.Method, "path": r.URL.Path, "auth": r.Header.Get("Authorization"),
			"ctype": r.Header.Get("Content-Type"), "extra": r.Header.Get("X-Extra"), "body": string(b),
		})
	}))
}

func TestDo(t *testing.T) {
	srv := httptest.NewServer(echo())
	t.Cleanup(srv.Close)
	for _, target := range []struct {
		name string
		t    any
	}{{"handler", echo()}, {"server", srv}} {
		for _, tt := range []struct {
			name                string
			token, body         string
			headers             map[string]string
			wantAuth, wantCtype string
		}{
			{name: "bare"},
			{name: "token and JSON", token: "tok", body: `{"a":1}`, wantAuth: "Bearer tok", wantCtype: "application/json"},
			{name: "headers override", token: "tok", body: "x",
				headers:  map[string]string{"Authorization": "Basic zz", "Content-Type": "text/plain", "X-Extra": "yes"},
				wantAuth: "Basic zz", wantCtype: "text/plain"},
		} {
			t.Run(target.name+"/"+tt.name, func(t *testing.T) {
				r := httpxtest.Do(t, target.t, http.MethodPost, "/things/1?q=2", tt.token, tt.body, tt.headers)
				if r.Status != http.StatusOK {
					t.Fatalf("status: got %d, want 200 (body %s)", r.Status, r.Body)
				}
				want := []string{"auth", "body", "ctype", "extra", "method", "path"}
				if got := r.Keys(t); !slices.Equal(got, want) {
					t.Errorf("keys: got %v, want %v", got, want)
				}
				var got map[string]string
				r.Decode(t, &got)
				wantExtra := tt.headers["X-Extra"]
				if got["method"] != http.MethodPost || got["path"] != "/things/1" || got["auth"] != tt.wantAuth ||
					got["ctype"] != tt.wantCtype || got["body"] != tt.body || got["extra"] != wantExtra {
					t.Errorf("echo: got %v, want POST /things/1 auth %q ctype %q body %q extra %q",
						got, tt.wantAuth, tt.wantCtype, tt.body, wantExtra)
				}
			})
		}
		t.Run(target.name+"/problem", func(t *testing.T) {
			r := httpxtest.Do(t, target.t, http.MethodGet, "/fail", "", "", map[string]string{"X-Request-ID": "req-abc"})
			p := r.Problem(t, http.StatusNotFound, "thing_not_found")
			if p.RequestID != "req-abc" || p.Detail != "no such thing" {
				t.Errorf("problem: got request_id %q detail %q, want req-abc and the error's message", p.RequestID, p.Detail)
			}
		})
	}
}
