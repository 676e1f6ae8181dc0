package kafkatest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Record is one Kafka record as a test sees it.
type Record struct {
	Topic     string
	Partition int32
	Offset    int64
	Key       string
	Value     []byte
	Headers   map[string]string // a repeated header keeps its last value
	Timestamp time.Time
}

// ReadAll reads topic from the start of every partition until it holds at
// least want records and has reached the end each partition had at that
// moment, so records already written are all returned even when there are
// more than want (duplicates included). want 0 reads what is there now.
// Records come ordered by partition then offset. Not reaching want within
// timeout fails the test, naming how many records arrived. opts add to the
// reading client's options, e.g. kgo.DialTLSConfig and kgo.SASL for a
// broker that demands them.
func ReadAll(t testing.TB, brokers, topic string, want int, timeout time.Duration, opts ...kgo.Opt) []Record {
	t.Helper()
	recs, err := readAll(brokers, topic, want, timeout, opts...)
	if err != nil {
		t.Fatalf("kafkatest: read %s: %v", topic, err)
	}
	return recs
}

func readAll(brokers, topic string, want int, timeout time.Duration, opts ...kgo.Opt) ([]Record, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(strings.Split(brokers, ",")...),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeStartOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(100 * time.Millisecond),
	}, opts...)...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()

	var recs []Record
	next := map[int32]int64{} // next offset to read, per partition
	var ends map[int32]int64
	for {
		if len(recs) >= want && ends == nil {
			if ends, err = endOffsets(ctx, cl, topic); err != nil {
				return recs, err
			}
		}
		if ends != nil && reached(next, ends) {
			break
		}
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return recs, fmt.Errorf("got %d records within %v, want at least %d", len(recs), timeout, want)
		}
		for _, fe := range fs.Errors() {
			if fe.Err != context.DeadlineExceeded {
				return recs, fmt.Errorf("fetch partition %d: %w", fe.Partition, fe.Err)
			}
		}
		fs.EachRecord(func(r *kgo.Record) {
			hs := make(map[string]string, len(r.Headers))
			for _, h := range r.Headers {
				hs[h.Key] = string(h.Value)
			}
			recs = append(recs, Record{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset,
				Key: string(r.Key), Value: r.Value, Headers: hs, Timestamp: r.Timestamp})
			next[r.Partition] = r.Offset + 1
		})
	}
	slices.SortStableFunc(recs, func(a, b Record) int {
		if a.Partition != b.Partition {
			return int(a.Partition - b.Partition)
		}
		return int(a.Offset - b.Offset)
	})
	return recs, nil
}

func reached(next, ends map[int32]int64) bool {
	for p, end := range ends {
		if next[p] < end {
			return false
		}
	}
	return true
}

// endOffsets returns each partition's high watermark.
func endOffsets(ctx context.Context, cl *kgo.Client, topic string) (map[int32]int64, error) {
	mreq := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr(topic)
	mreq.Topics = append(mreq.Topics, mt)
	mresp, err := mreq.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	if len(mresp.Topics) != 1 {
		return nil, fmt.Errorf("metadata: got %d topics, want 1", len(mresp.Topics))
	}
	if err := kerr.ErrorForCode(mresp.Topics[0].ErrorCode); err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	lreq := kmsg.NewPtrListOffsetsRequest()
	lreq.ReplicaID = -1
	lt := kmsg.NewListOffsetsRequestTopic()
	lt.Topic = topic
	for _, p := range mresp.Topics[0].Partitions {
		lp := kmsg.NewListOffsetsRequestTopicPartition()
		lp.Partition = p.Partition
		lp.Timestamp = -1 // latest
		lt.Partitions = append(lt.Partitions, lp)
	}
	lreq.Topics = append(lreq.Topics, lt)
	lresp, err := lreq.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("list offsets: %w", err)
	}
	ends := map[int32]int64{}
	for _, t := range lresp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return nil, fmt.Errorf("list offsets partition %d: %w", p.Partition, err)
			}
			ends[p.Partition] = p.Offset
		}
	}
	return ends, nil
}
