// Package events is Azora's reliable messaging: the CloudEvents 1.0
// envelope, the transactional outbox every producer writes to inside its
// own database transaction, the relay that publishes outbox rows to Kafka,
// and the consumer runner that applies each event exactly once through an
// inbox table.
package events

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/azora-os/azora/shared/pg"
)

// The topics, one per producing service.
const (
	TopicAuth      = "azora.auth"
	TopicEducation = "azora.education"
	TopicFinance   = "azora.finance"
)

// Topics lists every topic the platform uses.
var Topics = []string{TopicAuth, TopicEducation, TopicFinance}

//go:embed migrations/*.sql
var migrationFS embed.FS

// Migrations creates the outbox, inbox and dead_letters tables. Every
// service applies it beside its own migrations.
var Migrations = pg.Migrations{FS: migrationFS, Dir: "migrations", Table: "events_schema_migrations"}

// Event is a CloudEvents 1.0 event in structured JSON mode. PartitionKey
// (the CloudEvents Kafka "partitionkey" extension) is the id of the user the
// event is about and becomes the Kafka message key.
type Event struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            string          `json:"type"`
	Subject         string          `json:"subject,omitempty"`
	Time            time.Time       `json:"time"`
	DataContentType string          `json:"datacontenttype"`
	PartitionKey    string          `json:"partitionkey"`
	Data            json.RawMessage `json:"data"`
}

// New builds an event with a fresh UUIDv7 id. source is the producing
// service's topic (e.g. TopicFinance), typ the full type
// ("azora.finance.wallet.created"), userID the partition key.
func New(source, typ, userID string, data any) (Event, error) {
	raw, err := json.Marshal(data)
	if err != nil {
		return Event{}, fmt.Errorf("event %s: marshal data: %w", typ, err)
	}
	id, err := uuid.NewV7()
	if err != nil {
		return Event{}, err
	}
	return Event{
		SpecVersion:     "1.0",
		ID:              id.String(),
		Source:          source,
		Type:            typ,
		Time:            time.Now().UTC(),
		DataContentType: "application/json",
		PartitionKey:    userID,
		Data:            raw,
	}, nil
}

// Decode unmarshals e.Data into v.
func (e Event) Decode(v any) error {
	if err := json.Unmarshal(e.Data, v); err != nil {
		return fmt.Errorf("event %s %s: decode data: %w", e.Type, e.ID, err)
	}
	return nil
}

// Parse reads a structured-mode event and checks its required attributes.
func Parse(b []byte) (Event, error) {
	var e Event
	if err := json.Unmarshal(b, &e); err != nil {
		return Event{}, fmt.Errorf("parse cloudevent: %w", err)
	}
	if e.SpecVersion != "1.0" || e.ID == "" || e.Source == "" || e.Type == "" {
		return Event{}, fmt.Errorf("parse cloudevent: specversion 1.0, id, source and type are required")
	}
	return e, nil
}

// Handler applies one event's effect. ctx carries the consumer's database
// transaction (pg.FromContext), so the effect's writes commit together with
// the inbox record or not at all. A Handler must therefore reach the
// database only through pg.Ext(ctx, db) or pg.Tx.
type Handler func(ctx context.Context, e Event) error
