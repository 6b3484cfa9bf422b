package e2e

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// stack is the messenger every test of this package talks to; tests isolate themselves by registering
// their own users (random nicknames).
var stack *Stack

// external is set when the suite tests a messenger it did not start (E2E_GATEWAY_URL, e.g. one installed on a
// Kubernetes cluster): stack holds only GatewayURL, and only the public API is reachable. Such a messenger must
// have the per-address limits lifted as OneAddressEnv lifts them, since every test user comes from one address.
var external bool

// traces receives the spans of every process of the stack (tracing is on for the whole suite, as it would be
// in production); tests read their own traces back by trace id.
var traces *traceReceiver

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if url := strings.TrimRight(os.Getenv("E2E_GATEWAY_URL"), "/"); url != "" {
		return runExternal(m, url)
	}
	fmt.Fprintln(os.Stderr, "e2e: local mode: building the services and starting a stack of the suite's own (E2E_GATEWAY_URL tests a running messenger instead)")
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

// runExternal runs the suite against the messenger at url: nothing is built or started, and the tests that
// need the suite's own stack skip (needLocalStack).
func runExternal(m *testing.M, url string) int {
	external = true
	stack = &Stack{GatewayURL: url}
	fmt.Fprintf(os.Stderr, "e2e: external mode: testing the messenger at %s; nothing is built or started, tests that need the suite's own stack skip\n", url)
	if reps := gatewayReplicas(); len(reps) > 0 {
		fmt.Fprintf(os.Stderr, "e2e: gateway replicas (E2E_GATEWAY_REPLICAS): %s\n", strings.Join(reps, " "))
	}
	// Fail at once, with the reason, when nothing (or something else) answers there.
	res, err := (&http.Client{Timeout: 10 * time.Second}).Get(url + "/api/v1/users/me")
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: E2E_GATEWAY_URL=%s does not answer: %v\n", url, err)
		return 1
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		fmt.Fprintf(os.Stderr, "e2e: GET %s/api/v1/users/me without a token answered %d, not 401: is E2E_GATEWAY_URL the messenger's gateway?\n", url, res.StatusCode)
		return 1
	}
	return m.Run()
}

// needLocalStack skips the test in external mode: it needs what only the suite's own stack has (why names it:
// admin ports, processes, databases, the signing key, the trace receiver, extra replicas, logs...).
func needLocalStack(t *testing.T, why string) {
	t.Helper()
	if external {
		t.Skipf("needs the suite's own stack: %s (external mode, E2E_GATEWAY_URL=%s, reaches only the public API)", why, stack.GatewayURL)
	}
}

// gatewayReplicas are the base URLs of the individual gateway replicas of an external messenger
// (E2E_GATEWAY_REPLICAS, comma-separated, e.g. the gateway pods' addresses http://10.201.0.23:8080).
func gatewayReplicas() []string {
	var out []string
	for _, u := range strings.Split(os.Getenv("E2E_GATEWAY_REPLICAS"), ",") {
		if u = strings.TrimRight(strings.TrimSpace(u), "/"); u != "" {
			out = append(out, u)
		}
	}
	return out
}
