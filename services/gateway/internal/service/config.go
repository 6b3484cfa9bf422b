// Package service wires the gateway: configuration, dependencies, routes, background work.
package service

import (
	"fmt"
	"net/url"
	"time"

	"simplemessenger/platform/authn"
	"simplemessenger/platform/broker"
	"simplemessenger/platform/cache"
	"simplemessenger/platform/config"

	"simplemessenger/services/gateway/internal/adapters"
	"simplemessenger/services/gateway/internal/domain"
	"simplemessenger/services/gateway/internal/ports"
	"simplemessenger/services/gateway/web"
)

// Config is the gateway's configuration; DefaultConfig holds the defaults, environment variables override them.
type Config struct {
	HTTP   config.HTTP
	Broker broker.Config

	// Tokens: where the keys that verify access tokens are fetched.
	authn.Config
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
	// PresenceHeartbeat is how often the gateway lists its connected users to friends, which keeps presence;
	// each statement holds for three heartbeats, so the users of a gateway that dies go offline within about
	// 3× this plus friends' PRESENCE_SWEEP_INTERVAL. 0 keeps no presence.
	PresenceHeartbeat time.Duration `env:"PRESENCE_HEARTBEAT"`
}

// DefaultConfig is the configuration of a local stack.
func DefaultConfig() Config {
	return Config{
		HTTP:               config.HTTPDefaults("127.0.0.1:8080", "127.0.0.1:9080"),
		Broker:             broker.DefaultConfig(),
		Config:             authn.DefaultConfig(),
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
		PresenceHeartbeat:  10 * time.Second,
	}
}

// validate refuses a configuration the gateway cannot run with, naming the variable to fix. (The settings that
// are parsed into something, such as URLs, proxies and origins, are checked by parsing them: newPolicies.)
func (c Config) validate() error {
	switch {
	case c.WSPingInterval <= 0 || c.WSPongTimeout <= 0 || c.WSWriteTimeout <= 0 || c.WSSendBuffer < 1:
		return fmt.Errorf("WS_PING_INTERVAL, WS_PONG_TIMEOUT, WS_WRITE_TIMEOUT and WS_SEND_BUFFER must be positive")
	case c.WSDrainPeriod < 0:
		return fmt.Errorf("WS_DRAIN_PERIOD must not be negative")
	case c.PresenceHeartbeat < 0:
		return fmt.Errorf("PRESENCE_HEARTBEAT must not be negative")
	case c.UpstreamTimeout <= 0:
		return fmt.Errorf("UPSTREAM_TIMEOUT must be positive")
	}
	return c.Config.Validate()
}

// policies are the gateway's rules as its configuration sets them.
type policies struct {
	upstreams   map[domain.Upstream]*url.URL
	trusted     domain.TrustedProxies
	limits      ports.Limits
	profiles    *cache.Cache[string, domain.CachedProfile] // nil: no cache
	origins     domain.OriginPolicy
	site        *web.Site
	socket      ports.SocketConfig
	drainPeriod time.Duration
	heartbeat   time.Duration
}

// newPolicies parses the configuration into the gateway's rules; an error names the variable to fix.
func newPolicies(c Config) (policies, error) {
	if err := c.validate(); err != nil {
		return policies{}, err
	}
	p := policies{
		socket:      ports.SocketConfig{PingInterval: c.WSPingInterval, PongTimeout: c.WSPongTimeout, WriteTimeout: c.WSWriteTimeout, SendBuffer: c.WSSendBuffer},
		drainPeriod: c.WSDrainPeriod,
		heartbeat:   c.PresenceHeartbeat,
	}
	var err error
	if p.upstreams, err = parseUpstreams(c); err != nil {
		return p, err
	}
	if p.trusted, err = domain.ParseTrustedProxies(c.TrustedProxies); err != nil {
		return p, fmt.Errorf("TRUSTED_PROXIES: %w", err)
	}
	if p.limits.Address, err = domain.NewRateLimiter(c.RateLimitIPRPS, c.RateLimitIPBurst, c.RateLimitKeys); err != nil {
		return p, fmt.Errorf("RATE_LIMIT_IP_*: %w", err)
	}
	if p.limits.User, err = domain.NewRateLimiter(c.RateLimitUserRPS, c.RateLimitUserBurst, c.RateLimitKeys); err != nil {
		return p, fmt.Errorf("RATE_LIMIT_USER_*: %w", err)
	}
	if p.profiles, err = adapters.NewProfileCache(c.ProfileCacheTTL, c.ProfileCacheSize); err != nil {
		return p, fmt.Errorf("PROFILE_CACHE_*: %w", err)
	}
	if p.origins, err = domain.NewOriginPolicy(c.AllowedOrigins); err != nil {
		return p, fmt.Errorf("ALLOWED_ORIGINS: %w", err)
	}
	p.site, err = web.New()
	return p, err
}

func parseUpstreams(c Config) (map[domain.Upstream]*url.URL, error) {
	out := map[domain.Upstream]*url.URL{}
	for _, u := range []struct {
		name domain.Upstream
		env  string
		raw  string
	}{
		{domain.Auth, "AUTH_URL", c.AuthURL},
		{domain.Profiles, "PROFILES_URL", c.ProfilesURL},
		{domain.Friends, "FRIENDS_URL", c.FriendsURL},
		{domain.Messages, "MESSAGES_URL", c.MessagesURL},
	} {
		parsed, err := url.Parse(u.raw)
		if err != nil || (parsed.Scheme != "http" && parsed.Scheme != "https") || parsed.Host == "" {
			return nil, fmt.Errorf("%s: %q is not an http(s)://host:port URL", u.env, u.raw)
		}
		out[u.name] = parsed
	}
	return out, nil
}
