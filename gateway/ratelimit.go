package gateway

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/go-redis/redis_rate/v10"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/azora-os/azora/shared/errs"
)

// The limiter's tuning.
const (
	// rateRedisTimeout bounds one Redis call; past it the call counts as
	// failed. go-redis's own timeouts are a second or more, far too long to
	// hold a request for a rate limit.
	rateRedisTimeout = 150 * time.Millisecond
	// rateDownAfter is how many Redis calls must fail in a row before the
	// limiter takes Redis for down.
	rateDownAfter = 2
	// rateProbeEvery is how often a Redis that failed is tried again.
	rateProbeEvery = time.Second
	// A lease's tokens are void after the time the bucket takes to emit
	// them, within these bounds.
	rateMinLease = 5 * time.Millisecond
	rateMaxLease = time.Second
	// rateBatchDivisor caps a lease at 1/50 (2 %) of the burst.
	rateBatchDivisor = 50
	// rateShards spreads the keys over this many locks.
	rateShards = 64
	// An entry unused for rateIdle whose state is that of a new entry is
	// dropped by a sweep every rateSweepEvery.
	rateIdle       = 10 * time.Second
	rateSweepEvery = 5 * time.Second
)

// ErrRateLimited is the 429 a refused request gets; Decision.Err carries
// the wait as a RetryAfter method, which httpx turns into Retry-After.
var ErrRateLimited = errs.New(errs.RateLimited, "rate_limited", "too many requests; retry after the number of seconds in Retry-After")

// Decision is the limiter's answer for one request.
type Decision struct {
	Allowed    bool
	Limit      int           // the burst: what Remaining refills to; 0 when no limit applies
	Remaining  int           // requests that may still be sent at once (an estimate across replicas)
	Reset      time.Duration // until Remaining is back at Limit
	RetryAfter time.Duration // until one request may pass, when !Allowed
	Local      bool          // decided by this replica alone because Redis was unavailable
}

// WriteHeaders sets RateLimit-Limit, RateLimit-Remaining and
// RateLimit-Reset (whole seconds, rounded up), and Retry-After (whole
// seconds, rounded up, at least 1) when the request is refused. A decision
// with no limit writes nothing.
func (d Decision) WriteHeaders(h http.Header) {
	if d.Limit <= 0 {
		return
	}
	// What h.Set would do, in one allocation for the values and with the
	// keys already canonical (http.CanonicalHeaderKey("RateLimit-Limit") is
	// "Ratelimit-Limit"): this runs on every rate-limited request. Each
	// header gets its own one-value slice, its capacity capped, so an Add
	// appends to a copy.
	v := new([4]string)
	v[0] = strconv.Itoa(d.Limit)
	v[1] = strconv.Itoa(min(max(d.Remaining, 0), d.Limit))
	v[2] = strconv.FormatInt(ceilSeconds(d.Reset, 0), 10)
	h["Ratelimit-Limit"] = v[0:1:1]
	h["Ratelimit-Remaining"] = v[1:2:2]
	h["Ratelimit-Reset"] = v[2:3:3]
	if !d.Allowed {
		v[3] = strconv.FormatInt(ceilSeconds(d.RetryAfter, 1), 10)
		h["Retry-After"] = v[3:4:4]
	}
}

// Err returns nil when the request is allowed, else an error matching
// ErrRateLimited whose RetryAfter method gives d.RetryAfter.
func (d Decision) Err() error {
	if d.Allowed {
		return nil
	}
	return rateLimitedError{after: d.RetryAfter}
}

// rateLimitedError is ErrRateLimited with the time the client must wait.
type rateLimitedError struct{ after time.Duration }

func (e rateLimitedError) Error() string             { return ErrRateLimited.Error() }
func (e rateLimitedError) Unwrap() error             { return ErrRateLimited }
func (e rateLimitedError) RetryAfter() time.Duration { return e.after }

// ceilSeconds rounds d up to whole seconds, at least floor.
func ceilSeconds(d time.Duration, floor int64) int64 {
	return max(int64(math.Ceil(d.Seconds())), floor)
}

