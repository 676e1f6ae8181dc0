package idempotency_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	httptransport "github.com/go-kit/kit/transport/http"
	"github.com/go-kit/log"
	"github.com/google/uuid"

	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/httpx"
	"github.com/azora-os/azora/shared/idempotency"
	"github.com/azora-os/azora/shared/pg"
)

// TestSerializationFailureIsRetried runs a go-kit route whose service code
// joins the middleware's transaction and fails with a serialization failure:
// with idempotency.ErrorEncoder the middleware runs it again, as pg.Tx would
// have; without it the client gets a 500 and the key is released.
func TestSerializationFailureIsRetried(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		wrap     bool
		failures int64 // calls that fail before one succeeds
		status   int
		calls    int64
		effects  int
		records  int
	}{
		{"with ErrorEncoder: retried", true, 2, http.StatusCreated, 3, 1, 1},
		{"with ErrorEncoder: retries exhausted", true, 100, http.StatusInternalServerError, 8, 0, 0},
		{"without: a 500, key released", false, 2, http.StatusInternalServerError, 1, 0, 0},
	}
	db := newDB(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int64
			ep := func(ctx context.Context, _ any) (any, error) {
				call := calls.Add(1)
				id, _ := uuid.NewV7()
				// Service code opening "its own" transaction joins the middleware's.
				err := pg.Transactor{DB: db}.InTx(ctx, func(ctx context.Context) error {
					if _, err := pg.Ext(ctx, db).ExecContext(ctx, `INSERT INTO effects (id, test, label) VALUES ($1, $2, 'kit')`, id, t.Name()); err != nil {
						return errs.Internalf(err, "insert")
					}
					if call <= tt.failures {
						_, err := pg.Ext(ctx, db).ExecContext(ctx,
							`DO $$ BEGIN RAISE EXCEPTION 'simulated' USING ERRCODE = 'serialization_failure'; END $$`)
						return errs.Internalf(err, "simulated conflict")
					}
					return nil
				})
				if err != nil {
					return nil, err
				}
				return effectResponse{ID: id.String(), Label: "kit"}, nil
			}
			logger := log.NewNopLogger()
			enc := httpx.ErrorEncoder(logger)
			if tt.wrap {
				enc = idempotency.ErrorEncoder(enc)
			}
			route := httptransport.NewServer(ep,
				func(context.Context, *http.Request) (any, error) { return nil, nil },
				httpx.EncodeJSON(http.StatusCreated),
				httptransport.ServerErrorEncoder(enc))
			srv := httptest.NewServer(httpx.Stack(logger,
				idempotency.Middleware(db, idempotency.Config{Scope: callerScope})(route)))
			t.Cleanup(srv.Close)

			req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+"/kit", http.NoBody)
			req.Header.Set(headerTest, t.Name())
			req.Header.Set(headerCaller, "alice")
			req.Header.Set(idempotency.HeaderKey, "k")
			r := send(t, req)
			if r.status != tt.status {
				t.Fatalf("status: got %d, want %d (%s)", r.status, tt.status, r.body)
			}
			if got := calls.Load(); got != tt.calls {
				t.Errorf("calls: got %d, want %d", got, tt.calls)
			}
			if n := count(t, db, `SELECT count(*) FROM effects WHERE test = $1`, t.Name()); n != tt.effects {
				t.Errorf("effects: got %d, want %d", n, tt.effects)
			}
			if n := count(t, db, `SELECT count(*) FROM idempotency_keys WHERE scope = $1`, t.Name()+"|alice"); n != tt.records {
				t.Errorf("records: got %d, want %d", n, tt.records)
			}
		})
	}
}

func TestNoteErrorOutsideTheMiddleware(t *testing.T) {
	t.Parallel()
	if idempotency.NoteError(context.Background(), errs.Internalf(context.Canceled, "x")) {
		t.Error("NoteError without the middleware: got true, want false")
	}
}
