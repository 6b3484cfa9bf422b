// Package server runs a service: a Gin public API server and a separate admin server (/healthz, /readyz,
// /metrics), with the platform middleware and a graceful shutdown on SIGTERM/SIGINT.
//
// Shutdown order: readiness turns 503 (so load balancers stop sending), both listeners stop accepting and
// in-flight requests get up to ShutdownTimeout to finish, the drains run (the gateway closes its WebSockets
// gradually while its push consumer still delivers), background workers (outbox relay, consumers) are
// cancelled and awaited (the relay flushes on its way out), then the closers run in reverse order of
// registration (broker, then database, like defers).
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/contrib/instrumentation/github.com/gin-gonic/gin/otelgin"

	"simplemessenger/platform/apierr"
	"simplemessenger/platform/config"
	"simplemessenger/platform/metrics"
)

func init() { gin.SetMode(gin.ReleaseMode) }

// App is one running service.
type App struct {
	Name    string
	Log     *slog.Logger
	Metrics *metrics.Metrics
	// Router is the public API; register routes on it.
	Router *gin.Engine

	cfg        config.HTTP
	bodyLimits map[string]int64
	longLived  map[string]bool
	checks     []check
	workers    []func(context.Context) error
	drains     []func(context.Context)
	closers    []func(context.Context) error
	stopping   atomic.Bool
	// handlerTimeout is the deadline of each request's work (a time.Duration; 0: none).
	handlerTimeout atomic.Int64
}

type check struct {
	name string
	fn   func(context.Context) error
}

// New makes the App with its router and middleware in place.
func New(name string, cfg config.HTTP, log *slog.Logger) *App {
	a := &App{Name: name, Log: log, Metrics: metrics.New(name), cfg: cfg, bodyLimits: map[string]int64{}, longLived: map[string]bool{}}
	a.handlerTimeout.Store(int64(cfg.HandlerTimeout))
	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.ContextWithFallback = true
	// Tracing comes before the RED middleware, so that the request's span is there for its exemplars.
	traced := otelgin.Middleware(name, otelgin.WithGinFilter(func(c *gin.Context) bool { return !a.isLongLived(c.FullPath()) }))
	r.Use(recovery(), requestID(), traced, a.Metrics.Middleware(a.isLongLived), accessLog(), bodyLimit(a.bodyLimits), a.deadline())
	r.NoRoute(func(c *gin.Context) { apierr.Write(c, apierr.NotFound("not_found", "no such route")) })
	r.NoMethod(func(c *gin.Context) {
		apierr.Write(c, apierr.New(http.StatusMethodNotAllowed, "method_not_allowed", "this route does not take "+c.Request.Method))
	})
	a.Router = r
	return a
}

// SetBodyLimit gives the route template a body limit other than the 64 KiB default (avatars: 1 MiB).
// Call it before Run.
func (a *App) SetBodyLimit(route string, limit int64) { a.bodyLimits[route] = limit }

// LongLived marks the route template as one whose requests last as long as a connection (a WebSocket
// upgrade): it gets no request span (a span hours long tells nothing and is exported only at its end; the
// handler records its own short span of the connect instead) and stays out of the duration histogram and
// the in-flight gauge, counted in http_server_requests_total only. Call it before Run.
func (a *App) LongLived(route string) { a.longLived[route] = true }

func (a *App) isLongLived(route string) bool { return a.longLived[route] }

// SetHandlerTimeout changes the deadline of each request's work (config.HTTP.HandlerTimeout); 0 removes it.
// Call it before serving.
func (a *App) SetHandlerTimeout(d time.Duration) { a.handlerTimeout.Store(int64(d)) }

// deadline puts the handler timeout on the request's context (not on long-lived routes; on routes with their
// own body limit, plus the read timeout): database calls and calls to other services made with it are
// cancelled when it passes, and apierr answers 503.
func (a *App) deadline() gin.HandlerFunc {
	return func(c *gin.Context) {
		d := time.Duration(a.handlerTimeout.Load())
		if d <= 0 || a.isLongLived(c.FullPath()) {
			c.Next()
			return
		}
		if _, large := a.bodyLimits[c.FullPath()]; large {
			// A route that takes a large body (avatars) reads it in the handler: a slow client's upload may
			// take up to the read timeout, and only the work after it is bounded by the handler timeout.
			d += a.cfg.ReadTimeout
		}
		ctx, cancel := context.WithTimeout(c.Request.Context(), d)
		defer cancel()
		c.Request = c.Request.WithContext(ctx)
		c.Next()
	}
}

// AddReadyCheck adds a dependency that /readyz checks (MySQL, the broker).
func (a *App) AddReadyCheck(name string, fn func(context.Context) error) {
	a.checks = append(a.checks, check{name, fn})
}

