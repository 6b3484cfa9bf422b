package domain

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"simplemessenger/platform/authn"
)

// AccessToken is a signed access token and when it stops being valid.
type AccessToken struct {
	Token     string
	ExpiresAt time.Time
}

// IssueAccessToken signs the access token of a user's session, valid from now for ttl. It carries exactly
// what authn.Verifier checks: EdDSA, the key's kid, typ at+jwt, the platform issuer and audience, sub = user
// id, sid = session id, iat/nbf/exp, plus a jti so no two tokens are the same string.
func (r *KeyRing) IssueAccessToken(userID, sessionID string, now time.Time, ttl time.Duration) (AccessToken, error) {
	now = now.Truncate(time.Second)
	exp := now.Add(ttl)
	key := r.Signer()
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, authn.Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    authn.Issuer,
			Audience:  jwt.ClaimStrings{authn.Audience},
			Subject:   userID,
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(exp),
			ID:        uuid.NewString(),
		},
		SessionID: sessionID,
	})
	tok.Header["kid"] = key.ID
	tok.Header["typ"] = authn.TokenType
	s, err := tok.SignedString(key.private)
	if err != nil {
		return AccessToken{}, fmt.Errorf("sign access token: %w", err)
	}
	return AccessToken{Token: s, ExpiresAt: exp}, nil
}

// RefreshTokenHash is what is stored of a refresh token: its SHA-256, so a copy of the database cannot be
// used to refresh anyone's session.
type RefreshTokenHash [sha256.Size]byte

const refreshTokenBytes = 32

// NewRefreshToken returns a fresh opaque refresh token (32 random bytes, base64url) and its hash.
func NewRefreshToken() (string, RefreshTokenHash) {
	var b [refreshTokenBytes]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (it panics if the system has no randomness).
	raw := base64.RawURLEncoding.EncodeToString(b[:])
	return raw, sha256.Sum256([]byte(raw))
}

// HashRefreshToken returns the hash a presented token is looked up by; ok is false for a string that cannot
// be one of ours, which is refused without a lookup.
func HashRefreshToken(raw string) (h RefreshTokenHash, ok bool) {
	b, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil || len(b) != refreshTokenBytes {
		return h, false
	}
	return sha256.Sum256([]byte(raw)), true
}
