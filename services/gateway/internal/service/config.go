// Package service wires the gateway: configuration, dependencies, routes, background work.
package service

import (
	"time"

	"simplemessenger/platform/authn"
	"simplemessenger/platform/broker"
	"simplemessenger/platform/config"
)

// Config is the gateway's configuration; DefaultConfig holds the defaults, environment variables override them.
type Config struct {
	HTTP   config.HTTP
	Broker broker.Config

	// JWKSURL publishes the keys of access tokens.
	JWKSURL string `env:"AUTH_JWKS_URL"`
	// Upstreams, as http://host:port.
	AuthURL     string `env:"AUTH_URL"`
	ProfilesURL string `env:"PROFILES_URL"`
	FriendsURL  string `env:"FRIENDS_URL"`
	MessagesURL string `env:"MESSAGES_URL"`
	// UpstreamTimeout bounds one forwarded exchange (then 504).
	UpstreamTimeout time.Duration `env:"UPSTREAM_TIMEOUT"`

	// Rate limits: requests per second and burst, per client address (before token verification) and per
	// user (after). A rate of 0 disables that limit (benchmarks).
	RateLimitIPRPS     float64 `env:"RATE_LIMIT_IP_RPS"`
	RateLimitIPBurst   int     `env:"RATE_LIMIT_IP_BURST"`
	RateLimitUserRPS   float64 `env:"RATE_LIMIT_USER_RPS"`
	RateLimitUserBurst int     `env:"RATE_LIMIT_USER_BURST"`
	// RateLimitKeys bounds the addresses and users tracked by each limiter (LRU).
	RateLimitKeys int `env:"RATE_LIMIT_MAX_KEYS"`

	// ProfileCacheTTL is how long a public profile may be served from memory (0 disables the cache);
	// ProfileCacheSize bounds how many are kept.
	ProfileCacheTTL  time.Duration `env:"PROFILE_CACHE_TTL"`
	ProfileCacheSize int           `env:"PROFILE_CACHE_SIZE"`

	// TrustedProxies are the load balancers (CIDRs or addresses) whose X-Forwarded-For is believed.
	TrustedProxies []string `env:"TRUSTED_PROXIES" envSeparator:","`

	// AllowedOrigins are the web origins, besides the gateway's own host, whose pages may open the push
	// connection (patterns like "app.example.com", "*.example.com", "https://*.example.com", "localhost:*").
	AllowedOrigins []string `env:"ALLOWED_ORIGINS" envSeparator:","`
	// WSPingInterval is how often a push connection is pinged; a client that has not answered within
	// WSPongTimeout is dropped. WSWriteTimeout bounds writing one frame. WSSendBuffer frames may wait for a
	// slow socket before it is dropped.
	WSPingInterval time.Duration `env:"WS_PING_INTERVAL"`
	WSPongTimeout  time.Duration `env:"WS_PONG_TIMEOUT"`
	WSWriteTimeout time.Duration `env:"WS_WRITE_TIMEOUT"`
	WSSendBuffer   int           `env:"WS_SEND_BUFFER"`
	// WSDrainPeriod spreads the closing of the sockets over this time when the gateway stops (each client is
	// told to reconnect, 1001, at its turn), so that a scale-in or a rolling update does not send every client
	// of a replica to the others in the same instant. 0 closes them all at once. Keep it under the pod's
	// termination grace period minus the preStop pause (the chart sets 15s of 30s).
	WSDrainPeriod time.Duration `env:"WS_DRAIN_PERIOD"`
}

// DefaultConfig is the configuration of a local stack.
func DefaultConfig() Config {
	return Config{
		HTTP:               config.HTTPDefaults("127.0.0.1:8080", "127.0.0.1:9080"),
		Broker:             broker.DefaultConfig(),
		JWKSURL:            authn.DefaultJWKSURL,
		AuthURL:            "http://127.0.0.1:8081",
		ProfilesURL:        "http://127.0.0.1:8082",
		FriendsURL:         "http://127.0.0.1:8083",
		MessagesURL:        "http://127.0.0.1:8084",
		UpstreamTimeout:    10 * time.Second,
		RateLimitIPRPS:     200,
		RateLimitIPBurst:   400,
		RateLimitUserRPS:   20,
		RateLimitUserBurst: 100,
		RateLimitKeys:      100_000,
		ProfileCacheTTL:    30 * time.Second,
		ProfileCacheSize:   10_000,
		WSPingInterval:     25 * time.Second,
		WSPongTimeout:      10 * time.Second,
		WSWriteTimeout:     10 * time.Second,
		WSSendBuffer:       256,
	}
}
