package service_test

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"simplemessenger/platform/authn"
	"simplemessenger/platform/authn/authntest"
	"simplemessenger/platform/server/servertest"
)

func TestEveryContractRouteReachesItsOwnerUnchanged(t *testing.T) {
	e := newEnv(t).start()
	_, _, tok := e.newUser()
	routes := []struct {
		method, path string
		to           *upstream
		public       bool
	}{
		{"POST", "/api/v1/users", e.profiles, true},
		{"POST", "/api/v1/auth/login", e.auth, true},
		{"POST", "/api/v1/auth/refresh", e.auth, true},
		{"POST", "/api/v1/auth/logout", e.auth, false},
		{"GET", "/api/v1/auth/sessions", e.auth, false},
		{"DELETE", "/api/v1/auth/sessions/0190a4c2-7e1f-7000-8000-000000000001", e.auth, false},
		{"GET", "/api/v1/users/me", e.profiles, false},
		{"PATCH", "/api/v1/users/me", e.profiles, false},
		{"PUT", "/api/v1/users/me/password", e.profiles, false},
		{"PUT", "/api/v1/users/me/avatar", e.profiles, false},
		{"DELETE", "/api/v1/users/me/avatar", e.profiles, false},
		{"GET", "/api/v1/users/u-42/avatar", e.profiles, true},
		{"GET", "/api/v1/users/u-42", e.profiles, false},
		{"GET", "/api/v1/users?nickname=al&limit=5", e.profiles, false},
		{"POST", "/api/v1/friends/requests", e.friends, false},
		{"POST", "/api/v1/friends/requests/u-7/accept", e.friends, false},
		{"POST", "/api/v1/friends/requests/u-7/decline", e.friends, false},
		{"DELETE", "/api/v1/friends/u-7", e.friends, false},
		{"GET", "/api/v1/friends?status=incoming", e.friends, false},
		{"POST", "/api/v1/chats/u-7/messages", e.messages, false},
		{"GET", "/api/v1/chats/u-7/messages?before=10&limit=2", e.messages, false},
		{"POST", "/api/v1/chats/u-7/read", e.messages, false},
		{"GET", "/api/v1/chats", e.messages, false},
	}
	for _, rt := range routes {
		t.Run(rt.method+" "+rt.path, func(t *testing.T) {
			before := len(rt.to.requests())
			if r := e.do(rt.method, rt.path, nil, nil); rt.public {
				if r.StatusCode != http.StatusOK {
					t.Fatalf("public route without a token: %d %s", r.StatusCode, r.body)
				}
			} else {
				wantError(t, r, http.StatusUnauthorized, "unauthorized")
				if n := len(rt.to.requests()); n != before {
					t.Fatal("a request without a token reached the upstream")
				}
				if r := e.do(rt.method, rt.path, nil, bearer(tok)); r.StatusCode != http.StatusOK {
					t.Fatalf("with a token: %d %s", r.StatusCode, r.body)
				}
			}
			got := rt.to.last(t)
			path, query, _ := strings.Cut(rt.path, "?")
			if got.Method != rt.method || got.Path != path || got.RawQuery != query {
				t.Fatalf("%s received %s %s?%s", rt.to.name, got.Method, got.Path, got.RawQuery)
			}
		})
	}
}

