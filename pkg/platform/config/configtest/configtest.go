// Package configtest checks a service's configuration the way its main reads it: the environment over the
// defaults, and Build refusing what the service cannot run with before it opens anything.
package configtest

import (
	"context"
	"strings"
	"testing"

	"simplemessenger/platform/config"
	"simplemessenger/platform/server"
)

// Load sets the variables of env for the length of the test and loads cfg (a pointer to a Config holding its
// defaults) from the environment, as a service's main does. A value that does not parse fails the test.
func Load(t testing.TB, cfg any, env map[string]string) {
	t.Helper()
	for k, v := range env {
		t.Setenv(k, v)
	}
	if err := config.Load(cfg); err != nil {
		t.Fatal(err)
	}
}

// Refused checks that build refuses each configuration of broken, the defaults changed by its function, with
// an error naming its key: the variable an operator has to fix.
func Refused[C any](t testing.TB, defaults func() C, build func(context.Context, C) (*server.App, error),
	broken map[string]func(*C)) {
	t.Helper()
	for name, change := range broken {
		cfg := defaults()
		change(&cfg)
		if _, err := build(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: %v, want an error naming %s", name, err, name)
		}
	}
}
