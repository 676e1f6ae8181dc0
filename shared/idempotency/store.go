package idempotency

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/pg"
)

// record is a stored key as lookup reads it.
type record struct {
	RequestHash []byte        `db:"request_hash"`
	Claim       string        `db:"claim"`
	State       string        `db:"state"`
	Status      sql.NullInt64 `db:"status"`
	Headers     []byte        `db:"headers"`
	Body        []byte        `db:"body"`
	Stale       bool          `db:"stale"`
}

// The record's states.
const (
	stateInFlight = "in_flight"
	stateComplete = "complete"
)

// staleCond is the condition under which record k may be taken over: a
// complete one past its TTL (parameter ttl, in seconds), an in-flight one
// locked longer than the in-flight timeout (parameter timeout, in seconds).
// The database's clock decides, so replicas with skewed clocks agree.
func staleCond(ttl, timeout string) string {
	return `((k.state = 'complete' AND k.created_at <= now() - make_interval(secs => ` + ttl + `))
	OR (k.state = 'in_flight' AND k.locked_at <= now() - make_interval(secs => ` + timeout + `)))`
}

// insertSQL claims a key nobody holds. DO NOTHING (rather than DO UPDATE)
// on purpose: finding a conflict then neither locks the row nor writes, so
// a replay or a 409 costs no commit flush and never waits for the request
// that holds the key.
//
// The claim commits asynchronously (synchronous_commit off for this one
// statement's transaction), which saves a WAL flush per request, the
// largest part of the middleware's cost. It is safe: the WAL is one
// sequence, so the handler's transaction, which completes the record and
// commits synchronously, cannot be durable unless the claim before it is;
// a claim lost in a crash had no effect yet, and its client got no answer.
var insertSQL = pg.NewStatement(`
INSERT INTO idempotency_keys (scope, key, request_hash, claim, state, locked_at, created_at)
SELECT $1, $2, $3, $4, 'in_flight', now(), now()
FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit
ON CONFLICT (scope, key) DO NOTHING
RETURNING true`)

// insert claims k for token if no record holds it, and reports whether it did.
func insert(ctx context.Context, db *sqlx.DB, k Key, hash []byte, token string) (bool, error) {
	var ok bool
	err := insertSQL.GetContext(ctx, db, &ok, k.Scope, k.Key, hash, token)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, errs.Internalf(err, "idempotency: claim key")
	}
	return true, nil
}

var lookupSQL = pg.NewStatement(`
SELECT request_hash, claim, state, status, headers, body, ` + staleCond("$3", "$4") + ` AS stale
FROM idempotency_keys AS k
WHERE scope = $1 AND key = $2`)

// lookup returns the record of k, or nil when there is none.
func lookup(ctx context.Context, db *sqlx.DB, k Key, cfg Config) (*record, error) {
	var rec record
	err := lookupSQL.GetContext(ctx, db, &rec, k.Scope, k.Key, cfg.TTL.Seconds(), cfg.InFlightTimeout.Seconds())
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, errs.Internalf(err, "idempotency: look up key")
	}
	return &rec, nil
}

// takeoverSQL claims a stale record, but only the one lookup saw (its claim)
// and only if it is still stale. Under READ COMMITTED a concurrent taker's
// UPDATE makes this one wait and then re-check WHERE on the row the winner
// committed, whose claim differs: two takers cannot both win.
var takeoverSQL = pg.NewStatement(`
UPDATE idempotency_keys AS k
SET request_hash = $3, claim = $4, state = 'in_flight', locked_at = now(), created_at = now(),
    completed_at = NULL, status = NULL, headers = NULL, body = NULL
WHERE scope = $1 AND key = $2 AND claim = $5 AND ` + staleCond("$6", "$7"))

// takeover claims k for token if it still holds the stale record whose claim
// was seen, and reports whether it did.
func takeover(ctx context.Context, db *sqlx.DB, k Key, hash []byte, token, seen string, cfg Config) (bool, error) {
	res, err := takeoverSQL.ExecContext(ctx, db, k.Scope, k.Key, hash, token, seen,
		cfg.TTL.Seconds(), cfg.InFlightTimeout.Seconds())
	if err != nil {
		return false, errs.Internalf(err, "idempotency: take over key")
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, errs.Internalf(err, "idempotency: take over key")
	}
	return n == 1, nil
}

var completeSQL = pg.NewStatement(`
UPDATE idempotency_keys
SET state = 'complete', completed_at = now(), status = $4, headers = $5, body = $6
WHERE scope = $1 AND key = $2 AND claim = $3 AND state = 'in_flight'`)

// errClaimLost means another request took the record over while this one
// ran: its effects must roll back.
var errClaimLost = errors.New("idempotency: claim taken over")

// complete stores resp under the claim token holds, in the transaction ctx
// carries, else on db. It returns errClaimLost when the claim is no longer
// token's.
func complete(ctx context.Context, db *sqlx.DB, k Key, token string, resp stored) error {
	headers, err := json.Marshal(resp.Header)
	if err != nil {
		return errs.Internalf(err, "idempotency: marshal headers")
	}
	body := resp.Body
	if body == nil {
		body = []byte{} // a NULL body would read back as "no response"
	}
	// headers goes as text: lib/pq with binary_parameters=yes sends a
	// []byte in binary format, which is no valid jsonb (it lacks jsonb's
	// version byte), while bytea's binary format is the bytes themselves.
	res, err := completeSQL.ExecContext(ctx, db, k.Scope, k.Key, token, resp.Status, string(headers), body)
	if err != nil {
		return errs.Internalf(err, "idempotency: complete key")
	}
	if n, err := res.RowsAffected(); err != nil {
		return errs.Internalf(err, "idempotency: complete key")
	} else if n == 0 {
		return errClaimLost
	}
	return nil
}

var releaseSQL = pg.NewStatement(`DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND claim = $3 AND state = 'in_flight'`)

// release deletes token's claim if it is still in flight, so a retry runs
// afresh. A claim that completed (a commit reported failed that did
// succeed) is left alone: its effect exists and must be replayed. It
// outlives the request's cancellation; when it fails, the claim turns
// abandoned after InFlightTimeout.
func release(ctx context.Context, db *sqlx.DB, k Key, token string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, err := releaseSQL.ExecContext(ctx, db, k.Scope, k.Key, token); err != nil {
		return errs.Internalf(err, "idempotency: release claim")
	}
	return nil
}

// stored is a response as the record keeps it.
type stored struct {
	Status int
	Header http.Header // only storedHeaders
	Body   []byte
}

// storedHeaders are the response headers a replay repeats; the rest are
// set afresh by the middleware stack on every request.
var storedHeaders = []string{"Content-Type", "Location"}

// response returns the stored response of a complete record.
func (rec *record) response() (stored, error) {
	s := stored{Status: int(rec.Status.Int64), Body: rec.Body}
	if len(rec.Headers) > 0 {
		if err := json.Unmarshal(rec.Headers, &s.Header); err != nil {
			return stored{}, errs.Internalf(err, "idempotency: stored headers")
		}
	}
	return s, nil
}
