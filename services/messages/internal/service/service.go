// Package service wires the messages service: configuration, database, broker, outbox relay, the clients of
// friends and profiles, HTTP routes and the entry consumer.
package service

import (
	"context"
	"fmt"
	"time"

	"simplemessenger/platform/authn"
	"simplemessenger/platform/bootstrap"
	"simplemessenger/platform/broker"
	"simplemessenger/platform/config"
	"simplemessenger/platform/entry"
	"simplemessenger/platform/httpclient"
	"simplemessenger/platform/mysqlx"
	"simplemessenger/platform/server"

	"simplemessenger/services/messages/internal/adapters"
	"simplemessenger/services/messages/internal/adapters/migrations"
	"simplemessenger/services/messages/internal/app"
	"simplemessenger/services/messages/internal/ports"
)

// Name is the service's name in logs, metrics and traces.
const Name = "messages"

// Config is the service's configuration, read once from the environment.
type Config struct {
	HTTP    config.HTTP
	MySQL   mysqlx.Config
	Broker  broker.Config
	JWKSURL string `env:"AUTH_JWKS_URL"`

	// FriendsURL is where the friends service answers "are these two friends" (asked before every send).
	FriendsURL string `env:"FRIENDS_URL"`
	// ProfilesURL is where the profiles service tells whether a user exists and gives the chat list's peers.
	ProfilesURL string `env:"PROFILES_URL"`
	// NeighbourTimeout bounds each call to friends or profiles; past it the request answers 503.
	NeighbourTimeout time.Duration `env:"NEIGHBOUR_TIMEOUT"`
}

// DefaultConfig is the local development setup.
func DefaultConfig() Config {
	return Config{
		HTTP:             config.HTTPDefaults("127.0.0.1:8084", "127.0.0.1:9084"),
		MySQL:            mysqlx.Defaults(Name),
		Broker:           broker.DefaultConfig(),
		JWKSURL:          authn.DefaultJWKSURL,
		FriendsURL:       "http://127.0.0.1:8083",
		ProfilesURL:      "http://127.0.0.1:8082",
		NeighbourTimeout: 5 * time.Second,
	}
}

func (c Config) validate() error {
	switch {
	case c.FriendsURL == "":
		return fmt.Errorf("FRIENDS_URL is required")
	case c.ProfilesURL == "":
		return fmt.Errorf("PROFILES_URL is required")
	case c.NeighbourTimeout <= 0:
		return fmt.Errorf("NEIGHBOUR_TIMEOUT must be positive")
	}
	return nil
}

// Build makes the service ready to run: migrated database, broker connection, outbox relay, routes and the
// consumer of gateway.user.entered.
func Build(ctx context.Context, cfg Config) (*server.App, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	return bootstrap.Build(ctx, Name, cfg.HTTP, func(a *server.App) error {
		db, err := bootstrap.Database(ctx, a, cfg.MySQL, migrations.FS)
		if err != nil {
			return err
		}
		conn := bootstrap.Broker(a, cfg.Broker)
		relay := bootstrap.Outbox(a, db, conn)

		client := httpclient.New(cfg.NeighbourTimeout)
		// Friendship is asked of the friends service for every new message, never cached: an unfriending must
		// stop the very next send, on every replica (docs/performance.md tells why a cache was tried and dropped).
		application := app.New(adapters.NewMySQLRepository(db),
			adapters.NewFriendsClient(cfg.FriendsURL, client), adapters.NewProfilesClient(cfg.ProfilesURL, client),
			conn, relay)

		verifier := authn.NewVerifier(cfg.JWKSURL, httpclient.New(5*time.Second), authn.WithMetrics(a.Metrics.Registerer))
		ports.NewHTTPServer(application).Register(a.Router, authn.Middleware(verifier))
		bootstrap.Consume(a, conn, broker.Subscription{
			Queue: ports.UserEnteredQueue, Keys: []string{entry.EventType}, DB: db, Handle: ports.UserEntered(application),
		})
		return nil
	})
}
