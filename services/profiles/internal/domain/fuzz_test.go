package domain_test

import (
	"bytes"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"simplemessenger/platform/contract"

	"simplemessenger/services/profiles/internal/domain"
)

// The fuzz targets below check the documented rule of each validator on arbitrary input: whatever is
// accepted satisfies it, and nothing panics. `make fuzz` runs each for a short time; the seeds run in go test.

func FuzzValidateNickname(f *testing.F) {
	for _, s := range []string{"", "ab", "abc", "Alice_1.-", "a b", "ä-ö-ü", strings.Repeat("x", 32), strings.Repeat("x", 33), "\x00\xff\xfe", "K\u212a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, n string) {
		if domain.ValidateNickname(n) != nil {
			return
		}
		if len(n) < domain.NicknameMinLen || len(n) > domain.NicknameMaxLen {
			t.Fatalf("accepted nickname of %d bytes: %q", len(n), n)
		}
		for _, r := range n {
			if !(r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' || r == '.' || r == '-')) {
				t.Fatalf("accepted nickname %q with %q", n, r)
			}
		}
		low := domain.NormalizeNickname(n)
		if low != strings.ToLower(n) || domain.ValidateNickname(low) != nil {
			t.Fatalf("NormalizeNickname(%q) = %q", n, low)
		}
	})
}

func FuzzValidatePassword(f *testing.F) {
	for _, s := range []string{"", "1234567", "12345678", "pässwörd", "\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8", strings.Repeat("🔑", 128), strings.Repeat("🔑", 129)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if domain.ValidatePassword(p) != nil {
			return
		}
		if n := utf8.RuneCountInString(p); !utf8.ValidString(p) || n < domain.PasswordMinLen || n > domain.PasswordMaxLen {
			t.Fatalf("accepted password %q (%d code points)", p, n)
		}
	})
}

func FuzzValidateDisplayName(f *testing.F) {
	for _, s := range []string{"", " ", "\t", "Alice", "Zoë 👋", "a\x00b", "a\u0085b", "\u3000", strings.Repeat("é", 64), strings.Repeat("é", 65), "\xc3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if domain.ValidateDisplayName(s) != nil {
			return
		}
		n := utf8.RuneCountInString(s)
		switch {
		case !utf8.ValidString(s):
			t.Fatalf("accepted invalid UTF-8 %q", s)
		case n < 1 || n > domain.DisplayNameMaxLen:
			t.Fatalf("accepted %d code points: %q", n, s)
		case strings.TrimSpace(s) == "":
			t.Fatalf("accepted blank %q", s)
		case strings.IndexFunc(s, unicode.IsControl) >= 0:
			t.Fatalf("accepted control character in %q", s)
		}
		if _, err := domain.NewUser("id", "alice", &s, time.Unix(0, 0)); err != nil {
			t.Fatalf("NewUser refused display name %q that ValidateDisplayName accepts: %v", s, err)
		}
	})
}

func FuzzValidateBio(f *testing.F) {
	for _, s := range []string{"", "hello\nworld\t!\r\n", "a\x00", "\x1b[31m", "\u0085", strings.Repeat("ß", 512), strings.Repeat("ß", 513), "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if domain.ValidateBio(s) != nil {
			return
		}
		if !utf8.ValidString(s) || utf8.RuneCountInString(s) > domain.BioMaxLen {
			t.Fatalf("accepted bio %q", s)
		}
		for _, r := range s {
			if unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t' {
				t.Fatalf("accepted control %U in bio %q", r, s)
			}
		}
		up := domain.ProfileUpdate{Bio: &s}
		if up.Validate() != nil {
			t.Fatalf("ProfileUpdate.Validate refused bio %q", s)
		}
	})
}

func FuzzNewSearch(f *testing.F) {
	f.Add("ali", 0, false)
	f.Add("a%_!\\", 50, true)
	f.Add("", 10, true)
	f.Add("\xff", 1, true)
	f.Add("ALICE", 51, true)
	f.Add(strings.Repeat("ж", 33), -1, true)
	f.Fuzz(func(t *testing.T, q string, limit int, given bool) {
		s, err := domain.NewSearch(q, limit, given)
		if err != nil {
			return
		}
		if q == "" || !utf8.ValidString(q) || utf8.RuneCountInString(q) > domain.NicknameMaxLen {
			t.Fatalf("accepted query %q", q)
		}
		if s.Limit < 1 || s.Limit > domain.SearchMaxLimit || (given && s.Limit != limit) || (!given && s.Limit != domain.SearchDefaultLimit) {
			t.Fatalf("limit %d (given %v %d)", s.Limit, given, limit)
		}
		if s.Prefix != domain.NormalizeNickname(q) {
			t.Fatalf("prefix %q of %q", s.Prefix, q)
		}
	})
}

