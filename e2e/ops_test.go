package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"simplemessenger/platform/server/servertest"
)

func TestErrorsFollowTheContract(t *testing.T) {
	t.Parallel()
	huge := fmt.Sprintf(`{"nickname":"big_%s","password":"%s"}`, suffix(), strings.Repeat("p", 70<<10))
	for _, c := range []struct {
		what, method, path string
		body               []byte
		status             int
		code               string
	}{
		{"unknown route", "GET", "/api/v1/nothing-here", nil, 404, "not_found"},
		{"internal routes are not public", "POST", "/internal/v1/credentials/verify", []byte(`{}`), 404, "not_found"},
		{"key set is not routed", "GET", "/.well-known/jwks.json", nil, 404, "not_found"},
		{"malformed JSON", "POST", "/api/v1/users", []byte(`{"nickname":`), 400, "invalid_json"},
		{"wrong field type", "POST", "/api/v1/users", []byte(`{"nickname":42,"password":"long enough"}`), 400, "invalid_field"},
		{"70 KiB body", "POST", "/api/v1/users", []byte(huge), 413, "body_too_large"},
		{"wrong method", "PUT", "/api/v1/auth/login", []byte(`{}`), 405, "method_not_allowed"},
	} {
		r := call(t, c.method, c.path, "", c.body, "Content-Type", "application/json")
		mustError(t, r, c.status, c.code, c.what)
		if r.header.Get("X-Request-ID") == "" {
			t.Errorf("%s: no X-Request-ID", c.what)
		}
		if !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
			t.Errorf("%s: Content-Type %q", c.what, r.header.Get("Content-Type"))
		}
	}
	r := call(t, "GET", "/api/v1/users/me", "", nil, "X-Request-ID", "e2e-"+suffix())
	if !strings.HasPrefix(r.header.Get("X-Request-ID"), "e2e-") {
		t.Errorf("X-Request-ID not echoed: %q", r.header.Get("X-Request-ID"))
	}
}

func TestRequestIDAndTraceReachTheServices(t *testing.T) {
	needLocalStack(t, "reads the auth service's log")
	t.Parallel()
	id := "trace-me-" + suffix()
	traceID := "4bf92f3577b34da6a3ce929d" + suffix()
	call(t, "POST", "/api/v1/auth/login", "", map[string]any{"nickname": "ghost_" + suffix(), "password": "whatever123"},
		"X-Request-ID", id, "traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	// auth logs the failed login with the request id and the caller's trace id.
	if !servertest.Eventually(t, 2*time.Second, func() bool {
		logs := stack.Logs("auth")
		for _, line := range strings.Split(logs, "\n") {
			if strings.Contains(line, id) && strings.Contains(line, traceID) {
				return true
			}
		}
		return false
	}, "") {
		t.Errorf("no auth log line carries request id %s and trace id %s", id, traceID)
	}
}

func TestMetricsOnlyOnAdminPorts(t *testing.T) {
	t.Parallel()
	if r := call(t, "GET", "/metrics", "", nil); r.status == 200 {
		t.Error("/metrics is served on the public port")
	}
	// The rest is about the admin ports, which are not reachable from outside a cluster.
	needLocalStack(t, "the services' admin ports")
	for _, s := range Services {
		for _, p := range []string{"/healthz", "/readyz", "/metrics"} {
			res, err := http.Get(stack.AdminURL(s) + p)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != 200 {
				t.Errorf("%s %s: %d", s, p, res.StatusCode)
			}
		}
	}
	call(t, "GET", "/api/v1/users/me", "", nil) // at least one request of that route, whatever ran before
	r := call(t, "GET", stack.AdminURL("gateway")+"/metrics", "", nil)
	if !strings.Contains(string(r.body), `http_server_request_duration_seconds_bucket{code="`) || !strings.Contains(string(r.body), `route="/api/v1/users/me"`) {
		t.Error("the gateway's RED metrics are missing or not labelled by route template")
	}
}

func TestGatewayRateLimitsPerUserWithRetryAfter(t *testing.T) {
	needLocalStack(t, "starts a gateway replica with tight per-user limits (the shared messenger's are lifted)")
	t.Parallel()
	gw, err := stack.StartGateway("gateway-limited", "RATE_LIMIT_USER_RPS=1", "RATE_LIMIT_USER_BURST=5")
	if err != nil {
		t.Fatal(err)
	}
	defer stack.StopProcess("gateway-limited")
	a, b := register(t, "limited"), register(t, "unlimited")
	limited := 0
	var retry string
	for i := 0; i < 12; i++ {
		r := call(t, "GET", gw+"/api/v1/users/me", a.access, nil)
		if r.status == 429 {
			limited++
			retry = r.header.Get("Retry-After")
			if r.errorCode() != "rate_limited" {
				t.Errorf("429 code %q", r.errorCode())
			}
		}
	}
	if limited == 0 || retry == "" {
		t.Fatalf("12 quick calls over a burst of 5: %d limited, Retry-After %q", limited, retry)
	}
	must(t, call(t, "GET", gw+"/api/v1/users/me", b.access, nil), 200, "another user behind the same address")
}
