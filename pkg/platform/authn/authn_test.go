package authn_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"

	"simplemessenger/platform/authn"
	"simplemessenger/platform/authn/authntest"
	"simplemessenger/platform/metrics"
)

func claims(sub, sid string, exp time.Duration) authn.Claims {
	now := time.Now()
	return authn.Claims{RegisteredClaims: jwt.RegisteredClaims{
		Issuer: authn.Issuer, Audience: jwt.ClaimStrings{authn.Audience}, Subject: sub,
		IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(exp)),
	}, SessionID: sid}
}

func TestVerifyAcceptsAValidToken(t *testing.T) {
	iss := authntest.New(t)
	c, err := iss.Verifier().Verify(context.Background(), iss.Token(t, "user-1", "sess-1"))
	if err != nil {
		t.Fatal(err)
	}
	if c.UserID() != "user-1" || c.SessionID != "sess-1" {
		t.Fatalf("claims %+v", c)
	}
}

func TestVerifyRefusesForgedAndMisusedTokens(t *testing.T) {
	iss := authntest.New(t)
	v := iss.Verifier()
	good := iss.Token(t, "u", "s")

	// alg none
	none := jwt.NewWithClaims(jwt.SigningMethodNone, claims("u", "s", time.Minute))
	none.Header["kid"] = iss.Kid
	none.Header["typ"] = authn.TokenType
	noneStr, _ := none.SignedString(jwt.UnsafeAllowNoneSignatureType)

	// algorithm confusion: HMAC keyed with the public key bytes published in the JWKS
	res, _ := http.Get(iss.JWKSURL)
	var set jose.JSONWebKeySet
	_ = json.NewDecoder(res.Body).Decode(&set)
	res.Body.Close()
	pub := set.Keys[0].Key.(ed25519.PublicKey)
	hs := jwt.NewWithClaims(jwt.SigningMethodHS256, claims("u", "s", time.Minute))
	hs.Header["kid"] = iss.Kid
	hs.Header["typ"] = authn.TokenType
	hsStr, _ := hs.SignedString([]byte(pub))

	// a different key under the same kid
	_, otherPriv, _ := ed25519.GenerateKey(rand.Reader)
	foreign := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims("u", "s", time.Minute))
	foreign.Header["kid"] = iss.Kid
	foreign.Header["typ"] = authn.TokenType
	foreignStr, _ := foreign.SignedString(otherPriv)

	wrongIss := claims("u", "s", time.Minute)
	wrongIss.Issuer = "someone-else"
	wrongAud := claims("u", "s", time.Minute)
	wrongAud.Audience = jwt.ClaimStrings{"other-app"}
	notYet := claims("u", "s", time.Hour)
	notYet.NotBefore = jwt.NewNumericDate(time.Now().Add(time.Hour))
	noSid := claims("u", "", time.Minute)

	wrongKid := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims("u", "s", time.Minute))
	wrongKid.Header["kid"] = "no-such-key"
	wrongKid.Header["typ"] = authn.TokenType
	wrongKidStr, _ := wrongKid.SignedString(otherPriv)

	cases := map[string]string{
		"alg none":             noneStr,
		"HMAC with public key": hsStr,
		"foreign key":          foreignStr,
		"unknown kid":          wrongKidStr,
		"expired":              iss.Sign(t, claims("u", "s", -time.Minute)),
		"not yet valid":        iss.Sign(t, notYet),
		"wrong issuer":         iss.Sign(t, wrongIss),
		"wrong audience":       iss.Sign(t, wrongAud),
		"no session id":        iss.Sign(t, noSid),
		"damaged":              good + "x",
		"garbage":              "not.a.token",
		"opaque refresh token": "kq0y3TqHk9Vf1oQ3nq0m7iX2aXbJq2Yy1p3Xq8h9z0A",
	}
	for name, tok := range cases {
		if _, err := v.Verify(context.Background(), tok); !errors.Is(err, authn.ErrInvalidToken) {
			t.Errorf("%s: err %v, want ErrInvalidToken", name, err)
		}
	}
}

func TestUnknownKidRefetchesTheKeySetButNotTooOften(t *testing.T) {
	pub1, priv1, _ := ed25519.GenerateKey(rand.Reader)
	pub2, priv2, _ := ed25519.GenerateKey(rand.Reader)
	var fetches atomic.Int32
	var rotated atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		keys := []jose.JSONWebKey{{Key: pub1, KeyID: "k1", Algorithm: "EdDSA", Use: "sig"}}
		if rotated.Load() {
			keys = append(keys, jose.JSONWebKey{Key: pub2, KeyID: "k2", Algorithm: "EdDSA", Use: "sig"})
		}
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: keys})
	}))
	defer srv.Close()
	old := authn.MinRefreshInterval
	authn.MinRefreshInterval = 200 * time.Millisecond
	defer func() { authn.MinRefreshInterval = old }()

	sign := func(kid string, priv ed25519.PrivateKey) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims("u", "s", time.Minute))
		tok.Header["kid"] = kid
		tok.Header["typ"] = authn.TokenType
		s, _ := tok.SignedString(priv)
		return s
	}
	v := authn.NewVerifier(srv.URL, nil)
	if _, err := v.Verify(context.Background(), sign("k1", priv1)); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ { // cached: no more fetches
		_, _ = v.Verify(context.Background(), sign("k1", priv1))
	}
	if fetches.Load() != 1 {
		t.Fatalf("%d fetches for a known key, want 1", fetches.Load())
	}
	for i := 0; i < 5; i++ { // unknown kid storm: refetches are rate limited
		_, _ = v.Verify(context.Background(), sign("k9", priv2))
	}
	if fetches.Load() > 2 {
		t.Fatalf("%d fetches during an unknown-kid storm", fetches.Load())
	}
	rotated.Store(true)
	time.Sleep(250 * time.Millisecond)
	if _, err := v.Verify(context.Background(), sign("k2", priv2)); err != nil {
		t.Fatalf("rotated key not picked up: %v", err)
	}
}

