package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/revocation"
)

// RedisPrefix is the key prefix of auth's Redis state in production. It is
// revocation.DefaultPrefix because revocation marks are written under the
// sessions' prefix and every service's revocation.Checker reads them there.
const RedisPrefix = revocation.DefaultPrefix

// maxSIDLen bounds a session id; real ones are UUIDs (36 characters).
const maxSIDLen = 128

// RedisSessions is the Sessions port over Redis (one node or a cluster).
//
// Keys, under prefix: session:{sid} (a hash: user, roles, amr, created,
// expires, the current refresh hash and, for an OAuth grant, client and
// scope) and session:{sid}:spent (the set of
// rotated-out hashes), both expiring at the session's absolute end;
// revoked:{sid} (revocation.Key); user:{uid}:sessions, a sorted set of
// the user's sids scored by their expiry, for RevokeUser; and, for OAuth
// clients, client:{cid}:sessions, the sids of the client's grants (its
// users' sessions and its client_credentials tokens) scored likewise, and
// client:{cid}:deleted, set by RevokeClient. Every key of one sid carries
// the hash tag {sid}, so the scripts that touch several of them run in one
// cluster slot; a user's or a client's keys live in their own slot and are
// never touched by the same script as a sid's.
type RedisSessions struct {
	c       redis.UniversalClient
	prefix  string
	markTTL time.Duration
	rotate  *redis.Script
	revoke  *redis.Script
	index   *redis.Script
}

var _ Sessions = (*RedisSessions)(nil)

// NewRedisSessions returns the session store. prefix isolates its keys
// (RedisPrefix in production); accessTTL is the access-token lifetime,
// which fixes how long a revoked sid stays marked.
func NewRedisSessions(c redis.UniversalClient, prefix string, accessTTL time.Duration) *RedisSessions {
	return &RedisSessions{
		c:       c,
		prefix:  prefix,
		markTTL: revocation.MarkTTL(accessTTL),
		rotate:  redis.NewScript(rotateLua),
		revoke:  redis.NewScript(revokeLua),
		index:   redis.NewScript(indexLua),
	}
}

func (r *RedisSessions) sessionKey(sid string) string { return r.prefix + "session:{" + sid + "}" }
func (r *RedisSessions) spentKey(sid string) string   { return r.prefix + "session:{" + sid + "}:spent" }
func (r *RedisSessions) userKey(uid string) string    { return r.prefix + "user:{" + uid + "}:sessions" }
func (r *RedisSessions) clientKey(cid string) string {
	return r.prefix + "client:{" + cid + "}:sessions"
}
func (r *RedisSessions) clientGoneKey(cid string) string {
	return r.prefix + "client:{" + cid + "}:deleted"
}

// sidKeys are the KEYS of the rotate and revoke scripts, one slot.
func (r *RedisSessions) sidKeys(sid string) []string {
	return []string{r.sessionKey(sid), r.spentKey(sid), revocation.Key(r.prefix, sid)}
}

// indexLua adds a sid to a user's or a client's index, drops entries
// whose sessions (and their access tokens) are long over, and keeps the
// index alive at least as long as its newest session. With a second key,
// a client's deleted mark, it refuses (returns 0) once the client is being
// deleted, so no grant slips past RevokeClient.
// KEYS: index[, deleted mark]. ARGV: sid, session expiry (ms), prune below
// (ms), ttl (ms).
const indexLua = `
if KEYS[2] and redis.call('EXISTS', KEYS[2]) == 1 then
  return 0
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[3])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
local ttl = tonumber(ARGV[4])
if redis.call('PTTL', KEYS[1]) < ttl then
  redis.call('PEXPIRE', KEYS[1], ttl)
end
return 1
`