// Limiter enforces each RateClass's Rate per key with GCRA in Redis
// (go-redis/redis_rate), so every gateway replica draws on one bucket per
// key. Its keys are "rate:" (redis_rate's own prefix) + prefix +
// "rl:{<class>:<key>}", hash-tagged for Redis Cluster.
//
// Leases: a replica does not ask Redis for every request. It takes a few
// tokens at a time from the shared bucket (AllowN) and spends them
// locally, so every admitted request still spent a token of the shared
// bucket and the replicas together never admit more than the Rate. A
// lease is at most 2 % of the burst; it grows while leases are spent
// before they expire and shrinks to what was spent when they are not, and
// its tokens are void after the time the bucket takes to emit them (5 ms
// to 1 s), so a lease cannot carry into a later window. A refusal from
// Redis is remembered until its retry time, so a caller over its limit
// costs no Redis call either. One Redis call per key is in flight per
// replica; other requests for the key wait for its answer.
//
// Redis down: a call that fails or takes longer than rateRedisTimeout is
// decided locally (below); two such calls in a row, and the limiter takes
// Redis for down, so that one slow answer under load does not switch the
// whole replica to local limits. While Redis is down the limiter fails soft. Each replica then enforces the same Rate alone, with a GCRA
// bucket per key in its own memory, so N replicas admit up to N times the
// limit while Redis is away: availability over strictness (auth's own
// brute-force limits still apply behind the gateway). The outage is logged
// once when it starts and once when it ends, local decisions are counted
// (azora_gateway_ratelimit_local_decisions_total), and Redis is tried
// again at most once a second until it answers.
type Limiter struct {
	rl      *redis_rate.Limiter
	prefix  string
	logger  log.Logger
	timeout time.Duration
	now     func() time.Time

	shards [rateShards]rateShard

	down      atomic.Bool
	streak    atomic.Int32 // Redis calls failed in a row
	downSince atomic.Int64 // unix nanoseconds
	nextProbe atomic.Int64 // unix nanoseconds

	calls, failures, local, expired prometheus.Counter

	wg   sync.WaitGroup // the sweeper and Redis calls
	stop chan struct{}
	once sync.Once
}

// NewLimiter returns a Limiter over rdb whose keys start with prefix (the
// platform's REDIS_KEY_PREFIX + "gateway:"). It registers its metrics with
// reg unless reg is nil, and panics if reg already holds them (one Limiter
// per registry). Close stops its sweeper.
func NewLimiter(rdb redis.UniversalClient, prefix string, logger log.Logger, reg prometheus.Registerer) *Limiter {
	l := &Limiter{
		rl:      redis_rate.NewLimiter(rdb),
		prefix:  prefix,
		logger:  logger,
		timeout: rateRedisTimeout,
		now:     time.Now,
		stop:    make(chan struct{}),
		calls: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "azora_gateway_ratelimit_redis_calls_total",
			Help: "Token leases asked of Redis.",
		}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "azora_gateway_ratelimit_redis_failures_total",
			Help: "Redis calls of the rate limiter that failed or timed out.",
		}),
		local: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "azora_gateway_ratelimit_local_decisions_total",
			Help: "Requests rate-limited by this replica alone because Redis was unavailable.",
		}),
		expired: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "azora_gateway_ratelimit_expired_tokens_total",
			Help: "Tokens leased from Redis that expired unspent.",
		}),
	}
	for i := range l.shards {
		l.shards[i].m = make(map[rateKey]*rateEntry)
	}
	if reg != nil {
		reg.MustRegister(l.calls, l.failures, l.local, l.expired, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "azora_gateway_ratelimit_keys",
			Help: "Rate-limit keys this replica holds state for.",
		}, func() float64 { return float64(l.keys()) }))
	}
	l.wg.Add(1)
	go l.sweepLoop()
	return l
}

// Close stops the sweeper and waits for Redis calls still running (a call
// abandoned after its timeout ends within go-redis's own timeouts). Allow
// must not be called after Close.
func (l *Limiter) Close() {
	l.once.Do(func() { close(l.stop) })
	l.wg.Wait()
}

