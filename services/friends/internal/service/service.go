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
	"simplemessenger/platform/events"
	"simplemessenger/platform/httpclient"
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
	// The listeners, the database and the broker.
	bootstrap.Settings
	// Tokens: where the keys that verify access tokens are fetched.
	authn.Config
	// ProfilesURL is where the profiles service answers user lookups.
	ProfilesURL     string        `env:"PROFILES_URL"`
	ProfilesTimeout time.Duration `env:"PROFILES_TIMEOUT"`
	// MessagesURL is where the messages service is told of a friendship's end (before an unfriending or a
	// block is answered); MessagesTimeout bounds that call, past which the request answers 503.
	MessagesURL     string        `env:"MESSAGES_URL"`
	MessagesTimeout time.Duration `env:"MESSAGES_TIMEOUT"`
	// PresenceSweepInterval is how often this replica ends the presence leases that ran out (a gateway that
	// died stops renewing its users'): a user is shown online at most this long after their lease ended.
	PresenceSweepInterval time.Duration `env:"PRESENCE_SWEEP_INTERVAL"`
}

// DefaultConfig is the local development setup.
func DefaultConfig() Config {
	return Config{
		Settings:              bootstrap.Defaults(Name, "127.0.0.1:8083", "127.0.0.1:9083"),
		Config:                authn.DefaultConfig(),
		ProfilesURL:           "http://127.0.0.1:8082",
		ProfilesTimeout:       5 * time.Second,
		MessagesURL:           "http://127.0.0.1:8084",
		MessagesTimeout:       5 * time.Second,
		PresenceSweepInterval: 5 * time.Second,
	}
}

// validate refuses a configuration the service cannot run with, naming the variable to fix.
func (c Config) validate() error {
	switch {
	case c.ProfilesURL == "":
		return errors.New("PROFILES_URL is required")
	case c.ProfilesTimeout <= 0:
		return errors.New("PROFILES_TIMEOUT must be positive")
	case c.MessagesURL == "":
		return errors.New("MESSAGES_URL is required")
	case c.MessagesTimeout <= 0:
		return errors.New("MESSAGES_TIMEOUT must be positive")
	case c.PresenceSweepInterval <= 0:
		return errors.New("PRESENCE_SWEEP_INTERVAL must be positive")
	}
	return c.Config.Validate()
}

// Build makes the service ready to run: migrated database, broker connection, outbox relay, routes and the
// consumer of users entering the messenger.
func Build(ctx context.Context, cfg Config) (*server.App, error) {
	return bootstrap.BuildWithDatabase(ctx, Name, cfg.Settings, cfg.validate, migrations.FS, func(d bootstrap.Deps) error {
		profiles := adapters.NewProfilesClient(cfg.ProfilesURL, httpclient.New(cfg.ProfilesTimeout))
		repo := adapters.NewMySQLRepository(d.DB)
		messages := adapters.MessagesClient{Service: httpclient.NewService(cfg.MessagesURL, httpclient.New(cfg.MessagesTimeout))}
		application := app.New(repo, repo, profiles, messages, d.Broker, d.Relay)

		ports.NewHTTPServer(application).Register(d.Router, authn.Middleware(bootstrap.Verifier(d.App, cfg.Config)))
		// A read and a reply: the inbox only records that the entry was answered.
		bootstrap.Consume(d.App, d.Broker, broker.Subscription{
			Queue: ports.UserEnteredQueue, Keys: []string{events.UserEntered}, DB: d.DB, Handle: ports.UserEntered(application),
		})
		// Pushes only, published at once; the inbox records the event handled (a redelivery before that pushes
		// the same profile again, which changes nothing).
		bootstrap.Consume(d.App, d.Broker, broker.Subscription{
			Queue: ports.UserUpdatedQueue, Keys: []string{events.UserUpdated}, DB: d.DB, Handle: ports.UserUpdated(application),
		})
		// Presence: the gateways' statements, each applied in its own transaction (the lease's seq makes a
		// redelivery change nothing), and the sweep that ends the leases of gateways that stopped renewing them.
		bootstrap.Consume(d.App, d.Broker, broker.Subscription{
			Queue: ports.PresenceQueue, Keys: ports.PresenceKeys, DB: d.DB, Handle: ports.Presence(application),
		})
		d.App.Every(cfg.PresenceSweepInterval, func(ctx context.Context) {
			if _, err := application.SweepPresence(ctx); err != nil && ctx.Err() == nil {
				d.App.Log.WarnContext(ctx, "presence sweep failed; the next one tries again", "error", err)
			}
		})
		return nil
	})
}
