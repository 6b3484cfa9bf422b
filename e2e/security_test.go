package e2e

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"simplemessenger/platform/server/servertest"
)

// ---------- 1. Object-level authorization ----------

// secState is everything of a user another user must not be able to change.
type secState struct {
	sessions []string
	friends  map[string]string
	history  []string
	unread   map[string]any
	profile  string
}

func snapshot(t *testing.T, a, peer *account) secState {
	t.Helper()
	var s secState
	for _, it := range must(t, call(t, "GET", "/api/v1/auth/sessions", a.access, nil), 200, "sessions").items(t) {
		s.sessions = append(s.sessions, fmt.Sprint(it["id"]))
	}
	sort.Strings(s.sessions)
	s.friends = relations(t, a, "all")
	items, _ := history(t, a, peer, "")
	s.history = texts(items)
	s.unread = map[string]any{}
	for _, it := range must(t, call(t, "GET", "/api/v1/chats", a.access, nil), 200, "chats").items(t) {
		p, _ := it["peer"].(map[string]any)
		s.unread[fmt.Sprint(p["id"])] = it["unread_count"]
	}
	s.profile = string(must(t, call(t, "GET", "/api/v1/users/me", a.access, nil), 200, "me").body)
	return s
}

func (s secState) String() string {
	return fmt.Sprintf("sessions=%v friends=%v history=%q unread=%v profile=%s", s.sessions, s.friends, s.history, s.unread, s.profile)
}

func TestSecurityObjectLevelAuthorization(t *testing.T) {
	a, b, c, d := secUser(t, "ola"), secUser(t, "olb"), secUser(t, "olc"), secUser(t, "old")
	a2 := secSession(t, a)
	befriend(t, a, b)
	send(t, a, b, "a to b")
	m := send(t, b, a, "b to a")
	bToA := fmt.Sprint(m["id"])
	must(t, call(t, "POST", "/api/v1/friends/requests", a.access, map[string]any{"user_id": d.id}), 201, "a asks d")
	must(t, call(t, "POST", "/api/v1/friends/requests", d.access, map[string]any{"user_id": b.id}), 201, "d asks b")

	var aSession string
	for _, it := range must(t, call(t, "GET", "/api/v1/auth/sessions", a2.access, nil), 200, "sessions").items(t) {
		if it["current"] == true {
			aSession = fmt.Sprint(it["id"])
		}
	}
	if aSession == "" {
		t.Fatal("no current session")
	}
	beforeA, beforeB, beforeD := snapshot(t, a, b), snapshot(t, b, a), snapshot(t, d, a)

	refused := func(r reply, what string, ok ...int) {
		t.Helper()
		for _, s := range ok {
			if r.status == s {
				return
			}
		}
		t.Errorf("stranger %s: status %d, want one of %v; body %q", what, r.status, ok, r.body)
	}
	for _, victim := range []*account{a, b} {
		id := victim.id
		refused(call(t, "DELETE", "/api/v1/auth/sessions/"+aSession, c.access, nil), "DELETE sessions/{A's session}", 404)
		refused(call(t, "POST", "/api/v1/friends/requests/"+id+"/accept", c.access, nil), "accept "+id, 404)
		refused(call(t, "POST", "/api/v1/friends/requests/"+id+"/decline", c.access, nil), "decline "+id, 404)
		refused(call(t, "DELETE", "/api/v1/friends/"+id, c.access, nil), "DELETE friends/"+id, 404)
		refused(call(t, "POST", "/api/v1/chats/"+id+"/messages", c.access, map[string]any{"text": "intrusion"}), "send to "+id, 403)
		refused(call(t, "POST", "/api/v1/chats/"+id+"/read", c.access, map[string]any{"up_to_id": bToA}), "read chat "+id, 204, 400, 403, 404)
		refused(call(t, "PATCH", "/api/v1/users/"+id, c.access, map[string]any{"display_name": "pwned"}), "PATCH users/"+id, 403, 404, 405)
		refused(call(t, "DELETE", "/api/v1/users/"+id, c.access, nil), "DELETE users/"+id, 403, 404, 405)
		refused(call(t, "PUT", "/api/v1/users/"+id+"/avatar", c.access, tinyGIF(), "Content-Type", "image/gif"), "PUT users/"+id+"/avatar", 403, 404, 405)
		refused(call(t, "DELETE", "/api/v1/users/"+id+"/avatar", c.access, nil), "DELETE users/"+id+"/avatar", 403, 404, 405)
		// C's own, empty view of a chat it is not part of.
		h := must(t, call(t, "GET", "/api/v1/chats/"+id+"/messages", c.access, nil), 200, "stranger history")
		if n := len(h.items(t)); n != 0 {
			t.Errorf("stranger sees %d messages of %s: %s", n, id, h.body)
		}
		h = must(t, call(t, "GET", "/api/v1/chats/"+id+"/messages?after=0", c.access, nil), 200, "stranger history after")
		if n := len(h.items(t)); n != 0 {
			t.Errorf("stranger sees %d messages of %s (after=0): %s", n, id, h.body)
		}
		// The public profile is public by design, and only public.
		p := must(t, call(t, "GET", "/api/v1/users/"+id, c.access, nil), 200, "public profile").object(t)
		for k := range p {
			switch k {
			case "id", "nickname", "display_name", "bio", "has_avatar", "created_at":
			default:
				t.Errorf("public profile of %s exposes %q", id, k)
			}
		}
		// A spoofed identity header must not make C act as the victim.
		me := must(t, call(t, "GET", "/api/v1/users/me", c.access, nil, "X-User-Id", id, "X-User-ID", id, "X-Auth-User", id), 200, "me").object(t)
		if me["id"] != c.id {
			t.Errorf("identity header spoofing: /users/me as C returned %v", me["id"])
		}
	}
	// D's pending request to B is B's to answer, not C's; A's outgoing one to D is not C's either.
	refused(call(t, "POST", "/api/v1/friends/requests/"+d.id+"/accept", c.access, nil), "accept d's request to b", 404)
	refused(call(t, "DELETE", "/api/v1/friends/"+d.id, c.access, nil), "DELETE friends/d", 404)

	if got := snapshot(t, a, b); got.String() != beforeA.String() {
		t.Errorf("A's state changed:\n before %v\n after  %v", beforeA, got)
	}
	if got := snapshot(t, b, a); got.String() != beforeB.String() {
		t.Errorf("B's state changed:\n before %v\n after  %v", beforeB, got)
	}
	if got := snapshot(t, d, a); got.String() != beforeD.String() {
		t.Errorf("D's state changed:\n before %v\n after  %v", beforeD, got)
	}
	if r := call(t, "GET", "/api/v1/users/me", a2.access, nil); r.status != 200 {
		t.Errorf("A's second session stopped working: %d", r.status)
	}
	if n := len(relations(t, c, "all")); n != 0 {
		t.Errorf("stranger gained %d relations", n)
	}
}

