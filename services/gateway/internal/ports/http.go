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

// ProfileCache keeps public profiles for a short time, keyed by user id (the platform's cache.Cache). Put
// keeps a profile only if nothing invalidated the id since Begin.
type ProfileCache interface {
	Get(id string, now time.Time) (domain.CachedProfile, bool)
	Begin() uint64
	Put(id string, p domain.CachedProfile, epoch uint64, now time.Time)
}

// Limits are the rate limits of the public routes, per client address (before the token is checked) and per
// user (after); nil is no limit.
type Limits struct {
	Address, User *domain.RateLimiter
}

// HTTPServer serves the public routes.
type HTTPServer struct {
	upstreams   map[domain.Upstream]http.Handler
	verifier    *authn.Verifier
	revocations RevocationChecker
	limits      Limits
	trusted     domain.TrustedProxies
	metrics     *Metrics
	now         func() time.Time

	profiles  ProfileCache // nil: no cache
	webSocket *WebSocket   // nil: no push connection
	web       *web.Site    // nil: no browser client
}

// NewHTTPServer forwards each public route to its upstream, after verifier and revocations have checked its
// token and within limits; trusted are the proxies whose X-Forwarded-For is believed. Its counters are
// registered on reg.
func NewHTTPServer(reg prometheus.Registerer, upstreams map[domain.Upstream]http.Handler, verifier *authn.Verifier,
	revocations RevocationChecker, limits Limits, trusted domain.TrustedProxies) (*HTTPServer, error) {
	m, err := NewMetrics(reg)
	if err != nil {
		return nil, err
	}
	return &HTTPServer{upstreams: upstreams, verifier: verifier, revocations: revocations, limits: limits,
		trusted: trusted, metrics: m, now: time.Now}, nil
}

// CacheProfiles serves public profiles from c where a route allows it.
func (h *HTTPServer) CacheProfiles(c ProfileCache) { h.profiles = c }

// ServeWebSocket serves the push connection at domain.WebSocketPath.
func (h *HTTPServer) ServeWebSocket(ws *WebSocket) { h.webSocket = ws }

// ServeWeb serves the browser client at "/" and its files under "/assets/".
func (h *HTTPServer) ServeWeb(site *web.Site) { h.web = site }

// Register puts routes on the app's router, each with its own chain: client address and per-address limit
// (for every request, unknown routes included), then for routes that need a token its verification, the
// revocation check and the per-user limit, then the profile cache where the route allows it, then the proxy.
func (h *HTTPServer) Register(a *server.App, routes []domain.Route) error {
	r := a.Router
	// An API has no use for redirects to a "fixed" path: an unknown path is simply 404.
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	// Router-wide middleware reaches the NoRoute/NoMethod handlers too, so scans are rate-limited as well.
	r.Use(h.clientAddress, h.limitAddress)
	for _, rt := range routes {
		up, ok := h.upstreams[rt.To]
		if !ok {
			return fmt.Errorf("route %s %s: no upstream %q", rt.Method, rt.Path, rt.To)
		}
		var chain []gin.HandlerFunc
		if !rt.Public {
			chain = append(chain, authn.Middleware(h.verifier), h.refuseRevoked, h.limitUser)
		}
		if rt.CachesProfile && h.profiles != nil {
			chain = append(chain, h.profileCache)
		}
		chain = append(chain, forward(up))
		if rt.BodyLimit > 0 {
			a.SetBodyLimit(rt.Path, rt.BodyLimit)
		}
		r.Handle(rt.Method, rt.Path, chain...)
	}
	if ws := h.webSocket; ws != nil {
		// Served here, not forwarded: the same checks as any authenticated route (the token may also come in
		// the query string, for browsers), all before the upgrade.
		a.LongLived(domain.WebSocketPath)
		r.GET(domain.WebSocketPath, ws.traceConnect, ws.checkOrigin, ws.authenticate(h.verifier), h.refuseRevoked,
			h.limitUser, requireUpgrade, ws.serve)
	}
	if h.web != nil {
		// Only "/" and "/assets/*": every other path, /api/v1 included, keeps the contract's 404/405 answers.
		for _, m := range []string{http.MethodGet, http.MethodHead} {
			r.Handle(m, web.PagePath, h.serveWeb)
			r.Handle(m, web.AssetsPrefix+"*file", h.serveWeb)
		}
	}
	return nil
}

