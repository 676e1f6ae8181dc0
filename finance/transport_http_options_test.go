package finance_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/go-kit/log"
	"github.com/gorilla/mux"

	"github.com/azora-os/azora/finance"
	"github.com/azora-os/azora/shared/httpx"
	"github.com/azora-os/azora/shared/page"
)

// testHTTPRouteMiddleware checks the hook main uses for the
// Idempotency-Key middleware: WithMoneyMiddleware wraps exactly the three
// money routes, sees the raw request, can answer on its own, and a name
// that is no route panics, as does a webhook without its verifier.
func testHTTPRouteMiddleware(t *testing.T, e *htEnv) {
	f := newHTFake()
	var mu sync.Mutex
	var seen []string
	mw := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			seen = append(seen, r.Method+" "+r.URL.Path)
			mu.Unlock()
			if r.Header.Get("Idempotency-Key") == "" {
				w.WriteHeader(http.StatusTeapot) // answers without the handler
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	srv := e.server(t, f, &htVerifier{}, finance.WithMoneyMiddleware(mw))
	key := map[string]string{"Idempotency-Key": "k1"}
	wallet := "/api/v1/wallets/" + htWalletID
	get, post := http.MethodGet, http.MethodPost
	requests := []struct {
		method, path, who, body string
		header                  map[string]string
		status                  int
	}{
		{get, finance.PathWallets, "student", "", nil, 200},
		{get, wallet, "student", "", nil, 200},
		{get, wallet + "/transactions", "student", "", nil, 200},
		{post, finance.PathTransfers, "student", htTransferBody("5", "USD", ""), key, 201},
		{post, wallet + "/topups", "student", `{"amount":5,"currency":"USD"}`, key, 201},
		{post, "/api/v1/topups/" + htTopupID + "/refund", "admin", "", key, 200},
		{post, finance.PathTransfers, "student", htTransferBody("5", "USD", ""), nil, http.StatusTeapot},
		{post, finance.PathStripeWebhook, "", htEventJSON, map[string]string{"Stripe-Signature": htSign([]byte(htEventJSON))}, 200},
	}
	for _, rq := range requests {
		r := e.do(t, srv, rq.method, rq.path, htRequest{who: rq.who, body: rq.body, header: rq.header})
		if r.Status != rq.status {
			t.Errorf("%s %s: got %d, want %d (%s)", rq.method, rq.path, r.Status, rq.status, r.Body)
		}
	}
	mu.Lock()
	got := slices.Clone(seen)
	mu.Unlock()
	want := []string{"POST " + finance.PathTransfers, "POST " + wallet + "/topups", "POST /api/v1/topups/" + htTopupID + "/refund", "POST " + finance.PathTransfers}
	if !slices.Equal(got, want) {
		t.Errorf("middleware saw: got %v, want only the money routes %v", got, want)
	}
	if n := f.times("Transfer"); n != 1 {
		t.Errorf("Transfer calls: got %d, want 1 (the keyless one was answered by the middleware)", n)
	}

	logger := log.NewNopLogger()
	eps := finance.MakeEndpoints(f, logger, nil, e.v)
	panics := []struct {
		name, want string
		build      func()
	}{
		{"unknown route name", `"transfers"`, func() {
			finance.MakeHTTPHandler(eps, mux.NewRouter(), logger, finance.WebhookHandler{Verifier: &htVerifier{}, Events: f},
				finance.WithRouteMiddleware("transfers", mw))
		}},
		{"webhook without verifier", "Verifier", func() {
			finance.MakeHTTPHandler(eps, mux.NewRouter(), logger, finance.WebhookHandler{Events: f})
		}},
		{"webhook without events", "Events", func() {
			finance.MakeHTTPHandler(eps, mux.NewRouter(), logger, finance.WebhookHandler{Verifier: &htVerifier{}})
		}},
	}
	for _, p := range panics {
		t.Run(p.name, func(t *testing.T) {
			defer func() {
				if r := recover(); r == nil || !strings.Contains(r.(string), p.want) {
					t.Errorf("recover: got %v, want a panic naming %s", r, p.want)
				}
			}()
			p.build()
		})
	}
}

// testHTTPWithoutVerifier checks that endpoints built without a Verifier
// fail closed: every API route refuses every caller.
func testHTTPWithoutVerifier(t *testing.T, e *htEnv) {
	f := newHTFake()
	logger := log.NewNopLogger()
	r := mux.NewRouter()
	httpx.HandleUnmatched(r, logger)
	finance.MakeHTTPHandler(finance.MakeEndpoints(f, logger, nil, nil), r, logger, finance.WebhookHandler{Verifier: &htVerifier{}, Events: f})
	srv := httptest.NewServer(httpx.Stack(logger, r))
	t.Cleanup(srv.Close)

	for _, rq := range []struct{ method, path, body string }{
		{http.MethodGet, finance.PathWallets, ""},
		{http.MethodGet, "/api/v1/wallets/" + htWalletID, ""},
		{http.MethodPost, finance.PathTransfers, htTransferBody("5", "USD", "")},
		{http.MethodPost, "/api/v1/topups/" + htTopupID + "/refund", ""},
	} {
		e.do(t, srv, rq.method, rq.path, htRequest{who: "admin", body: rq.body}).Problem(t, http.StatusUnauthorized, "missing_token")
	}
	if got := f.methods(); len(got) != 0 {
		t.Errorf("service calls: got %v, want none", got)
	}
}

// htNoRows is a Service whose lists come back without a slice at all.
type htNoRows struct{ *htFake }

func (htNoRows) Wallets(context.Context, finance.Actor, page.Request) (page.Page[finance.Wallet], error) {
	return page.Page[finance.Wallet]{}, nil
}

func (htNoRows) Transactions(context.Context, finance.Actor, string, page.Request) (page.Page[finance.Entry], error) {
	return page.Page[finance.Entry]{}, nil
}

// testHTTPEmptyLists checks that an empty list is {"items": []}, never
// null and without next_cursor, whatever the Service returns.
func testHTTPEmptyLists(t *testing.T, e *htEnv) {
	srv := e.server(t, htNoRows{newHTFake()}, &htVerifier{})
	for _, path := range []string{finance.PathWallets, "/api/v1/wallets/" + htWalletID + "/transactions"} {
		t.Run(path, func(t *testing.T) {
			r := e.do(t, srv, http.MethodGet, path, htRequest{who: "student"})
			if got := strings.TrimSpace(string(r.Body)); r.Status != http.StatusOK || got != `{"items":[]}` {
				t.Errorf("got %d %s, want 200 {\"items\":[]}", r.Status, got)
			}
		})
	}
}
