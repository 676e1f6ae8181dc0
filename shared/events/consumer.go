package events

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/jmoiron/sqlx"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/azora-os/azora/shared/errs"
)

// Consumer applies the events of Topics exactly once per consumer group:
// each event's effect commits in one database transaction with its inbox
// row, and the Kafka offset is committed only after that transaction, so
// a redelivery finds the inbox row and changes nothing.
//
// Each assigned partition has a worker that applies its events in offset
// order; partitions proceed concurrently. A worker with a backlog applies
// up to 32 events in one transaction (one commit, one fsync); a handler
// may therefore run again after a rollback caused by another event, which
// is harmless as long as it touches nothing outside the transaction (see
// Handler). A failing event is retried alone with backoff, each try a
// fresh transaction; after MaxAttempts it is parked in dead_letters and
// its partition moves on. A message that is not a CloudEvent is parked at
// once.
//
// With Metrics set, Run registers azora_events_consumer_processed_total
// {type, outcome} (applied, duplicate, dead_lettered, skipped),
// azora_events_consumer_handler_seconds{type} and
// azora_events_consumer_lag{topic, partition}, each labelled with the
// group as "consumer". The zero values of the optional fields take the
// defaults noted beside them.
type Consumer struct {
	Group       string                // consumer group; also the inbox "consumer" column
	Brokers     string                // comma-separated bootstrap list
	Security    KafkaSecurity         // TLS and SASL, for brokers that ask for them
	Topics      []string              // topics to subscribe to
	DB          *sqlx.DB              // holds the inbox, dead_letters and the effects
	Handlers    map[string]Handler    // by event type; an event without one is skipped
	Logger      log.Logger            // default: discard
	MaxAttempts int                   // handler tries before an event is parked; default 5
	Backoff     time.Duration         // first retry delay, doubling up to 5s; default 100ms
	Metrics     prometheus.Registerer // nil: no metrics

	// testAfterCommit, when set, is called after each applied event's
	// transaction commits and before its offset is recorded. Returning
	// true makes the consumer stop as if the process died right there: no
	// further offset of any partition is committed.
	testAfterCommit func(Event, *kafka.Message) (crash bool)
}

const (
	defaultMaxAttempts = 5
	defaultBackoff     = 100 * time.Millisecond
	maxBackoff         = 5 * time.Second
	pollTimeout        = 50 // ms; bounds how late ctx cancellation is noticed
	// commitEvery batches offset commits: one round trip per interval
	// instead of per event. A crash redelivers at most this much work,
	// which the inbox then skips.
	commitEvery = 100 * time.Millisecond
	// A partition whose worker falls this far behind is paused so one slow
	// partition cannot fill memory; it resumes once drained to lowWater.
	highWater = 1000
	lowWater  = 100
)

// errCrashed is what Run returns after testAfterCommit asked to crash.
var errCrashed = errors.New("consumer: simulated crash")

// Run subscribes and applies events until ctx is done, then abandons the
// in-flight events (their transactions roll back and their offsets stay
// uncommitted, so they are redelivered), commits the offsets of everything
// applied, and leaves the group. It returns nil after a clean stop, an
// invalid_argument error for a misconfigured Consumer, or an unavailable
// error when the Kafka client cannot be created or fails fatally.
func (c *Consumer) Run(ctx context.Context) error {
	if err := c.check(); err != nil {
		return err
	}
	m, err := newConsumerMetrics(c.Metrics, c.Group)
	if err != nil {
		return errs.Internalf(err, "register consumer metrics")
	}
	cfg := ConsumerConfig(c.Brokers, c.Group)
	c.Security.apply(cfg)
	kc, err := kafka.NewConsumer(cfg)
	if err != nil {
		return errs.E(errs.Unavailable, "kafka consumer", err)
	}
	logsDone := make(chan struct{})
	go func() {
		PipeLogs(log.With(c.logger(), "group", c.Group), kc.Logs())
		close(logsDone)
	}()
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	r := &run{c: c, kc: kc, ctx: runCtx, cancel: cancel, log: log.With(c.logger(), "group", c.Group),
		workers: map[partitionKey]*worker{}, m: m}
	if err = kc.SubscribeTopics(c.Topics, r.rebalance); err != nil {
		err = errs.E(errs.Unavailable, "subscribe", err)
	} else {
		err = r.loop()
	}
	r.stopAll()
	if cerr := kc.Close(); cerr != nil && err == nil {
		err = errs.E(errs.Unavailable, "close kafka consumer", cerr)
	}
	<-logsDone
	if r.crashed.Load() {
		return errCrashed
	}
	return err
}

