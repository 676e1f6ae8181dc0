package pg

import (
	"context"
	"database/sql"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"weak"

	"github.com/jmoiron/sqlx"
)

// Statement is one SQL statement with parameters that runs prepared: it is
// prepared once per pool (a *sql.Stmt), which database/sql then prepares
// on each connection the first time that connection runs it, also inside a
// transaction (sql.Tx.StmtContext reuses the connection's copy). A
// prepared statement costs one round trip (Bind, Execute) where lib/pq
// spends two on an unprepared one (Parse and Describe, then Bind and
// Execute), and Postgres plans it once per connection instead of on every
// call: declare the statements of a hot path as package variables.
//
//	var selectUser = pg.NewStatement(`SELECT … WHERE id = $1`)
//	err := selectUser.GetContext(ctx, db, &u, id)
//
// The methods run the statement in the transaction ctx carries when there
// is one (pg.FromContext), else on db. Preparing on a pool needs a
// connection of the pool's own; when none frees up within a short wait
// (every connection held by transactions, at start under load), the call
// runs the statement unprepared and a later call prepares it. A
// transaction that Tx did not begin (one put in ctx with WithTx) runs it
// unprepared too, since its pool is unknown. A Statement is safe for
// concurrent use, over any number of pools.
type Statement struct {
	query string
	pools sync.Map // weak.Pointer[sqlx.DB] → *poolStmt
}

// poolStmt is a Statement on one pool.
type poolStmt struct {
	mu   sync.Mutex // one goroutine prepares at a time
	stmt atomic.Pointer[sqlx.Stmt]
}

// NewStatement returns query as a Statement. It does not touch a database.
func NewStatement(query string) *Statement { return &Statement{query: query} }

// Query returns the statement's SQL.
func (s *Statement) Query() string { return s.query }

// The waits for a connection to prepare on: Prepare's default, when ctx
// has no deadline, and that of a call finding the statement unprepared
// (which then runs it unprepared rather than wait longer).
const (
	prepareWait = 2 * time.Second
	prepareLazy = 100 * time.Millisecond
)

// Prepare prepares the statement on db now unless it is prepared already,
// waiting for a connection until ctx ends (at most 2 s when ctx has no
// deadline). Calls prepare lazily anyway: Prepare only moves the cost to a
// moment of the caller's choosing, such as a service's start.
func (s *Statement) Prepare(ctx context.Context, db *sqlx.DB) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, prepareWait)
		defer cancel()
	}
	p := s.on(db)
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.prepareLocked(ctx, db, s.query)
}

// Prepared reports whether the statement is prepared on db.
func (s *Statement) Prepared(db *sqlx.DB) bool {
	v, ok := s.pools.Load(weak.Make(db))
	return ok && v.(*poolStmt).stmt.Load() != nil
}

// GetContext runs the statement for one row, scanned into dest as
// sqlx.GetContext does (sql.ErrNoRows when there is none).
func (s *Statement) GetContext(ctx context.Context, db *sqlx.DB, dest any, args ...any) error {
	if st := s.bound(ctx, db); st != nil {
		return st.GetContext(ctx, dest, args...)
	}
	return sqlx.GetContext(ctx, Ext(ctx, db), dest, s.query, args...)
}

// SelectContext runs the statement for any number of rows, scanned into
// the slice dest points to as sqlx.SelectContext does.
func (s *Statement) SelectContext(ctx context.Context, db *sqlx.DB, dest any, args ...any) error {
	if st := s.bound(ctx, db); st != nil {
		return st.SelectContext(ctx, dest, args...)
	}
	return sqlx.SelectContext(ctx, Ext(ctx, db), dest, s.query, args...)
}

// ExecContext runs the statement for its effect.
func (s *Statement) ExecContext(ctx context.Context, db *sqlx.DB, args ...any) (sql.Result, error) {
	if st := s.bound(ctx, db); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return Ext(ctx, db).ExecContext(ctx, s.query, args...)
}

// bound returns the prepared statement to run in ctx: bound to the
// transaction ctx carries, else on db. It returns nil when the statement
// must run unprepared: its transaction's pool is unknown, or it is not
// prepared on the pool and a short attempt did not prepare it.
func (s *Statement) bound(ctx context.Context, db *sqlx.DB) *sqlx.Stmt {
	tx := FromContext(ctx)
	if tx != nil {
		// The transaction's own pool: a statement of another pool cannot
		// be bound to it.
		if db = DBFromContext(ctx); db == nil {
			return nil
		}
	}
	if db == nil {
		return nil
	}
	st := s.ready(ctx, db)
	if st == nil {
		return nil
	}
	if tx != nil {
		return tx.StmtxContext(ctx, st)
	}
	return st
}

// ready returns the statement prepared on db, preparing it first if no
// other goroutine is at it, waiting at most prepareLazy for a connection.
func (s *Statement) ready(ctx context.Context, db *sqlx.DB) *sqlx.Stmt {
	p := s.on(db)
	if st := p.stmt.Load(); st != nil {
		return st
	}
	if !p.mu.TryLock() {
		return nil
	}
	defer p.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), prepareLazy)
	defer cancel()
	_ = p.prepareLocked(ctx, db, s.query) // a failure runs the call unprepared, to fail or succeed there
	return p.stmt.Load()
}

// prepareLocked prepares query on db unless p holds it already; p.mu is held.
func (p *poolStmt) prepareLocked(ctx context.Context, db *sqlx.DB, query string) error {
	if p.stmt.Load() != nil {
		return nil
	}
	st, err := db.PreparexContext(ctx, query)
	if err != nil {
		return err
	}
	p.stmt.Store(st)
	return nil
}

// on returns the statement's state on db, made on first use. It is keyed
// by a weak pointer, so the Statement does not keep a pool nobody else
// holds alive: once db is collected its entry goes, and the prepared
// statement is closed.
func (s *Statement) on(db *sqlx.DB) *poolStmt {
	k := weak.Make(db)
	if v, ok := s.pools.Load(k); ok {
		return v.(*poolStmt)
	}
	v, loaded := s.pools.LoadOrStore(k, &poolStmt{})
	if !loaded {
		runtime.AddCleanup(db, s.forget, k)
	}
	return v.(*poolStmt)
}

// forget drops the state of a pool that has been collected.
func (s *Statement) forget(k weak.Pointer[sqlx.DB]) {
	if v, ok := s.pools.LoadAndDelete(k); ok {
		if st := v.(*poolStmt).stmt.Load(); st != nil {
			st.Close()
		}
	}
}
