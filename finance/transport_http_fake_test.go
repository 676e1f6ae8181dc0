package finance_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/azora-os/azora/finance"
	"github.com/azora-os/azora/shared/kit"
	"github.com/azora-os/azora/shared/logging"
	"github.com/azora-os/azora/shared/page"
	"github.com/azora-os/azora/shared/pg"
)

// Ids and times of what the fake answers. Ids are UUIDs: the endpoints
// refuse anything else before the Service sees it.
const (
	htWalletID  = "0195f3a0-0000-7000-8000-00000000a001"
	htWallet2ID = "0195f3a0-0000-7000-8000-00000000a002"
	htTopupID   = "0195f3a0-0000-7000-8000-00000000b001"
	htTxID      = "0195f3a0-0000-7000-8000-00000000c001"
	htEntryID   = "0195f3a0-0000-7000-8000-00000000d001"
	htXferID    = "0195f3a0-0000-7000-8000-00000000e001"
	htIntentID  = "pi_3OqHtFake0001"
	htSecret    = "pi_3OqHtFake0001_secret_abc"
)

var htCreatedAt = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func htWallet(userID string) finance.Wallet {
	return finance.Wallet{ID: htWalletID, UserID: userID, Currency: "USD", Balance: 2500, CreatedAt: htCreatedAt}
}

func htEntry() finance.Entry {
	return finance.Entry{ID: htEntryID, TransactionID: htTxID, Kind: finance.TxTransfer, Amount: -500, Currency: "USD",
		Description: "lunch", CreatedAt: htCreatedAt}
}

func htTopup(walletID string, m finance.Money, status string) finance.Topup {
	return finance.Topup{ID: htTopupID, WalletID: walletID, UserID: "student-1", Amount: m.Amount, Currency: m.Currency,
		Status: status, PaymentIntentID: htIntentID, CreatedAt: htCreatedAt, UpdatedAt: htCreatedAt}
}

// htFake is a hand-written finance.Service: it records each method's last
// arguments (and the request id of its ctx) and how often it ran, and
// answers a fixed result, or the errors queued for the method.
type htFake struct {
	mu    sync.Mutex
	fail  map[string][]error // per method, answered in turn; the last one sticks
	calls map[string][]any
	count map[string]int
	reqID map[string]string
	inTx  map[string]bool // whether ctx carried a transaction (pg.FromContext)
}

func newHTFake() *htFake {
	return &htFake{fail: map[string][]error{}, calls: map[string][]any{}, count: map[string]int{}, reqID: map[string]string{}, inTx: map[string]bool{}}
}

// failWith makes method answer errs in turn, the last one from then on
// (nil: succeed).
func (f *htFake) failWith(method string, errs ...error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail[method] = errs
}

func (f *htFake) record(ctx context.Context, method string, args ...any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[method] = args
	f.count[method]++
	f.reqID[method] = logging.RequestID(ctx)
	f.inTx[method] = pg.FromContext(ctx) != nil
	if _, ok := kit.ClaimsFrom(ctx); !ok && method != "HandleStripeEvent" {
		return errors.New("htFake: called without verified claims")
	}
	q := f.fail[method]
	if len(q) == 0 {
		return nil
	}
	err := q[0]
	if len(q) > 1 {
		f.fail[method] = q[1:]
	}
	return err
}

// called returns the arguments of method's last call, and whether it ran.
func (f *htFake) called(method string) ([]any, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	args, ok := f.calls[method]
	return args, ok
}

// times returns how often method ran.
func (f *htFake) times(method string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.count[method]
}

// ranInTx reports whether method's last call ran inside a transaction.
func (f *htFake) ranInTx(method string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.inTx[method]
}

func (f *htFake) requestID(method string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reqID[method]
}

func (f *htFake) methods() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Sorted(maps.Keys(f.calls))
}

func (f *htFake) Wallets(ctx context.Context, a finance.Actor, p page.Request) (page.Page[finance.Wallet], error) {
	if err := f.record(ctx, "Wallets", a, p); err != nil {
		return page.Page[finance.Wallet]{}, err
	}
	return page.Page[finance.Wallet]{Items: []finance.Wallet{htWallet(a.UserID)}, NextCursor: "next-wallets"}, nil
}

