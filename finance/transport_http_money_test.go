package finance_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/azora-os/azora/finance"
)

// htTransferBody is a transfer request body from htWalletID to htWallet2ID.
func htTransferBody(amount, currency, extra string) string {
	return fmt.Sprintf(`{"from_wallet_id":%q,"to_wallet_id":%q,"amount":%s,"currency":%q%s}`, htWalletID, htWallet2ID, amount, currency, extra)
}

func testHTTPTransferRoute(t *testing.T, e *htEnv) {
	post, p := http.MethodPost, finance.PathTransfers
	student := htActors["student"]
	as := func(body string) htRequest { return htRequest{who: "student", body: body} }
	want := finance.TransferRequest{FromWalletID: htWalletID, ToWalletID: htWallet2ID, Amount: 500, Currency: "USD", Description: "lunch"}

	e.run(t, []htCase{
		{name: "posted", method: post, path: p, htRequest: as(htTransferBody("500", "USD", `,"description":"  lunch "`)),
			status: 201, calls: "Transfer", check: htAll(htWantKeys("transfer"), htWantArgs("Transfer", student, want),
				htWantBody("transfer", finance.Transfer{ID: htXferID, FromWalletID: htWalletID, ToWalletID: htWallet2ID, Amount: 500,
					Currency: "USD", Description: "lunch", Status: "posted", CreatedAt: htCreatedAt}),
				htWantMemberKeys("transfer", "id", "from_wallet_id", "to_wallet_id", "amount", "currency", "description", "status", "created_at"))},
		{name: "without description", method: post, path: p, htRequest: as(htTransferBody("1", "EUR", "")), status: 201, calls: "Transfer",
			check: htWantArgs("Transfer", student, finance.TransferRequest{FromWalletID: htWalletID, ToWalletID: htWallet2ID, Amount: 1, Currency: "EUR"})},
		{name: "description limit inclusive", method: post, path: p, htRequest: as(htTransferBody("1", "USD", `,"description":"`+strings.Repeat("é", 500)+`"`)), status: 201, calls: "Transfer"},
		{name: "zero amount", method: post, path: p, htRequest: as(htTransferBody("0", "USD", "")),
			status: 400, code: "validation_failed", fields: []string{"amount"}},
		{name: "negative amount", method: post, path: p, htRequest: as(htTransferBody("-500", "USD", "")),
			status: 400, code: "validation_failed", fields: []string{"amount"}},
		{name: "fractional amount", method: post, path: p, htRequest: as(htTransferBody("5.5", "USD", "")),
			status: 400, code: "validation_failed", fields: []string{"amount"}},
		{name: "amount as a string", method: post, path: p, htRequest: as(htTransferBody(`"500"`, "USD", "")),
			status: 400, code: "validation_failed", fields: []string{"amount"}},
		{name: "missing amount", method: post, path: p, htRequest: as(fmt.Sprintf(`{"from_wallet_id":%q,"to_wallet_id":%q,"currency":"USD"}`, htWalletID, htWallet2ID)),
			status: 400, code: "validation_failed", fields: []string{"amount"}},
		{name: "lower-case currency", method: post, path: p, htRequest: as(htTransferBody("500", "usd", "")),
			status: 400, code: "validation_failed", fields: []string{"currency"}},
		{name: "every bad field", method: post, path: p, htRequest: as(`{"amount":0,"currency":"DOLLARS","description":"` + strings.Repeat("d", 501) + `"}`),
			status: 400, code: "validation_failed", fields: []string{"from_wallet_id", "to_wallet_id", "amount", "currency", "description"}},
		{name: "source not a uuid", method: post, path: p, htRequest: as(fmt.Sprintf(`{"from_wallet_id":"w1","to_wallet_id":%q,"amount":5,"currency":"USD"}`, htWallet2ID)),
			status: 404, code: "wallet_not_found"},
		{name: "target not a uuid", method: post, path: p, htRequest: as(fmt.Sprintf(`{"from_wallet_id":%q,"to_wallet_id":"../x","amount":5,"currency":"USD"}`, htWalletID)),
			status: 404, code: "wallet_not_found"},
		{name: "same wallet", method: post, path: p, htRequest: as(fmt.Sprintf(`{"from_wallet_id":%q,"to_wallet_id":%q,"amount":5,"currency":"USD"}`, htWalletID, strings.ToUpper(htWalletID))),
			status: 400, code: "same_wallet"},
		{name: "unknown field", method: post, path: p, htRequest: as(htTransferBody("500", "USD", `,"status":"posted"`)),
			status: 400, code: "unknown_field", fields: []string{"status"}},
		{name: "malformed json", method: post, path: p, htRequest: as(`{"amount":`), status: 400, code: "malformed_json"},
		{name: "not json", method: post, path: p, htRequest: htRequest{who: "student", body: "amount=5", ctype: "text/plain"},
			status: 415, code: "unsupported_media_type"},
		{name: "missing token", method: post, path: p, htRequest: htRequest{body: htTransferBody("500", "USD", "")}, status: 401, code: "missing_token"},
		{name: "expired token", method: post, path: p, htRequest: htRequest{who: "expired", body: htTransferBody("500", "USD", "")},
			status: 401, code: "invalid_token"},
		{name: "token without a user role", method: post, path: p, htRequest: htRequest{who: "norole", body: htTransferBody("0", "USD", "")},
			status: 403, code: "forbidden"},
		{name: "not the source's owner", method: post, path: p, htRequest: as(htTransferBody("500", "USD", "")),
			fail: htFails("Transfer", finance.ErrNotOwner), status: 403, code: "forbidden", calls: "Transfer"},
		{name: "unknown wallet", method: post, path: p, htRequest: as(htTransferBody("500", "USD", "")),
			fail: htFails("Transfer", finance.ErrWalletNotFound), status: 404, code: "wallet_not_found", calls: "Transfer"},
		{name: "insufficient funds", method: post, path: p, htRequest: as(htTransferBody("500", "USD", "")),
			fail: htFails("Transfer", finance.ErrInsufficientFunds), status: 409, code: "insufficient_funds", calls: "Transfer"},
		{name: "currency mismatch", method: post, path: p, htRequest: as(htTransferBody("500", "EUR", "")),
			fail: htFails("Transfer", finance.ErrCurrencyMismatch), status: 422, code: "currency_mismatch", calls: "Transfer"},
	})
}

