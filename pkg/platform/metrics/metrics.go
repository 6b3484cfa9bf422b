// Package metrics holds a service's Prometheus registry and the RED (rate, errors, duration) HTTP middleware.
//
// Each App has its own registry (so several services can run in one test process), and every series carries a
// constant `service` label. Routes are labelled by their template (/api/v1/users/:id), never by raw path,
// so a scan of random URLs cannot blow up the series count.
//
// Latency histograms carry the trace id of the observed request as an exemplar (Observe), so a slow bucket
// in Grafana leads to a trace that shows why; /metrics serves them to scrapers that ask for OpenMetrics.
package metrics

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/trace"
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
//
// Requests of routes for which longLived reports true (a WebSocket's upgrade, served for as long as the
// socket lives) are counted in http_server_requests_total only: their hours would swamp the duration
// histogram and keep the in-flight gauge up, and neither says anything about how fast the API answers.
// longLived may be nil.
//
// The duration carries the request's trace id as an exemplar (see Observe); run the middleware after the
// tracing one, whose span is then in the request's context.
func (m *Metrics) Middleware(longLived func(route string) bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		route := c.FullPath()
		if route == "" {
			route = "unmatched"
		}
		if longLived != nil && longLived(route) {
			c.Next()
			m.requests.WithLabelValues(route, c.Request.Method, strconv.Itoa(c.Writer.Status())).Inc()
			return
		}
		ctx := c.Request.Context()
		start := time.Now()
		m.inflight.Inc()
		c.Next()
		m.inflight.Dec()
		code := strconv.Itoa(c.Writer.Status())
		m.requests.WithLabelValues(route, c.Request.Method, code).Inc()
		Observe(ctx, m.duration.WithLabelValues(route, c.Request.Method, code), time.Since(start).Seconds())
	}
}

// Observe records v on o with the trace id of ctx's span as an exemplar when this process records that span
// and it is sampled, that is when the trace it points to is really exported; otherwise it is a plain
// Observe. (A span that is not recording, such as the caller's when tracing is off here, is left out: its
// trace would not hold this request.)
func Observe(ctx context.Context, o prometheus.Observer, v float64) {
	span := trace.SpanFromContext(ctx)
	if sc := span.SpanContext(); sc.IsSampled() && span.IsRecording() {
		if eo, ok := o.(prometheus.ExemplarObserver); ok {
			eo.ObserveWithExemplar(v, prometheus.Labels{"trace_id": sc.TraceID().String()})
			return
		}
	}
	o.Observe(v)
}

// Handler serves the registry in the Prometheus exposition format (with exemplars when OpenMetrics is asked for).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{EnableOpenMetrics: true, Registry: m.Registry})
}

// RegisterOrReuse registers c on reg, or returns the collector of the same description registered before
// (several users of one registry share it: two token verifiers of one service count into one counter).
// A nil reg registers nothing and returns c.
func RegisterOrReuse[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	if reg == nil {
		return c, nil
	}
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing, nil
			}
		}
		return c, err
	}
	return c, nil
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

// NewCounts registers on reg a counter of events by one label, each of values existing at 0 from the start: a
// dashboard shows 0 rather than "No data", and rate() sees the first event. (A value not listed still counts
// when it first happens.) A nil reg registers nothing.
func NewCounts(reg prometheus.Registerer, name, help, label string, values ...string) (*prometheus.CounterVec, error) {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, []string{label})
	if err := Register(reg, c); err != nil {
		return nil, err
	}
	for _, v := range values {
		c.WithLabelValues(v)
	}
	return c, nil
}
