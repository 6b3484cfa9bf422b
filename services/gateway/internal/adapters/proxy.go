package adapters

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"simplemessenger/platform/apierr"
	"simplemessenger/platform/logging"
	"simplemessenger/platform/server"
)

// StatusClientClosedRequest is recorded (never really sent) when the client went away before the upstream
// answered, so metrics tell those apart from gateway failures.
const StatusClientClosedRequest = 499

// Kinds of forwarding failure (the gateway_upstream_errors_total label).
const (
	ErrorUnavailable  = "unavailable"
	ErrorTimeout      = "timeout"
	ErrorBodyTooLarge = "body_too_large"
	ErrorClientGone   = "client_gone"
)

var errorKinds = []string{ErrorUnavailable, ErrorTimeout, ErrorBodyTooLarge, ErrorClientGone}

// ProxyErrors counts the requests the gateway answered itself because forwarding failed, by upstream and
// kind (unavailable, timeout, body_too_large, client_gone).
type ProxyErrors struct{ vec *prometheus.CounterVec }

// NewProxyErrors registers the counter on reg.
func NewProxyErrors(reg prometheus.Registerer) (*ProxyErrors, error) {
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "gateway_upstream_errors_total",
		Help: "Requests the gateway could not forward, by upstream and kind of failure.",
	}, []string{"upstream", "kind"})
	if err := reg.Register(vec); err != nil {
		return nil, err
	}
	return &ProxyErrors{vec: vec}, nil
}

func (p *ProxyErrors) inc(upstream, kind string) {
	if p != nil {
		p.vec.WithLabelValues(upstream, kind).Inc()
	}
}

// ProxyConfig describes the proxy to one upstream service.
type ProxyConfig struct {
	// Name labels metrics and logs ("profiles").
	Name   string
	Target *url.URL
	// Transport carries the trace context and request id (the platform's).
	Transport http.RoundTripper
	// Timeout bounds the whole exchange with the upstream, the response body included.
	Timeout time.Duration
	// ClientAddress is the client's address as the gateway determined it (sent as X-Real-IP).
	ClientAddress func(*http.Request) string
	// WriteError answers the client in the contract format when forwarding failed.
	WriteError func(http.ResponseWriter, *http.Request, *apierr.Error)
	Errors     *ProxyErrors
	Log        *slog.Logger
}

// Proxy forwards requests to one upstream unchanged (path, query, body, end-to-end headers), with the
// forwarding headers set by the gateway.
type Proxy struct {
	cfg ProxyConfig
	rp  *httputil.ReverseProxy
}

// NewProxy builds the proxy.
func NewProxy(cfg ProxyConfig) *Proxy {
	p := &Proxy{cfg: cfg}
	if cfg.Errors != nil {
		// Every series exists at 0 from the start: a dashboard shows 0 rather than "No data", and rate() sees
		// the first failure.
		for _, kind := range errorKinds {
			cfg.Errors.vec.WithLabelValues(cfg.Name, kind)
		}
	}
	p.rp = &httputil.ReverseProxy{
		Rewrite:        p.rewrite,
		Transport:      cfg.Transport,
		ModifyResponse: modifyResponse,
		ErrorHandler:   p.handleError,
		ErrorLog:       slog.NewLogLogger(cfg.Log.Handler(), slog.LevelWarn),
		BufferPool:     copyBuffers,
	}
	return p
}

// copyBuffers lends ReverseProxy the buffers it copies response bodies through, which it would otherwise
// allocate (32 KiB) for every request.
var copyBuffers = &bufferPool{}

type bufferPool struct{ pool sync.Pool }

func (b *bufferPool) Get() []byte {
	if buf, ok := b.pool.Get().(*[]byte); ok {
		return *buf
	}
	return make([]byte, 32<<10)
}

func (b *bufferPool) Put(buf []byte) { b.pool.Put(&buf) }

// ServeHTTP forwards r within the upstream timeout.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p.cfg.Timeout > 0 {
		ctx, cancel := context.WithTimeout(r.Context(), p.cfg.Timeout)
		defer cancel()
		r = r.WithContext(ctx)
	}
	p.rp.ServeHTTP(w, r)
}

// rewrite runs on the outgoing copy. ReverseProxy has already removed hop-by-hop headers and any
// client-sent Forwarded/X-Forwarded-* from it.
func (p *Proxy) rewrite(pr *httputil.ProxyRequest) {
	pr.SetURL(p.cfg.Target)
	// X-Forwarded-For: the incoming list (Rewrite mode drops it from Out) with the peer the gateway saw
	// appended, as proxies do; it is informative only, services take the client from X-Real-IP.
	// X-Forwarded-Host/Proto come along.
	pr.Out.Header["X-Forwarded-For"] = pr.In.Header["X-Forwarded-For"]
	pr.SetXForwarded()
	// A client cannot choose its own X-Real-IP: it is always the gateway's view.
	pr.Out.Header.Set("X-Real-IP", p.cfg.ClientAddress(pr.In))
	// The id on the response (the client's if it was sane, else a generated one) is the one that goes on.
	if id := logging.RequestID(pr.In.Context()); id != "" {
		pr.Out.Header.Set(server.RequestIDHeader, id)
	}
}

// modifyResponse drops the upstream's X-Request-ID: the gateway already put the same id on the response,
// and ReverseProxy would add a second copy.
func modifyResponse(res *http.Response) error {
	res.Header.Del(server.RequestIDHeader)
	return nil
}

func (p *Proxy) handleError(w http.ResponseWriter, r *http.Request, err error) {
	ctx := r.Context()
	var maxErr *http.MaxBytesError
	var netErr net.Error
	switch {
	case errors.As(err, &maxErr):
		// A body without Content-Length that grew past the limit while being streamed to the upstream.
		p.cfg.Errors.inc(p.cfg.Name, ErrorBodyTooLarge)
		p.cfg.WriteError(w, r, server.TooLarge(maxErr.Limit))
	case errors.Is(ctx.Err(), context.Canceled):
		// The client went away; nobody is left to answer.
		p.cfg.Errors.inc(p.cfg.Name, ErrorClientGone)
		p.cfg.Log.DebugContext(ctx, "client went away during forwarding", "upstream", p.cfg.Name, "error", err)
		w.WriteHeader(StatusClientClosedRequest)
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) ||
		(errors.As(err, &netErr) && netErr.Timeout()):
		p.cfg.Errors.inc(p.cfg.Name, ErrorTimeout)
		p.cfg.Log.WarnContext(ctx, "upstream timed out", "upstream", p.cfg.Name, "error", err)
		p.cfg.WriteError(w, r, apierr.New(http.StatusGatewayTimeout, "gateway_timeout", "the "+p.cfg.Name+" service did not answer in time"))
	default:
		p.cfg.Errors.inc(p.cfg.Name, ErrorUnavailable)
		p.cfg.Log.WarnContext(ctx, "upstream unavailable", "upstream", p.cfg.Name, "error", err)
		p.cfg.WriteError(w, r, apierr.Unavailable("the "+p.cfg.Name+" service is unavailable; try again shortly"))
	}
}
