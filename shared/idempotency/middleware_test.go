package idempotency_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/azora-os/azora/shared/idempotency"
	"github.com/azora-os/azora/shared/pg"
)

func TestMiddleware(t *testing.T) {
	eachCase(t, []namedCase{
		{"replay returns the stored response", testReplay},
		{"key reused with another request", testKeyReused},
		{"scopes are independent", testScopes},
		{"5xx releases the key", testServerError},
		{"4xx is stored without effect", testClientError},
		{"failed commit leaves nothing", testCommitFailure},
		{"handler runs in the transaction", testHandlerInTx},
		{"without a key", testWithoutKey},
		{"bad keys and callers", testBadKeys},
		{"empty scope is a server fault", testEmptyScope},
		{"scoped to the bearer token's subject", testBearerSubject},
		{"safe methods pass through", testSafeMethods},
		{"oversized chunked body", testOversized},
		{"panic releases the key", testPanic},
	})
}

func testReplay(t *testing.T, db *sqlx.DB) {
	f := newFixture(t, db, idempotency.Config{})
	body := effectRequest{Label: "enroll"}

	first := f.post(t, "alice", "k-1", body)
	wantStatus(t, first, http.StatusCreated, "")
	if first.replayed() {
		t.Errorf("first response: got %s: true, want the header absent", idempotency.HeaderReplayed)
	}
	if first.effect.ID == "" {
		t.Fatalf("first response: got no id in %s", first.body)
	}
	for i := range 2 {
		again := f.post(t, "alice", "k-1", body)
		wantStatus(t, again, http.StatusCreated, "")
		if !again.replayed() {
			t.Errorf("replay %d: got %s %q, want true", i, idempotency.HeaderReplayed, again.header.Get(idempotency.HeaderReplayed))
		}
		if again.body != first.body {
			t.Errorf("replay %d body: got %s, want %s", i, again.body, first.body)
		}
		for _, h := range []string{"Content-Type", "Location"} {
			if got, want := again.header.Get(h), first.header.Get(h); got != want {
				t.Errorf("replay %d %s: got %q, want %q", i, h, got, want)
			}
		}
		if got := again.header.Get("X-Fresh-Only"); got != "" {
			t.Errorf("replay %d: got X-Fresh-Only %q, want only the stored headers", i, got)
		}
		if got := again.header.Get("X-Request-ID"); got == "" || got == first.header.Get("X-Request-ID") {
			t.Errorf("replay %d X-Request-ID: got %q, want a fresh id", i, got)
		}
	}
	if n := f.effects(t); n != 1 {
		t.Errorf("effects: got %d, want 1", n)
	}
	if n := f.h.calls.Load(); n != 1 {
		t.Errorf("handler calls: got %d, want 1", n)
	}
}

func testKeyReused(t *testing.T, db *sqlx.DB) {
	f := newFixture(t, db, idempotency.Config{})
	wantStatus(t, f.post(t, "alice", "k-1", effectRequest{Label: "a"}), http.StatusCreated, "")
	tests := []struct {
		name, method, path string
		body               effectRequest
	}{
		{"different body", http.MethodPost, "/effects", effectRequest{Label: "b"}},
		{"different path", http.MethodPost, "/other", effectRequest{Label: "a"}},
		{"different query", http.MethodPost, "/effects?x=1", effectRequest{Label: "a"}},
		{"different method", http.MethodPut, "/effects", effectRequest{Label: "a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := f.do(t, tt.method, tt.path, "alice", "k-1", tt.body)
			wantStatus(t, r, http.StatusUnprocessableEntity, "idempotency_key_reused")
		})
	}
	if n := f.effects(t); n != 1 {
		t.Errorf("effects: got %d, want 1", n)
	}
}

func testScopes(t *testing.T, db *sqlx.DB) {
	f := newFixture(t, db, idempotency.Config{})
	body := effectRequest{Label: "same"}
	a := f.post(t, "alice", "shared-key", body)
	b := f.post(t, "bob", "shared-key", body)
	for name, r := range map[string]reply{"alice": a, "bob": b} {
		wantStatus(t, r, http.StatusCreated, "")
		if r.replayed() {
			t.Errorf("%s: got a replay, want a fresh execution", name)
		}
	}
	if a.effect.ID == b.effect.ID {
		t.Errorf("ids: got %s twice, want one effect per caller", a.effect.ID)
	}
	// A different body under bob's key is bob's business, not alice's.
	wantStatus(t, f.post(t, "bob", "shared-key", effectRequest{Label: "other"}), http.StatusUnprocessableEntity, "idempotency_key_reused")
	if r := f.post(t, "alice", "shared-key", body); !r.replayed() || r.body != a.body {
		t.Errorf("alice again: got replayed=%v body %s, want alice's stored body %s", r.replayed(), r.body, a.body)
	}
	if n := f.effects(t); n != 2 {
		t.Errorf("effects: got %d, want 2", n)
	}
}

