package idempotency

import (
	"context"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/jmoiron/sqlx"

	"github.com/azora-os/azora/shared/errs"
)

// purgeBatch bounds one DELETE, so a purge after a long outage never holds
// locks on (or writes WAL for) millions of rows in one transaction.
const purgeBatch = 5000

// DefaultPurgeInterval is how often a Janitor purges when Every is zero.
const DefaultPurgeInterval = 10 * time.Minute

// purgeSQL deletes one batch. SKIP LOCKED leaves rows a request is taking
// over or completing right now to the next round instead of waiting.
const purgeSQL = `
DELETE FROM idempotency_keys
WHERE (scope, key) IN (
    SELECT scope, key FROM idempotency_keys
    WHERE created_at < $1
    ORDER BY created_at
    LIMIT $2
    FOR UPDATE SKIP LOCKED)`

// Purge deletes every record created before before, complete or (then
// certainly abandoned) in flight, in batches, and returns how many it
// deleted. Pass time.Now().Add(-ttl): records past their TTL are never
// replayed anyway, so this only reclaims space. It returns an internal
// error, with the count deleted so far, when a batch fails.
func Purge(ctx context.Context, db *sqlx.DB, before time.Time) (int64, error) {
	var total int64
	for {
		res, err := db.ExecContext(ctx, purgeSQL, before, purgeBatch)
		if err != nil {
			return total, errs.Internalf(err, "idempotency: purge")
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, errs.Internalf(err, "idempotency: purge")
		}
		total += n
		if n < purgeBatch {
			return total, nil
		}
	}
}

// Janitor purges expired records periodically; run it beside the server
// (app.Go("idempotency janitor", j.Run)). Every replica may run one: their
// batches skip each other's locked rows.
type Janitor struct {
	DB     *sqlx.DB
	TTL    time.Duration // records older than this go (DefaultTTL)
	Every  time.Duration // how often (DefaultPurgeInterval)
	Logger log.Logger    // nop when nil
}

var errJanitorConfig = errs.New(errs.Internal, "idempotency_janitor_misconfigured", "the idempotency janitor needs a DB")

// Run purges at once and then every Every until ctx is done, and returns
// nil then. A failed purge is logged and tried again next round; Run
// returns an error only when DB is nil.
func (j Janitor) Run(ctx context.Context) error {
	if j.DB == nil {
		return errJanitorConfig
	}
	if j.TTL <= 0 {
		j.TTL = DefaultTTL
	}
	if j.Every <= 0 {
		j.Every = DefaultPurgeInterval
	}
	logger := j.Logger
	if logger == nil {
		logger = log.NewNopLogger()
	}
	logger = log.With(logger, "component", "idempotency_janitor")
	t := time.NewTicker(j.Every)
	defer t.Stop()
	for {
		n, err := Purge(ctx, j.DB, time.Now().Add(-j.TTL))
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			level.Warn(logger).Log("msg", "purge failed; trying again next round", "deleted", n, "err", err)
		case n > 0:
			level.Debug(logger).Log("msg", "purged expired idempotency keys", "deleted", n)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
