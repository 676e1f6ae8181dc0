// Command stripe-webhook sends finance a correctly signed Stripe webhook
// for a PaymentIntent, as Stripe's CLI `stripe trigger` does, so that a
// top-up made against stripe-mock (which never calls back) can be
// completed by hand:
//
//	go run ./scripts/stripe-webhook -payment-intent pi_… [-type payment_intent.succeeded]
//	    [-amount 1999 -currency usd] [-url http://127.0.0.1:4003/api/v1/webhooks/stripe]
//	    [-secret whsec_…]
//
// -amount and -currency must be the top-up's. The event is a Stripe event
// object (id evt_…, the stripe-go API version) whose data.object is the
// PaymentIntent in the state the type implies; it is signed at the current
// time with finance.SignPayload, Stripe's v1 scheme, and POSTed with the
// Stripe-Signature header. The signing secret is -secret, else
// STRIPE_WEBHOOK_SECRET, else the STRIPE_WEBHOOK_SECRET line of the
// development secrets file `make run` keeps ($AZORA_DEV_SECRETS, default
// ~/.local/state/azora/dev-secrets.env). It prints the response and exits
// non-zero unless finance answered 2xx.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/azora-os/azora/finance"
)

const defaultURL = "http://127.0.0.1:4003/api/v1/webhooks/stripe"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "stripe-webhook:", err)
		os.Exit(1)
	}
}

// run builds, signs and sends one event, writing the response to out.
func run(ctx context.Context, args []string, getenv func(string) string, out io.Writer) error {
	fs := flag.NewFlagSet("stripe-webhook", flag.ContinueOnError)
	pi := fs.String("payment-intent", "", "the PaymentIntent id (pi_…), from the top-up's payment_intent_id (required)")
	typ := fs.String("type", "payment_intent.succeeded", "the event type, e.g. payment_intent.payment_failed")
	amount := fs.Int64("amount", 1999, "the PaymentIntent's amount in minor units: the top-up's")
	currency := fs.String("currency", "usd", "the PaymentIntent's currency: the top-up's")
	failure := fs.String("failure-message", "Your card was declined.", "last_payment_error.message of a payment_failed event")
	url := fs.String("url", defaultURL, "finance's Stripe webhook route")
	secret := fs.String("secret", "", "the webhook signing secret (default: STRIPE_WEBHOOK_SECRET, else the dev secrets file)")
	timeout := fs.Duration("timeout", 10*time.Second, "how long to wait for finance")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if !strings.HasPrefix(*pi, "pi_") {
		return errors.New("-payment-intent pi_… is required")
	}
	if *amount <= 0 {
		return errors.New("-amount must be positive")
	}
	key, err := signingSecret(*secret, getenv)
	if err != nil {
		return err
	}

	now := time.Now()
	body, err := eventJSON(*typ, *pi, *amount, strings.ToLower(*currency), *failure, now)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, *url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("User-Agent", "Stripe/1.0 (+https://stripe.com/docs/webhooks)")
	req.Header.Set("Stripe-Signature", finance.SignPayload(key, body, now))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("POST %s: %w", *url, err)
	}
	defer resp.Body.Close()
	reply, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("reading finance's answer: %w", err)
	}
	fmt.Fprintf(out, "sent %s for %s (%d %s) to %s\n%s\n%s\n", *typ, *pi, *amount, strings.ToUpper(*currency), *url, resp.Status, bytes.TrimSpace(reply))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("finance answered %s", resp.Status)
	}
	return nil
}

// signingSecret is flagValue, else STRIPE_WEBHOOK_SECRET, else that line of
// the development secrets file.
func signingSecret(flagValue string, getenv func(string) string) (string, error) {
	if flagValue != "" {
		return flagValue, nil
	}
	if s := getenv("STRIPE_WEBHOOK_SECRET"); s != "" {
		return s, nil
	}
	path := devSecretsFile(getenv)
	if path != "" {
		if s, err := secretFromFile(path, "STRIPE_WEBHOOK_SECRET"); err != nil {
			return "", err
		} else if s != "" {
			return s, nil
		}
	}
	return "", fmt.Errorf("no signing secret: pass -secret, set STRIPE_WEBHOOK_SECRET, or run `make run` once so that %s holds one", path)
}

// devSecretsFile is where scripts/lib.sh keeps development secrets.
func devSecretsFile(getenv func(string) string) string {
	if p := getenv("AZORA_DEV_SECRETS"); p != "" {
		return p
	}
	state := getenv("XDG_STATE_HOME")
	if state == "" {
		home := getenv("HOME")
		if home == "" {
			return ""
		}
		state = filepath.Join(home, ".local", "state")
	}
	return filepath.Join(state, "azora", "dev-secrets.env")
}

// secretFromFile returns the last NAME=value line's value in path ("" when
// the file or the line is missing), as run.sh's dev_secret reads it.
func secretFromFile(path, name string) (string, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	defer f.Close()
	var value string
	for sc := bufio.NewScanner(f); sc.Scan(); {
		if v, ok := strings.CutPrefix(sc.Text(), name+"="); ok {
			value = v
		}
	}
	return value, nil
}

// stripeID returns prefix + 24 random base-62 characters, the shape of
// Stripe's object ids.
func stripeID(prefix string) string {
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	b := make([]byte, 24)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return prefix + string(b)
}
