package domain

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"strings"
	"testing"
)

func seed(b byte) []byte { return bytes.Repeat([]byte{b}, ed25519.SeedSize) }

func TestParseSigningKeysAcceptsStandardAndURLBase64InOrder(t *testing.T) {
	first := base64.StdEncoding.EncodeToString(seed(0xfb)) // contains '+' or '/' in standard alphabet
	second := base64.RawURLEncoding.EncodeToString(seed(0xfb - 1))
	keys, err := ParseSigningKeys(" " + first + " ,," + second + ",")
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 {
		t.Fatalf("got %d keys, want 2", len(keys))
	}
	want0, _ := NewSigningKey(seed(0xfb))
	want1, _ := NewSigningKey(seed(0xfa))
	if keys[0].ID != want0.ID || keys[1].ID != want1.ID {
		t.Errorf("keys out of order or wrong: %s %s", keys[0].ID, keys[1].ID)
	}
}

func TestParseSigningKeysRejectsBadInput(t *testing.T) {
	for name, in := range map[string]string{
		"empty":          "",
		"only commas":    " , ,",
		"not base64":     "not*base64",
		"short seed":     base64.StdEncoding.EncodeToString(make([]byte, 16)),
		"long seed":      base64.StdEncoding.EncodeToString(make([]byte, 64)),
		"one bad of two": base64.StdEncoding.EncodeToString(seed(1)) + ",xx",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := ParseSigningKeys(in); err == nil {
				t.Errorf("ParseSigningKeys(%q) accepted", in)
			}
		})
	}
}

func TestParseSigningKeysDropsDuplicates(t *testing.T) {
	s := base64.StdEncoding.EncodeToString(seed(7))
	keys, err := ParseSigningKeys(s + "," + s)
	if err != nil || len(keys) != 1 {
		t.Fatalf("got %d keys, err %v; want the duplicate dropped", len(keys), err)
	}
}

func TestKeyIDIsAStableThumbprintOfThePublicKey(t *testing.T) {
	a1, _ := NewSigningKey(seed(1))
	a2, _ := NewSigningKey(seed(1))
	b, _ := NewSigningKey(seed(2))
	if a1.ID != a2.ID {
		t.Errorf("same key, different kids: %s %s", a1.ID, a2.ID)
	}
	if a1.ID == b.ID {
		t.Errorf("different keys share kid %s", a1.ID)
	}
	// RFC 7638 SHA-256 thumbprint: 32 bytes, base64url without padding.
	if len(a1.ID) != 43 || strings.ContainsAny(a1.ID, "+/=") {
		t.Errorf("kid %q is not a base64url SHA-256 thumbprint", a1.ID)
	}
}

func TestJWKSPublishesEveryKeyForSigning(t *testing.T) {
	k1, _ := NewSigningKey(seed(1))
	k2, _ := NewSigningKey(seed(2))
	ring, err := NewKeyRing([]SigningKey{k1, k2})
	if err != nil {
		t.Fatal(err)
	}
	if ring.Signer().ID != k1.ID {
		t.Errorf("signer %s, want the first key %s", ring.Signer().ID, k1.ID)
	}
	set := ring.JWKS()
	if len(set.Keys) != 2 {
		t.Fatalf("%d keys published, want 2", len(set.Keys))
	}
	for i, k := range set.Keys {
		pub, ok := k.Key.(ed25519.PublicKey)
		if !ok || !k.IsPublic() {
			t.Fatalf("key %d is not a public Ed25519 key: %T", i, k.Key)
		}
		if k.Algorithm != "EdDSA" || k.Use != "sig" {
			t.Errorf("key %d: alg %q use %q", i, k.Algorithm, k.Use)
		}
		if want, _ := KeyID(pub); k.KeyID != want {
			t.Errorf("key %d: kid %q, want %q", i, k.KeyID, want)
		}
	}
	if _, err := NewKeyRing(nil); err == nil {
		t.Error("an empty key ring was accepted")
	}
}
