package events_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/azora-os/azora/shared/events"
)

func TestRelayPurgesSentRowsPastRetention(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		retention  time.Duration
		wantRemain []string // of "old", "recent", "unsent"
	}{
		{"default 7 days keeps the recent", 0, []string{"recent", "unsent"}},
		{"12 hours purges both sent", 12 * time.Hour, []string{"unsent"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := newRelayEnv(t)
			ids := map[string]string{}
			for _, name := range []string{"old", "recent", "unsent"} {
				ev := relayEvent(t, events.TopicAuth, "user-a", len(ids))
				ids[name] = ev.ID
				env.enqueue(t, ev)
			}
			if _, err := env.db.Exec(`UPDATE outbox SET sent_at = now() - CASE event_id WHEN $1 THEN interval '8 days' ELSE interval '1 day' END WHERE event_id IN ($1, $2)`, ids["old"], ids["recent"]); err != nil {
				t.Fatal(err)
			}
			r := env.relay(t, nil)
			r.Retention = tc.retention
			startRelay(t, r)
			env.waitAllSent(t, 10*time.Second)
			var remain []string
			for _, name := range []string{"old", "recent", "unsent"} {
				if env.count(t, `SELECT count(*) FROM outbox WHERE event_id = $1`, ids[name]) == 1 {
					remain = append(remain, name)
				}
			}
			if fmt.Sprint(remain) != fmt.Sprint(tc.wantRemain) {
				t.Errorf("got rows %v left, want %v", remain, tc.wantRemain)
			}
		})
	}
}

func TestRelayRunRejectsMissingConfig(t *testing.T) {
	t.Parallel()
	env := newRelayEnv(t)
	tests := []struct {
		name string
		edit func(*events.Relay)
	}{
		{"no DB", func(r *events.Relay) { r.DB = nil }},
		{"no DSN", func(r *events.Relay) { r.DSN = "" }},
		{"no brokers", func(r *events.Relay) { r.Brokers = "" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := env.relay(t, nil)
			tc.edit(r)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := r.Run(ctx); err == nil {
				t.Fatalf("got nil error, want a configuration error")
			}
		})
	}
}

func TestRelayRegistersMetrics(t *testing.T) {
	t.Parallel()
	env := newRelayEnv(t)
	reg := prometheus.NewRegistry()
	startRelay(t, env.relay(t, reg))
	want := []string{
		"azora_outbox_backlog",
		"azora_outbox_publish_failures_total",
		"azora_outbox_publish_latency_seconds",
		"azora_outbox_published_total",
		"azora_outbox_relay_active",
	}
	var got []string
	relayWait(t, 5*time.Second, "the relay's metrics registered", func() bool {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		got = got[:0]
		for _, mf := range mfs {
			got = append(got, mf.GetName())
		}
		return fmt.Sprint(got) == fmt.Sprint(want)
	})
}

func TestRelayLeavesNoGoroutines(t *testing.T) {
	before := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, before) }) // runs after the env's cleanups
	env := newRelayEnv(t)
	stop := startRelay(t, env.relay(t, nil))
	standbyStop := startRelay(t, env.relay(t, nil))
	env.enqueue(t, relayEvent(t, events.TopicAuth, "user-a", 0))
	env.waitAllSent(t, 10*time.Second)
	standbyStop()
	stop()
}
