// Package finance is Azora's money service: wallets over a double-entry,
// append-only ledger, idempotent transfers, card top-ups and refunds through
// Stripe, and the payment side of the enrollment saga. It publishes
// azora.finance.* events and reacts to auth's and education's.
package finance

import (
	"context"
	"time"

	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/events"
	"github.com/azora-os/azora/shared/page"
)

// Account kinds. A user wallet may never go below zero; platform accounts
// (one per kind and currency) may: stripe_clearing goes negative by what
// came in from cards, exactly as a bank's clearing account does.
//
// A receivable (one per user and currency, opened on first use) is what
// the user owes the platform: its balance is at or below zero, never
// above. It exists because an enrollment refund pays the student in full
// even when the instructor has already moved the share out of the wallet;
// the part the wallet cannot cover becomes debt, which the instructor's
// next earnings pay back first. It has an owner but is not a wallet: no
// wallet route, look-up or transfer ever sees it.
const (
	KindWallet     = "wallet"
	KindReceivable = "receivable"
	KindFees       = "platform_fees"
	KindRewards    = "platform_rewards"
	KindClearing   = "stripe_clearing"
)

// Transaction kinds. References make reactions idempotent: a (kind,
// reference) pair is posted at most once.
const (
	TxTransfer         = "transfer"          // reference: the transfer id
	TxTopup            = "topup"             // reference: the PaymentIntent id
	TxTopupRefund      = "topup_refund"      // reference: the top-up id
	TxEnrollmentCharge = "enrollment_charge" // reference: the enrollment id
	TxEnrollmentRefund = "enrollment_refund" // reference: the enrollment id
	TxReward           = "reward"            // reference: the enrollment id
)

// Top-up statuses.
const (
	TopupPending   = "pending"
	TopupSucceeded = "succeeded"
	TopupFailed    = "failed"
	TopupRefunded  = "refunded"
)

// Event types finance publishes on events.TopicFinance.
const (
	EventWalletCreated    = "azora.finance.wallet.created"
	EventTransferPosted   = "azora.finance.transfer.posted"
	EventTopupSucceeded   = "azora.finance.topup.succeeded"
	EventPaymentCompleted = "azora.finance.payment.completed"
	EventPaymentFailed    = "azora.finance.payment.failed"
)

// Event types finance reacts to.
const (
	EventUserRegistered      = "azora.auth.user.registered"
	EventEnrollmentRequested = "azora.education.enrollment.requested"
	EventEnrollmentCancelled = "azora.education.enrollment.cancelled"
	EventCourseCompleted     = "azora.education.course.completed"
)

// Money is an amount in integer minor units of an ISO 4217 currency.
type Money struct {
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
}

// Wallet is API.md's wallet: a user's account in one currency. Balance is
// in minor units of Currency.
type Wallet struct {
	ID        string    `json:"id"`
	UserID    string    `json:"user_id"`
	Currency  string    `json:"currency"`
	Balance   int64     `json:"balance"`
	CreatedAt time.Time `json:"created_at"`
}

// Account is any ledger account: a wallet or a receivable (UserID set) or
// a platform one.
type Account struct {
	ID       string
	Kind     string
	UserID   string // wallets and receivables only
	Currency string
	Balance  int64
}

// Posting is one leg of a transaction: Amount is signed (credit +, debit −)
// in the account's currency.
type Posting struct {
	AccountID string
	Amount    int64
	Currency  string
}

// Transaction is one balanced ledger entry: its postings sum to zero per
// currency. Posted transactions are never changed; a correction is a new
// transaction reversing them.
type Transaction struct {
	ID          string
	Kind        string
	Reference   string
	Description string
	Postings    []Posting
	CreatedAt   time.Time

	// Check, when set, lets the caller refuse the transaction on the
	// accounts as Post locked them, before Post checks or writes
	// anything: it gets those of the postings' accounts that exist, in id
	// order, and a non-nil error is Post's. A caller that must look at its
	// accounts first (a transfer checks who owns the wallets) so reads them
	// in the same statement that locks them. It is not stored.
	Check func(locked []Account) error
}

