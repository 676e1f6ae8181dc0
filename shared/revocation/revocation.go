// Package revocation lets every service refuse the access tokens of a login
// session that has ended (logout, password change, refresh-token reuse)
// within a second, although access tokens are stateless JWTs.
//
// The auth service marks a revoked session id (the tokens' sid claim) with
// a Redis key that lives as long as the session's access tokens can, and
// publishes the sid on a channel. Each service plugs a Checker into its JWT
// verifier (kit.VerifierConfig.Revocations): the Checker learns revocations
// from the channel at once and, for what it has not heard, asks Redis
// whether the key exists, caching a "not revoked" answer only briefly so a
// lost message delays a revocation by at most that long.
//
// Key and Channel are the one definition of the names both sides use, so
// the writer (auth) and the readers agree by construction.
package revocation

import "time"

// DefaultPrefix is the key prefix auth writes revocations under in
// production; every Checker must be given the same prefix as the auth
// service's session store.
const DefaultPrefix = "azora:auth:"

// Leeway is how much longer than an access token's lifetime a revocation
// is remembered: verifiers accept a token up to their clock-skew leeway
// (kit.DefaultLeeway, 30 s) after its exp, so the mark must outlive that.
const Leeway = time.Minute

// Key returns the Redis key that marks sid revoked. The sid is a hash tag
// ({sid}) so that, in Redis Cluster, the mark lives in the same slot as the
// session's own keys and one Lua script can delete a session and mark it
// revoked atomically.
func Key(prefix, sid string) string { return prefix + "revoked:{" + sid + "}" }

// Channel returns the pub/sub channel revoked sids are published on; a
// message's payload is the sid alone.
func Channel(prefix string) string { return prefix + "revoked" }

// MarkTTL returns how long a revocation mark must live when access tokens
// live accessTTL: until the last token of the session has expired, leeway
// included.
func MarkTTL(accessTTL time.Duration) time.Duration { return accessTTL + Leeway }
