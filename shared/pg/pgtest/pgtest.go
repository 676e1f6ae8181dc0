// Package pgtest gives each test its own throwaway Postgres database, created
// from the server at TEST_DATABASE_URL (default: the local trust-auth server)
// and dropped when the test ends.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/azora-os/azora/shared/pg"
)

// DefaultURL is the server used when TEST_DATABASE_URL is unset.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// ServerURL returns the admin URL tests create databases through.
func ServerURL() string {
	if v := os.Getenv("TEST_DATABASE_URL"); v != "" {
		return v
	}
	return DefaultURL
}

// New creates an empty database, applies sets to it, and returns a pool on
// it and its DSN. The database is dropped (connections forced off) in
// t.Cleanup. A server that does not answer fails the test with the URL to fix.
func New(t testing.TB, sets ...pg.Migrations) (*sqlx.DB, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pg.Open(ctx, ServerURL(), pg.Pool{MaxOpen: 2})
	if err != nil {
		t.Fatalf("pgtest: %v (start Postgres or set TEST_DATABASE_URL)", err)
	}
	defer admin.Close()

	b := make([]byte, 6)
	rand.Read(b)
	name := "azora_test_" + hex.EncodeToString(b)
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() { drop(t, name) })

	u, _ := url.Parse(ServerURL())
	u.Path = "/" + name
	dsn := u.String()
	if err := pg.Migrate(ctx, dsn, sets...); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	db, err := pg.Open(ctx, dsn, pg.Pool{})
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db, dsn
}

func drop(t testing.TB, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pg.Open(ctx, ServerURL(), pg.Pool{MaxOpen: 1})
	if err != nil {
		t.Errorf("pgtest: drop %s: %v", name, err)
		return
	}
	defer admin.Close()
	if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
		t.Errorf("pgtest: drop %s: %v", name, err)
	}
}
