package authn_test

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"simplemessenger/platform/authn"
	"simplemessenger/platform/authn/authntest"
)

// FuzzVerify: Verify never panics, never returns claims together with an error, and never accepts a token
// whose signed part (header and payload) the issuer did not sign: mutating a real token, or writing one from
// scratch, lets nobody in.
func FuzzVerify(f *testing.F) {
	iss := authntest.New(f)
	v := iss.Verifier()
	signed := map[string]bool{}
	sign := func(c authn.Claims) string {
		tok := iss.Sign(f, c)
		signed[tok[:strings.LastIndexByte(tok, '.')]] = true
		return tok
	}
	valid := iss.Token(f, "user-1", "sess-1")
	signed[valid[:strings.LastIndexByte(valid, '.')]] = true
	good := claims("user-1", "sess-1", 15*time.Minute)
	noSid := good
	noSid.SessionID = ""
	wrongAud := good
	wrongAud.Audience = jwt.ClaimStrings{"elsewhere"}
	enc := base64.RawURLEncoding.EncodeToString
	none := enc([]byte(`{"alg":"none","typ":"at+jwt","kid":"`+iss.Kid+`"}`)) + "." + strings.Split(valid, ".")[1] + "."
	hs := enc([]byte(`{"alg":"HS256","typ":"at+jwt","kid":"`+iss.Kid+`"}`)) + "." + strings.Split(valid, ".")[1] + ".c2ln"
	for _, s := range []string{"", ".", "..", "a.b.c", valid, valid + "x", valid[:len(valid)-2], strings.ToUpper(valid), none, hs,
		sign(noSid), sign(wrongAud), "Bearer " + valid, valid + "." + valid, strings.Repeat("eyJ", 200)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := v.Verify(context.Background(), raw)
		if err != nil {
			if c != nil {
				t.Fatalf("claims %+v with error %v", c, err)
			}
			if !errors.Is(err, authn.ErrInvalidToken) && !errors.Is(err, authn.ErrMissingToken) {
				t.Fatalf("Verify(%q): %v is neither invalid nor missing", raw, err)
			}
			return
		}
		dot := strings.LastIndexByte(raw, '.')
		if dot < 0 || !signed[raw[:dot]] || c.UserID() == "" || c.SessionID == "" {
			t.Fatalf("Verify accepted a token nobody signed: %q -> %+v", raw, c)
		}
	})
}

// FuzzBearerToken: the token read from an Authorization header is trimmed and only comes from a Bearer header.
func FuzzBearerToken(f *testing.F) {
	for _, s := range []string{"", "Bearer ", "Bearer abc", "bearer  abc ", "Basic abc", "Bearerabc", "BEARER a.b.c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		r, _ := http.NewRequest("GET", "/", nil)
		r.Header["Authorization"] = []string{h}
		tok := authn.BearerToken(r)
		if tok == "" {
			return
		}
		if len(h) < 8 || !strings.EqualFold(h[:7], "bearer ") || tok != strings.TrimSpace(tok) || !strings.Contains(h, tok) {
			t.Fatalf("BearerToken(%q) = %q", h, tok)
		}
	})
}
