// Package domain holds the auth service's rules: signing keys and access tokens, refresh-token rotation with
// reuse detection, sessions, and login throttling. Plain Go, no HTTP or SQL.
package domain

import (
	"crypto"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/go-jose/go-jose/v4"

	"simplemessenger/platform/authn"
)

// SigningKey is an Ed25519 key that signs access tokens, named by ID (the JWT kid).
type SigningKey struct {
	ID      string
	private ed25519.PrivateKey
}

// NewSigningKey makes the key of a 32-byte Ed25519 seed.
func NewSigningKey(seed []byte) (SigningKey, error) {
	if len(seed) != ed25519.SeedSize {
		return SigningKey{}, fmt.Errorf("an Ed25519 seed is %d bytes, got %d", ed25519.SeedSize, len(seed))
	}
	priv := ed25519.NewKeyFromSeed(seed)
	id, err := KeyID(priv.Public().(ed25519.PublicKey))
	if err != nil {
		return SigningKey{}, err
	}
	return SigningKey{ID: id, private: priv}, nil
}

// Public is the key's public half.
func (k SigningKey) Public() ed25519.PublicKey { return k.private.Public().(ed25519.PublicKey) }

// KeyID names a public key by its RFC 7638 JWK thumbprint (SHA-256, base64url): the same key always gets the
// same kid, on every replica and after every restart, and different keys never share one.
func KeyID(pub ed25519.PublicKey) (string, error) {
	tp, err := (&jose.JSONWebKey{Key: pub}).Thumbprint(crypto.SHA256)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(tp), nil
}

// ParseSigningKeys reads a comma-separated list of base64 (standard or URL alphabet, padded or not) Ed25519
// seeds. The first key signs; all are published, so a new key can be added second, published everywhere,
// and then made first without invalidating tokens signed by the old one.
func ParseSigningKeys(list string) ([]SigningKey, error) {
	var keys []SigningKey
	seen := map[string]bool{}
	for i, part := range strings.Split(list, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		seed, err := decodeBase64(part)
		if err != nil {
			return nil, fmt.Errorf("signing key %d: not base64: %w", i+1, err)
		}
		k, err := NewSigningKey(seed)
		if err != nil {
			return nil, fmt.Errorf("signing key %d: %w", i+1, err)
		}
		if !seen[k.ID] {
			seen[k.ID] = true
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil, errors.New("no signing keys given")
	}
	return keys, nil
}

func decodeBase64(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	if strings.ContainsAny(s, "-_") {
		return base64.RawURLEncoding.DecodeString(s)
	}
	return base64.RawStdEncoding.DecodeString(s)
}

// KeyRing is the set of keys the service publishes, the first of which signs.
type KeyRing struct {
	keys []SigningKey
}

// NewKeyRing makes a ring from keys; keys[0] signs.
func NewKeyRing(keys []SigningKey) (*KeyRing, error) {
	if len(keys) == 0 {
		return nil, errors.New("a key ring needs at least one key")
	}
	return &KeyRing{keys: append([]SigningKey(nil), keys...)}, nil
}

// Signer is the key that signs new tokens.
func (r *KeyRing) Signer() SigningKey { return r.keys[0] }

// JWKS is the public key set, as served at /.well-known/jwks.json.
func (r *KeyRing) JWKS() jose.JSONWebKeySet {
	set := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, 0, len(r.keys))}
	for _, k := range r.keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.Public(), KeyID: k.ID, Algorithm: authn.Algorithm, Use: "sig"})
	}
	return set
}