func TestForwardsBodyAndHeadersAndSetsTheClientAddress(t *testing.T) {
	e := newEnv(t).start()
	e.profiles.setRespond(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("ETag", `"v1"`)
		w.Header().Set("X-Request-ID", r.Header.Get("X-Request-ID"))
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"id":"new"}`))
	})
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	req, _ := http.NewRequest("POST", e.url+"/api/v1/users?source=web", strings.NewReader(`{"nickname":"alice"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "messenger-test/1.0")
	req.Header.Set("X-Request-ID", "client-chosen-id")
	req.Header.Set("Traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	req.Header.Set("If-None-Match", `"v0"`)
	req.Header.Set("X-Forwarded-For", "203.0.113.9")
	req.Header.Set("X-Real-IP", "6.6.6.6")
	req.Header.Set("Connection", "X-Hop-Only")
	req.Header.Set("X-Hop-Only", "must not pass")
	r := e.send(req)

	if r.StatusCode != http.StatusCreated || string(r.body) != `{"id":"new"}` || r.Header.Get("ETag") != `"v1"` {
		t.Fatalf("answer not passed back: %d %v %s", r.StatusCode, r.Header, r.body)
	}
	if ids := r.Header.Values("X-Request-ID"); len(ids) != 1 || ids[0] != "client-chosen-id" {
		t.Fatalf("X-Request-ID on the response: %q", ids)
	}
	got := e.profiles.last(t)
	if string(got.Body) != `{"nickname":"alice"}` || got.RawQuery != "source=web" {
		t.Fatalf("body %q query %q", got.Body, got.RawQuery)
	}
	for k, want := range map[string]string{
		"Content-Type":    "application/json",
		"User-Agent":      "messenger-test/1.0",
		"X-Request-Id":    "client-chosen-id",
		"If-None-Match":   `"v0"`,
		"X-Real-Ip":       "127.0.0.1",
		"X-Forwarded-For": "203.0.113.9, 127.0.0.1",
	} {
		if v := got.Header.Get(k); v != want {
			t.Errorf("upstream saw %s %q, want %q", k, v, want)
		}
	}
	if tp := got.Header.Get("Traceparent"); !strings.HasPrefix(tp, "00-"+traceID+"-") {
		t.Errorf("traceparent %q does not continue trace %s", tp, traceID)
	}
	if v := got.Header.Get("X-Hop-Only"); v != "" {
		t.Errorf("hop-by-hop header forwarded: %q", v)
	}
}

func TestARequestIDIsGeneratedAndForwardedWhenTheClientSentNone(t *testing.T) {
	e := newEnv(t).start()
	r := e.do("POST", "/api/v1/auth/login", strings.NewReader(`{}`), nil)
	id := r.Header.Get("X-Request-ID")
	if r.StatusCode != http.StatusOK || id == "" {
		t.Fatalf("%d, X-Request-ID %q", r.StatusCode, id)
	}
	if got := e.auth.last(t).Header.Get("X-Request-ID"); got != id {
		t.Fatalf("upstream saw request id %q, client got %q", got, id)
	}
}

func TestTokensThatDoNotVerifyAreRefusedBeforeAnythingReachesUpstream(t *testing.T) {
	e := newEnv(t).start()
	foreign := authntest.New(t)
	now := time.Now()
	expired := e.iss.Sign(t, authn.Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: authn.Issuer, Audience: jwt.ClaimStrings{authn.Audience}, Subject: "u1",
			IssuedAt: jwt.NewNumericDate(now.Add(-time.Hour)), ExpiresAt: jwt.NewNumericDate(now.Add(-time.Minute)),
		},
		SessionID: "s1",
	})
	for name, header := range map[string]map[string]string{
		"no token":               nil,
		"not a bearer token":     {"Authorization": "Basic dXNlcjpwYXNz"},
		"garbage":                bearer("not.a.jwt"),
		"another issuer's token": bearer(foreign.Token(t, "u1", "s1")),
		"expired token":          bearer(expired),
	} {
		t.Run(name, func(t *testing.T) {
			wantError(t, e.do("GET", "/api/v1/users/me", nil, header), http.StatusUnauthorized, "unauthorized")
		})
	}
	if n := len(e.profiles.requests()); n != 0 {
		t.Fatalf("%d unauthenticated requests reached profiles", n)
	}
}

func TestUnknownRoutesAre404AndWrongMethods405AtTheGateway(t *testing.T) {
	e := newEnv(t).start()
	_, _, tok := e.newUser()
	for _, path := range []string{
		"/api/v1/nothing", "/api/v2/users", "/internal/v1/revoked-sessions", "/internal/v1/users/u1",
		"/.well-known/jwks.json", "/metrics", "/healthz", "/readyz", "/api/v1/users/me/", "/api/v1/", "/api/v1",
		// The web client is served at "/" and "/assets/" only (see web_test.go): nothing else is a page.
		"/index.html", "/assets/", "/assets/nothing.js", "/assets/index.html", "/favicon.ico",
	} {
		wantError(t, e.do("GET", path, nil, bearer(tok)), http.StatusNotFound, "not_found")
	}
	wantError(t, e.do("POST", "/internal/v1/credentials/verify", strings.NewReader(`{}`), nil), http.StatusNotFound, "not_found")
	for _, c := range []struct{ method, path string }{
		{"GET", "/api/v1/auth/login"},
		{"DELETE", "/api/v1/users"},
		{"PUT", "/api/v1/friends"},
	} {
		wantError(t, e.do(c.method, c.path, nil, bearer(tok)), http.StatusMethodNotAllowed, "method_not_allowed")
	}
	for _, u := range []*upstream{e.auth, e.profiles, e.friends, e.messages} {
		if n := len(u.requests()); n != 0 {
			t.Fatalf("%s received %d requests", u.name, n)
		}
	}
}

