package idempotency_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/httpx"
	"github.com/azora-os/azora/shared/idempotency"
	"github.com/azora-os/azora/shared/pg"
	"github.com/azora-os/azora/shared/pg/pgtest"
)

// testMigrations creates the effects table the test handler writes.
var testMigrations = pg.Migrations{FS: os.DirFS("testdata"), Dir: "migrations", Table: "idempotency_test_schema_migrations"}

// newDB returns a database with the idempotency and effects tables. Making
// one takes a few hundred milliseconds, so the cases of a test share one and
// keep apart by scope (see fixture).
func newDB(t testing.TB) *sqlx.DB {
	t.Helper()
	db, _ := pgtest.New(t, idempotency.Migrations, testMigrations)
	return db
}

// eachCase runs cases as parallel subtests over one database.
func eachCase(t *testing.T, cases []namedCase) {
	db := newDB(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.run(t, db)
		})
	}
}

type namedCase struct {
	name string
	run  func(t *testing.T, db *sqlx.DB)
}

// Headers the fixture's requests carry: the test they belong to and the
// caller making them.
const (
	headerTest   = "X-Test"
	headerCaller = "X-Caller"
)

// callerScope scopes keys to the test and the X-Caller header; without a
// caller the request is unauthenticated, as one without a token would be.
func callerScope(r *http.Request) (string, error) {
	if c := r.Header.Get(headerCaller); c != "" {
		return r.Header.Get(headerTest) + "|" + c, nil
	}
	return "", errs.New(errs.Unauthenticated, "missing_token", "a bearer token is required")
}

// effectRequest is the test handler's body. Answer makes it answer that
// status (after writing its effect); Parent names the effect's parent, which
// the database checks only at commit.
type effectRequest struct {
	Label  string `json:"label"`
	Answer int    `json:"answer,omitempty"`
	Parent string `json:"parent,omitempty"`
}

// effectResponse is what the handler answers on success: the effect's
// generated id.
type effectResponse struct {
	ID    string `json:"id"`
	Label string `json:"label"`
}

// effects is the route under test: it inserts one effect row through the
// transaction in its context and answers 201 with the row's id. hook, when
// set, runs after the insert with the call's number (from 1); a non-zero
// status from it overrides the body's Answer.
type effects struct {
	db    *sqlx.DB
	calls atomic.Int64
	hook  func(r *http.Request, call int64) int
}

var errTestConflict = errs.New(errs.Conflict, "test_conflict", "the test handler refuses")

func (h *effects) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	call := h.calls.Add(1)
	nop := log.NewNopLogger()
	var req effectRequest
	if err := httpx.DecodeJSON(r, &req); err != nil {
		httpx.WriteError(w, r, nop, err)
		return
	}
	id, _ := uuid.NewV7()
	var parent *string
	if req.Parent != "" {
		parent = &req.Parent
	}
	if _, err := pg.Ext(r.Context(), h.db).ExecContext(r.Context(),
		`INSERT INTO effects (id, test, label, parent) VALUES ($1, $2, $3, $4)`,
		id, r.Header.Get(headerTest), req.Label, parent); err != nil {
		httpx.WriteError(w, r, nop, errs.Internalf(err, "insert effect"))
		return
	}
	answer := req.Answer
	if h.hook != nil {
		if s := h.hook(r, call); s != 0 {
			answer = s
		}
	}
	switch {
	case answer >= 500:
		httpx.WriteError(w, r, nop, errs.Internalf(io.ErrUnexpectedEOF, "test failure"))
	case answer >= 400:
		httpx.WriteError(w, r, nop, errTestConflict)
	default:
		w.Header().Set("Location", "/effects/"+id.String())
		w.Header().Set("X-Fresh-Only", "yes")
		_ = httpx.WriteJSON(w, http.StatusCreated, effectResponse{ID: id.String(), Label: req.Label})
	}
}

// fixture is a server running the effects route behind the middleware and
// the shared stack, as a service mounts it. Its requests carry X-Test: id,
// so its effects and records are its own in a shared database.
type fixture struct {
	id      string
	db      *sqlx.DB
	h       *effects
	srv     *httptest.Server
	handled chan struct{} // one value each time the middleware returns
}

