package service_test

import (
	"testing"
	"time"

	"simplemessenger/platform/config/configtest"

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

	configtest.Load(t, &cfg, map[string]string{
		"PROFILES_URL": "http://profiles.messenger:8082", "PROFILES_TIMEOUT": "750ms", "MYSQL_DATABASE": "friends_elsewhere",
	})
	if cfg.ProfilesURL != "http://profiles.messenger:8082" || cfg.ProfilesTimeout != 750*time.Millisecond ||
		cfg.MySQL.Database != "friends_elsewhere" || cfg.HTTP.Addr != "127.0.0.1:8083" {
		t.Errorf("from the environment: %+v", cfg)
	}
}

func TestBuildRefusesAConfigWithoutProfiles(t *testing.T) {
	configtest.Refused(t, service.DefaultConfig, service.Build, map[string]func(*service.Config){
		"PROFILES_URL": func(c *service.Config) { c.ProfilesURL = "" },
	})
}
