package service_test

import (
	"testing"
	"time"

	"simplemessenger/platform/config/configtest"

	"simplemessenger/services/auth/internal/service"
)

func TestConfigComesFromTheEnvironmentOverDefaults(t *testing.T) {
	cfg := service.DefaultConfig()
	if cfg.HTTP.Addr != "127.0.0.1:8081" || cfg.HTTP.AdminAddr != "127.0.0.1:9081" || cfg.MySQL.Database != "messenger_auth" ||
		cfg.ProfilesURL != "http://127.0.0.1:8082" || cfg.AccessTokenTTL != 15*time.Minute || cfg.RefreshTokenTTL != 30*24*time.Hour ||
		cfg.LoginMaxFailuresPerAccount != 10 || cfg.LoginMaxFailuresPerAddress != 100 || cfg.LoginFailureWindow != 15*time.Minute {
		t.Errorf("defaults %+v", cfg)
	}
	configtest.Load(t, &cfg, map[string]string{
		"HTTP_ADDR": "0.0.0.0:18081", "PROFILES_URL": "http://profiles:8082", "AUTH_SIGNING_KEYS": "a,b",
		"ACCESS_TOKEN_TTL": "5m", "REFRESH_TOKEN_TTL": "1h", "LOGIN_MAX_FAILURES_PER_ACCOUNT": "1000000",
		"LOGIN_MAX_FAILURES_PER_ADDRESS": "0", "LOGIN_FAILURE_WINDOW": "1m", "MYSQL_DATABASE": "other", "AMQP_EXCHANGE": "x",
	})
	if cfg.HTTP.Addr != "0.0.0.0:18081" || cfg.HTTP.AdminAddr != "127.0.0.1:9081" || cfg.ProfilesURL != "http://profiles:8082" ||
		cfg.SigningKeys != "a,b" || cfg.AccessTokenTTL != 5*time.Minute || cfg.RefreshTokenTTL != time.Hour ||
		cfg.LoginMaxFailuresPerAccount != 1000000 || cfg.LoginMaxFailuresPerAddress != 0 || cfg.LoginFailureWindow != time.Minute ||
		cfg.MySQL.Database != "other" || cfg.Broker.Exchange != "x" {
		t.Errorf("loaded %+v", cfg)
	}
}

func TestBuildRefusesMalformedSigningKeys(t *testing.T) {
	configtest.Refused(t, service.DefaultConfig, service.Build, map[string]func(*service.Config){
		"AUTH_SIGNING_KEYS": func(c *service.Config) { c.SigningKeys = "not-a-key" },
	})
}
