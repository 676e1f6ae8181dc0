package finance

import (
	"context"

	"github.com/go-kit/kit/endpoint"
)

// The wallet endpoints: reading wallets and statements, and moving money
// between wallets, into them by card and back out by refund.

func makeWalletsEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		a, err := actorOf(ctx)
		if err != nil {
			return nil, err
		}
		return pageOf(s.Wallets(ctx, a, request.(listRequest).Page))
	}
}

func makeWalletEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		a, err := actorOf(ctx)
		if err != nil {
			return nil, err
		}
		req := request.(idRequest)
		if !validID(req.ID) {
			return nil, ErrWalletNotFound
		}
		w, err := s.Wallet(ctx, a, req.ID)
		if err != nil {
			return nil, err
		}
		return walletResponse{Wallet: w}, nil
	}
}

func makeTransactionsEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		a, err := actorOf(ctx)
		if err != nil {
			return nil, err
		}
		req := request.(transactionsRequest)
		if !validID(req.WalletID) {
			return nil, ErrWalletNotFound
		}
		return pageOf(s.Transactions(ctx, a, req.WalletID, req.Page))
	}
}

func makeTransferEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		a, err := actorOf(ctx)
		if err != nil {
			return nil, err
		}
		req := request.(TransferRequest)
		if err := checkTransfer(&req); err != nil {
			return nil, err
		}
		t, err := s.Transfer(ctx, a, req)
		if err != nil {
			return nil, err
		}
		return transferResponse{Transfer: t}, nil
	}
}

func makeCreateTopupEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		a, err := actorOf(ctx)
		if err != nil {
			return nil, err
		}
		req := request.(createTopupRequest)
		if !validID(req.WalletID) {
			return nil, ErrWalletNotFound
		}
		if err := checkTopupAmount(req.Amount); err != nil {
			return nil, err
		}
		t, err := s.CreateTopup(ctx, a, req.WalletID, req.Amount)
		if err != nil {
			return nil, err
		}
		return topupResponse{Topup: t}, nil
	}
}

func makeRefundTopupEndpoint(s Service) endpoint.Endpoint {
	return func(ctx context.Context, request any) (any, error) {
		a, err := actorOf(ctx)
		if err != nil {
			return nil, err
		}
		req := request.(idRequest)
		if !validID(req.ID) {
			return nil, ErrTopupNotFound
		}
		t, err := s.RefundTopup(ctx, a, req.ID)
		if err != nil {
			return nil, err
		}
		return topupResponse{Topup: t}, nil
	}
}
