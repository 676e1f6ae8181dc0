package finance

import (
	"strings"
	"unicode/utf8"

	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/httpx"
	"github.com/azora-os/azora/shared/page"
)

// The request and response bodies of the endpoints. TransferRequest and
// Money are the domain's own (finance.go); a wallet or top-up id in the
// path never comes from a body.
type (
	// listRequest is a page of the caller's own wallets.
	listRequest struct {
		Page page.Request
	}
	// idRequest names one wallet or top-up.
	idRequest struct {
		ID string
	}
	transactionsRequest struct {
		WalletID string
		Page     page.Request
	}
	createTopupRequest struct {
		WalletID string
		Amount   Money
	}

	walletResponse struct {
		Wallet Wallet `json:"wallet"`
	}
	transferResponse struct {
		Transfer Transfer `json:"transfer"`
	}
	topupResponse struct {
		Topup Topup `json:"topup"`
	}
	// webhookResponse is what Stripe gets for a delivery it need not repeat.
	webhookResponse struct {
		Received bool `json:"received"`
	}
	// emptyRequest is what a POST without input decodes.
	emptyRequest struct{}
)

// maxDescriptionRunes bounds a transfer's description, in characters: it
// is shown on both wallets' statements.
const maxDescriptionRunes = 500

// inputProblems collects every bad field of a request, so a client learns
// all of them from one 400.
type inputProblems []errs.FieldError

func (f *inputProblems) add(field, message string) {
	*f = append(*f, errs.FieldError{Field: field, Message: message})
}

// err returns errs.Validation of the collected fields, or nil.
func (f inputProblems) err() error {
	if len(f) == 0 {
		return nil
	}
	return errs.Validation(f...)
}

// money checks an amount as sent: no rounding, no case folding, so what
// moves is exactly what the client asked for.
func (f *inputProblems) money(amount int64, currency string) {
	if amount <= 0 {
		f.add("amount", "must be a positive integer of minor units")
	}
	if !isCurrencyCode(currency) {
		f.add("currency", "must be an ISO 4217 code of 3 uppercase letters, such as USD")
	}
}

// walletRef checks a wallet id sent in a body: a missing one is a bad
// field; one that is present but no UUID names no wallet (reported by the
// caller as wallet_not_found once the fields are fine).
func (f *inputProblems) walletRef(field, id string) {
	if id == "" {
		f.add(field, "is required")
	}
}

func isCurrencyCode(s string) bool {
	if len(s) != 3 {
		return false
	}
	for i := range len(s) {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

// checkTransfer trims the description and checks r: both wallet ids, a
// positive amount in a currency code, a description that fits (400
// validation_failed naming each bad field); then ids that are not UUIDs
// (wallet_not_found) and a transfer to the source itself (same_wallet).
func checkTransfer(r *TransferRequest) error {
	var f inputProblems
	f.walletRef("from_wallet_id", r.FromWalletID)
	f.walletRef("to_wallet_id", r.ToWalletID)
	f.money(r.Amount, r.Currency)
	r.Description = strings.TrimSpace(r.Description)
	if utf8.RuneCountInString(r.Description) > maxDescriptionRunes {
		f.add("description", "must be at most 500 characters")
	}
	if err := f.err(); err != nil {
		return err
	}
	switch {
	case !validID(r.FromWalletID), !validID(r.ToWalletID):
		return ErrWalletNotFound
	case strings.EqualFold(r.FromWalletID, r.ToWalletID):
		return ErrSameWallet // a UUID's hex digits may come in either case
	}
	return nil
}

// checkTopupAmount checks a top-up's amount: positive, in a currency code.
func checkTopupAmount(m Money) error {
	var f inputProblems
	f.money(m.Amount, m.Currency)
	return f.err()
}

// validID reports whether id can name a row: every id is a UUID in its
// canonical 36-character form. Anything else names nothing, so the caller
// answers not found without asking the database (which would refuse to
// cast it).
func validID(id string) bool { return httpx.ValidUUID(id) }
