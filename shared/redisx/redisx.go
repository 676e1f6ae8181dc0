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
		tune(&opt.DialTimeout, &opt.ReadTimeout, &opt.WriteTimeout)
		c = redis.NewClient(opt)
	case len(cfg.Addrs) > 0:
		opt := &redis.ClusterOptions{Addrs: cfg.Addrs, Password: cfg.Password}
		tune(&opt.DialTimeout, &opt.ReadTimeout, &opt.WriteTimeout)
		c = redis.NewClusterClient(opt)
	default:
		return nil, errors.New("redis: REDIS_URL or REDIS_ADDRS is required")
	}
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		return nil, fmt.Errorf("redis does not answer: %w", err)
	}
	return c, nil
}

// tune sets timeouts short enough that a dead Redis fails a request quickly
// instead of holding it for go-redis's defaults.
func tune(dial, read, write *time.Duration) {
	*dial, *read, *write = 2*time.Second, time.Second, time.Second
}

// Ping is a readiness check.
func Ping(c redis.UniversalClient) func(context.Context) error {
	return func(ctx context.Context) error { return c.Ping(ctx).Err() }
}