// ---------- 2. Tokens ----------

func TestSecurityForgedTokensAreRejected(t *testing.T) {
	needLocalStack(t, "forges access tokens with the stack's signing key (AUTH_SIGNING_KEYS)")
	a := secUser(t, "tok")
	claims := jwtClaims(t, a.access)
	sid, _ := claims["sid"].(string)
	if sid == "" || claims["sub"] != a.id {
		t.Fatalf("unexpected access token claims %v", claims)
	}
	priv := ed25519.NewKeyFromSeed(signingSeed)
	pub := priv.Public().(ed25519.PublicKey)
	kid := kidOf(pub)
	now := time.Now().Unix()
	base := func() map[string]any {
		return map[string]any{"iss": "simplemessenger-auth", "aud": []string{"simplemessenger"}, "sub": a.id, "sid": sid,
			"iat": now, "nbf": now, "exp": now + 600, "jti": "sec-" + suffix()}
	}
	hdr := func() map[string]any { return map[string]any{"alg": "EdDSA", "typ": "at+jwt", "kid": kid} }
	with := func(m map[string]any, kv ...any) map[string]any {
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(m, kv[i].(string))
			} else {
				m[kv[i].(string)] = kv[i+1]
			}
		}
		return m
	}

	// Control: a token made with the suite's key and every claim right is accepted, so the refusals below are
	// about the one thing each case changes.
	good := signEdDSA(priv, hdr(), base())
	remember(good)
	must(t, call(t, "GET", "/api/v1/users/me", good, nil), 200, "well-formed forged token (control): the suite's key must be the signing key")

	_, otherPriv, _ := ed25519.GenerateKey(nil)
	cases := map[string]string{
		"alg none":                      unsigned(with(hdr(), "alg", "none"), base()),
		"alg none, no kid":              unsigned(map[string]any{"alg": "none", "typ": "at+jwt"}, base()),
		"HS256 with the raw public key": signHS256(pub, with(hdr(), "alg", "HS256"), base()),
		"HS256 with the public key as JWK x": signHS256([]byte(strings.TrimRight(
			b64url(pub), "=")), with(hdr(), "alg", "HS256"), base()),
		"unknown kid (other key)": signEdDSA(otherPriv, with(hdr(), "kid", kidOf(otherPriv.Public().(ed25519.PublicKey))), base()),
		"other key, our kid":      signEdDSA(otherPriv, hdr(), base()),
		"unknown kid, our key":    signEdDSA(priv, with(hdr(), "kid", "no-such-key"), base()),
		"expired":                 signEdDSA(priv, hdr(), with(base(), "iat", now-7200, "nbf", now-7200, "exp", now-3600)),
		"not yet valid":           signEdDSA(priv, hdr(), with(base(), "nbf", now+3600, "exp", now+7200)),
		"wrong issuer":            signEdDSA(priv, hdr(), with(base(), "iss", "evil-issuer")),
		"wrong audience":          signEdDSA(priv, hdr(), with(base(), "aud", []string{"someone-else"})),
		"missing sid":             signEdDSA(priv, hdr(), with(base(), "sid", nil)),
		"wrong typ":               signEdDSA(priv, with(hdr(), "typ", "JWT"), base()),
		"tampered payload":        tamper(good),
		"refresh token as access": a.refresh,
		"garbage":                 "not.a.token",
	}
	for name, tok := range cases {
		remember(tok)
		if r := call(t, "GET", "/api/v1/users/me", tok, nil); r.status != 401 {
			t.Errorf("%s: GET /users/me %d, want 401; body %q", name, r.status, r.body)
		}
		wsRefused(t, stack.GatewayURL, name, tok)
	}

	// A revoked session: its access token stops working within 2 s, on REST and on the upgrade.
	a2 := secSession(t, a)
	must(t, call(t, "GET", "/api/v1/users/me", a2.access, nil), 200, "second session")
	must(t, call(t, "POST", "/api/v1/auth/logout", a2.access, nil), 204, "logout")
	if !servertest.Eventually(t, 3*time.Second, func() bool {
		return call(t, "GET", "/api/v1/users/me", a2.access, nil).status == 401
	}, "") {
		t.Fatal("a revoked session's access token still works after 3 s")
	}
	wsRefused(t, stack.GatewayURL, "revoked session", a2.access)
	if r := call(t, "POST", "/api/v1/auth/refresh", "", map[string]any{"refresh_token": a2.refresh}); r.status != 401 {
		t.Errorf("refresh of a revoked session: %d, want 401", r.status)
	}
	// A token forged with the right key for the revoked session is refused too.
	forged := signEdDSA(priv, hdr(), with(base(), "sid", jwtClaims(t, a2.access)["sid"]))
	remember(forged)
	if r := call(t, "GET", "/api/v1/users/me", forged, nil); r.status != 401 {
		t.Errorf("validly signed token of a revoked session: %d, want 401", r.status)
	}
	// The first session is untouched.
	must(t, call(t, "GET", "/api/v1/users/me", a.access, nil), 200, "first session")
}

