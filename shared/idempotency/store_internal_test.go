package idempotency

import (
	"errors"
	"net/http"
	"testing"

	"github.com/azora-os/azora/shared/pg/pgtest"
)

// TestClaimStatements checks the fencing the middleware relies on, one
// statement at a time: a key is inserted once, a live record cannot be taken
// over, a stale one only by a taker that saw its current claim, and only
// the current claim completes or releases it.
func TestClaimStatements(t *testing.T) {
	db, _ := pgtest.New(t, Migrations)
	ctx := t.Context()
	cfg := Config{Scope: func(*http.Request) (string, error) { return "s", nil }}.withDefaults()
	k, hash := Key{Scope: "s", Key: "k"}, []byte{1}
	step := func(name string, got, want bool, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got != want {
			t.Fatalf("%s: got %v, want %v", name, got, want)
		}
	}
	ok, err := insert(ctx, db, k, hash, "00000000-0000-7000-8000-000000000001")
	step("first insert", ok, true, err)
	ok, err = insert(ctx, db, k, hash, "00000000-0000-7000-8000-000000000002")
	step("second insert", ok, false, err)
	ok, err = takeover(ctx, db, k, hash, "00000000-0000-7000-8000-000000000002", "00000000-0000-7000-8000-000000000001", cfg)
	step("takeover of a live claim", ok, false, err)

	if _, err := db.Exec(`UPDATE idempotency_keys SET locked_at = now() - interval '1 hour'`); err != nil {
		t.Fatal(err)
	}
	rec, err := lookup(ctx, db, k, cfg)
	if err != nil || rec == nil || !rec.Stale || rec.Claim != "00000000-0000-7000-8000-000000000001" {
		t.Fatalf("lookup of the abandoned record: got %+v, %v; want it stale with the first claim", rec, err)
	}
	ok, err = takeover(ctx, db, k, hash, "00000000-0000-7000-8000-000000000002", "00000000-0000-7000-8000-000000000009", cfg)
	step("takeover naming another claim", ok, false, err)
	ok, err = takeover(ctx, db, k, hash, "00000000-0000-7000-8000-000000000002", rec.Claim, cfg)
	step("first taker", ok, true, err)
	ok, err = takeover(ctx, db, k, hash, "00000000-0000-7000-8000-000000000003", rec.Claim, cfg)
	step("second taker with the same view", ok, false, err)

	resp := stored{Status: http.StatusCreated, Header: http.Header{"Location": {"/x"}}, Body: []byte("{}")}
	if err := complete(ctx, db, k, "00000000-0000-7000-8000-000000000001", resp); !errors.Is(err, errClaimLost) {
		t.Fatalf("complete by the superseded claim: got %v, want errClaimLost", err)
	}
	if err := release(ctx, db, k, "00000000-0000-7000-8000-000000000001"); err != nil {
		t.Fatal(err)
	}
	if err := complete(ctx, db, k, "00000000-0000-7000-8000-000000000002", resp); err != nil {
		t.Fatalf("complete by the current claim: %v", err)
	}
	if err := release(ctx, db, k, "00000000-0000-7000-8000-000000000002"); err != nil {
		t.Fatal(err)
	}
	rec, err = lookup(ctx, db, k, cfg)
	if err != nil || rec == nil || rec.State != stateComplete || rec.Stale {
		t.Fatalf("after release of a completed claim: got %+v, %v; want the complete record kept", rec, err)
	}
	got, err := rec.response()
	if err != nil || got.Status != resp.Status || string(got.Body) != "{}" || got.Header.Get("Location") != "/x" {
		t.Errorf("stored response: got %+v, %v; want %+v", got, err, resp)
	}
}
