package service

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"simplemessenger/platform/bootstrap"
	"simplemessenger/platform/broker"
	"simplemessenger/platform/httpclient"
	"simplemessenger/platform/server"

	"simplemessenger/services/gateway/internal/adapters"
	"simplemessenger/services/gateway/internal/app"
	"simplemessenger/services/gateway/internal/domain"
	"simplemessenger/services/gateway/internal/ports"
)

// Name is the service name in logs, metrics and traces.
const Name = "gateway"

// Build assembles the gateway: the public routes proxied to their services, token verification, the revoked
// sessions kept in step with auth, rate limits, the profile cache, the broker subscription feeding them, and
// the push connections (WebSocket) with their subscription on the push exchange.
func Build(ctx context.Context, cfg Config) (*server.App, error) {
	p, err := newPolicies(cfg)
	if err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	return bootstrap.Build(ctx, Name, cfg.HTTP, func(a *server.App) error {
		conn := bootstrap.Broker(a, cfg.Broker)
		pushMetrics, err := ports.NewPushMetrics(a.Metrics.Registerer)
		if err != nil {
			return err
		}
		hub := pushes(a, conn, cfg.Broker, pushMetrics, p)

		// Forwarded calls are bounded by UPSTREAM_TIMEOUT, above the services' own HTTP_HANDLER_TIMEOUT, so a
		// service that gives up on a silent dependency answers its 503 before the gateway would cut it.
		a.SetHandlerTimeout(0)
		client := httpclient.New(cfg.UpstreamTimeout)
		revocations, err := revocations(a, conn, adapters.NewAuthClient(cfg.AuthURL, client), hub, p)
		if err != nil {
			return err
		}
		upstreams, err := proxies(a, p, client.Transport, cfg.UpstreamTimeout)
		if err != nil {
			return err
		}

		h, err := ports.NewHTTPServer(a.Metrics.Registerer, upstreams, bootstrap.Verifier(a, cfg.Config), revocations,
			p.limits, p.trusted)
		if err != nil {
			return err
		}
		if p.profiles != nil {
			h.CacheProfiles(p.profiles)
		}
		h.ServeWebSocket(ports.NewWebSocket(hub, revocations, p.origins, p.socket, pushMetrics, a.Log))
		h.ServeWeb(p.site)
		return h.Register(a, domain.Routes)
	})
}

// pushes runs the hub of push connections. One transient queue per gateway on the push exchange, bound to the
// users connected here (the hub binds a user's key before announcing their socket), with one consumer, so a
// socket gets its pushes in the order they were published. At shutdown the hub closes the sockets (going
// away), spread over drainPeriod while the push consumer still runs, so clients reconnect to another replica a
// few at a time. The hub also keeps its users' presence statements flowing to friends (a heartbeat every
// PRESENCE_HEARTBEAT, each holding for three).
func pushes(a *server.App, conn *broker.Conn, cfg broker.Config, m *ports.PushMetrics, p policies) *app.Hub {
	binder := broker.NewBinder()
	announcer := adapters.EntryPublisher{Conn: conn, Log: a.Log}
	hub := app.NewHub(binder, announcer, announcer, m, a.Log)
	if p.heartbeat > 0 {
		hub.HeartbeatInterval, hub.Lease = p.heartbeat, 3*p.heartbeat
		a.Every(p.heartbeat, hub.Beat)
	}
	bootstrap.Consume(a, conn, broker.Subscription{
		Queue: Name + ".push", Exchange: cfg.PushExchange(), Binder: binder, Transient: true,
		Handle: hub.HandlePush, OnReady: hub.BrokerReady,
	})
	hub.DrainPeriod = p.drainPeriod
	a.OnDrain(hub.Drain)
	a.Go(hub.Run)
	return hub
}

// revocations keeps the revoked sessions in step with auth: events as they come, on a queue per process
// (exclusive, auto-delete, named by the broker), so each replica sees every event; what it missed while
// disconnected is reloaded from auth each time the queue is back. A revoked session's sockets are closed too
// (the contract); an expired token does not close an open socket: the contract asks only for revocations, and
// a client refreshes its token over HTTP while the socket stays up. The same queue brings profile changes,
// which the profile cache forgets.
func revocations(a *server.App, conn *broker.Conn, auth app.RevocationSource, hub *app.Hub, p policies) (*app.Revocations, error) {
	revoked := domain.NewRevokedSessions()
	if err := ports.RegisterRevokedSessions(a.Metrics.Registerer, revoked); err != nil {
		return nil, err
	}
	r := app.NewRevocations(revoked, auth, time.Now, a.Log)
	r.OnRevoke = hub.CloseSession
	a.AddReadyCheck("revoked_sessions", r.Ready)
	a.Go(r.Run)
	events := ports.Events{Revocations: r}
	if p.profiles != nil {
		events.Profiles = p.profiles
	}
	bootstrap.Consume(a, conn, broker.Subscription{
		Queue: Name, Keys: ports.EventKeys, Handle: events.Handle, Transient: true,
		OnReady: func(context.Context) { r.RequestResync() },
	})
	return r, nil
}

// proxies forward each upstream's routes. The platform client's transport carries the trace context and the
// request id; each proxy bounds an exchange with timeout itself (a client timeout does not apply to a bare
// transport).
func proxies(a *server.App, p policies, transport http.RoundTripper, timeout time.Duration) (map[domain.Upstream]http.Handler, error) {
	proxyErrors, err := adapters.NewProxyErrors(a.Metrics.Registerer)
	if err != nil {
		return nil, err
	}
	handlers := map[domain.Upstream]http.Handler{}
	for name, target := range p.upstreams {
		handlers[name] = adapters.NewProxy(adapters.ProxyConfig{
			Name: string(name), Target: target, Transport: transport, Timeout: timeout,
			ClientAddress: ports.ClientAddress, WriteError: ports.WriteError, Errors: proxyErrors, Log: a.Log,
		})
	}
	return handlers, nil
}
