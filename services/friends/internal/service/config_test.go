package service_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"simplemessenger/platform/config"

	"simplemessenger/services/friends/internal/service"
)

func TestConfigDefaultsThenEnvironment(t *testing.T) {
	cfg := service.DefaultConfig()
	defaults := map[string][2]any{
		"public address":   {cfg.HTTP.Addr, "127.0.0.1:8083"},
		"admin address":    {cfg.HTTP.AdminAddr, "127.0.0.1:9083"},
		"database":         {cfg.MySQL.Database, "messenger_friends"},
		"JWKS":             {cfg.JWKSURL, "http://127.0.0.1:8081/.well-known/jwks.json"},
		"profiles":         {cfg.ProfilesURL, "http://127.0.0.1:8082"},
		"profiles timeout": {cfg.ProfilesTimeout, 5 * time.Second},
	}
	for name, v := range defaults {
		if v[0] != v[1] {
			t.Errorf("default %s: %v, want %v", name, v[0], v[1])
		}
	}

	t.Setenv("PROFILES_URL", "http://profiles.messenger:8082")
	t.Setenv("PROFILES_TIMEOUT", "750ms")
	t.Setenv("MYSQL_DATABASE", "friends_elsewhere")
	if err := config.Load(&cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.ProfilesURL != "http://profiles.messenger:8082" || cfg.ProfilesTimeout != 750*time.Millisecond ||
		cfg.MySQL.Database != "friends_elsewhere" || cfg.HTTP.Addr != "127.0.0.1:8083" {
		t.Errorf("from the environment: %+v", cfg)
	}
}

func TestBuildRefusesAConfigWithoutProfiles(t *testing.T) {
	cfg := service.DefaultConfig()
	cfg.ProfilesURL = ""
	if _, err := service.Build(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "PROFILES_URL") {
		t.Errorf("want an error naming PROFILES_URL, got %v", err)
	}
}