func b64url(b []byte) string { return strings.TrimRight(base64.RawURLEncoding.EncodeToString(b), "=") }

func tamper(tok string) string {
	parts := strings.Split(tok, ".")
	raw := parts[1]
	// flip one character of the payload while keeping it valid base64url
	c := raw[len(raw)/2]
	r := byte('A')
	if c == 'A' {
		r = 'B'
	}
	parts[1] = raw[:len(raw)/2] + string(r) + raw[len(raw)/2+1:]
	return strings.Join(parts, ".")
}

// wsRefused checks the upgrade with tok is refused with 401, in the header and in the query.
func wsRefused(t *testing.T, base, name, tok string) {
	t.Helper()
	for _, inQuery := range []bool{false, true} {
		s, status := dialWS(t, base, tok, inQuery)
		if s != nil {
			s.close()
			t.Errorf("%s: websocket upgrade accepted (token in query: %v)", name, inQuery)
		} else if status != 401 {
			t.Errorf("%s: websocket upgrade %d, want 401 (token in query: %v)", name, status, inQuery)
		}
	}
}

// ---------- 3. Throttling ----------

func TestSecurityRateLimits(t *testing.T) {
	needLocalStack(t, "starts gateway replicas with tight per-user and per-address limits (the shared messenger's are lifted)")
	perUser := startSecGateway(t, "gw-sec-user", "RATE_LIMIT_USER_RPS=1", "RATE_LIMIT_USER_BURST=3", "RATE_LIMIT_IP_RPS=0")
	perIP := startSecGateway(t, "gw-sec-ip", "RATE_LIMIT_IP_RPS=1", "RATE_LIMIT_IP_BURST=5", "RATE_LIMIT_USER_RPS=0")
	a, b := secUser(t, "rla"), secUser(t, "rlb")

	limited := func(base, token string, n int) (ok, throttled int, sample reply) {
		for i := 0; i < n; i++ {
			r := call(t, "GET", base+"/api/v1/users/me", token, nil)
			switch r.status {
			case 200, 401:
				ok++
			case 429:
				throttled++
				sample = r
			default:
				t.Fatalf("unexpected %d: %q", r.status, r.body)
			}
		}
		return
	}
	checkRetryAfter := func(what string, r reply) {
		t.Helper()
		ra := r.header.Get("Retry-After")
		var secs int
		if _, err := fmt.Sscan(ra, &secs); err != nil || secs < 1 {
			t.Errorf("%s: 429 without a valid Retry-After (%q)", what, ra)
		}
		if r.errorCode() == "" {
			t.Errorf("%s: 429 body is not the error shape: %q", what, r.body)
		}
	}

	ok, throttled, r := limited(perUser, a.access, 8)
	if throttled == 0 || ok > 4 {
		t.Errorf("per-user limit 1/s burst 3: %d passed, %d throttled of 8", ok, throttled)
	} else {
		checkRetryAfter("per user", r)
	}
	// Another user behind the same address is not affected.
	if ok, _, _ := limited(perUser, b.access, 2); ok != 2 {
		t.Errorf("per-user limit bit another user: %d of 2 passed", ok)
	}

	ok, throttled, r = limited(perIP, "", 10)
	if throttled == 0 || ok > 6 {
		t.Errorf("per-address limit 1/s burst 5: %d passed, %d throttled of 10", ok, throttled)
	} else {
		checkRetryAfter("per address", r)
	}
	// Unauthenticated login attempts from the address are throttled too.
	lr := call(t, "POST", perIP+"/api/v1/auth/login", "", map[string]any{"nickname": a.nickname, "password": a.password})
	if lr.status != 429 {
		t.Errorf("login from a throttled address: %d, want 429", lr.status)
	}
}

