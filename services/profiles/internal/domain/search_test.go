package domain_test

import (
	"strings"
	"testing"

	"simplemessenger/services/profiles/internal/domain"
)

func TestLikePrefixEscapesWildcards(t *testing.T) {
	cases := map[string]string{
		"bob":   "bob%",
		"a%b":   "a!%b%",
		"a_b":   "a!_b%",
		`a\b`:   `a\b%`, // '\' is plain with ESCAPE '!'
		"a!b":   "a!!b%",
		"%_!":   "!%!_!!%",
		"x.y-z": "x.y-z%",
	}
	for in, want := range cases {
		if got := domain.LikePrefix(in); got != want {
			t.Errorf("%q: want %q, got %q", in, want, got)
		}
	}
}

func TestSearchValidation(t *testing.T) {
	s, err := domain.NewSearch("BoB", 0, false)
	if err != nil || s.Prefix != "bob" || s.Limit != domain.SearchDefaultLimit {
		t.Errorf("got %+v, %v", s, err)
	}
	if s, err := domain.NewSearch("b", 50, true); err != nil || s.Limit != 50 {
		t.Errorf("got %+v, %v", s, err)
	}
	if s, err := domain.NewSearch(strings.Repeat("я", 32), 1, true); err != nil || s.Limit != 1 {
		t.Errorf("32 characters are fine: %+v, %v", s, err)
	}
	bad := []struct {
		q     string
		limit int
		given bool
		code  string
	}{
		{"", 0, false, "invalid_query"},
		{strings.Repeat("a", 33), 0, false, "invalid_query"},
		{"bad\xff", 0, false, "invalid_query"},
		{"bob", 51, true, "invalid_limit"},
		{"bob", 0, true, "invalid_limit"},
		{"bob", -1, true, "invalid_limit"},
	}
	for _, b := range bad {
		if _, err := domain.NewSearch(b.q, b.limit, b.given); code(err) != b.code {
			t.Errorf("%q limit %d: want %s, got %v", b.q, b.limit, b.code, err)
		}
	}
}
