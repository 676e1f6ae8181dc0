// Package kafkatest starts an in-process Kafka-protocol cluster (kfake) for
// tests, with the platform's topics created, and reads topics back with
// franz-go's client. It is for tests only: services speak to Kafka through
// confluent-kafka-go alone.
package kafkatest

import (
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
)

// platformTopics returns events.Topics, repeated here because package
// events' own tests import kafkatest and an import back would be a cycle;
// a test keeps the two lists equal.
func platformTopics() []string {
	return []string{"azora.auth", "azora.education", "azora.finance"}
}

// DefaultPartitions is the partition count of every topic New creates
// unless Partitions says otherwise: enough to spread keys, few enough to
// keep tests fast.
const DefaultPartitions = 6

type options struct {
	partitions int32
	brokers    int
	topics     []string
	kfake      []kfake.Opt
}

// Option adjusts the cluster New starts.
type Option func(*options)

// Partitions sets the partition count of every topic created.
func Partitions(n int32) Option { return func(o *options) { o.partitions = n } }

// Brokers sets the number of brokers (default 1).
func Brokers(n int) Option { return func(o *options) { o.brokers = n } }

// Topics creates these topics besides events.Topics (e.g. a dead-letter or
// test topic).
func Topics(names ...string) Option {
	return func(o *options) { o.topics = append(o.topics, names...) }
}

// With passes options to kfake itself, e.g. kfake.TLS or kfake.EnableSASL
// for a broker that demands what a managed Kafka does.
func With(opts ...kfake.Opt) Option {
	return func(o *options) { o.kfake = append(o.kfake, opts...) }
}

// New starts a kfake cluster with events.Topics and any Topics requested,
// and returns its bootstrap servers (comma-separated). The cluster is
// closed in t.Cleanup; a cluster that cannot start fails the test.
func New(t testing.TB, opts ...Option) string {
	t.Helper()
	return Addr(NewCluster(t, opts...))
}

// NewCluster is New returning the cluster itself, for tests that inject
// faults (Cluster.Fault) or inspect partitions and groups.
func NewCluster(t testing.TB, opts ...Option) *kfake.Cluster {
	t.Helper()
	o := options{partitions: DefaultPartitions, brokers: 1}
	for _, opt := range opts {
		opt(&o)
	}
	topics := append(platformTopics(), o.topics...)
	c, err := kfake.NewCluster(append([]kfake.Opt{
		kfake.NumBrokers(o.brokers),
		kfake.SeedTopics(o.partitions, topics...),
	}, o.kfake...)...)
	if err != nil {
		t.Fatalf("kafkatest: start kfake cluster: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// Addr returns c's bootstrap servers, comma-separated as librdkafka's
// bootstrap.servers wants them.
func Addr(c *kfake.Cluster) string { return strings.Join(c.ListenAddrs(), ",") }
