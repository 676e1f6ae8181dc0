package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/azora-os/azora/shared/app/apptest"
)

func TestTransferRulesAndIdempotency(t *testing.T) {
	t.Parallel()
	w := start(t, nil)
	a, b := w.user(t), w.user(t)
	wa, wb := w.register(t, a), w.register(t, b)
	w.fund(t, wa, 1000)

	apptest.Want(t, w.c.Do(t, "POST", "/api/v1/transfers", a.token, map[string]any{"from_wallet_id": wa, "to_wallet_id": wb, "amount": 10, "currency": "USD"}), 400, "idempotency_key_required")
	for name, amount := range map[string]int64{"zero": 0, "negative": -5} {
		t.Run(name+" amount", func(t *testing.T) {
			apptest.Want(t, w.transfer(t, a, wa, wb, amount, "k-"+name), 400, "validation_failed")
		})
	}
	apptest.Want(t, w.transfer(t, b, wa, wb, 10, "k-thief"), 404, "wallet_not_found") // another user's wallet does not exist for the caller
	apptest.Want(t, w.transfer(t, a, wa, uuid.NewString(), 10, "k-nowhere"), 404, "wallet_not_found")
	apptest.Want(t, w.transfer(t, a, wa, wb, 5000, "k-rich"), 409, "insufficient_funds")
	eur := w.c.Do(t, "POST", "/api/v1/transfers", a.token, map[string]any{"from_wallet_id": wa, "to_wallet_id": wb, "amount": 10, "currency": "EUR"}, "Idempotency-Key", "k-eur")
	apptest.Want(t, eur, 422, "currency_mismatch")
	if got := w.balance(t, a, wa); got != 1000 {
		t.Fatalf("refused transfers moved money: balance %d, want 1000", got)
	}

	first := w.transfer(t, a, wa, wb, 250, "k-1")
	apptest.Want(t, first, 201, "")
	again := w.transfer(t, a, wa, wb, 250, "k-1")
	if again.Status != 201 || string(again.Raw) != string(first.Raw) || again.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("retry: got %d %s, want the first answer replayed", again.Status, again.Raw)
	}
	apptest.Want(t, w.transfer(t, a, wa, wb, 999, "k-1"), 422, "idempotency_key_reused")
	if got, want := w.balance(t, a, wa), int64(750); got != want {
		t.Errorf("balance after one transfer and its retry: got %d, want %d", got, want)
	}
	if got := w.balance(t, b, wb); got != 250 {
		t.Errorf("receiver balance: got %d, want 250", got)
	}
	entries := w.c.Do(t, "GET", "/api/v1/wallets/"+wa+"/transactions", a.token, nil)
	if items, _ := entries.Body["items"].([]any); len(items) != 2 || items[0].(map[string]any)["amount"] != float64(-250) {
		t.Errorf("statement: got %s, want the transfer (newest first) and the funding", entries.Raw)
	}
	w.reconciled(t)
}

