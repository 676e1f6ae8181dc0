package events

import (
	"errors"
	"strconv"
	"time"

	"github.com/azora-os/azora/shared/kit"
	"github.com/prometheus/client_golang/prometheus"
)

// consumerMetrics are one consumer group's collectors. They carry the
// group as a constant "consumer" label, so several groups in one process
// share a registry; a second Run of the same group reuses the collectors
// already registered.
type consumerMetrics struct {
	processed *prometheus.CounterVec
	handler   *prometheus.HistogramVec
	lagGauge  *prometheus.GaugeVec
}

func newConsumerMetrics(reg prometheus.Registerer, group string) (*consumerMetrics, error) {
	m := &consumerMetrics{
		processed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "azora", Subsystem: "events_consumer", Name: "processed_total",
			Help: "Events handled by outcome: applied, duplicate, dead_lettered or skipped.",
		}, []string{"type", "outcome"}),
		handler: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "azora", Subsystem: "events_consumer", Name: "handler_seconds",
			Help:    "Time spent in event handlers, per attempt.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"type"}),
		lagGauge: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "azora", Subsystem: "events_consumer", Name: "lag",
			Help: "Messages in the partition after the last one applied.",
		}, []string{"topic", "partition"}),
	}
	if reg == nil {
		return m, nil
	}
	reg = prometheus.WrapRegistererWith(prometheus.Labels{"consumer": group}, reg)
	var err1, err2, err3 error
	m.processed, err1 = kit.Register(reg, m.processed)
	m.handler, err2 = kit.Register(reg, m.handler)
	m.lagGauge, err3 = kit.Register(reg, m.lagGauge)
	return m, errors.Join(err1, err2, err3)
}

func (m *consumerMetrics) outcome(typ, outcome string) {
	m.processed.WithLabelValues(typ, outcome).Inc()
}

func (m *consumerMetrics) latency(typ string, d time.Duration) {
	m.handler.WithLabelValues(typ).Observe(d.Seconds())
}

func (m *consumerMetrics) lag(topic string, partition int32, n int64) {
	m.lagGauge.WithLabelValues(topic, strconv.Itoa(int(partition))).Set(float64(max(n, 0)))
}

func (m *consumerMetrics) forget(topic string, partition int32) {
	m.lagGauge.DeleteLabelValues(topic, strconv.Itoa(int(partition)))
}