// TestSecurityRegistrationThrottle runs a profiles replica with a registration limit of 3 per address and an
// hour's window, behind a gateway that trusts the test as its ingress: the test names the client address in
// X-Forwarded-For, as a load balancer would, so every run uses fresh addresses.
func TestSecurityRegistrationThrottle(t *testing.T) {
	needLocalStack(t, "starts a profiles replica with a registration limit and a gateway trusting the test as its proxy")
	profiles := startSecReplica(t, "profiles-reg", "profiles", "REGISTER_MAX_PER_ADDRESS=3", "REGISTER_WINDOW=1h")
	gw := startSecGateway(t, "gw-sec-reg", "PROFILES_URL="+profiles, "TRUSTED_PROXIES=127.0.0.1")
	// Fresh /64s of the documentation range (2001:db8::/32), so runs and repeats never share one.
	network := func() string { return fmt.Sprintf("2001:db8:%s:%s::", suffix()[:4], suffix()[:4]) }
	address := func() string { return network() + "1" }
	registerFrom := func(addr, nickname string, headers ...string) reply {
		password := "pass-" + suffix() + "-word"
		remember(password)
		return call(t, "POST", gw+"/api/v1/users", "", map[string]any{"nickname": nickname, "password": password},
			append([]string{"X-Forwarded-For", addr}, headers...)...)
	}

	botNet := network()
	bot := botNet + "1"
	for i := range 3 {
		must(t, registerFrom(bot, fmt.Sprintf("bot%d_%s", i, suffix())), 201, "registration within the limit")
	}
	refused := "bot3_" + suffix()
	r := registerFrom(bot, refused)
	mustError(t, r, 429, "too_many_registrations", "4th registration from one address within the hour")
	// Retry-After is when the oldest of the three leaves the hour's window: about an hour, never 0.
	if secs, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || secs < 3500 || secs > 3600 {
		t.Errorf("Retry-After %q, want about 3600 seconds", r.header.Get("Retry-After"))
	}
	// Nothing was created: the nickname is still free (the shared stack has no registration limit).
	must(t, call(t, "POST", "/api/v1/users", "", map[string]any{"nickname": refused, "password": "pass-" + suffix() + "-word"}), 201,
		"the refused nickname is still free")

	// The bot cannot pick another address: entries it writes left of the ingress's hop, and its own X-Real-IP,
	// are not believed.
	mustError(t, registerFrom("192.0.2.50, "+bot, "spoof_"+suffix()), 429, "too_many_registrations", "spoofed X-Forwarded-For")
	mustError(t, registerFrom(bot, "spoof_"+suffix(), "X-Real-IP", "192.0.2.51"), 429, "too_many_registrations", "spoofed X-Real-IP")
	// Nor by moving to another address of its IPv6 /64 (one subscriber's network).
	mustError(t, registerFrom(botNet+"beef", "hop_"+suffix()), 429, "too_many_registrations", "another address of the same /64")

	// Other users behind other addresses register as usual.
	must(t, registerFrom(address(), "neighbour_"+suffix()), 201, "registration from another address")

	// Eight at once from a fresh address: exactly three get through, the rest get 429, never 5xx.
	burst := address()
	statuses := make([]int, 8)
	var wg sync.WaitGroup
	for i := range statuses {
		wg.Go(func() { statuses[i] = registerFrom(burst, fmt.Sprintf("burst%d_%s", i, suffix())).status })
	}
	wg.Wait()
	created, throttled := 0, 0
	for _, st := range statuses {
		switch st {
		case 201:
			created++
		case 429:
			throttled++
		}
	}
	if created != 3 || throttled != 5 {
		t.Errorf("8 concurrent registrations with a limit of 3: %v", statuses)
	}
}

