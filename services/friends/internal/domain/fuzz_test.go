package domain_test

import (
	"errors"
	"testing"

	"simplemessenger/services/friends/internal/domain"
)

// The fuzz targets below check the friends rules on arbitrary input: nothing panics, and what is accepted
// satisfies the documented rule. `make fuzz` runs each for a short time; the seeds run in go test.

func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{"", "all", "accepted", "incoming", "outgoing", "ALL", "pending", " all", "all\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := domain.ParseFilter(s)
		if err != nil {
			if !errors.Is(err, domain.ErrInvalidFilter) || got != "" {
				t.Fatalf("ParseFilter(%q) = %q, %v", s, got, err)
			}
			return
		}
		switch {
		case s == "" && got == domain.FilterAll:
		case s != "" && string(got) == s && (got == domain.FilterAll || got == domain.FilterAccepted || got == domain.FilterIncoming || got == domain.FilterOutgoing):
		default:
			t.Fatalf("ParseFilter(%q) = %q", s, got)
		}
	})
}

func FuzzNewPair(f *testing.F) {
	f.Add("a", "b")
	f.Add("b", "a")
	f.Add("a", "a")
	f.Add("", "a")
	f.Add("0b5e0d0c-5a6e-4c9e-9d1f-2d3f4a5b6c7d", "0B5E0D0C-5A6E-4C9E-9D1F-2D3F4A5B6C7D")
	f.Fuzz(func(t *testing.T, a, b string) {
		p, err := domain.NewPair(a, b)
		q, err2 := domain.NewPair(b, a)
		if (err == nil) != (err2 == nil) || p != q {
			t.Fatalf("NewPair is not symmetric: %+v %v / %+v %v", p, err, q, err2)
		}
		if err != nil {
			if a != "" && b != "" && a != b {
				t.Fatalf("refused %q, %q: %v", a, b, err)
			}
			return
		}
		if a == "" || b == "" || a == b || !(p.Low < p.High) {
			t.Fatalf("accepted %q, %q as %+v", a, b, p)
		}
		if p.Other(a) != b || p.Other(b) != a {
			t.Fatalf("Other of %+v", p)
		}
	})
}
