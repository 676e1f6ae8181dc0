// Package pg opens Postgres through sqlx and lib/pq, applies a service's
// embedded migrations under an advisory lock, and runs transactions that are
// retried when Postgres aborts them for serialization failures or deadlocks.
package pg

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net/url"
	"time"

	"github.com/golang-migrate/migrate/v4"
	migratepg "github.com/golang-migrate/migrate/v4/database/postgres"
	"github.com/golang-migrate/migrate/v4/source/iofs"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/azora-os/azora/shared/errs"
)

// Pool sizes a connection pool. The zero value takes the defaults below.
type Pool struct {
	MaxOpen     int           // default 20
	MaxIdle     int           // default MaxOpen
	MaxLifetime time.Duration // default 30m
	MaxIdleTime time.Duration // default 5m
}

// Open connects to dsn, sizes the pool and pings within ctx.
func Open(ctx context.Context, dsn string, p Pool) (*sqlx.DB, error) {
	db, err := sqlx.Open("postgres", dsn)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	if p.MaxOpen == 0 {
		p.MaxOpen = 20
	}
	if p.MaxIdle == 0 {
		p.MaxIdle = p.MaxOpen
	}
	if p.MaxLifetime == 0 {
		p.MaxLifetime = 30 * time.Minute
	}
	if p.MaxIdleTime == 0 {
		p.MaxIdleTime = 5 * time.Minute
	}
	db.SetMaxOpenConns(p.MaxOpen)
	db.SetMaxIdleConns(p.MaxIdle)
	db.SetConnMaxLifetime(p.MaxLifetime)
	db.SetConnMaxIdleTime(p.MaxIdleTime)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("postgres at %s does not answer: %w", redact(dsn), err)
	}
	return db, nil
}

// Migrations is one forward-only set of numbered SQL files
// (0001_name.up.sql …) and the table that records how far it got. Several
// sets can live in one database (a service's own and the events tables).
type Migrations struct {
	FS    fs.FS  // holds the files at Dir
	Dir   string // e.g. "migrations"
	Table string // e.g. "schema_migrations"
}

// Migrate applies every pending migration of each set in order. Each set
// runs under golang-migrate's Postgres advisory lock, so replicas that start
// together apply each file once; the others wait and find nothing to do.
func Migrate(ctx context.Context, dsn string, sets ...Migrations) error {
	for _, s := range sets {
		if err := migrateOne(ctx, dsn, s); err != nil {
			return fmt.Errorf("migrate %s: %w", s.Table, err)
		}
	}
	return nil
}

func migrateOne(ctx context.Context, dsn string, s Migrations) error {
	src, err := iofs.New(s.FS, s.Dir)
	if err != nil {
		return err
	}
	// The driver closes the *sql.DB it is given, so it gets its own.
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.PingContext(ctx); err != nil {
		return fmt.Errorf("postgres at %s does not answer: %w", redact(dsn), err)
	}
	drv, err := migratepg.WithInstance(db, &migratepg.Config{MigrationsTable: s.Table})
	if err != nil {
		return err
	}
	m, err := migrate.NewWithInstance("iofs", src, "postgres", drv)
	if err != nil {
		return err
	}
	defer m.Close()
	if err := m.Up(); err != nil && !errors.Is(err, migrate.ErrNoChange) {
		return err
	}
	return nil
}

// Tx runs fn in a transaction and commits when fn returns nil. A
// serialization failure (40001) or deadlock (40P01) from fn or the commit
// rolls back and runs fn again, up to 8 tries with jittered backoff, so fn
// must have no effects outside tx. Other errors roll back and are returned
// unchanged. fn's ctx carries tx (FromContext), so repositories called with
// it join the transaction. When ctx already carries a transaction, fn runs
// in it and the outer caller commits and retries.
func Tx(ctx context.Context, db *sqlx.DB, opts *sql.TxOptions, fn func(ctx context.Context, tx *sqlx.Tx) error) error {
	if tx := FromContext(ctx); tx != nil {
		return fn(ctx, tx)
	}
	const tries = 8
	backoff := 2 * time.Millisecond
	for i := 1; ; i++ {
		err := txOnce(ctx, db, opts, fn)
		if err == nil || i == tries || !Retryable(err) {
			return err
		}
		sleep := backoff/2 + rand.N(backoff)
		select {
		case <-ctx.Done():
			return err
		case <-time.After(sleep):
		}
		backoff = min(backoff*2, 200*time.Millisecond)
	}
}

