package events

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/go-kit/log/level"
	"github.com/lib/pq"
)

// lead publishes while this instance holds the relay lock on conn. Every
// query runs on conn, so a dead lock session fails the next query (at the
// latest one PollInterval later) and lead returns. It returns nil when ctx
// is done, else the error that stopped it.
func (rr *relayRun) lead(ctx context.Context, conn *sql.Conn) error {
	rr.metrics.active.Set(1)
	defer rr.metrics.active.Set(0)

	listener := pq.NewListener(rr.DSN, 100*time.Millisecond, 10*time.Second, func(ev pq.ListenerEventType, err error) {
		if ev == pq.ListenerEventDisconnected || ev == pq.ListenerEventConnectionAttemptFailed {
			level.Warn(rr.Logger).Log("msg", "outbox listener connection lost; polling meanwhile", "event", ev, "err", err)
		}
	})
	defer listener.Close()
	if err := listen(ctx, listener); err != nil {
		return err
	}
	producer, err := rr.newProducer()
	if err != nil {
		return err
	}
	defer func() { producer.Close() }()

	var lastPurge, lastSample time.Time
	tick := time.NewTicker(rr.PollInterval)
	defer tick.Stop()
	for {
		// Housekeeping runs between batches, so a long drain still
		// reports its backlog and the lock session is queried every pass.
		if time.Since(lastSample) >= rr.PollInterval {
			if err := rr.sampleBacklog(ctx, conn); err != nil {
				return err
			}
			lastSample = time.Now()
		}
		if time.Since(lastPurge) >= relayPurgeEvery {
			if err := rr.purge(ctx, conn); err != nil {
				return err
			}
			lastPurge = time.Now()
		}

		n, delivered, err := rr.publishBatch(ctx, conn, producer.Producer)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			return err
		case producer.failed() != nil:
			// The gapless guarantee stopped the producer rather than let a
			// later message overtake a failed one. A fresh producer starts
			// again from the oldest unsent row, keeping the lock.
			level.Error(rr.Logger).Log("msg", "kafka producer stopped; starting a new one", "err", producer.failed())
			producer.Close()
			if producer, err = rr.newProducer(); err != nil {
				return err
			}
			n, delivered = 1, 0 // wait for the tick before trying again
		case n == rr.BatchSize && delivered > 0:
			continue // drain a backlog back to back
		}
		// When nothing of a batch got through, wait for the tick rather
		// than the next NOTIFY: Kafka will not recover in milliseconds.
		notify := listener.Notify
		if n > 0 && delivered == 0 {
			notify = nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-notify:
			// One drain answers every commit so far: skip the queued
			// wake-ups. A nil notification (the listener reconnected and
			// may have missed some) is answered by the same drain.
			for len(listener.Notify) > 0 {
				<-listener.Notify
			}
		case <-tick.C:
		}
	}
}

// relayProducer is a producer and the fatal error that ended it, if any.
type relayProducer struct {
	*kafka.Producer
	fatal atomic.Pointer[kafka.Error]
}

func (p *relayProducer) failed() error {
	if e := p.fatal.Load(); e != nil {
		return *e
	}
	return nil
}

// newProducer starts a producer with ProducerConfig and the relay's
// Security, its logs piped to the relay's logger and its client-level
// errors watched.
func (rr *relayRun) newProducer() (*relayProducer, error) {
	cfg := ProducerConfig(rr.Brokers)
	rr.Security.apply(cfg)
	kp, err := kafka.NewProducer(cfg)
	if err != nil {
		return nil, fmt.Errorf("create kafka producer: %w", err)
	}
	p := &relayProducer{Producer: kp}
	// Both goroutines end when Close closes their channels.
	go PipeLogs(rr.Logger, kp.Logs())
	go rr.watchProducer(kp.Events(), &p.fatal)
	return p, nil
}

// listen subscribes l to NotifyChannel, giving up when ctx ends (Listen
// itself blocks until the server answers).
func listen(ctx context.Context, l *pq.Listener) error {
	done := make(chan error, 1)
	go func() { done <- l.Listen(NotifyChannel) }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("listen %s: %w", NotifyChannel, err)
		}
		return nil
	case <-ctx.Done():
		return ctx.Err() // the deferred Close unblocks Listen
	}
}

// watchProducer logs the producer's client-level errors until its events
// channel closes, recording a fatal one (the idempotent producer's
// unrecoverable state) for lead to restart on.
func (rr *relayRun) watchProducer(events <-chan kafka.Event, fatal *atomic.Pointer[kafka.Error]) {
	for ev := range events {
		kerr, ok := ev.(kafka.Error)
		if !ok {
			continue
		}
		if kerr.IsFatal() {
			fatal.CompareAndSwap(nil, &kerr)
			level.Error(rr.Logger).Log("msg", "kafka producer fatal error", "err", kerr)
			continue
		}
		level.Warn(rr.Logger).Log("msg", "kafka producer error", "err", kerr, "code", kerr.Code())
	}
}

