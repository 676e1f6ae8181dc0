package httpx_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/httpx"
)

func TestDecodeJSONErrors(t *testing.T) {
	srv, _ := newServer(t)
	tests := []struct {
		name        string
		contentType string
		body        string
		status      int
		code        string
		field       string // the field the problem must name, if any
		detail      string // a fragment the detail must contain
	}{
		{"unknown field", "application/json", `{"name":"a","nmae":"b"}`, 400, "unknown_field", "nmae", `"nmae"`},
		{"duplicate key top level", "application/json", `{"name":"a","amount":1,"name":"b"}`, 400, "duplicate_field", "name", `"name"`},
		{"duplicate key nested", "application/json", `{"nested":{"count":1,"count":2}}`, 400, "duplicate_field", "nested.count", `"nested.count"`},
		{"duplicate key in array element", "application/json", `{"items":[{"id":"a"},{"id":"b","id":"c"}]}`, 400, "duplicate_field", "items[1].id", `"items[1].id"`},
		{"duplicate key by escape", "application/json", `{"name":"a","n\u0061me":"b"}`, 400, "duplicate_field", "name", ""},
		{"duplicate key in a large object", "application/json", `{` + manyKeys(40) + `,"k7":0}`, 400, "duplicate_field", "k7", ""},
		{"duplicate key by case", "application/json", `{"amount":1,"AMOUNT":2}`, 400, "duplicate_field", "AMOUNT", ""},
		{"trailing value", "application/json", `{"name":"a"} {"name":"b"}`, 400, "malformed_json", "", "after the JSON value"},
		{"trailing garbage", "application/json", `{"name":"a"}x`, 400, "malformed_json", "", "after the JSON value"},
		{"malformed json", "application/json", `{"name":"a",}`, 400, "malformed_json", "", "offset 12"},
		{"truncated json", "application/json", `{"name":"a"`, 400, "malformed_json", "", "unexpected end"},
		{"empty body", "application/json", ``, 400, "malformed_json", "", "empty"},
		{"whitespace body", "application/json", " \n\t", 400, "malformed_json", "", "empty"},
		{"wrong type", "application/json", `{"amount":"12"}`, 400, "validation_failed", "amount", ""},
		{"wrong type nested", "application/json", `{"nested":{"count":true}}`, 400, "validation_failed", "nested.count", ""},
		{"number overflows", "application/json", `{"amount":1e400}`, 400, "validation_failed", "amount", ""},
		{"wrong content type", "text/plain", `{"name":"a"}`, 415, "unsupported_media_type", "", "text/plain"},
		{"no content type", "", `{"name":"a"}`, 415, "unsupported_media_type", "", ""},
		{"form content type", "application/x-www-form-urlencoded", `name=a`, 415, "unsupported_media_type", "", ""},
		{"non utf-8 charset", "application/json; charset=latin1", `{"name":"a"}`, 415, "unsupported_media_type", "", "latin1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := newRequest(t, http.MethodPost, srv.URL+"/v1/things", strings.NewReader(tt.body))
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			req.Header.Set("X-Request-ID", "req-"+strings.ReplaceAll(tt.name, " ", "-"))
			resp, body := do(t, req)
			if resp.StatusCode != tt.status {
				t.Fatalf("status: got %d, want %d (body %s)", resp.StatusCode, tt.status, body)
			}
			p := problem(t, resp, body)
			if p.RequestID != req.Header.Get("X-Request-ID") {
				t.Errorf("request_id: got %q, want the client's %q", p.RequestID, req.Header.Get("X-Request-ID"))
			}
			if p.Code != tt.code {
				t.Errorf("code: got %q, want %q (detail %q)", p.Code, tt.code, p.Detail)
			}
			if tt.field != "" && (len(p.Errors) != 1 || p.Errors[0].Field != tt.field) {
				t.Errorf("errors: got %+v, want one naming %q", p.Errors, tt.field)
			}
			if !strings.Contains(p.Detail, tt.detail) {
				t.Errorf("detail: got %q, want it to contain %q", p.Detail, tt.detail)
			}
		})
	}
}

