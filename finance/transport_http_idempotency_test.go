package finance_test

import (
	"bytes"
	"net/http"
	"testing"

	"github.com/lib/pq"

	"github.com/azora-os/azora/finance"
	"github.com/azora-os/azora/shared/idempotency"
	"github.com/azora-os/azora/shared/pg/pgtest"
)

// testHTTPIdempotency wires the money routes as main does, behind the
// shared Idempotency-Key middleware on a real database, and checks what
// API.md promises: the key is required, a retry gets the first answer and
// moves nothing again, another body under the same key is refused, and a
// serialization failure or deadlock inside the middleware's transaction
// runs the handler again (the routes' servers carry
// idempotency.ErrorEncoder) instead of reaching the client as a 500.
func testHTTPIdempotency(t *testing.T, e *htEnv) {
	db, _ := pgtest.New(t, idempotency.Migrations)
	mw := idempotency.Middleware(db, idempotency.Config{Required: true, Scope: idempotency.BearerSubject(e.v)})
	f := newHTFake()
	srv := e.server(t, f, &htVerifier{}, finance.WithMoneyMiddleware(mw))
	post := http.MethodPost
	withKey := func(who, body, key string) htRequest {
		return htRequest{who: who, body: body, header: map[string]string{"Idempotency-Key": key}}
	}
	transfer := htTransferBody("500", "USD", "")

	routes := []struct {
		name, method, path, who, body string
		status                        int
	}{
		{"Transfer", post, finance.PathTransfers, "student", transfer, 201},
		{"CreateTopup", post, "/api/v1/wallets/" + htWalletID + "/topups", "student", `{"amount":100,"currency":"USD"}`, 201},
		{"RefundTopup", post, "/api/v1/topups/" + htTopupID + "/refund", "admin", "", 200},
	}
	for _, rt := range routes {
		t.Run(rt.name, func(t *testing.T) {
			e.do(t, srv, rt.method, rt.path, htRequest{who: rt.who, body: rt.body}).Problem(t, 400, "idempotency_key_required")
			if n := f.times(rt.name); n != 0 {
				t.Fatalf("%s calls without a key: got %d, want 0", rt.name, n)
			}

			// A serialization failure, then a deadlock, then success: the
			// middleware runs the handler three times, the client sees one
			// answer.
			f.failWith(rt.name, &pq.Error{Code: "40001"}, &pq.Error{Code: "40P01"}, nil)
			first := e.do(t, srv, rt.method, rt.path, withKey(rt.who, rt.body, "k-"+rt.name))
			if first.Status != rt.status {
				t.Fatalf("first: got %d, want %d (%s)", first.Status, rt.status, first.Body)
			}
			if n := f.times(rt.name); n != 3 {
				t.Errorf("%s runs: got %d, want 3 (two retried database conflicts)", rt.name, n)
			}
			if !f.ranInTx(rt.name) {
				t.Errorf("%s ran outside the middleware's transaction", rt.name)
			}

			again := e.do(t, srv, rt.method, rt.path, withKey(rt.who, rt.body, "k-"+rt.name))
			if again.Status != rt.status || !bytes.Equal(again.Body, first.Body) || again.Header.Get("Idempotent-Replayed") != "true" {
				t.Errorf("replay: got %d %s replayed %q, want %d %s true", again.Status, again.Body,
					again.Header.Get("Idempotent-Replayed"), rt.status, first.Body)
			}
			if n := f.times(rt.name); n != 3 {
				t.Errorf("%s runs after the replay: got %d, want still 3", rt.name, n)
			}
		})
	}

	t.Run("same key other body", func(t *testing.T) {
		e.do(t, srv, post, finance.PathTransfers, withKey("student", htTransferBody("501", "USD", ""), "k-Transfer")).
			Problem(t, 422, "idempotency_key_reused")
	})

	t.Run("refusal replayed", func(t *testing.T) {
		f.failWith("Transfer", finance.ErrInsufficientFunds)
		before := f.times("Transfer")
		first := e.do(t, srv, post, finance.PathTransfers, withKey("student", transfer, "k-broke"))
		first.Problem(t, 409, "insufficient_funds")
		// The replay is the stored document, request_id of the first
		// request included.
		again := e.do(t, srv, post, finance.PathTransfers, withKey("student", transfer, "k-broke"))
		if again.Status != 409 || !bytes.Equal(again.Body, first.Body) || again.Header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("replay: got %d %s replayed %q, want 409 %s true", again.Status, again.Body,
				again.Header.Get("Idempotent-Replayed"), first.Body)
		}
		if n := f.times("Transfer") - before; n != 1 {
			t.Errorf("Transfer runs: got %d, want 1 (the retry got the stored 409)", n)
		}
	})

	t.Run("keys are per caller", func(t *testing.T) {
		f.failWith("Transfer", nil)
		before := f.times("Transfer")
		r := e.do(t, srv, post, finance.PathTransfers, withKey("instructor", transfer, "k-Transfer"))
		if r.Status != 201 || r.Header.Get("Idempotent-Replayed") != "" {
			t.Errorf("another caller's equal key: got %d replayed %q, want a fresh 201", r.Status, r.Header.Get("Idempotent-Replayed"))
		}
		if n := f.times("Transfer") - before; n != 1 {
			t.Errorf("Transfer runs: got %d, want 1", n)
		}
	})

	t.Run("reads and webhook need no key", func(t *testing.T) {
		if r := e.do(t, srv, http.MethodGet, finance.PathWallets, htRequest{who: "student"}); r.Status != 200 {
			t.Errorf("GET wallets: got %d, want 200 (%s)", r.Status, r.Body)
		}
		r := e.do(t, srv, post, finance.PathStripeWebhook, htRequest{body: htEventJSON,
			header: map[string]string{"Stripe-Signature": htSign([]byte(htEventJSON))}})
		if r.Status != 200 {
			t.Errorf("webhook: got %d, want 200 (%s)", r.Status, r.Body)
		}
	})
}
