package events

import (
	"context"
	"encoding/json"

	"github.com/google/uuid"
	"github.com/lib/pq"
	"go.opentelemetry.io/otel/propagation"

	"github.com/azora-os/azora/shared/errs"
	"github.com/azora-os/azora/shared/pg"
)

// NotifyChannel is the Postgres NOTIFY channel Enqueue signals and the
// relay listens on.
const NotifyChannel = "azora_outbox"

// The Kafka headers every published event carries besides its trace
// context. The CloudEvents Kafka binding sends a structured-mode event with
// HeaderContentType = ContentType; ce_id and ce_type repeat the event's id
// and type so consumers and tools can filter without parsing the value.
const (
	HeaderContentType = "content-type"
	HeaderID          = "ce_id"
	HeaderType        = "ce_type"
	ContentType       = "application/cloudevents+json; charset=UTF-8"
)

// MaxEventBytes bounds an event's structured-mode JSON. It stays under
// librdkafka's and Kafka's 1 MB message limits with room for key and
// headers, so an event Enqueue accepts can always be published: a row
// Kafka could never take would otherwise be retried forever.
const MaxEventBytes = 900_000

// ErrNoTransaction is returned by Enqueue when ctx carries no transaction:
// publishing outside the producer's transaction is the lost-or-phantom
// event bug the outbox exists to prevent, so it is a programming error.
var ErrNoTransaction = errs.New(errs.Internal, "outbox_no_transaction",
	"events.Enqueue needs the caller's transaction in ctx (run it inside pg.Tx)")

// ErrInvalidEvent is returned by Enqueue for an event missing a required
// attribute; the message names which.
var ErrInvalidEvent = errs.New(errs.Internal, "invalid_event", "the event is missing a required attribute")

// outboxRows inserts the rows of one Enqueue call, in the order given.
const outboxRows = `
INSERT INTO outbox (event_id, topic, key, payload, headers)
SELECT e.id, e.topic, e.key, e.payload, e.headers::jsonb
FROM unnest($1::uuid[], $2::text[], $3::text[], $4::bytea[], $5::text[])
     WITH ORDINALITY AS e(id, topic, key, payload, headers, ord)
ORDER BY e.ord`

// insertOutbox writes the rows of a transaction that Tx began: the NOTIFY
// follows its commit (notifyAfterCommit). It runs in every request that
// changes state, so it is prepared: one round trip.
var insertOutbox = pg.NewStatement(outboxRows)

// insertOutboxNotify writes the rows and queues the NOTIFY in one round
// trip (a data-modifying CTE runs whether or not the outer query reads
// it), for a transaction that Tx did not begin, whose commit Enqueue cannot
// follow.
const insertOutboxNotify = `
WITH ins AS (` + outboxRows + `
)
SELECT pg_notify($6, '')`

// Enqueue records evs in the outbox inside the transaction ctx carries
// (pg.FromContext), so they are published if and only if that transaction
// commits, in the order given. Each row holds the structured-mode JSON of
// the event, its topic (ev.Source), its key (ev.PartitionKey) and the W3C
// trace context of ctx. Once the transaction has committed, Postgres is
// asked to NOTIFY the relay on NotifyChannel; a rolled-back transaction
// never notifies. When pg.Tx began the transaction, the NOTIFY is sent
// right after its commit, on a connection of its own and shared by the
// commits that land meanwhile (see notifyAfterCommit: a NOTIFY inside the
// transaction would serialise every notifying commit of the server, WAL
// flush included, behind one lock); otherwise it is queued in the
// transaction and delivered on commit.
//
// It returns ErrNoTransaction when ctx has no transaction, ErrInvalidEvent
// for an event without id (a UUID), type, source, specversion 1.0 or
// partition key or larger than MaxEventBytes, and an internal error when
// the insert fails (a duplicate event id included). Nothing is inserted
// unless every event is valid.
func Enqueue(ctx context.Context, evs ...Event) error {
	tx := pg.FromContext(ctx)
	if tx == nil {
		return ErrNoTransaction
	}
	if len(evs) == 0 {
		return nil
	}
	trace := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, trace)

	n := len(evs)
	ids, topics, keys := make([]string, n), make([]string, n), make([]string, n)
	payloads, headers := make([][]byte, n), make([]string, n)
	for i, ev := range evs {
		if err := validate(ev); err != nil {
			return err
		}
		payload, err := json.Marshal(ev)
		if err != nil {
			return errs.Internalf(err, "outbox: marshal event %s", ev.ID)
		}
		if len(payload) > MaxEventBytes {
			return ErrInvalidEvent.WithMessage("event %s of type %q is %d bytes, over the %d-byte limit", ev.ID, ev.Type, len(payload), MaxEventBytes)
		}
		h := map[string]string{HeaderType: ev.Type}
		for k, v := range trace {
			h[k] = v
		}
		hj, err := json.Marshal(h)
		if err != nil {
			return errs.Internalf(err, "outbox: marshal headers of %s", ev.ID)
		}
		ids[i], topics[i], keys[i] = ev.ID, ev.Source, ev.PartitionKey
		payloads[i], headers[i] = payload, string(hj)
	}
	args := []any{pq.Array(ids), pq.Array(topics), pq.Array(keys), pq.ByteaArray(payloads), pq.Array(headers)}
	if db := pg.DBFromContext(ctx); db != nil {
		if _, err := insertOutbox.ExecContext(ctx, db, args...); err != nil {
			return errs.Internalf(err, "outbox: insert %d event(s)", n)
		}
		pg.AfterCommit(ctx, func() { notifierOf(db).poke(db) })
		return nil
	}
	// Postgres folds identical NOTIFYs of a transaction, so one per
	// Enqueue call costs nothing more than one per transaction.
	if _, err := tx.ExecContext(ctx, insertOutboxNotify, append(args, NotifyChannel)...); err != nil {
		return errs.Internalf(err, "outbox: insert %d event(s)", n)
	}
	return nil
}

func validate(ev Event) error {
	var missing string
	switch {
	case ev.SpecVersion != "1.0":
		missing = "specversion 1.0"
	case ev.ID == "":
		missing = "id"
	case ev.Type == "":
		missing = "type"
	case ev.Source == "":
		missing = "source"
	case ev.PartitionKey == "":
		missing = "partitionkey"
	}
	if missing != "" {
		return ErrInvalidEvent.WithMessage("event %q of type %q has no %s", ev.ID, ev.Type, missing)
	}
	if _, err := uuid.Parse(ev.ID); err != nil {
		return ErrInvalidEvent.WithMessage("event id %q is not a UUID", ev.ID)
	}
	return nil
}
