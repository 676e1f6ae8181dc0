package finance

import (
	"context"

	"github.com/go-kit/kit/endpoint"
	"github.com/go-kit/log"

	"github.com/azora-os/azora/shared/kit"
	"github.com/azora-os/azora/shared/page"
)

// The endpoint names. They label spans, logs and metrics, and name a
// route for WithRouteMiddleware and an endpoint for WithClientMiddleware.
const (
	NameWallets       = "wallets"
	NameWallet        = "wallet"
	NameTransactions  = "wallet_transactions"
	NameTransfer      = "transfer"
	NameCreateTopup   = "create_topup"
	NameRefundTopup   = "refund_topup"
	NameStripeWebhook = "stripe_webhook"
)

// MoneyRoutes returns the names of the routes that move money: API.md
// marks them (I), and they demand an Idempotency-Key (WithMoneyMiddleware).
func MoneyRoutes() []string {
	return []string{NameTransfer, NameCreateTopup, NameRefundTopup}
}

// Endpoints holds one go-kit endpoint per Service method but
// HandleStripeEvent, which only the signed webhook route reaches
// (WebhookHandler). Server side, MakeEndpoints builds them over a Service;
// client side, NewHTTPClient builds them over HTTP, and Endpoints' methods
// then satisfy Service.
type Endpoints struct {
	WalletsEndpoint      endpoint.Endpoint
	WalletEndpoint       endpoint.Endpoint
	TransactionsEndpoint endpoint.Endpoint
	TransferEndpoint     endpoint.Endpoint
	CreateTopupEndpoint  endpoint.Endpoint
	RefundTopupEndpoint  endpoint.Endpoint
}

// The role sets routes demand. User routes demand a person's role rather
// than any valid token, so a token without a user behind it (an OAuth
// client's) cannot reach a wallet, and a route built without a Verifier
// fails closed (kit.RBAC answers missing_token).
var (
	anyUserRoles   = []string{"student", "instructor", "admin"}
	adminOnlyRoles = []string{"admin"}
)

// MakeEndpoints returns s's endpoints, each wrapped in kit.Chain under its
// Name* constant with what it needs:
//
//   - any user (student, instructor, admin): wallets, wallet,
//     wallet_transactions, transfer, create_topup (ownership is the
//     Service's check: an admin may read any wallet, only an owner moves
//     money out of one);
//   - admin: refund_topup.
//
// The Actor always comes from the claims v verified, never from the
// request. Inputs are checked before s is called: validation_failed
// naming every bad field (a non-positive amount, a currency that is not 3
// uppercase letters, a description over 500 characters, a missing wallet
// id), and ids that are not UUIDs are the resource's not-found error.
// m may be nil (no metrics).
func MakeEndpoints(s Service, logger log.Logger, m *kit.Metrics, v *kit.Verifier) Endpoints {
	withRoles := func(roles []string) func(string, endpoint.Endpoint) endpoint.Endpoint {
		return func(name string, ep endpoint.Endpoint) endpoint.Endpoint {
			return kit.Chain(logger, m, kit.Spec{Name: name, Verifier: v, Roles: roles})(ep)
		}
	}
	user, admin := withRoles(anyUserRoles), withRoles(adminOnlyRoles)
	return Endpoints{
		WalletsEndpoint:      user(NameWallets, makeWalletsEndpoint(s)),
		WalletEndpoint:       user(NameWallet, makeWalletEndpoint(s)),
		TransactionsEndpoint: user(NameTransactions, makeTransactionsEndpoint(s)),
		TransferEndpoint:     user(NameTransfer, makeTransferEndpoint(s)),
		CreateTopupEndpoint:  user(NameCreateTopup, makeCreateTopupEndpoint(s)),
		RefundTopupEndpoint:  admin(NameRefundTopup, makeRefundTopupEndpoint(s)),
	}
}

// actorOf returns the caller the JWT step verified. Without claims the
// endpoint was wired without a Verifier: refuse rather than trust anything
// else (missing_token).
func actorOf(ctx context.Context) (Actor, error) {
	c, err := kit.RequireClaims(ctx)
	return Actor{UserID: c.Subject, Roles: c.Roles}, err
}

// pageOf passes a Service's page on with an empty, never a null, items
// array: API.md's lists always carry one.
func pageOf[T any](p page.Page[T], err error) (any, error) {
	if err != nil {
		return nil, err
	}
	if p.Items == nil {
		p.Items = []T{}
	}
	return p, nil
}
