package idempotency

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"

	httptransport "github.com/go-kit/kit/transport/http"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/httpx"
	"github.com/azora-os/azora/shared/logging"
	"github.com/azora-os/azora/shared/pg"
)

// claimTries bounds how often a request re-reads a record that changes
// under it (deleted after a 5xx, gone stale) before answering 409.
const claimTries = 3

// Middleware returns the idempotency middleware over db, which must hold
// Migrations' table and be the database the wrapped handlers write to. Mount
// it on the (I) POST routes, inside httpx.Stack (whose BodyLimit it
// relies on) and outside the handler; give the route's go-kit server
// ErrorEncoder, so serialization failures inside are retried.
//
// It answers, as problems: Scope's error; a 500 for an empty scope;
// ErrBadKey (400) for a malformed key; ErrKeyRequired (400) for a missing
// one when cfg.Required; httpx.ErrPayloadTooLarge (413); ErrKeyReused (422);
// ErrInProgress (409, Retry-After: 1); a 500 when the database fails. It
// panics when cfg.Scope is nil.
func Middleware(db *sqlx.DB, cfg Config) func(http.Handler) http.Handler {
	cfg = cfg.withDefaults()
	return func(next http.Handler) http.Handler {
		return &middleware{db: db, cfg: cfg, next: next}
	}
}

type middleware struct {
	db   *sqlx.DB
	cfg  Config
	next http.Handler
}

func (m *middleware) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		m.next.ServeHTTP(w, r)
		return
	}
	key, sent, keyErr := keyOf(r)
	if !sent && !m.cfg.Required {
		m.next.ServeHTTP(w, r)
		return
	}
	// The caller first: an anonymous request is a 401 before its key is judged.
	scope, err := m.cfg.Scope(r)
	switch {
	case err != nil:
		m.fail(w, r, err)
	case scope == "":
		m.fail(w, r, errs.Internalf(errors.New("Config.Scope returned an empty scope"), "idempotency"))
	case keyErr != nil:
		m.fail(w, r, keyErr)
	case !sent:
		m.fail(w, r, ErrKeyRequired)
	default:
		body, err := readBody(r)
		if err != nil {
			m.fail(w, r, err)
			return
		}
		m.serve(w, r, Key{Scope: scope, Key: key}, requestHash(r, body), body)
	}
}

// serve claims k and executes the request, or answers from the live record.
func (m *middleware) serve(w http.ResponseWriter, r *http.Request, k Key, hash, body []byte) {
	ctx := r.Context()
	u, err := uuid.NewV7()
	if err != nil {
		m.fail(w, r, errs.Internalf(err, "idempotency: claim token"))
		return
	}
	token := u.String()
	for range claimTries {
		claimed, err := insert(ctx, m.db, k, hash, token)
		if err != nil {
			m.claimFailed(w, r, k, token, err)
			return
		}
		if claimed {
			m.execute(w, r, k, token, body)
			return
		}
		rec, err := lookup(ctx, m.db, k, m.cfg)
		switch {
		case err != nil:
			m.fail(w, r, err)
			return
		case rec == nil: // released since the insert: claim again
			continue
		case rec.Stale: // expired or abandoned: as good as absent
			took, err := takeover(ctx, m.db, k, hash, token, rec.Claim, m.cfg)
			if err != nil {
				m.claimFailed(w, r, k, token, err)
				return
			}
			if !took { // another request took it first
				continue
			}
			if rec.State == stateInFlight {
				level.Warn(m.logger(ctx)).Log("msg", "took over an abandoned in-flight idempotency key", "scope", k.Scope)
			}
			m.execute(w, r, k, token, body)
			return
		case !bytes.Equal(rec.RequestHash, hash):
			m.fail(w, r, ErrKeyReused)
			return
		case rec.State == stateInFlight:
			m.inProgress(w, r)
			return
		}
		s, err := rec.response()
		if err != nil {
			m.fail(w, r, err)
			return
		}
		replay(w, s)
		return
	}
	m.inProgress(w, r)
}

// claimFailed answers a claim that failed; the statement may have committed
// before the error reached us, so the claim is released.
func (m *middleware) claimFailed(w http.ResponseWriter, r *http.Request, k Key, token string, err error) {
	m.release(r.Context(), k, token)
	m.fail(w, r, err)
}