// Every verification is counted by result, so operators see token probing (invalid) and an unreachable key
// set (unavailable, answered 503 rather than a misleading 401).
func TestVerificationsAreCountedByResult(t *testing.T) {
	iss := authntest.New(t)
	m := metrics.New("test")
	v := authn.NewVerifier(iss.JWKSURL, nil, authn.WithMetrics(m.Registerer))
	// A second verifier on the same registry shares the counter instead of failing to register.
	other := authn.NewVerifier(iss.JWKSURL, nil, authn.WithMetrics(m.Registerer))

	r := gin.New()
	r.GET("/me", authn.Middleware(v), func(c *gin.Context) { c.Status(http.StatusNoContent) })
	status := func(token string) int {
		req := httptest.NewRequest("GET", "/me", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		return w.Code
	}
	if got := status(iss.Token(t, "u1", "s1")); got != http.StatusNoContent {
		t.Fatalf("valid token: %d", got)
	}
	if got := status(""); got != http.StatusUnauthorized {
		t.Fatalf("no token: %d", got)
	}
	if got := status("not.a.jwt"); got != http.StatusUnauthorized {
		t.Fatalf("garbage token: %d", got)
	}
	if _, err := other.Verify(context.Background(), iss.Token(t, "u2", "s2")); err != nil {
		t.Fatal(err)
	}

	// A token whose key must be fetched from a key set that cannot be reached: 503, counted unavailable.
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	unreachable := authn.NewVerifier(down.URL, nil, authn.WithMetrics(m.Registerer))
	r.GET("/down", authn.Middleware(unreachable), func(c *gin.Context) { c.Status(http.StatusNoContent) })
	req := httptest.NewRequest("GET", "/down", nil)
	req.Header.Set("Authorization", "Bearer "+iss.Token(t, "u3", "s3"))
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	if w.Code != http.StatusServiceUnavailable {
		t.Fatalf("key set unreachable: %d, want 503", w.Code)
	}

	want := map[string]float64{"ok": 2, "missing": 1, "invalid": 1, "unavailable": 1}
	for result, n := range want {
		if got := counterValue(t, m, "authn_token_verifications_total", "result", result); got != n {
			t.Errorf("authn_token_verifications_total{result=%q} = %v, want %v", result, got, n)
		}
	}
}

func counterValue(t *testing.T, m *metrics.Metrics, name, label, value string) float64 {
	t.Helper()
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, mt := range mf.GetMetric() {
			for _, l := range mt.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					return mt.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no %s{%s=%q}", name, label, value)
	return 0
}

// A token that verified is remembered for a while (its signature is not checked again), but never past its
// expiry.
func TestAVerifiedTokenIsRememberedUntilItExpires(t *testing.T) {
	iss := authntest.New(t)
	v := iss.Verifier()
	now := time.Now()
	authn.SetClock(v, func() time.Time { return now })
	tok := iss.Token(t, "u1", "s1")
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	authn.ForgetKeys(v) // without the cache, the next check would need the key set again (and refetches are rate-limited)
	c, err := v.Verify(context.Background(), tok)
	if err != nil || c.UserID() != "u1" || c.SessionID != "s1" {
		t.Fatalf("the same token again: %+v, %v", c, err)
	}
	authn.SetClock(v, func() time.Time { return now.Add(16 * time.Minute) })
	if _, err := v.Verify(context.Background(), tok); !errors.Is(err, authn.ErrInvalidToken) {
		t.Fatalf("a remembered token past its expiry: %v, want invalid", err)
	}
	// Another token is checked for real: with no key known, it does not verify.
	if _, err := v.Verify(context.Background(), iss.Token(t, "u2", "s2")); err == nil {
		t.Fatal("a token never seen verified without a key")
	}
}

func TestConfigValidateNamesTheVariable(t *testing.T) {
	if err := authn.DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		cfg  authn.Config
		want string
	}{
		{authn.Config{JWKSURL: "::", JWKSTimeout: time.Second}, "AUTH_JWKS_URL"},
		{authn.Config{JWKSURL: "/jwks.json", JWKSTimeout: time.Second}, "AUTH_JWKS_URL"},
		{authn.Config{JWKSURL: authn.DefaultJWKSURL}, "AUTH_JWKS_TIMEOUT"},
	} {
		if err := c.cfg.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v", c.cfg, err)
		}
	}
}