func txOnce(ctx context.Context, db *sqlx.DB, opts *sql.TxOptions, fn func(context.Context, *sqlx.Tx) error) (err error) {
	tx, err := db.BeginTxx(ctx, opts)
	if err != nil {
		return err
	}
	defer func() {
		if p := recover(); p != nil {
			tx.Rollback()
			panic(p)
		}
		if err != nil {
			tx.Rollback()
		}
	}()
	st := &txState{tx: tx, db: db}
	if err = fn(withState(ctx, st), tx); err != nil {
		return err
	}
	if err = tx.Commit(); err != nil {
		return err
	}
	st.committed()
	return nil
}

// Postgres error codes the adapters translate.
const (
	CodeUniqueViolation      = "23505"
	CodeForeignKeyViolation  = "23503"
	CodeCheckViolation       = "23514"
	CodeSerializationFailure = "40001"
	CodeDeadlockDetected     = "40P01"
)

// Code returns the SQLSTATE of err's *pq.Error, or "".
func Code(err error) string {
	var pe *pq.Error
	if errors.As(err, &pe) {
		return string(pe.Code)
	}
	return ""
}

// Constraint returns the constraint name of err's *pq.Error, or "".
func Constraint(err error) string {
	var pe *pq.Error
	if errors.As(err, &pe) {
		return pe.Constraint
	}
	return ""
}

// Retryable reports whether Postgres aborted the transaction in a way that
// running it again can cure.
func Retryable(err error) bool {
	c := Code(err)
	return c == CodeSerializationFailure || c == CodeDeadlockDetected
}

// redact returns dsn printable, its password hidden.
func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" {
		return "<dsn>"
	}
	return u.Redacted()
}

type txKey struct{}

// WithTx returns ctx carrying tx.
func WithTx(ctx context.Context, tx *sqlx.Tx) context.Context {
	return context.WithValue(ctx, txKey{}, tx)
}

// FromContext returns the transaction ctx carries, or nil.
func FromContext(ctx context.Context) *sqlx.Tx {
	tx, _ := ctx.Value(txKey{}).(*sqlx.Tx)
	return tx
}

// Ext returns the transaction in ctx when there is one, else db: what a
// repository method queries through so that it joins a caller's transaction.
func Ext(ctx context.Context, db *sqlx.DB) sqlx.ExtContext {
	if tx := FromContext(ctx); tx != nil {
		return tx
	}
	return db
}

// Transactor runs a function in one transaction over db, carried by the
// function's ctx: the port services name Transactor, so that repository
// writes and events.Enqueue commit together.
type Transactor struct{ DB *sqlx.DB }

// InTx runs fn in a transaction carried by fn's ctx (joining the one ctx
// already carries, if any) and commits when fn returns nil. fn runs again
// when Postgres aborts the transaction for a serialization failure or a
// deadlock, so it must have no effects outside the database. It returns
// fn's error unchanged, or an internal error when the transaction cannot
// begin or commit.
func (t Transactor) InTx(ctx context.Context, fn func(ctx context.Context) error) error {
	fnFailed := false
	err := Tx(ctx, t.DB, nil, func(ctx context.Context, _ *sqlx.Tx) error {
		err := fn(ctx)
		fnFailed = err != nil
		return err
	})
	if err == nil || fnFailed {
		return err
	}
	return errs.Internalf(err, "transaction")
}
