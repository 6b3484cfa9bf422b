package domain

import (
	"fmt"
	"strings"

	"simplemessenger/platform/rules"
)

// BatchMaxIDs bounds one batch lookup of users (GET /internal/v1/users?ids=): a friends list is fetched in
// pages of this size, and one request never turns into an unbounded IN list.
const BatchMaxIDs = 100

// ParseIDBatch splits a comma-separated list of user ids. Empty elements are skipped and repeats are kept once,
// in first-seen order; no ids at all, or more than BatchMaxIDs, is invalid_query. Ids are not checked here: an
// id that cannot exist is simply not found.
func ParseIDBatch(raw string) ([]string, error) {
	parts := strings.Split(raw, ",")
	seen := make(map[string]bool, len(parts))
	ids := make([]string, 0, len(parts))
	n := 0
	for _, p := range parts {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if n++; n > BatchMaxIDs {
			return nil, rules.New("invalid_query", fmt.Sprintf("ids holds at most %d ids", BatchMaxIDs))
		}
		if !seen[p] {
			seen[p] = true
			ids = append(ids, p)
		}
	}
	if len(ids) == 0 {
		return nil, rules.New("invalid_query", "ids must list at least one user id, comma-separated")
	}
	return ids, nil
}