func TestDecodeJSONAccepts(t *testing.T) {
	srv, _ := newServer(t)
	tests := []struct{ name, contentType, body string }{
		{"plain", "application/json", `{"name":"a","amount":5}`},
		{"charset utf-8", "application/json; charset=UTF-8", `{"name":"a"}`},
		{"vendor +json", "application/merge-patch+json", `{"name":"a"}`},
		{"same key in sibling objects", "application/json", `{"items":[{"id":"a"},{"id":"b"}],"nested":{"count":1}}`},
		{"surrounding whitespace", "application/json", "\n {\"name\":\"a\"} \n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := newRequest(t, http.MethodPost, srv.URL+"/v1/things", strings.NewReader(tt.body))
			req.Header.Set("Content-Type", tt.contentType)
			resp, body := do(t, req)
			if resp.StatusCode != http.StatusCreated {
				t.Errorf("status: got %d, want 201 (body %s)", resp.StatusCode, body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
				t.Errorf("Content-Type: got %q, want application/json; charset=utf-8", ct)
			}
		})
	}
}

// body returns valid JSON of exactly n bytes: {"name":"xxx…"}.
func jsonOfSize(n int) []byte {
	const head, tail = `{"name":"`, `"}`
	return []byte(head + strings.Repeat("x", n-len(head)-len(tail)) + tail)
}

func TestBodyLimit(t *testing.T) {
	srv, _ := newServer(t)
	tests := []struct {
		name    string
		size    int
		chunked bool
		status  int
	}{
		{"over the limit with Content-Length", httpx.MaxBodyBytes + 1, false, 413},
		{"over the limit chunked", httpx.MaxBodyBytes + 1, true, 413},
		{"exactly the limit with Content-Length", httpx.MaxBodyBytes, false, 201},
		{"exactly the limit chunked", httpx.MaxBodyBytes, true, 201},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			payload := jsonOfSize(tt.size)
			if len(payload) != tt.size {
				t.Fatalf("payload: got %d bytes, want %d", len(payload), tt.size)
			}
			var body io.Reader = bytes.NewReader(payload)
			if tt.chunked {
				body = io.MultiReader(body) // hides the length from NewRequest
			}
			req := newRequest(t, http.MethodPost, srv.URL+"/v1/things", body)
			req.Header.Set("Content-Type", "application/json")
			if tt.chunked {
				req.ContentLength = -1
				req.TransferEncoding = []string{"chunked"}
			} else if req.ContentLength != int64(tt.size) {
				t.Fatalf("ContentLength: got %d, want %d", req.ContentLength, tt.size)
			}
			resp, got := do(t, req)
			if resp.StatusCode != tt.status {
				t.Fatalf("status: got %d, want %d (body %.200s)", resp.StatusCode, tt.status, got)
			}
			if tt.status == 413 {
				if p := problem(t, resp, got); p.Code != "payload_too_large" {
					t.Errorf("code: got %q, want payload_too_large", p.Code)
				}
			}
		})
	}
}

// TestDecodeJSONWithoutStack checks DecodeJSON's own backstop: a handler
// mounted without BodyLimit still refuses to buffer more than MaxBodyBytes.
func TestDecodeJSONWithoutStack(t *testing.T) {
	req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(jsonOfSize(httpx.MaxBodyBytes+10)))
	req.Header.Set("Content-Type", "application/json")
	var v thing
	err := httpx.DecodeJSON(req, &v)
	if !errors.Is(err, httpx.ErrPayloadTooLarge) || errs.KindOf(err) != errs.TooLarge {
		t.Errorf("got %v, want payload_too_large", err)
	}
}

func TestDecodeJSONNonPointerIsInternal(t *testing.T) {
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"name":"a"}`))
	req.Header.Set("Content-Type", "application/json")
	var v thing
	if err := httpx.DecodeJSON(req, v); errs.KindOf(err) != errs.Internal {
		t.Errorf("got %v, want an internal error (a programming mistake, not the client's)", err)
	}
}

// manyKeys returns n distinct members "k0":0,… so an object passes the
// small-object linear scan and its duplicates are found by the map.
func manyKeys(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = `"k` + strconv.Itoa(i) + `":0`
	}
	return strings.Join(parts, ",")
}