func TestOverdraftRaceExactlyOneSucceeds(t *testing.T) {
	t.Parallel()
	w := start(t, nil)
	a, b := w.user(t), w.user(t)
	wa, wb := w.register(t, a), w.register(t, b)
	w.fund(t, wa, 100)
	var ok atomic.Int32
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			switch r := w.transfer(t, a, wa, wb, 100, fmt.Sprint("race-", i)); r.Status {
			case 201:
				ok.Add(1)
			case 409:
			default:
				t.Errorf("got %d %s", r.Status, r.Raw)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 1 || w.balance(t, a, wa) != 0 || w.balance(t, b, wb) != 100 {
		t.Errorf("64 concurrent transfers of a 100 balance: %d succeeded, balances %d / %d; want 1, 0 / 100",
			ok.Load(), w.balance(t, a, wa), w.balance(t, b, wb))
	}
	w.reconciled(t)
}

// TestBankInvariants is the bank test: random transfers between 100
// wallets from 32 concurrent clients, 10 % of them retried with the same
// key and some abandoned mid-request. Money is neither made nor lost, no
// wallet goes negative, every retry gets the first answer, and every
// balance equals its postings.
func TestBankInvariants(t *testing.T) {
	t.Parallel()
	const wallets, clients = 100, 32
	transfers := 20000
	if testing.Short() {
		transfers = 2000
	}
	w := start(t, nil)
	users := make([]user, wallets)
	ids := make([]string, wallets)
	for i := range users {
		users[i] = w.user(t)
		ids[i] = w.register(t, users[i])
		w.fund(t, ids[i], 1000)
	}

	var done, retried, mismatched, cancelled, serverErrors atomic.Int64
	var wg sync.WaitGroup
	next := atomic.Int64{}
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := next.Add(1); n <= int64(transfers); n = next.Add(1) {
				from, to := rand.IntN(wallets), rand.IntN(wallets)
				if from == to {
					to = (to + 1) % wallets
				}
				key := fmt.Sprint("bank-", n)
				amount := int64(1 + rand.IntN(150))
				if n%97 == 0 { // abandon the request mid-flight
					ctx, cancel := context.WithTimeout(context.Background(), time.Duration(rand.IntN(3000))*time.Microsecond)
					body := fmt.Sprintf(`{"from_wallet_id":%q,"to_wallet_id":%q,"amount":%d,"currency":"USD"}`, ids[from], ids[to], amount)
					req, _ := http.NewRequestWithContext(ctx, "POST", w.base+"/api/v1/transfers", strings.NewReader(body))
					req.Header.Set("Content-Type", "application/json")
					req.Header.Set("Authorization", "Bearer "+users[from].token)
					req.Header.Set("Idempotency-Key", key)
					if resp, err := w.c.HTTP.Do(req); err == nil {
						resp.Body.Close()
					}
					cancel()
					cancelled.Add(1)
					continue
				}
				r := w.transfer(t, users[from], ids[from], ids[to], amount, key)
				if r.Status >= 500 {
					serverErrors.Add(1)
				}
				if n%10 == 0 {
					again := w.transfer(t, users[from], ids[from], ids[to], amount, key)
					retried.Add(1)
					if again.Status != r.Status || string(again.Raw) != string(r.Raw) {
						mismatched.Add(1)
					}
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()

	var total, negative int64
	if err := w.db.Get(&total, `SELECT coalesce(sum(balance), 0) FROM accounts WHERE kind = 'wallet'`); err != nil {
		t.Fatal(err)
	}
	if err := w.db.Get(&negative, `SELECT count(*) FROM accounts WHERE kind = 'wallet' AND balance < 0`); err != nil {
		t.Fatal(err)
	}
	if total != wallets*1000 {
		t.Errorf("total of all wallets: got %d, want %d", total, wallets*1000)
	}
	if negative != 0 || serverErrors.Load() != 0 || mismatched.Load() != 0 {
		t.Errorf("got %d negative wallets, %d server errors, %d retries that did not get the first answer; want none",
			negative, serverErrors.Load(), mismatched.Load())
	}
	t.Logf("%d transfers, %d retried, %d abandoned mid-request", done.Load(), retried.Load(), cancelled.Load())
	w.reconciled(t)
}

func TestOppositeTransfersNeverFailTheServer(t *testing.T) {
	t.Parallel()
	w := start(t, nil)
	a, b := w.user(t), w.user(t)
	wa, wb := w.register(t, a), w.register(t, b)
	w.fund(t, wa, 10000)
	w.fund(t, wb, 10000)
	var fails atomic.Int32
	var wg sync.WaitGroup
	for c := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				var r apptest.Reply
				if c%2 == 0 {
					r = w.transfer(t, a, wa, wb, 7, fmt.Sprint("ab-", c, "-", i))
				} else {
					r = w.transfer(t, b, wb, wa, 7, fmt.Sprint("ba-", c, "-", i))
				}
				if r.Status >= 500 {
					fails.Add(1)
					t.Logf("got %d %s", r.Status, r.Raw)
				}
			}
		}()
	}
	wg.Wait()
	if fails.Load() != 0 {
		t.Errorf("got %d server errors from opposite transfers, want none", fails.Load())
	}
	if got := w.balance(t, a, wa) + w.balance(t, b, wb); got != 20000 {
		t.Errorf("total: got %d, want 20000", got)
	}
	w.reconciled(t)
}
