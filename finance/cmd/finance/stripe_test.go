package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/azora-os/azora/finance"
	"github.com/azora-os/azora/shared/app/apptest"
	"github.com/azora-os/azora/shared/events"
)

func TestTopupWebhookCreditsExactlyOnce(t *testing.T) {
	t.Parallel()
	w := start(t, nil)
	u := w.user(t)
	wid := w.register(t, u)

	path := "/api/v1/wallets/" + wid + "/topups"
	apptest.Want(t, w.c.Do(t, "POST", path, u.token, map[string]any{"amount": 1999, "currency": "USD"}), 400, "idempotency_key_required")
	apptest.Want(t, w.c.Do(t, "POST", path, w.user(t).token, map[string]any{"amount": 1999, "currency": "USD"}, "Idempotency-Key", "t-0"), 404, "wallet_not_found")
	r := w.c.Do(t, "POST", path, u.token, map[string]any{"amount": 1999, "currency": "USD"}, "Idempotency-Key", "t-1")
	apptest.Want(t, r, 201, "")
	top := r.Obj("topup")
	pi, _ := top["payment_intent_id"].(string)
	if top["status"] != "pending" || pi == "" || top["client_secret"] == nil {
		t.Fatalf("got %s, want a pending top-up with a PaymentIntent and its client secret", r.Raw)
	}

	now := time.Now()
	for name, send := range map[string]func() apptest.Reply{
		"wrong secret": func() apptest.Reply {
			return w.webhook(t, "evt_bad1", "payment_intent.succeeded", pi, 1999, now, "whsec_wrong")
		},
		"missing header": func() apptest.Reply { return w.webhook(t, "evt_bad2", "payment_intent.succeeded", pi, 1999, now, "") },
		"301 s old": func() apptest.Reply {
			return w.webhook(t, "evt_bad3", "payment_intent.succeeded", pi, 1999, now.Add(-301*time.Second), webhookSecret)
		},
		"a changed byte": func() apptest.Reply {
			payload := []byte(fmt.Sprintf(`{"id":"evt_bad4","object":"event","type":"payment_intent.succeeded","data":{"object":{"id":%q,"object":"payment_intent","amount":1999,"currency":"usd"}}}`, pi))
			sig := finance.SignPayload(webhookSecret, payload, now)
			payload[len(payload)-3] = '9'
			req, _ := http.NewRequest("POST", w.base+"/api/v1/webhooks/stripe", bytes.NewReader(payload))
			req.Header.Set("Stripe-Signature", sig)
			return w.raw(t, req)
		},
	} {
		t.Run(name, func(t *testing.T) { apptest.Want(t, send(), 400, "invalid_signature") })
	}
	if got := w.balance(t, u, wid); got != 0 {
		t.Fatalf("a rejected webhook credited %d", got)
	}

	// 299 s old is inside the tolerance; then 5 redeliveries in a row and 5 at once.
	apptest.Want(t, w.webhook(t, "evt_ok", "payment_intent.succeeded", pi, 1999, now.Add(-299*time.Second), webhookSecret), 200, "")
	for range 5 {
		apptest.Want(t, w.webhook(t, "evt_ok", "payment_intent.succeeded", pi, 1999, now, webhookSecret), 200, "")
	}
	var wg sync.WaitGroup
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r := w.webhook(t, "evt_ok", "payment_intent.succeeded", pi, 1999, now, webhookSecret); r.Status != 200 {
				t.Errorf("concurrent redelivery: got %d %s", r.Status, r.Raw)
			}
		}()
	}
	wg.Wait()
	if got := w.balance(t, u, wid); got != 1999 {
		t.Errorf("balance after 11 deliveries of one event: got %d, want 1999", got)
	}

	t.Run("admin refund debits the wallet", func(t *testing.T) {
		topID := top["id"].(string)
		apptest.Want(t, w.c.Do(t, "POST", "/api/v1/topups/"+topID+"/refund", u.token, nil, "Idempotency-Key", "rf-0"), 403, "")
		admin := w.user(t, "admin")
		rf := w.c.Do(t, "POST", "/api/v1/topups/"+topID+"/refund", admin.token, nil, "Idempotency-Key", "rf-1")
		apptest.Want(t, rf, 200, "")
		if rf.Obj("topup")["status"] != "refunded" || w.balance(t, u, wid) != 0 {
			t.Errorf("refund: got %s and balance %d, want refunded and 0", rf.Raw, w.balance(t, u, wid))
		}
		apptest.Want(t, w.c.Do(t, "POST", "/api/v1/topups/"+topID+"/refund", admin.token, nil, "Idempotency-Key", "rf-2"), 409, "topup_not_refundable")
	})
	evs := apptest.EventsAbout(t, w.env["KAFKA_BROKERS"], events.TopicFinance, u.id, 2)
	if got := apptest.Types(evs); !slices.Equal(got, []string{"azora.finance.wallet.created", "azora.finance.topup.succeeded"}) {
		t.Errorf("got events %v", got)
	}
	w.reconciled(t)
}

