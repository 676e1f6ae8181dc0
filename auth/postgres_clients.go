package auth

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/pg"
)

// PostgresClients is the Clients port over the oauth_clients table.
type PostgresClients struct{ db *sqlx.DB }

var _ Clients = (*PostgresClients)(nil)

// NewPostgresClients returns Clients over db.
func NewPostgresClients(db *sqlx.DB) *PostgresClients { return &PostgresClients{db: db} }

// clientRow is one oauth_clients row as sqlx scans it.
type clientRow struct {
	ID           string         `db:"id"`
	Name         string         `db:"name"`
	SecretHash   sql.NullString `db:"secret_hash"`
	RedirectURIs pq.StringArray `db:"redirect_uris"`
	GrantTypes   pq.StringArray `db:"grant_types"`
	Scopes       pq.StringArray `db:"scopes"`
	CreatedBy    sql.NullString `db:"created_by"`
	CreatedAt    time.Time      `db:"created_at"`
}

func (r clientRow) client() Client {
	return Client{
		ID: r.ID, Name: r.Name, SecretHash: r.SecretHash.String,
		RedirectURIs: slices.Clone([]string(r.RedirectURIs)),
		GrantTypes:   slices.Clone([]string(r.GrantTypes)),
		Scopes:       slices.Clone([]string(r.Scopes)),
		CreatedBy:    r.CreatedBy.String, CreatedAt: r.CreatedAt.UTC(),
	}
}

const insertClient = `
INSERT INTO oauth_clients (id, name, secret_hash, redirect_uris, grant_types, scopes, created_by, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`

// Create implements Clients; c.ID must be a UUID, a zero CreatedAt is now.
// Errors: internal (a duplicate id included: ids are fresh UUIDv7s).
func (s *PostgresClients) Create(ctx context.Context, c Client) error {
	if c.CreatedAt.IsZero() {
		c.CreatedAt = time.Now()
	}
	_, err := pg.Ext(ctx, s.db).ExecContext(ctx, insertClient, c.ID, c.Name, nullString(c.SecretHash),
		textArray(c.RedirectURIs), textArray(c.GrantTypes), textArray(c.Scopes), nullUUID(c.CreatedBy), c.CreatedAt)
	if err != nil {
		return errs.Internalf(err, "oauth clients: create")
	}
	return nil
}

const selectClient = `
SELECT id, name, secret_hash, redirect_uris, grant_types, scopes, created_by, created_at
FROM oauth_clients WHERE id = $1`

// ByID implements Clients. An id that is not a UUID names no client.
// Errors: unknown_client, internal.
func (s *PostgresClients) ByID(ctx context.Context, id string) (Client, error) {
	cid, err := uuid.Parse(id)
	if err != nil {
		return Client{}, ErrUnknownClient
	}
	var r clientRow
	err = sqlx.GetContext(ctx, pg.Ext(ctx, s.db), &r, selectClient, cid.String())
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return Client{}, ErrUnknownClient
	case err != nil:
		return Client{}, errs.Internalf(err, "oauth clients: by id")
	}
	return r.client(), nil
}

// nullString stores "" as NULL.
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// nullUUID stores a UUID, or NULL for anything else (no admin recorded).
func nullUUID(s string) any {
	if _, err := uuid.Parse(s); err != nil {
		return nil
	}
	return s
}