// ---------- 4. Input ----------

func TestSecurityOversizedHeaderAndBody(t *testing.T) {
	a := secUser(t, "big")
	r := call(t, "GET", "/api/v1/users/me", a.access, nil, "X-Padding", strings.Repeat("a", 64<<10))
	if r.status != 431 {
		t.Errorf("64 KiB header: %d, want 431", r.status)
	}
	big := []byte(`{"display_name":"` + strings.Repeat("x", 70<<10) + `"}`)
	r = call(t, "PATCH", "/api/v1/users/me", a.access, big, "Content-Type", "application/json")
	if r.status != 413 {
		t.Errorf("70 KiB JSON body: %d, want 413", r.status)
	}
	r = call(t, "PUT", "/api/v1/users/me/avatar", a.access, make([]byte, 1<<20+1024), "Content-Type", "image/png")
	if r.status != 413 {
		t.Errorf("1 MiB+ avatar: %d, want 413", r.status)
	}
}

func TestSecuritySlowClientsAreCut(t *testing.T) {
	needLocalStack(t, "starts a gateway replica with 1-2 s read timeouts")
	gw := startSecGateway(t, "gw-sec-slow", "HTTP_READ_HEADER_TIMEOUT=1s", "HTTP_READ_TIMEOUT=2s")
	host := strings.TrimPrefix(gw, "http://")
	type result struct {
		elapsed time.Duration
		cut     bool
	}
	trickle := func(head string, rest string) result {
		conn, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		start := time.Now()
		done := make(chan struct{})
		go func() {
			_, _ = io.Copy(io.Discard, conn) // returns when the server closes the connection
			close(done)
		}()
		if _, err := conn.Write([]byte(head)); err != nil {
			return result{time.Since(start), true}
		}
		for i := 0; i < len(rest); i++ {
			select {
			case <-done:
				return result{time.Since(start), true}
			case <-time.After(100 * time.Millisecond):
			}
			if _, err := conn.Write([]byte{rest[i]}); err != nil {
				return result{time.Since(start), true}
			}
		}
		select {
		case <-done:
			return result{time.Since(start), true}
		case <-time.After(3 * time.Second):
			return result{time.Since(start), false}
		}
	}
	// Headers byte by byte, never finished: 60 bytes at 10/s would take 6 s.
	res := trickle("GET /api/v1/users/me HTTP/1.1\r\n", "Host: x\r\nX-Slow: "+strings.Repeat("s", 60))
	t.Logf("slow headers cut=%v after %v", res.cut, res.elapsed)
	if !res.cut || res.elapsed < 900*time.Millisecond || res.elapsed > 3*time.Second {
		t.Errorf("slow headers: cut=%v after %v, want cut within ~1s", res.cut, res.elapsed)
	}
	// A body that trickles in: announced 100 bytes, sent at 10/s.
	res = trickle("POST /api/v1/users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n",
		`{"nickname":"`+strings.Repeat("s", 86))
	t.Logf("slow body cut=%v after %v", res.cut, res.elapsed)
	if !res.cut || res.elapsed > 4*time.Second {
		t.Errorf("slow body: cut=%v after %v, want cut within ~2s", res.cut, res.elapsed)
	}
}