func (c *Consumer) check() error {
	var missing []errs.FieldError
	if c.Group == "" {
		missing = append(missing, errs.FieldError{Field: "Group", Message: "required"})
	}
	if c.Brokers == "" {
		missing = append(missing, errs.FieldError{Field: "Brokers", Message: "required"})
	}
	if len(c.Topics) == 0 {
		missing = append(missing, errs.FieldError{Field: "Topics", Message: "required"})
	}
	if c.DB == nil {
		missing = append(missing, errs.FieldError{Field: "DB", Message: "required"})
	}
	if len(missing) > 0 {
		return errs.Validation(missing...).WithMessage("events consumer is misconfigured")
	}
	return nil
}

func (c *Consumer) logger() log.Logger {
	if c.Logger == nil {
		return log.NewNopLogger()
	}
	return c.Logger
}

func (c *Consumer) maxAttempts() int {
	if c.MaxAttempts <= 0 {
		return defaultMaxAttempts
	}
	return c.MaxAttempts
}

// backoff returns the delay before try n+1 after n failures.
func (c *Consumer) backoff(n int) time.Duration {
	d := c.Backoff
	if d <= 0 {
		d = defaultBackoff
	}
	for i := 1; i < n && d < maxBackoff; i++ {
		d *= 2
	}
	return min(d, max(maxBackoff, c.Backoff))
}

// loop polls until the run's context is done. It is the only goroutine
// that touches the Kafka consumer (rebalance callbacks run inside Poll),
// so assignment changes and offset commits are serialised: an offset is
// never committed for a partition after it was handed away.
func (r *run) loop() error {
	lastCommit := time.Now()
	for r.ctx.Err() == nil {
		switch e := r.kc.Poll(pollTimeout).(type) {
		case *kafka.Message:
			r.dispatch(e)
		case kafka.Error:
			if e.IsFatal() {
				return errs.E(errs.Unavailable, "kafka consumer failed", e)
			}
			level.Warn(r.log).Log("msg", "kafka consumer error", "err", e)
		}
		r.resumeDrained()
		if time.Since(lastCommit) >= commitEvery {
			r.commit(r.all())
			lastCommit = time.Now()
		}
	}
	return nil
}

// rebalance starts a worker per assigned partition and, before partitions
// are given away, stops their workers (the attempt in flight finishes)
// and commits what they applied.
func (r *run) rebalance(kc *kafka.Consumer, ev kafka.Event) error {
	cooperative := kc.GetRebalanceProtocol() == "COOPERATIVE"
	switch e := ev.(type) {
	case kafka.AssignedPartitions:
		for _, tp := range e.Partitions {
			r.start(tp)
		}
		level.Info(r.log).Log("msg", "partitions assigned", "partitions", fmt.Sprint(e.Partitions))
		if cooperative {
			return kc.IncrementalAssign(e.Partitions)
		}
		return kc.Assign(e.Partitions)
	case kafka.RevokedPartitions:
		var ws []*worker
		for _, tp := range e.Partitions {
			if w := r.workers[keyOf(tp)]; w != nil {
				ws = append(ws, w)
			}
		}
		stopWorkers(ws)
		if !kc.AssignmentLost() {
			r.commit(ws)
		}
		for _, w := range ws {
			r.m.forget(w.topic, w.partition)
			delete(r.workers, keyOf(w.tp()))
		}
		level.Info(r.log).Log("msg", "partitions revoked", "partitions", fmt.Sprint(e.Partitions))
		if cooperative {
			return kc.IncrementalUnassign(e.Partitions)
		}
		return kc.Unassign()
	}
	return nil
}

// commit commits, in one request, the next offset of every worker in ws
// that applied something since its last commit. A failure is logged and
// retried at the next interval: the offsets stay pending, never lost.
func (r *run) commit(ws []*worker) {
	if r.crashed.Load() {
		return
	}
	var offs []kafka.TopicPartition
	var done []int64
	for _, w := range ws {
		d := w.done.Load()
		if _, high, err := r.kc.GetWatermarkOffsets(w.topic, w.partition); err == nil && high >= 0 && d >= 0 {
			r.m.lag(w.topic, w.partition, high-d)
		}
		if d > w.committed {
			tp := w.tp()
			tp.Offset = kafka.Offset(d)
			offs = append(offs, tp)
			done = append(done, d)
		}
	}
	if len(offs) == 0 {
		return
	}
	if _, err := r.kc.CommitOffsets(offs); err != nil {
		level.Warn(r.log).Log("msg", "commit offsets", "err", err)
		return
	}
	for i, tp := range offs {
		r.workers[keyOf(tp)].committed = done[i]
	}
}

// stopAll stops every worker and commits what they applied, unless the
// consumer crashed. Close then leaves the group with nothing in flight.
func (r *run) stopAll() {
	r.cancel()
	ws := r.all()
	stopWorkers(ws)
	r.commit(ws)
	for _, w := range ws {
		delete(r.workers, keyOf(w.tp()))
	}
}

func (r *run) all() []*worker {
	ws := make([]*worker, 0, len(r.workers))
	for _, w := range r.workers {
		ws = append(ws, w)
	}
	return ws
}