// Entry is one posting as a wallet's statement shows it.
type Entry struct {
	ID            string    `json:"id"`
	TransactionID string    `json:"transaction_id"`
	Kind          string    `json:"kind"`
	Amount        int64     `json:"amount"` // signed: + credit, − debit
	Currency      string    `json:"currency"`
	Description   string    `json:"description,omitempty"`
	CreatedAt     time.Time `json:"created_at"`
}

// Transfer is API.md's transfer object.
type Transfer struct {
	ID           string    `json:"id"`
	FromWalletID string    `json:"from_wallet_id"`
	ToWalletID   string    `json:"to_wallet_id"`
	Amount       int64     `json:"amount"`
	Currency     string    `json:"currency"`
	Description  string    `json:"description,omitempty"`
	Status       string    `json:"status"` // "posted"
	CreatedAt    time.Time `json:"created_at"`
}

// TransferRequest is POST /api/v1/transfers's body.
type TransferRequest struct {
	FromWalletID string `json:"from_wallet_id"`
	ToWalletID   string `json:"to_wallet_id"`
	Amount       int64  `json:"amount"`
	Currency     string `json:"currency"`
	Description  string `json:"description,omitempty"`
}

// Topup is API.md's topup object.
type Topup struct {
	ID              string    `json:"id"`
	WalletID        string    `json:"wallet_id"`
	UserID          string    `json:"-"`
	Amount          int64     `json:"amount"`
	Currency        string    `json:"currency"`
	Status          string    `json:"status"`
	PaymentIntentID string    `json:"payment_intent_id"`
	ClientSecret    string    `json:"client_secret,omitempty"` // only when created
	CreatedAt       time.Time `json:"created_at"`
	UpdatedAt       time.Time `json:"updated_at"`
}

// Charge is finance's record of one enrollment's payment, the saga state
// that makes the reactions idempotent whatever order events arrive in.
type Charge struct {
	EnrollmentID  string
	UserID        string
	InstructorID  string
	Amount        int64
	Currency      string
	Status        string // ChargePaid, ChargeFailed, ChargeRefunded, ChargeCancelled
	FailureReason string
	TransactionID string
	Rewarded      bool
	UpdatedAt     time.Time
}

// Charge statuses.
const (
	ChargePaid      = "paid"
	ChargeFailed    = "failed"
	ChargeRefunded  = "refunded"  // paid, then the enrollment was cancelled
	ChargeCancelled = "cancelled" // the enrollment was cancelled before any charge
)

// StripeEvent is what finance needs of a verified Stripe webhook event.
type StripeEvent struct {
	ID              string // evt_…; each is applied once
	Type            string // payment_intent.succeeded, payment_intent.payment_failed, …
	PaymentIntentID string
	Amount          int64
	Currency        string // upper case
	FailureMessage  string
}

// Actor is the caller, from a verified access token.
type Actor struct {
	UserID string
	Roles  []string
}

// Difference is one account whose stored balance disagrees with the sum
// of its postings.
type Difference struct {
	AccountID string
	Stored    int64
	Computed  int64
}

// Domain errors.
var (
	ErrWalletNotFound     = errs.New(errs.NotFound, "wallet_not_found", "no such wallet")
	ErrTopupNotFound      = errs.New(errs.NotFound, "topup_not_found", "no such top-up")
	ErrInsufficientFunds  = errs.New(errs.Conflict, "insufficient_funds", "the source wallet does not hold enough")
	ErrCurrencyMismatch   = errs.New(errs.FailedPrecondition, "currency_mismatch", "the wallets and the amount must be in one currency")
	ErrSameWallet         = errs.New(errs.Invalid, "same_wallet", "a transfer needs two different wallets")
	ErrNotOwner           = errs.New(errs.Forbidden, "forbidden", "only the wallet's owner may do this")
	ErrTopupNotRefundable = errs.New(errs.Conflict, "topup_not_refundable", "only a succeeded top-up can be refunded")
	ErrAlreadyPosted      = errs.New(errs.Conflict, "already_posted", "this transaction was already posted")
	ErrPaymentProvider    = errs.New(errs.Unavailable, "payment_provider_unavailable", "the card payment provider did not answer; try again")
	ErrCardDeclined       = errs.New(errs.FailedPrecondition, "card_declined", "the payment provider refused the request")
)

