// Package ports holds the gateway's inbound side: the public routes with their middleware chains, and the
// broker events it listens to.
package ports

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"simplemessenger/platform/apierr"
	"simplemessenger/platform/authn"
	"simplemessenger/platform/metrics"
	"simplemessenger/platform/server"

	"simplemessenger/services/gateway/internal/domain"
	"simplemessenger/services/gateway/web"
)

// RevocationChecker tells whether a session's tokens must be refused.
type RevocationChecker interface {
	IsRevoked(sessionID string) bool
}

// HTTP is everything the public routes need.
type HTTP struct {
	// Upstreams forward a request to the service owning its route.
	Upstreams   map[domain.Upstream]http.Handler
	Verifier    *authn.Verifier
	Revocations RevocationChecker
	// AddressLimiter and UserLimiter may be nil (no limit).
	AddressLimiter *domain.RateLimiter
	UserLimiter    *domain.RateLimiter
	// Profiles may be nil (no cache).
	Profiles       *domain.ProfileCache
	TrustedProxies domain.TrustedProxies
	Now            func() time.Time
	Metrics        *Metrics
	// WebSocket, when set, serves the push connection at domain.WebSocketPath.
	WebSocket *WebSocket
	// Web, when set, serves the browser client at "/" and its files under "/assets/".
	Web *web.Site
}

// Register puts routes on the app's router, each with its own chain: client address and per-address limit
// (for every request, unknown routes included), then for routes that need a token its verification, the
// revocation check and the per-user limit, then the profile cache where the route allows it, then the proxy.
func (h *HTTP) Register(a *server.App, routes []domain.Route) error {
	r := a.Router
	// An API has no use for redirects to a "fixed" path: an unknown path is simply 404.
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	// Router-wide middleware reaches the NoRoute/NoMethod handlers too, so scans are rate-limited as well.
	r.Use(h.clientAddress, h.limitAddress)
	for _, rt := range routes {
		up, ok := h.Upstreams[rt.To]
		if !ok {
			return fmt.Errorf("route %s %s: no upstream %q", rt.Method, rt.Path, rt.To)
		}
		var chain []gin.HandlerFunc
		if !rt.Public {
			chain = append(chain, authn.Middleware(h.Verifier), h.refuseRevoked, h.limitUser)
		}
		if rt.CachesProfile && h.Profiles != nil {
			chain = append(chain, h.profileCache)
		}
		chain = append(chain, forward(up))
		if rt.BodyLimit > 0 {
			a.SetBodyLimit(rt.Path, rt.BodyLimit)
		}
		r.Handle(rt.Method, rt.Path, chain...)
	}
	if ws := h.WebSocket; ws != nil {
		// Served here, not forwarded: the same checks as any authenticated route (the token may also come in
		// the query string, for browsers), all before the upgrade.
		a.LongLived(domain.WebSocketPath)
		r.GET(domain.WebSocketPath, ws.traceConnect, ws.checkOrigin, ws.authenticate(h.Verifier), h.refuseRevoked,
			h.limitUser, requireUpgrade, ws.serve)
	}
	if h.Web != nil {
		// Only "/" and "/assets/*": every other path, /api/v1 included, keeps the contract's 404/405 answers.
		for _, m := range []string{http.MethodGet, http.MethodHead} {
			r.Handle(m, web.PagePath, h.serveWeb)
			r.Handle(m, web.AssetsPrefix+"*file", h.serveWeb)
		}
	}
	return nil
}

func (h *HTTP) serveWeb(c *gin.Context) {
	f, ok := h.Web.Find(c.Request.URL.Path)
	if !ok {
		apierr.Write(c, apierr.NotFound("not_found", "no such route"))
		return
	}
	web.Serve(c.Writer, c.Request, f)
}

type clientAddressKey struct{}

// ClientAddress is the client's address determined for the request (see domain.ClientAddress).
func ClientAddress(r *http.Request) string {
	if a, ok := r.Context().Value(clientAddressKey{}).(string); ok {
		return a
	}
	return domain.ClientAddress(r.RemoteAddr, nil, nil)
}

func (h *HTTP) clientAddress(c *gin.Context) {
	addr := domain.ClientAddress(c.Request.RemoteAddr, c.Request.Header.Values("X-Forwarded-For"), h.TrustedProxies)
	c.Request = c.Request.WithContext(context.WithValue(c.Request.Context(), clientAddressKey{}, addr))
	c.Next()
}

func (h *HTTP) limitAddress(c *gin.Context) {
	if ok, retry := h.AddressLimiter.Allow(ClientAddress(c.Request), h.Now()); !ok {
		h.Metrics.rateLimited(limitAddress)
		apierr.Write(c, apierr.TooManyRequests("too many requests from this address", retry))
		return
	}
	c.Next()
}

