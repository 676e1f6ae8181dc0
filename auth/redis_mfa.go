package auth

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/azora-os/azora/shared/errs"
)

// totpStepTTL is how long a used TOTP step is remembered: a step's code is
// accepted from one step before it to one step after (3 × 30 s), plus
// room for clock differences between instances.
const totpStepTTL = 120 * time.Second

// mfaTokenLen is the length of a challenge token: 32 random bytes,
// base64url without padding.
const mfaTokenLen = 43

// RedisChallenges is the Challenges port over Redis. Keys, under prefix:
// mfa:<token> (a hash: user, attempts) and totp:{<user>}:<step>. Each
// operation touches one key, so any cluster slot will do.
type RedisChallenges struct {
	c       redis.UniversalClient
	prefix  string
	attempt *redis.Script
}

var _ Challenges = (*RedisChallenges)(nil)

// NewRedisChallenges returns the challenge store; prefix isolates its keys
// (RedisPrefix in production).
func NewRedisChallenges(c redis.UniversalClient, prefix string) *RedisChallenges {
	return &RedisChallenges{c: c, prefix: prefix, attempt: redis.NewScript(attemptMFALua)}
}

func (r *RedisChallenges) mfaKey(token string) string { return r.prefix + "mfa:" + token }

// NewMFA implements Challenges: the token is 256 random bits, base64url.
// Errors: internal for a non-positive ttl, unavailable when Redis fails.
func (r *RedisChallenges) NewMFA(ctx context.Context, c MFAChallenge, ttl time.Duration) (string, error) {
	if ttl <= 0 || c.UserID == "" {
		return "", errs.Internalf(fmt.Errorf("user %q, ttl %v", c.UserID, ttl), "new MFA challenge")
	}
	token, err := randomToken()
	if err != nil {
		return "", err
	}
	key := r.mfaKey(token)
	_, err = r.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, key, "user", c.UserID, "attempts", c.Attempts)
		p.PExpire(ctx, key, ttl)
		return nil
	})
	if err != nil {
		return "", redisUnavailable("store MFA challenge", err)
	}
	return token, nil
}

// attemptMFALua counts one attempt and returns {user, attempts}, or nil
// when the token is unknown or used up. The attempt that reaches the
// limit deletes the token, so at most max codes are ever tried with it.
// KEYS: challenge. ARGV: max attempts.
const attemptMFALua = `
local user = redis.call('HGET', KEYS[1], 'user')
if not user then
  return false
end
local n = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
local max = tonumber(ARGV[1])
if n >= max then
  redis.call('DEL', KEYS[1])
end
if n > max then
  return false
end
return {user, n}
`

// AttemptMFA implements Challenges. Errors: invalid_mfa_token (unknown,
// expired, malformed or used up), unavailable.
func (r *RedisChallenges) AttemptMFA(ctx context.Context, token string, maxAttempts int) (MFAChallenge, error) {
	if !validMFAToken(token) || maxAttempts < 1 {
		return MFAChallenge{}, ErrInvalidMFAToken
	}
	res, err := r.attempt.Run(ctx, r.c, []string{r.mfaKey(token)}, maxAttempts).Slice()
	if errors.Is(err, redis.Nil) {
		return MFAChallenge{}, ErrInvalidMFAToken
	}
	if err != nil {
		return MFAChallenge{}, redisUnavailable("count MFA attempt", err)
	}
	var (
		user string
		n    int64
		ok   = len(res) == 2
	)
	if ok {
		user, ok = res[0].(string)
	}
	if ok {
		n, ok = res[1].(int64)
	}
	if !ok || user == "" {
		return MFAChallenge{}, errs.Internalf(fmt.Errorf("unexpected reply %v", res), "count MFA attempt")
	}
	return MFAChallenge{UserID: user, Attempts: int(n)}, nil
}

// DeleteMFA implements Challenges; deleting an unknown token is not an
// error. Errors: unavailable.
func (r *RedisChallenges) DeleteMFA(ctx context.Context, token string) error {
	if !validMFAToken(token) {
		return nil
	}
	if err := r.c.Del(ctx, r.mfaKey(token)).Err(); err != nil {
		return redisUnavailable("delete MFA challenge", err)
	}
	return nil
}

// UseTOTPStep implements Challenges with SET NX: of any number of
// instances presenting the same step at once, exactly one is first.
// Errors: unavailable.
func (r *RedisChallenges) UseTOTPStep(ctx context.Context, userID string, step int64) (bool, error) {
	key := r.prefix + "totp:{" + userID + "}:" + strconv.FormatInt(step, 10)
	fresh, err := r.c.SetNX(ctx, key, 1, totpStepTTL).Result()
	if err != nil {
		return false, redisUnavailable("record TOTP step", err)
	}
	return fresh, nil
}

// validMFAToken accepts what NewMFA issues; anything else is refused
// before it reaches Redis.
func validMFAToken(t string) bool {
	if len(t) != mfaTokenLen {
		return false
	}
	for i := 0; i < len(t); i++ {
		switch c := t[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}