// Service is the finance domain; the endpoint layer has verified the
// caller and the roles a route needs, ownership is checked here.
type Service interface {
	// Wallets lists the caller's wallets.
	Wallets(ctx context.Context, a Actor, p page.Request) (page.Page[Wallet], error)
	// Wallet returns one wallet to its owner or an admin. Errors: wallet_not_found.
	Wallet(ctx context.Context, a Actor, id string) (Wallet, error)
	// Transactions pages a wallet's entries, newest first. Errors: wallet_not_found.
	Transactions(ctx context.Context, a Actor, walletID string, p page.Request) (page.Page[Entry], error)
	// Transfer moves money between wallets in one currency. Errors:
	// validation_failed, wallet_not_found, forbidden, currency_mismatch,
	// insufficient_funds, same_wallet.
	Transfer(ctx context.Context, a Actor, req TransferRequest) (Transfer, error)
	// CreateTopup starts a card top-up (a Stripe PaymentIntent). Errors:
	// validation_failed, wallet_not_found, forbidden, currency_mismatch,
	// payment_provider_unavailable.
	CreateTopup(ctx context.Context, a Actor, walletID string, amount Money) (Topup, error)
	// RefundTopup refunds a succeeded top-up through Stripe and debits the
	// wallet. Errors: topup_not_found, topup_not_refundable, insufficient_funds.
	RefundTopup(ctx context.Context, a Actor, topupID string) (Topup, error)
	// HandleStripeEvent applies a verified webhook event exactly once.
	HandleStripeEvent(ctx context.Context, e StripeEvent) error
}

// Reactions are what the event consumer calls, inside its inbox transaction.
type Reactions interface {
	// OpenDefaultWallet opens the user's default-currency wallet (idempotent).
	OpenDefaultWallet(ctx context.Context, userID string) error
	// ChargeEnrollment moves the price from the student's wallet to the
	// instructor's, less the platform fee, keyed on the enrollment id, and
	// queues payment.completed or payment.failed. While the instructor owes
	// the platform (a receivable below zero), their share pays that debt
	// first and only the rest reaches the wallet.
	ChargeEnrollment(ctx context.Context, enrollmentID, courseID, userID, instructorID string, price Money) error
	// EnrollmentCancelled refunds a paid charge in full, or marks the
	// enrollment so a charge request arriving later is refused. The part
	// of the instructor's share their wallet no longer holds is taken onto
	// their receivable, so the refund never fails for want of it.
	EnrollmentCancelled(ctx context.Context, enrollmentID, userID string) error
	// CourseCompleted pays the learn-to-earn reward once, when configured
	// and the rewards account can afford it.
	CourseCompleted(ctx context.Context, enrollmentID, userID string) error
}

