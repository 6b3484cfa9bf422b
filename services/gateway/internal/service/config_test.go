package service_test

import (
	"reflect"
	"testing"
	"time"

	"simplemessenger/platform/config/configtest"

	"simplemessenger/services/gateway/internal/service"
)

func TestTheConfigurationComesFromTheEnvironmentOverTheDefaults(t *testing.T) {
	def := service.DefaultConfig()
	if def.HTTP.Addr != "127.0.0.1:8080" || def.HTTP.AdminAddr != "127.0.0.1:9080" ||
		def.AuthURL != "http://127.0.0.1:8081" || def.ProfilesURL != "http://127.0.0.1:8082" ||
		def.FriendsURL != "http://127.0.0.1:8083" || def.MessagesURL != "http://127.0.0.1:8084" ||
		def.JWKSURL != "http://127.0.0.1:8081/.well-known/jwks.json" ||
		def.RateLimitIPRPS != 200 || def.RateLimitIPBurst != 400 || def.RateLimitUserRPS != 20 || def.RateLimitUserBurst != 100 ||
		def.ProfileCacheTTL != 30*time.Second || len(def.TrustedProxies) != 0 || len(def.AllowedOrigins) != 0 ||
		def.WSPingInterval != 25*time.Second || def.WSPongTimeout != 10*time.Second || def.WSWriteTimeout != 10*time.Second ||
		def.WSSendBuffer != 256 {
		t.Fatalf("defaults: %+v", def)
	}

	cfg := service.DefaultConfig()
	configtest.Load(t, &cfg, map[string]string{
		"HTTP_ADDR": "0.0.0.0:80", "ADMIN_ADDR": "0.0.0.0:9000", "AMQP_EXCHANGE": "x",
		"AUTH_JWKS_URL": "http://auth/.well-known/jwks.json", "AUTH_URL": "http://auth:8081",
		"PROFILES_URL": "http://profiles:8082", "FRIENDS_URL": "http://friends:8083", "MESSAGES_URL": "http://messages:8084",
		"UPSTREAM_TIMEOUT": "3s", "RATE_LIMIT_IP_RPS": "0", "RATE_LIMIT_IP_BURST": "7", "RATE_LIMIT_USER_RPS": "2.5",
		"RATE_LIMIT_USER_BURST": "9", "PROFILE_CACHE_TTL": "1m", "PROFILE_CACHE_SIZE": "5",
		"TRUSTED_PROXIES": "10.0.0.0/8,192.0.2.1",
		"ALLOWED_ORIGINS": "https://app.example.com,*.example.org", "WS_PING_INTERVAL": "5s", "WS_PONG_TIMEOUT": "2s",
		"WS_WRITE_TIMEOUT": "3s", "WS_SEND_BUFFER": "64", "WS_DRAIN_PERIOD": "15s",
	})
	want := def
	want.HTTP.Addr, want.HTTP.AdminAddr, want.Broker.Exchange = "0.0.0.0:80", "0.0.0.0:9000", "x"
	want.JWKSURL, want.AuthURL = "http://auth/.well-known/jwks.json", "http://auth:8081"
	want.ProfilesURL, want.FriendsURL, want.MessagesURL = "http://profiles:8082", "http://friends:8083", "http://messages:8084"
	want.UpstreamTimeout, want.RateLimitIPRPS, want.RateLimitIPBurst = 3*time.Second, 0, 7
	want.RateLimitUserRPS, want.RateLimitUserBurst = 2.5, 9
	want.ProfileCacheTTL, want.ProfileCacheSize = time.Minute, 5
	want.TrustedProxies = []string{"10.0.0.0/8", "192.0.2.1"}
	want.AllowedOrigins = []string{"https://app.example.com", "*.example.org"}
	want.WSPingInterval, want.WSPongTimeout, want.WSWriteTimeout, want.WSSendBuffer = 5*time.Second, 2*time.Second, 3*time.Second, 64
	want.WSDrainPeriod = 15 * time.Second
	if !reflect.DeepEqual(cfg, want) {
		t.Fatalf("loaded\n%+v\nwant\n%+v", cfg, want)
	}
}

func TestBuildRefusesAMalformedConfiguration(t *testing.T) {
	for name, mutate := range map[string]func(*service.Config){
		"upstream without scheme": func(c *service.Config) { c.ProfilesURL = "127.0.0.1:8082" },
		"bad trusted proxy":       func(c *service.Config) { c.TrustedProxies = []string{"10.0.0.0/40"} },
		"bad JWKS URL":            func(c *service.Config) { c.JWKSURL = "::" },
		"bad origin pattern":      func(c *service.Config) { c.AllowedOrigins = []string{"[a-"} },
		"no ping interval":        func(c *service.Config) { c.WSPingInterval = 0 },
		"no send buffer":          func(c *service.Config) { c.WSSendBuffer = 0 },
		"negative drain period":   func(c *service.Config) { c.WSDrainPeriod = -time.Second },
	} {
		t.Run(name, func(t *testing.T) {
			cfg := service.DefaultConfig()
			mutate(&cfg)
			if _, err := service.Build(t.Context(), cfg); err == nil {
				t.Fatal("built")
			}
		})
	}
}