func testServerError(t *testing.T, db *sqlx.DB) {
	f := newFixture(t, db, idempotency.Config{})
	f.h.hook = func(_ *http.Request, call int64) int {
		if call == 1 {
			return http.StatusInternalServerError
		}
		return 0
	}
	body := effectRequest{Label: "retry me"}
	wantStatus(t, f.post(t, "alice", "k-1", body), http.StatusInternalServerError, "internal")
	if n := f.records(t, "true"); n != 0 {
		t.Errorf("records after the 500: got %d, want 0 (the claim deleted)", n)
	}
	if n := f.effects(t); n != 0 {
		t.Errorf("effects after the 500: got %d, want 0 (rolled back)", n)
	}
	r := f.post(t, "alice", "k-1", body)
	wantStatus(t, r, http.StatusCreated, "")
	if r.replayed() {
		t.Error("retry: got a replay, want a fresh execution")
	}
	if n := f.effects(t); n != 1 {
		t.Errorf("effects after the retry: got %d, want 1", n)
	}
}

func testClientError(t *testing.T, db *sqlx.DB) {
	f := newFixture(t, db, idempotency.Config{})
	body := effectRequest{Label: "refused", Answer: http.StatusConflict}
	first := f.post(t, "alice", "k-1", body)
	wantStatus(t, first, http.StatusConflict, "test_conflict")
	again := f.post(t, "alice", "k-1", body)
	wantStatus(t, again, http.StatusConflict, "test_conflict")
	if !again.replayed() {
		t.Error("second 409: got a fresh execution, want a replay")
	}
	if again.body != first.body {
		t.Errorf("replayed body: got %s, want %s", again.body, first.body)
	}
	if got, want := again.header.Get("Content-Type"), "application/problem+json"; got != want {
		t.Errorf("replayed Content-Type: got %q, want %q", got, want)
	}
	if n := f.effects(t); n != 0 {
		t.Errorf("effects: got %d, want 0 (a 4xx rolls its writes back)", n)
	}
	if n := f.records(t, "state = 'complete' AND status = 409"); n != 1 {
		t.Errorf("stored 409 records: got %d, want 1", n)
	}
	if n := f.h.calls.Load(); n != 1 {
		t.Errorf("handler calls: got %d, want 1", n)
	}
}

func testCommitFailure(t *testing.T, db *sqlx.DB) {
	f := newFixture(t, db, idempotency.Config{})
	// The parent does not exist; the deferred foreign key fails the commit.
	body := effectRequest{Label: "orphan", Parent: "018f0000-0000-7000-8000-000000000000"}
	for i := range 2 {
		r := f.post(t, "alice", "k-1", body)
		wantStatus(t, r, http.StatusInternalServerError, "internal")
		if n := f.records(t, "true"); n != 0 {
			t.Errorf("try %d records: got %d, want 0", i, n)
		}
		if n := f.effects(t); n != 0 {
			t.Errorf("try %d effects: got %d, want 0", i, n)
		}
	}
	if n := f.h.calls.Load(); n != 2 {
		t.Errorf("handler calls: got %d, want 2 (the key was released after the failed commit)", n)
	}
}

func testHandlerInTx(t *testing.T, db *sqlx.DB) {
	f := newFixture(t, db, idempotency.Config{})
	var (
		inTx  bool
		key   idempotency.Key
		found bool
	)
	f.h.hook = func(r *http.Request, _ int64) int {
		inTx = pg.FromContext(r.Context()) != nil
		key, found = idempotency.KeyFrom(r.Context())
		return 0
	}
	wantStatus(t, f.post(t, "alice", "k-7", effectRequest{Label: "x"}), http.StatusCreated, "")
	if !inTx {
		t.Error("pg.FromContext in the handler: got nil, want the middleware's transaction")
	}
	if want := (idempotency.Key{Scope: f.id + "|alice", Key: "k-7"}); !found || key != want {
		t.Errorf("KeyFrom: got %+v, %v; want %+v, true", key, found, want)
	}
}

