package auth

import (
	"context"
	"fmt"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"

	"github.com/azora-os/azora/shared/errs"
)

// RedisLimiter is the Limiter port over go-redis/redis_rate (GCRA in one
// Lua script per call), so every auth instance shares one budget per key.
// redis_rate takes any client with Eval/EvalSha/ScriptLoad/Del, which
// redis.UniversalClient provides (a cluster included: each call touches a
// single key). Its keys are "rate:" + prefix + key.
type RedisLimiter struct {
	l      *redis_rate.Limiter
	prefix string
}

var _ Limiter = (*RedisLimiter)(nil)

// NewRedisLimiter returns the limiter; prefix isolates its keys
// (RedisPrefix in production).
func NewRedisLimiter(c redis.UniversalClient, prefix string) *RedisLimiter {
	return &RedisLimiter{l: redis_rate.NewLimiter(c), prefix: prefix}
}

// Allow implements Limiter. With n > 0 it takes n units when they are all
// available and otherwise nothing; with n = 0 it takes nothing and
// reports whether one more unit is available now. A denial carries the
// wait until that would change. Errors: internal for a malformed limit or
// a negative n, unavailable when Redis fails.
func (r *RedisLimiter) Allow(ctx context.Context, key string, l Limit, n int) (Decision, error) {
	if l.Rate <= 0 || l.Burst <= 0 || l.Period <= 0 || n < 0 {
		return Decision{}, errs.Internalf(fmt.Errorf("limit %+v, n %d", l, n), "rate limit %s", key)
	}
	rl := redis_rate.Limit{Rate: l.Rate, Burst: l.Burst, Period: l.Period}
	if n == 0 {
		// AllowAtMost with 0 consumes nothing, and it answers with a wait
		// exactly when less than one unit is left (AllowN with 0 would
		// report a denial only past an empty bucket).
		res, err := r.l.AllowAtMost(ctx, r.prefix+key, rl, 0)
		if err != nil {
			return Decision{}, redisUnavailable("peek rate limit", err)
		}
		if res.RetryAfter < 0 {
			return Decision{Allowed: true}, nil
		}
		return Decision{RetryAfter: res.RetryAfter}, nil
	}
	res, err := r.l.AllowN(ctx, r.prefix+key, rl, n)
	if err != nil {
		return Decision{}, redisUnavailable("rate limit", err)
	}
	if res.Allowed > 0 {
		return Decision{Allowed: true}, nil
	}
	return Decision{RetryAfter: max(res.RetryAfter, 0)}, nil
}

// Reset implements Limiter. Errors: unavailable.
func (r *RedisLimiter) Reset(ctx context.Context, key string) error {
	if err := r.l.Reset(ctx, r.prefix+key); err != nil {
		return redisUnavailable("reset rate limit", err)
	}
	return nil
}
