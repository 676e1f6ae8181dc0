// Command devkafka is the Kafka-protocol broker `make run` starts when
// KAFKA_BROKERS is unset: an in-process kfake cluster
// (github.com/twmb/franz-go/pkg/kfake) with one broker listening on -addr
// (env KAFKA_DEV_ADDR, default 127.0.0.1:9092) and the platform topics
// azora.auth, azora.education and azora.finance created with 12 partitions
// and 7-day retention, as in production. It prints
//
//	dev kafka broker listening on 127.0.0.1:9092 (...)
//
// once clients can connect, and stops cleanly on SIGINT or SIGTERM.
//
// kfake is a test double, not Kafka. What it does not do here:
//   - persist: everything lives in memory and is gone when devkafka stops,
//     unless -data (env KAFKA_DEV_DATA) names a directory to keep it in;
//   - enforce retention by itself: devkafka asks it to apply retention.ms
//     every -retention-check (default 1m), so the 7 days hold only while
//     it runs;
//   - replicate or fail over: one broker, replication factor 1, so acks=all
//     means the one copy;
//   - perform like Kafka: no page-cache tuning, quotas or rack awareness, so
//     measure throughput on real brokers.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Production's partition count and retention (DESIGN.md, Events).
const (
	partitions  = 12
	retentionMS = 7 * 24 * 60 * 60 * 1000
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "devkafka:", err)
		os.Exit(1)
	}
}

// run starts the broker, reports its address on out and serves until ctx
// is done.
func run(ctx context.Context, args []string, getenv func(string) string, out io.Writer) error {
	fs := flag.NewFlagSet("devkafka", flag.ContinueOnError)
	addr := fs.String("addr", envOr(getenv, "KAFKA_DEV_ADDR", "127.0.0.1:9092"), "host:port to listen on (port 0: any free port)")
	data := fs.String("data", getenv("KAFKA_DEV_DATA"), "directory to persist the log in (default: memory only)")
	check := fs.Duration("retention-check", time.Minute, "how often retention.ms is applied")
	if err := fs.Parse(args); err != nil {
		return err
	}
	host, portStr, err := net.SplitHostPort(*addr)
	if err != nil {
		return fmt.Errorf("-addr %q: %w", *addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return fmt.Errorf("-addr %q: bad port", *addr)
	}
	if *check <= 0 {
		return errors.New("-retention-check must be positive")
	}

	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.Ports(port),
		// kfake listens on 127.0.0.1; listen on the host asked for instead,
		// which is also the address it advertises in metadata.
		kfake.ListenFn(func(network, _ string) (net.Listener, error) {
			return net.Listen(network, net.JoinHostPort(host, portStr))
		}),
	}
	if *data != "" {
		opts = append(opts, kfake.DataDir(*data))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return fmt.Errorf("start kfake on %s: %w", *addr, err)
	}
	defer c.Close()
	// events.Topics, repeated: importing shared/events would pull in
	// confluent-kafka-go and cgo for a command that needs neither.
	topics := []string{"azora.auth", "azora.education", "azora.finance"}
	retention := strconv.Itoa(retentionMS)
	for _, t := range topics {
		if c.TopicInfo(t) != nil {
			continue // reloaded from -data
		}
		if err := c.CreateTopic(t, partitions, map[string]string{"retention.ms": retention}); err != nil {
			return fmt.Errorf("create topic %s: %w", t, err)
		}
	}
	listening := c.ListenAddrs()[0]
	fmt.Fprintf(out, "dev kafka broker listening on %s (topics %v, %d partitions, in %s)\n",
		listening, topics, partitions, storage(*data))

	tick := time.NewTicker(*check)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			fmt.Fprintln(out, "dev kafka broker stopping")
			return nil
		case <-tick.C:
			c.ApplyRetention()
		}
	}
}

func storage(dir string) string {
	if dir == "" {
		return "memory"
	}
	return dir
}

func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}
