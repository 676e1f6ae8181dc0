package events

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/jmoiron/sqlx"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/azora-os/azora/shared/errs"
)

// relayLockKey is the session advisory lock that makes one relay per
// database the publisher. Each service has its own database, so one
// constant serves all of them ("azoraobx" read as a big-endian int64).
const relayLockKey int64 = 0x617a6f72616f6278

// Relay publishes outbox rows to Kafka. Run it in every replica of a
// service: the instances elect one publisher through a Postgres advisory
// lock and the others stand by, so rows leave in order from one producer
// and are not published twice in normal operation.
//
// Delivery is at least once: a row is marked sent only after Kafka
// acknowledged it (acks=all), so a crash between the acknowledgement and
// the UPDATE publishes the row again. Rows are read as "unsent, by seq"
// rather than after a high-water mark, so a transaction that commits after
// one with a later seq is still published (after it: commit order), never
// skipped.
//
// Order per key holds as far as Kafka keeps it: rows are produced in seq
// order by one idempotent producer, whose retries never reorder a
// partition, and which stops (gapless guarantee, see ProducerConfig) rather
// than let a later message overtake one the broker rejected; the relay
// then restarts it from the oldest unsent row. The remaining gap: when a
// message's 30 s delivery timeout expires while a later one of the same
// key still lands, the timed-out row goes out again on the next pass,
// after the later one. Consumers dedupe by event id (the inbox) and
// must tolerate that rare inversion. A batch waits for all its delivery
// reports, so a row whose topic does not exist slows every pass to the
// delivery timeout until the topic is created.
type Relay struct {
	DB       *sqlx.DB      // the service's database, holding the outbox table
	DSN      string        // the same database, for the LISTEN connection
	Brokers  string        // Kafka bootstrap servers, comma-separated
	Security KafkaSecurity // TLS and SASL, for brokers that ask for them
	Logger   log.Logger    // nil: no logs

	BatchSize    int           // rows per poll; default 500
	PollInterval time.Duration // fallback poll, standby retry; default 1s
	Retention    time.Duration // how long sent rows are kept; default 7 days

	// Metrics, when set, receives the azora_outbox_* series.
	Metrics prometheus.Registerer
}

// Defaults of the Relay's zero fields, and the cadence of purges.
const (
	DefaultRelayBatchSize    = 500
	DefaultRelayPollInterval = time.Second
	DefaultRelayRetention    = 7 * 24 * time.Hour
	relayPurgeEvery          = time.Hour
	relayQueryTimeout        = 10 * time.Second
	relayShutdownGrace       = 2 * time.Second
)

var errRelayConfig = errs.New(errs.Internal, "relay_misconfigured", "the outbox relay is misconfigured")

// relayRun is one Run's resolved settings and state.
type relayRun struct {
	Relay
	metrics *relayMetrics
}

