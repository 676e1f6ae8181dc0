package finance

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"slices"

	"github.com/go-kit/kit/endpoint"
	httptransport "github.com/go-kit/kit/transport/http"
	"github.com/go-kit/log"
	"github.com/gorilla/mux"

	"github.com/azora-os/azora/shared/httpx"
	"github.com/azora-os/azora/shared/idempotency"
	"github.com/azora-os/azora/shared/kit"
	"github.com/azora-os/azora/shared/page"
)

// The paths of API.md's Finance table that MakeHTTPHandler serves.
const (
	PathWallets            = "/api/v1/wallets"
	PathWallet             = "/api/v1/wallets/{id}"
	PathWalletTransactions = "/api/v1/wallets/{id}/transactions"
	PathTransfers          = "/api/v1/transfers"
	PathWalletTopups       = "/api/v1/wallets/{id}/topups"
	PathStripeWebhook      = "/api/v1/webhooks/stripe"
	PathTopupRefund        = "/api/v1/topups/{id}/refund"
)

// HTTPOption configures MakeHTTPHandler.
type HTTPOption func(*httpOptions)

type httpOptions struct {
	routeMiddleware httpx.RouteMiddleware
}

// WithRouteMiddleware wraps the route of the endpoint called name (a Name*
// constant, NameStripeWebhook included) in mw, inside httpx.Stack and the
// router, outside the go-kit server: mw sees the raw request (body unread,
// bearer token not yet verified) and the finished response. Several
// options for one route nest in order, the first outermost.
// MakeHTTPHandler panics on a name that is no route: a typo here would
// silently drop the middleware.
func WithRouteMiddleware(name string, mw func(http.Handler) http.Handler) HTTPOption {
	return func(o *httpOptions) {
		o.routeMiddleware.Add(name, mw)
	}
}

// WithMoneyMiddleware wraps each of MoneyRoutes (transfer, create_topup,
// refund_topup) in mw. main passes the shared Idempotency-Key middleware
// with Required set: API.md makes the key mandatory on money-moving
// routes, and their go-kit servers already carry idempotency.ErrorEncoder,
// so a serialization failure inside the middleware's transaction runs the
// handler again instead of answering 500.
func WithMoneyMiddleware(mw func(http.Handler) http.Handler) HTTPOption {
	return func(o *httpOptions) {
		for _, name := range MoneyRoutes() {
			WithRouteMiddleware(name, mw)(o)
		}
	}
}

