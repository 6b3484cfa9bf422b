package broker

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"simplemessenger/platform/metrics"
)

// brokerMetrics are the collectors of the broker layer. A Conn and a Relay of one service share them through
// the service's registry; two Conns on one registry (tests, or a service with two brokers) reuse the collectors
// registered first instead of failing.
type brokerMetrics struct {
	publishes       *prometheus.CounterVec
	publishDuration *prometheus.HistogramVec
	consumed        *prometheus.CounterVec
	redeliveries    *prometheus.CounterVec
	consumers       *prometheus.GaugeVec
	connected       prometheus.Gauge
	reconnects      prometheus.Counter
	outboxBacklog   prometheus.Gauge
	outboxOldest    prometheus.Gauge
	outboxRelayed   prometheus.Counter
	outboxFailures  prometheus.Counter
}

func newMetrics(m *metrics.Metrics) *brokerMetrics {
	var reg prometheus.Registerer
	if m != nil {
		reg = m.Registerer
	}
	return &brokerMetrics{
		publishes: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "broker_publishes_total",
			Help: "Messages published, by exchange and result (ok, nack, returned, error).",
		}, []string{"exchange", "result"})),
		publishDuration: register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "broker_publish_duration_seconds",
			Help:    "Time from publishing a message to the broker's confirm, by exchange.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"exchange"})),
		consumed: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "broker_consumed_total",
			Help: "Deliveries settled, by consumer queue and result (ack, duplicate, retry, dead_letter).",
		}, []string{"queue", "result"})),
		redeliveries: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "broker_redeliveries_total",
			Help: "Deliveries flagged as redelivered by the broker, by consumer queue.",
		}, []string{"queue"})),
		consumers: register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "broker_consumers",
			Help: "Consumers of this process receiving deliveries, by consumer queue (0 while the queue is not " +
				"being consumed: broker down, reconnecting, or the consumer failing to start).",
		}, []string{"queue"})),
		connected: register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "broker_connected",
			Help: "Broker connections up (1 per healthy Conn; 0 means the service cannot publish or consume).",
		})),
		reconnects: register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "broker_reconnects_total",
			Help: "Connections re-established after a loss.",
		})),
		outboxBacklog: register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "outbox_backlog",
			Help: "Outbox rows not yet published.",
		})),
		outboxOldest: register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "outbox_oldest_pending_age_seconds",
			Help: "Age of the oldest outbox row not yet published (0 when none).",
		})),
		outboxRelayed: register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "outbox_relayed_total",
			Help: "Outbox rows published and marked sent by the relay.",
		})),
		outboxFailures: register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "outbox_relay_failures_total",
			Help: "Relay passes that stopped on an error (rows stay pending and are retried).",
		})),
	}
}

// register adds c to reg, or returns the collector already registered under the same description. With a nil
// reg the collector works but is not exported (no metrics given).
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if reg == nil {
		return c
	}
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		panic(err)
	}
	return c
}
