package configtest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"simplemessenger/platform/config/configtest"
	"simplemessenger/platform/server"
)

type testConfig struct {
	Addr    string        `env:"CONFIGTEST_ADDR"`
	Timeout time.Duration `env:"CONFIGTEST_TIMEOUT"`
}

func TestLoadReadsTheEnvironmentOverTheDefaults(t *testing.T) {
	cfg := testConfig{Addr: "default", Timeout: time.Second}
	configtest.Load(t, &cfg, map[string]string{"CONFIGTEST_TIMEOUT": "5s"})
	if cfg.Addr != "default" || cfg.Timeout != 5*time.Second {
		t.Errorf("loaded %+v", cfg)
	}
}

func TestRefusedWantsTheVariableNamed(t *testing.T) {
	build := func(_ context.Context, c testConfig) (*server.App, error) {
		if c.Addr == "" {
			return nil, errors.New("configuration: CONFIGTEST_ADDR is required")
		}
		return nil, nil
	}
	defaults := func() testConfig { return testConfig{Addr: "default"} }
	configtest.Refused(t, defaults, build, map[string]func(*testConfig){
		"CONFIGTEST_ADDR": func(c *testConfig) { c.Addr = "" },
	})

	r := &errorRecorder{TB: t}
	configtest.Refused(r, defaults, build, map[string]func(*testConfig){
		"CONFIGTEST_TIMEOUT": func(c *testConfig) { c.Addr = "" }, // refused, but for another variable
		"CONFIGTEST_OTHER":   func(c *testConfig) {},              // not refused at all
	})
	if r.errors != 2 {
		t.Errorf("%d errors, want one for the wrong variable and one for the configuration built", r.errors)
	}
}

// errorRecorder counts the errors instead of failing the test.
type errorRecorder struct {
	testing.TB
	errors int
}

func (r *errorRecorder) Errorf(string, ...any) { r.errors++ }
