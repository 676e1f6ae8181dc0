package events

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"weak"

	"github.com/jmoiron/sqlx"
)

// notifyAfterCommit is the NOTIFY Enqueue sends after a commit, as a
// transaction of its own. A transaction that notifies holds a lock of the
// whole server from just before its commit until after it, so notifying
// transactions commit one at a time; inside a producer's transaction that
// lock would cover its WAL flush, and the server's notifying commits could
// not share flushes (under load, every request of every service would
// queue for it). This one commits without waiting for the flush
// (synchronous_commit off for its own transaction only): it writes
// nothing that must survive a crash, the rows it announces are durable
// already, and the relay's fallback poll finds anything a lost NOTIFY
// would have announced.
const notifyAfterCommit = `
SELECT pg_notify('` + NotifyChannel + `', '')
FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit`

// notifyTimeout bounds one NOTIFY; a failed one is left to the relay's poll.
const notifyTimeout = 5 * time.Second

// notifyInterval is the least time between two NOTIFYs of a pool. The
// first commit after a quiet spell is announced at once; under load, the
// commits of each interval share one NOTIFY (and one pass of the relay),
// so an event waits at most this much longer to be published.
const notifyInterval = 10 * time.Millisecond

// notifier sends notifyAfterCommit on one pool, one at a time and at most
// one per notifyInterval: the commits that land meanwhile are announced
// together by the next. A NOTIFY after a commit wakes the relay to read
// every row committed so far, so one per burst of commits is as good as
// one each.
type notifier struct {
	pending atomic.Bool // a commit awaits a NOTIFY sent after it
	sending atomic.Bool // a goroutine is sending
}

// notifiers holds a notifier per pool, keyed weakly so that a pool nobody
// holds any more is collected and its entry dropped.
var notifiers sync.Map // weak.Pointer[sqlx.DB] → *notifier

// notifierOf returns db's notifier, made on first use.
func notifierOf(db *sqlx.DB) *notifier {
	k := weak.Make(db)
	if v, ok := notifiers.Load(k); ok {
		return v.(*notifier)
	}
	v, loaded := notifiers.LoadOrStore(k, &notifier{})
	if !loaded {
		runtime.AddCleanup(db, func(k weak.Pointer[sqlx.DB]) { notifiers.Delete(k) }, k)
	}
	return v.(*notifier)
}

// poke asks for a NOTIFY on db after a commit that has just happened. It
// never waits: a goroutine sends it, unless one is sending already and
// will send another for this commit.
func (n *notifier) poke(db *sqlx.DB) {
	n.pending.Store(true)
	if n.sending.CompareAndSwap(false, true) {
		go n.send(db)
	}
}

// send sends NOTIFYs while commits ask for them, then returns.
func (n *notifier) send(db *sqlx.DB) {
	for {
		for n.pending.Swap(false) {
			ctx, cancel := context.WithTimeout(context.Background(), notifyTimeout)
			_, _ = db.ExecContext(ctx, notifyAfterCommit) // the relay polls for what a failure leaves
			cancel()
			time.Sleep(notifyInterval) // still sending: the commits meanwhile wait for the next
		}
		n.sending.Store(false)
		// A poke between the last Swap and the Store found sending set and
		// left its NOTIFY to this goroutine: send it, unless a new
		// goroutine took over.
		if !n.pending.Load() || !n.sending.CompareAndSwap(false, true) {
			return
		}
	}
}