func TestEnrollmentChargeSaga(t *testing.T) {
	t.Parallel()
	w := start(t, map[string]string{"FINANCE_FEE_BASIS_POINTS": "1000"})
	student, inst, broke := w.user(t), w.user(t, "instructor"), w.user(t)
	ws := w.register(t, student)
	w.register(t, broke)
	w.fund(t, ws, 5000)
	price := map[string]any{"amount": 2000, "currency": "USD"}
	request := func(u user, enrollment string) events.Event {
		return apptest.NewEvent(t, events.TopicEducation, "azora.education.enrollment.requested", u.id, map[string]any{
			"enrollment_id": enrollment, "course_id": "0190f5a0-0000-7000-8000-00000000c0c0", "user_id": u.id, "instructor_id": inst.id, "price": price})
	}
	paid := "0190f5a0-0000-7000-8000-0000000000e1"
	ev := request(student, paid)
	apptest.Produce(t, w.env["KAFKA_BROKERS"], ev)
	apptest.Produce(t, w.env["KAFKA_BROKERS"], ev) // redelivered: moves money once

	evs := apptest.EventsAbout(t, w.env["KAFKA_BROKERS"], events.TopicFinance, student.id, 2)
	if got := apptest.Types(evs); !slices.Equal(got, []string{"azora.finance.wallet.created", "azora.finance.payment.completed"}) {
		t.Fatalf("got events %v, want wallet.created then one payment.completed", got)
	}
	var d map[string]any
	json.Unmarshal(evs[1].Data, &d)
	if d["enrollment_id"] != paid || d["amount"] != float64(2000) || d["payment_id"] == "" {
		t.Errorf("payment.completed data: got %v", d)
	}
	if got := w.balance(t, student, ws); got != 3000 {
		t.Errorf("student balance: got %d, want 3000 (charged once)", got)
	}
	instWallets := w.c.Do(t, "GET", "/api/v1/wallets", inst.token, nil)
	items, _ := instWallets.Body["items"].([]any)
	if len(items) != 1 || items[0].(map[string]any)["balance"] != float64(1800) {
		t.Errorf("instructor: got %s, want one wallet holding 1800 (price less the 10%% fee)", instWallets.Raw)
	}

	t.Run("insufficient funds fails the payment", func(t *testing.T) {
		apptest.Produce(t, w.env["KAFKA_BROKERS"], request(broke, "0190f5a0-0000-7000-8000-0000000000e2"))
		evs := apptest.EventsAbout(t, w.env["KAFKA_BROKERS"], events.TopicFinance, broke.id, 2)
		if len(evs) < 2 || evs[1].Type != "azora.finance.payment.failed" || !bytes.Contains(evs[1].Data, []byte(`"insufficient_funds"`)) {
			t.Errorf("got %v, want payment.failed with reason insufficient_funds", apptest.Types(evs))
		}
	})
	t.Run("a cancelled enrollment is refunded", func(t *testing.T) {
		apptest.Produce(t, w.env["KAFKA_BROKERS"], apptest.NewEvent(t, events.TopicEducation, "azora.education.enrollment.cancelled", student.id,
			map[string]any{"enrollment_id": paid, "course_id": "0190f5a0-0000-7000-8000-00000000c0c0", "user_id": student.id}))
		apptest.Eventually(t, "the refund", func() bool { return w.balance(t, student, ws) == 5000 })
	})
	t.Run("a charge requested after its cancellation is refused", func(t *testing.T) {
		late := "0190f5a0-0000-7000-8000-0000000000e3"
		apptest.Produce(t, w.env["KAFKA_BROKERS"], apptest.NewEvent(t, events.TopicEducation, "azora.education.enrollment.cancelled", student.id,
			map[string]any{"enrollment_id": late, "user_id": student.id}))
		apptest.Produce(t, w.env["KAFKA_BROKERS"], request(student, late))
		time.Sleep(500 * time.Millisecond)
		if got := w.balance(t, student, ws); got != 5000 {
			t.Errorf("balance: got %d, want 5000 (no charge for a cancelled enrollment)", got)
		}
	})
	w.reconciled(t)
}

