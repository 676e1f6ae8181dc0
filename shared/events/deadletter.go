package events

import (
	"context"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/go-kit/log/level"
	"github.com/jmoiron/sqlx"

	"github.com/azora-os/azora/shared/pg"
)

const insertInbox = `INSERT INTO inbox (consumer, event_id, event_type) VALUES ($1, $2, $3)
ON CONFLICT DO NOTHING`

const insertDeadLetter = `INSERT INTO dead_letters
  (consumer, event_id, event_type, topic, kafka_partition, kafka_offset, key, payload, error, attempts)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
ON CONFLICT (consumer, topic, kafka_partition, kafka_offset) DO NOTHING`

// deadLetter parks m with the error that stopped it, recording ev (when
// it parsed) in the inbox in the same transaction so a redelivery is
// skipped rather than applied late and out of order. It retries until
// the row is written, reporting false only if the run or worker stops
// first.
func (r *run) deadLetter(w *worker, m *kafka.Message, ev *Event, cause error, attempts int) bool {
	var id, typ, key *string
	if ev != nil {
		id, typ = &ev.ID, &ev.Type
	}
	if m.Key != nil {
		k := string(m.Key)
		key = &k
	}
	for waits := 1; ; waits++ {
		err := pg.Tx(r.ctx, r.c.DB, nil, func(ctx context.Context, tx *sqlx.Tx) error {
			if ev != nil {
				if _, err := tx.ExecContext(ctx, insertInbox, r.c.Group, ev.ID, ev.Type); err != nil {
					return err
				}
			}
			_, err := tx.ExecContext(ctx, insertDeadLetter, r.c.Group, id, typ, w.topic, w.partition,
				int64(m.TopicPartition.Offset), key, m.Value, cause.Error(), attempts)
			return err
		})
		if err == nil {
			t := ""
			if typ != nil {
				t = *typ
			}
			r.m.outcome(t, outcomeDeadLettered)
			level.Error(r.log).Log("msg", "event parked in dead_letters", "event_type", t,
				"topic", w.topic, "partition", w.partition, "offset", int64(m.TopicPartition.Offset),
				"attempts", attempts, "err", cause)
			return true
		}
		if r.ctx.Err() != nil {
			return false
		}
		level.Error(r.log).Log("msg", "write dead letter", "err", err)
		if !w.sleep(r.ctx, r.c.backoff(waits)) {
			return false
		}
	}
}
