// Package domain holds the profiles service's rules as plain Go: what a valid nickname, password, display name,
// bio, search and avatar are. Nothing here knows about HTTP or SQL.
package domain

import (
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"simplemessenger/platform/rules"
)

// Limits of the contract, in Unicode code points (nicknames are ASCII, so bytes and code points agree).
const (
	NicknameMinLen    = 3
	NicknameMaxLen    = 32
	PasswordMinLen    = 8
	PasswordMaxLen    = 128
	DisplayNameMaxLen = 64
	BioMaxLen         = 512
)

// User is a registered user's public side (the password hash never leaves the repository and the password use cases).
type User struct {
	ID          string
	Nickname    string
	DisplayName string
	Bio         string
	// AvatarETag is the strong ETag of the current avatar, "" when there is none.
	AvatarETag string
	CreatedAt  time.Time
}

// HasAvatar reports whether the user has uploaded an avatar.
func (u User) HasAvatar() bool { return u.AvatarETag != "" }

// NewUser makes a user about to be registered. displayName nil means "same as the nickname".
func NewUser(id, nickname string, displayName *string, now time.Time) (User, error) {
	if err := ValidateNickname(nickname); err != nil {
		return User{}, err
	}
	dn := nickname
	if displayName != nil {
		dn = *displayName
		if err := ValidateDisplayName(dn); err != nil {
			return User{}, err
		}
	}
	return User{ID: id, Nickname: nickname, DisplayName: dn, CreatedAt: now.UTC().Truncate(time.Microsecond)}, nil
}

// ProfileUpdate is a PATCH of the profile; nil fields stay as they are.
type ProfileUpdate struct {
	DisplayName *string
	Bio         *string
}

// Validate checks the fields that are set.
func (p ProfileUpdate) Validate() error {
	if p.DisplayName != nil {
		if err := ValidateDisplayName(*p.DisplayName); err != nil {
			return err
		}
	}
	if p.Bio != nil {
		if err := ValidateBio(*p.Bio); err != nil {
			return err
		}
	}
	return nil
}

// Apply changes u and reports whether anything actually changed (an unchanged profile announces nothing).
func (p ProfileUpdate) Apply(u *User) bool {
	changed := false
	if p.DisplayName != nil && *p.DisplayName != u.DisplayName {
		u.DisplayName = *p.DisplayName
		changed = true
	}
	if p.Bio != nil && *p.Bio != u.Bio {
		u.Bio = *p.Bio
		changed = true
	}
	return changed
}

// ValidateNickname: 3–32 characters of [A-Za-z0-9_.-].
func ValidateNickname(n string) error {
	if len(n) < NicknameMinLen || len(n) > NicknameMaxLen {
		return rules.New("invalid_nickname", "nickname must be 3 to 32 characters long")
	}
	for i := 0; i < len(n); i++ {
		if !nicknameByte(n[i]) {
			return rules.New("invalid_nickname", "nickname may contain only letters A-Z, a-z, digits, '_', '.' and '-'")
		}
	}
	return nil
}

func nicknameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-'
}

// NormalizeNickname is the case-insensitive form nicknames are unique and searched by. Only ASCII letters are
// folded: nicknames are ASCII, and full Unicode folding would let e.g. the Kelvin sign match "k".
func NormalizeNickname(n string) string {
	b := []byte(n)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
	return string(b)
}

// ValidatePassword: 8–128 code points of valid UTF-8; any characters are allowed.
func ValidatePassword(p string) error {
	if !utf8.ValidString(p) {
		return rules.New("invalid_password", "password must be valid UTF-8")
	}
	if n := utf8.RuneCountInString(p); n < PasswordMinLen || n > PasswordMaxLen {
		return rules.New("invalid_password", "password must be 8 to 128 characters long")
	}
	return nil
}

// ValidateDisplayName: 1–64 code points, not only blanks, no control characters.
func ValidateDisplayName(s string) error {
	if !utf8.ValidString(s) {
		return rules.New("invalid_display_name", "display name must be valid UTF-8")
	}
	if n := utf8.RuneCountInString(s); n < 1 || n > DisplayNameMaxLen {
		return rules.New("invalid_display_name", "display name must be 1 to 64 characters long")
	}
	if strings.TrimSpace(s) == "" {
		return rules.New("invalid_display_name", "display name must not be blank")
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return rules.New("invalid_display_name", "display name must not contain control characters")
		}
	}
	return nil
}

// ValidateBio: at most 512 code points; line breaks and tabs are fine, other control characters are not.
func ValidateBio(s string) error {
	if !utf8.ValidString(s) {
		return rules.New("invalid_bio", "bio must be valid UTF-8")
	}
	if utf8.RuneCountInString(s) > BioMaxLen {
		return rules.New("invalid_bio", "bio must be at most 512 characters long")
	}
	for _, r := range s {
		if unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t' {
			return rules.New("invalid_bio", "bio must not contain control characters other than line breaks and tabs")
		}
	}
	return nil
}
