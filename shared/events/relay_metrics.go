package events

import (
	"github.com/azora-os/azora/shared/kit"
	"github.com/prometheus/client_golang/prometheus"
)

// relayMetrics are the relay's Prometheus series. Without a registerer
// they are still updated, just never exported.
type relayMetrics struct {
	published prometheus.Counter   // rows delivered to Kafka
	failed    prometheus.Counter   // deliveries Kafka refused or timed out
	backlog   prometheus.Gauge     // unsent rows, sampled every poll
	active    prometheus.Gauge     // 1 while this instance holds the relay lock
	latency   prometheus.Histogram // created_at → delivery report
}

func newRelayMetrics(reg prometheus.Registerer) (*relayMetrics, error) {
	m := &relayMetrics{
		published: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "azora_outbox_published_total",
			Help: "Outbox rows the relay delivered to Kafka (a redelivered row counts again).",
		}),
		failed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "azora_outbox_publish_failures_total",
			Help: "Outbox rows whose Kafka delivery failed; they stay unsent and are retried.",
		}),
		backlog: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "azora_outbox_backlog",
			Help: "Unsent outbox rows, sampled by the active relay every poll interval.",
		}),
		active: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "azora_outbox_relay_active",
			Help: "1 while this instance holds the relay lock and publishes, else 0.",
		}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "azora_outbox_publish_latency_seconds",
			Help:    "Time from an outbox row's created_at (database clock) to its Kafka delivery report.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
		}),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	m.published, err = kit.Register(reg, m.published)
	if err == nil {
		m.failed, err = kit.Register(reg, m.failed)
	}
	if err == nil {
		m.backlog, err = kit.Register(reg, m.backlog)
	}
	if err == nil {
		m.active, err = kit.Register(reg, m.active)
	}
	if err == nil {
		m.latency, err = kit.Register(reg, m.latency)
	}
	return m, err
}
