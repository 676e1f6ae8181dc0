package e2e

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/azora-os/azora/finance"
	"github.com/azora-os/azora/shared/app/apptest"
	"github.com/azora-os/azora/shared/app/apptest/platform"
)

// The steps every journey shares, each asserted against API.md, so that
// the journey and the fault runs read as the user's story. They all go
// through p.NGINX over HTTPS, as a real client does, and take testing.TB
// so a benchmark can use them too.

// currency is finance's default (FINANCE_DEFAULT_CURRENCY unset), the one
// the wallet opened at registration holds.
const currency = "USD"

// api returns a JSON client of the platform's public entry: NGINX over
// HTTPS, trusting its self-signed certificate.
func api(p *platform.Platform) *apptest.Client {
	return &apptest.Client{Base: p.NGINX.Base, HTTP: p.NGINX.Client}
}

// unique returns 12 random hex digits: emails, titles and idempotency keys
// made with it belong to this run only.
func unique(t testing.TB) string {
	t.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// user is an account made through the API, with its current tokens.
type user struct {
	ID, Email, Password, Name string
	Token, Refresh            string
}

// register creates an account for name with role ("" registers the
// default, a student) and an email of its own, checks API.md's 201
// {user}, then logs it in with its password.
func register(t testing.TB, p *platform.Platform, name, role string) *user {
	t.Helper()
	tag := role
	if tag == "" {
		tag = "student"
	}
	u := &user{Email: tag + "-" + unique(t) + "@example.com", Password: "e2e-" + unique(t), Name: name}
	body := map[string]any{"email": u.Email, "password": u.Password, "name": name}
	if role != "" {
		body["role"] = role
	}
	r := api(p).Do(t, http.MethodPost, "/api/v1/auth/register", "", body)
	apptest.Want(t, r, http.StatusCreated, "")
	got := r.Obj("user")
	wantKeys(t, "registered user", got, "id", "email", "name", "roles", "mfa_enabled", "created_at")
	if got["email"] != u.Email || got["name"] != name || got["mfa_enabled"] != false ||
		!slices.Equal(apptest.Strings(got["roles"]), []string{tag}) {
		t.Fatalf("register: got %s, want %s named %q with roles [%s] and MFA off", r.Raw, u.Email, name, tag)
	}
	u.ID = got["id"].(string)
	login(t, p, u)
	return u
}

// login signs u in with its password, expecting tokens (MFA off), and
// keeps them in u.
func login(t testing.TB, p *platform.Platform, u *user) {
	t.Helper()
	r := api(p).Do(t, http.MethodPost, "/api/v1/auth/login", "", map[string]any{"email": u.Email, "password": u.Password})
	u.Token, u.Refresh = wantTokens(t, r)
}

// wantTokens checks a 200 token response (API.md: access_token,
// refresh_token, token_type "Bearer", expires_in) and returns the access
// and refresh tokens.
func wantTokens(t testing.TB, r apptest.Reply) (access, refresh string) {
	t.Helper()
	apptest.Want(t, r, http.StatusOK, "")
	wantKeys(t, "tokens", r.Body, "access_token", "refresh_token", "token_type", "expires_in")
	if r.Str("access_token") == "" || r.Str("refresh_token") == "" || r.Str("token_type") != "Bearer" || num(t, r.Body["expires_in"]) <= 0 {
		t.Fatalf("got %s, want tokens of type Bearer with a positive expires_in", r.Raw)
	}
	if _, mfa := r.Body["mfa_required"]; mfa {
		t.Fatalf("got %s: tokens and mfa_required at once", r.Raw)
	}
	return r.Str("access_token"), r.Str("refresh_token")
}

// claims returns the claims of a JWT without checking its signature (the
// services do that; a test only reads what the token says).
func claims(t testing.TB, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("access token is not a JWT: %q", token)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("JWT payload: %v", err)
	}
	var c map[string]any
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatalf("JWT claims %s: %v", raw, err)
	}
	return c
}

// course is a published course and its lessons' ids, in order.
type course struct {
	ID, Title string
	Price     int64 // minor units of currency; 0 is a free course
	Lessons   []string
}

