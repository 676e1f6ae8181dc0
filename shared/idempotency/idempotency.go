// Package idempotency makes POST routes safe to retry with an
// Idempotency-Key header, as API.md's Conventions describe: the same key and
// the same request within the TTL (24 h) get the stored status and body
// again with Idempotent-Replayed: true; the same key with a different
// request is a 422 idempotency_key_reused; a request whose key is still in
// flight is a 409 idempotency_in_progress (Retry-After: 1).
//
// Middleware wraps a route. For a request with a key it:
//
//  1. hashes the request (SHA-256 over method, escaped path, raw query and
//     body; the body is read, at most httpx.MaxBodyBytes, and restored for
//     the handler);
//  2. claims (scope, key) in its own short statement (INSERT … ON CONFLICT
//     DO NOTHING, committed asynchronously: see insertSQL). When a record
//     exists it reads it: one past its TTL or abandoned in flight (locked
//     longer than InFlightTimeout, e.g. by a crashed process) counts as
//     absent and is taken over by an UPDATE conditioned on the claim it saw
//     and on its staleness, so two takers cannot both win; a live one is
//     replayed (same hash, complete), refused with 422 (another hash) or
//     reported in flight with 409;
//  3. runs the handler inside one database transaction carried by the
//     request's context (pg.FromContext returns it, so repositories and
//     events.Enqueue join it), its response captured; in that transaction
//     it completes the record with the response's status, Content-Type,
//     Location and body, commits, and only then writes the response.
//
// So an effect and its idempotency record commit together or not at all.
// The completing UPDATE names the claim it took (a UUID): a request whose
// claim was taken over meanwhile completes nothing, rolls its effects back
// and answers 409, so even a stalled process that wakes up late cannot apply
// an effect twice. The handler's context also carries a deadline of
// InFlightTimeout, so a live request normally ends before anyone may take
// its record over.
//
// Answers by status:
//   - 2xx and 3xx: effects and record commit together;
//   - 4xx: stored and replayed like a success (Stripe does the same: the same
//     request gets the same answer), but the handler's transaction is rolled
//     back first, because a 4xx promises no effect and a service method
//     joining the outer transaction may have written before it failed;
//   - 5xx, a panic, a failed commit or a cancelled request: everything rolls
//     back and the claim is deleted, so a retry executes afresh.
//
// Service code in the handler that runs pg.Tx or pg.Transactor.InTx joins
// the middleware's transaction, so a serialization failure or deadlock no
// longer gets retried there: it comes back to the endpoint as an error.
// Wrap the route's go-kit error encoder with ErrorEncoder (plain handlers
// call NoteError) and the middleware rolls back and runs the handler again,
// up to pg.Tx's tries, with a fresh recorder and body; without it the
// client gets a 500 and may retry. Effects outside the database (a call to
// Stripe) are not rolled back: such a handler makes them idempotent itself,
// e.g. with a key derived from KeyFrom. The handler's transaction holds a
// pooled connection for as long as it runs, and its response is buffered
// whole (no streaming): both fit the small JSON answers of (I) routes.
//
// Requests without a key pass through untouched (nothing is stored) unless
// Config.Required, which answers 400 idempotency_key_required. Safe methods
// (GET, HEAD, OPTIONS, TRACE) always pass through. Keys are scoped to the
// caller (Config.Scope), so two callers' equal keys are independent. Purge,
// or a Janitor run beside the server, deletes records past their TTL; the
// table comes from Migrations, applied beside events.Migrations.
package idempotency

import (
	"context"
	"database/sql"
	"embed"
	"net/http"
	"time"

	"github.com/go-kit/log"

	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/pg"
)

// The headers of the protocol.
const (
	HeaderKey      = "Idempotency-Key"
	HeaderReplayed = "Idempotent-Replayed"
)

// Defaults of Config's zero fields, and the longest key accepted.
const (
	DefaultTTL             = 24 * time.Hour
	DefaultInFlightTimeout = 60 * time.Second
	MaxKeyLength           = 255
)

// The errors Middleware answers, as problems through httpx.WriteError;
// match them with errors.Is (by code).
var (
	ErrKeyRequired = errs.New(errs.Invalid, "idempotency_key_required", "this request needs an Idempotency-Key header")
	ErrBadKey      = errs.New(errs.Invalid, "idempotency_key_invalid", "the Idempotency-Key must be 1 to 255 printable ASCII characters, sent once")
	ErrKeyReused   = errs.New(errs.FailedPrecondition, "idempotency_key_reused", "this Idempotency-Key was used with a different request")
	ErrInProgress  = errs.New(errs.Conflict, "idempotency_in_progress", "a request with this Idempotency-Key is still in progress; retry shortly")
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Migrations creates the idempotency_keys table. Services that wrap routes
// with Middleware apply it beside their own migrations and events.Migrations.
var Migrations = pg.Migrations{FS: migrationFS, Dir: "migrations", Table: "idempotency_schema_migrations"}

// Config configures Middleware. Scope is required; the zero values of the
// other fields take the defaults.
type Config struct {
	// Scope names the caller a key belongs to, e.g. the verified token's
	// subject (see BearerSubject). Its error is answered as a problem (an
	// errs Unauthenticated error is a 401); an empty scope is a 500, since
	// it would let every caller see every other caller's keys.
	Scope func(*http.Request) (string, error)
	// Required makes a request without a key a 400 idempotency_key_required
	// (API.md: money-moving routes).
	Required bool
	// TTL is how long a completed response is replayed (DefaultTTL).
	TTL time.Duration
	// InFlightTimeout is how long a claim holds before it counts as
	// abandoned and may be taken over (DefaultInFlightTimeout). It is also
	// the deadline of the handler's context.
	InFlightTimeout time.Duration
	// TxOptions are the options of the handler's transaction (nil: the
	// server's default isolation). Service code that runs pg.Tx inside the
	// handler joins this transaction and its own options are ignored.
	TxOptions *sql.TxOptions
	// Logger receives server faults and takeovers (nop when nil).
	Logger log.Logger
}

func (c Config) withDefaults() Config {
	if c.Scope == nil {
		panic("idempotency: Config.Scope is required")
	}
	if c.TTL <= 0 {
		c.TTL = DefaultTTL
	}
	if c.InFlightTimeout <= 0 {
		c.InFlightTimeout = DefaultInFlightTimeout
	}
	if c.Logger == nil {
		c.Logger = log.NewNopLogger()
	}
	return c
}

type keyCtx struct{}

// Key is the idempotency key of the request being executed.
type Key struct {
	Scope string // the caller, from Config.Scope
	Key   string // the client's Idempotency-Key
}

// KeyFrom returns the key of the request whose handler ctx belongs to, and
// false for a request without one. A handler calling a third party (Stripe)
// derives that call's idempotency key from it, so a retried request cannot
// charge twice there either.
func KeyFrom(ctx context.Context) (Key, bool) {
	k, ok := ctx.Value(keyCtx{}).(Key)
	return k, ok
}

func withKey(ctx context.Context, k Key) context.Context {
	return context.WithValue(ctx, keyCtx{}, k)
}
