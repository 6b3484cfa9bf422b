package e2e

import (
	"encoding/base64"
	"fmt"
	"os"
	"testing"
)

// stack is the messenger every test of this package talks to; tests isolate themselves by registering
// their own users (random nicknames).
var stack *Stack

// traces receives the spans of every process of the stack (tracing is on for the whole suite, as it would be
// in production); tests read their own traces back by trace id.
var traces *traceReceiver

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "messenger-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if err := Build(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// Started before the stack and closed after it, so the services' last spans are flushed to it at shutdown.
	traces = newTraceReceiver()
	defer traces.Close()
	// Lifted login and registration throttling per address and rate limits: every test shares 127.0.0.1, and
	// these tests check the per-account rules; the gateway's limits and the registration throttle are checked on
	// dedicated replicas.
	// The access-token signing key is the suite's own, so the security tests can forge tokens with it.
	signingSeed = newSigningSeed()
	env := append(append([]string{"AUTH_SIGNING_KEYS=" + base64.StdEncoding.EncodeToString(signingSeed)}, OneAddressEnv...), traces.Env()...)
	stack, err = Start(dir, dir, env...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the stack:", err)
		return 1
	}
	code := m.Run()
	if code != 0 || os.Getenv("E2E_LOGS") != "" {
		fmt.Fprint(os.Stderr, stack.LogTails(60))
	}
	stack.Stop()
	return code
}
