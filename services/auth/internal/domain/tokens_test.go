package domain

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"simplemessenger/platform/authn"
)

func ring(t *testing.T, seeds ...byte) *KeyRing {
	t.Helper()
	var keys []SigningKey
	for _, s := range seeds {
		k, err := NewSigningKey(seed(s))
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	r, err := NewKeyRing(keys)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func verifierOf(r *KeyRing) *authn.Verifier {
	v := authn.NewVerifier("", nil)
	v.AddKeys(r.JWKS())
	return v
}

func TestAccessTokenPassesThePlatformVerifier(t *testing.T) {
	r := ring(t, 1)
	now := time.Now()
	tok, err := r.IssueAccessToken("user-1", "session-1", now, 15*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	claims, err := verifierOf(r).Verify(context.Background(), tok.Token)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if claims.UserID() != "user-1" || claims.SessionID != "session-1" {
		t.Errorf("sub %q sid %q", claims.UserID(), claims.SessionID)
	}
	if claims.Issuer != authn.Issuer || len(claims.Audience) != 1 || claims.Audience[0] != authn.Audience {
		t.Errorf("iss %q aud %v", claims.Issuer, claims.Audience)
	}
	if got := claims.ExpiresAt.Time; !got.Equal(tok.ExpiresAt) || got.Sub(now) > 15*time.Minute || got.Sub(now) < 15*time.Minute-time.Second {
		t.Errorf("exp %v, want 15 min after %v (reported %v)", got, now, tok.ExpiresAt)
	}
	if claims.IssuedAt == nil || claims.NotBefore == nil || claims.ID == "" {
		t.Errorf("iat/nbf/jti missing: %+v", claims.RegisteredClaims)
	}
}

func TestAccessTokenHeaderNamesAlgorithmKeyAndType(t *testing.T) {
	r := ring(t, 1)
	tok, _ := r.IssueAccessToken("u", "s", time.Now(), time.Minute)
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(tok.Token, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]string
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatal(err)
	}
	if h["alg"] != "EdDSA" || h["typ"] != "at+jwt" || h["kid"] != r.Signer().ID {
		t.Errorf("header %v, want alg EdDSA, typ at+jwt, kid %s", h, r.Signer().ID)
	}
}

func TestExpiredAccessTokenIsRefused(t *testing.T) {
	r := ring(t, 1)
	tok, _ := r.IssueAccessToken("u", "s", time.Now().Add(-time.Hour), 15*time.Minute)
	if _, err := verifierOf(r).Verify(context.Background(), tok.Token); !errors.Is(err, authn.ErrInvalidToken) {
		t.Errorf("expired token: err %v, want ErrInvalidToken", err)
	}
}

func TestAccessTokenOfAnUnpublishedKeyIsRefused(t *testing.T) {
	signer, published := ring(t, 1), ring(t, 2)
	tok, _ := signer.IssueAccessToken("u", "s", time.Now(), time.Minute)
	if _, err := verifierOf(published).Verify(context.Background(), tok.Token); !errors.Is(err, authn.ErrInvalidToken) {
		t.Errorf("token of an unknown kid: err %v, want ErrInvalidToken", err)
	}
}

func TestRotationKeepsOldTokensValid(t *testing.T) {
	// Step 1: the old key signs, the new one is published second. Step 2: the new key signs, the old one is
	// still published. A token of step 1 verifies in step 2.
	before, after := ring(t, 1, 2), ring(t, 2, 1)
	tok, _ := before.IssueAccessToken("u", "s", time.Now(), time.Minute)
	if _, err := verifierOf(after).Verify(context.Background(), tok.Token); err != nil {
		t.Errorf("token of the previous signing key refused after rotation: %v", err)
	}
	newTok, _ := after.IssueAccessToken("u", "s", time.Now(), time.Minute)
	if _, err := verifierOf(before).Verify(context.Background(), newTok.Token); err != nil {
		t.Errorf("token of the pre-published key refused before rotation: %v", err)
	}
}

func TestTokensOfOtherAlgorithmsAreRefused(t *testing.T) {
	r := ring(t, 1)
	claims := authn.Claims{RegisteredClaims: jwt.RegisteredClaims{
		Issuer: authn.Issuer, Audience: jwt.ClaimStrings{authn.Audience}, Subject: "u",
		IssuedAt: jwt.NewNumericDate(time.Now()), ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Minute)),
	}, SessionID: "s"}
	hs := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	hs.Header["kid"], hs.Header["typ"] = r.Signer().ID, authn.TokenType
	// HMAC keyed with the public key: the classic algorithm-confusion forgery.
	forged, err := hs.SignedString([]byte(r.Signer().Public()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verifierOf(r).Verify(context.Background(), forged); err == nil {
		t.Error("an HS256 token keyed with the public key verified")
	}
}

func TestRefreshTokensAreRandomAndHashRoundTrips(t *testing.T) {
	raw1, h1 := NewRefreshToken()
	raw2, h2 := NewRefreshToken()
	if raw1 == raw2 || h1 == h2 {
		t.Fatal("two refresh tokens are equal")
	}
	if b, err := base64.RawURLEncoding.DecodeString(raw1); err != nil || len(b) != 32 {
		t.Errorf("refresh token %q is not 32 bytes of base64url", raw1)
	}
	if got, ok := HashRefreshToken(raw1); !ok || got != h1 {
		t.Errorf("HashRefreshToken(raw) = %x %v, want the hash NewRefreshToken returned", got, ok)
	}
	for _, bad := range []string{"", "short", raw1 + "AA", strings.Repeat("*", 43)} {
		if _, ok := HashRefreshToken(bad); ok {
			t.Errorf("HashRefreshToken(%q) accepted", bad)
		}
	}
}