// streamed hides a body's length, so it goes out chunked, without Content-Length.
type streamed struct{ io.Reader }

func TestBodiesOverTheLimitAre413DeclaredOrStreamed(t *testing.T) {
	e := newEnv(t).start()
	_, _, tok := e.newUser()
	avatar := map[string]string{"Authorization": "Bearer " + tok, "Content-Type": "image/png"}
	cases := []struct {
		name, method, path string
		size               int
		stream             bool
		header             map[string]string
	}{
		{"declared JSON body", "POST", "/api/v1/users", 64<<10 + 1, false, nil},
		{"streamed JSON body", "POST", "/api/v1/users", 64<<10 + 1, true, nil},
		{"declared avatar", "PUT", "/api/v1/users/me/avatar", 1<<20 + 1, false, avatar},
		{"streamed avatar", "PUT", "/api/v1/users/me/avatar", 1<<20 + 1, true, avatar},
		{"authenticated JSON body", "PATCH", "/api/v1/users/me", 64<<10 + 1, true, bearer(tok)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var body io.Reader = bytes.NewReader(make([]byte, c.size))
			if c.stream {
				body = streamed{body}
			}
			r := e.do(c.method, c.path, body, c.header)
			wantError(t, r, http.StatusRequestEntityTooLarge, "body_too_large")
		})
	}
	for _, c := range []struct {
		name, method, path string
		size               int
		header             map[string]string
	}{
		{"a 64 KiB JSON body", "POST", "/api/v1/users", 64 << 10, nil},
		{"a 1 MiB avatar", "PUT", "/api/v1/users/me/avatar", 1 << 20, avatar},
	} {
		t.Run(c.name+" passes", func(t *testing.T) {
			// The upstream may still be recording an aborted request of the cases above: find this one by its query.
			marker := "case=" + url.QueryEscape(c.name)
			r := e.do(c.method, c.path+"?"+marker, streamed{bytes.NewReader(make([]byte, c.size))}, c.header)
			if r.StatusCode != http.StatusOK {
				t.Fatalf("%d %s", r.StatusCode, r.body)
			}
			for _, got := range e.profiles.requests() {
				if got.RawQuery == marker {
					if len(got.Body) != c.size || got.BodyErr != nil {
						t.Fatalf("upstream got %d bytes (%v)", len(got.Body), got.BodyErr)
					}
					return
				}
			}
			t.Fatal("the upstream did not receive the request")
		})
	}
}

func TestAnUpstreamThatIsDownIs503AndOneTooSlowIs504(t *testing.T) {
	e := newEnv(t)
	e.cfg.FriendsURL = servertest.ClosedURL(t)
	e.cfg.AuthURL = servertest.ClosedURL(t)
	e.cfg.UpstreamTimeout = 300 * time.Millisecond
	e.start()
	_, _, tok := e.newUser()

	r := e.do("POST", "/api/v1/friends/requests", strings.NewReader(`{"user_id":"u2"}`), bearer(tok))
	wantError(t, r, http.StatusServiceUnavailable, "unavailable")
	if r.Header.Get("Retry-After") == "" {
		t.Fatal("503 without Retry-After")
	}
	wantError(t, e.do("POST", "/api/v1/auth/login", strings.NewReader(`{}`), nil), http.StatusServiceUnavailable, "unavailable")

	e.profiles.setRespond(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(3 * time.Second):
		}
	})
	start := time.Now()
	wantError(t, e.do("GET", "/api/v1/users/me", nil, bearer(tok)), http.StatusGatewayTimeout, "gateway_timeout")
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("the timeout took %s", took)
	}
}

