package metrics_test

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"simplemessenger/platform/metrics"
)

// exemplarOf observes once through metrics.Observe and returns the exemplar's trace id ("" for none).
func exemplarOf(t *testing.T, ctx context.Context) string {
	t.Helper()
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "h_seconds", Help: "h", Buckets: []float64{1}})
	metrics.Observe(ctx, h, 0.5)
	var m dto.Metric
	if err := h.Write(&m); err != nil {
		t.Fatal(err)
	}
	if m.GetHistogram().GetSampleCount() != 1 {
		t.Fatalf("%d observations, want 1", m.GetHistogram().GetSampleCount())
	}
	for _, b := range m.GetHistogram().GetBucket() {
		for _, l := range b.GetExemplar().GetLabel() {
			if l.GetName() == "trace_id" {
				return l.GetValue()
			}
		}
	}
	return ""
}

func TestObserveAttachesTheTraceOfASampledRecordingSpanOnly(t *testing.T) {
	tp := sdktrace.NewTracerProvider()
	sampled, span := tp.Tracer("test").Start(context.Background(), "request")
	defer span.End()
	if got := exemplarOf(t, sampled); got != span.SpanContext().TraceID().String() {
		t.Errorf("sampled span: exemplar %q, want its trace id", got)
	}

	dropped, unsampled := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.NeverSample())).Tracer("test").
		Start(context.Background(), "request")
	defer unsampled.End()
	if got := exemplarOf(t, dropped); got != "" {
		t.Errorf("unsampled span: exemplar %q, want none", got)
	}

	// The caller's sampled context with no span of ours (tracing off here): its trace would not hold us.
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	remote := trace.ContextWithRemoteSpanContext(context.Background(),
		trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled, Remote: true}))
	if got := exemplarOf(t, remote); got != "" {
		t.Errorf("remote span context only: exemplar %q, want none", got)
	}
	if got := exemplarOf(t, context.Background()); got != "" {
		t.Errorf("no span: exemplar %q", got)
	}
}

func TestRegisterOrReuseSharesTheFirstCollector(t *testing.T) {
	m := metrics.New("test")
	opts := prometheus.CounterOpts{Name: "things_total", Help: "Things."}
	first, err := metrics.RegisterOrReuse(m.Registerer, prometheus.NewCounter(opts))
	if err != nil {
		t.Fatal(err)
	}
	second, err := metrics.RegisterOrReuse(m.Registerer, prometheus.NewCounter(opts))
	if err != nil || second != first {
		t.Fatalf("second registration: %v, same collector %v", err, second == first)
	}
	if _, err := metrics.RegisterOrReuse(m.Registerer, prometheus.NewGauge(prometheus.GaugeOpts{Name: "things_total", Help: "Other."})); err == nil {
		t.Fatal("a different collector under the same name was accepted")
	}
	if c, err := metrics.RegisterOrReuse[prometheus.Counter](nil, first); err != nil || c != first {
		t.Fatal("a nil registerer must register nothing and return the collector")
	}
}
