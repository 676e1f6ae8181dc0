package revocation_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/redis/go-redis/v9"

	"github.com/azora-os/azora/shared/kit"
	"github.com/azora-os/azora/shared/redisx/redistest"
	"github.com/azora-os/azora/shared/revocation"
)

// claims returns access-token claims of session sid expiring in 15 minutes.
func claims(sid string) kit.Claims {
	return kit.Claims{Subject: "user-1", SessionID: sid, ExpiresAt: time.Now().Add(15 * time.Minute)}
}

// markRevoked does what auth's session store does on revocation.
func markRevoked(t *testing.T, c redis.UniversalClient, prefix, sid string) {
	t.Helper()
	ctx := context.Background()
	if err := c.Set(ctx, revocation.Key(prefix, sid), "1", revocation.MarkTTL(15*time.Minute)).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.Publish(ctx, revocation.Channel(prefix), sid).Err(); err != nil {
		t.Fatal(err)
	}
}

// startRun runs ch.Run until the test ends and waits for its subscription.
func startRun(t *testing.T, ch *revocation.Checker) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ch.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run returned %v, want nil", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Run did not return within 5s of cancel")
		}
	})
	waitFor(t, "subscription", 5*time.Second, ch.Subscribed)
}

// waitFor polls cond every 5 ms and returns how long it took to hold.
func waitFor(t *testing.T, what string, limit time.Duration, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > limit {
			t.Fatalf("%s: not reached within %v", what, limit)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(start)
}

// revoked asks ch and fails the test on error.
func revoked(t *testing.T, ch *revocation.Checker, sid string) bool {
	t.Helper()
	r, err := ch.Revoked(context.Background(), claims(sid))
	if err != nil {
		t.Fatalf("Revoked(%q): %v", sid, err)
	}
	return r
}

func TestRevokedAnswers(t *testing.T) {
	c, prefix := redistest.New(t)
	markRevoked(t, c, prefix, "sid-revoked")
	ch := revocation.New(c, prefix, revocation.Options{})
	for _, tc := range []struct {
		name   string
		claims kit.Claims
		want   bool
	}{
		{"unknown sid", claims("sid-unknown"), false},
		{"revoked sid", claims("sid-revoked"), true},
		{"revoked sid from cache", claims("sid-revoked"), true},
		{"no sid", kit.Claims{Subject: "client-1"}, false},
		{"revoked sid, expired token", kit.Claims{SessionID: "sid-revoked", ExpiresAt: time.Now().Add(-time.Hour)}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ch.Revoked(context.Background(), tc.claims)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestRevokedThroughPubSubWithinASecond(t *testing.T) {
	c, prefix := redistest.New(t)
	// A "not revoked" answer trusted for an hour: only a pub/sub message
	// can change it. A short ping interval makes Run ping a few times
	// while the channel is idle.
	var lost atomic.Int32
	ch := revocation.New(c, prefix, revocation.Options{
		NotRevokedTTL: time.Hour,
		PingInterval:  30 * time.Millisecond,
		Logger:        log.LoggerFunc(func(...any) error { lost.Add(1); return nil }),
	})
	startRun(t, ch)
	if revoked(t, ch, "sid-1") {
		t.Fatal("got revoked before any revocation")
	}
	time.Sleep(150 * time.Millisecond)
	if n := lost.Load(); n != 0 || !ch.Subscribed() {
		t.Fatalf("subscription lost %d times while idle, want 0", n)
	}
	// Publish without the key: the answer can only come from the channel.
	if err := c.Publish(context.Background(), revocation.Channel(prefix), "sid-1").Err(); err != nil {
		t.Fatal(err)
	}
	took := waitFor(t, "revoked through pub/sub", time.Second, func() bool { return revoked(t, ch, "sid-1") })
	t.Logf("revoked through pub/sub after %v", took)
	if revoked(t, ch, "sid-2") {
		t.Error("got sid-2 revoked, want only sid-1")
	}
}

func TestRevokedThroughTTLWithoutPubSub(t *testing.T) {
	c, prefix := redistest.New(t)
	ch := revocation.New(c, prefix, revocation.Options{}) // Run not started
	if revoked(t, ch, "sid-1") {
		t.Fatal("got revoked before any revocation")
	}
	markRevoked(t, c, prefix, "sid-1")
	took := waitFor(t, "revoked through the key", time.Second, func() bool { return revoked(t, ch, "sid-1") })
	t.Logf("revoked through the key after %v", took)
	if took > revocation.DefaultNotRevokedTTL+100*time.Millisecond {
		t.Errorf("took %v, want at most the not-revoked TTL %v (+100ms)", took, revocation.DefaultNotRevokedTTL)
	}
}

func TestRevokedNoNegativeCache(t *testing.T) {
	c, prefix := redistest.New(t)
	ch := revocation.New(c, prefix, revocation.Options{NotRevokedTTL: -1})
	if revoked(t, ch, "sid-1") {
		t.Fatal("got revoked before any revocation")
	}
	markRevoked(t, c, prefix, "sid-1")
	if !revoked(t, ch, "sid-1") {
		t.Error("got not revoked right after the mark, want revoked (no negative cache)")
	}
}

func TestRevokedFailsClosedWhenRedisIsDown(t *testing.T) {
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 200 * time.Millisecond, MaxRetries: -1, DialerRetries: 1})
	defer dead.Close()
	ch := revocation.New(dead, "test:", revocation.Options{})
	got, err := ch.Revoked(context.Background(), claims("sid-1"))
	if !errors.Is(err, kit.ErrAuthUnavailable) {
		t.Errorf("got (%v, %v), want kit.ErrAuthUnavailable", got, err)
	}
	if got {
		t.Error("got revoked true alongside an error")
	}
	// A token without a session needs no Redis at all.
	if got, err := ch.Revoked(context.Background(), kit.Claims{Subject: "client-1"}); got || err != nil {
		t.Errorf("no sid: got (%v, %v), want (false, nil)", got, err)
	}
}

func TestRunResubscribesAfterConnectionLoss(t *testing.T) {
	c, prefix := redistest.New(t)
	opt, err := redis.ParseURL(redistest.URL())
	if err != nil {
		t.Fatal(err)
	}
	opt.ClientName = "revtest-" + strings.Trim(prefix, ":")
	opt.ClientName = strings.ReplaceAll(opt.ClientName, ":", "-")
	own := redis.NewClient(opt)
	defer own.Close()
	ch := revocation.New(own, prefix, revocation.Options{NotRevokedTTL: time.Hour})
	startRun(t, ch)

	// Cache a "not revoked" answer, then kill the subscription's
	// connection (only ours, found by its client name) and revoke while
	// nobody listens: the resubscription must drop the stale answer.
	if revoked(t, ch, "sid-lost") {
		t.Fatal("got revoked before any revocation")
	}
	killPubSub(t, c, opt.ClientName)
	waitFor(t, "subscription lost", 5*time.Second, func() bool { return !ch.Subscribed() })
	if err := c.Set(context.Background(), revocation.Key(prefix, "sid-lost"), "1", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "resubscribed", 10*time.Second, ch.Subscribed)
	if !revoked(t, ch, "sid-lost") {
		t.Error("sid revoked while unsubscribed: got not revoked, want revoked (stale cache kept)")
	}
	// And messages flow again.
	if err := c.Publish(context.Background(), revocation.Channel(prefix), "sid-after").Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "revoked after resubscription", time.Second, func() bool { return revoked(t, ch, "sid-after") })
}

// killPubSub closes the server side of the pub/sub connection named name.
func killPubSub(t *testing.T, c redis.UniversalClient, name string) {
	t.Helper()
	ctx := context.Background()
	list, err := c.ClientList(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	killed := 0
	for _, line := range strings.Split(list, "\n") {
		fields := map[string]string{}
		for _, f := range strings.Fields(line) {
			k, v, _ := strings.Cut(f, "=")
			fields[k] = v
		}
		if fields["name"] != name || fields["sub"] == "0" {
			continue
		}
		id, err := strconv.ParseInt(fields["id"], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.ClientKillByFilter(ctx, "ID", fmt.Sprint(id)).Err(); err != nil {
			t.Fatal(err)
		}
		killed++
	}
	if killed != 1 {
		t.Fatalf("killed %d subscriptions named %s, want 1", killed, name)
	}
}