// Create implements Sessions. The user's and the client's indexes are
// written first: a session that RevokeUser or RevokeClient cannot find
// would survive a password change or its client's deletion, while an
// indexed sid without a session (Create failing half way) is harmless.
// Errors: invalid_client when the session's client is being deleted,
// internal for a malformed session, unavailable when Redis fails.
func (r *RedisSessions) Create(ctx context.Context, s Session, refreshHash string) error {
	now := time.Now()
	switch {
	case !validSID(s.ID):
		return errs.Internalf(fmt.Errorf("malformed sid %q", s.ID), "create session")
	case s.UserID == "" || refreshHash == "":
		return errs.Internalf(errors.New("user and refresh hash are required"), "create session %s", s.ID)
	case !s.ExpiresAt.After(now):
		return errs.Internalf(fmt.Errorf("it expires in the past (%v)", s.ExpiresAt), "create session %s", s.ID)
	}
	roles, err := json.Marshal(s.Roles)
	if err != nil {
		return errs.Internalf(err, "encode roles")
	}
	amr, err := json.Marshal(s.AMR)
	if err != nil {
		return errs.Internalf(err, "encode amr")
	}
	if err := r.indexSID(ctx, []string{r.userKey(s.UserID)}, s.ID, s.ExpiresAt); err != nil {
		return err
	}
	if s.ClientID != "" {
		if err := r.TrackGrant(ctx, s.ClientID, s.ID, s.ExpiresAt); err != nil {
			return err
		}
	}
	fields := []any{
		"user", s.UserID,
		"roles", string(roles),
		"amr", string(amr),
		"created", strconv.FormatInt(s.CreatedAt.UnixNano(), 10),
		"expires", strconv.FormatInt(s.ExpiresAt.UnixNano(), 10),
		"refresh", refreshHash,
	}
	if s.ClientID != "" {
		scope, err := json.Marshal(s.Scope)
		if err != nil {
			return errs.Internalf(err, "encode scope")
		}
		fields = append(fields, "client", s.ClientID, "scope", string(scope))
	}
	key := r.sessionKey(s.ID)
	_, err = r.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, key, fields...)
		p.PExpireAt(ctx, key, s.ExpiresAt)
		return nil
	})
	if err != nil {
		return redisUnavailable("create session", err)
	}
	return nil
}

// rotateLua is the whole refresh decision, atomic. A session of another
// client than the one asking (first-party: "") is left alone.
// KEYS: session, spent set, revocation mark.
// ARGV: presented hash, next hash, revocation channel, sid, mark ttl (ms),
// client.
const rotateLua = `
local cur = redis.call('HGET', KEYS[1], 'refresh')
if not cur then
  return {'invalid'}
end
if (redis.call('HGET', KEYS[1], 'client') or '') ~= ARGV[6] then
  return {'invalid'}
end
if cur == ARGV[1] then
  redis.call('HSET', KEYS[1], 'refresh', ARGV[2])
  redis.call('SADD', KEYS[2], ARGV[1])
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl > 0 then
    redis.call('PEXPIRE', KEYS[2], ttl)
  end
  local s = redis.call('HMGET', KEYS[1], 'user', 'roles', 'amr', 'created', 'expires', 'scope')
  return {'ok', s[1], s[2], s[3], s[4], s[5], ARGV[6], s[6] or 'null'}
end
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 then
  local user = redis.call('HGET', KEYS[1], 'user')
  redis.call('DEL', KEYS[1], KEYS[2])
  redis.call('SET', KEYS[3], '1', 'PX', ARGV[5])
  redis.call('PUBLISH', ARGV[3], ARGV[4])
  return {'reused', user}
end
return {'invalid'}
`

// Rotate implements Sessions in one script, so that of any number of
// concurrent refreshes with one token exactly one wins. The others present
// a spent hash and so revoke the session: the winner's new refresh token
// then fails too (invalid_refresh_token, the session is gone) and its
// access token is refused as revoked. That is deliberate: a replayed
// refresh token cannot be told apart from a stolen one.
// Errors: invalid_refresh_token, refresh_token_reused, unavailable.
func (r *RedisSessions) Rotate(ctx context.Context, sid, old, next string) (Session, error) {
	return r.RotateClient(ctx, sid, "", old, next)
}

// RotateClient implements Sessions: Rotate for the session's OAuth client.
// Errors: as Rotate's.
func (r *RedisSessions) RotateClient(ctx context.Context, sid, clientID, old, next string) (Session, error) {
	if !validSID(sid) || old == "" || next == "" {
		return Session{}, ErrInvalidRefreshToken
	}
	res, err := r.rotate.Run(ctx, r.c, r.sidKeys(sid),
		old, next, revocation.Channel(r.prefix), sid, r.markTTL.Milliseconds(), clientID).StringSlice()
	if err != nil {
		return Session{}, redisUnavailable("rotate refresh token", err)
	}
	switch {
	case len(res) == 8 && res[0] == "ok":
		s, err := decodeSession(sid, res[1:])
		if err != nil {
			return Session{}, errs.Internalf(err, "decode session %s", sid)
		}
		return s, nil
	case len(res) > 0 && res[0] == "reused":
		// The index entry would also go when it expires; removing it now
		// is tidiness, so its failure does not hide the reuse.
		if len(res) == 2 {
			_ = r.c.ZRem(ctx, r.userKey(res[1]), sid).Err()
		}
		return Session{}, ErrRefreshTokenReused
	default:
		return Session{}, ErrInvalidRefreshToken
	}
}

