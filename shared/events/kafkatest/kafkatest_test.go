package kafkatest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/azora-os/azora/shared/events"
)

func TestPlatformTopicsMatchEvents(t *testing.T) {
	if got := platformTopics(); !slices.Equal(got, events.Topics) {
		t.Fatalf("got topics %v, want events.Topics %v", got, events.Topics)
	}
}

func TestNewSeedsTopics(t *testing.T) {
	c := NewCluster(t, Partitions(3), Topics("extra.topic"))
	for _, topic := range append(slices.Clone(events.Topics), "extra.topic") {
		if c.TopicInfo(topic) == nil {
			t.Fatalf("topic %s: not created", topic)
		}
		if got := len(c.PartitionInfos(topic)); got != 3 {
			t.Errorf("topic %s: got %d partitions, want 3", topic, got)
		}
	}
}

func TestReadAll(t *testing.T) {
	brokers := New(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	const n = 50
	for i := range n {
		r := &kgo.Record{Topic: events.TopicAuth, Key: fmt.Appendf(nil, "k%d", i%7), Value: fmt.Appendf(nil, "%d", i),
			Headers: []kgo.RecordHeader{{Key: "h", Value: []byte("v")}}}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}

	tests := []struct {
		name string
		want int
	}{
		{"exact count", n},
		{"fewer than written still returns all", 10},
		{"zero reads to the end", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			recs := ReadAll(t, brokers, events.TopicAuth, tc.want, 10*time.Second)
			if len(recs) != n {
				t.Fatalf("got %d records, want %d", len(recs), n)
			}
			seen := map[string]bool{}
			for i, r := range recs {
				seen[string(r.Value)] = true
				if r.Headers["h"] != "v" {
					t.Errorf("record %d: got header h=%q, want v", i, r.Headers["h"])
				}
				if i > 0 && recs[i-1].Partition == r.Partition && recs[i-1].Offset >= r.Offset {
					t.Errorf("records %d and %d: offsets %d then %d in partition %d, want increasing",
						i-1, i, recs[i-1].Offset, r.Offset, r.Partition)
				}
			}
			if len(seen) != n {
				t.Errorf("got %d distinct values, want %d", len(seen), n)
			}
		})
	}
}

func TestReadAllFailsOnTimeout(t *testing.T) {
	brokers := New(t)
	start := time.Now()
	_, err := readAll(brokers, events.TopicFinance, 1, 500*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "got 0 records") {
		t.Fatalf("got err %v, want a timeout naming 0 records", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v to time out, want about 500ms", d)
	}
}