// TestEnrollmentRefundAfterPayoutSpent runs the spent-payout case through
// Kafka: the instructor moves most of a sale's payout away, the enrollment
// is cancelled, and the refund must still land (the student made whole,
// the shortfall on the instructor's receivable) rather than fail until the
// event is dead-lettered. The next sale then pays the debt back first.
func TestEnrollmentRefundAfterPayoutSpent(t *testing.T) {
	t.Parallel()
	w := start(t, map[string]string{"FINANCE_FEE_BASIS_POINTS": "1000"})
	student, next, inst, friend := w.user(t), w.user(t), w.user(t, "instructor"), w.user(t)
	ws, wn, wi, wf := w.register(t, student), w.register(t, next), w.register(t, inst), w.register(t, friend)
	w.fund(t, ws, 1000)
	w.fund(t, wn, 1000)
	brokers := w.env["KAFKA_BROKERS"]
	course := "0190f5a0-0000-7000-8000-00000000c0c1"
	request := func(u user, enrollment string) events.Event {
		return apptest.NewEvent(t, events.TopicEducation, "azora.education.enrollment.requested", u.id, map[string]any{
			"enrollment_id": enrollment, "course_id": course, "user_id": u.id, "instructor_id": inst.id,
			"price": map[string]any{"amount": 1000, "currency": "USD"}})
	}
	ledger := finance.NewPostgresLedger(w.db)
	debt := func() int64 {
		r, ok, err := ledger.Receivable(context.Background(), inst.id, "USD")
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return 0
		}
		return r.Balance
	}

	sold := "0190f5a0-0000-7000-8000-0000000000f1"
	apptest.Produce(t, brokers, request(student, sold))
	apptest.Eventually(t, "the instructor's payout", func() bool { return w.balance(t, inst, wi) == 900 })
	apptest.Want(t, w.transfer(t, inst, wi, wf, 600, "spend-1"), 201, "")

	apptest.Produce(t, brokers, apptest.NewEvent(t, events.TopicEducation, "azora.education.enrollment.cancelled", student.id,
		map[string]any{"enrollment_id": sold, "course_id": course, "user_id": student.id}))
	apptest.Eventually(t, "the refund", func() bool { return w.balance(t, student, ws) == 1000 })
	if got, owed := w.balance(t, inst, wi), debt(); got != 0 || owed != -600 {
		t.Errorf("instructor after the refund: wallet %d, receivable %d; want 0 and -600", got, owed)
	}
	r := w.c.Do(t, "GET", "/api/v1/wallets", inst.token, nil)
	if items, _ := r.Body["items"].([]any); len(items) != 1 {
		t.Errorf("instructor's wallets: got %s, want the one wallet (a receivable is none)", r.Raw)
	}

	apptest.Produce(t, brokers, request(next, "0190f5a0-0000-7000-8000-0000000000f2"))
	apptest.Eventually(t, "the next sale", func() bool { return w.balance(t, next, wn) == 0 })
	if got, owed := w.balance(t, inst, wi), debt(); got != 300 || owed != 0 {
		t.Errorf("instructor after the next sale: wallet %d, receivable %d; want 300 and 0 (600 of the 900 paid the debt)", got, owed)
	}
	var dead int
	if err := w.db.Get(&dead, `SELECT count(*) FROM dead_letters`); err != nil {
		t.Fatal(err)
	}
	if dead != 0 {
		t.Errorf("dead letters: got %d, want 0", dead)
	}
	w.reconciled(t)
}