func TestPerUserLimitIsIndependentOfTheAddress(t *testing.T) {
	e := newEnv(t)
	e.cfg.TrustedProxies = []string{"127.0.0.1/32"}
	e.cfg.RateLimitUserRPS, e.cfg.RateLimitUserBurst = 0.01, 3
	e.start()
	_, _, alice := e.newUser()
	_, _, bob := e.newUser()
	from := func(tok, addr string) map[string]string {
		return map[string]string{"Authorization": "Bearer " + tok, "X-Forwarded-For": addr}
	}
	for i, addr := range []string{"198.51.100.1", "198.51.100.2", "198.51.100.3"} {
		if r := e.do("GET", "/api/v1/users/me", nil, from(alice, addr)); r.StatusCode != http.StatusOK {
			t.Fatalf("request %d of alice's burst: %d", i+1, r.StatusCode)
		}
	}
	// A fourth address does not give alice a fresh budget.
	r := e.do("GET", "/api/v1/users/me", nil, from(alice, "198.51.100.4"))
	wantError(t, r, http.StatusTooManyRequests, "rate_limited")
	if ra := r.Header.Get("Retry-After"); ra == "" || ra == "0" {
		t.Fatalf("Retry-After %q", ra)
	}
	// Bob, behind alice's address, is not affected.
	if r := e.do("GET", "/api/v1/users/me", nil, from(bob, "198.51.100.1")); r.StatusCode != http.StatusOK {
		t.Fatalf("bob: %d %s", r.StatusCode, r.body)
	}
	if got := e.profiles.last(t).Header.Get("X-Real-IP"); got != "198.51.100.1" {
		t.Fatalf("X-Real-IP behind a trusted proxy: %q", got)
	}
}

func TestPerAddressLimitAppliesBeforeAuthentication(t *testing.T) {
	e := newEnv(t)
	e.cfg.TrustedProxies = []string{"127.0.0.1/32"}
	e.cfg.RateLimitIPRPS, e.cfg.RateLimitIPBurst = 0.01, 2
	e.start()
	from := func(addr string) map[string]string { return map[string]string{"X-Forwarded-For": addr} }
	for range 2 {
		e.do("POST", "/api/v1/auth/login", strings.NewReader(`{}`), from("198.51.100.7"))
	}
	wantError(t, e.do("POST", "/api/v1/auth/login", strings.NewReader(`{}`), from("198.51.100.7")), http.StatusTooManyRequests, "rate_limited")
	// Unauthenticated requests to protected routes count too, and unknown routes.
	wantError(t, e.do("GET", "/api/v1/nothing", nil, from("198.51.100.7")), http.StatusTooManyRequests, "rate_limited")
	if r := e.do("POST", "/api/v1/auth/login", strings.NewReader(`{}`), from("198.51.100.8")); r.StatusCode != http.StatusOK {
		t.Fatalf("another address: %d", r.StatusCode)
	}
	if n := len(e.auth.requests()); n != 3 {
		t.Fatalf("auth received %d logins, want 3", n)
	}
}

func TestMetricsAreOnTheAdminPortOnly(t *testing.T) {
	e := newEnv(t).start()
	e.do("POST", "/api/v1/auth/login", strings.NewReader(`{}`), nil)
	res, err := http.Get(e.adminURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || !bytes.Contains(b, []byte(`route="/api/v1/auth/login"`)) {
		t.Fatalf("admin /metrics: %d without the login route", res.StatusCode)
	}
	wantError(t, e.do("GET", "/metrics", nil, nil), http.StatusNotFound, "not_found")
}

// The labelled counters a dashboard or an alert reads exist at 0 before their first event, so a graph shows 0
// rather than "No data" and rate() counts the first failure.
func TestLabelledCountersExistAtZeroFromTheStart(t *testing.T) {
	e := newEnv(t).start()
	for _, c := range []struct {
		name   string
		labels []string
	}{
		{"gateway_upstream_errors_total", []string{"upstream", "messages", "kind", "timeout"}},
		{"gateway_upstream_errors_total", []string{"upstream", "auth", "kind", "unavailable"}},
		{"gateway_rate_limited_requests_total", []string{"limit", "address"}},
		{"gateway_rate_limited_requests_total", []string{"limit", "user"}},
		{"gateway_profile_cache_requests_total", []string{"result", "hit"}},
		{"gateway_profile_cache_requests_total", []string{"result", "miss"}},
		{"gateway_websocket_dropped_total", []string{"reason", "slow_client"}},
		{"gateway_websocket_dropped_total", []string{"reason", "broker_reconnect"}},
	} {
		if n := servertest.Series(t, e.adminURL, c.name, c.labels...); n != 1 {
			t.Errorf("%s%q: %d series at start, want 1", c.name, c.labels, n)
		} else if v := servertest.Metric(t, e.adminURL, c.name, c.labels...); v != 0 {
			t.Errorf("%s%q = %v at start, want 0", c.name, c.labels, v)
		}
	}
	if n := servertest.Series(t, e.adminURL, "gateway_upstream_errors_total"); n != 4*4 {
		t.Errorf("gateway_upstream_errors_total: %d series, want 16 (4 upstreams, 4 kinds)", n)
	}
}