// newCourse has inst create a course (with price in currency, or free when
// price is 0) with lessons lessons and publish it, checking each answer
// against API.md.
func newCourse(t testing.TB, p *platform.Platform, inst *user, title string, price int64, lessons int) course {
	t.Helper()
	c := api(p)
	body := map[string]any{"title": title, "description": "An end-to-end test course."}
	if price > 0 {
		body["price"] = map[string]any{"amount": price, "currency": currency}
	}
	r := c.Do(t, http.MethodPost, "/api/v1/courses", inst.Token, body)
	apptest.Want(t, r, http.StatusCreated, "")
	got := r.Obj("course")
	wantKeys(t, "created course", got, "id", "instructor_id", "title", "description", "price", "status")
	if got["status"] != "draft" || got["instructor_id"] != inst.ID || got["title"] != title {
		t.Fatalf("create course: got %s, want a draft %q of %s", r.Raw, title, inst.ID)
	}
	if price > 0 {
		wantMoney(t, "course price", got["price"], price)
	} else if got["price"] != nil {
		t.Fatalf("free course: got price %v, want null", got["price"])
	}
	out := course{ID: got["id"].(string), Title: title, Price: price}
	for i := range lessons {
		l := c.Do(t, http.MethodPost, "/api/v1/courses/"+out.ID+"/lessons", inst.Token,
			map[string]any{"title": fmt.Sprint("Lesson ", i+1), "content": fmt.Sprint("What lesson ", i+1, " teaches.")})
		apptest.Want(t, l, http.StatusCreated, "")
		lesson := l.Obj("lesson")
		wantKeys(t, "lesson", lesson, "id", "course_id", "position", "title", "content")
		if lesson["course_id"] != out.ID || num(t, lesson["position"]) != int64(i+1) {
			t.Fatalf("lesson %d: got %s, want position %d of %s", i+1, l.Raw, i+1, out.ID)
		}
		out.Lessons = append(out.Lessons, lesson["id"].(string))
	}
	pub := c.Do(t, http.MethodPost, "/api/v1/courses/"+out.ID+"/publish", inst.Token, nil)
	apptest.Want(t, pub, http.StatusOK, "")
	if s := pub.Obj("course")["status"]; s != "published" {
		t.Fatalf("publish: got %s, want status published", pub.Raw)
	}
	return out
}

// defaultWallet waits for the wallet finance opens when it consumes u's
// user.registered event, checks it is the only one, empty and in the
// default currency, and returns its id.
func defaultWallet(t testing.TB, p *platform.Platform, u *user) string {
	t.Helper()
	var r apptest.Reply
	poll(t, "the default wallet of "+u.Email, 20*time.Second, func() bool {
		r = api(p).Do(t, http.MethodGet, "/api/v1/wallets", u.Token, nil)
		items, _ := r.Body["items"].([]any)
		return r.Status == http.StatusOK && len(items) > 0
	})
	items := r.Body["items"].([]any)
	if len(items) != 1 {
		t.Fatalf("wallets of a new user: got %s, want one", r.Raw)
	}
	w := items[0].(map[string]any)
	wantKeys(t, "wallet", w, "id", "user_id", "currency", "balance", "created_at")
	if w["user_id"] != u.ID || w["currency"] != currency || num(t, w["balance"]) != 0 {
		t.Fatalf("default wallet: got %s, want an empty %s wallet of %s", r.Raw, currency, u.ID)
	}
	return w["id"].(string)
}

// balance returns the balance of wallet id, read by its owner u.
func balance(t testing.TB, p *platform.Platform, u *user, id string) int64 {
	t.Helper()
	r := api(p).Do(t, http.MethodGet, "/api/v1/wallets/"+id, u.Token, nil)
	apptest.Want(t, r, http.StatusOK, "")
	w := r.Obj("wallet")
	if w["id"] != id || w["currency"] != currency {
		t.Fatalf("wallet %s: got %s", id, r.Raw)
	}
	return num(t, w["balance"])
}

// statement returns wallet id's ledger entries as "kind amount", newest
// first, as API.md orders them.
func statement(t testing.TB, p *platform.Platform, u *user, id string) []string {
	t.Helper()
	r := api(p).Do(t, http.MethodGet, "/api/v1/wallets/"+id+"/transactions", u.Token, nil)
	apptest.Want(t, r, http.StatusOK, "")
	var out []string
	items, _ := r.Body["items"].([]any)
	for _, it := range items {
		e := it.(map[string]any)
		out = append(out, fmt.Sprint(e["kind"], " ", num(t, e["amount"])))
	}
	return out
}

// topUp starts a card top-up of amount into u's wallet with Idempotency-Key
// key and checks API.md's 201 {topup} in status pending with a
// PaymentIntent (stripe-mock's); it returns the top-up.
func topUp(t testing.TB, p *platform.Platform, u *user, walletID string, amount int64, key string) map[string]any {
	t.Helper()
	r := api(p).Do(t, http.MethodPost, "/api/v1/wallets/"+walletID+"/topups", u.Token,
		map[string]any{"amount": amount, "currency": currency}, "Idempotency-Key", key)
	apptest.Want(t, r, http.StatusCreated, "")
	tp := r.Obj("topup")
	wantKeys(t, "topup", tp, "id", "status", "payment_intent_id", "client_secret")
	if tp["status"] != "pending" || !strings.HasPrefix(tp["payment_intent_id"].(string), "pi_") || tp["client_secret"] == "" {
		t.Fatalf("top-up: got %s, want pending with a PaymentIntent and its client secret", r.Raw)
	}
	return tp
}

