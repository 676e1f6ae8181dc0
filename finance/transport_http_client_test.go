package finance_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"reflect"
	"slices"
	"sync"
	"testing"

	"github.com/go-kit/kit/endpoint"

	"github.com/azora-os/azora/finance"
	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/kit"
	"github.com/azora-os/azora/shared/logging"
	"github.com/azora-os/azora/shared/page"
)

// newHTClient returns an HTTP client of instance whose middleware records
// the endpoint names it wraps calls of.
func newHTClient(t *testing.T, instance string) (finance.Service, func() []string) {
	t.Helper()
	var mu sync.Mutex
	var names []string
	svc, err := finance.NewHTTPClient(instance, finance.WithClientMiddleware(func(name string) endpoint.Middleware {
		return func(next endpoint.Endpoint) endpoint.Endpoint {
			return func(ctx context.Context, req any) (any, error) {
				mu.Lock()
				names = append(names, name)
				mu.Unlock()
				return next(ctx, req)
			}
		}
	}))
	if err != nil {
		t.Fatalf("NewHTTPClient(%q): %v", instance, err)
	}
	return svc, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(names)
	}
}

// testHTTPClientWallets is the gateway dashboard's call: the caller's
// token, request id and page travel, the page comes back whole.
func testHTTPClientWallets(t *testing.T, e *htEnv) {
	f := newHTFake()
	svc, names := newHTClient(t, e.server(t, f, &htVerifier{}).URL)
	ctx := logging.WithRequestID(kit.WithToken(context.Background(), e.tokens["student"]), "req-dash-1")

	// The Actor argument is not sent: the token decides whose list it is.
	got, err := svc.Wallets(ctx, finance.Actor{UserID: "someone-else"}, page.Request{Limit: 7, Cursor: "c/+1"})
	if err != nil {
		t.Fatalf("Wallets: %v", err)
	}
	want := page.Page[finance.Wallet]{Items: []finance.Wallet{htWallet("student-1")}, NextCursor: "next-wallets"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("page: got %+v, want %+v", got, want)
	}
	if args, _ := f.called("Wallets"); !reflect.DeepEqual(args, []any{htActors["student"], page.Request{Limit: 7, Cursor: "c/+1"}}) {
		t.Errorf("server args: got %#v, want the token's actor and the page", args)
	}
	if got := f.requestID("Wallets"); got != "req-dash-1" {
		t.Errorf("request id at the server: got %q, want req-dash-1", got)
	}
	if !slices.Equal(names(), []string{finance.NameWallets}) {
		t.Errorf("middleware names: got %v, want [%s]", names(), finance.NameWallets)
	}

	tests := []struct {
		name string
		ctx  context.Context
		p    page.Request
		fail error
		want *errs.Error
	}{
		{"no token", context.Background(), page.Request{}, nil, kit.ErrMissingToken},
		{"bad token", kit.WithToken(context.Background(), e.tokens["bad"]), page.Request{}, nil, kit.ErrInvalidToken},
		{"token without user role", kit.WithToken(context.Background(), e.tokens["norole"]), page.Request{}, nil, kit.ErrForbidden},
		{"bad limit", ctx, page.Request{Limit: 500}, nil, errs.Validation()},
		{"bad cursor", ctx, page.Request{Cursor: "x"}, page.ErrBadCursor, page.ErrBadCursor},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.failWith("Wallets", tt.fail)
			_, err := svc.Wallets(tt.ctx, finance.Actor{}, tt.p)
			if !errors.Is(err, tt.want) {
				t.Fatalf("error: got %v, want code %s", err, tt.want.Code)
			}
			if got := errs.KindOf(err); got != tt.want.Kind {
				t.Errorf("kind: got %s, want %s", got, tt.want.Kind)
			}
		})
	}

	t.Run("empty list", func(t *testing.T) {
		empty, _ := newHTClient(t, e.server(t, htNoRows{newHTFake()}, &htVerifier{}).URL)
		p, err := empty.Wallets(ctx, finance.Actor{}, page.Request{})
		if err != nil || p.Items == nil || len(p.Items) != 0 || p.NextCursor != "" {
			t.Errorf("Wallets: got %#v, %v, want an empty, non-nil page", p, err)
		}
	})
}