func (h *HTTPServer) serveWeb(c *gin.Context) {
	f, ok := h.web.Find(c.Request.URL.Path)
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

func (h *HTTPServer) clientAddress(c *gin.Context) {
	addr := domain.ClientAddress(c.Request.RemoteAddr, c.Request.Header.Values("X-Forwarded-For"), h.trusted)
	c.Request = c.Request.WithContext(context.WithValue(c.Request.Context(), clientAddressKey{}, addr))
	c.Next()
}

func (h *HTTPServer) limitAddress(c *gin.Context) {
	if ok, retry := h.limits.Address.Allow(ClientAddress(c.Request), h.now()); !ok {
		h.metrics.rateLimited(limitAddress)
		apierr.Write(c, apierr.TooManyRequests("too many requests from this address", retry))
		return
	}
	c.Next()
}

func (h *HTTPServer) refuseRevoked(c *gin.Context) {
	claims := authn.FromContext(c.Request.Context())
	if claims == nil || h.revocations.IsRevoked(claims.SessionID) {
		apierr.Write(c, apierr.Unauthorized("the session of this access token has been revoked"))
		return
	}
	c.Next()
}

func (h *HTTPServer) limitUser(c *gin.Context) {
	claims := authn.FromContext(c.Request.Context())
	if ok, retry := h.limits.User.Allow(claims.UserID(), h.now()); !ok {
		h.metrics.rateLimited(limitUser)
		apierr.Write(c, apierr.TooManyRequests("too many requests for this user", retry))
		return
	}
	c.Next()
}

// maxCachedProfile bounds what the cache copies out of a response; a profile is far smaller.
const maxCachedProfile = 16 << 10

// profileCache serves a fresh cached public profile, or forwards and keeps a 200 answer. It runs after the
// token check, so the cache never answers a caller the profiles service would have refused.
func (h *HTTPServer) profileCache(c *gin.Context) {
	id := c.Param("id")
	if p, ok := h.profiles.Get(id, h.now()); ok {
		h.metrics.profileCache(cacheHit)
		c.Data(http.StatusOK, p.ContentType, p.Body)
		c.Abort()
		return
	}
	h.metrics.profileCache(cacheMiss)
	epoch := h.profiles.Begin()
	rec := &recorder{ResponseWriter: c.Writer}
	c.Writer = rec
	c.Next()
	c.Writer = rec.ResponseWriter
	if rec.Status() == http.StatusOK && !rec.overflow && json.Valid(rec.body.Bytes()) {
		h.profiles.Put(id, domain.CachedProfile{
			ContentType: rec.Header().Get("Content-Type"),
			Body:        bytes.Clone(rec.body.Bytes()),
		}, epoch, h.now())
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

// NewMetrics registers the gateway's counters on reg, every series at 0 from the start.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	limited, err := metrics.NewCounts(reg, "gateway_rate_limited_requests_total",
		"Requests refused with 429, by limit (address or user).", "limit", limitAddress, limitUser)
	if err != nil {
		return nil, err
	}
	cache, err := metrics.NewCounts(reg, "gateway_profile_cache_requests_total",
		"Public profile reads, by cache result (hit or miss).", "result", cacheHit, cacheMiss)
	if err != nil {
		return nil, err
	}
	return &Metrics{limited: limited, cache: cache}, nil
}

// RegisterRevokedSessions exports how many revoked sessions the gateway refuses, as gateway_revoked_sessions.
func RegisterRevokedSessions(reg prometheus.Registerer, revoked *domain.RevokedSessions) error {
	return metrics.Register(reg, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "gateway_revoked_sessions",
		Help: "Revoked sessions whose access tokens the gateway refuses.",
	}, func() float64 { return float64(revoked.Len()) }))
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
