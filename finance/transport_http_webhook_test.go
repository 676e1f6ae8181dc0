package finance_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/gorilla/mux"

	"github.com/azora-os/azora/finance"
	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/httpx"
)

// htEventJSON is a payment_intent.succeeded delivery as Stripe formats
// it: pretty-printed, so re-encoding it would change its bytes.
const htEventJSON = `{
  "id": "evt_1Tx",
  "object": "event",
  "type": "payment_intent.succeeded",
  "data": {
    "object": {"id": "pi_3OqHtFake0001", "object": "payment_intent", "amount": 5000, "currency": "usd"}
  }
}`

func testHTTPWebhook(t *testing.T, e *htEnv) {
	p, payload := finance.PathStripeWebhook, []byte(htEventJSON)
	good := htSign(payload)
	changed := bytes.Replace(payload, []byte("5000"), []byte("9000"), 1)
	wantEvent := finance.StripeEvent{ID: "evt_1Tx", Type: "payment_intent.succeeded", PaymentIntentID: htIntentID, Amount: 5000, Currency: "usd"}

	tests := []struct {
		name    string
		body    []byte
		sig     string // Stripe-Signature; "" sends none
		ctype   string
		fail    error // what HandleStripeEvent answers
		status  int
		code    string // the problem code; "" for a success
		applied bool   // HandleStripeEvent was called
	}{
		{name: "verified and applied", body: payload, sig: good, ctype: "application/json; charset=utf-8", status: 200, applied: true},
		{name: "any content type", body: payload, sig: good, ctype: "text/plain", status: 200, applied: true},
		{name: "changed byte", body: changed, sig: good, status: 400, code: "invalid_signature"},
		{name: "wrong signature", body: payload, sig: htSign([]byte("{}")), status: 400, code: "invalid_signature"},
		{name: "missing header", body: payload, status: 400, code: "invalid_signature"},
		{name: "empty body", sig: good, status: 400, code: "invalid_signature"},
		{name: "handler conflict redelivered", body: payload, sig: good, fail: finance.ErrTopupNotFound, status: 500, code: "internal", applied: true},
		{name: "handler fault", body: payload, sig: good, fail: errors.New("connection reset"), status: 500, code: "internal", applied: true},
		{name: "handler unavailable", body: payload, sig: good, fail: errs.New(errs.Unavailable, "db_unavailable", "down"),
			status: 503, code: "db_unavailable", applied: true},
		{name: "over a mebibyte", body: append(slices.Clone(payload), bytes.Repeat([]byte(" "), 1<<20)...), sig: good,
			status: 413, code: "payload_too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, v := newHTFake(), &htVerifier{}
			f.failWith("HandleStripeEvent", tt.fail)
			srv := e.server(t, f, v)
			req, err := http.NewRequest(http.MethodPost, srv.URL+p, bytes.NewReader(tt.body))
			if err != nil {
				t.Fatalf("new request: %v", err)
			}
			if tt.ctype != "" {
				req.Header.Set("Content-Type", tt.ctype)
			}
			if tt.sig != "" {
				req.Header.Set("Stripe-Signature", tt.sig)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatalf("POST: %v", err)
			}
			r := htResponse{Status: resp.StatusCode, Header: resp.Header}
			buf := new(bytes.Buffer)
			_, _ = buf.ReadFrom(resp.Body)
			resp.Body.Close()
			r.Body = buf.Bytes()

			if tt.code != "" {
				r.Problem(t, tt.status, tt.code)
			} else if r.Status != tt.status || strings.TrimSpace(string(r.Body)) != `{"received":true}` {
				t.Fatalf("got %d %s, want %d {\"received\":true}", r.Status, r.Body, tt.status)
			}
			args, applied := f.called("HandleStripeEvent")
			if applied != tt.applied {
				t.Fatalf("HandleStripeEvent called: got %v, want %v", applied, tt.applied)
			}
			if applied && !reflect.DeepEqual(args, []any{wantEvent}) {
				t.Errorf("HandleStripeEvent args: got %#v, want %#v", args, wantEvent)
			}
			payloads, sigs := v.seen()
			if tt.status == 413 {
				if len(payloads) != 0 {
					t.Errorf("verifier calls: got %d, want none for an oversized body", len(payloads))
				}
				return
			}
			// The verifier gets the bytes exactly as sent, and the header.
			if len(payloads) != 1 || !bytes.Equal(payloads[0], tt.body) || sigs[0] != tt.sig {
				t.Errorf("verifier got %q / %v, want exactly %q with %q", payloads, sigs, tt.body, tt.sig)
			}
		})
	}

	t.Run("no token needed, none used", func(t *testing.T) {
		f := newHTFake()
		srv := e.server(t, f, &htVerifier{})
		r := e.do(t, srv, http.MethodPost, p, htRequest{who: "bad", body: htEventJSON, header: map[string]string{"Stripe-Signature": good}})
		if r.Status != http.StatusOK {
			t.Errorf("status: got %d, want 200 (the webhook ignores Authorization) %s", r.Status, r.Body)
		}
	})

	t.Run("get not allowed", func(t *testing.T) {
		r := e.do(t, e.server(t, newHTFake(), &htVerifier{}), http.MethodGet, p, htRequest{})
		r.Problem(t, http.StatusMethodNotAllowed, "method_not_allowed")
	})
}