// Run contends for the relay lock and, while it holds it, publishes the
// outbox until ctx is done; it then closes its producer and listener,
// releases the lock and returns nil. Losing the lock's connection (or any
// database or producer failure) stops publishing; Run logs it and contends
// again every PollInterval. It returns an error only for a misconfigured
// Relay (no DB, DSN or Brokers) or metrics that cannot be registered.
func (r *Relay) Run(ctx context.Context) error {
	rr := &relayRun{Relay: *r}
	if rr.DB == nil || rr.DSN == "" || rr.Brokers == "" {
		return errRelayConfig.WithMessage("events.Relay needs DB, DSN and Brokers")
	}
	if rr.Logger == nil {
		rr.Logger = log.NewNopLogger()
	}
	rr.Logger = log.With(rr.Logger, "component", "outbox_relay")
	if rr.BatchSize <= 0 {
		rr.BatchSize = DefaultRelayBatchSize
	}
	if rr.PollInterval <= 0 {
		rr.PollInterval = DefaultRelayPollInterval
	}
	if rr.Retention <= 0 {
		rr.Retention = DefaultRelayRetention
	}
	m, err := newRelayMetrics(rr.Metrics)
	if err != nil {
		return errRelayConfig.WithMessage("register relay metrics").Wrap(err)
	}
	rr.metrics = m

	standbyLogged := false
	for {
		conn, err := rr.acquire(ctx)
		switch {
		case ctx.Err() != nil:
			if conn != nil {
				discard(conn)
			}
			return nil
		case err != nil:
			level.Warn(rr.Logger).Log("msg", "cannot contend for the relay lock", "err", err)
		case conn == nil:
			if !standbyLogged {
				level.Info(rr.Logger).Log("msg", "another relay is active; standing by")
				standbyLogged = true
			}
		default:
			standbyLogged = false
			level.Info(rr.Logger).Log("msg", "relay lock acquired; publishing")
			err := rr.lead(ctx, conn)
			discard(conn)
			if ctx.Err() != nil {
				level.Info(rr.Logger).Log("msg", "relay stopped")
				return nil
			}
			level.Error(rr.Logger).Log("msg", "relay stopped publishing; contending again", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(rr.PollInterval):
		}
	}
}

// acquire takes a connection out of the pool and tries the relay lock on
// it. It returns the connection holding the lock, or nil when another
// session holds it.
func (rr *relayRun) acquire(ctx context.Context) (*sql.Conn, error) {
	qctx, cancel := context.WithTimeout(ctx, relayQueryTimeout)
	defer cancel()
	conn, err := rr.DB.Conn(qctx)
	if err != nil {
		return nil, err
	}
	var got bool
	if err := conn.QueryRowContext(qctx, `SELECT pg_try_advisory_lock($1)`, relayLockKey).Scan(&got); err != nil {
		discard(conn)
		return nil, err
	}
	if !got {
		conn.Close()
		return nil, nil
	}
	// This session only stamps sent_at and purges sent rows. Losing such a
	// write in a crash just republishes rows (duplicates are allowed, the
	// inbox absorbs them), so it need not wait for the WAL flush — which
	// keeps the relay off the fsync queue that producers' commits wait in.
	// The session is discarded, never pooled, so the setting dies with it.
	if _, err := conn.ExecContext(qctx, `SET synchronous_commit = off`); err != nil {
		discard(conn)
		return nil, err
	}
	return conn, nil
}

// discard closes conn's session instead of returning it to the pool, which
// releases the advisory lock it may hold whatever state it is in.
func discard(conn *sql.Conn) {
	_ = conn.Raw(func(any) error { return driver.ErrBadConn })
	_ = conn.Close()
}

// purge deletes rows sent more than Retention ago, a chunk at a time so no
// single statement holds locks on a large part of the table.
func (rr *relayRun) purge(ctx context.Context, conn *sql.Conn) error {
	const chunk = 5000
	const q = `
DELETE FROM outbox WHERE seq IN (
    SELECT seq FROM outbox
    WHERE sent_at IS NOT NULL AND sent_at < now() - make_interval(secs => $1)
    LIMIT $2)`
	total := int64(0)
	for {
		qctx, cancel := context.WithTimeout(ctx, relayQueryTimeout)
		res, err := conn.ExecContext(qctx, q, rr.Retention.Seconds(), chunk)
		cancel()
		if err != nil {
			return fmt.Errorf("purge sent outbox rows: %w", err)
		}
		n, _ := res.RowsAffected()
		total += n
		if n < chunk {
			break
		}
	}
	if total > 0 {
		level.Info(rr.Logger).Log("msg", "purged sent outbox rows", "rows", total, "retention", rr.Retention)
	}
	return nil
}

// sampleBacklog sets the backlog gauge, counting at most a million rows so
// a huge backlog does not make the sample itself slow.
func (rr *relayRun) sampleBacklog(ctx context.Context, conn *sql.Conn) error {
	qctx, cancel := context.WithTimeout(ctx, relayQueryTimeout)
	defer cancel()
	var n int64
	err := conn.QueryRowContext(qctx,
		`SELECT count(*) FROM (SELECT 1 FROM outbox WHERE sent_at IS NULL LIMIT 1000000) s`).Scan(&n)
	if err != nil {
		return fmt.Errorf("count unsent outbox rows: %w", err)
	}
	rr.metrics.backlog.Set(float64(n))
	return nil
}