// unescapeLike reads a LIKE pattern written with ESCAPE '!' back into the literal prefix it matches: every
// wildcard must be escaped except the one trailing '%'.
func unescapeLike(t *testing.T, pat string) string {
	t.Helper()
	if !strings.HasSuffix(pat, "%") {
		t.Fatalf("pattern %q does not end with %%", pat)
	}
	body := pat[:len(pat)-1]
	var b strings.Builder
	for i := 0; i < len(body); i++ {
		switch c := body[i]; c {
		case '!':
			if i+1 >= len(body) || !strings.ContainsRune("!%_", rune(body[i+1])) {
				t.Fatalf("pattern %q: dangling or needless escape at %d", pat, i)
			}
			i++
			b.WriteByte(body[i])
		case '%', '_':
			t.Fatalf("pattern %q: unescaped wildcard %q at %d", pat, c, i)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func FuzzLikePrefix(f *testing.F) {
	for _, s := range []string{"", "alice", "100%", "a_b", "!", "!!%", "\\%", "%_!%_!", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, prefix string) {
		pat := domain.LikePrefix(prefix)
		if got := unescapeLike(t, pat); got != prefix {
			t.Fatalf("LikePrefix(%q) = %q reads back as %q", prefix, pat, got)
		}
	})
}

func FuzzParseIDBatch(f *testing.F) {
	for _, s := range []string{"", ",", "a", "a,b,a", " a , ,b ", strings.Repeat("x,", 100), strings.Repeat("x,", 101), strings.Repeat("x,", 100) + "y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		ids, err := domain.ParseIDBatch(raw)
		if err != nil {
			return
		}
		if len(ids) == 0 || len(ids) > domain.BatchMaxIDs {
			t.Fatalf("%d ids from %q", len(ids), raw)
		}
		seen := map[string]bool{}
		for _, id := range ids {
			if id == "" || id != strings.TrimSpace(id) || strings.Contains(id, ",") || seen[id] {
				t.Fatalf("bad or repeated id %q from %q", id, raw)
			}
			seen[id] = true
		}
	})
}

func FuzzAvatarMediaType(f *testing.F) {
	for _, s := range []string{"", "image/png", "IMAGE/PNG; charset=x", "image/jpeg;q=1", "image/gif ", "image/webp", "text/html", "image/png; a=\"", "image/svg+xml"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ct string) {
		mt, err := domain.AvatarMediaType(ct)
		if err != nil {
			return
		}
		if mt != "image/png" && mt != "image/jpeg" && mt != "image/gif" {
			t.Fatalf("AvatarMediaType(%q) = %q", ct, mt)
		}
	})
}

func FuzzNewAvatar(f *testing.F) {
	img := image.NewRGBA(image.Rect(0, 0, 3, 2))
	var p, j, g bytes.Buffer
	_ = png.Encode(&p, img)
	_ = jpeg.Encode(&j, img, nil)
	_ = gif.Encode(&g, img, nil)
	for _, ct := range []string{"image/png", "image/jpeg", "image/gif"} {
		for _, b := range [][]byte{p.Bytes(), j.Bytes(), g.Bytes(), p.Bytes()[:20], nil, []byte("GIF89a<svg onload=alert(1)>")} {
			f.Add(ct, b)
		}
	}
	// Pixel floods: a small PNG whose header claims a huge (or just too large) size.
	small := pngBytes(f, 2, 2)
	f.Add("image/png", withPNGSize(f, small, 100000, 100000))
	f.Add("image/png", withPNGSize(f, small, 4097, 1))
	f.Add("image/png", withPNGSize(f, small, 4096, 4096))
	f.Fuzz(func(t *testing.T, ct string, data []byte) {
		a, err := domain.NewAvatar(ct, data)
		if err != nil {
			return
		}
		cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("accepted an avatar whose header does not decode: %v", err)
		}
		if "image/"+format != a.ContentType {
			t.Fatalf("accepted %s as %s (declared %q)", format, a.ContentType, ct)
		}
		if cfg.Width < 1 || cfg.Height < 1 || cfg.Width > domain.AvatarMaxDimension || cfg.Height > domain.AvatarMaxDimension {
			t.Fatalf("accepted %dx%d", cfg.Width, cfg.Height)
		}
		if len(data) > contract.AvatarMaxBytes || !bytes.Equal(a.Data, data) || len(a.ETag) != 34 {
			t.Fatalf("avatar %d bytes, etag %q", len(a.Data), a.ETag)
		}
	})
}
