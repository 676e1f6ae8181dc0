package pg

import (
	"context"
	"sync"

	"github.com/jmoiron/sqlx"
)

// txState is what Tx knows about the transaction it began, beyond the
// *sqlx.Tx that WithTx carries: the pool it came from (so prepared
// statements can be bound to it) and the work to do once it commits.
type txState struct {
	tx *sqlx.Tx
	db *sqlx.DB

	mu          sync.Mutex // fn may use its transaction from several goroutines
	afterCommit []func()
}

type txStateKey struct{}

// withState returns ctx carrying st beside st.tx.
func withState(ctx context.Context, st *txState) context.Context {
	return context.WithValue(WithTx(ctx, st.tx), txStateKey{}, st)
}

// stateOf returns the state of the transaction ctx carries when Tx began
// it, or nil (no transaction, or one that a caller put in ctx with WithTx).
func stateOf(ctx context.Context) *txState {
	st, _ := ctx.Value(txStateKey{}).(*txState)
	if st == nil || st.tx != FromContext(ctx) {
		return nil
	}
	return st
}

// DBFromContext returns the pool that Tx began the transaction in ctx on,
// or nil when ctx carries no transaction or one that Tx did not begin.
func DBFromContext(ctx context.Context) *sqlx.DB {
	if st := stateOf(ctx); st != nil {
		return st.db
	}
	return nil
}

// AfterCommit arranges for fn to run once the transaction ctx carries has
// committed, and reports whether it could: only a transaction that Tx
// began (not one put in ctx with WithTx) runs such functions. They run in
// the order registered, on the goroutine that called Tx, right after the
// commit succeeded; never when the transaction rolls back, and not for an
// attempt that Tx retries (the retry, running fn again, registers again).
// fn must be quick and must not fail the request: its transaction has
// committed already. A commit whose outcome is unknown (the connection
// broke during COMMIT) runs nothing.
func AfterCommit(ctx context.Context, fn func()) bool {
	st := stateOf(ctx)
	if st == nil {
		return false
	}
	st.mu.Lock()
	st.afterCommit = append(st.afterCommit, fn)
	st.mu.Unlock()
	return true
}

// OnCommit runs fn once what ctx has done is committed: after the commit of
// the transaction ctx carries (AfterCommit), or at once when it carries
// none begun by Tx (the caller's own work committed before returning). For
// effects outside the database, such as counting a business metric, that
// must happen once per committed change and never for a rolled-back or
// retried attempt.
func OnCommit(ctx context.Context, fn func()) {
	if !AfterCommit(ctx, fn) {
		fn()
	}
}

// committed runs the functions registered with AfterCommit.
func (st *txState) committed() {
	st.mu.Lock()
	fns := st.afterCommit
	st.mu.Unlock()
	for _, fn := range fns {
		fn()
	}
}
