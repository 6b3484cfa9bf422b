// Package service wires the auth service: configuration, database, broker, keys, use cases and routes.
package service

import (
	"context"
	"fmt"
	"time"

	"simplemessenger/platform/bootstrap"
	"simplemessenger/platform/broker"
	"simplemessenger/platform/config"
	"simplemessenger/platform/httpclient"
	"simplemessenger/platform/mysqlx"
	"simplemessenger/platform/server"
	"simplemessenger/platform/throttle"

	"simplemessenger/services/auth/internal/adapters"
	"simplemessenger/services/auth/internal/app"
	"simplemessenger/services/auth/internal/domain"
	"simplemessenger/services/auth/internal/ports"
)

// Name is the service's name in logs, metrics and traces.
const Name = "auth"

// Config is the auth service's configuration, read from the environment once at start.
type Config struct {
	HTTP   config.HTTP
	MySQL  mysqlx.Config
	Broker broker.Config

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
		HTTP:                       config.HTTPDefaults("127.0.0.1:8081", "127.0.0.1:9081"),
		MySQL:                      mysqlx.Defaults(Name),
		Broker:                     broker.DefaultConfig(),
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
	return nil
}

// Build makes the auth App: it migrates and opens the database, loads the signing keys, dials the broker and
// registers the routes, the outbox relay, the password-changed consumer and the purge loop.
func Build(ctx context.Context, cfg Config) (*server.App, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	var keys []domain.SigningKey
	if cfg.SigningKeys != "" {
		var err error
		if keys, err = domain.ParseSigningKeys(cfg.SigningKeys); err != nil {
			return nil, fmt.Errorf("configuration: AUTH_SIGNING_KEYS: %w", err)
		}
	}

	return bootstrap.Build(ctx, Name, cfg.HTTP, func(a *server.App) error {
		db, err := bootstrap.Database(ctx, a, cfg.MySQL, adapters.Migrations())
		if err != nil {
			return err
		}
		if keys == nil {
			k, err := adapters.LoadOrCreateSigningKey(ctx, db)
			if err != nil {
				return err
			}
			keys = []domain.SigningKey{k}
		}
		ring, err := domain.NewKeyRing(keys)
		if err != nil {
			return err
		}
		m, err := app.NewMetrics(a.Metrics.Registerer)
		if err != nil {
			return err
		}
		conn := bootstrap.Broker(a, cfg.Broker)
		relay := bootstrap.Outbox(a, db, conn)

		window := cfg.LoginFailureWindow
		svc := app.New(app.Config{
			AccessTokenTTL:  cfg.AccessTokenTTL,
			RefreshTokenTTL: cfg.RefreshTokenTTL,
			AccountThrottle: throttle.Rule{Limit: cfg.LoginMaxFailuresPerAccount, Window: window},
			AddressThrottle: throttle.Rule{Limit: cfg.LoginMaxFailuresPerAddress, Window: window},
		}, ring, adapters.NewRepository(db), adapters.NewProfilesClient(cfg.ProfilesURL, httpclient.New(cfg.ProfilesTimeout)), relay, time.Now, m)

		ports.NewHTTP(svc, a.Metrics.Registerer).Register(a.Router)
		bootstrap.Consume(a, conn, broker.Subscription{
			Queue: ports.PasswordChangedQueue, Keys: []string{ports.PasswordChangedEvent},
			DB: db, Handle: ports.PasswordChanged(svc),
		})
		if cfg.PurgeInterval > 0 {
			a.Every(cfg.PurgeInterval, func(ctx context.Context) { svc.Purge(ctx, window) })
		}
		return nil
	})
}
