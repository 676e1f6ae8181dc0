package httpx_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-kit/log"

	"github.com/azora-os/azora/shared/httpx"
)

const smallBody = `{"name":"Ada Lovelace","amount":1999,"nested":{"count":3},"items":[{"id":"a"},{"id":"b"}]}`

// BenchmarkDecodeJSON compares DecodeJSON with a plain json.Decoder (with
// DisallowUnknownFields) on the same small body; the difference is the
// price of the duplicate-key and trailing-data scan.
func BenchmarkDecodeJSON(b *testing.B) {
	for _, bc := range []struct {
		name   string
		decode func(*http.Request, any) error
	}{
		{"strict", httpx.DecodeJSON},
		{"stdlib_baseline", func(r *http.Request, v any) error {
			dec := json.NewDecoder(r.Body)
			dec.DisallowUnknownFields()
			return dec.Decode(v)
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(smallBody)))
			for b.Loop() {
				req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(smallBody))
				req.Header.Set("Content-Type", "application/json")
				var v thing
				if err := bc.decode(req, &v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkStack measures the middleware stack around a trivial handler
// against the bare handler; request and recorder set-up is in both.
func BenchmarkStack(b *testing.B) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	for _, bc := range []struct {
		name string
		h    http.Handler
	}{
		{"bare", ok},
		{"stack", httpx.Stack(log.NewNopLogger(), ok)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest(http.MethodGet, "/v1/ok", nil)
				bc.h.ServeHTTP(httptest.NewRecorder(), req)
			}
		})
	}
}
