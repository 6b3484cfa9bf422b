// Package authntest issues access tokens the way the auth service does, from a key served on a local JWKS
// endpoint, so a service's component tests can call it with real tokens and no auth service.
package authntest

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"

	"simplemessenger/platform/authn"
)

// Issuer signs tokens with a fresh Ed25519 key published at JWKSURL.
type Issuer struct {
	JWKSURL string
	Kid     string
	priv    ed25519.PrivateKey
}

// New starts the JWKS endpoint for the test's lifetime.
func New(t testing.TB) *Issuer {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	iss := &Issuer{Kid: "test-" + time.Now().Format("150405.000000"), priv: priv}
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: pub, KeyID: iss.Kid, Algorithm: authn.Algorithm, Use: "sig"}}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(set)
	}))
	t.Cleanup(srv.Close)
	iss.JWKSURL = srv.URL
	return iss
}

// Verifier returns a verifier of this issuer's tokens.
func (i *Issuer) Verifier() *authn.Verifier { return authn.NewVerifier(i.JWKSURL, nil) }

// Token returns a valid access token of the user's session.
func (i *Issuer) Token(t testing.TB, userID, sessionID string) string {
	now := time.Now()
	return i.Sign(t, authn.Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: authn.Issuer, Audience: jwt.ClaimStrings{authn.Audience}, Subject: userID,
			IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(15 * time.Minute)),
		},
		SessionID: sessionID,
	})
}

// Sign signs arbitrary claims with the issuer's key (for tests of expired or foreign tokens).
func (i *Issuer) Sign(t testing.TB, c authn.Claims) string {
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c)
	tok.Header["kid"] = i.Kid
	tok.Header["typ"] = authn.TokenType
	s, err := tok.SignedString(i.priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
