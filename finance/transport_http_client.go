package finance

import (
	"context"
	"net/http"

	"github.com/go-kit/kit/endpoint"
	"github.com/google/uuid"

	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/httpx/httpclient"
	"github.com/azora-os/azora/shared/idempotency"
	"github.com/azora-os/azora/shared/page"
)

// ErrFinanceUnreachable is what the HTTP client returns when no answer
// came back from finance (connection refused, timeout, cancelled): a
// server fault, so it counts against breakers. For a money route the
// outcome is then unknown: retry with the same key (WithIdempotencyKey).
var ErrFinanceUnreachable = errs.New(errs.Unavailable, "finance_unreachable", "the finance service cannot be reached")

// ClientOption configures NewHTTPClient.
type ClientOption = httpclient.Option

// WithHTTPClient makes the client send its requests with c instead of the
// default: an http.Client with a 10 s timeout that follows no redirects
// (finance's API never redirects, and following one would carry the
// caller's bearer token to wherever it points).
func WithHTTPClient(c *http.Client) ClientOption { return httpclient.WithHTTPClient(c) }

// WithClientMiddleware wraps each client endpoint in mw(name), where name
// is the endpoint's Name* constant; typically kit.Chain with a kit.Breaker,
// so calls to finance are traced, logged, counted and broken like every
// other hop.
func WithClientMiddleware(mw func(name string) endpoint.Middleware) ClientOption {
	return httpclient.WithMiddleware(mw)
}

type idempotencyKeyCtx struct{}

// WithIdempotencyKey makes the HTTP client's money calls (Transfer,
// CreateTopup, RefundTopup) made with the returned context send key as
// their Idempotency-Key, so a caller that retries after an unknown
// outcome gets the first answer instead of moving money twice. Without
// it each call sends a fresh key: one call, one attempt.
func WithIdempotencyKey(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, idempotencyKeyCtx{}, key)
}

// NewHTTPClient returns a Service that calls the finance instance at
// instance ("http://finance:4003", or "host:port" for plain http) over
// HTTP. It sends the bearer token of the call's ctx (kit.WithToken, which
// kit.HTTPToContext sets on the way in), its request id and its trace
// context, so every method acts for that token's user whatever Actor it
// is given. Errors come back as *errs.Error with finance's kind and code;
// an id that is not a UUID is the resource's not-found error, unsent;
// ErrFinanceUnreachable when no answer came; HandleStripeEvent is always
// ErrWebhookOnly. NewHTTPClient returns an invalid_finance_url error when
// instance is not an http(s) URL.
func NewHTTPClient(instance string, opts ...ClientOption) (Service, error) {
	base, err := httpclient.ParseInstance(instance)
	if err != nil {
		return nil, errs.New(errs.Invalid, "invalid_finance_url", "the finance instance must be an http(s) URL").Wrap(err)
	}
	client := httpclient.New("finance", base, ErrFinanceUnreachable, opts...).CallEndpoint
	get, post := http.MethodGet, http.MethodPost
	return Endpoints{
		WalletsEndpoint:      client(NameWallets, get, callWallets, decodeResponse[page.Page[Wallet]]),
		WalletEndpoint:       client(NameWallet, get, callWallet, decodeResponse[walletResponse]),
		TransactionsEndpoint: client(NameTransactions, get, callTransactions, decodeResponse[page.Page[Entry]]),
		TransferEndpoint:     client(NameTransfer, post, callTransfer, decodeResponse[transferResponse]),
		CreateTopupEndpoint:  client(NameCreateTopup, post, callCreateTopup, decodeResponse[topupResponse]),
		RefundTopupEndpoint:  client(NameRefundTopup, post, callRefundTopup, decodeResponse[topupResponse]),
	}, nil
}

// The per-endpoint requests: where each goes and what it carries.

func callWallets(_ context.Context, request any) (call, error) {
	return call{Path: []string{"wallets"}, Query: request.(listRequest).Page.Query()}, nil
}

func callWallet(_ context.Context, request any) (call, error) {
	id := request.(idRequest).ID
	if !validID(id) {
		return call{}, ErrWalletNotFound
	}
	return call{Path: []string{"wallets", id}}, nil
}

func callTransactions(_ context.Context, request any) (call, error) {
	req := request.(transactionsRequest)
	if !validID(req.WalletID) {
		return call{}, ErrWalletNotFound
	}
	return call{Path: []string{"wallets", req.WalletID, "transactions"}, Query: req.Page.Query()}, nil
}

func callTransfer(ctx context.Context, request any) (call, error) {
	return withKey(ctx, call{Path: []string{"transfers"}, Body: request.(TransferRequest)})
}

func callCreateTopup(ctx context.Context, request any) (call, error) {
	req := request.(createTopupRequest)
	if !validID(req.WalletID) {
		return call{}, ErrWalletNotFound
	}
	return withKey(ctx, call{Path: []string{"wallets", req.WalletID, "topups"}, Body: req.Amount})
}

func callRefundTopup(ctx context.Context, request any) (call, error) {
	id := request.(idRequest).ID
	if !validID(id) {
		return call{}, ErrTopupNotFound
	}
	return withKey(ctx, call{Path: []string{"topups", id, "refund"}})
}

// withKey sets c's Idempotency-Key: ctx's (WithIdempotencyKey), or a
// fresh one.
func withKey(ctx context.Context, c call) (call, error) {
	key, _ := ctx.Value(idempotencyKeyCtx{}).(string)
	if key == "" {
		k, err := uuid.NewV7()
		if err != nil {
			return call{}, errs.Internalf(err, "finance client: idempotency key")
		}
		key = k.String()
	}
	c.Header = http.Header{idempotency.HeaderKey: {key}}
	return c, nil
}