// MakeHTTPHandler registers the Finance routes of API.md on r, serving e,
// and the Stripe webhook, served by webhook (see WebhookHandler; it panics
// when webhook lacks its Verifier or Events: an unverified webhook would
// credit wallets for anyone). Every API route copies the bearer token into
// the context for the JWT step, decodes bodies strictly (httpx.DecodeJSON:
// unknown fields, wrong types and bad JSON are 400s, a wrong Content-Type
// 415) and answers errors as RFC 9457 problems. A body is decoded before
// the token is checked, so a malformed request is a 400 even without a
// token; its values are checked after (validation_failed), so a caller who
// may not use the route learns nothing from them.
//
// POST /transfers and POST /wallets/{id}/topups answer 201, the refund
// 200. The money routes' servers answer errors through
// idempotency.ErrorEncoder; wrap them with WithMoneyMiddleware.
func MakeHTTPHandler(e Endpoints, r *mux.Router, logger log.Logger, webhook WebhookHandler, opts ...HTTPOption) {
	o := httpOptions{routeMiddleware: httpx.RouteMiddleware{}}
	for _, opt := range opts {
		opt(&o)
	}
	serverOpts := append(httpx.ServerOptions(logger), httptransport.ServerBefore(kit.HTTPToContext()))
	// Options apply in order, so this encoder replaces ServerOptions' one.
	moneyOpts := append(slices.Clone(serverOpts),
		idempotency.ServerErrorEncoder(logger))
	routes := httpx.NewRoutes(r, o.routeMiddleware)
	mount := routes.Mount
	handle := func(name, method, path string, ep endpoint.Endpoint, dec httptransport.DecodeRequestFunc, enc httptransport.EncodeResponseFunc) {
		so := serverOpts
		if slices.Contains(MoneyRoutes(), name) {
			so = moneyOpts
		}
		mount(name, method, path, httptransport.NewServer(ep, dec, enc, so...))
	}
	ok, created := httpx.EncodeJSON(http.StatusOK), httpx.EncodeJSON(http.StatusCreated)
	get, post := http.MethodGet, http.MethodPost

	handle(NameWallets, get, PathWallets, e.WalletsEndpoint, decodeList, ok)
	handle(NameWallet, get, PathWallet, e.WalletEndpoint, decodeID, ok)
	handle(NameTransactions, get, PathWalletTransactions, e.TransactionsEndpoint, decodeTransactions, ok)
	handle(NameTransfer, post, PathTransfers, e.TransferEndpoint, decodeTransfer, created)
	handle(NameCreateTopup, post, PathWalletTopups, e.CreateTopupEndpoint, decodeCreateTopup, created)
	handle(NameRefundTopup, post, PathTopupRefund, e.RefundTopupEndpoint, decodeIDNoBody, ok)
	mount(NameStripeWebhook, post, PathStripeWebhook, webhook.handler(logger))

	routes.Done("finance")
}

// decodeList reads ?limit= and ?cursor= of a list of the caller's own.
func decodeList(_ context.Context, r *http.Request) (any, error) {
	p, err := page.FromQuery(r.URL.Query())
	if err != nil {
		return nil, err
	}
	return listRequest{Page: p}, nil
}

// decodeID takes the id from the path; GET bodies mean nothing and are
// not read.
func decodeID(_ context.Context, r *http.Request) (any, error) {
	return idRequest{ID: mux.Vars(r)["id"]}, nil
}

func decodeTransactions(_ context.Context, r *http.Request) (any, error) {
	p, err := page.FromQuery(r.URL.Query())
	if err != nil {
		return nil, err
	}
	return transactionsRequest{WalletID: mux.Vars(r)["id"], Page: p}, nil
}

// decodeTransfer strictly decodes a TransferRequest: a status, an id or
// anything else not in it is an unknown field.
func decodeTransfer(_ context.Context, r *http.Request) (any, error) {
	var req TransferRequest
	if err := httpx.DecodeJSON(r, &req); err != nil {
		return nil, err
	}
	return req, nil
}

// decodeCreateTopup reads {amount, currency}; the wallet comes from the
// path.
func decodeCreateTopup(_ context.Context, r *http.Request) (any, error) {
	var m Money
	if err := httpx.DecodeJSON(r, &m); err != nil {
		return nil, err
	}
	return createTopupRequest{WalletID: mux.Vars(r)["id"], Amount: m}, nil
}

// decodeIDNoBody takes the id from the path of a POST without input. It
// accepts no body or a JSON object without fields, so the route refuses
// fields it does not know like every other.
func decodeIDNoBody(_ context.Context, r *http.Request) (any, error) {
	if err := decodeEmptyBody(r); err != nil {
		return nil, err
	}
	return idRequest{ID: mux.Vars(r)["id"]}, nil
}

// decodeEmptyBody accepts an absent or empty body (also a chunked one,
// whose length is unknown) or {}; anything else goes through the strict
// decoder, which names what is wrong.
func decodeEmptyBody(r *http.Request) error {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return nil
	}
	br := bufio.NewReader(r.Body)
	if _, err := br.Peek(1); errors.Is(err, io.EOF) {
		return nil
	}
	r.Body = struct {
		io.Reader
		io.Closer
	}{br, r.Body}
	return httpx.DecodeJSON(r, &emptyRequest{})
}