// htRefusing is a verifier that refuses every delivery with err.
type htRefusing struct{ err error }

func (v htRefusing) Parse([]byte, string) (finance.StripeEvent, error) {
	return finance.StripeEvent{}, v.err
}

// testHTTPWebhookVerifiers checks how the route answers a verifier's
// errors, and the route with the real WebhookVerifier as main wires it.
func testHTTPWebhookVerifiers(t *testing.T, e *htEnv) {
	post := func(t *testing.T, v finance.StripeWebhook, f *htFake, sig string) htResponse {
		t.Helper()
		logger := log.NewNopLogger()
		r := mux.NewRouter()
		finance.MakeHTTPHandler(finance.MakeEndpoints(f, logger, nil, e.v), r, logger, finance.NewWebhookHandler(v, f, logger))
		srv := httptest.NewServer(httpx.Stack(logger, r))
		t.Cleanup(srv.Close)
		return e.do(t, srv, http.MethodPost, finance.PathStripeWebhook, htRequest{body: htEventJSON, header: map[string]string{"Stripe-Signature": sig}})
	}
	refusals := []struct {
		name string
		err  error
		code string
	}{
		{"its own 400 kept", errs.New(errs.Invalid, "invalid_event", "the body is not a Stripe event"), "invalid_event"},
		{"any other error is a bad signature", errs.Internalf(errors.New("boom"), "verify"), "invalid_signature"},
	}
	for _, r := range refusals {
		t.Run(r.name, func(t *testing.T) {
			f := newHTFake()
			post(t, htRefusing{r.err}, f, "t=1,v1=00").Problem(t, http.StatusBadRequest, r.code)
			if got := f.methods(); len(got) != 0 {
				t.Errorf("service calls: got %v, want none", got)
			}
		})
	}

	t.Run("real verifier", func(t *testing.T) {
		const secret = "whsec_real"
		sign := func(at time.Time) string {
			ts := strconv.FormatInt(at.Unix(), 10)
			m := hmac.New(sha256.New, []byte(secret))
			m.Write([]byte(ts + "." + htEventJSON))
			return "t=" + ts + ",v1=" + hex.EncodeToString(m.Sum(nil))
		}
		v := finance.NewWebhookVerifier([]string{secret}, 300*time.Second, time.Now)
		f := newHTFake()
		if r := post(t, v, f, sign(time.Now())); r.Status != http.StatusOK {
			t.Fatalf("signed now: got %d %s, want 200", r.Status, r.Body)
		}
		if args, _ := f.called("HandleStripeEvent"); len(args) != 1 || args[0].(finance.StripeEvent).PaymentIntentID != htIntentID {
			t.Errorf("HandleStripeEvent args: got %#v, want the event of %s", args, htIntentID)
		}
		f = newHTFake()
		post(t, v, f, sign(time.Now().Add(-301*time.Second))).Problem(t, http.StatusBadRequest, "invalid_signature")
		if got := f.methods(); len(got) != 0 {
			t.Errorf("service calls for a stale signature: got %v, want none", got)
		}
	})
}