// Allow takes one request of key under rate, in class's bucket. A rate
// with no Limit or Period limits nothing (Decision.Limit is 0); a zero
// Burst means Burst = Limit. It never fails: when Redis does not answer
// the replica decides alone (Decision.Local). A request whose ctx ends
// while it waits for another request's Redis call is decided locally too.
func (l *Limiter) Allow(ctx context.Context, class RateClass, rate Rate, key string) Decision {
	lim, ok := redisLimit(rate)
	if !ok {
		return Decision{Allowed: true}
	}
	e := l.lockedEntry(class, key, lim.Burst)
	for {
		now := l.now()
		e.lastUsed = now
		if d, ok := l.spend(e, now, lim); ok {
			e.mu.Unlock()
			return d
		}
		if now.Before(e.deniedUntil) {
			d := e.refused(now, lim)
			e.mu.Unlock()
			return d
		}
		if l.down.Load() && (e.inflight != nil || !l.claimProbe(now)) {
			d := l.decideLocally(e, now, lim)
			e.mu.Unlock()
			return d
		}
		if ch := e.inflight; ch != nil {
			e.mu.Unlock()
			select {
			case <-ch:
				e.mu.Lock()
				continue
			case <-ctx.Done():
				e.mu.Lock()
				d := l.decideLocally(e, l.now(), lim)
				e.mu.Unlock()
				return d
			}
		}
		n := e.nextLease(now, lim)
		ch := make(chan struct{})
		e.inflight = ch
		e.mu.Unlock()
		res, err := l.lease(ctx, class, key, lim, n)
		end := l.now()
		e.mu.Lock()
		e.inflight = nil
		close(ch)
		if err != nil {
			l.failed(end, err)
			d := l.decideLocally(e, end, lim)
			e.mu.Unlock()
			return d
		}
		l.answered(end)
		e.apply(now, end, n, res, lim)
	}
}

// Refused reports, without a Redis call, whether a request of key in class
// would be refused now by what this replica last learned: its lease spent
// and Redis's last answer saying no token is due yet, or its own bucket
// spent while it decides alone. It is for checks that must cost
// next to nothing for every caller who is not refused; a key this replica
// never asked about is not refused. It does not take a request.
func (l *Limiter) Refused(class RateClass, rate Rate, key string) (Decision, bool) {
	lim, ok := redisLimit(rate)
	if !ok {
		return Decision{}, false
	}
	s := &l.shards[shardOf(class, key)]
	s.mu.RLock()
	e := s.m[rateKey{class, key}]
	s.mu.RUnlock()
	if e == nil {
		return Decision{}, false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	now := l.now()
	if e.tokens > 0 && now.Before(e.expires) {
		return Decision{}, false // a lease still holds tokens
	}
	if now.Before(e.deniedUntil) {
		return e.refused(now, lim), true
	}
	ei := emission(lim)
	if allowAt := e.localTAT.Add(ei - time.Duration(lim.Burst)*ei); now.Before(allowAt) {
		return Decision{Limit: lim.Burst, Reset: e.localTAT.Sub(now), RetryAfter: allowAt.Sub(now), Local: true}, true
	}
	return Decision{}, false
}

// spend takes a token of e's lease when one is still valid. It sizes the
// next lease by demand: larger when a request finds the lease spent before
// it expired, the number spent when it expired with tokens left (which
// are dropped). e is locked.
func (l *Limiter) spend(e *rateEntry, now time.Time, lim redis_rate.Limit) (Decision, bool) {
	if e.tokens == 0 {
		if now.Before(e.expires) { // the lease ran out early: the next may be larger
			e.batch = min(2*e.batch, maxBatch(lim.Burst))
			e.expires = time.Time{} // once per lease
		}
		return Decision{}, false
	}
	if !now.Before(e.expires) {
		l.expired.Add(float64(e.tokens))
		e.batch = max(1, e.leased-e.tokens)
		e.tokens = 0
		return Decision{}, false
	}
	e.tokens--
	return Decision{
		Allowed:   true,
		Limit:     lim.Burst,
		Remaining: min(e.remote+e.tokens, lim.Burst),
		Reset:     max(e.resetAt.Sub(now), 0),
	}, true
}

// lease asks Redis for up to n tokens of key. The call runs in its own
// goroutine so that it can be abandoned after l.timeout: go-redis ignores
// context deadlines for socket I/O unless the client enables them.
func (l *Limiter) lease(ctx context.Context, class RateClass, key string, lim redis_rate.Limit, n int) (*redis_rate.Result, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.timeout)
	defer cancel()
	type answer struct {
		res *redis_rate.Result
		err error
	}
	done := make(chan answer, 1)
	rkey := l.prefix + "rl:{" + string(class) + ":" + key + "}"
	l.calls.Inc()
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		res, err := l.rl.AllowN(ctx, rkey, lim, n)
		done <- answer{res, err}
	}()
	select {
	case a := <-done:
		if a.err != nil {
			return nil, fmt.Errorf("lease %d tokens of %s: %w", n, rkey, a.err)
		}
		return a.res, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("lease %d tokens of %s: no answer within %s", n, rkey, l.timeout)
	}
}

