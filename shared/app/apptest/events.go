package apptest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/azora-os/azora/shared/events"
	"github.com/azora-os/azora/shared/events/kafkatest"
)

// Produce publishes ev to its topic (ev.Source) as another service's relay
// would, and waits for the broker's acknowledgement.
func Produce(t testing.TB, brokers string, ev events.Event) {
	t.Helper()
	p, err := kafka.NewProducer(events.ProducerConfig(brokers))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	go func() {
		for range p.Logs() {
		}
	}()
	payload, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	topic := ev.Source
	done := make(chan kafka.Event, 1)
	if err := p.Produce(&kafka.Message{TopicPartition: kafka.TopicPartition{Topic: &topic, Partition: kafka.PartitionAny},
		Key: []byte(ev.PartitionKey), Value: payload}, done); err != nil {
		t.Fatal(err)
	}
	if m := (<-done).(*kafka.Message); m.TopicPartition.Error != nil {
		t.Fatal(m.TopicPartition.Error)
	}
}

// NewEvent builds an event or fails t.
func NewEvent(t testing.TB, source, typ, userID string, data any) events.Event {
	t.Helper()
	ev, err := events.New(source, typ, userID, data)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// EventsAbout reads topic until at least want events keyed by userID have
// arrived (or 20 s passed) and returns all of them in order.
func EventsAbout(t testing.TB, brokers, topic, userID string, want int) []events.Event {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var out []events.Event
		for _, r := range kafkatest.ReadAll(t, brokers, topic, 0, 2*time.Second) {
			ev, err := events.Parse(r.Value)
			if err != nil {
				t.Fatal(err)
			}
			if ev.PartitionKey == userID {
				out = append(out, ev)
			}
		}
		if len(out) >= want || time.Now().After(deadline) {
			return out
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Types lists the events' types.
func Types(evs []events.Event) []string {
	out := []string{}
	for _, e := range evs {
		out = append(out, e.Type)
	}
	return out
}

// Eventually polls cond for up to 20 s and fails t naming what it waited for.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}
