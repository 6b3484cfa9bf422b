// Package service wires the friends service: configuration, database, broker, outbox relay, the profiles
// client, HTTP routes and the consumer of users entering the messenger.
package service

import (
	"context"
	"errors"
	"time"

	"simplemessenger/platform/authn"
	"simplemessenger/platform/bootstrap"
	"simplemessenger/platform/broker"
	"simplemessenger/platform/config"
	"simplemessenger/platform/entry"
	"simplemessenger/platform/httpclient"
	"simplemessenger/platform/mysqlx"
	"simplemessenger/platform/profilesclient"
	"simplemessenger/platform/server"

	"simplemessenger/services/friends/internal/adapters"
	"simplemessenger/services/friends/internal/adapters/migrations"
	"simplemessenger/services/friends/internal/app"
	"simplemessenger/services/friends/internal/ports"
)

// Name is the service's name in logs, metrics and traces.
const Name = "friends"

// Config is the service's configuration, read once from the environment.
type Config struct {
	HTTP    config.HTTP
	MySQL   mysqlx.Config
	Broker  broker.Config
	JWKSURL string `env:"AUTH_JWKS_URL"`
	// ProfilesURL is where the profiles service answers user lookups.
	ProfilesURL     string        `env:"PROFILES_URL"`
	ProfilesTimeout time.Duration `env:"PROFILES_TIMEOUT"`
}

// DefaultConfig is the local development setup.
func DefaultConfig() Config {
	return Config{
		HTTP:            config.HTTPDefaults("127.0.0.1:8083", "127.0.0.1:9083"),
		MySQL:           mysqlx.Defaults(Name),
		Broker:          broker.DefaultConfig(),
		JWKSURL:         authn.DefaultJWKSURL,
		ProfilesURL:     "http://127.0.0.1:8082",
		ProfilesTimeout: 5 * time.Second,
	}
}

// check refuses a configuration the service cannot run with, naming the variable to fix.
func (c Config) check() error {
	if c.ProfilesURL == "" {
		return errors.New("configuration: PROFILES_URL is required")
	}
	if c.ProfilesTimeout <= 0 {
		return errors.New("configuration: PROFILES_TIMEOUT must be positive")
	}
	return nil
}

// Build makes the service ready to run: migrated database, broker connection, outbox relay, routes and the
// consumer of users entering the messenger.
func Build(ctx context.Context, cfg Config) (*server.App, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	return bootstrap.Build(ctx, Name, cfg.HTTP, func(a *server.App) error {
		db, err := bootstrap.Database(ctx, a, cfg.MySQL, migrations.FS)
		if err != nil {
			return err
		}
		conn := bootstrap.Broker(a, cfg.Broker)
		profiles := profilesclient.New(cfg.ProfilesURL, httpclient.New(cfg.ProfilesTimeout))
		application := app.New(adapters.NewMySQLRepository(db), profiles, conn, bootstrap.Outbox(a, db, conn))

		verifier := authn.NewVerifier(cfg.JWKSURL, httpclient.New(5*time.Second), authn.WithMetrics(a.Metrics.Registerer))
		ports.NewHTTPServer(application).Register(a.Router, authn.Middleware(verifier))
		// A read and a reply: the inbox only records that the entry was answered.
		bootstrap.Consume(a, conn, broker.Subscription{
			Queue: ports.UserEnteredQueue, Keys: []string{entry.EventType}, DB: db, Handle: ports.UserEntered(application),
		})
		return nil
	})
}
