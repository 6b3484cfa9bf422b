// Package metrics holds a service's Prometheus registry and the RED (rate, errors, duration) HTTP middleware.
//
// Each App has its own registry (so several services can run in one test process), and every series carries a
// constant `service` label. Routes are labelled by their template (/api/v1/users/:id), never by raw path,
// so a scan of random URLs cannot blow up the series count.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics is one service's registry.
type Metrics struct {
	// Registry gathers everything; serve it with Handler.
	Registry *prometheus.Registry
	// Registerer adds the service label; register the service's own collectors here.
	Registerer prometheus.Registerer

	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inflight prometheus.Gauge
}

// New makes the registry of the named service with Go runtime and process collectors.
func New(service string) *Metrics {
	reg := prometheus.NewRegistry()
	r := prometheus.WrapRegistererWith(prometheus.Labels{"service": service}, reg)
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := &Metrics{
		Registry:   reg,
		Registerer: r,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "http_server_requests_total",
			Help: "HTTP requests served, by route template, method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "http_server_request_duration_seconds",
			Help:    "Time to serve an HTTP request, by route template, method and status code.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "method", "code"}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "http_server_requests_in_flight",
			Help: "HTTP requests being served now.",
		}),
	}
	r.MustRegister(m.requests, m.duration, m.inflight)
	return m
}

// Middleware records every request's outcome under its route template ("unmatched" for unknown routes).
func (m *Metrics) Middleware() gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		m.inflight.Inc()
		c.Next()
		m.inflight.Dec()
		route := c.FullPath()
		if route == "" {
			route = "unmatched"
		}
		code := strconv.Itoa(c.Writer.Status())
		m.requests.WithLabelValues(route, c.Request.Method, code).Inc()
		m.duration.WithLabelValues(route, c.Request.Method, code).Observe(time.Since(start).Seconds())
	}
}

// Handler serves the registry in the Prometheus exposition format (with exemplars when OpenMetrics is asked for).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{EnableOpenMetrics: true, Registry: m.Registry})
}

// Register registers a service's own collectors on reg, a service App's Metrics.Registerer. A nil reg
// registers nothing: unit tests build the collectors without exporting them.
func Register(reg prometheus.Registerer, cs ...prometheus.Collector) error {
	if reg == nil {
		return nil
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}
