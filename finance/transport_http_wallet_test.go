package finance_test

import (
	"net/http"
	"testing"

	"github.com/azora-os/azora/finance"
	"github.com/azora-os/azora/shared/page"
)

func testHTTPWalletRoutes(t *testing.T, e *htEnv) {
	get := http.MethodGet
	student, admin := htActors["student"], htActors["admin"]
	walletPath := "/api/v1/wallets/" + htWalletID
	txPath := walletPath + "/transactions"

	t.Run("wallets", func(t *testing.T) {
		p := finance.PathWallets
		e.run(t, []htCase{
			{name: "own wallets", method: get, path: p, htRequest: htRequest{who: "student"}, status: 200, calls: "Wallets",
				check: htAll(htWantKeys("items", "next_cursor"), htWantArgs("Wallets", student, page.Request{Limit: page.DefaultLimit}),
					htWantBody("", page.Page[finance.Wallet]{Items: []finance.Wallet{htWallet("student-1")}, NextCursor: "next-wallets"}),
					func(t *testing.T, r htResponse, _ *htFake) {
						t.Helper()
						var body struct {
							Items []map[string]any `json:"items"`
						}
						r.Decode(t, &body)
						if len(body.Items) != 1 || len(body.Items[0]) != 5 || body.Items[0]["balance"] != 2500.0 {
							t.Errorf("wallet item: got %v, want {id, user_id, currency, balance 2500, created_at}", body.Items)
						}
					})},
			{name: "instructor", method: get, path: p, htRequest: htRequest{who: "instructor"}, status: 200, calls: "Wallets",
				check: htWantArgs("Wallets", htActors["instructor"], page.Request{Limit: page.DefaultLimit})},
			{name: "limit and cursor", method: get, path: p + "?limit=5&cursor=abc", htRequest: htRequest{who: "admin"}, status: 200,
				calls: "Wallets", check: htWantArgs("Wallets", admin, page.Request{Limit: 5, Cursor: "abc"})},
			{name: "limit too large", method: get, path: p + "?limit=101", htRequest: htRequest{who: "student"},
				status: 400, code: "validation_failed", fields: []string{"limit"}},
			{name: "bad cursor", method: get, path: p + "?cursor=zzz", htRequest: htRequest{who: "student"},
				fail: htFails("Wallets", page.ErrBadCursor), status: 400, code: "invalid_cursor", calls: "Wallets"},
			{name: "missing token", method: get, path: p, status: 401, code: "missing_token"},
			{name: "bad token", method: get, path: p, htRequest: htRequest{who: "bad"}, status: 401, code: "invalid_token"},
			{name: "expired token", method: get, path: p, htRequest: htRequest{who: "expired"}, status: 401, code: "invalid_token"},
			{name: "token without a user role", method: get, path: p, htRequest: htRequest{who: "norole"}, status: 403, code: "forbidden"},
			{name: "post not allowed", method: http.MethodPost, path: p, htRequest: htRequest{who: "student", body: `{}`},
				status: 405, code: "method_not_allowed"},
		})
	})

	t.Run("wallet", func(t *testing.T) {
		e.run(t, []htCase{
			{name: "owner", method: get, path: walletPath, htRequest: htRequest{who: "student"}, status: 200, calls: "Wallet",
				check: htAll(htWantKeys("wallet"), htWantArgs("Wallet", student, htWalletID),
					htWantBody("wallet", htWallet("student-1")),
					htWantMemberKeys("wallet", "id", "user_id", "currency", "balance", "created_at"))},
			{name: "admin", method: get, path: walletPath, htRequest: htRequest{who: "admin"}, status: 200, calls: "Wallet",
				check: htWantArgs("Wallet", admin, htWalletID)},
			{name: "someone else's", method: get, path: walletPath, htRequest: htRequest{who: "instructor"},
				fail: htFails("Wallet", finance.ErrWalletNotFound), status: 404, code: "wallet_not_found", calls: "Wallet"},
			{name: "not a uuid", method: get, path: "/api/v1/wallets/not-a-uuid", htRequest: htRequest{who: "admin"},
				status: 404, code: "wallet_not_found"},
			{name: "missing token", method: get, path: walletPath, status: 401, code: "missing_token"},
		})
	})

	t.Run("transactions", func(t *testing.T) {
		e.run(t, []htCase{
			{name: "newest first page", method: get, path: txPath, htRequest: htRequest{who: "student"}, status: 200, calls: "Transactions",
				check: htAll(htWantKeys("items", "next_cursor"),
					htWantArgs("Transactions", student, htWalletID, page.Request{Limit: page.DefaultLimit}),
					htWantBody("", page.Page[finance.Entry]{Items: []finance.Entry{htEntry()}, NextCursor: "next-entries"}))},
			{name: "admin pages on", method: get, path: txPath + "?limit=100&cursor=c2", htRequest: htRequest{who: "admin"}, status: 200,
				calls: "Transactions", check: htWantArgs("Transactions", admin, htWalletID, page.Request{Limit: 100, Cursor: "c2"})},
			{name: "limit zero", method: get, path: txPath + "?limit=0", htRequest: htRequest{who: "student"},
				status: 400, code: "validation_failed", fields: []string{"limit"}},
			{name: "not a uuid", method: get, path: "/api/v1/wallets/123/transactions", htRequest: htRequest{who: "student"},
				status: 404, code: "wallet_not_found"},
			{name: "unknown wallet", method: get, path: txPath, htRequest: htRequest{who: "student"},
				fail: htFails("Transactions", finance.ErrWalletNotFound), status: 404, code: "wallet_not_found", calls: "Transactions"},
			{name: "not the owner", method: get, path: txPath, htRequest: htRequest{who: "student"},
				fail: htFails("Transactions", finance.ErrNotOwner), status: 403, code: "forbidden", calls: "Transactions"},
			{name: "bad token", method: get, path: txPath, htRequest: htRequest{who: "bad"}, status: 401, code: "invalid_token"},
		})
	})
}