// testHTTPClientRoundTrip calls every other Service method through the
// HTTP client and the real handler, and checks what the fake received,
// the Idempotency-Key the money calls sent, and what came back.
func testHTTPClientRoundTrip(t *testing.T, e *htEnv) {
	f := newHTFake()
	var mu sync.Mutex
	keys := map[string][]string{}
	recordKey := func(name string) finance.HTTPOption {
		return finance.WithRouteMiddleware(name, func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				keys[name] = append(keys[name], r.Header.Get("Idempotency-Key"))
				mu.Unlock()
				next.ServeHTTP(w, r)
			})
		})
	}
	srv := e.server(t, f, &htVerifier{}, recordKey(finance.NameTransfer), recordKey(finance.NameCreateTopup), recordKey(finance.NameRefundTopup))
	svc, names := newHTClient(t, srv.URL)
	bg := context.Background()
	as := func(who string) context.Context { return kit.WithToken(bg, e.tokens[who]) }
	student, admin := htActors["student"], htActors["admin"]
	check := func(method string, want ...any) {
		t.Helper()
		if got, ok := f.called(method); !ok || !reflect.DeepEqual(got, want) {
			t.Errorf("%s args at the server: got %#v (called %v), want %#v", method, got, ok, want)
		}
	}

	if w, err := svc.Wallet(as("admin"), finance.Actor{}, htWalletID); err != nil || !reflect.DeepEqual(w, htWallet("admin-1")) {
		t.Errorf("Wallet: got %+v, %v", w, err)
	}
	check("Wallet", admin, htWalletID)

	if p, err := svc.Transactions(as("student"), finance.Actor{}, htWalletID, page.Request{Limit: 3}); err != nil ||
		!reflect.DeepEqual(p, page.Page[finance.Entry]{Items: []finance.Entry{htEntry()}, NextCursor: "next-entries"}) {
		t.Errorf("Transactions: got %+v, %v", p, err)
	}
	check("Transactions", student, htWalletID, page.Request{Limit: 3})

	req := finance.TransferRequest{FromWalletID: htWalletID, ToWalletID: htWallet2ID, Amount: 250, Currency: "USD", Description: "rent"}
	for range 2 { // the same key both times: a retry after an unknown outcome
		tr, err := svc.Transfer(finance.WithIdempotencyKey(as("student"), "xfer-key-1"), finance.Actor{}, req)
		if err != nil || tr.ID != htXferID || tr.Amount != 250 || tr.Status != "posted" {
			t.Errorf("Transfer: got %+v, %v", tr, err)
		}
	}
	check("Transfer", student, req)
	if _, err := svc.Transfer(as("student"), finance.Actor{}, req); err != nil {
		t.Errorf("Transfer with a fresh key: %v", err)
	}

	tu, err := svc.CreateTopup(as("student"), finance.Actor{}, htWalletID, finance.Money{Amount: 5000, Currency: "USD"})
	if err != nil || tu.Status != finance.TopupPending || tu.ClientSecret != htSecret || tu.PaymentIntentID != htIntentID {
		t.Errorf("CreateTopup: got %+v, %v", tu, err)
	}
	check("CreateTopup", student, htWalletID, finance.Money{Amount: 5000, Currency: "USD"})

	if tu, err := svc.RefundTopup(as("admin"), finance.Actor{}, htTopupID); err != nil || tu.Status != finance.TopupRefunded {
		t.Errorf("RefundTopup: got %+v, %v", tu, err)
	}
	check("RefundTopup", admin, htTopupID)

	if err := svc.HandleStripeEvent(bg, finance.StripeEvent{ID: "evt_1"}); !errors.Is(err, finance.ErrWebhookOnly) {
		t.Errorf("HandleStripeEvent: got %v, want webhook_only", err)
	}
	if _, ok := f.called("HandleStripeEvent"); ok {
		t.Errorf("HandleStripeEvent reached the server")
	}

	mu.Lock()
	defer mu.Unlock()
	if k := keys[finance.NameTransfer]; len(k) != 3 || k[0] != "xfer-key-1" || k[1] != "xfer-key-1" || k[2] == "" || k[2] == k[0] {
		t.Errorf("transfer keys: got %q, want xfer-key-1 twice, then a fresh one", k)
	}
	for _, name := range []string{finance.NameCreateTopup, finance.NameRefundTopup} {
		if k := keys[name]; len(k) != 1 || len(k[0]) != 36 {
			t.Errorf("%s keys: got %q, want one fresh UUID", name, k)
		}
	}
	wantNames := []string{finance.NameWallet, finance.NameTransactions, finance.NameTransfer, finance.NameTransfer,
		finance.NameTransfer, finance.NameCreateTopup, finance.NameRefundTopup}
	if got := names(); !slices.Equal(got, wantNames) {
		t.Errorf("middleware names: got %v, want %v", got, wantNames)
	}
}

