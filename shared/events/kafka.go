package events

import (
	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
)

// ProducerConfig returns the librdkafka configuration of the relay's
// producer: idempotent (no duplicates or reordering from the producer's own
// retries), acks=all, gapless (see below), a short linger so a small batch
// leaves at once, and librdkafka's log lines forwarded to the Logs()
// channel for PipeLogs. brokers is a comma-separated bootstrap list.
func ProducerConfig(brokers string) *kafka.ConfigMap {
	return &kafka.ConfigMap{
		"bootstrap.servers": brokers,
		// Idempotence also caps in-flight requests at 5 and retries
		// retriable errors within message.timeout.ms without reordering.
		"enable.idempotence": true,
		"acks":               "all",
		// When the broker definitively rejects a batch, a later batch of
		// the same partition could still land and overtake it. Gapless
		// turns that into a fatal producer error instead; the relay then
		// starts a new producer from the oldest unsent row, so per-key
		// order survives. librdkafka still labels the property
		// experimental (it logs a warning at start) and it does not cover
		// message.timeout.ms expiry.
		"enable.gapless.guarantee": true,
		// No linger (librdkafka's default is 5 ms): a lone event leaves at
		// once, and a draining relay, which produces a whole batch of rows
		// before it flushes, still fills batches.
		"linger.ms": 0,
		// lz4 is cheap on CPU and shrinks repetitive JSON envelopes.
		// BenchmarkProducerCompression (500-event batches, kfake): none
		// 421 B/event 8.0 ms/batch, lz4 63 B 6.0 ms, zstd 33 B 11.6 ms.
		"compression.type": "lz4",
		// A delivery that has not succeeded in 30 s is reported as failed, so
		// the relay leaves the row unsent and tries again rather than waiting
		// on librdkafka's 5-minute default while the backlog grows.
		"message.timeout.ms": 30000,
		// Kafka's Java clients hash keys with murmur2; matching them puts a
		// user's events in the same partition whichever client produced.
		"partitioner":            "murmur2_random",
		"go.logs.channel.enable": true,
		"log.connection.close":   false,
		// librdkafka waits up to 10 s between reconnects to a broker that
		// went away, so after an outage events sat in the outbox (and
		// consumers idled) up to 10 s longer than the broker was down.
		"reconnect.backoff.max.ms": reconnectBackoffMaxMS,
		// confluent-kafka-go buffers a million entries in each of the
		// producer's Go channels by default: 24 MiB of pointers that every
		// GC cycle scans and that stay resident for the life of the
		// process. The relay reads its delivery reports from a channel of
		// its own per batch and drains Events(), which then carries only
		// client-level errors; it never uses ProduceChannel().
		"go.events.channel.size":  1000,
		"go.produce.channel.size": 1,
	}
}

// reconnectBackoffMaxMS caps librdkafka's exponential back-off between
// attempts to reach a broker (default 10 000 ms): a client back within a
// second of the broker, and a handful of connection attempts a second at
// most while it is down.
const reconnectBackoffMaxMS = 1000

// ConsumerConfig returns the librdkafka configuration of a consumer in
// group: offsets are neither auto-committed nor auto-stored (the runner
// commits after the inbox transaction commits), a new group starts at the
// earliest offset, and partitions move incrementally (cooperative-sticky)
// so a rebalance does not stop every member. Log lines go to the Logs()
// channel for PipeLogs. brokers is a comma-separated bootstrap list.
func ConsumerConfig(brokers, group string) *kafka.ConfigMap {
	return &kafka.ConfigMap{
		"bootstrap.servers":             brokers,
		"group.id":                      group,
		"enable.auto.commit":            false,
		"enable.auto.offset.store":      false,
		"auto.offset.reset":             "earliest",
		"partition.assignment.strategy": "cooperative-sticky",
		// A dead member is noticed in 10 s (default 45 s) and a healthy one
		// heartbeats well inside that.
		"session.timeout.ms":       10000,
		"heartbeat.interval.ms":    1000,
		"fetch.queue.backoff.ms":   0,
		"go.logs.channel.enable":   true,
		"log.connection.close":     false,
		"reconnect.backoff.max.ms": reconnectBackoffMaxMS,
	}
}

// PipeLogs writes every librdkafka log line received on ch to logger until
// ch is closed (the client closes it in Close). Syslog levels 0-3 become
// error, 4 warn and 5-7 debug: librdkafka's notice/info lines are routine
// connection chatter. Run it in its own goroutine:
//
//	go events.PipeLogs(logger, producer.Logs())
func PipeLogs(logger log.Logger, ch <-chan kafka.LogEvent) {
	for e := range ch {
		var l log.Logger
		switch {
		case e.Level <= 3:
			l = level.Error(logger)
		case e.Level == 4:
			l = level.Warn(logger)
		default:
			l = level.Debug(logger)
		}
		_ = l.Log("msg", e.Message, "rdkafka_client", e.Name, "rdkafka_tag", e.Tag, "syslog_level", e.Level)
	}
}
