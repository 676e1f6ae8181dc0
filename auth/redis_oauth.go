package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/azora-os/azora/shared/errs"
)

// RedisOAuthStore is the OAuthStore port over Redis. Keys, under prefix:
// oauth:code:<hash> (a hash: data, the code as JSON; sid once exchanged;
// reused once presented again) and oauth:consent:<hash of the token> (the
// pending consent as JSON). Neither a code nor a consent token is stored in
// the clear. Each operation touches one key, so any cluster slot will do.
type RedisOAuthStore struct {
	c      redis.UniversalClient
	prefix string
	redeem *redis.Script
}

var _ OAuthStore = (*RedisOAuthStore)(nil)

// NewRedisOAuthStore returns the store; prefix isolates its keys
// (RedisPrefix in production).
func NewRedisOAuthStore(c redis.UniversalClient, prefix string) *RedisOAuthStore {
	return &RedisOAuthStore{c: c, prefix: prefix, redeem: redis.NewScript(redeemCodeLua)}
}

func (r *RedisOAuthStore) codeKey(hash string) string { return r.prefix + "oauth:code:" + hash }
func (r *RedisOAuthStore) consentKey(token string) string {
	return r.prefix + "oauth:consent:" + hashSecret(token)
}

// SaveCode implements OAuthStore. Errors: internal for a non-positive ttl,
// unavailable.
func (r *RedisOAuthStore) SaveCode(ctx context.Context, hash string, c AuthCode, ttl time.Duration) error {
	if ttl <= 0 || hash == "" {
		return errs.Internalf(fmt.Errorf("hash %q, ttl %v", hash, ttl), "save authorization code")
	}
	data, err := json.Marshal(c)
	if err != nil {
		return errs.Internalf(err, "encode authorization code")
	}
	key := r.codeKey(hash)
	_, err = r.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, key, "data", data)
		p.PExpire(ctx, key, ttl)
		return nil
	})
	if err != nil {
		return redisUnavailable("save authorization code", err)
	}
	return nil
}

// Code implements OAuthStore. Errors: invalid_grant, unavailable.
func (r *RedisOAuthStore) Code(ctx context.Context, hash string) (AuthCode, error) {
	v, err := r.c.HMGet(ctx, r.codeKey(hash), "data", "sid").Result()
	if err != nil {
		return AuthCode{}, redisUnavailable("read authorization code", err)
	}
	data, _ := v[0].(string)
	if data == "" {
		return AuthCode{}, ErrInvalidGrant.WithMessage("the code is unknown or expired")
	}
	var c AuthCode
	if err := json.Unmarshal([]byte(data), &c); err != nil {
		return AuthCode{}, errs.Internalf(err, "decode authorization code")
	}
	c.SID, _ = v[1].(string)
	return c, nil
}

// redeemCodeLua marks a code exchanged, once.
// KEYS: code. ARGV: sid, keep (ms).
const redeemCodeLua = `
if redis.call('HEXISTS', KEYS[1], 'data') == 0 then
  return {'invalid'}
end
local prev = redis.call('HGET', KEYS[1], 'sid')
if prev then
  redis.call('HSET', KEYS[1], 'reused', '1')
  return {'reused', prev}
end
redis.call('HSET', KEYS[1], 'sid', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return {'ok'}
`

// RedeemCode implements OAuthStore in one script: of any number of
// concurrent exchanges of one code, exactly one is first. Errors:
// invalid_grant, unavailable.
func (r *RedisOAuthStore) RedeemCode(ctx context.Context, hash, sid string, keep time.Duration) (bool, string, error) {
	res, err := r.redeem.Run(ctx, r.c, []string{r.codeKey(hash)}, sid, keep.Milliseconds()).StringSlice()
	if err != nil {
		return false, "", redisUnavailable("redeem authorization code", err)
	}
	switch {
	case len(res) == 1 && res[0] == "ok":
		return true, "", nil
	case len(res) == 2 && res[0] == "reused":
		return false, res[1], nil
	default:
		return false, "", ErrInvalidGrant.WithMessage("the code is unknown or expired")
	}
}

// CodeReused implements OAuthStore. Errors: unavailable.
func (r *RedisOAuthStore) CodeReused(ctx context.Context, hash string) (bool, error) {
	reused, err := r.c.HExists(ctx, r.codeKey(hash), "reused").Result()
	if err != nil {
		return false, redisUnavailable("check authorization code", err)
	}
	return reused, nil
}

// SaveConsent implements OAuthStore: the token is 256 random bits,
// base64url. Errors: internal for a non-positive ttl, unavailable.
func (r *RedisOAuthStore) SaveConsent(ctx context.Context, c Consent, ttl time.Duration) (string, error) {
	if ttl <= 0 {
		return "", errs.Internalf(fmt.Errorf("ttl %v", ttl), "save consent")
	}
	data, err := json.Marshal(c)
	if err != nil {
		return "", errs.Internalf(err, "encode consent")
	}
	token, err := randomToken()
	if err != nil {
		return "", err
	}
	if err := r.c.Set(ctx, r.consentKey(token), data, ttl).Err(); err != nil {
		return "", redisUnavailable("save consent", err)
	}
	return token, nil
}

// TakeConsent implements OAuthStore with GETDEL: a consent is answered
// once. Errors: authorization_expired, unavailable.
func (r *RedisOAuthStore) TakeConsent(ctx context.Context, token string) (Consent, error) {
	if token == "" {
		return Consent{}, ErrAuthorizationExpired
	}
	data, err := r.c.GetDel(ctx, r.consentKey(token)).Bytes()
	if errors.Is(err, redis.Nil) {
		return Consent{}, ErrAuthorizationExpired
	}
	if err != nil {
		return Consent{}, redisUnavailable("take consent", err)
	}
	var c Consent
	if err := json.Unmarshal(data, &c); err != nil {
		return Consent{}, errs.Internalf(err, "decode consent")
	}
	return c, nil
}