func TestSecurityMalformedJSONAndContentTypes(t *testing.T) {
	a := secUser(t, "mjs")
	cases := []struct {
		method, path, ctype string
		body                []byte
		want                int
	}{
		{"POST", "/api/v1/users", "application/json", []byte(`{"nickname":`), 400},
		{"POST", "/api/v1/users", "application/json", []byte(`[1,2,3]`), 400},
		{"POST", "/api/v1/users", "application/json", []byte(`{"nickname":"ok_name","password":12345678}`), 400},
		{"POST", "/api/v1/users", "application/json", []byte(`{"nickname":"a","password":"x"}{"trailing":1}`), 400},
		{"POST", "/api/v1/auth/login", "application/json", []byte(`{{{`), 400},
		{"PATCH", "/api/v1/users/me", "application/json", []byte(`{"display_name":`), 400},
		{"PATCH", "/api/v1/users/me", "application/json", []byte(`{"display_name":["x"]}`), 400},
		{"POST", "/api/v1/friends/requests", "application/json", []byte(`{"user_id":{"$ne":null}}`), 400},
		{"POST", "/api/v1/users", "text/plain", []byte(`{"nickname":"tp_` + suffix() + `","password":"password123"}`), 415},
		{"POST", "/api/v1/users", "application/x-www-form-urlencoded", []byte(`nickname=abc&password=password123`), 415},
		{"PATCH", "/api/v1/users/me", "text/html", []byte(`{"display_name":"x"}`), 415},
		{"PUT", "/api/v1/users/me/avatar", "text/html", tinyGIF(), 415},
		{"PUT", "/api/v1/users/me/avatar", "image/svg+xml", []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`), 415},
	}
	for _, c := range cases {
		tok := a.access
		if strings.HasPrefix(c.path, "/api/v1/users") && c.method == "POST" || strings.HasPrefix(c.path, "/api/v1/auth/login") {
			tok = ""
		}
		r := call(t, c.method, c.path, tok, c.body, "Content-Type", c.ctype)
		if r.status != c.want {
			t.Errorf("%s %s (%s) %q: %d, want %d; body %q", c.method, c.path, c.ctype, trunc(c.body), r.status, c.want, r.body)
		} else if r.errorCode() == "" {
			t.Errorf("%s %s: %d without the error shape: %q", c.method, c.path, r.status, r.body)
		}
	}
}

func trunc(b []byte) string {
	if len(b) > 60 {
		return string(b[:60]) + "…"
	}
	return string(b)
}

var injections = []string{`' OR 1=1 --`, `%`, `_`, `\`, `"; DROP TABLE users; --`, `%' OR '1'='1`, `\%_'"`, "Robert'); DROP TABLE messages;--"}

func TestSecuritySQLMetacharactersAreData(t *testing.T) {
	a, b := secUser(t, "sqa"), secUser(t, "sqb")
	befriend(t, a, b)
	for _, s := range injections {
		r := call(t, "POST", "/api/v1/users", "", map[string]any{"nickname": s, "password": "password-123"})
		if r.status != 400 {
			t.Errorf("nickname %q: %d, want 400", s, r.status)
		}
		r = call(t, "POST", "/api/v1/auth/login", "", map[string]any{"nickname": s, "password": s + "password"})
		if r.status != 401 && r.status != 400 {
			t.Errorf("login as %q: %d, want 401/400", s, r.status)
		}
		if r = call(t, "POST", "/api/v1/auth/login", "", map[string]any{"nickname": a.nickname, "password": s}); r.status != 401 && r.status != 400 {
			t.Errorf("login with password %q: %d", s, r.status)
		}
	}
	for _, s := range injections {
		p := must(t, call(t, "PATCH", "/api/v1/users/me", a.access, map[string]any{"display_name": s, "bio": "bio " + s}), 200, "patch "+s).object(t)
		if p["display_name"] != s || p["bio"] != "bio "+s {
			t.Errorf("PATCH echoed %q/%q, want %q", p["display_name"], p["bio"], s)
		}
		// Another user's view goes through the gateway's profile cache, invalidated by an event: poll briefly.
		var pub map[string]any
		if !servertest.Eventually(t, 3*time.Second, func() bool {
			pub = must(t, call(t, "GET", "/api/v1/users/"+a.id, b.access, nil), 200, "public").object(t)
			return pub["display_name"] == s && pub["bio"] == "bio "+s
		}, "") {
			t.Errorf("read back %q/%q, want %q", pub["display_name"], pub["bio"], s)
		}
		if me := must(t, call(t, "GET", "/api/v1/users/me", a.access, nil), 200, "me").object(t); me["display_name"] != s {
			t.Errorf("own profile read back %q, want %q", me["display_name"], s)
		}
		m := send(t, a, b, s)
		if m["text"] != s {
			t.Errorf("sent %q, echoed %q", s, m["text"])
		}
	}
	items, _ := history(t, b, a, "?limit=100")
	got := texts(items)
	for i, j := 0, len(got)-1; i < j; i, j = i+1, j-1 {
		got[i], got[j] = got[j], got[i]
	}
	if strings.Join(got, "\x00") != strings.Join(injections, "\x00") {
		t.Errorf("history read back %q, want %q", got, injections)
	}
	// Other users' data is intact (the users table still answers).
	must(t, call(t, "GET", "/api/v1/users/me", b.access, nil), 200, "b still there")

	// Search: wildcards are literal.
	p := "w" + suffix()
	u := register(t, p+"xy")
	remember(u.password, u.access, u.refresh)
	for _, q := range []string{p + "_", p + "%", p + `\`, p + `_y`, p + "' OR 1=1 --", "%", "_", `\`, `' OR 1=1 --`, `"; DROP TABLE users; --`} {
		r := call(t, "GET", "/api/v1/users?limit=50&nickname="+url.QueryEscape(q), a.access, nil)
		if r.status == 400 {
			continue
		}
		must(t, r, 200, "search "+q)
		for _, it := range r.items(t) {
			if n, _ := it["nickname"].(string); !strings.HasPrefix(strings.ToLower(n), strings.ToLower(q)) {
				t.Errorf("search %q matched %q (wildcard or injection)", q, n)
			}
		}
	}
	r := must(t, call(t, "GET", "/api/v1/users?nickname="+url.QueryEscape(p+"x"), a.access, nil), 200, "literal search")
	if n := len(r.items(t)); n != 1 {
		t.Errorf("literal search %q: %d results, want 1", p+"x", n)
	}
}

func TestSecurityNonUTF8IsRejected(t *testing.T) {
	a, b := secUser(t, "u8a"), secUser(t, "u8b")
	befriend(t, a, b)
	bad := []string{"\xff\xfe", "ok\xc3\x28", "\xed\xa0\x80"}
	for _, s := range bad {
		body := []byte(`{"display_name":"` + s + `"}`)
		if r := call(t, "PATCH", "/api/v1/users/me", a.access, body, "Content-Type", "application/json"); r.status != 400 {
			t.Errorf("display_name %q: %d, want 400; body %q", s, r.status, r.body)
		}
		body = []byte(`{"text":"` + s + `"}`)
		if r := call(t, "POST", "/api/v1/chats/"+b.id+"/messages", a.access, body, "Content-Type", "application/json"); r.status != 400 {
			t.Errorf("message text %q: %d, want 400; body %q", s, r.status, r.body)
		}
		body = []byte(`{"nickname":"n8_` + suffix() + `","password":"pass` + s + `word123"}`)
		if r := call(t, "POST", "/api/v1/users", "", body, "Content-Type", "application/json"); r.status != 400 {
			t.Errorf("password with %q: %d, want 400; body %q", s, r.status, r.body)
		}
	}
}

func TestSecurityHostileAvatars(t *testing.T) {
	a := secUser(t, "ava")
	put := func(ctype string, body []byte) (reply, time.Duration) {
		start := time.Now()
		r := call(t, "PUT", "/api/v1/users/me/avatar", a.access, body, "Content-Type", ctype)
		return r, time.Since(start)
	}
	if r, d := put("image/png", pixelFloodPNG(50000, 50000)); r.status != 415 || d > 2*time.Second {
		t.Errorf("pixel flood PNG 50000×50000: %d after %v, want 415 quickly", r.status, d)
	}
	bomb := bombPNG(20000, 20000)
	if len(bomb) > 1<<20 {
		t.Fatalf("bomb is %d bytes", len(bomb))
	}
	if r, d := put("image/png", bomb); r.status != 415 || d > 3*time.Second {
		t.Errorf("decompression bomb PNG (%d bytes → 20000×20000): %d after %v, want 415", len(bomb), r.status, d)
	}
	if r, d := put("image/gif", bombGIF(60000, 60000)); r.status != 415 || d > 2*time.Second {
		t.Errorf("GIF with a 60000×60000 screen: %d after %v, want 415", r.status, d)
	}
	// A PNG declared as GIF, and a JPEG header claiming a huge size.
	if r, _ := put("image/gif", pixelFloodPNG(10, 10)); r.status != 415 {
		t.Errorf("PNG declared image/gif: %d, want 415", r.status)
	}
	html := []byte("<html><script>alert(document.cookie)</script></html>")
	if r, _ := put("image/gif", append([]byte("GIF89a"), html...)); r.status != 415 {
		t.Errorf("GIF header + HTML: %d, want 415", r.status)
	}
	// A real GIF with a script after its trailer: refused, or served only as image/gif with nosniff.
	poly := append(tinyGIF(), html...)
	r, _ := put("image/gif", poly)
	switch r.status {
	case 415:
	case 204:
		g := call(t, "GET", "/api/v1/users/"+a.id+"/avatar", "", nil)
		must(t, g, 200, "avatar")
		if ct := g.header.Get("Content-Type"); ct != "image/gif" {
			t.Errorf("polyglot served as %q, want image/gif", ct)
		}
		if g.header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("polyglot served without nosniff")
		}
		if bytes.Contains(g.body, []byte("<script")) {
			t.Logf("note: the polyglot is served byte for byte (script included); safe only thanks to nosniff + image/gif")
		}
	default:
		t.Errorf("GIF+HTML polyglot: %d, want 415 or 204", r.status)
	}
}

func TestSecurityWebSocketOriginAndMessageSize(t *testing.T) {
	a := secUser(t, "wsa")
	for _, origin := range []string{"https://evil.example", "null", "http://127.0.0.1.evil.example"} {
		s, status := dialWS(t, stack.GatewayURL, a.access, false, "Origin", origin)
		if s != nil {
			s.close()
			t.Errorf("origin %q: upgrade accepted", origin)
		} else if status != 403 {
			t.Errorf("origin %q: %d, want 403", origin, status)
		}
	}
	// The gateway's own origin is allowed.
	s, status := dialWS(t, stack.GatewayURL, a.access, false, "Origin", stack.GatewayURL)
	if s == nil {
		t.Errorf("own origin refused: %d", status)
	} else {
		s.close()
	}

	// A valid token in the query (as browsers pass it): accepted, and the secrets test checks it is not logged.
	if q, status := dialWS(t, stack.GatewayURL, a.access, true); q == nil {
		t.Errorf("token in query refused: %d", status)
	} else {
		q.close()
	}

	s = connect(t, a)
	defer s.close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_ = s.conn.Write(ctx, websocket.MessageText, bytes.Repeat([]byte("x"), 5000))
	if !s.closedWithin(3 * time.Second) {
		t.Error("a 5000-byte client message did not close the socket")
	}
	// A small message does not (the server ignores or answers it, but keeps the socket).
	s2 := connect(t, a)
	defer s2.close()
	_ = s2.conn.Write(ctx, websocket.MessageText, []byte(`{"type":"ping"}`))
	if s2.closedWithin(500 * time.Millisecond) {
		t.Log("note: a small client message closed the socket too")
	}
}

// ---------- 5. Secrets in logs ----------

// TestSecuritySecretsNeverInLogs must stay the last test of this file: it scans the logs of every process for
// the passwords and tokens the tests above used.
func TestSecuritySecretsNeverInLogs(t *testing.T) {
	needLocalStack(t, "scans every process's log for the secrets the tests used")
	secrets.Lock()
	list := append([]string{}, secrets.list...)
	secrets.Unlock()
	if len(list) < 10 {
		// Run alone: make some traffic of its own.
		a, b := secUser(t, "lga"), secUser(t, "lgb")
		befriend(t, a, b)
		call(t, "POST", "/api/v1/auth/refresh", "", map[string]any{"refresh_token": a.refresh})
		call(t, "POST", "/api/v1/auth/login", "", map[string]any{"nickname": a.nickname, "password": a.password + "x"})
		secrets.Lock()
		list = append([]string{}, secrets.list...)
		secrets.Unlock()
	}
	time.Sleep(300 * time.Millisecond) // let the last log lines be written
	names := append([]string{}, Services...)
	secGateways.Lock()
	names = append(names, secGateways.names...)
	secGateways.Unlock()
	seen := map[string]bool{}
	for _, n := range names {
		logs := stack.Logs(n)
		if logs == "" {
			t.Errorf("no log for %s", n)
			continue
		}
		for _, s := range list {
			if len(s) < 8 || seen[n+s] {
				continue
			}
			// tokens: also their signature part alone (a log might cut the token at a dot)
			probes := []string{s}
			if parts := strings.Split(s, "."); len(parts) == 3 && len(parts[2]) > 20 {
				probes = append(probes, parts[2])
			}
			for _, p := range probes {
				if strings.Contains(logs, p) {
					seen[n+s] = true
					i := strings.Index(logs, p)
					lo, hi := max(0, i-200), min(len(logs), i+len(p)+100)
					t.Errorf("%s log contains a secret (%.12s…): …%s…", n, s, logs[lo:hi])
					break
				}
			}
		}
	}
	t.Logf("scanned %d processes' logs for %d secrets", len(names), len(list))
}