// claimProbe reports whether the caller may try Redis again while it is
// down: once per rateProbeEvery across all keys.
func (l *Limiter) claimProbe(now time.Time) bool {
	next := l.nextProbe.Load()
	return now.UnixNano() >= next && l.nextProbe.CompareAndSwap(next, now.Add(rateProbeEvery).UnixNano())
}

// failed records a failed Redis call, logging the start of an outage once.
func (l *Limiter) failed(now time.Time, err error) {
	l.failures.Inc()
	if l.streak.Add(1) < rateDownAfter && !l.down.Load() {
		return // one failure alone may be a slow moment: this request was decided locally
	}
	l.nextProbe.Store(now.Add(rateProbeEvery).UnixNano())
	if l.down.CompareAndSwap(false, true) {
		l.downSince.Store(now.UnixNano())
		level.Warn(l.logger).Log("msg", "rate limiter: Redis unavailable; each replica limits alone until it answers", "err", err)
	}
}

// answered records a Redis answer, logging the end of an outage once.
func (l *Limiter) answered(now time.Time) {
	l.streak.Store(0)
	if l.down.Load() && l.down.CompareAndSwap(true, false) {
		level.Info(l.logger).Log("msg", "rate limiter: Redis answers again; limits are shared again",
			"outage", now.Sub(time.Unix(0, l.downSince.Load())).String())
	}
}

// decideLocally applies e's in-memory bucket. e is locked.
func (l *Limiter) decideLocally(e *rateEntry, now time.Time, lim redis_rate.Limit) Decision {
	l.local.Inc()
	return e.decideLocally(now, lim)
}

// redisLimit converts rate to redis_rate's form; ok is false when rate
// sets no limit.
func redisLimit(rate Rate) (lim redis_rate.Limit, ok bool) {
	if rate.Limit <= 0 || rate.Period <= 0 {
		return redis_rate.Limit{}, false
	}
	burst := rate.Burst
	if burst <= 0 {
		burst = rate.Limit
	}
	return redis_rate.Limit{Rate: rate.Limit, Burst: burst, Period: rate.Period}, true
}

// maxBatch is the largest lease for a burst.
func maxBatch(burst int) int { return max(1, burst/rateBatchDivisor) }

// emission is the time the bucket takes to emit one token.
func emission(lim redis_rate.Limit) time.Duration {
	return max(lim.Period/time.Duration(lim.Rate), 1)
}

// rateKey names one bucket of the replica's state.
type rateKey struct {
	class RateClass
	key   string
}

// rateShard is one lock's share of the keys.
type rateShard struct {
	mu sync.RWMutex
	m  map[rateKey]*rateEntry
}

// rateEntry is one key's state on this replica.
type rateEntry struct {
	mu          sync.Mutex
	tokens      int           // leased from Redis, not spent yet
	leased      int           // size of the current lease
	expires     time.Time     // the lease's tokens are void from then on
	batch       int           // the next lease's size before caps
	remote      int           // what Redis had left after our last lease
	leaseAt     time.Time     // when remote was true
	resetAt     time.Time     // when Redis's bucket is full again, as of our last lease
	deniedUntil time.Time     // Redis has no token for anyone before then
	inflight    chan struct{} // closed when the Redis call in flight returns
	localTAT    time.Time     // the fallback bucket's theoretical arrival time
	lastUsed    time.Time
	evicted     bool // removed from its shard: look the key up again
}

// lockedEntry returns key's entry in class, locked, creating it if need be.
func (l *Limiter) lockedEntry(class RateClass, key string, burst int) *rateEntry {
	k := rateKey{class, key}
	s := &l.shards[shardOf(class, key)]
	for {
		s.mu.RLock()
		e := s.m[k]
		s.mu.RUnlock()
		if e == nil {
			s.mu.Lock()
			if e = s.m[k]; e == nil {
				e = &rateEntry{batch: 1, remote: burst}
				s.m[k] = e
			}
			s.mu.Unlock()
		}
		e.mu.Lock()
		if !e.evicted {
			return e
		}
		e.mu.Unlock()
	}
}

// shardOf hashes class and key (FNV-1a) to a shard without allocating.
func shardOf(class RateClass, key string) int {
	h := uint32(2166136261)
	for i := 0; i < len(class); i++ {
		h = (h ^ uint32(class[i])) * 16777619
	}
	h = (h ^ ':') * 16777619
	for i := 0; i < len(key); i++ {
		h = (h ^ uint32(key[i])) * 16777619
	}
	return int(h % rateShards)
}

