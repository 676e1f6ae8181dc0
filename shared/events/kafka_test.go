package events_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/azora-os/azora/shared/events"
	"github.com/azora-os/azora/shared/events/kafkatest"
)

func TestPipeLogsMapsSyslogLevels(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	logger := level.NewFilter(log.NewLogfmtLogger(&buf), level.AllowAll())
	tests := []struct {
		syslog int
		want   string
	}{
		{2, "level=error"}, {3, "level=error"}, {4, "level=warn"}, {5, "level=debug"}, {7, "level=debug"},
	}
	ch := make(chan kafka.LogEvent, len(tests))
	done := make(chan struct{})
	go func() { events.PipeLogs(logger, ch); close(done) }()
	for _, tc := range tests {
		ch <- kafka.LogEvent{Name: "rdkafka#producer-1", Tag: "TAG", Message: fmt.Sprintf("line %d", tc.syslog), Level: tc.syslog}
	}
	close(ch)
	select {
	case <-done:
	case <-time.After(time.Second):
		t.Fatal("PipeLogs did not return after its channel closed")
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != len(tests) {
		t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(tests), buf.String())
	}
	for i, tc := range tests {
		t.Run(fmt.Sprint("syslog ", tc.syslog), func(t *testing.T) {
			if !strings.HasPrefix(lines[i], tc.want+" ") || !strings.Contains(lines[i], fmt.Sprintf(`msg="line %d"`, tc.syslog)) {
				t.Errorf("got %q, want %s and the message", lines[i], tc.want)
			}
		})
	}
}

// TestProducerConfigKeepsTheHeapSmall measures what a producer built from
// ProducerConfig holds on the Go heap for its lifetime (the relay keeps one
// in every service): with confluent-kafka-go's default channel sizes it is
// about 24 MiB, which the GC scans every cycle. It needs no broker:
// NewProducer does not connect. Not parallel, so that no other test
// allocates while it measures.
func TestProducerConfigKeepsTheHeapSmall(t *testing.T) {
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	p, err := kafka.NewProducer(events.ProducerConfig("127.0.0.1:1"))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	go events.PipeLogs(log.NewNopLogger(), p.Logs())
	go func() {
		for range p.Events() {
		}
	}()
	after := heap()
	runtime.KeepAlive(p)
	const limit = 4 << 20
	if grew := int64(after) - int64(before); grew > limit {
		t.Errorf("a producer holds %.1f MiB of heap, want under %d MiB", float64(grew)/(1<<20), limit>>20)
	}
}

// TestConsumerConfigSharesPartitionsCooperatively runs two consumers built
// from ConsumerConfig in one group against kfake: the cooperative-sticky
// assignment must split the partitions and every record must arrive.
func TestConsumerConfigSharesPartitionsCooperatively(t *testing.T) {
	t.Parallel()
	brokers := kafkatest.New(t)
	p, err := kafka.NewProducer(events.ProducerConfig(brokers))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	go events.PipeLogs(log.NewNopLogger(), p.Logs())
	// Delivery reports of Produce(msg, nil) arrive on Events(); Flush
	// counts them until they are read.
	go func() {
		for ev := range p.Events() {
			if m, ok := ev.(*kafka.Message); ok && m.TopicPartition.Error != nil {
				t.Errorf("delivery: %v", m.TopicPartition.Error)
			}
		}
	}()
	const n = 120
	topic := events.TopicAuth
	for i := range n {
		err := p.Produce(&kafka.Message{
			TopicPartition: kafka.TopicPartition{Topic: &topic, Partition: kafka.PartitionAny},
			Key:            fmt.Appendf(nil, "user-%d", i%24), Value: fmt.Appendf(nil, "%d", i),
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
	}
	if left := p.Flush(10_000); left != 0 {
		t.Fatalf("got %d messages unflushed, want 0", left)
	}

	var mu sync.Mutex
	seen := map[string]bool{}
	perMember := make([]map[int32]bool, 2)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for m := range perMember {
		perMember[m] = map[int32]bool{}
		c, err := kafka.NewConsumer(events.ConsumerConfig(brokers, "config-test"))
		if err != nil {
			t.Fatal(err)
		}
		go events.PipeLogs(log.NewNopLogger(), c.Logs())
		if err := c.SubscribeTopics([]string{topic}, nil); err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			defer c.Close()
			for {
				select {
				case <-stop:
					return
				default:
				}
				msg, err := c.ReadMessage(50 * time.Millisecond)
				if err != nil {
					continue
				}
				mu.Lock()
				seen[string(msg.Value)] = true
				mu.Unlock()
				asg, _ := c.Assignment()
				mu.Lock()
				for _, tp := range asg {
					perMember[m][tp.Partition] = true
				}
				mu.Unlock()
			}
		})
	}
	relayWait(t, 20*time.Second, "both members assigned and every record read", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) == n && len(perMember[0]) > 0 && len(perMember[1]) > 0
	})
	close(stop)
	wg.Wait()
	v, _ := events.ConsumerConfig(brokers, "g").Get("partition.assignment.strategy", "")
	if v != "cooperative-sticky" {
		t.Errorf("got partition.assignment.strategy %v, want cooperative-sticky", v)
	}
}

// BenchmarkProducerCompression produces relay-sized batches (500 typical
// envelopes, 20 keys) with each codec and reports the bytes kfake stores
// per event beside the time per batch. It is how ProducerConfig's lz4 was
// chosen: run with -bench ProducerCompression -benchtime 20x.
func BenchmarkProducerCompression(b *testing.B) {
	for _, codec := range []string{"none", "lz4", "zstd"} {
		b.Run(codec, func(b *testing.B) {
			c := kafkatest.NewCluster(b)
			cfg := events.ProducerConfig(kafkatest.Addr(c))
			_ = cfg.SetKey("compression.type", codec)
			p, err := kafka.NewProducer(cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer p.Close()
			go events.PipeLogs(log.NewNopLogger(), p.Logs())
			topic := events.TopicFinance
			batch := make([][]byte, 500)
			for i := range batch {
				ev, err := events.New(topic, "azora.finance.wallet.credited", fmt.Sprintf("0190a1b2-c3d4-7e5f-8a9b-%012d", i%20), map[string]any{
					"wallet_id": fmt.Sprintf("0190a1b2-c3d4-7e5f-8a9b-%012d", 1000+i%20), "amount_minor": 1250 + i,
					"currency": "ZAR", "balance_minor": 100000 + 7*i, "reason": "course_refund",
				})
				if err != nil {
					b.Fatal(err)
				}
				if batch[i], err = json.Marshal(ev); err != nil {
					b.Fatal(err)
				}
			}
			reports := make(chan kafka.Event, len(batch))
			sent := 0
			for b.Loop() {
				for i, v := range batch {
					msg := &kafka.Message{TopicPartition: kafka.TopicPartition{Topic: &topic, Partition: kafka.PartitionAny},
						Key: fmt.Appendf(nil, "user-%d", i%20), Value: v}
					if err := p.Produce(msg, reports); err != nil {
						b.Fatal(err)
					}
				}
				for range batch {
					if m := (<-reports).(*kafka.Message); m.TopicPartition.Error != nil {
						b.Fatal(m.TopicPartition.Error)
					}
				}
				sent += len(batch)
			}
			var stored int64
			for _, pi := range c.PartitionInfos(topic) {
				stored += pi.NumBytes
			}
			b.ReportMetric(float64(stored)/float64(sent), "stored-B/event")
			b.ReportMetric(float64(len(batch[0])), "raw-B/event")
		})
	}
}
