package domain

import (
	"strings"
	"unicode/utf8"

	"simplemessenger/platform/rules"
)

// Search limits.
const (
	SearchDefaultLimit = 20
	SearchMaxLimit     = 50
)

// Search is a validated nickname prefix search.
type Search struct {
	// Prefix is the normalised (lower-case) query, matched literally.
	Prefix string
	Limit  int
}

// NewSearch validates the query and the limit; limit 0 means "not given" (the default).
func NewSearch(query string, limit int, limitGiven bool) (Search, error) {
	if query == "" || !utf8.ValidString(query) || utf8.RuneCountInString(query) > NicknameMaxLen {
		return Search{}, rules.New("invalid_query", "nickname must be 1 to 32 characters")
	}
	if !limitGiven {
		limit = SearchDefaultLimit
	}
	if limit < 1 || limit > SearchMaxLimit {
		return Search{}, rules.New("invalid_limit", "limit must be a number from 1 to 50")
	}
	return Search{Prefix: NormalizeNickname(query), Limit: limit}, nil
}

// LikeEscape is the escape character of LikePrefix patterns. '!' rather than the default '\' so the SQL does not
// depend on the server's NO_BACKSLASH_ESCAPES mode.
const LikeEscape = "!"

var likeEscaper = strings.NewReplacer("!", "!!", "%", "!%", "_", "!_")

// LikePrefix is the LIKE pattern (with ESCAPE '!') matching strings that start with prefix literally: '%', '_'
// and the escape character itself lose their special meaning; '\' is plain with this escape character.
func LikePrefix(prefix string) string { return likeEscaper.Replace(prefix) + "%" }
