package events

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
)

// run is the state of one Consumer.Run. Fields other than crashed are
// owned by the polling goroutine; workers talk back only through their
// queues and their done offsets.
type run struct {
	c       *Consumer
	kc      *kafka.Consumer
	ctx     context.Context // cancelled when Run stops; transactions use it
	cancel  context.CancelFunc
	log     log.Logger
	m       *consumerMetrics
	workers map[partitionKey]*worker
	crashed atomic.Bool
}

type partitionKey struct {
	topic     string
	partition int32
}

func keyOf(tp kafka.TopicPartition) partitionKey {
	return partitionKey{topic: *tp.Topic, partition: tp.Partition}
}

// worker applies one partition's events in offset order.
type worker struct {
	topic     string
	partition int32
	mu        sync.Mutex
	queue     []*kafka.Message
	wake      chan struct{} // capacity 1: "the queue grew"
	stop      chan struct{} // closed: finish the attempt in flight, then exit
	exited    chan struct{}
	done      atomic.Int64 // offset after the last event applied or parked; -1 none
	committed int64        // polling goroutine only: last offset committed
	paused    bool         // polling goroutine only
}

func (w *worker) tp() kafka.TopicPartition {
	t := w.topic
	return kafka.TopicPartition{Topic: &t, Partition: w.partition}
}

func (w *worker) push(m *kafka.Message) int {
	w.mu.Lock()
	w.queue = append(w.queue, m)
	n := len(w.queue)
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
	return n
}

func (w *worker) len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.queue)
}

// next blocks until messages are queued and takes up to max of them;
// nil means stop. The rest stay queued, where they count toward pausing
// the partition.
func (w *worker) next(max int) []*kafka.Message {
	for {
		if w.stopping() {
			return nil
		}
		w.mu.Lock()
		if n := min(len(w.queue), max); n > 0 {
			ms := slices.Clone(w.queue[:n])
			clear(w.queue[:n])
			w.queue = w.queue[n:]
			w.mu.Unlock()
			return ms
		}
		w.mu.Unlock()
		select {
		case <-w.stop:
			return nil
		case <-w.wake:
		}
	}
}

func (w *worker) stopping() bool {
	select {
	case <-w.stop:
		return true
	default:
		return false
	}
}

// markDone records that everything up to m is applied or parked, so its
// offset may be committed.
func (w *worker) markDone(m *kafka.Message) {
	w.done.Store(int64(m.TopicPartition.Offset) + 1)
}

// sleep waits d unless the run or the worker stops first.
func (w *worker) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-w.stop:
		return false
	case <-t.C:
		return true
	}
}

func (r *run) start(tp kafka.TopicPartition) {
	k := keyOf(tp)
	if r.workers[k] != nil {
		return
	}
	w := &worker{topic: k.topic, partition: k.partition, wake: make(chan struct{}, 1),
		stop: make(chan struct{}), exited: make(chan struct{}), committed: -1}
	w.done.Store(-1)
	r.workers[k] = w
	go func() {
		defer close(w.exited)
		for ms := w.next(maxRun); ms != nil && r.process(w, ms); ms = w.next(maxRun) {
		}
	}()
}

func stopWorkers(ws []*worker) {
	for _, w := range ws {
		close(w.stop)
	}
	for _, w := range ws {
		<-w.exited
	}
}

// dispatch hands m to its partition's worker, pausing the partition when
// the worker is far behind.
func (r *run) dispatch(m *kafka.Message) {
	if m.TopicPartition.Error != nil {
		level.Warn(r.log).Log("msg", "kafka partition error", "topic", *m.TopicPartition.Topic,
			"partition", m.TopicPartition.Partition, "err", m.TopicPartition.Error)
		return
	}
	w := r.workers[keyOf(m.TopicPartition)]
	if w == nil {
		// librdkafka drops messages of unassigned partitions; this is a
		// safety net, and the offset stays uncommitted for the new owner.
		return
	}
	if w.push(m) >= highWater && !w.paused {
		if err := r.kc.Pause([]kafka.TopicPartition{w.tp()}); err == nil {
			w.paused = true
		}
	}
}

// resumeDrained resumes paused partitions whose workers caught up. After a
// pause librdkafka refetches from the last message it handed us, so
// nothing is skipped.
func (r *run) resumeDrained() {
	for _, w := range r.workers {
		if w.paused && w.len() <= lowWater {
			if err := r.kc.Resume([]kafka.TopicPartition{w.tp()}); err == nil {
				w.paused = false
			}
		}
	}
}