// errRollback makes pg.Tx roll back a transaction whose handler answered
// an error; the captured answer is still sent.
var errRollback = errors.New("idempotency: the handler answered an error")

// execute runs the handler in a transaction that also completes k's record,
// then sends the handler's answer (see the package doc for each outcome).
func (m *middleware) execute(w http.ResponseWriter, r *http.Request, k Key, token string, body []byte) {
	ctx, cancel := context.WithTimeout(withKey(r.Context(), k), m.cfg.InFlightTimeout)
	defer cancel()
	defer func() {
		if p := recover(); p != nil { // pg.Tx has rolled back already
			m.release(ctx, k, token)
			panic(p)
		}
	}()
	var rec *capture
	err := pg.Tx(ctx, m.db, m.cfg.TxOptions, func(ctx context.Context, _ *sqlx.Tx) error {
		rec = newCapture(w)
		a := &attempt{}
		req := r.WithContext(withAttempt(ctx, a))
		req.Body = io.NopCloser(bytes.NewReader(body))
		m.next.ServeHTTP(rec, req)
		if a.retry != nil {
			return a.retry // a serialization failure or deadlock: pg.Tx runs us again
		}
		res := rec.result()
		if res.Status >= 400 {
			return errRollback
		}
		return complete(ctx, m.db, k, token, res) // in tx, which ctx carries
	})
	switch {
	case err == nil:
		rec.send(w)
	case errors.Is(err, errRollback) && rec.result().Status < 500:
		// A 4xx is the request's answer: stored, but with no effect.
		if err := complete(ctx, m.db, k, token, rec.result()); err != nil {
			m.completeFailed(w, r, rec, k, token, err)
			return
		}
		rec.send(w)
	case errors.Is(err, errRollback):
		m.release(ctx, k, token)
		rec.send(w)
	case errors.Is(err, errClaimLost):
		level.Warn(m.logger(ctx)).Log("msg", "idempotency key taken over while the request ran; rolled back", "scope", k.Scope)
		m.inProgress(w, r)
	default: // begin, complete or commit failed, or the request was cancelled
		m.release(ctx, k, token)
		m.fail(w, r, errs.Internalf(err, "idempotency: execute request"))
	}
}

// completeFailed answers a 4xx whose record could not be stored. Another
// request owning the key now decides the key's answer, so this one says
// 409 like any other latecomer; otherwise the 4xx, which had no effect, is
// still the answer, and the released key lets a retry run afresh.
func (m *middleware) completeFailed(w http.ResponseWriter, r *http.Request, rec *capture, k Key, token string, err error) {
	if errors.Is(err, errClaimLost) {
		m.inProgress(w, r)
		return
	}
	level.Error(m.logger(r.Context())).Log("msg", "cannot store a 4xx answer for its idempotency key", "scope", k.Scope, "err", err)
	m.release(r.Context(), k, token)
	rec.send(w)
}

func (m *middleware) release(ctx context.Context, k Key, token string) {
	if err := release(ctx, m.db, k, token); err != nil {
		level.Error(m.logger(ctx)).Log("msg", "cannot release idempotency claim; it expires after the in-flight timeout",
			"scope", k.Scope, "err", err)
	}
}

func (m *middleware) inProgress(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Retry-After", "1")
	m.fail(w, r, ErrInProgress)
}

func (m *middleware) fail(w http.ResponseWriter, r *http.Request, err error) {
	httpx.WriteError(w, r, m.cfg.Logger, err)
}

func (m *middleware) logger(ctx context.Context) log.Logger {
	return logging.With(ctx, m.cfg.Logger)
}

// ServerErrorEncoder is the go-kit server option every route wrapped in
// Middleware takes, in place of httpx's plain encoder: it lets the
// middleware re-run the handler after a serialization failure or
// deadlock instead of answering 500 (see ErrorEncoder).
func ServerErrorEncoder(logger log.Logger) httptransport.ServerOption {
	return httptransport.ServerErrorEncoder(ErrorEncoder(httpx.ErrorEncoder(logger)))
}
