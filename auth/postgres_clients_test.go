package auth_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/azora-os/azora/auth"
)

func TestPostgresClients(t *testing.T) {
	db := newAuthDB(t)
	s := auth.NewPostgresClients(db)
	ctx := context.Background()
	id, _ := uuid.NewV7()
	admin, _ := uuid.NewV7()
	want := auth.Client{
		ID: id.String(), Name: "Planner", SecretHash: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		RedirectURIs: []string{"http://127.0.0.1/cb", "https://app.example.com/cb"},
		GrantTypes:   []string{auth.GrantAuthorizationCode, auth.GrantRefreshToken},
		Scopes:       []string{auth.ScopeOpenID}, CreatedBy: admin.String(),
		CreatedAt: time.Now().UTC().Truncate(time.Microsecond),
	}
	if err := s.Create(ctx, want); err != nil {
		t.Fatal(err)
	}
	got, err := s.ByID(ctx, want.ID)
	if err != nil || got.Name != want.Name || got.SecretHash != want.SecretHash || !slices.Equal(got.RedirectURIs, want.RedirectURIs) ||
		!slices.Equal(got.GrantTypes, want.GrantTypes) || !slices.Equal(got.Scopes, want.Scopes) || got.CreatedBy != want.CreatedBy ||
		!got.CreatedAt.Equal(want.CreatedAt) || got.Public() {
		t.Fatalf("ByID: got %+v, %v, want %+v", got, err, want)
	}

	pubID, _ := uuid.NewV7()
	pub := auth.Client{ID: pubID.String(), Name: "CLI", GrantTypes: []string{auth.GrantAuthorizationCode}, RedirectURIs: []string{"http://127.0.0.1/cb"}}
	if err := s.Create(ctx, pub); err != nil {
		t.Fatal(err)
	}
	if got, err := s.ByID(ctx, pub.ID); err != nil || !got.Public() || len(got.Scopes) != 0 {
		t.Errorf("public client: got %+v, %v", got, err)
	}

	for name, id := range map[string]string{"unknown": "0190f5a0-0000-7000-8000-000000000000", "not a uuid": "client-1", "empty": ""} {
		if _, err := s.ByID(ctx, id); !errors.Is(err, auth.ErrUnknownClient) {
			t.Errorf("%s: got %v, want unknown_client", name, err)
		}
	}
	// The table refuses what the service never writes.
	badID, _ := uuid.NewV7()
	for name, c := range map[string]auth.Client{
		"no grant":      {ID: badID.String(), Name: "x"},
		"unknown grant": {ID: badID.String(), Name: "x", GrantTypes: []string{"password"}},
		"bad hash":      {ID: badID.String(), Name: "x", GrantTypes: []string{auth.GrantClientCredentials}, SecretHash: "plain-secret"},
	} {
		if err := s.Create(ctx, c); err == nil {
			t.Errorf("%s: stored", name)
		}
	}
}