// decodeSession reads user, roles, amr, created, expires, client and
// scope (JSON, "null" when none).
func decodeSession(sid string, f []string) (Session, error) {
	s := Session{ID: sid, UserID: f[0], ClientID: f[5]}
	if err := json.Unmarshal([]byte(f[6]), &s.Scope); err != nil {
		return Session{}, fmt.Errorf("scope: %w", err)
	}
	if err := json.Unmarshal([]byte(f[1]), &s.Roles); err != nil {
		return Session{}, fmt.Errorf("roles: %w", err)
	}
	if err := json.Unmarshal([]byte(f[2]), &s.AMR); err != nil {
		return Session{}, fmt.Errorf("amr: %w", err)
	}
	created, err := strconv.ParseInt(f[3], 10, 64)
	if err != nil {
		return Session{}, fmt.Errorf("created: %w", err)
	}
	expires, err := strconv.ParseInt(f[4], 10, 64)
	if err != nil {
		return Session{}, fmt.Errorf("expires: %w", err)
	}
	s.CreatedAt, s.ExpiresAt = time.Unix(0, created).UTC(), time.Unix(0, expires).UTC()
	return s, nil
}

// Get implements Sessions. Errors: invalid_refresh_token, unavailable.
func (r *RedisSessions) Get(ctx context.Context, sid string) (Session, string, error) {
	if !validSID(sid) {
		return Session{}, "", ErrInvalidRefreshToken
	}
	v, err := r.c.HMGet(ctx, r.sessionKey(sid), sessionFields...).Result()
	if err != nil {
		return Session{}, "", redisUnavailable("read session", err)
	}
	s, refresh, ok, err := sessionOf(sid, v)
	if err == nil && !ok {
		err = ErrInvalidRefreshToken
	}
	return s, refresh, err
}

// sessionFields are the fields of a session hash that Get and OfUser
// read, in the order sessionOf takes them.
var sessionFields = []string{"user", "roles", "amr", "created", "expires", "client", "scope", "refresh"}

// sessionOf decodes the values of sessionFields read for sid: the session
// and its current refresh hash, or ok false when the session is gone.
// Errors: internal for a session that does not decode.
func sessionOf(sid string, v []any) (s Session, refresh string, ok bool, err error) {
	f := make([]string, len(sessionFields))
	for i := range min(len(v), len(f)) {
		f[i], _ = v[i].(string)
	}
	if f[0] == "" || f[7] == "" {
		return Session{}, "", false, nil
	}
	if f[6] == "" {
		f[6] = "null"
	}
	if s, err = decodeSession(sid, f[:7]); err != nil {
		return Session{}, "", false, errs.Internalf(err, "decode session %s", sid)
	}
	return s, f[7], true, nil
}

// Revoked implements Sessions. Errors: unavailable.
func (r *RedisSessions) Revoked(ctx context.Context, sid string) (bool, error) {
	if !validSID(sid) {
		return false, nil
	}
	n, err := r.c.Exists(ctx, revocation.Key(r.prefix, sid)).Result()
	if err != nil {
		return false, redisUnavailable("check revocation", err)
	}
	return n > 0, nil
}

// revokeLua ends a session and marks its sid revoked for every service.
// KEYS: session, spent set, revocation mark. ARGV: channel, sid, mark ttl (ms).
const revokeLua = `
local user = redis.call('HGET', KEYS[1], 'user')
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('SET', KEYS[3], '1', 'PX', ARGV[3])
redis.call('PUBLISH', ARGV[1], ARGV[2])
return user
`

// Revoke implements Sessions. The sid is marked revoked even when the
// session is already gone (expired), since its access tokens may still be
// live. Errors: unavailable.
func (r *RedisSessions) Revoke(ctx context.Context, sid string) error {
	if !validSID(sid) {
		return nil // Create refuses such sids: no session, no token carries it
	}
	user, err := r.revokeOne(ctx, sid)
	if err != nil {
		return err
	}
	if user != "" {
		if err := r.c.ZRem(ctx, r.userKey(user), sid).Err(); err != nil {
			return redisUnavailable("unindex session", err)
		}
	}
	return nil
}

// revokeOne runs the revoke script and returns the session's user, or ""
// when the session was already gone.
func (r *RedisSessions) revokeOne(ctx context.Context, sid string) (string, error) {
	user, err := r.revoke.Run(ctx, r.c, r.sidKeys(sid),
		revocation.Channel(r.prefix), sid, r.markTTL.Milliseconds()).Text()
	if err != nil && !errors.Is(err, redis.Nil) {
		return "", redisUnavailable("revoke session", err)
	}
	return user, nil
}

// RevokeUser implements Sessions: it revokes every indexed session of the
// user but those in except, then removes exactly the revoked sids from the
// index (not the whole index, which may have gained a session meanwhile).
// Errors: unavailable.
func (r *RedisSessions) RevokeUser(ctx context.Context, userID string, except ...string) error {
	return r.revokeIndexed(ctx, r.userKey(userID), except...)
}

