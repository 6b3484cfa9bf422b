// Package service wires the auth service: configuration, database, broker, keys, use cases and routes.
package service

import (
	"context"
	"fmt"
	"time"

	"simplemessenger/platform/bootstrap"
	"simplemessenger/platform/broker"
	"simplemessenger/platform/events"
	"simplemessenger/platform/httpclient"
	"simplemessenger/platform/server"
	"simplemessenger/platform/throttle"

	"simplemessenger/services/auth/internal/adapters"
	"simplemessenger/services/auth/internal/adapters/migrations"
	"simplemessenger/services/auth/internal/app"
	"simplemessenger/services/auth/internal/domain"
	"simplemessenger/services/auth/internal/ports"
)

// Name is the service's name in logs, metrics and traces.
const Name = "auth"

// Config is the auth service's configuration, read from the environment once at start.
type Config struct {
	// The listeners, the database and the broker.
	bootstrap.Settings

	// ProfilesURL is where the profiles service answers credential checks.
	ProfilesURL     string        `env:"PROFILES_URL"`
	ProfilesTimeout time.Duration `env:"PROFILES_TIMEOUT"`

	// SigningKeys: comma-separated base64 Ed25519 seeds (32 bytes); the first signs, all are published. Empty:
	// a key kept in the auth database, created on first start.
	SigningKeys string `env:"AUTH_SIGNING_KEYS"`

	AccessTokenTTL  time.Duration `env:"ACCESS_TOKEN_TTL"`
	RefreshTokenTTL time.Duration `env:"REFRESH_TOKEN_TTL"`

	// Login throttling: at most this many failures per nickname / per client address within the window
	// (0 disables a limit; benchmarks lift them).
	LoginFailureWindow         time.Duration `env:"LOGIN_FAILURE_WINDOW"`
	LoginMaxFailuresPerAccount int           `env:"LOGIN_MAX_FAILURES_PER_ACCOUNT"`
	LoginMaxFailuresPerAddress int           `env:"LOGIN_MAX_FAILURES_PER_ADDRESS"`

	// PurgeInterval is how often expired failures, tokens and sessions are deleted.
	PurgeInterval time.Duration `env:"AUTH_PURGE_INTERVAL"`
}

// DefaultConfig is the local development configuration.
func DefaultConfig() Config {
	return Config{
		Settings:                   bootstrap.Defaults(Name, "127.0.0.1:8081", "127.0.0.1:9081"),
		ProfilesURL:                "http://127.0.0.1:8082",
		ProfilesTimeout:            5 * time.Second,
		AccessTokenTTL:             15 * time.Minute,
		RefreshTokenTTL:            30 * 24 * time.Hour,
		LoginFailureWindow:         15 * time.Minute,
		LoginMaxFailuresPerAccount: 10,
		LoginMaxFailuresPerAddress: 100,
		PurgeInterval:              10 * time.Minute,
	}
}

func (c Config) validate() error {
	switch {
	case c.AccessTokenTTL <= 0:
		return fmt.Errorf("ACCESS_TOKEN_TTL must be positive")
	case c.RefreshTokenTTL <= 0:
		return fmt.Errorf("REFRESH_TOKEN_TTL must be positive")
	case c.LoginFailureWindow <= 0:
		return fmt.Errorf("LOGIN_FAILURE_WINDOW must be positive")
	case c.LoginMaxFailuresPerAccount < 0 || c.LoginMaxFailuresPerAddress < 0:
		return fmt.Errorf("LOGIN_MAX_FAILURES_PER_* must not be negative")
	case c.ProfilesURL == "":
		return fmt.Errorf("PROFILES_URL is required")
	}
	if _, err := c.signingKeys(); err != nil {
		return fmt.Errorf("AUTH_SIGNING_KEYS: %w", err)
	}
	return nil
}

// signingKeys are the keys AUTH_SIGNING_KEYS gives, or none: then the key kept in the database signs.
func (c Config) signingKeys() ([]domain.SigningKey, error) {
	if c.SigningKeys == "" {
		return nil, nil
	}
	return domain.ParseSigningKeys(c.SigningKeys)
}

// Build makes the auth App: it migrates and opens the database, loads the signing keys, dials the broker and
// registers the routes, the outbox relay, the password-changed consumer and the purge loop.
func Build(ctx context.Context, cfg Config) (*server.App, error) {
	return bootstrap.BuildWithDatabase(ctx, Name, cfg.Settings, cfg.validate, migrations.FS, func(d bootstrap.Deps) error {
		keys, err := cfg.signingKeys()
		if err != nil {
			return err
		}
		if keys == nil {
			k, err := adapters.LoadOrCreateSigningKey(ctx, d.DB)
			if err != nil {
				return err
			}
			keys = []domain.SigningKey{k}
		}
		ring, err := domain.NewKeyRing(keys)
		if err != nil {
			return err
		}
		m, err := app.NewMetrics(d.Metrics.Registerer)
		if err != nil {
			return err
		}

		window := cfg.LoginFailureWindow
		repo := adapters.NewRepository(d.DB)
		application := app.New(app.Config{
			AccessTokenTTL:  cfg.AccessTokenTTL,
			RefreshTokenTTL: cfg.RefreshTokenTTL,
			AccountThrottle: throttle.Rule{Limit: cfg.LoginMaxFailuresPerAccount, Window: window},
			AddressThrottle: throttle.Rule{Limit: cfg.LoginMaxFailuresPerAddress, Window: window},
		}, ring, repo, adapters.NewProfilesClient(cfg.ProfilesURL, httpclient.New(cfg.ProfilesTimeout)), d.Relay, time.Now, m)

		ports.NewHTTPServer(application, d.Metrics.Registerer).Register(d.Router)
		bootstrap.Consume(d.App, d.Broker, broker.Subscription{
			Queue: ports.PasswordChangedQueue, Keys: []string{events.PasswordChanged},
			DB: d.DB, Handle: ports.PasswordChanged(application, repo.Bind),
		})
		if cfg.PurgeInterval > 0 {
			d.Every(cfg.PurgeInterval, func(ctx context.Context) { application.Purge(ctx, window) })
		}
		return nil
	})
}
