package config_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"simplemessenger/platform/config"
)

type fuzzConfig struct {
	Port    int           `env:"FUZZCFG_PORT"`
	Timeout time.Duration `env:"FUZZCFG_TIMEOUT"`
	Debug   bool          `env:"FUZZCFG_DEBUG"`
	Origins []string      `env:"FUZZCFG_ORIGINS"`
	Rate    float64       `env:"FUZZCFG_RATE"`
}

// FuzzLoad: any value of any variable either loads (and then means what strconv/time would read it as) or is an
// error naming the variable; nothing panics.
func FuzzLoad(f *testing.F) {
	f.Add("8080", "5s", "true", "a,b", "1.5")
	f.Add("", "", "", "", "")
	f.Add("-1", "1h2m", "0", ",", "NaN")
	f.Add("99999999999999999999", "5", "yes", "x", "1e400")
	f.Add("0x10", "-3ms", "TRUE", "a,,b", "inf")
	f.Fuzz(func(t *testing.T, port, timeout, debug, origins, rate string) {
		vals := map[string]string{"FUZZCFG_PORT": port, "FUZZCFG_TIMEOUT": timeout, "FUZZCFG_DEBUG": debug, "FUZZCFG_ORIGINS": origins, "FUZZCFG_RATE": rate}
		for k, v := range vals {
			if strings.ContainsRune(v, 0) {
				return
			}
			t.Setenv(k, v)
		}
		cfg := fuzzConfig{Port: 1, Timeout: time.Second}
		err := config.Load(&cfg)
		if err != nil {
			if !strings.Contains(err.Error(), "FUZZCFG_") {
				t.Fatalf("error %q names no variable", err)
			}
			return
		}
		if port != "" {
			if n, perr := strconv.Atoi(port); perr != nil || n != cfg.Port {
				t.Fatalf("FUZZCFG_PORT=%q loaded as %d", port, cfg.Port)
			}
		}
		if timeout != "" {
			if d, perr := time.ParseDuration(timeout); perr != nil || d != cfg.Timeout {
				t.Fatalf("FUZZCFG_TIMEOUT=%q loaded as %v", timeout, cfg.Timeout)
			}
		}
	})
}
