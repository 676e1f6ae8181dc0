package revocation

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/redis/go-redis/v9"

	"github.com/azora-os/azora/shared/kit"
)

// Defaults of Options.
const (
	// DefaultNotRevokedTTL bounds how stale a "not revoked" answer may be
	// when a pub/sub message was lost (or Run is not running).
	DefaultNotRevokedTTL = 500 * time.Millisecond
	// DefaultRevokedTTL is how long a sid heard on the channel stays
	// revoked locally: a 15-minute access token plus Leeway.
	DefaultRevokedTTL   = 15*time.Minute + Leeway
	DefaultMaxEntries   = 100_000
	DefaultPingInterval = 5 * time.Second
)

// Resubscription backoff bounds.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 5 * time.Second
)

// Options tune a Checker; the zero value gives the defaults.
type Options struct {
	// NotRevokedTTL is how long a "not revoked" answer from Redis is
	// trusted; 0 means DefaultNotRevokedTTL, negative means never cache it.
	NotRevokedTTL time.Duration
	// RevokedTTL is how long a sid published as revoked is held locally;
	// it must be at least the access-token lifetime plus Leeway.
	// 0 means DefaultRevokedTTL.
	RevokedTTL time.Duration
	// MaxEntries bounds the local cache; 0 means DefaultMaxEntries.
	MaxEntries int
	// PingInterval is how long Run waits for a message before pinging
	// Redis to find out whether the subscription is still alive; 0 means
	// DefaultPingInterval.
	PingInterval time.Duration
	// Logger receives resubscription warnings; nil discards them.
	Logger log.Logger
}

// Checker is the kit.RevocationChecker every service gives its JWT
// verifier. It is safe for concurrent use.
type Checker struct {
	rdb        redis.UniversalClient
	key        func(sid string) string
	channel    string
	opts       Options
	cache      *cache
	subscribed atomic.Bool
}

var _ kit.RevocationChecker = (*Checker)(nil)

// New returns a Checker reading the revocations auth writes under prefix
// (DefaultPrefix in production). It answers from Redis at once; call Run
// in the background so that revocations also arrive by pub/sub.
func New(c redis.UniversalClient, prefix string, opts Options) *Checker {
	if opts.NotRevokedTTL == 0 {
		opts.NotRevokedTTL = DefaultNotRevokedTTL
	}
	if opts.RevokedTTL <= 0 {
		opts.RevokedTTL = DefaultRevokedTTL
	}
	if opts.MaxEntries <= 0 {
		opts.MaxEntries = DefaultMaxEntries
	}
	if opts.PingInterval <= 0 {
		opts.PingInterval = DefaultPingInterval
	}
	if opts.Logger == nil {
		opts.Logger = log.NewNopLogger()
	}
	return &Checker{
		rdb:     c,
		key:     func(sid string) string { return Key(prefix, sid) },
		channel: Channel(prefix),
		opts:    opts,
		cache:   newCache(opts.MaxEntries),
	}
}

// Revoked reports whether the session behind claims has been revoked. A
// token without a sid is never revoked. It answers from the local cache
// when it can and otherwise asks Redis; when Redis does not answer it
// returns kit.ErrAuthUnavailable, so the verifier fails closed (503).
func (c *Checker) Revoked(ctx context.Context, claims kit.Claims) (bool, error) {
	sid := claims.SessionID
	if sid == "" {
		return false, nil
	}
	now := time.Now()
	if revoked, ok := c.cache.get(sid, now.UnixNano()); ok {
		return revoked, nil
	}
	n, err := c.rdb.Exists(ctx, c.key(sid)).Result()
	if err != nil {
		return false, kit.ErrAuthUnavailable.Wrap(fmt.Errorf("revocation check: %w", err))
	}
	if n > 0 {
		// The token cannot be accepted after its exp (plus the verifier's
		// leeway), so the answer need not be kept longer than that.
		until := claims.ExpiresAt.Add(Leeway)
		if !until.After(now) {
			until = now.Add(c.opts.RevokedTTL)
		}
		c.cache.revoke(sid, now.UnixNano(), until.UnixNano())
		return true, nil
	}
	if c.opts.NotRevokedTTL > 0 {
		c.cache.notRevoked(sid, now.UnixNano(), now.Add(c.opts.NotRevokedTTL).UnixNano())
	}
	return false, nil
}

// Subscribed reports whether Run is listening to the revocation channel
// right now.
func (c *Checker) Subscribed() bool { return c.subscribed.Load() }

// Run listens to the revocation channel until ctx is done and then
// returns nil. A lost subscription is logged and re-established with
// backoff; each new subscription forgets the cached "not revoked" answers,
// since anything published meanwhile was missed.
func (c *Checker) Run(ctx context.Context) error {
	logger := log.With(c.opts.Logger, "component", "revocation_checker")
	backoff := minBackoff
	for {
		listened, err := c.listen(ctx)
		c.subscribed.Store(false)
		if ctx.Err() != nil {
			return nil
		}
		if listened {
			backoff = minBackoff
		}
		level.Warn(logger).Log("msg", "revocation channel lost; subscribing again",
			"err", err, "retry_in", backoff.String())
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// errNoPong means Redis left a ping unanswered for a whole PingInterval.
var errNoPong = errors.New("redis did not answer a ping on the subscription")

// listen holds one subscription until it fails or ctx is done; it reports
// whether the subscription was ever active.
func (c *Checker) listen(ctx context.Context) (bool, error) {
	ps := c.rdb.Subscribe(ctx, c.channel)
	defer ps.Close()
	// go-redis reads do not watch ctx; closing the connection ends a read
	// blocked when ctx is cancelled.
	stop := context.AfterFunc(ctx, func() { ps.Close() })
	defer stop()

	// Subscribe only sends the command; the confirmation says it is live.
	if _, err := ps.Receive(ctx); err != nil {
		return false, err
	}
	c.cache.forgetNotRevoked()
	c.subscribed.Store(true)

	pinged := false
	for {
		msg, err := ps.ReceiveTimeout(ctx, c.opts.PingInterval)
		if err != nil {
			if ctx.Err() != nil {
				return true, ctx.Err()
			}
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				return true, err
			}
			if pinged {
				return true, errNoPong
			}
			if err := ps.Ping(ctx); err != nil {
				return true, err
			}
			pinged = true
			continue
		}
		pinged = false
		if m, ok := msg.(*redis.Message); ok && m.Payload != "" {
			now := time.Now()
			c.cache.revoke(m.Payload, now.UnixNano(), now.Add(c.opts.RevokedTTL).UnixNano())
		}
	}
}
