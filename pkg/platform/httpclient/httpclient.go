// Package httpclient makes the HTTP clients services use to call each other: traced (otelhttp, so the W3C
// trace context goes along), carrying the caller's request id, with a timeout.
package httpclient

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
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

// MaxAnswer bounds what GetJSON reads of one answer.
const MaxAnswer = 4 << 20

// GetJSON gets url with client and decodes a 200 answer's JSON body into out. It returns the status; which
// other statuses are answers (a 404) and which are failures is the caller's to say. The error is for no answer
// at all or a 200 whose body does not decode. Bodies are read to the end, so the connection is reused.
func GetJSON(ctx context.Context, client *http.Client, url string, out any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Accept", "application/json")
	res, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	body := io.LimitReader(res.Body, MaxAnswer)
	defer func() { _, _ = io.Copy(io.Discard, body) }()
	if res.StatusCode == http.StatusOK {
		if err := json.NewDecoder(body).Decode(out); err != nil {
			return res.StatusCode, fmt.Errorf("decode answer of GET %s: %w", req.URL.Path, err)
		}
	}
	return res.StatusCode, nil
}
