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
	"simplemessenger/platform/events"
	"simplemessenger/platform/httpclient"
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
	// The listeners, the database and the broker.
	bootstrap.Settings
	// Tokens: where the keys that verify access tokens are fetched.
	authn.Config

	// FriendsURL is where the friends service answers "are these two friends" (asked about pairs messages does not know to be friends).
	FriendsURL string `env:"FRIENDS_URL"`
	// ProfilesURL is where the profiles service tells whether a user exists and gives the chat list's peers.
	ProfilesURL string `env:"PROFILES_URL"`
	// NeighbourTimeout bounds each call to friends or profiles; past it the request answers 503.
	NeighbourTimeout time.Duration `env:"NEIGHBOUR_TIMEOUT"`
	// SendGroupMax is the most sends one transaction stores (group commit); 1 stores each alone.
	SendGroupMax int `env:"SEND_GROUP_MAX"`
	// SendTransactions is how many send transactions run at once.
	SendTransactions int `env:"SEND_TRANSACTIONS"`
}

// DefaultConfig is the local development setup.
func DefaultConfig() Config {
	return Config{
		Settings:         bootstrap.Defaults(Name, "127.0.0.1:8084", "127.0.0.1:9084"),
		Config:           authn.DefaultConfig(),
		FriendsURL:       "http://127.0.0.1:8083",
		ProfilesURL:      "http://127.0.0.1:8082",
		NeighbourTimeout: 5 * time.Second,
		SendGroupMax:     adapters.DefaultGroupCommit().Max,
		SendTransactions: adapters.DefaultGroupCommit().Transactions,
	}
}

func (c Config) groupCommit() adapters.GroupCommit {
	return adapters.GroupCommit{Max: c.SendGroupMax, Transactions: c.SendTransactions}
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
	if err := c.groupCommit().Validate(); err != nil {
		return fmt.Errorf("SEND_GROUP_MAX, SEND_TRANSACTIONS: %w", err)
	}
	return c.Config.Validate()
}

// Build makes the service ready to run: migrated database, broker connection, outbox relay, routes and the
// consumer of gateway.user.entered.
func Build(ctx context.Context, cfg Config) (*server.App, error) {
	return bootstrap.BuildWithDatabase(ctx, Name, cfg.Settings, cfg.validate, migrations.FS, func(d bootstrap.Deps) error {
		client := httpclient.New(cfg.NeighbourTimeout)
		repo, err := adapters.NewMySQLRepository(d.DB).GroupSends(cfg.groupCommit(), d.Metrics.Registerer)
		if err != nil {
			return err
		}
		// Friendship is asked of the friends service about pairs messages does not know to be friends; friends
		// tells messages of an end before it answers the unfriending (docs/architecture.md).
		application := app.New(repo,
			adapters.NewFriendsClient(cfg.FriendsURL, client), adapters.NewProfilesClient(cfg.ProfilesURL, client),
			d.Broker, d.Relay)

		ports.NewHTTPServer(application).Register(d.Router, authn.Middleware(bootstrap.Verifier(d.App, cfg.Config)))
		bootstrap.Consume(d.App, d.Broker, broker.Subscription{
			Queue: ports.UserEnteredQueue, Keys: []string{events.UserEntered}, DB: d.DB, Handle: ports.UserEntered(application),
		})
		return nil
	})
}
