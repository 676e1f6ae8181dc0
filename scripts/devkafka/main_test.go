package main

import (
	"bufio"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestRunServesPlatformTopics(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0"}, func(string) string { return "" }, pw)
		pw.Close()
	}()
	lines := bufio.NewScanner(pr)
	if !lines.Scan() {
		t.Fatalf("got no output, want the listening line (run: %v)", <-done)
	}
	const prefix = "dev kafka broker listening on "
	line := lines.Text()
	if !strings.HasPrefix(line, prefix) {
		t.Fatalf("got first line %q, want it to start with %q", line, prefix)
	}
	addr, _, _ := strings.Cut(strings.TrimPrefix(line, prefix), " ")
	if !strings.HasPrefix(addr, "127.0.0.1:") || addr == "127.0.0.1:0" {
		t.Fatalf("got address %q, want 127.0.0.1 with the port chosen", addr)
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
	defer rcancel()
	resp, err := kmsg.NewPtrMetadataRequest().RequestWith(rctx, cl)
	if err != nil {
		t.Fatalf("metadata: %v", err)
	}
	got := map[string]int{}
	for _, tp := range resp.Topics {
		got[*tp.Topic] = len(tp.Partitions)
	}
	for _, topic := range []string{"azora.auth", "azora.education", "azora.finance"} {
		if got[topic] != 12 {
			t.Errorf("topic %s: got %d partitions, want 12", topic, got[topic])
		}
	}
	if err := cl.ProduceSync(rctx, &kgo.Record{Topic: "azora.auth", Key: []byte("k"), Value: []byte("v")}).FirstErr(); err != nil {
		t.Errorf("produce: %v", err)
	}

	go io.Copy(io.Discard, pr)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run: got %v after cancel, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("run did not return within 5s of cancel")
	}
}

func TestRunRejectsBadSettings(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
	}{
		{"address without port", []string{"-addr", "127.0.0.1"}, nil},
		{"port out of range", []string{"-addr", "127.0.0.1:70000"}, nil},
		{"bad env address", nil, map[string]string{"KAFKA_DEV_ADDR": "nope"}},
		{"zero retention check", []string{"-addr", "127.0.0.1:0", "-retention-check", "0s"}, nil},
		{"unknown flag", []string{"-bogus"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := run(context.Background(), tc.args, func(k string) string { return tc.env[k] }, io.Discard)
			if err == nil {
				t.Fatal("got nil error, want one")
			}
		})
	}
}
