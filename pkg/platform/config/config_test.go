package config

import (
	"os"
	"strings"
	"testing"
	"time"
)

type sample struct {
	Name    string        `env:"CFGTEST_NAME,required"`
	Timeout time.Duration `env:"CFGTEST_TIMEOUT"`
	Port    int           `env:"CFGTEST_PORT"`
}

func TestLoadKeepsDefaultsAndReadsVariables(t *testing.T) {
	t.Setenv("CFGTEST_NAME", "gateway")
	t.Setenv("CFGTEST_TIMEOUT", "3s")
	cfg := sample{Port: 8080}
	if err := Load(&cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Name != "gateway" || cfg.Timeout != 3*time.Second || cfg.Port != 8080 {
		t.Fatalf("got %+v", cfg)
	}
}

func TestLoadNamesTheMissingVariable(t *testing.T) {
	err := Load(&sample{})
	if err == nil || !strings.Contains(err.Error(), "CFGTEST_NAME") {
		t.Fatalf("error %v does not name CFGTEST_NAME", err)
	}
}

func TestLoadNamesTheMalformedVariable(t *testing.T) {
	t.Setenv("CFGTEST_NAME", "x")
	t.Setenv("CFGTEST_PORT", "eighty")
	err := Load(&sample{})
	if err == nil || !strings.Contains(err.Error(), "CFGTEST_PORT") {
		t.Fatalf("error %v does not name CFGTEST_PORT", err)
	}
}

func TestHTTPDefaultsAreTheTagDefaults(t *testing.T) {
	for _, k := range []string{"HTTP_ADDR", "ADMIN_ADDR", "SHUTDOWN_TIMEOUT", "HTTP_READ_HEADER_TIMEOUT", "HTTP_READ_TIMEOUT", "HTTP_IDLE_TIMEOUT", "LOG_LEVEL"} {
		t.Setenv(k, "") // restores the variable after the test
		os.Unsetenv(k)
	}
	var loaded HTTP
	if err := Load(&loaded); err != nil {
		t.Fatal(err)
	}
	want := HTTPDefaults("127.0.0.1:1", "127.0.0.1:2")
	want.Addr, want.AdminAddr = "", ""
	if loaded != want {
		t.Fatalf("HTTPDefaults %+v, but the env tags give %+v", want, loaded)
	}
}