func (h *HTTP) refuseRevoked(c *gin.Context) {
	claims := authn.FromContext(c.Request.Context())
	if claims == nil || h.Revocations.IsRevoked(claims.SessionID) {
		apierr.Write(c, apierr.Unauthorized("the session of this access token has been revoked"))
		return
	}
	c.Next()
}

func (h *HTTP) limitUser(c *gin.Context) {
	claims := authn.FromContext(c.Request.Context())
	if ok, retry := h.UserLimiter.Allow(claims.UserID(), h.Now()); !ok {
		h.Metrics.rateLimited(limitUser)
		apierr.Write(c, apierr.TooManyRequests("too many requests for this user", retry))
		return
	}
	c.Next()
}

// maxCachedProfile bounds what the cache copies out of a response; a profile is far smaller.
const maxCachedProfile = 16 << 10

// profileCache serves a fresh cached public profile, or forwards and keeps a 200 answer. It runs after the
// token check, so the cache never answers a caller the profiles service would have refused.
func (h *HTTP) profileCache(c *gin.Context) {
	id := c.Param("id")
	if p, ok := h.Profiles.Get(id, h.Now()); ok {
		h.Metrics.profileCache(cacheHit)
		c.Data(http.StatusOK, p.ContentType, p.Body)
		c.Abort()
		return
	}
	h.Metrics.profileCache(cacheMiss)
	epoch := h.Profiles.Begin()
	rec := &recorder{ResponseWriter: c.Writer}
	c.Writer = rec
	c.Next()
	c.Writer = rec.ResponseWriter
	if rec.Status() == http.StatusOK && !rec.overflow && json.Valid(rec.body.Bytes()) {
		h.Profiles.Put(id, domain.CachedProfile{
			ContentType: rec.Header().Get("Content-Type"),
			Body:        bytes.Clone(rec.body.Bytes()),
		}, epoch, h.Now())
	}
}

// recorder copies a response body as it is written (up to maxCachedProfile).
type recorder struct {
	gin.ResponseWriter
	body     bytes.Buffer
	overflow bool
}

func (r *recorder) Write(b []byte) (int, error) {
	r.keep(b)
	return r.ResponseWriter.Write(b)
}

func (r *recorder) WriteString(s string) (int, error) {
	r.keep([]byte(s))
	return r.ResponseWriter.WriteString(s)
}

func (r *recorder) keep(b []byte) {
	if r.overflow || r.body.Len()+len(b) > maxCachedProfile {
		r.overflow = true
		return
	}
	r.body.Write(b)
}

type ginContextKey struct{}

// forward hands the request to the upstream's proxy, which answers through WriteError when it fails.
func forward(up http.Handler) gin.HandlerFunc {
	return func(c *gin.Context) {
		up.ServeHTTP(c.Writer, c.Request.WithContext(context.WithValue(c.Request.Context(), ginContextKey{}, c)))
	}
}

// WriteError answers a request that forward passed to a proxy in the contract format.
func WriteError(w http.ResponseWriter, r *http.Request, e *apierr.Error) {
	if c, ok := r.Context().Value(ginContextKey{}).(*gin.Context); ok {
		apierr.Write(c, e)
		return
	}
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", fmt.Sprint(e.RetryAfter))
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(e.Status)
	_ = json.NewEncoder(w).Encode(apierr.Body{Error: e})
}

// The label values of the gateway's counters.
const (
	limitAddress = "address"
	limitUser    = "user"
	cacheHit     = "hit"
	cacheMiss    = "miss"
)

// Metrics are the gateway's own counters.
type Metrics struct {
	limited *prometheus.CounterVec
	cache   *prometheus.CounterVec
}

// NewMetrics registers the gateway's counters on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		limited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_rate_limited_requests_total",
			Help: "Requests refused with 429, by limit (address or user).",
		}, []string{"limit"}),
		cache: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gateway_profile_cache_requests_total",
			Help: "Public profile reads, by cache result (hit or miss).",
		}, []string{"result"}),
	}
	if err := metrics.Register(reg, m.limited, m.cache); err != nil {
		return nil, err
	}
	// Every series exists at 0 from the start (a dashboard shows 0, not "No data").
	for _, l := range []string{limitAddress, limitUser} {
		m.limited.WithLabelValues(l)
	}
	for _, r := range []string{cacheHit, cacheMiss} {
		m.cache.WithLabelValues(r)
	}
	return m, nil
}

func (m *Metrics) rateLimited(limit string) {
	if m != nil {
		m.limited.WithLabelValues(limit).Inc()
	}
}

func (m *Metrics) profileCache(result string) {
	if m != nil {
		m.cache.WithLabelValues(result).Inc()
	}
}