// revokeIndexed revokes every sid of the index key but those in except,
// then removes exactly those it revoked from it. Errors: unavailable.
func (r *RedisSessions) revokeIndexed(ctx context.Context, key string, except ...string) error {
	sids, err := r.c.ZRange(ctx, key, 0, -1).Result()
	if err != nil {
		return redisUnavailable("list sessions", err)
	}
	sids = slices.DeleteFunc(sids, func(sid string) bool { return slices.Contains(except, sid) })
	if len(sids) == 0 {
		return nil
	}
	members := make([]any, 0, len(sids))
	for _, sid := range sids {
		if validSID(sid) {
			if _, err := r.revokeOne(ctx, sid); err != nil {
				return err
			}
		}
		members = append(members, sid)
	}
	if err := r.c.ZRem(ctx, key, members...).Err(); err != nil {
		return redisUnavailable("unindex sessions", err)
	}
	return nil
}

// OfUser implements Sessions: the sessions the user's index names that
// still exist, read in one pipeline. Errors: unavailable.
func (r *RedisSessions) OfUser(ctx context.Context, userID string) ([]Session, error) {
	sids, err := r.c.ZRange(ctx, r.userKey(userID), 0, -1).Result()
	if err != nil {
		return nil, redisUnavailable("list sessions", err)
	}
	sids = slices.DeleteFunc(sids, func(sid string) bool { return !validSID(sid) })
	reads := make([]*redis.SliceCmd, len(sids))
	_, err = r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, sid := range sids {
			reads[i] = p.HMGet(ctx, r.sessionKey(sid), sessionFields...)
		}
		return nil
	})
	if err != nil {
		return nil, redisUnavailable("read sessions", err)
	}
	out := make([]Session, 0, len(sids))
	for i, sid := range sids {
		s, _, ok, err := sessionOf(sid, reads[i].Val())
		if err != nil {
			return nil, err
		}
		if ok && s.UserID == userID {
			out = append(out, s)
		}
	}
	return out, nil
}

// indexSID adds sid, whose grant ends at expires, to the index keys[0];
// keys[1], when given, is a client's deleted mark that refuses it.
// Errors: invalid_client when refused, unavailable.
func (r *RedisSessions) indexSID(ctx context.Context, keys []string, sid string, expires time.Time) error {
	now := time.Now()
	ttl := expires.Sub(now) + r.markTTL
	ok, err := r.index.Run(ctx, r.c, keys, sid, expires.UnixMilli(), now.Add(-r.markTTL).UnixMilli(), ttl.Milliseconds()).Int()
	switch {
	case err != nil:
		return redisUnavailable("index session", err)
	case ok == 0:
		return ErrInvalidClient.WithMessage("the client is being deleted")
	}
	return nil
}

// TrackGrant implements Sessions. Errors: invalid_client when the client
// is being deleted, unavailable.
func (r *RedisSessions) TrackGrant(ctx context.Context, clientID, sid string, expires time.Time) error {
	if !validSID(sid) || !validSID(clientID) {
		return errs.Internalf(fmt.Errorf("malformed sid %q or client %q", sid, clientID), "track grant")
	}
	return r.indexSID(ctx, []string{r.clientKey(clientID), r.clientGoneKey(clientID)}, sid, expires)
}

// RevokeClient implements Sessions. It first marks the client deleted
// (for as long as an access token lives), which TrackGrant and Create
// check atomically with their index write: a grant indexed before the mark
// is revoked below, one after it is refused. Errors: unavailable.
func (r *RedisSessions) RevokeClient(ctx context.Context, clientID string) error {
	if !validSID(clientID) {
		return nil // TrackGrant refuses such ids: nothing was indexed
	}
	if err := r.c.Set(ctx, r.clientGoneKey(clientID), "1", r.markTTL).Err(); err != nil {
		return redisUnavailable("mark client deleted", err)
	}
	return r.revokeIndexed(ctx, r.clientKey(clientID))
}

// validSID accepts the session ids auth issues (UUIDs) and refuses what
// could not be one; in particular braces, which would change the keys'
// cluster hash tag, since the sid of a refresh token comes from the client.
func validSID(sid string) bool {
	if sid == "" || len(sid) > maxSIDLen {
		return false
	}
	for i := 0; i < len(sid); i++ {
		switch c := sid[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}

// redisUnavailable translates a Redis failure into a 503.
func redisUnavailable(what string, err error) error {
	return errs.E(errs.Unavailable, "a data store is unavailable; try again shortly", fmt.Errorf("redis: %s: %w", what, err))
}
