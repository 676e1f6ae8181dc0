package idempotency_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/azora-os/azora/shared/idempotency"
	"github.com/azora-os/azora/shared/kit"
	"github.com/azora-os/azora/shared/kit/kittest"
)

func testBearerSubject(t *testing.T, db *sqlx.DB) {
	iss := kittest.NewIssuer(t)
	v, err := kit.NewVerifier(iss.VerifierConfig())
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, db, idempotency.Config{Scope: idempotency.BearerSubject(v)})
	var scopes []string
	f.h.hook = func(r *http.Request, _ int64) int {
		k, _ := idempotency.KeyFrom(r.Context())
		scopes = append(scopes, k.Scope)
		return 0
	}
	ada := "Bearer " + iss.Token(t, kittest.Claims{Subject: f.id + "-ada"})
	bob := "Bearer " + iss.Token(t, kittest.Claims{Subject: f.id + "-bob"})
	post := func(auth string) reply {
		req := f.request(t.Context(), http.MethodPost, "/effects", "", "k", strings.NewReader(`{"label":"b"}`))
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		return send(t, req)
	}
	tests := []struct {
		name, auth string
		status     int
		code       string
		replayed   bool
	}{
		{"ada", ada, http.StatusCreated, "", false},
		{"ada again", ada, http.StatusCreated, "", true},
		{"bob, same key", bob, http.StatusCreated, "", false},
		{"no token", "", http.StatusUnauthorized, "missing_token", false},
		{"bad token", "Bearer not.a.token", http.StatusUnauthorized, "invalid_token", false},
	}
	for _, tt := range tests {
		r := post(tt.auth)
		wantStatus(t, r, tt.status, tt.code)
		if r.replayed() != tt.replayed {
			t.Errorf("%s: replayed got %v, want %v", tt.name, r.replayed(), tt.replayed)
		}
	}
	if want := []string{f.id + "-ada", f.id + "-bob"}; strings.Join(scopes, ",") != strings.Join(want, ",") {
		t.Errorf("scopes the handler saw: got %v, want %v", scopes, want)
	}
}
