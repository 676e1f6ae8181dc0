package httpclient

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/azora-os/azora/shared/errs"
)

func TestEncodeCall(t *testing.T) {
	tests := []struct {
		name, base      string
		call            Call
		wantURL         string
		wantBody, ctype string
		wantHeader      string
	}{
		{"segments escaped", "http://h:1", Call{Path: []string{"users", "a b/../c?d", "roles"}},
			"http://h:1/api/v1/users/a%20b%2F..%2Fc%3Fd/roles", "", "", ""},
		{"base path kept, trailing slash dropped", "http://h:1/prefix/", Call{Path: []string{"x"}},
			"http://h:1/prefix/api/v1/x", "", "", ""},
		{"rooted path", "http://h:1/prefix", Call{Rooted: "/.well-known/keys.json"},
			"http://h:1/prefix/.well-known/keys.json", "", "", ""},
		{"query", "http://h:1", Call{Path: []string{"x"}, Query: url.Values{"limit": {"5"}, "cursor": {"a+b"}}},
			"http://h:1/api/v1/x?cursor=a%2Bb&limit=5", "", "", ""},
		{"JSON body and header", "http://h:1", Call{Path: []string{"x"}, Body: map[string]int{"n": 1}, Header: http.Header{"Idempotency-Key": {"k1"}}},
			"http://h:1/api/v1/x", `{"n":1}`, "application/json", "k1"},
		{"own content type", "http://h:1", Call{Path: []string{"x"}, Body: map[string]any{"p": nil}, ContentType: "application/merge-patch+json"},
			"http://h:1/api/v1/x", `{"p":null}`, "application/merge-patch+json", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base, err := ParseInstance(tt.base)
			if err != nil {
				t.Fatalf("ParseInstance: %v", err)
			}
			enc := New("test", base, errTestUnreachable).EncodeCall(func(context.Context, any) (Call, error) { return tt.call, nil })
			r := httptest.NewRequest(http.MethodPost, tt.base, nil)
			r.Body, r.ContentLength = nil, 0
			if err := enc(context.Background(), r, nil); err != nil {
				t.Fatalf("encode: got error %v, want nil", err)
			}
			if got := r.URL.String(); got != tt.wantURL {
				t.Errorf("URL: got %q, want %q", got, tt.wantURL)
			}
			if got := r.Header.Get("Idempotency-Key"); got != tt.wantHeader {
				t.Errorf("Idempotency-Key: got %q, want %q", got, tt.wantHeader)
			}
			if got := r.Header.Get("Content-Type"); got != tt.ctype {
				t.Errorf("Content-Type: got %q, want %q", got, tt.ctype)
			}
			if tt.wantBody == "" {
				if r.Body != nil {
					t.Error("body: got one, want none")
				}
				return
			}
			for _, read := range []func() (io.ReadCloser, error){func() (io.ReadCloser, error) { return r.Body, nil }, r.GetBody} {
				rc, _ := read()
				b, _ := io.ReadAll(rc)
				if string(b) != tt.wantBody {
					t.Errorf("body: got %q, want %q", b, tt.wantBody)
				}
			}
			if r.ContentLength != int64(len(tt.wantBody)) {
				t.Errorf("ContentLength: got %d, want %d", r.ContentLength, len(tt.wantBody))
			}
		})
	}
}

func TestEncodeErrors(t *testing.T) {
	base, _ := ParseInstance("h:1")
	c := New("test", base, errTestUnreachable)
	refused := errs.New(errs.NotFound, "thing_not_found", "no such thing")
	r := httptest.NewRequest(http.MethodPost, "http://h:1", nil)
	if err := c.EncodeCall(func(context.Context, any) (Call, error) { return Call{}, refused })(context.Background(), r, nil); !errors.Is(err, refused) {
		t.Errorf("builder error: got %v, want it unchanged", err)
	}
	if err := c.EncodeJSON(context.Background(), r, func() {}); errs.KindOf(err) != errs.Internal || !strings.Contains(err.Error(), "test client: marshal") {
		t.Errorf("unmarshallable body: got %v, want an internal test client error", err)
	}
}

func TestDecodeJSON(t *testing.T) {
	type thing struct{ N int }
	tests := []struct {
		name       string
		status     int
		header     http.Header
		body       string
		want       thing
		wantCode   string
		wantKind   errs.Kind
		retryAfter time.Duration
	}{
		{"success", 200, nil, `{"N":7}`, thing{N: 7}, "", errs.Internal, 0},
		{"problem", 409, http.Header{"Content-Type": {"application/problem+json"}},
			`{"status":409,"code":"already_there","detail":"it exists"}`, thing{}, "already_there", errs.Conflict, 0},
		{"rate limited keeps Retry-After", 429, http.Header{"Retry-After": {"3"}},
			`{"status":429,"code":"rate_limited","detail":"slow down"}`, thing{}, "rate_limited", errs.RateLimited, 3 * time.Second},
		{"not a problem body", 503, nil, `<html>`, thing{}, "upstream_503", errs.Unavailable, 0},
		{"unfollowed redirect", 302, http.Header{"Location": {"http://elsewhere"}}, ``, thing{}, "internal", errs.Internal, 0},
		{"not JSON", 200, nil, `nope`, thing{}, "internal", errs.Internal, 0},
		{"over the limit", 200, nil, `{"N":7,"pad":"` + strings.Repeat("x", 100) + `"}`, thing{}, "internal", errs.Internal, 0},
	}
	dec := DecodeJSON[thing]("test", 64)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "http://h:1/api/v1/x", nil)
			header := tt.header
			if header == nil {
				header = http.Header{}
			}
			resp := &http.Response{StatusCode: tt.status, Header: header, Body: io.NopCloser(strings.NewReader(tt.body)), Request: req}
			got, err := dec(context.Background(), resp)
			if tt.wantCode == "" {
				if err != nil {
					t.Fatalf("decode: got error %v, want nil", err)
				}
				if got != tt.want {
					t.Errorf("decode: got %+v, want %+v", got, tt.want)
				}
				return
			}
			if got != nil {
				t.Errorf("decode: got %+v with the error, want nil", got)
			}
			e := errs.As(err)
			if e.Kind != tt.wantKind || e.Code != tt.wantCode {
				t.Errorf("decode: got kind %v code %q (%v), want %v %q", e.Kind, e.Code, err, tt.wantKind, tt.wantCode)
			}
			var ra interface{ RetryAfter() time.Duration }
			var after time.Duration
			if errors.As(err, &ra) {
				after = ra.RetryAfter()
			}
			if after != tt.retryAfter {
				t.Errorf("RetryAfter: got %v, want %v", after, tt.retryAfter)
			}
		})
	}
}
