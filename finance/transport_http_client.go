package finance

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-kit/kit/endpoint"
	httptransport "github.com/go-kit/kit/transport/http"
	"github.com/google/uuid"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"

	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/idempotency"
	"github.com/azora-os/azora/shared/kit"
	"github.com/azora-os/azora/shared/logging"
	"github.com/azora-os/azora/shared/page"
)

// ErrFinanceUnreachable is what the HTTP client returns when no answer
// came back from finance (connection refused, timeout, cancelled): a
// server fault, so it counts against breakers. For a money route the
// outcome is then unknown: retry with the same key (WithIdempotencyKey).
var ErrFinanceUnreachable = errs.New(errs.Unavailable, "finance_unreachable", "the finance service cannot be reached")

// defaultClientTimeout bounds a call when the caller gives no http.Client:
// http.DefaultClient would wait forever on a hung instance.
const defaultClientTimeout = 10 * time.Second

// ClientOption configures NewHTTPClient.
type ClientOption func(*clientOptions)

type clientOptions struct {
	http       *http.Client
	middleware func(name string) endpoint.Middleware
}

// WithHTTPClient makes the client send its requests with c instead of the
// default: an http.Client with a 10 s timeout that follows no redirects
// (finance's API never redirects, and following one would carry the
// caller's bearer token to wherever it points).
func WithHTTPClient(c *http.Client) ClientOption {
	return func(o *clientOptions) { o.http = c }
}

// WithClientMiddleware wraps each client endpoint in mw(name), where name
// is the endpoint's Name* constant; typically kit.Chain with a kit.Breaker,
// so calls to finance are traced, logged, counted and broken like every
// other hop.
func WithClientMiddleware(mw func(name string) endpoint.Middleware) ClientOption {
	return func(o *clientOptions) { o.middleware = mw }
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
	if !strings.Contains(instance, "://") {
		instance = "http://" + instance
	}
	base, err := url.Parse(instance)
	if err != nil || base.Host == "" || (base.Scheme != "http" && base.Scheme != "https") {
		return nil, errs.New(errs.Invalid, "invalid_finance_url", "the finance instance must be an http(s) URL").Wrap(err)
	}
	o := clientOptions{http: &http.Client{
		Timeout:       defaultClientTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
	for _, opt := range opts {
		opt(&o)
	}
	client := func(name, method string, to func(context.Context, any) (call, error), dec httptransport.DecodeResponseFunc) endpoint.Endpoint {
		ep := httptransport.NewClient(method, base, encodeCall(base, to), dec,
			httptransport.SetClient(o.http), httptransport.ClientBefore(forwardContext)).Endpoint()
		ep = classifyUnreachable(ep)
		if o.middleware != nil {
			ep = o.middleware(name)(ep)
		}
		return ep
	}
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

// forwardContext passes the caller's bearer token, request id and trace
// context on to finance.
func forwardContext(ctx context.Context, r *http.Request) context.Context {
	if t := kit.TokenFrom(ctx); t != "" {
		r.Header.Set("Authorization", "Bearer "+t)
	}
	if id := logging.RequestID(ctx); id != "" {
		r.Header.Set("X-Request-ID", id)
	}
	otel.GetTextMapPropagator().Inject(ctx, propagation.HeaderCarrier(r.Header))
	return ctx
}

// classifyUnreachable turns transport failures, which carry no *errs.Error,
// into ErrFinanceUnreachable; finance's own answers pass unchanged.
func classifyUnreachable(next endpoint.Endpoint) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		response, err := next(ctx, request)
		var e *errs.Error
		if err != nil && !errors.As(err, &e) {
			return nil, ErrFinanceUnreachable.Wrap(err)
		}
		return response, err
	}
}

// The per-endpoint requests: where each goes and what it carries.

func callWallets(_ context.Context, request any) (call, error) {
	return call{path: []string{"wallets"}, query: pageQuery(request.(listRequest).Page)}, nil
}

func callWallet(_ context.Context, request any) (call, error) {
	id := request.(idRequest).ID
	if !validID(id) {
		return call{}, ErrWalletNotFound
	}
	return call{path: []string{"wallets", id}}, nil
}

func callTransactions(_ context.Context, request any) (call, error) {
	req := request.(transactionsRequest)
	if !validID(req.WalletID) {
		return call{}, ErrWalletNotFound
	}
	return call{path: []string{"wallets", req.WalletID, "transactions"}, query: pageQuery(req.Page)}, nil
}

func callTransfer(ctx context.Context, request any) (call, error) {
	return withKey(ctx, call{path: []string{"transfers"}, body: request.(TransferRequest)})
}

func callCreateTopup(ctx context.Context, request any) (call, error) {
	req := request.(createTopupRequest)
	if !validID(req.WalletID) {
		return call{}, ErrWalletNotFound
	}
	return withKey(ctx, call{path: []string{"wallets", req.WalletID, "topups"}, body: req.Amount})
}

func callRefundTopup(ctx context.Context, request any) (call, error) {
	id := request.(idRequest).ID
	if !validID(id) {
		return call{}, ErrTopupNotFound
	}
	return withKey(ctx, call{path: []string{"topups", id, "refund"}})
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
	c.header = http.Header{idempotency.HeaderKey: {key}}
	return c, nil
}

// pageQuery is p as ?limit= and ?cursor=; a zero Limit leaves the
// server's default.
func pageQuery(p page.Request) url.Values {
	q := url.Values{}
	if p.Limit != 0 {
		q.Set("limit", strconv.Itoa(p.Limit))
	}
	if p.Cursor != "" {
		q.Set("cursor", p.Cursor)
	}
	return q
}
