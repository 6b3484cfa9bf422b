package domain

import (
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"
	"unicode/utf8"
)

// The fuzz targets below check the auth rules on arbitrary input: nothing panics, and what is accepted
// satisfies the documented rule. `make fuzz` runs each for a short time; the seeds run in go test.

func FuzzHashRefreshToken(f *testing.F) {
	raw, _ := NewRefreshToken()
	for _, s := range []string{"", raw, raw + "=", raw[:42], raw + "A", strings.ToUpper(raw), "+/" + raw[2:], raw[:20] + "\n" + raw[20:], strings.Repeat("A", 43), strings.Repeat("_", 43)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		h, ok := HashRefreshToken(raw)
		if !ok {
			if h != (RefreshTokenHash{}) {
				t.Fatalf("refused %q with a hash", raw)
			}
			return
		}
		if h != sha256.Sum256([]byte(raw)) {
			t.Fatalf("hash of %q is not its SHA-256", raw)
		}
		// base64 decoding skips line breaks; everything else must be a 32-byte base64url value, unpadded.
		s := strings.NewReplacer("\r", "", "\n", "").Replace(raw)
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil || len(b) != refreshTokenBytes || len(s) != 43 {
			t.Fatalf("accepted %q (%d bytes, %v)", raw, len(b), err)
		}
	})
}

func FuzzNewRefreshTokenRoundTrip(f *testing.F) {
	f.Add(0)
	f.Fuzz(func(t *testing.T, _ int) {
		raw, h := NewRefreshToken()
		got, ok := HashRefreshToken(raw)
		if !ok || got != h || len(raw) != 43 || !utf8.ValidString(raw) {
			t.Fatalf("fresh token %q does not round-trip", raw)
		}
	})
}

func FuzzParseSigningKeys(f *testing.F) {
	seed := make([]byte, 32)
	for i := range seed {
		seed[i] = byte(i)
	}
	std := base64.StdEncoding.EncodeToString(seed)
	url := base64.RawURLEncoding.EncodeToString(seed)
	for _, s := range []string{"", ",", std, url, std + "," + url, " " + std + " ,", std[:40], "not base64!", std + "," + base64.StdEncoding.EncodeToString(seed[:31]), "====", "-_-_"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, list string) {
		keys, err := ParseSigningKeys(list)
		if err != nil {
			if keys != nil {
				t.Fatalf("error %v with keys", err)
			}
			return
		}
		if len(keys) == 0 {
			t.Fatal("no keys and no error")
		}
		seen := map[string]bool{}
		for _, k := range keys {
			if len(k.ID) != 43 || seen[k.ID] || len(k.private) == 0 {
				t.Fatalf("key %q from %q", k.ID, list)
			}
			seen[k.ID] = true
			if id, err := KeyID(k.Public()); err != nil || id != k.ID {
				t.Fatalf("kid %q is not the thumbprint %q", k.ID, id)
			}
		}
		again, err := ParseSigningKeys(list)
		if err != nil || len(again) != len(keys) || again[0].ID != keys[0].ID {
			t.Fatalf("parsing %q twice gave different rings", list)
		}
		if _, err := NewKeyRing(keys); err != nil {
			t.Fatal(err)
		}
	})
}

func FuzzCleanUserAgent(f *testing.F) {
	for _, s := range []string{"", "Mozilla/5.0", "\xff\xfe", "ok\xc3", strings.Repeat("é", 512), strings.Repeat("é", 513), strings.Repeat("\xff", 600)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ua string) {
		got := CleanUserAgent(ua)
		n := utf8.RuneCountInString(got)
		if !utf8.ValidString(got) || n > MaxUserAgentLength {
			t.Fatalf("CleanUserAgent(%q) = %q (%d code points)", ua, got, n)
		}
		if utf8.ValidString(ua) && utf8.RuneCountInString(ua) <= MaxUserAgentLength && got != ua {
			t.Fatalf("changed a clean user agent %q to %q", ua, got)
		}
		if !strings.HasPrefix(string([]rune(ua)), got) {
			t.Fatalf("%q is not a prefix of %q", got, ua)
		}
		if CleanUserAgent(got) != got {
			t.Fatalf("CleanUserAgent is not idempotent on %q", ua)
		}
	})
}
