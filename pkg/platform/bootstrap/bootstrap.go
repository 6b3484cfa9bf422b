// Package bootstrap is how every service's Build starts: the App with logging and tracing, and the
// dependencies the services share (the migrated MySQL database, the broker connection, the outbox relay,
// consumers, the token verifier), each registered with its closer, readiness check or worker here, in one place.
//
// A service with a database embeds Settings in its Config, and its Build is BuildWithDatabase with the
// service's own wiring inside:
//
//	return bootstrap.BuildWithDatabase(ctx, Name, cfg.Settings, cfg.validate, migrations.FS, func(d bootstrap.Deps) error {
//		application := app.New(adapters.NewMySQLRepository(d.DB), ..., d.Relay)
//		ports.NewHTTPServer(application).Register(d.Router, authn.Middleware(bootstrap.Verifier(d.App, cfg.Config)))
//		... consumers (Consume), periodic work (d.Every)
//		return nil
//	})
//
// The gateway, which has no database, uses Build and the parts it needs.
//
// Closers run last registered first, so that App shuts down as: workers stop (the relay flushes), the broker
// closes, the database closes, tracing is flushed. When the wiring fails halfway, Build closes what it had
// opened, in the same order, before returning the error.
package bootstrap

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"os"

	"simplemessenger/platform/authn"
	"simplemessenger/platform/broker"
	"simplemessenger/platform/config"
	"simplemessenger/platform/httpclient"
	"simplemessenger/platform/logging"
	"simplemessenger/platform/mysqlx"
	"simplemessenger/platform/server"
	"simplemessenger/platform/telemetry"
)

// Main is a service's whole main: it fills cfg (holding the defaults) from the environment, exiting with
// status 2 and the variable's name when that fails, then builds the App and runs it until SIGTERM/SIGINT,
// exiting with status 1 and the error when either fails.
//
// `<binary> check [-timeout 5s] URL...` instead checks URLs and exits (see Check), before any configuration is
// read: Helm's test pod runs it from a service image, which has no shell and no curl.
func Main[C any](name string, cfg C, build func(context.Context, C) (*server.App, error)) {
	if len(os.Args) > 1 && os.Args[1] == "check" {
		os.Exit(Check(context.Background(), os.Stdout, os.Args[2:]))
	}
	config.MustLoad(&cfg)
	ctx := context.Background()
	a, err := build(ctx, cfg)
	if err == nil {
		err = a.Run(ctx)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, name+":", err)
		os.Exit(1)
	}
}

// Build makes the named service's App (NewApp) and lets wire add its dependencies, routes and workers to it.
// If wire fails, what it opened is closed (server.App.Abort) and Build returns wire's error.
func Build(ctx context.Context, name string, cfg config.HTTP, wire func(a *server.App) error) (*server.App, error) {
	a, err := NewApp(ctx, name, cfg)
	if err != nil {
		return nil, err
	}
	if err := wire(a); err != nil {
		a.Abort(context.WithoutCancel(ctx))
		return nil, err
	}
	return a, nil
}

// Settings are what every service with a database configures alike: its listeners, its database and the
// broker. Services embed them in their own Config.
type Settings struct {
	HTTP   config.HTTP
	MySQL  mysqlx.Config
	Broker broker.Config
}

// Defaults are the local settings of the named service, listening on addr with its admin endpoints on adminAddr.
func Defaults(name, addr, adminAddr string) Settings {
	return Settings{HTTP: config.HTTPDefaults(addr, adminAddr), MySQL: mysqlx.Defaults(name), Broker: broker.DefaultConfig()}
}

// Deps are what BuildWithDatabase opened before the service's own wiring.
type Deps struct {
	*server.App
	// DB is the service's migrated database.
	DB *sql.DB
	// Broker is the broker connection, Relay the outbox relay publishing through it.
	Broker *broker.Conn
	Relay  *broker.Relay
}

// BuildWithDatabase is Build for a service with a database. It refuses a configuration that validate finds
// wrong (its error names the variable), then makes the App, migrates and opens the database, dials the broker
// and runs the outbox relay, before wire adds the service's use cases, routes and consumers.
func BuildWithDatabase(ctx context.Context, name string, s Settings, validate func() error, migrations fs.FS,
	wire func(d Deps) error) (*server.App, error) {
	if err := validate(); err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	return Build(ctx, name, s.HTTP, func(a *server.App) error {
		db, err := Database(ctx, a, s.MySQL, migrations)
		if err != nil {
			return err
		}
		conn := Broker(a, s.Broker)
		return wire(Deps{App: a, DB: db, Broker: conn, Relay: Outbox(a, db, conn)})
	})
}

// NewApp makes the named service's App: the JSON logger at cfg.LogLevel (also the slog default), tracing from
// the OTEL_* variables (the W3C propagator always), and the server with its middleware. The tracer provider is
// the App's first closer, so it is flushed last, after everything that makes spans has stopped.
func NewApp(ctx context.Context, name string, cfg config.HTTP) (*server.App, error) {
	log := logging.New(name, cfg.LogLevel)
	shutdownTracing, err := telemetry.Setup(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("telemetry: %w", err)
	}
	a := server.New(name, cfg, log)
	a.OnShutdown(shutdownTracing)
	return a, nil
}

// Database migrates the service's database (the platform's outbox and inbox tables, then migrations) and
// opens it with pool metrics on the App's registry. The App closes it at shutdown and /readyz checks it as
// "mysql".
func Database(ctx context.Context, a *server.App, cfg mysqlx.Config, migrations fs.FS) (*sql.DB, error) {
	if err := mysqlx.Migrate(cfg, migrations); err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	db, err := mysqlx.Open(ctx, cfg, a.Metrics.Registerer)
	if err != nil {
		return nil, err
	}
	a.OnShutdown(func(context.Context) error { return db.Close() })
	a.AddReadyCheck("mysql", db.PingContext)
	return db, nil
}

// Broker dials the broker; the connection comes up (and heals) in the background, so a broker that is down
// at start delays readiness, not the start. The App closes it at shutdown and /readyz checks it as "broker".
func Broker(a *server.App, cfg broker.Config) *broker.Conn {
	conn := broker.Dial(cfg, a.Log, a.Metrics)
	a.OnShutdown(func(context.Context) error { return conn.Close() })
	a.AddReadyCheck("broker", conn.Ready)
	return conn
}

// Outbox runs the relay that publishes db's outbox through conn while the App runs (it flushes once more at
// shutdown, before the closers). Call relay.Notify after committing a transaction that enqueued events.
func Outbox(a *server.App, db *sql.DB, conn *broker.Conn) *broker.Relay {
	relay := broker.NewRelay(db, conn, a.Log, a.Metrics)
	a.Go(relay.Run)
	return relay
}

// Verifier checks access tokens with the keys cfg names, counting its results on the App's registry
// (authn_token_verifications_total).
func Verifier(a *server.App, cfg authn.Config) *authn.Verifier {
	return authn.NewVerifier(cfg.JWKSURL, httpclient.New(cfg.JWKSTimeout), authn.WithMetrics(a.Metrics.Registerer))
}

// Consume runs sub's consumer on conn while the App runs.
func Consume(a *server.App, conn *broker.Conn, sub broker.Subscription) {
	a.Go(func(ctx context.Context) error { return conn.Consume(ctx, sub) })
}
