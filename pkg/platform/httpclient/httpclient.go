// Package httpclient makes the HTTP clients services use to call each other: traced (otelhttp, so the W3C
// trace context goes along), carrying the caller's request id, with a timeout.
package httpclient

import (
	"net/http"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"

	"simplemessenger/platform/logging"
)

// New returns a client whose requests carry the trace context and X-Request-ID of their context.
func New(timeout time.Duration) *http.Client {
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.MaxIdleConnsPerHost = 64
	return &http.Client{Timeout: timeout, Transport: otelhttp.NewTransport(requestIDTransport{base})}
}

type requestIDTransport struct{ next http.RoundTripper }

func (t requestIDTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if id := logging.RequestID(r.Context()); id != "" && r.Header.Get("X-Request-ID") == "" {
		r = r.Clone(r.Context())
		r.Header.Set("X-Request-ID", id)
	}
	return t.next.RoundTrip(r)
}