type outboxRow struct {
	Seq       int64
	EventID   string
	Topic     string
	Key       string
	Payload   []byte
	Headers   []byte
	CreatedAt time.Time
}

const selectUnsent = `
SELECT seq, event_id, topic, key, payload, headers, created_at
FROM outbox WHERE sent_at IS NULL ORDER BY seq LIMIT $1`

// publishBatch produces the oldest unsent rows (up to BatchSize), waits
// for their delivery reports and marks the delivered ones sent in one
// UPDATE. It returns how many rows it read and how many were delivered; the
// others stay unsent and go out on a later pass.
func (rr *relayRun) publishBatch(ctx context.Context, conn *sql.Conn, p *kafka.Producer) (n, delivered int, err error) {
	rows, err := rr.unsent(ctx, conn)
	if err != nil || len(rows) == 0 {
		return 0, 0, err
	}

	reports := make(chan kafka.Event, len(rows))
	produced := 0
	for i := range rows {
		if err := p.Produce(message(&rows[i], i), reports); err != nil {
			// Only transient refusals are expected here (the local queue
			// full): Enqueue bounds the event size. The rest of the batch
			// stays unsent; stopping rather than skipping one row keeps
			// the later rows of its key behind it.
			level.Warn(rr.Logger).Log("msg", "kafka produce refused", "event_id", rows[i].EventID, "err", err)
			break
		}
		produced++
	}

	sent := make([]int64, 0, produced)
	wait := ctx.Done()
	var grace <-chan time.Time
collect:
	for got := 0; got < produced; {
		select {
		case ev := <-reports:
			got++
			m, ok := ev.(*kafka.Message)
			if !ok {
				continue
			}
			row := &rows[m.Opaque.(int)]
			if m.TopicPartition.Error != nil {
				rr.metrics.failed.Inc()
				level.Warn(rr.Logger).Log("msg", "kafka delivery failed; row stays unsent",
					"event_id", row.EventID, "topic", row.Topic, "err", m.TopicPartition.Error)
				continue
			}
			sent = append(sent, row.Seq)
			rr.metrics.published.Inc()
			rr.metrics.latency.Observe(time.Since(row.CreatedAt).Seconds())
		case <-wait:
			// Shutting down: give in-flight messages a moment so the
			// restart re-sends fewer duplicates, then leave the rest.
			wait, grace = nil, time.After(relayShutdownGrace)
		case <-grace:
			break collect
		}
	}
	if len(sent) == 0 {
		return len(rows), 0, nil
	}
	// Delivered rows are recorded even when ctx has just ended: they are
	// in Kafka, and forgetting that only costs duplicates.
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), relayQueryTimeout)
	defer cancel()
	if _, err := conn.ExecContext(uctx, `UPDATE outbox SET sent_at = now() WHERE seq = ANY($1)`, pq.Array(sent)); err != nil {
		return len(rows), 0, fmt.Errorf("mark %d outbox rows sent: %w", len(sent), err)
	}
	return len(rows), len(sent), nil
}

func (rr *relayRun) unsent(ctx context.Context, conn *sql.Conn) ([]outboxRow, error) {
	qctx, cancel := context.WithTimeout(ctx, relayQueryTimeout)
	defer cancel()
	res, err := conn.QueryContext(qctx, selectUnsent, rr.BatchSize)
	if err != nil {
		return nil, fmt.Errorf("read unsent outbox rows: %w", err)
	}
	defer res.Close()
	rows := make([]outboxRow, 0, rr.BatchSize)
	for res.Next() {
		var r outboxRow
		if err := res.Scan(&r.Seq, &r.EventID, &r.Topic, &r.Key, &r.Payload, &r.Headers, &r.CreatedAt); err != nil {
			return nil, fmt.Errorf("scan outbox row: %w", err)
		}
		rows = append(rows, r)
	}
	if err := res.Err(); err != nil {
		return nil, fmt.Errorf("read unsent outbox rows: %w", err)
	}
	return rows, nil
}

// message builds the Kafka message of row: key and value as stored, the
// row's headers (trace context, ce_type) plus content-type and ce_id.
// Opaque carries the row's index in its batch back in the delivery report.
func message(row *outboxRow, i int) *kafka.Message {
	var stored map[string]string
	_ = json.Unmarshal(row.Headers, &stored) // written by Enqueue; a bad one only loses headers
	hs := make([]kafka.Header, 0, len(stored)+2)
	hs = append(hs,
		kafka.Header{Key: HeaderContentType, Value: []byte(ContentType)},
		kafka.Header{Key: HeaderID, Value: []byte(row.EventID)})
	for k, v := range stored {
		if k == HeaderContentType || k == HeaderID {
			continue
		}
		hs = append(hs, kafka.Header{Key: k, Value: []byte(v)})
	}
	return &kafka.Message{
		TopicPartition: kafka.TopicPartition{Topic: &row.Topic, Partition: kafka.PartitionAny},
		Key:            []byte(row.Key),
		Value:          row.Payload,
		Headers:        hs,
		Opaque:         i,
	}
}
