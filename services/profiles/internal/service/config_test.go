package service_test

import (
	"context"
	"testing"
	"time"

	"simplemessenger/platform/config/configtest"
	"simplemessenger/platform/server"

	"simplemessenger/services/profiles/internal/service"
)

func TestConfigDefaultsAndEnvironment(t *testing.T) {
	cfg := service.DefaultConfig()
	if cfg.RegisterMaxPerAddress != 200 || cfg.RegisterWindow != time.Hour || cfg.PurgeInterval != 10*time.Minute {
		t.Errorf("registration throttle defaults %+v", cfg)
	}
	// Password hashing: as many at once as fit in GOMEMLIMIT (0), memory given back at most every 10 s.
	if cfg.PasswordHashConcurrency != 0 || cfg.PasswordMemoryReleaseInterval != 10*time.Second {
		t.Errorf("password hashing defaults %+v", cfg)
	}
	if cfg.HTTP.Addr != "127.0.0.1:8082" || cfg.HTTP.AdminAddr != "127.0.0.1:9082" || cfg.MySQL.Database != "messenger_profiles" ||
		cfg.JWKSURL != "http://127.0.0.1:8081/.well-known/jwks.json" || cfg.Broker.Exchange == "" || cfg.HTTP.ShutdownTimeout == 0 {
		t.Errorf("defaults %+v", cfg)
	}
	configtest.Load(t, &cfg, map[string]string{
		"HTTP_ADDR": "0.0.0.0:1", "MYSQL_DATABASE": "other_db", "AMQP_EXCHANGE": "other.events", "AUTH_JWKS_URL": "http://auth/jwks",
		"REGISTER_MAX_PER_ADDRESS": "0", "REGISTER_WINDOW": "30m", "PASSWORD_HASH_CONCURRENCY": "3",
		"PASSWORD_MEMORY_RELEASE_INTERVAL": "0",
	})
	if cfg.HTTP.Addr != "0.0.0.0:1" || cfg.MySQL.Database != "other_db" || cfg.Broker.Exchange != "other.events" ||
		cfg.JWKSURL != "http://auth/jwks" || cfg.HTTP.AdminAddr != "127.0.0.1:9082" ||
		cfg.RegisterMaxPerAddress != 0 || cfg.RegisterWindow != 30*time.Minute ||
		cfg.PasswordHashConcurrency != 3 || cfg.PasswordMemoryReleaseInterval != 0 {
		t.Errorf("from environment %+v", cfg)
	}
}

func TestInvalidRegistrationThrottleConfigIsRefused(t *testing.T) {
	// Refused before anything is opened (no database needed).
	build := func(ctx context.Context, c service.Config) (*server.App, error) { return service.Build(ctx, c) }
	configtest.Refused(t, service.DefaultConfig, build, map[string]func(*service.Config){
		"REGISTER_MAX_PER_ADDRESS":         func(c *service.Config) { c.RegisterMaxPerAddress = -1 },
		"REGISTER_WINDOW":                  func(c *service.Config) { c.RegisterWindow = 0 },
		"PROFILES_PURGE_INTERVAL":          func(c *service.Config) { c.PurgeInterval = -time.Second },
		"PASSWORD_HASH_CONCURRENCY":        func(c *service.Config) { c.PasswordHashConcurrency = -1 },
		"PASSWORD_MEMORY_RELEASE_INTERVAL": func(c *service.Config) { c.PasswordMemoryReleaseInterval = -time.Second },
	})
}
