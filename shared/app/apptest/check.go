package apptest

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// CheckOperational asserts what every service serves: /healthz 200,
// /readyz 200 with each named check "ok", /metrics in Prometheus text
// format, and an unknown path as a 404 problem carrying the request id.
func CheckOperational(t *testing.T, base string, checks ...string) {
	t.Helper()
	t.Run("healthz", func(t *testing.T) {
		if code, _ := get(t, base+"/healthz", nil); code != http.StatusOK {
			t.Errorf("got %d, want 200", code)
		}
	})
	t.Run("readyz", func(t *testing.T) {
		code, body := get(t, base+"/readyz", nil)
		if code != http.StatusOK {
			t.Fatalf("got %d %s, want 200", code, body)
		}
		var got struct{ Checks map[string]string }
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatalf("readyz body %s: %v", body, err)
		}
		for _, c := range checks {
			if got.Checks[c] != "ok" {
				t.Errorf("check %s: got %q, want ok (body %s)", c, got.Checks[c], body)
			}
		}
	})
	t.Run("metrics", func(t *testing.T) {
		code, body := get(t, base+"/metrics", nil)
		if code != http.StatusOK || !strings.Contains(string(body), "go_goroutines") {
			t.Errorf("got %d, want 200 with go_goroutines; body starts %.200s", code, body)
		}
	})
	t.Run("unknown path is a problem", func(t *testing.T) {
		code, body := get(t, base+"/api/v1/nope", map[string]string{"X-Request-ID": "apptest-1"})
		var p struct {
			Status    int    `json:"status"`
			Code      string `json:"code"`
			RequestID string `json:"request_id"`
		}
		if err := json.Unmarshal(body, &p); err != nil {
			t.Fatalf("body %s: %v", body, err)
		}
		if code != http.StatusNotFound || p.Code != "not_found" || p.RequestID != "apptest-1" {
			t.Errorf("got %d %+v, want 404 not_found with request_id apptest-1", code, p)
		}
	})
}

func get(t *testing.T, url string, headers map[string]string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}