func testWithoutKey(t *testing.T, db *sqlx.DB) {
	tests := []struct {
		name     string
		required bool
		caller   string
		status   int
		code     string
		effects  int
	}{
		{"optional: passes through twice", false, "alice", http.StatusCreated, "", 2},
		{"optional, anonymous: the route decides", false, "", http.StatusCreated, "", 2},
		{"required: 400", true, "alice", http.StatusBadRequest, "idempotency_key_required", 0},
		{"required, anonymous: 401 first", true, "", http.StatusUnauthorized, "missing_token", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, db, idempotency.Config{Required: tt.required})
			for range 2 {
				r := f.post(t, tt.caller, "", effectRequest{Label: "no key"})
				wantStatus(t, r, tt.status, tt.code)
				if r.replayed() {
					t.Error("got a replay without a key")
				}
			}
			if n := f.effects(t); n != tt.effects {
				t.Errorf("effects: got %d, want %d", n, tt.effects)
			}
			if n := f.records(t, "true"); n != 0 {
				t.Errorf("records: got %d, want 0 (nothing stored without a key)", n)
			}
		})
	}
}

func testBadKeys(t *testing.T, db *sqlx.DB) {
	f := newFixture(t, db, idempotency.Config{Required: true})
	tests := []struct {
		name   string
		keys   []string
		caller string
		status int
		code   string
	}{
		{"empty", []string{""}, "alice", http.StatusBadRequest, "idempotency_key_invalid"},
		{"256 characters", []string{strings.Repeat("k", 256)}, "alice", http.StatusBadRequest, "idempotency_key_invalid"},
		{"not ASCII", []string{"clé"}, "alice", http.StatusBadRequest, "idempotency_key_invalid"},
		{"sent twice", []string{"a", "b"}, "alice", http.StatusBadRequest, "idempotency_key_invalid"},
		{"anonymous", []string{"k"}, "", http.StatusUnauthorized, "missing_token"},
		{"255 characters", []string{strings.Repeat("k", 255)}, "alice", http.StatusCreated, ""},
		{"printable with spaces inside", []string{"order 42/~!"}, "alice", http.StatusCreated, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := f.request(t.Context(), http.MethodPost, "/effects", tt.caller, "", strings.NewReader(`{"label":"k"}`))
			for _, k := range tt.keys {
				req.Header.Add(idempotency.HeaderKey, k)
			}
			wantStatus(t, send(t, req), tt.status, tt.code)
		})
	}
	if n := f.effects(t); n != 2 {
		t.Errorf("effects: got %d, want 2 (the valid keys only)", n)
	}
}

func testEmptyScope(t *testing.T, db *sqlx.DB) {
	f := newFixture(t, db, idempotency.Config{Scope: func(*http.Request) (string, error) { return "", nil }})
	wantStatus(t, f.post(t, "alice", "k", effectRequest{Label: "x"}), http.StatusInternalServerError, "internal")
	if n := f.effects(t); n != 0 {
		t.Errorf("effects: got %d, want 0", n)
	}
}

func testSafeMethods(t *testing.T, db *sqlx.DB) {
	f := newFixture(t, db, idempotency.Config{Required: true})
	for range 2 {
		r := f.do(t, http.MethodGet, "/effects", "alice", "k", effectRequest{Label: "get"})
		wantStatus(t, r, http.StatusCreated, "")
	}
	if n := f.records(t, "true"); n != 0 {
		t.Errorf("records: got %d, want 0", n)
	}
}

func testOversized(t *testing.T, db *sqlx.DB) {
	f := newFixture(t, db, idempotency.Config{})
	big := `{"label":"` + strings.Repeat("x", 1<<20) + `"}`
	// A reader without a length makes the client send the body chunked, so
	// only the bytes read can tell it is too large.
	body := struct{ *strings.Reader }{strings.NewReader(big)}
	req := f.request(context.Background(), http.MethodPost, "/effects", "alice", "big", body)
	wantStatus(t, send(t, req), http.StatusRequestEntityTooLarge, "payload_too_large")
	if n := f.records(t, "true"); n != 0 {
		t.Errorf("records: got %d, want 0", n)
	}
}

func testPanic(t *testing.T, db *sqlx.DB) {
	f := newFixture(t, db, idempotency.Config{})
	f.h.hook = func(_ *http.Request, call int64) int {
		if call == 1 {
			panic("handler bug")
		}
		return 0
	}
	body := effectRequest{Label: "p"}
	wantStatus(t, f.post(t, "alice", "k", body), http.StatusInternalServerError, "internal")
	if n := f.records(t, "true") + f.effects(t); n != 0 {
		t.Errorf("records and effects after the panic: got %d, want 0", n)
	}
	wantStatus(t, f.post(t, "alice", "k", body), http.StatusCreated, "")
}
