package idempotency_test

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/azora-os/azora/shared/idempotency"
)

// BenchmarkMiddleware measures what a key costs per request: "no key" is
// the handler alone (its insert autocommits), "key" adds the claim, the
// transaction and the completing UPDATE, "replay" is a repeated key
// answered from the record. The handler is called directly, without a
// network, so the difference is the middleware's.
func BenchmarkMiddleware(b *testing.B) {
	db := newDB(b)
	h := idempotency.Middleware(db, idempotency.Config{Scope: callerScope})(&effects{db: db})
	var seq atomic.Int64
	serve := func(b *testing.B, key string) {
		req := httptest.NewRequest(http.MethodPost, "/effects", strings.NewReader(`{"label":"bench"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(headerTest, "bench")
		req.Header.Set(headerCaller, "alice")
		if key != "" {
			req.Header.Set(idempotency.HeaderKey, key)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusCreated {
			b.Fatalf("status: got %d, want 201 (%s)", w.Code, w.Body)
		}
	}
	fresh := func() string { return "k-" + strconv.FormatInt(seq.Add(1), 10) }
	b.Run("no key", func(b *testing.B) {
		for b.Loop() {
			serve(b, "")
		}
	})
	b.Run("key", func(b *testing.B) {
		for b.Loop() {
			serve(b, fresh())
		}
	})
	b.Run("replay", func(b *testing.B) {
		serve(b, "replayed")
		for b.Loop() {
			serve(b, "replayed")
		}
	})
	b.Run("no key parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				serve(b, "")
			}
		})
	})
	b.Run("key parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				serve(b, fresh())
			}
		})
	})
}
