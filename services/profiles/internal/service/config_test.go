package service_test

import (
	"testing"

	"simplemessenger/platform/config"

	"simplemessenger/services/profiles/internal/service"
)

func TestConfigDefaultsAndEnvironment(t *testing.T) {
	cfg := service.DefaultConfig()
	if cfg.HTTP.Addr != "127.0.0.1:8082" || cfg.HTTP.AdminAddr != "127.0.0.1:9082" || cfg.MySQL.Database != "messenger_profiles" ||
		cfg.JWKSURL != "http://127.0.0.1:8081/.well-known/jwks.json" || cfg.Broker.Exchange == "" || cfg.HTTP.ShutdownTimeout == 0 {
		t.Errorf("defaults %+v", cfg)
	}
	t.Setenv("HTTP_ADDR", "0.0.0.0:1")
	t.Setenv("MYSQL_DATABASE", "other_db")
	t.Setenv("AMQP_EXCHANGE", "other.events")
	t.Setenv("AUTH_JWKS_URL", "http://auth/jwks")
	if err := config.Load(&cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.HTTP.Addr != "0.0.0.0:1" || cfg.MySQL.Database != "other_db" || cfg.Broker.Exchange != "other.events" ||
		cfg.JWKSURL != "http://auth/jwks" || cfg.HTTP.AdminAddr != "127.0.0.1:9082" {
		t.Errorf("from environment %+v", cfg)
	}
}
