// Package service wires the profiles service: configuration, database, broker, outbox relay, HTTP routes.
package service

import (
	"context"
	"fmt"
	"time"

	"github.com/alexedwards/argon2id"

	"simplemessenger/platform/authn"
	"simplemessenger/platform/broker"
	"simplemessenger/platform/config"
	"simplemessenger/platform/httpclient"
	"simplemessenger/platform/logging"
	"simplemessenger/platform/mysqlx"
	"simplemessenger/platform/server"
	"simplemessenger/platform/telemetry"

	"simplemessenger/services/profiles/internal/adapters"
	"simplemessenger/services/profiles/internal/adapters/migrations"
	"simplemessenger/services/profiles/internal/app"
	"simplemessenger/services/profiles/internal/domain"
	"simplemessenger/services/profiles/internal/ports"
)

// Name is the service's name in logs, metrics and traces.
const Name = "profiles"

// Config is the service's configuration, read once from the environment.
type Config struct {
	HTTP    config.HTTP
	MySQL   mysqlx.Config
	Broker  broker.Config
	JWKSURL string `env:"AUTH_JWKS_URL"`
}

// DefaultConfig is the local development setup.
func DefaultConfig() Config {
	return Config{
		HTTP: config.HTTP{
			Addr: "127.0.0.1:8082", AdminAddr: "127.0.0.1:9082",
			ShutdownTimeout: 15 * time.Second, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second,
			IdleTimeout: 120 * time.Second, LogLevel: "info",
		},
		MySQL:   mysqlx.Defaults(Name),
		Broker:  broker.DefaultConfig(),
		JWKSURL: "http://127.0.0.1:8081/.well-known/jwks.json",
	}
}

type options struct {
	hashParams argon2id.Params
}

// Option changes how Build wires the service; options exist for tests and are not configuration.
type Option func(*options)

// WithPasswordParams replaces the OWASP argon2id parameters (tests use cheap ones; production never should).
func WithPasswordParams(p argon2id.Params) Option { return func(o *options) { o.hashParams = p } }

// Build makes the service ready to run: migrated database, broker connection, outbox relay, routes.
func Build(ctx context.Context, cfg Config, opts ...Option) (_ *server.App, err error) {
	o := options{hashParams: adapters.OWASPParams}
	for _, opt := range opts {
		opt(&o)
	}
	log := logging.New(Name, cfg.HTTP.LogLevel)
	shutdownTracing, err := telemetry.Setup(ctx, Name)
	if err != nil {
		return nil, fmt.Errorf("telemetry: %w", err)
	}
	a := server.New(Name, cfg.HTTP, log)
	// Closers run last-registered first: tracing is flushed after everything else has stopped.
	a.OnShutdown(shutdownTracing)
	// If Build fails halfway, close what it opened.
	var opened []func() error
	defer func() {
		if err != nil {
			for i := len(opened) - 1; i >= 0; i-- {
				_ = opened[i]()
			}
			_ = shutdownTracing(context.Background())
		}
	}()

	if err := mysqlx.Migrate(cfg.MySQL, migrations.FS); err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	db, err := mysqlx.Open(ctx, cfg.MySQL, a.Metrics.Registerer)
	if err != nil {
		return nil, err
	}
	opened = append(opened, db.Close)
	a.OnShutdown(func(context.Context) error { return db.Close() })

	conn := broker.Dial(cfg.Broker, log, a.Metrics)
	opened = append(opened, conn.Close)
	a.OnShutdown(func(context.Context) error { return conn.Close() })
	relay := broker.NewRelay(db, conn, log, a.Metrics)
	a.Go(relay.Run)

	a.AddReadyCheck("mysql", db.PingContext)
	a.AddReadyCheck("broker", conn.Ready)

	hasher, err := adapters.NewArgon2Hasher(o.hashParams, 0, a.Metrics.Registerer)
	if err != nil {
		return nil, fmt.Errorf("password hasher: %w", err)
	}
	application := app.New(adapters.NewMySQLRepository(db), hasher, relay)

	verifier := authn.NewVerifier(cfg.JWKSURL, httpclient.New(5*time.Second))
	a.SetBodyLimit(ports.AvatarRoute, domain.AvatarMaxBytes)
	ports.NewHTTPServer(application).Register(a.Router, authn.Middleware(verifier))
	return a, nil
}

// Run builds the service and serves until SIGTERM/SIGINT.
func Run(ctx context.Context, cfg Config) error {
	a, err := Build(ctx, cfg)
	if err != nil {
		return err
	}
	return a.Run(ctx)
}