func testHTTPTopupRoutes(t *testing.T, e *htEnv) {
	post := http.MethodPost
	student, admin := htActors["student"], htActors["admin"]
	topups := "/api/v1/wallets/" + htWalletID + "/topups"
	refund := "/api/v1/topups/" + htTopupID + "/refund"
	as := func(who, body string) htRequest { return htRequest{who: who, body: body} }

	t.Run("create", func(t *testing.T) {
		e.run(t, []htCase{
			{name: "pending with client secret", method: post, path: topups, htRequest: as("student", `{"amount":5000,"currency":"USD"}`),
				status: 201, calls: "CreateTopup", check: htAll(htWantKeys("topup"),
					htWantArgs("CreateTopup", student, htWalletID, finance.Money{Amount: 5000, Currency: "USD"}),
					htWantMemberKeys("topup", "id", "wallet_id", "amount", "currency", "status", "payment_intent_id", "client_secret", "created_at", "updated_at"),
					htWantBody("topup", finance.Topup{ID: htTopupID, WalletID: htWalletID, Amount: 5000, Currency: "USD",
						Status: "pending", PaymentIntentID: htIntentID, ClientSecret: htSecret, CreatedAt: htCreatedAt, UpdatedAt: htCreatedAt}))},
			{name: "zero amount", method: post, path: topups, htRequest: as("student", `{"amount":0,"currency":"USD"}`),
				status: 400, code: "validation_failed", fields: []string{"amount"}},
			{name: "negative amount", method: post, path: topups, htRequest: as("student", `{"amount":-1,"currency":"USD"}`),
				status: 400, code: "validation_failed", fields: []string{"amount"}},
			{name: "bad currency", method: post, path: topups, htRequest: as("student", `{"amount":100,"currency":"US"}`),
				status: 400, code: "validation_failed", fields: []string{"currency"}},
			{name: "empty body object", method: post, path: topups, htRequest: as("student", `{}`),
				status: 400, code: "validation_failed", fields: []string{"amount", "currency"}},
			{name: "wallet in the body", method: post, path: topups, htRequest: as("student", `{"amount":100,"currency":"USD","wallet_id":"x"}`),
				status: 400, code: "unknown_field", fields: []string{"wallet_id"}},
			{name: "not a uuid", method: post, path: "/api/v1/wallets/abc/topups", htRequest: as("student", `{"amount":100,"currency":"USD"}`),
				status: 404, code: "wallet_not_found"},
			{name: "unknown wallet", method: post, path: topups, htRequest: as("student", `{"amount":100,"currency":"USD"}`),
				fail: htFails("CreateTopup", finance.ErrWalletNotFound), status: 404, code: "wallet_not_found", calls: "CreateTopup"},
			{name: "not the owner", method: post, path: topups, htRequest: as("admin", `{"amount":100,"currency":"USD"}`),
				fail: htFails("CreateTopup", finance.ErrNotOwner), status: 403, code: "forbidden", calls: "CreateTopup"},
			{name: "currency mismatch", method: post, path: topups, htRequest: as("student", `{"amount":100,"currency":"EUR"}`),
				fail: htFails("CreateTopup", finance.ErrCurrencyMismatch), status: 422, code: "currency_mismatch", calls: "CreateTopup"},
			{name: "stripe down", method: post, path: topups, htRequest: as("student", `{"amount":100,"currency":"USD"}`),
				fail: htFails("CreateTopup", finance.ErrPaymentProvider), status: 503, code: "payment_provider_unavailable", calls: "CreateTopup"},
			{name: "card declined", method: post, path: topups, htRequest: as("student", `{"amount":100,"currency":"USD"}`),
				fail: htFails("CreateTopup", finance.ErrCardDeclined), status: 422, code: "card_declined", calls: "CreateTopup"},
			{name: "missing token", method: post, path: topups, htRequest: htRequest{body: `{"amount":100,"currency":"USD"}`},
				status: 401, code: "missing_token"},
		})
	})

	t.Run("refund", func(t *testing.T) {
		e.run(t, []htCase{
			{name: "by admin", method: post, path: refund, htRequest: htRequest{who: "admin"}, status: 200, calls: "RefundTopup",
				check: htAll(htWantKeys("topup"), htWantArgs("RefundTopup", admin, htTopupID),
					htWantMemberKeys("topup", "id", "wallet_id", "amount", "currency", "status", "payment_intent_id", "created_at", "updated_at"),
					htWantBody("topup", finance.Topup{ID: htTopupID, WalletID: htWalletID, Amount: 5000, Currency: "USD",
						Status: "refunded", PaymentIntentID: htIntentID, CreatedAt: htCreatedAt, UpdatedAt: htCreatedAt}))},
			{name: "empty object body", method: post, path: refund, htRequest: as("admin", `{}`), status: 200, calls: "RefundTopup"},
			{name: "unknown field", method: post, path: refund, htRequest: as("admin", `{"amount":5}`),
				status: 400, code: "unknown_field", fields: []string{"amount"}},
			{name: "student refused", method: post, path: refund, htRequest: htRequest{who: "student"}, status: 403, code: "forbidden"},
			{name: "instructor refused", method: post, path: refund, htRequest: htRequest{who: "instructor"}, status: 403, code: "forbidden"},
			{name: "missing token", method: post, path: refund, status: 401, code: "missing_token"},
			{name: "not a uuid", method: post, path: "/api/v1/topups/tu_1/refund", htRequest: htRequest{who: "admin"},
				status: 404, code: "topup_not_found"},
			{name: "unknown top-up", method: post, path: refund, htRequest: htRequest{who: "admin"},
				fail: htFails("RefundTopup", finance.ErrTopupNotFound), status: 404, code: "topup_not_found", calls: "RefundTopup"},
			{name: "not refundable", method: post, path: refund, htRequest: htRequest{who: "admin"},
				fail: htFails("RefundTopup", finance.ErrTopupNotRefundable), status: 409, code: "topup_not_refundable", calls: "RefundTopup"},
			{name: "already spent", method: post, path: refund, htRequest: htRequest{who: "admin"},
				fail: htFails("RefundTopup", finance.ErrInsufficientFunds), status: 409, code: "insufficient_funds", calls: "RefundTopup"},
			{name: "stripe down", method: post, path: refund, htRequest: htRequest{who: "admin"},
				fail: htFails("RefundTopup", finance.ErrPaymentProvider), status: 503, code: "payment_provider_unavailable", calls: "RefundTopup"},
		})
	})
}
