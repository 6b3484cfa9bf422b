// Package service wires the profiles service: configuration, database, broker, outbox relay, HTTP routes.
package service

import (
	"context"
	"fmt"
	"time"

	"github.com/alexedwards/argon2id"

	"simplemessenger/platform/authn"
	"simplemessenger/platform/bootstrap"
	"simplemessenger/platform/contract"
	"simplemessenger/platform/server"
	"simplemessenger/platform/throttle"

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
	// The listeners, the database and the broker.
	bootstrap.Settings
	// Tokens: where the keys that verify access tokens are fetched.
	authn.Config

	// Registration throttling: at most this many registration attempts per client address within the window
	// (0 disables it; tests and benchmarks that register from one address lift it).
	RegisterMaxPerAddress int           `env:"REGISTER_MAX_PER_ADDRESS"`
	RegisterWindow        time.Duration `env:"REGISTER_WINDOW"`
	// PurgeInterval is how often registration attempts that left the window are deleted (0: never).
	PurgeInterval time.Duration `env:"PROFILES_PURGE_INTERVAL"`

	// Password hashing: argon2id takes 19 MiB per hash, so this many run at once (0: one per CPU, but no more
	// than fit in GOMEMLIMIT) and, once hashing has stopped, their memory is given back to the operating system
	// at most once per interval (0: never).
	PasswordHashConcurrency       int           `env:"PASSWORD_HASH_CONCURRENCY"`
	PasswordMemoryReleaseInterval time.Duration `env:"PASSWORD_MEMORY_RELEASE_INTERVAL"`
}

// DefaultConfig is the local development setup.
func DefaultConfig() Config {
	return Config{
		Settings: bootstrap.Defaults(Name, "127.0.0.1:8082", "127.0.0.1:9082"),
		Config:   authn.DefaultConfig(),

		RegisterMaxPerAddress: domain.DefaultRegistrationsPerAddress,
		RegisterWindow:        domain.DefaultRegistrationWindow,
		PurgeInterval:         10 * time.Minute,

		PasswordHashConcurrency:       adapters.DefaultHasherLimits.Concurrency,
		PasswordMemoryReleaseInterval: adapters.DefaultHasherLimits.ReleaseInterval,
	}
}

func (c Config) validate() error {
	switch {
	case c.RegisterMaxPerAddress < 0:
		return fmt.Errorf("REGISTER_MAX_PER_ADDRESS must not be negative")
	case c.RegisterWindow <= 0:
		return fmt.Errorf("REGISTER_WINDOW must be positive")
	case c.PurgeInterval < 0:
		return fmt.Errorf("PROFILES_PURGE_INTERVAL must not be negative")
	case c.PasswordHashConcurrency < 0:
		return fmt.Errorf("PASSWORD_HASH_CONCURRENCY must not be negative")
	case c.PasswordMemoryReleaseInterval < 0:
		return fmt.Errorf("PASSWORD_MEMORY_RELEASE_INTERVAL must not be negative")
	}
	return c.Config.Validate()
}

type options struct {
	hashParams argon2id.Params
}

// Option changes how Build wires the service; options exist for tests and are not configuration.
type Option func(*options)

// WithPasswordParams replaces the OWASP argon2id parameters (tests use cheap ones; production never should).
func WithPasswordParams(p argon2id.Params) Option { return func(o *options) { o.hashParams = p } }

// Build makes the service ready to run: migrated database, broker connection, outbox relay, routes and the
// purge of old registration attempts.
func Build(ctx context.Context, cfg Config, opts ...Option) (*server.App, error) {
	o := options{hashParams: adapters.OWASPParams}
	for _, opt := range opts {
		opt(&o)
	}
	return bootstrap.BuildWithDatabase(ctx, Name, cfg.Settings, cfg.validate, migrations.FS, func(d bootstrap.Deps) error {
		hasher, err := adapters.NewArgon2Hasher(o.hashParams, adapters.HasherLimits{
			Concurrency: cfg.PasswordHashConcurrency, ReleaseInterval: cfg.PasswordMemoryReleaseInterval,
		}, d.Metrics.Registerer)
		if err != nil {
			return fmt.Errorf("password hasher: %w", err)
		}
		counted, err := app.WithMetrics(d.Metrics.Registerer)
		if err != nil {
			return err
		}
		application := app.New(adapters.NewMySQLRepository(d.DB), hasher, d.Relay, counted,
			app.WithRegistrationThrottle(throttle.Rule{Limit: cfg.RegisterMaxPerAddress, Window: cfg.RegisterWindow}))
		if cfg.PurgeInterval > 0 {
			d.Every(cfg.PurgeInterval, application.PurgeRegistrationAttempts)
		}

		d.SetBodyLimit(ports.AvatarRoute, contract.AvatarMaxBytes)
		ports.NewHTTPServer(application).Register(d.Router, authn.Middleware(bootstrap.Verifier(d.App, cfg.Config)))
		return nil
	})
}
