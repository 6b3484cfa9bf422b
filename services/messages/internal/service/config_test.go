package service_test

import (
	"testing"
	"time"

	"simplemessenger/platform/config/configtest"

	"simplemessenger/services/messages/internal/service"
)

func TestDefaultsAreTheLocalStackAndTheEnvironmentOverridesThem(t *testing.T) {
	cfg := service.DefaultConfig()
	if cfg.HTTP.Addr != "127.0.0.1:8084" || cfg.HTTP.AdminAddr != "127.0.0.1:9084" || cfg.MySQL.Database != "messenger_messages" ||
		cfg.FriendsURL != "http://127.0.0.1:8083" || cfg.ProfilesURL != "http://127.0.0.1:8082" ||
		cfg.JWKSURL != "http://127.0.0.1:8081/.well-known/jwks.json" || cfg.NeighbourTimeout != 5*time.Second ||
		cfg.SendGroupMax != 64 || cfg.SendTransactions != 2 {
		t.Errorf("defaults %+v", cfg)
	}
	configtest.Load(t, &cfg, map[string]string{
		"FRIENDS_URL": "http://friends:8083", "PROFILES_URL": "http://profiles:8082", "NEIGHBOUR_TIMEOUT": "750ms",
		"MYSQL_DATABASE": "elsewhere", "SEND_GROUP_MAX": "1", "SEND_TRANSACTIONS": "4",
	})
	if cfg.FriendsURL != "http://friends:8083" || cfg.ProfilesURL != "http://profiles:8082" || cfg.NeighbourTimeout != 750*time.Millisecond ||
		cfg.MySQL.Database != "elsewhere" || cfg.HTTP.Addr != "127.0.0.1:8084" || cfg.SendGroupMax != 1 || cfg.SendTransactions != 4 {
		t.Errorf("from the environment %+v", cfg)
	}
}

func TestBuildRefusesAnIncompleteConfiguration(t *testing.T) {
	configtest.Refused(t, service.DefaultConfig, service.Build, map[string]func(*service.Config){
		"FRIENDS_URL":       func(c *service.Config) { c.FriendsURL = "" },
		"PROFILES_URL":      func(c *service.Config) { c.ProfilesURL = "" },
		"NEIGHBOUR_TIMEOUT": func(c *service.Config) { c.NeighbourTimeout = 0 },
		"SEND_GROUP_MAX":    func(c *service.Config) { c.SendGroupMax = 0 },
		"SEND_TRANSACTIONS": func(c *service.Config) { c.SendTransactions = 0 },
	})
}
