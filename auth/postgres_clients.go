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
	"github.com/azora-os/azora/shared/page"
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
	RotatedAt    sql.NullTime   `db:"secret_rotated_at"`
}

func (r clientRow) client() Client {
	return Client{
		ID: r.ID, Name: r.Name, SecretHash: r.SecretHash.String,
		RedirectURIs: slices.Clone([]string(r.RedirectURIs)),
		GrantTypes:   slices.Clone([]string(r.GrantTypes)),
		Scopes:       slices.Clone([]string(r.Scopes)),
		CreatedBy:    r.CreatedBy.String, CreatedAt: r.CreatedAt.UTC(),
		SecretRotatedAt: r.RotatedAt.Time.UTC(),
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

const clientColumns = `id, name, secret_hash, redirect_uris, grant_types, scopes, created_by, created_at, secret_rotated_at`

const selectClient = `SELECT ` + clientColumns + ` FROM oauth_clients WHERE id = $1`

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

const listClients = `SELECT ` + clientColumns + ` FROM oauth_clients WHERE id < $1 ORDER BY id DESC LIMIT $2`

// List implements Clients, newest first by id. Errors: invalid_cursor,
// internal.
func (s *PostgresClients) List(ctx context.Context, p page.Request) (page.Page[Client], error) {
	after, limit, err := idKeyset(p)
	if err != nil {
		return page.Page[Client]{}, err
	}
	var rows []clientRow
	if err := sqlx.SelectContext(ctx, pg.Ext(ctx, s.db), &rows, listClients, after, limit+1); err != nil {
		return page.Page[Client]{}, errs.Internalf(err, "oauth clients: list")
	}
	clients := make([]Client, len(rows))
	for i, r := range rows {
		clients[i] = r.client()
	}
	return idPage(clients, limit, func(c Client) string { return c.ID }), nil
}

const setClientSecret = `
UPDATE oauth_clients SET secret_hash = $2, secret_rotated_at = $3
WHERE id = $1 AND secret_hash IS NOT NULL`

// SetSecret implements Clients. Errors: unknown_client (no confidential
// client has that id), internal.
func (s *PostgresClients) SetSecret(ctx context.Context, id, secretHash string, at time.Time) error {
	return s.changeOne(ctx, "set secret", setClientSecret, id, secretHash, at)
}

const updateClient = `UPDATE oauth_clients SET name = $2, redirect_uris = $3, scopes = $4 WHERE id = $1`

// Update implements Clients: the row is read FOR UPDATE, fn runs, and only
// the name, redirect URIs and scopes are written back. fn may run again
// when the transaction is retried (a serialization failure), so it must
// have no other effects. Errors: unknown_client, fn's error unchanged,
// internal.
func (s *PostgresClients) Update(ctx context.Context, id string, fn func(*Client) error) (Client, error) {
	cid, err := uuid.Parse(id)
	if err != nil {
		return Client{}, ErrUnknownClient
	}
	var saved Client
	var fnErr error
	err = pg.Tx(ctx, s.db, nil, func(ctx context.Context, tx *sqlx.Tx) error {
		var r clientRow
		if err := tx.GetContext(ctx, &r, selectClient+` FOR UPDATE`, cid.String()); err != nil {
			return err
		}
		c := r.client()
		if fnErr = fn(&c); fnErr != nil {
			return fnErr
		}
		if _, err := tx.ExecContext(ctx, updateClient, r.ID, c.Name, textArray(c.RedirectURIs), textArray(c.Scopes)); err != nil {
			return err
		}
		saved = r.client()
		saved.Name, saved.RedirectURIs, saved.Scopes = c.Name, slices.Clone(c.RedirectURIs), slices.Clone(c.Scopes)
		return nil
	})
	switch {
	case fnErr != nil:
		return Client{}, fnErr
	case errors.Is(err, sql.ErrNoRows):
		return Client{}, ErrUnknownClient
	case err != nil:
		return Client{}, errs.Internalf(err, "oauth clients: update")
	}
	return saved, nil
}

// Delete implements Clients. Errors: unknown_client, internal.
func (s *PostgresClients) Delete(ctx context.Context, id string) error {
	return s.changeOne(ctx, "delete", `DELETE FROM oauth_clients WHERE id = $1`, id)
}

// changeOne runs a statement on the client id (its first argument) and
// reports unknown_client when it touched no row.
func (s *PostgresClients) changeOne(ctx context.Context, what, query, id string, args ...any) error {
	cid, err := uuid.Parse(id)
	if err != nil {
		return ErrUnknownClient
	}
	res, err := pg.Ext(ctx, s.db).ExecContext(ctx, query, append([]any{cid.String()}, args...)...)
	if err != nil {
		return errs.Internalf(err, "oauth clients: %s", what)
	}
	if n, err := res.RowsAffected(); err != nil {
		return errs.Internalf(err, "oauth clients: %s", what)
	} else if n == 0 {
		return ErrUnknownClient
	}
	return nil
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
