package service

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"simplemessenger/platform/authn"
	"simplemessenger/platform/bootstrap"
	"simplemessenger/platform/broker"
	"simplemessenger/platform/httpclient"
	"simplemessenger/platform/server"

	"simplemessenger/services/gateway/internal/adapters"
	"simplemessenger/services/gateway/internal/app"
	"simplemessenger/services/gateway/internal/domain"
	"simplemessenger/services/gateway/internal/ports"
	"simplemessenger/services/gateway/web"
)

// Name is the service name in logs, metrics and traces.
const Name = "gateway"

// Build assembles the gateway: the public routes proxied to their services, token verification, the revoked
// sessions kept in step with auth, rate limits, the profile cache, the broker subscription feeding them, and
// the push connections (WebSocket) with their subscription on the push exchange.
func Build(ctx context.Context, cfg Config) (*server.App, error) {
	upstreams, err := parseUpstreams(cfg)
	if err != nil {
		return nil, err
	}
	trusted, err := domain.ParseTrustedProxies(cfg.TrustedProxies)
	if err != nil {
		return nil, fmt.Errorf("TRUSTED_PROXIES: %w", err)
	}
	addrLimiter, err := domain.NewRateLimiter(cfg.RateLimitIPRPS, cfg.RateLimitIPBurst, cfg.RateLimitKeys)
	if err != nil {
		return nil, fmt.Errorf("address rate limiter: %w", err)
	}
	userLimiter, err := domain.NewRateLimiter(cfg.RateLimitUserRPS, cfg.RateLimitUserBurst, cfg.RateLimitKeys)
	if err != nil {
		return nil, fmt.Errorf("user rate limiter: %w", err)
	}
	profiles, err := domain.NewProfileCache(cfg.ProfileCacheTTL, cfg.ProfileCacheSize)
	if err != nil {
		return nil, fmt.Errorf("profile cache: %w", err)
	}
	origins, err := domain.NewOriginPolicy(cfg.AllowedOrigins)
	if err != nil {
		return nil, fmt.Errorf("ALLOWED_ORIGINS: %w", err)
	}
	site, err := web.New()
	if err != nil {
		return nil, err
	}
	if cfg.WSPingInterval <= 0 || cfg.WSPongTimeout <= 0 || cfg.WSWriteTimeout <= 0 || cfg.WSSendBuffer < 1 {
		return nil, fmt.Errorf("WS_PING_INTERVAL, WS_PONG_TIMEOUT, WS_WRITE_TIMEOUT and WS_SEND_BUFFER must be positive")
	}
	if cfg.WSDrainPeriod < 0 {
		return nil, fmt.Errorf("WS_DRAIN_PERIOD must not be negative")
	}

	return bootstrap.Build(ctx, Name, cfg.HTTP, func(a *server.App) error {
		metrics, err := ports.NewMetrics(a.Metrics.Registerer)
		if err != nil {
			return err
		}
		proxyErrors, err := adapters.NewProxyErrors(a.Metrics.Registerer)
		if err != nil {
			return err
		}
		pushMetrics, err := ports.NewPushMetrics(a.Metrics.Registerer)
		if err != nil {
			return err
		}
		conn := bootstrap.Broker(a, cfg.Broker)

		// Pushes: one transient queue per gateway on the push exchange, bound to the users connected here
		// (the hub binds a user's key before announcing their socket). One consumer, so a socket gets its
		// pushes in the order they were published.
		binder := broker.NewBinder()
		hub := app.NewHub(binder, adapters.EntryPublisher{Conn: conn, Log: a.Log}, pushMetrics, a.Log)
		bootstrap.Consume(a, conn, broker.Subscription{
			Queue:     Name + ".push",
			Exchange:  cfg.Broker.PushExchange(),
			Binder:    binder,
			Handle:    hub.HandlePush,
			Transient: true,
			OnReady:   hub.BrokerReady,
		})
		// At shutdown it closes the sockets (going away), spread over WS_DRAIN_PERIOD while the push consumer
		// still runs, so clients reconnect to another replica a few at a time.
		hub.DrainPeriod = cfg.WSDrainPeriod
		a.OnDrain(hub.Drain)
		a.Go(hub.Run)

		// Forwarded calls are bounded by UPSTREAM_TIMEOUT, above the services' own HTTP_HANDLER_TIMEOUT, so a
		// service that gives up on a silent dependency answers its 503 before the gateway would cut it.
		a.SetHandlerTimeout(0)
		client := httpclient.New(cfg.UpstreamTimeout)
		revoked := domain.NewRevokedSessions()
		revocations := app.NewRevocations(revoked, adapters.NewAuthClient(cfg.AuthURL, client), time.Now, a.Log)
		// A revoked session's sockets are closed too (the contract); an expired token does not close an open
		// socket: the contract asks only for revocations, and a client refreshes its token over HTTP while the
		// socket stays up.
		revocations.OnRevoke = hub.CloseSession
		a.AddReadyCheck("revoked_sessions", revocations.Ready)
		if err := a.Metrics.Registerer.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "gateway_revoked_sessions",
			Help: "Revoked sessions whose access tokens the gateway refuses.",
		}, func() float64 { return float64(revoked.Len()) })); err != nil {
			return err
		}
		a.Go(revocations.Run)
		// The queue is per process (exclusive, auto-delete, named by the broker): each replica sees every event.
		// What it missed while disconnected is reloaded from auth each time the queue is back (OnReady).
		events := ports.Events{Revocations: revocations, Profiles: profiles}
		bootstrap.Consume(a, conn, broker.Subscription{
			Queue:     Name,
			Keys:      ports.EventKeys,
			Handle:    events.Handle,
			Transient: true,
			OnReady:   func(context.Context) { revocations.RequestResync() },
		})

		// The platform client's transport carries the trace context and the request id; the proxy bounds each
		// exchange with UpstreamTimeout itself (a client timeout does not apply to a bare transport).
		transport := client.Transport
		handlers := map[domain.Upstream]http.Handler{}
		for name, target := range upstreams {
			handlers[name] = adapters.NewProxy(adapters.ProxyConfig{
				Name:          string(name),
				Target:        target,
				Transport:     transport,
				Timeout:       cfg.UpstreamTimeout,
				ClientAddress: ports.ClientAddress,
				WriteError:    ports.WriteError,
				Errors:        proxyErrors,
				Log:           a.Log,
			})
		}
		h := &ports.HTTP{
			Upstreams:      handlers,
			Verifier:       authn.NewVerifier(cfg.JWKSURL, client, authn.WithMetrics(a.Metrics.Registerer)),
			Revocations:    revocations,
			AddressLimiter: addrLimiter,
			UserLimiter:    userLimiter,
			Profiles:       profiles,
			TrustedProxies: trusted,
			Now:            time.Now,
			Metrics:        metrics,
			WebSocket: &ports.WebSocket{
				Hub:          hub,
				Revocations:  revocations,
				Origins:      origins,
				PingInterval: cfg.WSPingInterval,
				PongTimeout:  cfg.WSPongTimeout,
				WriteTimeout: cfg.WSWriteTimeout,
				SendBuffer:   cfg.WSSendBuffer,
				Metrics:      pushMetrics,
				Log:          a.Log,
			},
			Web: site,
		}
		return h.Register(a, domain.Routes)
	})
}

func parseUpstreams(cfg Config) (map[domain.Upstream]*url.URL, error) {
	out := map[domain.Upstream]*url.URL{}
	for _, u := range []struct {
		name domain.Upstream
		env  string
		raw  string
	}{
		{domain.Auth, "AUTH_URL", cfg.AuthURL},
		{domain.Profiles, "PROFILES_URL", cfg.ProfilesURL},
		{domain.Friends, "FRIENDS_URL", cfg.FriendsURL},
		{domain.Messages, "MESSAGES_URL", cfg.MessagesURL},
	} {
		parsed, err := url.Parse(u.raw)
		if err != nil || (parsed.Scheme != "http" && parsed.Scheme != "https") || parsed.Host == "" {
			return nil, fmt.Errorf("%s: %q is not an http(s)://host:port URL", u.env, u.raw)
		}
		out[u.name] = parsed
	}
	if _, err := url.ParseRequestURI(cfg.JWKSURL); err != nil {
		return nil, fmt.Errorf("AUTH_JWKS_URL: %q is not a URL", cfg.JWKSURL)
	}
	return out, nil
}
