package domain_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"simplemessenger/platform/rules"

	"simplemessenger/services/profiles/internal/domain"
)

func code(err error) string {
	var ve *rules.Violation
	if errors.As(err, &ve) {
		return ve.Code
	}
	if err != nil {
		return "unexpected: " + err.Error()
	}
	return ""
}

func TestNicknameRules(t *testing.T) {
	valid := []string{"bob", "Alice_01", "a.b-c", strings.Repeat("x", 32), "___", "..."}
	for _, n := range valid {
		if err := domain.ValidateNickname(n); err != nil {
			t.Errorf("%q: want valid, got %v", n, err)
		}
	}
	invalid := []string{"", "ab", strings.Repeat("x", 33), "with space", "émile", "a@b", "semi;colon", "tab\tx", "per%cent", "back\\slash", "nul\x00l"}
	for _, n := range invalid {
		if c := code(domain.ValidateNickname(n)); c != "invalid_nickname" {
			t.Errorf("%q: want invalid_nickname, got %q", n, c)
		}
	}
}

func TestNormalizeNicknameFoldsOnlyASCII(t *testing.T) {
	if got := domain.NormalizeNickname("AbC_.-9"); got != "abc_.-9" {
		t.Errorf("got %q", got)
	}
	// The Kelvin sign lower-cases to "k" in Unicode; a literal prefix search must not treat it as one.
	if got := domain.NormalizeNickname("\u212a"); got != "\u212a" {
		t.Errorf("Kelvin sign folded to %q", got)
	}
}

func TestPasswordRulesCountCodePoints(t *testing.T) {
	cases := map[string]string{
		"12345678":               "",
		"1234567":                "invalid_password",
		strings.Repeat("p", 128): "",
		strings.Repeat("p", 129): "invalid_password",
		strings.Repeat("ж", 8):   "", // 16 bytes, 8 characters
		strings.Repeat("ж", 128): "", // 256 bytes, still 128 characters
		strings.Repeat("ж", 129): "invalid_password",
		strings.Repeat("😀", 4):   "invalid_password", // 16 bytes but only 4 characters
		"pass\xffword":           "invalid_password", // not UTF-8
		"        ":               "",                 // spaces are characters too
		"":                       "invalid_password",
	}
	for pw, want := range cases {
		if got := code(domain.ValidatePassword(pw)); got != want {
			t.Errorf("%q: want %q, got %q", pw, want, got)
		}
	}
}

func TestDisplayNameRules(t *testing.T) {
	cases := map[string]string{
		"Bob":                   "",
		"Émile Zola 🎉":          "",
		strings.Repeat("я", 64): "",
		strings.Repeat("я", 65): "invalid_display_name",
		"":                      "invalid_display_name",
		"   ":                   "invalid_display_name",
		"new\nline":             "invalid_display_name",
		"bell\a":                "invalid_display_name",
		"del\x7f":               "invalid_display_name",
		"c1\u0085control":       "invalid_display_name",
		"bad\xc3":               "invalid_display_name",
	}
	for dn, want := range cases {
		if got := code(domain.ValidateDisplayName(dn)); got != want {
			t.Errorf("%q: want %q, got %q", dn, want, got)
		}
	}
}

func TestBioRules(t *testing.T) {
	cases := map[string]string{
		"":                       "",
		"line one\nline two\tok": "",
		strings.Repeat("ü", 512): "",
		strings.Repeat("ü", 513): "invalid_bio",
		"escape\x1b[31m":         "invalid_bio",
		"bad\xff":                "invalid_bio",
	}
	for bio, want := range cases {
		if got := code(domain.ValidateBio(bio)); got != want {
			t.Errorf("%q: want %q, got %q", bio, want, got)
		}
	}
}

func TestNewUserDefaultsDisplayNameToNickname(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 678912345, time.FixedZone("x", 3600))
	u, err := domain.NewUser("id", "Bob_1", nil, now)
	if err != nil {
		t.Fatal(err)
	}
	if u.DisplayName != "Bob_1" || u.Bio != "" || u.HasAvatar() {
		t.Errorf("got %+v", u)
	}
	if u.CreatedAt.Location() != time.UTC || u.CreatedAt.Nanosecond()%1000 != 0 {
		t.Errorf("created_at must be UTC at microsecond precision (what the database keeps): %v", u.CreatedAt)
	}
	dn := "Robert"
	if u, _ := domain.NewUser("id", "Bob_1", &dn, now); u.DisplayName != "Robert" {
		t.Errorf("display name %q", u.DisplayName)
	}
	bad := strings.Repeat("x", 65)
	if _, err := domain.NewUser("id", "Bob_1", &bad, now); code(err) != "invalid_display_name" {
		t.Errorf("got %v", err)
	}
	if _, err := domain.NewUser("id", "b", nil, now); code(err) != "invalid_nickname" {
		t.Errorf("got %v", err)
	}
}

func TestProfileUpdateChangesOnlyGivenFields(t *testing.T) {
	u := domain.User{DisplayName: "Old", Bio: "old bio"}
	bio := "new bio"
	if !(domain.ProfileUpdate{Bio: &bio}).Apply(&u) {
		t.Fatal("a new bio is a change")
	}
	if u.DisplayName != "Old" || u.Bio != "new bio" {
		t.Errorf("got %+v", u)
	}
	if (domain.ProfileUpdate{Bio: &bio}).Apply(&u) {
		t.Error("setting the same bio again is no change")
	}
	if (domain.ProfileUpdate{}).Apply(&u) {
		t.Error("an empty update is no change")
	}
	long := strings.Repeat("b", 513)
	if code((domain.ProfileUpdate{Bio: &long}).Validate()) != "invalid_bio" {
		t.Error("want invalid_bio")
	}
	empty := ""
	if code((domain.ProfileUpdate{DisplayName: &empty}).Validate()) != "invalid_display_name" {
		t.Error("want invalid_display_name")
	}
	if err := (domain.ProfileUpdate{Bio: &empty}).Validate(); err != nil {
		t.Errorf("an empty bio clears it: %v", err)
	}
}
