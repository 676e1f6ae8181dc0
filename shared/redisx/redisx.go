// Package redisx opens go-redis clients the same way in every service: one
// node from REDIS_URL locally, a Redis Cluster from REDIS_ADDRS in
// production, both behind redis.UniversalClient. Keys that a Lua script or
// MULTI touches together must share a hash tag ({…}) so they live in one
// cluster slot.
package redisx

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Config says where Redis is. Exactly one of URL and Addrs is set.
type Config struct {
	URL      string   // redis://[:password@]host:port/db — a single node
	Addrs    []string // cluster seed nodes
	Password string   // for Addrs
}

// Open returns a client and checks that Redis answers within ctx.
func Open(ctx context.Context, cfg Config) (redis.UniversalClient, error) {
	var c redis.UniversalClient
	switch {
	case cfg.URL != "" && len(cfg.Addrs) > 0:
		return nil, errors.New("redis: set REDIS_URL or REDIS_ADDRS, not both")
	case cfg.URL != "":
		opt, err := redis.ParseURL(cfg.URL)
		if err != nil {
			return nil, fmt.Errorf("redis: REDIS_URL: %w", err)
		}
		opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = dialTimeout, ioTimeout, ioTimeout
		opt.MaxRetries, opt.MaxRetryBackoff = maxRetries, maxRetryBackoff
		opt.DialerRetries, opt.DialerRetryTimeout = dialerRetries, dialerRetryWait
		c = redis.NewClient(opt)
	case len(cfg.Addrs) > 0:
		c = redis.NewClusterClient(&redis.ClusterOptions{Addrs: cfg.Addrs, Password: cfg.Password,
			DialTimeout: dialTimeout, ReadTimeout: ioTimeout, WriteTimeout: ioTimeout,
			MaxRetries: maxRetries, MaxRetryBackoff: maxRetryBackoff,
			DialerRetries: dialerRetries, DialerRetryTimeout: dialerRetryWait})
	default:
		return nil, errors.New("redis: REDIS_URL or REDIS_ADDRS is required")
	}
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		return nil, fmt.Errorf("redis does not answer: %w", err)
	}
	return c, nil
}

// How long a command may take against a Redis that is down, and how often
// it is tried. go-redis's defaults (5 s to dial; 3 retries, each dialling
// up to 5 times 100 ms apart) hold a request about 1.6 s per command
// against a Redis that refuses connections, and a request that makes two
// such calls (the gateway's, then the service's) answers its 503 only
// after 3 s or more. With these a dead Redis fails a command in about
// 0.1 s, a stuck one within 2 s. One retry stays: after a Redis restart,
// the first command meets a pooled connection the restart closed, and the
// retry dials afresh, so clients recover without an error.
const (
	dialTimeout     = 2 * time.Second
	ioTimeout       = time.Second // read and write
	maxRetries      = 1
	maxRetryBackoff = 50 * time.Millisecond
	dialerRetries   = 1
	dialerRetryWait = 10 * time.Millisecond
)

// Ping is a readiness check.
func Ping(c redis.UniversalClient) func(context.Context) error {
	return func(ctx context.Context) error { return c.Ping(ctx).Err() }
}