// testHTTPClientErrors checks errors that keep their code and kind across
// the hop, ids refused before sending, and an instance that does not
// answer.
func testHTTPClientErrors(t *testing.T, e *htEnv) {
	f := newHTFake()
	svc, _ := newHTClient(t, e.server(t, f, &htVerifier{}).URL)
	student := kit.WithToken(context.Background(), e.tokens["student"])
	req := finance.TransferRequest{FromWalletID: htWalletID, ToWalletID: htWallet2ID, Amount: 5, Currency: "USD"}

	across := []struct {
		name   string
		method string
		fail   error
		call   func() error
		kind   errs.Kind
	}{
		{"insufficient funds", "Transfer", finance.ErrInsufficientFunds,
			func() error { _, err := svc.Transfer(student, finance.Actor{}, req); return err }, errs.Conflict},
		{"currency mismatch", "Transfer", finance.ErrCurrencyMismatch,
			func() error { _, err := svc.Transfer(student, finance.Actor{}, req); return err }, errs.FailedPrecondition},
		{"provider down", "CreateTopup", finance.ErrPaymentProvider, func() error {
			_, err := svc.CreateTopup(student, finance.Actor{}, htWalletID, finance.Money{Amount: 1, Currency: "USD"})
			return err
		}, errs.Unavailable},
		{"student refunds", "", kit.ErrForbidden,
			func() error { _, err := svc.RefundTopup(student, finance.Actor{}, htTopupID); return err }, errs.Forbidden},
	}
	for _, tt := range across {
		t.Run(tt.name, func(t *testing.T) {
			if tt.method != "" {
				f.failWith(tt.method, tt.fail)
			}
			err := tt.call()
			if !errors.Is(err, tt.fail) || errs.KindOf(err) != tt.kind {
				t.Errorf("error: got %v (%s), want %v (%s)", err, errs.KindOf(err), tt.fail, tt.kind)
			}
		})
	}

	before := f.methods()
	unsent := []struct {
		name string
		call func() error
		want error
	}{
		{"wallet", func() error { _, err := svc.Wallet(student, finance.Actor{}, "../transfers"); return err }, finance.ErrWalletNotFound},
		{"transactions", func() error {
			_, err := svc.Transactions(student, finance.Actor{}, "a/b", page.Request{})
			return err
		}, finance.ErrWalletNotFound},
		{"topup", func() error {
			_, err := svc.CreateTopup(student, finance.Actor{}, "?x=1", finance.Money{Amount: 1, Currency: "USD"})
			return err
		}, finance.ErrWalletNotFound},
		{"refund", func() error { _, err := svc.RefundTopup(student, finance.Actor{}, ""); return err }, finance.ErrTopupNotFound},
	}
	for _, u := range unsent {
		t.Run("unsent "+u.name, func(t *testing.T) {
			if err := u.call(); !errors.Is(err, u.want) {
				t.Errorf("error: got %v, want %v", err, u.want)
			}
		})
	}
	if got := f.methods(); !slices.Equal(got, before) {
		t.Errorf("server calls: got %v, want still %v (invalid ids are not sent)", got, before)
	}

	t.Run("unreachable", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("listen: %v", err)
		}
		addr := ln.Addr().String()
		ln.Close() // nothing listens there now
		down, _ := newHTClient(t, addr)
		_, err = down.Wallets(student, finance.Actor{}, page.Request{})
		if !errors.Is(err, finance.ErrFinanceUnreachable) || !errs.IsServerFault(err) {
			t.Errorf("error: got %v, want finance_unreachable, a server fault", err)
		}
	})

	t.Run("not a url", func(t *testing.T) {
		for _, instance := range []string{"ftp://finance", "http://", "http://[::1"} {
			if _, err := finance.NewHTTPClient(instance); errs.As(err).Code != "invalid_finance_url" {
				t.Errorf("NewHTTPClient(%q): got %v, want invalid_finance_url", instance, err)
			}
		}
	})
}