// Ledger stores accounts, transactions, top-ups and charges. Methods join
// the transaction in ctx (pg.FromContext).
type Ledger interface {
	// OpenWallet creates the user's wallet in currency unless it exists;
	// it returns the wallet and whether this call created it.
	OpenWallet(ctx context.Context, id, userID, currency string, at time.Time) (Wallet, bool, error)
	// Wallet returns a wallet. Errors: wallet_not_found.
	Wallet(ctx context.Context, id string) (Wallet, error)
	// WalletOf returns the user's wallet in currency. Errors: wallet_not_found.
	WalletOf(ctx context.Context, userID, currency string) (Wallet, error)
	// Wallets pages a user's wallets, oldest first.
	Wallets(ctx context.Context, userID string, p page.Request) (page.Page[Wallet], error)
	// PlatformAccount returns (creating it if needed) the platform account
	// of kind in currency.
	PlatformAccount(ctx context.Context, kind, currency string) (Account, error)
	// Receivable returns the user's receivable in currency (its Balance is
	// what the user owes, as a number at or below zero) and true, or
	// (Account{}, false, nil) when the user has none, which means the user
	// owes nothing in currency. Errors: internal.
	Receivable(ctx context.Context, userID, currency string) (Account, bool, error)
	// OpenReceivable returns the user's receivable in currency, creating it
	// with a zero balance on first use; concurrent first uses create one.
	// Errors: validation_failed for a user id that is not a UUID or a
	// currency that is not an ISO 4217 code, internal.
	OpenReceivable(ctx context.Context, userID, currency string) (Account, error)
	// Post writes t: it checks that postings balance per currency and match
	// their accounts' currencies, locks the accounts in id order (so
	// concurrent posts never deadlock), refuses to take a wallet below zero
	// (insufficient_funds, nothing written) or a receivable above zero
	// (internal: the caller planned more repayment than the debt), inserts
	// the transaction and its postings and updates the balances. A (kind,
	// reference) already posted returns already_posted.
	Post(ctx context.Context, t Transaction) error
	// Transaction returns a posted transaction with its postings, found by
	// kind and reference. Errors: not found as ErrAlreadyPosted's absence:
	// (Transaction{}, false, nil).
	TransactionByRef(ctx context.Context, kind, reference string) (Transaction, bool, error)
	// Entries pages a wallet's postings, newest first.
	Entries(ctx context.Context, walletID string, p page.Request) (page.Page[Entry], error)
	// Reconcile recomputes every balance from the postings and returns the
	// accounts whose stored balance differs.
	Reconcile(ctx context.Context) ([]Difference, error)

	// CreateTopup stores t.
	CreateTopup(ctx context.Context, t Topup) error
	// Topup returns a top-up. Errors: topup_not_found.
	Topup(ctx context.Context, id string) (Topup, error)
	// LockTopupByIntent returns the top-up of a PaymentIntent, locked.
	// Errors: topup_not_found.
	LockTopupByIntent(ctx context.Context, paymentIntentID string) (Topup, error)
	// LockTopup returns a top-up, locked. Errors: topup_not_found.
	LockTopup(ctx context.Context, id string) (Topup, error)
	// SaveTopup writes status, payment_intent_id and updated_at.
	SaveTopup(ctx context.Context, t Topup) error
	// RecordStripeEvent records a webhook event id; false when it was
	// already recorded (a redelivery).
	RecordStripeEvent(ctx context.Context, id, typ string) (bool, error)

	// LockCharge returns the enrollment's charge record, locked, or
	// (Charge{}, false, nil) when there is none.
	LockCharge(ctx context.Context, enrollmentID string) (Charge, bool, error)
	// SaveCharge inserts or updates c.
	SaveCharge(ctx context.Context, c Charge) error
}

// Transactor runs fn in one transaction carried by ctx (pg.Transactor).
type Transactor interface {
	InTx(ctx context.Context, fn func(ctx context.Context) error) error
}

// Outbox queues events in the transaction in ctx: events.Enqueue.
type Outbox func(ctx context.Context, evs ...events.Event) error

// Payments is the card payment provider (Stripe).
type Payments interface {
	// CreatePaymentIntent starts a card payment of amount into the wallet,
	// at most once per idempotencyKey. Errors: payment_provider_unavailable,
	// card_declined.
	CreatePaymentIntent(ctx context.Context, amount Money, idempotencyKey string, metadata map[string]string) (id, clientSecret string, err error)
	// Refund refunds a PaymentIntent in full, at most once per
	// idempotencyKey. Errors: payment_provider_unavailable, card_declined.
	Refund(ctx context.Context, paymentIntentID, idempotencyKey string) error
}