func (f *htFake) Wallet(ctx context.Context, a finance.Actor, id string) (finance.Wallet, error) {
	if err := f.record(ctx, "Wallet", a, id); err != nil {
		return finance.Wallet{}, err
	}
	w := htWallet(a.UserID)
	w.ID = id
	return w, nil
}

func (f *htFake) Transactions(ctx context.Context, a finance.Actor, walletID string, p page.Request) (page.Page[finance.Entry], error) {
	if err := f.record(ctx, "Transactions", a, walletID, p); err != nil {
		return page.Page[finance.Entry]{}, err
	}
	return page.Page[finance.Entry]{Items: []finance.Entry{htEntry()}, NextCursor: "next-entries"}, nil
}

func (f *htFake) Transfer(ctx context.Context, a finance.Actor, req finance.TransferRequest) (finance.Transfer, error) {
	if err := f.record(ctx, "Transfer", a, req); err != nil {
		return finance.Transfer{}, err
	}
	return finance.Transfer{ID: htXferID, FromWalletID: req.FromWalletID, ToWalletID: req.ToWalletID, Amount: req.Amount,
		Currency: req.Currency, Description: req.Description, Status: "posted", CreatedAt: htCreatedAt}, nil
}

func (f *htFake) CreateTopup(ctx context.Context, a finance.Actor, walletID string, amount finance.Money) (finance.Topup, error) {
	if err := f.record(ctx, "CreateTopup", a, walletID, amount); err != nil {
		return finance.Topup{}, err
	}
	t := htTopup(walletID, amount, finance.TopupPending)
	t.ClientSecret = htSecret
	return t, nil
}

func (f *htFake) RefundTopup(ctx context.Context, a finance.Actor, topupID string) (finance.Topup, error) {
	if err := f.record(ctx, "RefundTopup", a, topupID); err != nil {
		return finance.Topup{}, err
	}
	t := htTopup(htWalletID, finance.Money{Amount: 5000, Currency: "USD"}, finance.TopupRefunded)
	t.ID = topupID
	return t, nil
}

func (f *htFake) HandleStripeEvent(ctx context.Context, e finance.StripeEvent) error {
	return f.record(ctx, "HandleStripeEvent", e)
}

// htSigningSecret signs the test webhook deliveries.
const htSigningSecret = "whsec_test_transport"

// htSign returns the Stripe-Signature header htVerifier accepts for
// payload: an HMAC-SHA256 over "t.payload", as Stripe's scheme v1.
func htSign(payload []byte) string {
	const t = "1700000000"
	m := hmac.New(sha256.New, []byte(htSigningSecret))
	m.Write([]byte(t + "."))
	m.Write(payload)
	return "t=" + t + ",v1=" + hex.EncodeToString(m.Sum(nil))
}

// htVerifier is a finance.StripeWebhook that records what it was handed
// and accepts exactly htSign(payload), then reads the event's id, type and
// PaymentIntent from the payload.
type htVerifier struct {
	mu      sync.Mutex
	payload [][]byte
	sigs    []string
}

func (v *htVerifier) Parse(payload []byte, sig string) (finance.StripeEvent, error) {
	v.mu.Lock()
	v.payload = append(v.payload, slices.Clone(payload))
	v.sigs = append(v.sigs, sig)
	v.mu.Unlock()
	if !hmac.Equal([]byte(sig), []byte(htSign(payload))) {
		return finance.StripeEvent{}, errors.New("no signatures found matching the expected signature for payload")
	}
	var body struct {
		ID   string `json:"id"`
		Type string `json:"type"`
		Data struct {
			Object struct {
				ID       string `json:"id"`
				Amount   int64  `json:"amount"`
				Currency string `json:"currency"`
			} `json:"object"`
		} `json:"data"`
	}
	if err := json.Unmarshal(payload, &body); err != nil {
		return finance.StripeEvent{}, err
	}
	o := body.Data.Object
	return finance.StripeEvent{ID: body.ID, Type: body.Type, PaymentIntentID: o.ID, Amount: o.Amount, Currency: o.Currency}, nil
}

// seen returns the payloads and headers Parse was handed.
func (v *htVerifier) seen() ([][]byte, []string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return slices.Clone(v.payload), slices.Clone(v.sigs)
}
