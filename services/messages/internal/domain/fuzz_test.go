package domain_test

import (
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"simplemessenger/services/messages/internal/domain"
)

// The fuzz targets below check the documented rule of each validator and parser on arbitrary input: whatever
// is accepted satisfies it, and nothing panics. `make fuzz` runs each for a short time; the seeds run in go test.

func FuzzValidateText(f *testing.F) {
	for _, s := range []string{"", " ", "\n\t", "hi", "  indented", "a\x00b", "\x1b[2J", "a\u0085", "\u00a0", "\xff", strings.Repeat("ы", 4000), strings.Repeat("ы", 4001), "'; DROP TABLE messages; --"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if domain.ValidateText(s) != nil {
			return
		}
		n := utf8.RuneCountInString(s)
		switch {
		case !utf8.ValidString(s):
			t.Fatalf("accepted invalid UTF-8 %q", s)
		case n < 1 || n > domain.TextMaxLen:
			t.Fatalf("accepted %d code points", n)
		case strings.TrimFunc(s, unicode.IsSpace) == "":
			t.Fatalf("accepted white space only %q", s)
		}
		for _, r := range s {
			if unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t' {
				t.Fatalf("accepted control %U in %q", r, s)
			}
		}
	})
}

func FuzzValidateClientMessageID(f *testing.F) {
	for _, s := range []string{"", "c1", "0b5e0d0c-5a6e-4c9e-9d1f-2d3f4a5b6c7d", "a\x7f", "\xc3", strings.Repeat("é", 64), strings.Repeat("é", 65)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if domain.ValidateClientMessageID(s) != nil {
			return
		}
		if n := utf8.RuneCountInString(s); !utf8.ValidString(s) || n < 1 || n > domain.ClientMessageIDMaxLen || strings.IndexFunc(s, unicode.IsControl) >= 0 {
			t.Fatalf("accepted client_message_id %q", s)
		}
		m, err := domain.NewMessage("a", "b", "hi", &s, time.Unix(0, 0))
		if err != nil || m.ClientMessageID != s {
			t.Fatalf("NewMessage with accepted client_message_id %q: %v", s, err)
		}
	})
}

// canonicalID is the form ParseMessageID accepts: decimal digits, no sign, no spaces, within int64.
func canonicalID(s string) (int64, bool) {
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

func FuzzParseMessageID(f *testing.F) {
	for _, s := range []string{"", "0", "007", "1", "-1", "+1", " 1", "1e3", "0x10", "9223372036854775807", "9223372036854775808", "00000000000000000001", "١٢"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, ok := domain.ParseMessageID(s)
		if !ok {
			if want, wok := canonicalID(s); wok && len(s) <= 19 {
				t.Fatalf("refused %q (= %d)", s, want)
			}
			return
		}
		want, wok := canonicalID(s)
		if !wok || n != want || n < 0 {
			t.Fatalf("ParseMessageID(%q) = %d", s, n)
		}
		if m, err := domain.ParseReadMarker(s); (err == nil) != (n >= 1) || (err == nil && m != n) {
			t.Fatalf("ParseReadMarker(%q) = %d, %v", s, m, err)
		}
	})
}

func FuzzNewPage(f *testing.F) {
	f.Add("", "", "", false, false, false)
	f.Add("10", "", "", false, false, true)
	f.Add("", "0", "", false, true, false)
	f.Add("100", "5", "", true, false, true)
	f.Add("101", "", "", false, false, true)
	f.Add("+5", "1", "2", true, true, true)
	f.Add("05", "-1", "", true, false, true)
	f.Fuzz(func(t *testing.T, limit, before, after string, hasBefore, hasAfter, hasLimit bool) {
		var q domain.PageQuery
		if hasBefore {
			q.Before = &before
		}
		if hasAfter {
			q.After = &after
		}
		if hasLimit {
			q.Limit = &limit
		}
		p, err := domain.NewPage(q)
		if err == nil {
			if p.Limit < 1 || p.Limit > domain.PageMaxLimit || p.Fetch() != p.Limit+1 {
				t.Fatalf("limit %d from %q", p.Limit, limit)
			}
			if hasLimit {
				if n, ok := canonicalID(limit); !ok || int(n) != p.Limit {
					t.Fatalf("limit %d from %q", p.Limit, limit)
				}
			} else if p.Limit != domain.PageDefaultLimit {
				t.Fatalf("default limit %d", p.Limit)
			}
			switch {
			case hasBefore && hasAfter:
				t.Fatal("accepted before and after together")
			case hasBefore:
				if c, ok := domain.ParseMessageID(before); !ok || c != p.Cursor || p.Direction != domain.Older {
					t.Fatalf("before %q gave %+v", before, p)
				}
			case hasAfter:
				if c, ok := domain.ParseMessageID(after); !ok || c != p.Cursor || p.Direction != domain.Newer {
					t.Fatalf("after %q gave %+v", after, p)
				}
			default:
				if p.Cursor != math.MaxInt64 || p.Direction != domain.Older {
					t.Fatalf("no cursor gave %+v", p)
				}
			}
		}
		c, err := domain.NewChatListPage(q)
		if err == nil && (c.Direction != domain.Older || c.Limit < 1) {
			t.Fatalf("chat list page %+v", c)
		}
	})
}