// stripeEvent returns a Stripe event of type typ (payment_intent.succeeded,
// payment_intent.payment_failed …) about PaymentIntent pi for amount, as
// Stripe would deliver it, with an event id of its own.
func stripeEvent(t testing.TB, typ, pi string, amount int64) []byte {
	t.Helper()
	intent := map[string]any{"id": pi, "object": "payment_intent", "amount": amount,
		"currency": strings.ToLower(currency), "status": "requires_payment_method"}
	switch typ {
	case "payment_intent.succeeded":
		intent["status"], intent["amount_received"] = "succeeded", amount
	case "payment_intent.payment_failed":
		intent["last_payment_error"] = map[string]any{"code": "card_declined", "message": "Your card was declined."}
	}
	b, err := json.Marshal(map[string]any{"id": "evt_e2e" + unique(t), "object": "event", "type": typ,
		"created": time.Now().Unix(), "livemode": false, "data": map[string]any{"object": intent}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// deliverWebhook posts payload to the Stripe webhook route through NGINX,
// signed now with the platform's webhook secret as Stripe signs each
// delivery (a redelivery carries a fresh timestamp).
func deliverWebhook(t testing.TB, p *platform.Platform, payload []byte) apptest.Reply {
	t.Helper()
	return api(p).Do(t, http.MethodPost, "/api/v1/webhooks/stripe", "", payload,
		"Stripe-Signature", finance.SignPayload(p.WebhookSecret, payload, time.Now()))
}

// fund tops u's wallet up by amount and completes the payment with a
// signed payment_intent.succeeded webhook, then checks the wallet holds
// amount more.
func fund(t testing.TB, p *platform.Platform, u *user, walletID string, amount int64) {
	t.Helper()
	before := balance(t, p, u, walletID)
	tp := topUp(t, p, u, walletID, amount, "fund-"+unique(t))
	apptest.Want(t, deliverWebhook(t, p, stripeEvent(t, "payment_intent.succeeded", tp["payment_intent_id"].(string), amount)), http.StatusOK, "")
	if got := balance(t, p, u, walletID); got != before+amount {
		t.Fatalf("after a top-up of %d: balance %d, want %d", amount, got, before+amount)
	}
}

// enroll asks to enroll u in courseID with Idempotency-Key key and
// returns the answer unchecked (201, 202 or a problem).
func enroll(t testing.TB, p *platform.Platform, u *user, courseID, key string) apptest.Reply {
	t.Helper()
	return api(p).Do(t, http.MethodPost, "/api/v1/courses/"+courseID+"/enrollments", u.Token, nil, "Idempotency-Key", key)
}

// enrollment returns enrollment id as its owner u reads it, with API.md's
// fields.
func enrollment(t testing.TB, p *platform.Platform, u *user, id string) map[string]any {
	t.Helper()
	r := api(p).Do(t, http.MethodGet, "/api/v1/enrollments/"+id, u.Token, nil)
	apptest.Want(t, r, http.StatusOK, "")
	e := r.Obj("enrollment")
	wantKeys(t, "enrollment", e, "id", "course_id", "user_id", "status", "price", "progress")
	return e
}

// settled waits up to timeout for enrollment id to leave pending_payment
// (the payment saga answered) and returns it.
func settled(t testing.TB, p *platform.Platform, u *user, id string, timeout time.Duration) map[string]any {
	t.Helper()
	var e map[string]any
	poll(t, "enrollment "+id+" to leave pending_payment", timeout, func() bool {
		e = enrollment(t, p, u, id)
		return e["status"] != "pending_payment"
	})
	return e
}

// poll calls cond until it holds, every 20 ms, and fails t naming what it
// waited for once timeout has passed.
func poll(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// wantKeys fails t unless obj has every one of keys (API.md's field names).
func wantKeys(t testing.TB, what string, obj map[string]any, keys ...string) {
	t.Helper()
	if obj == nil {
		t.Fatalf("%s: missing", what)
	}
	for _, k := range keys {
		if _, ok := obj[k]; !ok {
			t.Fatalf("%s: no %q in %v", what, k, obj)
		}
	}
}

// wantMoney fails t unless v is API.md's money object {amount, currency}
// for amount in the default currency.
func wantMoney(t testing.TB, what string, v any, amount int64) {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok || len(m) != 2 || num(t, m["amount"]) != amount || m["currency"] != currency {
		t.Fatalf("%s: got %v, want {amount: %d, currency: %s}", what, v, amount, currency)
	}
}

// num returns a JSON number that must be an integer (money, counts).
func num(t testing.TB, v any) int64 {
	t.Helper()
	f, ok := v.(float64)
	if !ok || f != float64(int64(f)) {
		t.Fatalf("got %v (%T), want an integer", v, v)
	}
	return int64(f)
}