// nextLease sizes the next lease: what demand has shown this replica
// needs, at most 2 % of the burst, and no more than the bucket should hold
// now by Redis's last answer plus what it has emitted since. Leases are
// taken all or nothing (AllowN): AllowAtMost bills a partial grant's
// fraction of a token without granting it: two replicas sharing an empty
// bucket lost 4-8 % of the rate that way.
func (e *rateEntry) nextLease(now time.Time, lim redis_rate.Limit) int {
	avail := e.remote
	if !e.leaseAt.IsZero() {
		avail += int(min(now.Sub(e.leaseAt)/emission(lim), time.Duration(lim.Burst)))
	}
	return max(1, min(e.batch, maxBatch(lim.Burst), avail))
}

// apply takes Redis's answer to a lease of n asked at start that returned
// at end.
func (e *rateEntry) apply(start, end time.Time, n int, res *redis_rate.Result, lim redis_rate.Limit) {
	ei := emission(lim)
	e.tokens, e.leased = res.Allowed, res.Allowed
	e.remote, e.leaseAt = res.Remaining, start
	e.resetAt = start.Add(max(res.ResetAfter, 0))
	if res.Allowed == 0 {
		// n tokens are due at deniedUntil: size the next lease for them.
		e.deniedUntil = start.Add(max(res.RetryAfter, 0))
		e.remote, e.leaseAt = 0, e.deniedUntil.Add(-time.Duration(n)*ei)
		e.expires = time.Time{}
		return
	}
	e.expires = end.Add(min(max(time.Duration(res.Allowed)*ei, rateMinLease), rateMaxLease))
	if res.Remaining == 0 {
		// Less than one token is left: the next one is due when the
		// bucket, full at resetAt, is Burst-1 tokens short of full.
		e.deniedUntil = e.resetAt.Add(-time.Duration(lim.Burst-1) * ei)
	}
}

// refused is the answer while Redis's last refusal holds.
func (e *rateEntry) refused(now time.Time, lim redis_rate.Limit) Decision {
	retry := e.deniedUntil.Sub(now)
	return Decision{Limit: lim.Burst, Reset: max(e.resetAt.Sub(now), retry), RetryAfter: retry}
}

// decideLocally runs GCRA on the replica's own bucket for the key, as
// redis_rate does in Redis.
func (e *rateEntry) decideLocally(now time.Time, lim redis_rate.Limit) Decision {
	ei := emission(lim)
	tat := e.localTAT
	if tat.Before(now) {
		tat = now
	}
	newTAT := tat.Add(ei)
	allowAt := newTAT.Add(-time.Duration(lim.Burst) * ei)
	if now.Before(allowAt) {
		retry := allowAt.Sub(now)
		return Decision{Limit: lim.Burst, Reset: tat.Sub(now), RetryAfter: retry, Local: true}
	}
	e.localTAT = newTAT
	return Decision{
		Allowed:   true,
		Limit:     lim.Burst,
		Remaining: int(now.Sub(allowAt) / ei),
		Reset:     newTAT.Sub(now),
		Local:     true,
	}
}

// idle reports whether e may be dropped: unused for rateIdle, no call in
// flight, no valid lease, and its fallback bucket full. A refusal from
// Redis does not keep it: Redis remembers that itself.
func (e *rateEntry) idle(now time.Time) bool {
	return e.inflight == nil && now.Sub(e.lastUsed) >= rateIdle &&
		(e.tokens == 0 || !now.Before(e.expires)) && !now.Before(e.localTAT)
}

// sweepLoop drops idle entries every rateSweepEvery until Close.
func (l *Limiter) sweepLoop() {
	defer l.wg.Done()
	t := time.NewTicker(rateSweepEvery)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			l.sweep(l.now())
		}
	}
}

// sweep drops the entries idle at now and returns how many it dropped.
func (l *Limiter) sweep(now time.Time) int {
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		for k, e := range s.m {
			e.mu.Lock()
			if e.idle(now) {
				e.evicted = true
				delete(s.m, k)
				n++
			}
			e.mu.Unlock()
		}
		s.mu.Unlock()
	}
	return n
}

// keys counts the entries held.
func (l *Limiter) keys() int {
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}