// Go runs fn in the background while the App runs; its context is cancelled at shutdown, after the HTTP
// servers have drained, and Run waits for it to return.
func (a *App) Go(fn func(context.Context) error) { a.workers = append(a.workers, fn) }

// Every runs fn every interval (the first time one interval after start) until shutdown: housekeeping such as
// purging expired rows, which every replica may do. fn handles its own errors; a slow run delays the next.
func (a *App) Every(interval time.Duration, fn func(context.Context)) {
	a.Go(func(ctx context.Context) error {
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-tick.C:
				fn(ctx)
			}
		}
	})
}

// OnDrain registers fn to run at shutdown after the listeners stopped and before the workers are cancelled, so
// the workers it needs still run (the gateway's push consumer while it closes its sockets one by one). fn bounds
// its own time; its context ends only if the process is told to stop at once.
func (a *App) OnDrain(fn func(context.Context)) { a.drains = append(a.drains, fn) }

// OnShutdown registers a closer; closers run after the workers stopped, last registered first.
func (a *App) OnShutdown(fn func(context.Context) error) { a.closers = append(a.closers, fn) }

// AdminHandler serves /healthz, /readyz, /metrics and the runtime profiles (/debug/pprof/).
func (a *App) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if a.stopping.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"status":"stopping"}`))
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		for _, c := range a.checks {
			if err := c.fn(ctx); err != nil {
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = fmt.Fprintf(w, `{"status":"unavailable","check":%q}`, c.name)
				a.Log.WarnContext(ctx, "not ready", "check", c.name, "error", err)
				return
			}
		}
		_, _ = w.Write([]byte(`{"status":"ready"}`))
	})
	mux.Handle("GET /metrics", a.Metrics.Handler())
	if a.cfg.Profiling {
		addProfiling(mux)
	}
	return mux
}

// Run listens on the configured addresses and serves until SIGTERM/SIGINT or ctx ends, then shuts down.
func (a *App) Run(ctx context.Context) error {
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	pub, err := net.Listen("tcp", a.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", a.cfg.Addr, err)
	}
	adm, err := net.Listen("tcp", a.cfg.AdminAddr)
	if err != nil {
		pub.Close()
		return fmt.Errorf("listen %s: %w", a.cfg.AdminAddr, err)
	}
	return a.Serve(ctx, pub, adm)
}

// Serve is Run on given listeners (tests pass ephemeral ones); it returns when ctx ends and shutdown is done.
func (a *App) Serve(ctx context.Context, public, admin net.Listener) error {
	pubSrv := &http.Server{
		Handler:           a.Router,
		ReadHeaderTimeout: a.cfg.ReadHeaderTimeout,
		ReadTimeout:       a.cfg.ReadTimeout,
		IdleTimeout:       a.cfg.IdleTimeout,
		MaxHeaderBytes:    32 << 10,
	}
	admSrv := &http.Server{Handler: a.AdminHandler(), ReadHeaderTimeout: 5 * time.Second}

	workCtx, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	var wg sync.WaitGroup
	for _, w := range a.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w(workCtx); err != nil && !errors.Is(err, context.Canceled) {
				a.Log.Error("background worker stopped", "error", err)
			}
		}()
	}

	errc := make(chan error, 2)
	go func() { errc <- serve(pubSrv, public) }()
	go func() { errc <- serve(admSrv, admin) }()
	a.Log.Info("serving", "public", public.Addr().String(), "admin", admin.Addr().String())

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}

	a.Log.Info("shutting down")
	a.stopping.Store(true)
	shutCtx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
	defer cancel()
	if err := pubSrv.Shutdown(shutCtx); err != nil {
		a.Log.Warn("in-flight requests cut at the shutdown deadline", "error", err)
		_ = pubSrv.Close()
	}
	_ = admSrv.Shutdown(shutCtx)
	if len(a.drains) > 0 {
		for _, d := range a.drains {
			d(workCtx)
		}
		// The drains took their own time: the closers get a whole ShutdownTimeout of their own.
		cancel()
		shutCtx, cancel = context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
		defer cancel()
	}
	cancelWork()
	wg.Wait()
	a.close(shutCtx)
	a.Log.Info("stopped")
	return runErr
}

// Abort runs the closers registered so far, last registered first, without serving: a Build that fails after
// opening the database or dialling the broker calls it, so the half-built App leaks nothing. The App must not
// be run afterwards.
func (a *App) Abort(ctx context.Context) { a.close(ctx) }

// close runs the closers once, last registered first.
func (a *App) close(ctx context.Context) {
	closers := a.closers
	a.closers = nil
	for i := len(closers) - 1; i >= 0; i-- {
		if err := closers[i](ctx); err != nil {
			a.Log.Warn("closing", "error", err)
		}
	}
}

func serve(s *http.Server, l net.Listener) error {
	if err := s.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