func newFixture(t testing.TB, db *sqlx.DB, cfg idempotency.Config) *fixture {
	t.Helper()
	if cfg.Scope == nil {
		cfg.Scope = callerScope
	}
	f := &fixture{id: t.Name(), db: db, h: &effects{db: db}, handled: make(chan struct{}, 1000)}
	route := idempotency.Middleware(db, cfg)(f.h)
	done := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() { f.handled <- struct{}{} }()
		route.ServeHTTP(w, r)
	})
	f.srv = httptest.NewServer(httpx.Stack(log.NewNopLogger(), done))
	t.Cleanup(f.srv.Close)
	return f
}

// reply is a response as the tests inspect it.
type reply struct {
	status  int
	header  http.Header
	body    string
	problem httpx.Problem
	effect  effectResponse
}

func (r reply) replayed() bool { return r.header.Get(idempotency.HeaderReplayed) == "true" }

// request returns a JSON request to the fixture's server as caller ("" for
// an anonymous one) with key ("" for none).
func (f *fixture) request(ctx context.Context, method, path, caller, key string, body io.Reader) *http.Request {
	req, err := http.NewRequestWithContext(ctx, method, f.srv.URL+path, body)
	if err != nil {
		panic(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(headerTest, f.id)
	if caller != "" {
		req.Header.Set(headerCaller, caller)
	}
	if key != "" {
		req.Header.Set(idempotency.HeaderKey, key)
	}
	return req
}

// post sends body to /effects as caller with key.
func (f *fixture) post(t testing.TB, caller, key string, body effectRequest) reply {
	t.Helper()
	return f.do(t, http.MethodPost, "/effects", caller, key, body)
}

func (f *fixture) do(t testing.TB, method, path, caller, key string, body effectRequest) reply {
	t.Helper()
	b, _ := json.Marshal(body)
	return send(t, f.request(context.Background(), method, path, caller, key, strings.NewReader(string(b))))
}

// send does req. It may run on goroutines other than the test's, so a
// failed exchange is an error and a reply with status 0, not a Fatal.
func send(t testing.TB, req *http.Request) reply {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("%s %s: %v", req.Method, req.URL.Path, err)
		return reply{header: http.Header{}}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Errorf("read body: %v", err)
	}
	r := reply{status: resp.StatusCode, header: resp.Header, body: string(b)}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/problem+json") {
		_ = json.Unmarshal(b, &r.problem)
	} else {
		_ = json.Unmarshal(b, &r.effect)
	}
	return r
}

// effects counts the fixture's effect rows.
func (f *fixture) effects(t testing.TB) int {
	t.Helper()
	return count(t, f.db, `SELECT count(*) FROM effects WHERE test = $1`, f.id)
}

// records counts the fixture's idempotency records matching where.
func (f *fixture) records(t testing.TB, where string) int {
	t.Helper()
	return count(t, f.db, `SELECT count(*) FROM idempotency_keys WHERE starts_with(scope, $1) AND `+where, f.id+"|")
}

// age runs set (an UPDATE's SET list) on the fixture's records.
func (f *fixture) age(t testing.TB, set string) {
	t.Helper()
	if _, err := f.db.Exec(`UPDATE idempotency_keys SET `+set+` WHERE starts_with(scope, $1)`, f.id+"|"); err != nil {
		t.Fatalf("age records: %v", err)
	}
}

func count(t testing.TB, db *sqlx.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.Get(&n, query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func wantStatus(t testing.TB, r reply, status int, code string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status: got %d, want %d (body %s)", r.status, status, r.body)
	}
	if r.problem.Code != code {
		t.Fatalf("problem code: got %q, want %q (body %s)", r.problem.Code, code, r.body)
	}
}

// waitHandled waits for the middleware to return n times.
func (f *fixture) waitHandled(t testing.TB, n int) {
	t.Helper()
	for range n {
		select {
		case <-f.handled:
		case <-time.After(10 * time.Second):
			t.Fatal("the server did not finish the request within 10s")
		}
	}
}
