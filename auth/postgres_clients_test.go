package auth_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/azora-os/azora/auth"
	"github.com/azora-os/azora/shared/page"
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

func TestPostgresClientsListUpdateDelete(t *testing.T) {
	db := newAuthDB(t)
	s := auth.NewPostgresClients(db)
	ctx := context.Background()
	var ids []string // in creation order
	for i := range 5 {
		id, _ := uuid.NewV7()
		c := auth.Client{ID: id.String(), Name: "Client " + string(rune('A'+i)), GrantTypes: []string{auth.GrantClientCredentials},
			SecretHash: strings.Repeat("ab", 32)}
		if i == 4 { // a public one
			c.SecretHash, c.GrantTypes, c.RedirectURIs = "", []string{auth.GrantAuthorizationCode}, []string{"http://127.0.0.1/cb"}
		}
		if err := s.Create(ctx, c); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.ID)
	}

	t.Run("list pages newest first", func(t *testing.T) {
		var got []string
		p := page.Request{Limit: 2}
		for pages := 0; ; pages++ {
			pg, err := s.List(ctx, p)
			if err != nil || pages > 3 || len(pg.Items) > 2 {
				t.Fatalf("page %d: %+v, %v", pages, pg, err)
			}
			for _, c := range pg.Items {
				got = append(got, c.ID)
			}
			if pg.NextCursor == "" {
				break
			}
			p.Cursor = pg.NextCursor
		}
		want := slices.Clone(ids)
		slices.Reverse(want)
		if !slices.Equal(got, want) {
			t.Errorf("got %v, want %v", got, want)
		}
		if all, err := s.List(ctx, page.Request{}); err != nil || len(all.Items) != 5 || all.NextCursor != "" {
			t.Errorf("default page: %d items, cursor %q, %v", len(all.Items), all.NextCursor, err)
		}
		for _, bad := range []string{"not-base64!", page.Encode(map[string]string{"i": "x"})} {
			if _, err := s.List(ctx, page.Request{Cursor: bad}); !errors.Is(err, page.ErrBadCursor) {
				t.Errorf("cursor %q: got %v, want invalid_cursor", bad, err)
			}
		}
	})

	t.Run("set secret", func(t *testing.T) {
		at := time.Now().UTC().Truncate(time.Microsecond)
		hash := strings.Repeat("cd", 32)
		if err := s.SetSecret(ctx, ids[0], hash, at); err != nil {
			t.Fatal(err)
		}
		if got, err := s.ByID(ctx, ids[0]); err != nil || got.SecretHash != hash || !got.SecretRotatedAt.Equal(at) {
			t.Errorf("after SetSecret: %+v, %v", got, err)
		}
		if got, _ := s.ByID(ctx, ids[1]); !got.SecretRotatedAt.IsZero() || got.SecretHash != strings.Repeat("ab", 32) {
			t.Errorf("another client changed: %+v", got)
		}
		for name, id := range map[string]string{"public": ids[4], "unknown": "0190f5a0-0000-7000-8000-000000000000", "not a uuid": "x"} {
			if err := s.SetSecret(ctx, id, hash, at); !errors.Is(err, auth.ErrUnknownClient) {
				t.Errorf("%s: got %v, want unknown_client", name, err)
			}
		}
		if got, _ := s.ByID(ctx, ids[4]); !got.Public() {
			t.Errorf("the public client got a secret: %+v", got)
		}
	})

	t.Run("update", func(t *testing.T) {
		uris, scopes := []string{"https://app.example.com/cb"}, []string{"reports:read"}
		saved, err := s.Update(ctx, ids[3], func(c *auth.Client) error {
			c.Name, c.RedirectURIs, c.Scopes = "Renamed", uris, scopes
			c.GrantTypes, c.SecretHash = []string{auth.GrantAuthorizationCode}, "" // not Update's to change
			return nil
		})
		got, err2 := s.ByID(ctx, ids[3])
		if err != nil || err2 != nil || got.Name != "Renamed" || !slices.Equal(got.RedirectURIs, uris) || !slices.Equal(got.Scopes, scopes) ||
			!slices.Equal(got.GrantTypes, []string{auth.GrantClientCredentials}) || got.Public() || !reflect.DeepEqual(saved, got) {
			t.Errorf("after Update: stored %+v (%v), answered %+v (%v)", got, err2, saved, err)
		}
		refused := errors.New("no")
		if _, err := s.Update(ctx, ids[3], func(c *auth.Client) error { c.Name = "Not saved"; return refused }); err != refused {
			t.Errorf("fn's error: got %v", err)
		}
		if got, _ := s.ByID(ctx, ids[3]); got.Name != "Renamed" {
			t.Errorf("a refused update was saved: %+v", got)
		}
		for _, id := range []string{"0190f5a0-0000-7000-8000-000000000000", "x"} {
			if _, err := s.Update(ctx, id, func(*auth.Client) error { return nil }); !errors.Is(err, auth.ErrUnknownClient) {
				t.Errorf("unknown client %q: got %v, want unknown_client", id, err)
			}
		}
		// Concurrent updates of different fields all hold.
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := s.Update(ctx, ids[3], func(c *auth.Client) error {
					c.Scopes = append(slices.Clone(c.Scopes), fmt.Sprintf("s%d", i))
					return nil
				})
				if err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if got, _ := s.ByID(ctx, ids[3]); len(got.Scopes) != 9 {
			t.Errorf("after 8 concurrent additions to 1 scope: %v, want 9 (none lost)", got.Scopes)
		}
	})

	t.Run("delete", func(t *testing.T) {
		if err := s.Delete(ctx, ids[2]); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ByID(ctx, ids[2]); !errors.Is(err, auth.ErrUnknownClient) {
			t.Errorf("after Delete: got %v, want unknown_client", err)
		}
		for name, id := range map[string]string{"again": ids[2], "not a uuid": "x"} {
			if err := s.Delete(ctx, id); !errors.Is(err, auth.ErrUnknownClient) {
				t.Errorf("%s: got %v, want unknown_client", name, err)
			}
		}
		if all, err := s.List(ctx, page.Request{}); err != nil || len(all.Items) != 4 {
			t.Errorf("after Delete: %d clients, %v; want 4", len(all.Items), err)
		}
	})
}
