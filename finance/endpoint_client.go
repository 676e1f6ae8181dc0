package finance

import (
	"context"

	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/page"
)

// Endpoints satisfies Service, so other Go code (the gateway's dashboard)
// calls finance through NewHTTPClient's Endpoints as if in process.
// Methods act for the caller of ctx (its bearer token over HTTP, its
// verified claims in process), never for their Actor argument, which is
// not sent: a client cannot speak for someone else.
var _ Service = Endpoints{}

// ErrWebhookOnly is what Endpoints.HandleStripeEvent returns: Stripe's
// events reach finance only through its signed webhook route, never from
// another service.
var ErrWebhookOnly = errs.New(errs.Internal, "webhook_only", "Stripe events are accepted only through the signed webhook")

// Wallets implements Service: the wallets of ctx's caller. Errors:
// missing_token, invalid_token, forbidden, validation_failed (limit),
// invalid_cursor.
func (e Endpoints) Wallets(ctx context.Context, _ Actor, p page.Request) (page.Page[Wallet], error) {
	resp, err := e.WalletsEndpoint(ctx, listRequest{Page: p})
	if err != nil {
		return page.Page[Wallet]{}, err
	}
	return resp.(page.Page[Wallet]), nil
}

// Wallet implements Service. Errors: missing_token, invalid_token,
// forbidden, wallet_not_found.
func (e Endpoints) Wallet(ctx context.Context, _ Actor, id string) (Wallet, error) {
	resp, err := e.WalletEndpoint(ctx, idRequest{ID: id})
	if err != nil {
		return Wallet{}, err
	}
	return resp.(walletResponse).Wallet, nil
}

// Transactions implements Service. Errors: missing_token, invalid_token,
// forbidden, wallet_not_found, validation_failed (limit), invalid_cursor.
func (e Endpoints) Transactions(ctx context.Context, _ Actor, walletID string, p page.Request) (page.Page[Entry], error) {
	resp, err := e.TransactionsEndpoint(ctx, transactionsRequest{WalletID: walletID, Page: p})
	if err != nil {
		return page.Page[Entry]{}, err
	}
	return resp.(page.Page[Entry]), nil
}

// Transfer implements Service. Over HTTP it sends the Idempotency-Key of
// ctx (WithIdempotencyKey), or a fresh one. Errors: missing_token,
// invalid_token, forbidden, validation_failed, wallet_not_found,
// same_wallet, currency_mismatch, insufficient_funds, and the idempotency
// errors.
func (e Endpoints) Transfer(ctx context.Context, _ Actor, req TransferRequest) (Transfer, error) {
	resp, err := e.TransferEndpoint(ctx, req)
	if err != nil {
		return Transfer{}, err
	}
	return resp.(transferResponse).Transfer, nil
}

// CreateTopup implements Service, sending an Idempotency-Key as Transfer
// does. Errors: missing_token, invalid_token, forbidden,
// validation_failed, wallet_not_found, currency_mismatch,
// payment_provider_unavailable.
func (e Endpoints) CreateTopup(ctx context.Context, _ Actor, walletID string, amount Money) (Topup, error) {
	resp, err := e.CreateTopupEndpoint(ctx, createTopupRequest{WalletID: walletID, Amount: amount})
	if err != nil {
		return Topup{}, err
	}
	return resp.(topupResponse).Topup, nil
}

// RefundTopup implements Service for an admin's token, sending an
// Idempotency-Key as Transfer does. Errors: missing_token, invalid_token,
// forbidden, topup_not_found, topup_not_refundable, insufficient_funds,
// payment_provider_unavailable.
func (e Endpoints) RefundTopup(ctx context.Context, _ Actor, topupID string) (Topup, error) {
	resp, err := e.RefundTopupEndpoint(ctx, idRequest{ID: topupID})
	if err != nil {
		return Topup{}, err
	}
	return resp.(topupResponse).Topup, nil
}

// HandleStripeEvent implements Service by refusing: an event is applied
// only after the webhook route verified Stripe's signature over it.
// Errors: ErrWebhookOnly, always.
func (e Endpoints) HandleStripeEvent(context.Context, StripeEvent) error {
	return ErrWebhookOnly
}
