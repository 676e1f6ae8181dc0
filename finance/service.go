package finance

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/events"
	"github.com/azora-os/azora/shared/idempotency"
	"github.com/azora-os/azora/shared/page"
)

// Config tunes the service.
type Config struct {
	DefaultCurrency string // the wallet every user gets at registration; default USD
	FeeBasisPoints  int64  // the platform's share of a course price, in 1/100 %; default 1000 (10 %)
	Reward          Money  // paid on course completion when Amount > 0 and the rewards account can afford it
	Clock           func() time.Time
}

// Deps are the ports the service runs over.
type Deps struct {
	Ledger   Ledger
	Tx       Transactor
	Outbox   Outbox
	Payments Payments
}

// FinanceService implements Service and Reactions.
type FinanceService struct {
	Deps
	cfg Config
}

var (
	_ Service   = (*FinanceService)(nil)
	_ Reactions = (*FinanceService)(nil)
)

// NewService returns the finance service over d.
func NewService(d Deps, cfg Config) *FinanceService {
	if cfg.DefaultCurrency == "" {
		cfg.DefaultCurrency = "USD"
	}
	if cfg.FeeBasisPoints == 0 {
		cfg.FeeBasisPoints = 1000
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	return &FinanceService{Deps: d, cfg: cfg}
}

func (s *FinanceService) now() time.Time { return s.cfg.Clock().UTC().Truncate(time.Microsecond) }

// Wallets implements Service.
func (s *FinanceService) Wallets(ctx context.Context, a Actor, p page.Request) (page.Page[Wallet], error) {
	return s.Ledger.Wallets(ctx, a.UserID, p)
}

// Wallet implements Service. Another user's wallet does not exist for the
// caller.
func (s *FinanceService) Wallet(ctx context.Context, a Actor, id string) (Wallet, error) {
	w, err := s.Ledger.Wallet(ctx, id)
	if err != nil {
		return Wallet{}, err
	}
	if w.UserID != a.UserID && !isAdmin(a) {
		return Wallet{}, ErrWalletNotFound
	}
	return w, nil
}

// Transactions implements Service.
func (s *FinanceService) Transactions(ctx context.Context, a Actor, walletID string, p page.Request) (page.Page[Entry], error) {
	if _, err := s.Wallet(ctx, a, walletID); err != nil {
		return page.Page[Entry]{}, err
	}
	return s.Ledger.Entries(ctx, walletID, p)
}

// Transfer implements Service. The wallets are read by the statement of
// Post that locks them (Transaction.Check), not before: one round trip
// instead of three. The answers are those of reading them first: the
// source wallet decides (404 unless the caller may see it, 403 unless the
// caller owns it) before the destination (404), then the currencies, then
// the balance.
func (s *FinanceService) Transfer(ctx context.Context, a Actor, req TransferRequest) (Transfer, error) {
	req.Description = strings.TrimSpace(req.Description)
	if err := validateAmount(Money{req.Amount, req.Currency}); err != nil {
		return Transfer{}, err
	}
	if utf8.RuneCountInString(req.Description) > 500 {
		return Transfer{}, errs.Validation(errs.FieldError{Field: "description", Message: "must be at most 500 characters"})
	}
	if req.FromWalletID == req.ToWalletID {
		return Transfer{}, ErrSameWallet
	}
	fromID, err := uuid.Parse(req.FromWalletID)
	if err != nil {
		return Transfer{}, ErrWalletNotFound
	}
	toID, err := uuid.Parse(req.ToWalletID)
	if err != nil {
		// No wallet has such an id, but the source wallet is judged first.
		if err := s.mayDebit(ctx, a, req.FromWalletID); err != nil {
			return Transfer{}, err
		}
		return Transfer{}, ErrWalletNotFound
	}
	from, to := fromID.String(), toID.String()
	check := func(locked []Account) error {
		src, dst := walletIn(locked, from), walletIn(locked, to)
		switch {
		case src == nil || (src.UserID != a.UserID && !isAdmin(a)):
			return ErrWalletNotFound
		case src.UserID != a.UserID:
			return ErrNotOwner // an admin sees the wallet but moves no one's money
		case dst == nil:
			return ErrWalletNotFound
		case src.Currency != req.Currency || dst.Currency != req.Currency:
			return ErrCurrencyMismatch
		}
		return nil
	}
	var t Transfer
	err = s.Tx.InTx(ctx, func(ctx context.Context) error {
		id, err := newID()
		if err != nil {
			return err
		}
		txID, err := newID()
		if err != nil {
			return err
		}
		t = Transfer{ID: id, FromWalletID: from, ToWalletID: to, Amount: req.Amount, Currency: req.Currency,
			Description: req.Description, Status: "posted", CreatedAt: s.now()}
		// Queued before Post locks the wallets, so the locks are held one
		// statement less; a refused transfer rolls the event back with the
		// rest. The source wallet's owner is the caller, or Post refuses.
		if err := s.publish(ctx, EventTransferPosted, a.UserID, map[string]any{
			"transfer_id": t.ID, "from_wallet_id": t.FromWalletID, "to_wallet_id": t.ToWalletID, "amount": t.Amount,
		}); err != nil {
			return err
		}
		return s.Ledger.Post(ctx, Transaction{ID: txID, Kind: TxTransfer, Reference: id, Description: req.Description,
			Postings:  []Posting{{from, -req.Amount, req.Currency}, {to, req.Amount, req.Currency}},
			CreatedAt: s.now(), Check: check})
	})
	return t, err
}

// mayDebit returns the error a transfer out of wallet id gets before its
// destination is looked at: wallet_not_found unless a can see the wallet,
// forbidden unless a owns it, else nil.
func (s *FinanceService) mayDebit(ctx context.Context, a Actor, id string) error {
	w, err := s.Wallet(ctx, a, id)
	if err != nil {
		return err
	}
	if w.UserID != a.UserID {
		return ErrNotOwner
	}
	return nil
}

// walletIn returns the wallet with id among accounts, or nil.
func walletIn(accounts []Account, id string) *Account {
	if a := accountIn(accounts, id); a != nil && a.Kind == KindWallet {
		return a
	}
	return nil
}

// accountIn returns the account with id among accounts, or nil.
func accountIn(accounts []Account, id string) *Account {
	for i := range accounts {
		if accounts[i].ID == id {
			return &accounts[i]
		}
	}
	return nil
}

// CreateTopup implements Service. The PaymentIntent's Stripe idempotency
// key is derived from the request's Idempotency-Key, so a retried request
// (or a handler re-run after a serialization failure) finds the same
// PaymentIntent instead of creating a second one.
func (s *FinanceService) CreateTopup(ctx context.Context, a Actor, walletID string, amount Money) (Topup, error) {
	if err := validateAmount(amount); err != nil {
		return Topup{}, err
	}
	var t Topup
	err := s.Tx.InTx(ctx, func(ctx context.Context) error {
		w, err := s.Wallet(ctx, a, walletID)
		if err != nil {
			return err
		}
		if w.UserID != a.UserID {
			return ErrNotOwner
		}
		if w.Currency != amount.Currency {
			return ErrCurrencyMismatch
		}
		id, err := newID()
		if err != nil {
			return err
		}
		key := "azora-topup-" + id
		if k, ok := idempotency.KeyFrom(ctx); ok {
			sum := sha256.Sum256([]byte(k.Scope + "\x00" + k.Key))
			key = "azora-topup-" + hex.EncodeToString(sum[:16])
		}
		pi, secret, err := s.Payments.CreatePaymentIntent(ctx, amount, key,
			map[string]string{"topup_id": id, "wallet_id": w.ID, "user_id": w.UserID})
		if err != nil {
			return err
		}
		now := s.now()
		t = Topup{ID: id, WalletID: w.ID, UserID: w.UserID, Amount: amount.Amount, Currency: amount.Currency,
			Status: TopupPending, PaymentIntentID: pi, CreatedAt: now, UpdatedAt: now}
		if err := s.Ledger.CreateTopup(ctx, t); err != nil {
			return err
		}
		t.ClientSecret = secret
		return nil
	})
	return t, err
}

// RefundTopup implements Service. The wallet is debited first (so money
// already spent is refused) and Stripe is asked in the same transaction:
// a failed refund rolls the debit back, and a retried request repeats the
// refund under the same Stripe idempotency key.
func (s *FinanceService) RefundTopup(ctx context.Context, a Actor, topupID string) (Topup, error) {
	var t Topup
	err := s.Tx.InTx(ctx, func(ctx context.Context) error {
		var err error
		if t, err = s.Ledger.LockTopup(ctx, topupID); err != nil {
			return err
		}
		if t.Status != TopupSucceeded {
			return ErrTopupNotRefundable
		}
		clearing, err := s.Ledger.PlatformAccount(ctx, KindClearing, t.Currency)
		if err != nil {
			return err
		}
		if err := s.post(ctx, TxTopupRefund, t.ID, "card top-up refunded",
			Posting{t.WalletID, -t.Amount, t.Currency}, Posting{clearing.ID, t.Amount, t.Currency}); err != nil {
			return err
		}
		if err := s.Payments.Refund(ctx, t.PaymentIntentID, "azora-refund-"+t.ID); err != nil {
			return err
		}
		t.Status, t.UpdatedAt = TopupRefunded, s.now()
		return s.Ledger.SaveTopup(ctx, t)
	})
	return t, err
}

// HandleStripeEvent implements Service. The event id is recorded in the
// same transaction as its effect, so each delivery after the first, in
// sequence or at once, changes nothing.
func (s *FinanceService) HandleStripeEvent(ctx context.Context, e StripeEvent) error {
	return s.Tx.InTx(ctx, func(ctx context.Context) error {
		fresh, err := s.Ledger.RecordStripeEvent(ctx, e.ID, e.Type)
		if err != nil || !fresh {
			return err
		}
		switch e.Type {
		case "payment_intent.succeeded":
			return s.topupSucceeded(ctx, e)
		case "payment_intent.payment_failed":
			return s.topupFailed(ctx, e)
		}
		return nil // other event types are not ours to act on
	})
}

func (s *FinanceService) topupSucceeded(ctx context.Context, e StripeEvent) error {
	t, err := s.Ledger.LockTopupByIntent(ctx, e.PaymentIntentID)
	if errors.Is(err, ErrTopupNotFound) {
		return nil // a PaymentIntent that is not a top-up of ours
	}
	if err != nil {
		return err
	}
	if t.Status != TopupPending {
		return nil // credited already (or refunded, or failed and not ours to revive)
	}
	if e.Amount != t.Amount || !strings.EqualFold(e.Currency, t.Currency) {
		return errs.Internalf(errors.New("amount mismatch"), "PaymentIntent %s succeeded for %d %s, top-up %s is %d %s",
			e.PaymentIntentID, e.Amount, e.Currency, t.ID, t.Amount, t.Currency)
	}
	clearing, err := s.Ledger.PlatformAccount(ctx, KindClearing, t.Currency)
	if err != nil {
		return err
	}
	if err := s.post(ctx, TxTopup, e.PaymentIntentID, "card top-up",
		Posting{clearing.ID, -t.Amount, t.Currency}, Posting{t.WalletID, t.Amount, t.Currency}); err != nil {
		return err
	}
	t.Status, t.UpdatedAt = TopupSucceeded, s.now()
	if err := s.Ledger.SaveTopup(ctx, t); err != nil {
		return err
	}
	return s.publish(ctx, EventTopupSucceeded, t.UserID, map[string]any{
		"topup_id": t.ID, "wallet_id": t.WalletID, "user_id": t.UserID, "amount": t.Amount,
	})
}

func (s *FinanceService) topupFailed(ctx context.Context, e StripeEvent) error {
	t, err := s.Ledger.LockTopupByIntent(ctx, e.PaymentIntentID)
	if errors.Is(err, ErrTopupNotFound) {
		return nil
	}
	if err != nil || t.Status != TopupPending {
		return err
	}
	t.Status, t.UpdatedAt = TopupFailed, s.now()
	return s.Ledger.SaveTopup(ctx, t)
}

// post writes one balanced transaction of postings, dropping zero legs.
func (s *FinanceService) post(ctx context.Context, kind, ref, desc string, postings ...Posting) error {
	id, err := newID()
	if err != nil {
		return err
	}
	postings = slices.DeleteFunc(postings, func(p Posting) bool { return p.Amount == 0 })
	return s.Ledger.Post(ctx, Transaction{ID: id, Kind: kind, Reference: ref, Description: desc, Postings: postings, CreatedAt: s.now()})
}

func (s *FinanceService) publish(ctx context.Context, typ, userID string, data any) error {
	ev, err := events.New(events.TopicFinance, typ, userID, data)
	if err != nil {
		return errs.Internalf(err, "build %s", typ)
	}
	return s.Outbox(ctx, ev)
}

func validateAmount(m Money) error {
	var fields []errs.FieldError
	if m.Amount <= 0 {
		fields = append(fields, errs.FieldError{Field: "amount", Message: "must be a positive integer of minor units"})
	}
	if len(m.Currency) != 3 || strings.Trim(m.Currency, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
		fields = append(fields, errs.FieldError{Field: "currency", Message: "must be an ISO 4217 code such as USD"})
	}
	if len(fields) > 0 {
		return errs.Validation(fields...)
	}
	return nil
}

func isAdmin(a Actor) bool { return slices.Contains(a.Roles, "admin") }

func newID() (string, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return "", errs.Internalf(err, "new id")
	}
	return id.String(), nil
}
