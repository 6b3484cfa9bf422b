// Package httpclient makes the HTTP clients services use to call each other: traced (otelhttp, so the W3C
// trace context goes along), carrying the caller's request id, with a timeout.
package httpclient

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
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

// Service is another service's API at a base URL (http://host:port), called with a client of New.
type Service struct {
	baseURL string
	client  *http.Client
}

// NewService calls the API at baseURL with client.
func NewService(baseURL string, client *http.Client) Service {
	return Service{baseURL: strings.TrimRight(baseURL, "/"), client: client}
}

// GetJSON is GetJSON of path (with its query, escaped by the caller) on the service.
func (s Service) GetJSON(ctx context.Context, path string, out any) (int, error) {
	return GetJSON(ctx, s.client, s.baseURL+path, out)
}

// PostJSON is PostJSON to path on the service.
func (s Service) PostJSON(ctx context.Context, path string, in, out any) (int, error) {
	return PostJSON(ctx, s.client, s.baseURL+path, in, out)
}

// MaxAnswer bounds what GetJSON and PostJSON read of one answer.
const MaxAnswer = 4 << 20

// GetJSON gets url with client and decodes a 200 answer's JSON body into out. It returns the status; which
// other statuses are answers (a 404) and which are failures is the caller's to say. The error is for no answer
// at all or a 200 whose body does not decode. Bodies are read to the end, so the connection is reused.
func GetJSON(ctx context.Context, client *http.Client, url string, out any) (int, error) {
	return exchange(ctx, client, http.MethodGet, url, nil, out)
}

// PostJSON posts in, encoded as JSON (nil: no body), to url with client, and decodes a 200 answer's JSON body into out (nil:
// the body is not read). Statuses and errors are as for GetJSON.
func PostJSON(ctx context.Context, client *http.Client, url string, in, out any) (int, error) {
	if in == nil {
		return exchange(ctx, client, http.MethodPost, url, nil, out) // no body at all, not "null"
	}
	body, err := json.Marshal(in)
	if err != nil {
		return 0, fmt.Errorf("encode request of POST %s: %w", url, err)
	}
	return exchange(ctx, client, http.MethodPost, url, body, out)
}

func exchange(ctx context.Context, client *http.Client, method, url string, in []byte, out any) (int, error) {
	var reqBody io.Reader
	if in != nil {
		reqBody = bytes.NewReader(in)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, reqBody)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	body := io.LimitReader(res.Body, MaxAnswer)
	defer func() { _, _ = io.Copy(io.Discard, body) }()
	if res.StatusCode == http.StatusOK && out != nil {
		if err := json.NewDecoder(body).Decode(out); err != nil {
			return res.StatusCode, fmt.Errorf("decode answer of %s %s: %w", method, req.URL.Path, err)
		}
	}
	return res.StatusCode, nil
}
