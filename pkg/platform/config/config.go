// Package config loads a service's typed configuration from environment variables, once, at start.
//
// A service declares a struct with `env` tags (github.com/caarlos0/env), fills in its defaults, and calls Load.
// A missing required variable or a malformed value is an error that names the variable; MustLoad turns it into
// a clear message on stderr and exit status 2, so a misconfigured pod fails fast in CrashLoopBackOff with the reason.
package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
)

// Load fills cfg (a pointer to a struct, pre-filled with defaults) from the environment.
// Variables that are not set leave the defaults as they are.
func Load(cfg any) error {
	err := env.Parse(cfg)
	if err == nil {
		return nil
	}
	// The library names the Go field of a malformed value; operators know the variable, so name that too.
	keys := map[string][]string{}
	collectKeys(reflect.TypeOf(cfg), "", keys)
	var msgs []string
	var agg env.AggregateError
	if errors.As(err, &agg) {
		for _, e := range agg.Errors {
			var pe env.ParseError
			if errors.As(e, &pe) {
				msgs = append(msgs, fmt.Sprintf("%s: malformed value: %v", strings.Join(keys[pe.Name], " or "), pe.Err))
				continue
			}
			msgs = append(msgs, e.Error())
		}
	} else {
		msgs = append(msgs, err.Error())
	}
	return fmt.Errorf("configuration: %s", strings.Join(msgs, "; "))
}

func collectKeys(t reflect.Type, prefix string, keys map[string][]string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if tag, ok := f.Tag.Lookup("env"); ok {
			name, _, _ := strings.Cut(tag, ",")
			if name != "" {
				keys[f.Name] = append(keys[f.Name], prefix+name)
			}
		}
		if f.Type.Kind() == reflect.Struct || (f.Type.Kind() == reflect.Pointer && f.Type.Elem().Kind() == reflect.Struct) {
			collectKeys(f.Type, prefix+f.Tag.Get("envPrefix"), keys)
		}
	}
}

// MustLoad is Load for main: on error it prints the message and exits.
func MustLoad(cfg any) {
	if err := Load(cfg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
}

// HTTP is the listener configuration every service shares.
type HTTP struct {
	// Addr is the public (service) API listener.
	Addr string `env:"HTTP_ADDR"`
	// AdminAddr serves /healthz, /readyz and /metrics; never exposed publicly.
	AdminAddr string `env:"ADMIN_ADDR"`
	// ShutdownTimeout bounds how long in-flight requests may take to finish on SIGTERM.
	ShutdownTimeout time.Duration `env:"SHUTDOWN_TIMEOUT" envDefault:"15s"`
	// ReadHeaderTimeout protects against slow-loris clients.
	ReadHeaderTimeout time.Duration `env:"HTTP_READ_HEADER_TIMEOUT" envDefault:"5s"`
	// ReadTimeout bounds reading a whole request, body included.
	ReadTimeout time.Duration `env:"HTTP_READ_TIMEOUT" envDefault:"30s"`
	// IdleTimeout closes idle keep-alive connections.
	IdleTimeout time.Duration `env:"HTTP_IDLE_TIMEOUT" envDefault:"120s"`
	// HandlerTimeout bounds one request's work (its database calls and calls to other services): past it the
	// work is cancelled and the request answers 503, so a silent dependency makes requests fail fast instead of
	// hang. Long-lived routes (WebSocket) are exempt; 0 disables it.
	HandlerTimeout time.Duration `env:"HTTP_HANDLER_TIMEOUT" envDefault:"3s"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `env:"LOG_LEVEL" envDefault:"info"`
	// Profiling serves the Go runtime profiles (net/http/pprof) on the admin port under /debug/pprof/.
	Profiling bool `env:"ADMIN_PPROF" envDefault:"false"`
}

// HTTPDefaults is the HTTP configuration of a service listening on addr (public) and adminAddr, with the
// timeouts and log level every service starts from (the same values as the envDefault tags above).
func HTTPDefaults(addr, adminAddr string) HTTP {
	return HTTP{
		Addr:              addr,
		AdminAddr:         adminAddr,
		ShutdownTimeout:   15 * time.Second,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       120 * time.Second,
		HandlerTimeout:    3 * time.Second,
		LogLevel:          "info",
	}
}
