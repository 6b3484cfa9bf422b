package domain

import (
	"math"
	"strconv"

	"simplemessenger/platform/rules"
)

// Paging limits of history and the chat list.
const (
	PageDefaultLimit = 50
	PageMaxLimit     = 100
	// UnreadOnEntry is how many unread messages the push on entering the messenger carries at most.
	UnreadOnEntry = 100
)

// Direction is which way a page goes from its cursor.
type Direction int

const (
	// Older pages go back in time from the cursor (or from the newest message), newest first.
	Older Direction = iota
	// Newer pages go forward from the cursor, oldest first: catching up after being away.
	Newer
)

// Page is one page request: at most Limit items strictly on Direction's side of Cursor, an id. An Older page
// without a cursor starts above every id.
type Page struct {
	Direction Direction
	Cursor    int64
	Limit     int
}

// PageQuery is a page as the client wrote it; a nil field was not given.
type PageQuery struct {
	Before, After, Limit *string
}

// NewPage checks q: limit 1 to 100 (default 50; a larger one is refused, not clamped), at most one of
// before and after, each a message id (0 is allowed: after=0 reads a chat from its beginning).
func NewPage(q PageQuery) (Page, error) {
	p := Page{Direction: Older, Cursor: math.MaxInt64, Limit: PageDefaultLimit}
	if q.Limit != nil {
		n, err := strconv.Atoi(*q.Limit)
		if err != nil || n < 1 || n > PageMaxLimit || !digitsOnly(*q.Limit) {
			return Page{}, rules.New("invalid_limit", "limit must be a number from 1 to 100")
		}
		p.Limit = n
	}
	switch {
	case q.Before != nil && q.After != nil:
		return Page{}, rules.New("invalid_cursor", "give before or after, not both")
	case q.Before != nil:
		c, ok := ParseMessageID(*q.Before)
		if !ok {
			return Page{}, rules.New("invalid_cursor", "before must be a message id")
		}
		p.Cursor = c
	case q.After != nil:
		c, ok := ParseMessageID(*q.After)
		if !ok {
			return Page{}, rules.New("invalid_cursor", "after must be a message id")
		}
		p.Direction, p.Cursor = Newer, c
	}
	return p, nil
}

// NewChatListPage checks a chat list query. Without limit and before it is the whole list (the v1 contract
// has no paging there); with either, a page like history's going back from before, a chat's last message id
// (after is not a chat list cursor and is ignored).
func NewChatListPage(q PageQuery) (Page, error) {
	if q.Limit == nil && q.Before == nil {
		return Page{Direction: Older, Cursor: math.MaxInt64, Limit: math.MaxInt32}, nil
	}
	return NewPage(PageQuery{Before: q.Before, Limit: q.Limit})
}

// Fetch is how many items to read for the page: one more than it shows, to know whether there are more.
func (p Page) Fetch() int { return p.Limit + 1 }

// Cut trims the messages that were fetched (in the page's order, at most Fetch) to the page and returns the
// cursor of the next page in the same direction. Going back, that is the oldest message shown when older ones
// exist, and nil at the beginning of the chat. Going forward it is always set, so a client can keep polling
// with it: the newest message shown, or the cursor it gave when nothing is newer yet.
func (p Page) Cut(msgs []Message) ([]Message, *int64) {
	return cut(p, msgs, func(m Message) int64 { return m.ID })
}

// CutChats is Cut for the chat list, whose cursor is a chat's last message id.
func (p Page) CutChats(chats []ChatSummary) ([]ChatSummary, *int64) {
	return cut(p, chats, func(c ChatSummary) int64 { return c.LastMessage.ID })
}

func cut[T any](p Page, items []T, id func(T) int64) ([]T, *int64) {
	more := len(items) > p.Limit
	if more {
		items = items[:p.Limit]
	}
	var next int64
	switch {
	case p.Direction == Newer && len(items) == 0:
		next = p.Cursor
	case p.Direction == Newer || more:
		next = id(items[len(items)-1])
	default:
		return items, nil
	}
	return items, &next
}

// ParseMessageID reads a message id as clients write it: decimal digits only (no sign, no spaces), within
// the 63 bits ids have.
func ParseMessageID(s string) (int64, bool) {
	if !digitsOnly(s) || len(s) > 19 {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

func digitsOnly(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// ParseReadMarker reads the up_to_id of a read request: a positive message id.
func ParseReadMarker(s string) (int64, error) {
	n, ok := ParseMessageID(s)
	if !ok || n < 1 {
		return 0, rules.New("invalid_up_to_id", "up_to_id must be a message id")
	}
	return n, nil
}

// AdvanceReadMarker is the rule of read markers: they only move forward. candidate is the newest message
// addressed to the reader at or below what the reader asked for (0 when there is none); the marker moves to
// it when that is further than current, and otherwise stays, which is not an error (a slower device
// reporting an older position must not un-read anything).
func AdvanceReadMarker(current, candidate int64) (int64, bool) {
	if candidate > current {
		return candidate, true
	}
	return current, false
}
