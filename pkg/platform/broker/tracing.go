package broker

import (
	"context"

	amqp "github.com/rabbitmq/amqp091-go"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// instrumentation names the tracer of this package in exported spans.
const instrumentation = "simplemessenger/platform/broker"

// tracer is looked up on every use rather than cached, so a tracer provider installed after this package was
// initialised (telemetry.Setup in main, an in-memory one in tests) is the one that records.
func tracer() trace.Tracer { return otel.Tracer(instrumentation) }

// tableCarrier lets the global propagator read and write W3C trace context (traceparent, tracestate,
// baggage) in AMQP message headers.
type tableCarrier amqp.Table

var _ propagation.TextMapCarrier = tableCarrier{}

func (c tableCarrier) Get(key string) string {
	switch v := c[key].(type) {
	case string:
		return v
	case []byte:
		// Other clients may send header values as byte arrays.
		return string(v)
	}
	return ""
}

func (c tableCarrier) Set(key, value string) { c[key] = value }

func (c tableCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}

// traceHeaders captures the trace context of ctx in a plain map (what the outbox stores).
func traceHeaders(ctx context.Context) map[string]string {
	carrier := propagation.MapCarrier{}
	otel.GetTextMapPropagator().Inject(ctx, carrier)
	return carrier
}

// withTraceHeaders returns ctx with the trace context stored in headers as its (remote) parent.
func withTraceHeaders(ctx context.Context, headers map[string]string) context.Context {
	if len(headers) == 0 {
		return ctx
	}
	return otel.GetTextMapPropagator().Extract(ctx, propagation.MapCarrier(headers))
}
