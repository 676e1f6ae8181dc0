package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/azora-os/azora/finance"
	"github.com/azora-os/azora/finance/stripetest"
	"github.com/azora-os/azora/shared/app/apptest"
	"github.com/azora-os/azora/shared/config"
	"github.com/azora-os/azora/shared/events"
	"github.com/azora-os/azora/shared/kit/kittest"
	"github.com/azora-os/azora/shared/pg"
)

const webhookSecret = "whsec_test_azora"

// world is one finance instance on throwaway Postgres, Redis keys, kfake
// and a stripe-mock, with a test token issuer standing in for auth.
type world struct {
	base   string
	env    map[string]string
	cfg    Config
	issuer *kittest.Issuer
	c      *apptest.Client
	db     *sqlx.DB
}

func start(t testing.TB, extra map[string]string) *world {
	t.Helper()
	iss := kittest.NewIssuer(t)
	env := apptest.Env(t, apptest.Deps{Postgres: true, Redis: true, Kafka: true})
	env["AUTH_JWKS_URL"] = iss.JWKSURL()
	env["AUTH_ISSUER"] = kittest.DefaultIssuer
	env["AUTH_AUDIENCE"] = kittest.DefaultAudience
	env["STRIPE_API_BASE"] = stripetest.Start(t)
	env["STRIPE_WEBHOOK_SECRET"] = webhookSecret
	for k, v := range extra {
		env[k] = v
	}
	base := apptest.StartService(t, env, loadConfig, run)
	cfg, err := loadConfig(config.FromMap(env))
	if err != nil {
		t.Fatal(err)
	}
	db, err := pg.Open(context.Background(), env["DATABASE_URL"], pg.Pool{MaxOpen: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	c := apptest.NewClient(base, "127.0.0.1")
	return &world{base: base, env: env, cfg: cfg, issuer: iss, c: c, db: db}
}

type user struct {
	id    string
	token string
}

func (w *world) user(t testing.TB, roles ...string) user {
	id := uuid.NewString()
	if len(roles) == 0 {
		roles = []string{"student"}
	}
	return user{id: id, token: w.issuer.Token(t, kittest.Claims{Subject: id, Roles: roles})}
}

// register tells finance a user registered (as auth would) and returns
// the user's default wallet once it exists.
func (w *world) register(t testing.TB, u user) string {
	t.Helper()
	apptest.Produce(t, w.env["KAFKA_BROKERS"], apptest.NewEvent(t, events.TopicAuth, "azora.auth.user.registered", u.id,
		map[string]any{"user_id": u.id, "email": u.id + "@example.com", "name": "U", "roles": []string{"student"}}))
	var id string
	apptest.Eventually(t, "the default wallet", func() bool {
		r := w.c.Do(t, "GET", "/api/v1/wallets", u.token, nil)
		items, _ := r.Body["items"].([]any)
		if len(items) == 1 {
			id = items[0].(map[string]any)["id"].(string)
		}
		return id != ""
	})
	return id
}

// fund credits a wallet from the Stripe clearing account, as a completed
// top-up does, straight through the ledger.
func (w *world) fund(t testing.TB, walletID string, amount int64) {
	t.Helper()
	l := finance.NewPostgresLedger(w.db)
	err := pg.Tx(context.Background(), w.db, nil, func(ctx context.Context, _ *sqlx.Tx) error {
		clearing, err := l.PlatformAccount(ctx, finance.KindClearing, "USD")
		if err != nil {
			return err
		}
		return l.Post(ctx, finance.Transaction{ID: uuid.NewString(), Kind: finance.TxTopup, Reference: "test-" + uuid.NewString(),
			CreatedAt: time.Now().UTC().Truncate(time.Microsecond), Postings: []finance.Posting{
				{AccountID: clearing.ID, Amount: -amount, Currency: "USD"}, {AccountID: walletID, Amount: amount, Currency: "USD"}}})
	})
	if err != nil {
		t.Fatal(err)
	}
}

func (w *world) balance(t testing.TB, u user, walletID string) int64 {
	t.Helper()
	r := w.c.Do(t, "GET", "/api/v1/wallets/"+walletID, u.token, nil)
	apptest.Want(t, r, 200, "")
	return int64(r.Obj("wallet")["balance"].(float64))
}

// transfer posts a transfer with an Idempotency-Key.
func (w *world) transfer(t testing.TB, u user, from, to string, amount int64, key string) apptest.Reply {
	return w.c.Do(t, "POST", "/api/v1/transfers", u.token,
		map[string]any{"from_wallet_id": from, "to_wallet_id": to, "amount": amount, "currency": "USD"}, "Idempotency-Key", key)
}

// reconciled runs "finance reconcile" and fails t on any difference.
func (w *world) reconciled(t testing.TB) {
	t.Helper()
	var out bytes.Buffer
	if err := reconcile(context.Background(), w.cfg, &out); err != nil {
		t.Errorf("finance reconcile: %v\n%s", err, out.String())
	}
}

// webhook sends a signed Stripe event for a PaymentIntent.
func (w *world) webhook(t testing.TB, evtID, typ, pi string, amount int64, at time.Time, secret string) apptest.Reply {
	t.Helper()
	payload, _ := json.Marshal(map[string]any{
		"id": evtID, "object": "event", "type": typ, "api_version": "2023-10-16", "created": at.Unix(),
		"data": map[string]any{"object": map[string]any{"id": pi, "object": "payment_intent", "amount": amount, "currency": "usd", "status": "succeeded"}},
	})
	req, _ := http.NewRequest("POST", w.base+"/api/v1/webhooks/stripe", bytes.NewReader(payload))
	req.Header.Set("Content-Type", "application/json")
	if secret != "" {
		req.Header.Set("Stripe-Signature", finance.SignPayload(secret, payload, at))
	}
	return w.raw(t, req)
}

func (w *world) raw(t testing.TB, req *http.Request) apptest.Reply {
	t.Helper()
	resp, err := w.c.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	r := apptest.Reply{Status: resp.StatusCode, Header: resp.Header, Raw: buf.Bytes()}
	json.Unmarshal(r.Raw, &r.Body)
	return r
}

func TestRunServesOperationalEndpoints(t *testing.T) {
	t.Parallel()
	w := start(t, nil)
	apptest.CheckOperational(t, w.base, "postgres", "redis")
}

func TestDefaultWalletOnRegistrationOnce(t *testing.T) {
	t.Parallel()
	w := start(t, nil)
	u := w.user(t)
	id := w.register(t, u)
	w.register(t, u) // redelivered or repeated: still one wallet
	r := w.c.Do(t, "GET", "/api/v1/wallets", u.token, nil)
	if items, _ := r.Body["items"].([]any); len(items) != 1 {
		t.Fatalf("got %s, want one wallet", r.Raw)
	}
	wl := w.c.Do(t, "GET", "/api/v1/wallets/"+id, u.token, nil)
	apptest.Want(t, wl, 200, "")
	if got := wl.Obj("wallet"); got["currency"] != "USD" || got["balance"] != float64(0) || got["user_id"] != u.id {
		t.Errorf("got wallet %v", got)
	}
	apptest.Want(t, w.c.Do(t, "GET", "/api/v1/wallets/"+id, w.user(t).token, nil), 404, "wallet_not_found")
	evs := apptest.EventsAbout(t, w.env["KAFKA_BROKERS"], events.TopicFinance, u.id, 1)
	if got := apptest.Types(evs); fmt.Sprint(got) != "[azora.finance.wallet.created]" {
		t.Errorf("got events %v, want one wallet.created", got)
	}
}
