package servicetest_test

import (
	"context"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"simplemessenger/platform/authn"
	"simplemessenger/platform/broker"
	"simplemessenger/platform/config"
	"simplemessenger/platform/mysqlx"
	"simplemessenger/platform/server"
	"simplemessenger/platform/servicetest"
)

// Settings are shared settings a service's Config embeds.
type Settings struct {
	HTTP  config.HTTP
	MySQL mysqlx.Config
}

// testConfig has the shape of a service's Config.
type testConfig struct {
	Settings
	Broker   broker.Config
	JWKSURL  string `env:"AUTH_JWKS_URL"`
	OtherURL string `env:"OTHER_URL"`
}

func TestStartConfiguresTheSharedFieldsAndServes(t *testing.T) {
	cfg := testConfig{OtherURL: "http://other"}
	cfg.HTTP = config.HTTPDefaults("127.0.0.1:1", "127.0.0.1:2")
	var built testConfig
	s := servicetest.Start(t, cfg, func(_ context.Context, c testConfig) (*server.App, error) {
		built = c
		return server.New("test", c.HTTP, slog.Default()), nil
	})
	if built.HTTP.LogLevel != "error" || built.HTTP.ShutdownTimeout != 5*time.Second || built.HTTP.Addr != "127.0.0.1:1" {
		t.Errorf("HTTP %+v", built.HTTP)
	}
	if built.MySQL != s.MySQL || s.MySQL.Database == "" || built.Broker != s.Broker || s.Broker.Exchange == "" {
		t.Errorf("database %+v and exchange %+v, want the Env's %+v and %+v", built.MySQL, built.Broker, s.MySQL, s.Broker)
	}
	if built.JWKSURL != s.Issuer.JWKSURL || built.OtherURL != "http://other" {
		t.Errorf("JWKS %q, other %q: only AUTH_JWKS_URL is the issuer's", built.JWKSURL, built.OtherURL)
	}
	var one int
	if err := s.DB.QueryRow("SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Errorf("the test's handle on the database: %v", err)
	}
	res, err := http.Get(s.Admin + "/healthz")
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("admin server: %v %v", res, err)
	}
	res.Body.Close()
}

// A service that embeds authn.Config gets the issuer's key set there.
func TestAServiceWithoutADatabaseGetsNone(t *testing.T) {
	var cfg struct {
		HTTP   config.HTTP
		Broker broker.Config
		authn.Config
	}
	env := servicetest.New(t)
	env.Configure(t, &cfg)
	if env.MySQL != (mysqlx.Config{}) || cfg.Broker != env.Broker || cfg.JWKSURL != env.Issuer.JWKSURL {
		t.Errorf("database %+v, exchange %+v, JWKS %q", env.MySQL, cfg.Broker, cfg.JWKSURL)
	}
}
