package domain_test

import (
	"math"
	"testing"

	"simplemessenger/services/messages/internal/domain"
)

func TestPageQueries(t *testing.T) {
	cases := []struct {
		name  string
		q     domain.PageQuery
		want  domain.Page
		error string
	}{
		{"nothing: the newest 50", domain.PageQuery{}, domain.Page{Direction: domain.Older, Cursor: math.MaxInt64, Limit: 50}, ""},
		{"before", domain.PageQuery{Before: ptr("120"), Limit: ptr("10")}, domain.Page{Direction: domain.Older, Cursor: 120, Limit: 10}, ""},
		{"after", domain.PageQuery{After: ptr("7")}, domain.Page{Direction: domain.Newer, Cursor: 7, Limit: 50}, ""},
		{"after 0: from the beginning", domain.PageQuery{After: ptr("0"), Limit: ptr("100")}, domain.Page{Direction: domain.Newer, Cursor: 0, Limit: 100}, ""},
		{"limit 1", domain.PageQuery{Limit: ptr("1")}, domain.Page{Direction: domain.Older, Cursor: math.MaxInt64, Limit: 1}, ""},
		{"limit 101 is refused, not clamped", domain.PageQuery{Limit: ptr("101")}, domain.Page{}, "invalid_limit"},
		{"limit 0", domain.PageQuery{Limit: ptr("0")}, domain.Page{}, "invalid_limit"},
		{"negative limit", domain.PageQuery{Limit: ptr("-5")}, domain.Page{}, "invalid_limit"},
		{"signed limit", domain.PageQuery{Limit: ptr("+5")}, domain.Page{}, "invalid_limit"},
		{"non-numeric limit", domain.PageQuery{Limit: ptr("ten")}, domain.Page{}, "invalid_limit"},
		{"empty limit", domain.PageQuery{Limit: ptr("")}, domain.Page{}, "invalid_limit"},
		{"both cursors", domain.PageQuery{Before: ptr("5"), After: ptr("1")}, domain.Page{}, "invalid_cursor"},
		{"non-numeric cursor", domain.PageQuery{Before: ptr("abc")}, domain.Page{}, "invalid_cursor"},
		{"negative cursor", domain.PageQuery{After: ptr("-1")}, domain.Page{}, "invalid_cursor"},
		{"empty cursor", domain.PageQuery{Before: ptr("")}, domain.Page{}, "invalid_cursor"},
		{"cursor beyond 63 bits", domain.PageQuery{Before: ptr("9223372036854775808")}, domain.Page{}, "invalid_cursor"},
		{"fractional cursor", domain.PageQuery{After: ptr("1.5")}, domain.Page{}, "invalid_cursor"},
	}
	for _, c := range cases {
		got, err := domain.NewPage(c.q)
		if code(err) != c.error || got != c.want {
			t.Errorf("%s: got %+v %v, want %+v %q", c.name, got, err, c.want, c.error)
		}
	}
}

func msgs(ids ...int64) []domain.Message {
	var out []domain.Message
	for _, id := range ids {
		out = append(out, domain.Message{ID: id})
	}
	return out
}

func ids(ms []domain.Message) []int64 {
	var out []int64
	for _, m := range ms {
		out = append(out, m.ID)
	}
	return out
}

func TestNextCursors(t *testing.T) {
	older := domain.Page{Direction: domain.Older, Cursor: math.MaxInt64, Limit: 3}
	if older.Fetch() != 4 {
		t.Fatalf("a page fetches one more than it shows, to know whether there is more: %d", older.Fetch())
	}
	// Older messages exist: the cursor is the oldest one shown.
	page, next := older.Cut(msgs(9, 8, 7, 6))
	if len(page) != 3 || ids(page)[2] != 7 || next == nil || *next != 7 {
		t.Errorf("full page with more: %v %v", ids(page), next)
	}
	// Exactly a page and nothing older: no cursor, no empty extra request.
	if page, next := older.Cut(msgs(9, 8, 7)); len(page) != 3 || next != nil {
		t.Errorf("last full page: %v %v", ids(page), next)
	}
	if page, next := older.Cut(nil); len(page) != 0 || next != nil {
		t.Errorf("empty chat: %v %v", ids(page), next)
	}

	newer := domain.Page{Direction: domain.Newer, Cursor: 5, Limit: 3}
	if page, next := newer.Cut(msgs(6, 7, 8, 9)); len(page) != 3 || next == nil || *next != 8 {
		t.Errorf("catching up: %v %v", ids(page), next)
	}
	if page, next := newer.Cut(msgs(6)); len(page) != 1 || next == nil || *next != 6 {
		t.Errorf("caught up: %v %v", ids(page), next)
	}
	// Nothing newer: the cursor given comes back, so polling can go on with it.
	if page, next := newer.Cut(nil); len(page) != 0 || next == nil || *next != 5 {
		t.Errorf("nothing newer: %v %v", ids(page), next)
	}

	chats := []domain.ChatSummary{{LastMessage: domain.Message{ID: 30}}, {LastMessage: domain.Message{ID: 20}}}
	if page, next := (domain.Page{Direction: domain.Older, Limit: 1}).CutChats(chats); len(page) != 1 || next == nil || *next != 30 {
		t.Errorf("chat list cursor is the last message id: %v", next)
	}
}

func TestReadMarkers(t *testing.T) {
	for _, s := range []string{"0", "-1", "", "x", "1e3", " 5"} {
		if _, err := domain.ParseReadMarker(s); code(err) != "invalid_up_to_id" {
			t.Errorf("%q: %v", s, err)
		}
	}
	if n, err := domain.ParseReadMarker("42"); n != 42 || err != nil {
		t.Errorf("42: %d %v", n, err)
	}
	if m, moved := domain.AdvanceReadMarker(10, 15); m != 15 || !moved {
		t.Errorf("forward: %d %v", m, moved)
	}
	for _, candidate := range []int64{10, 3, 0} {
		if m, moved := domain.AdvanceReadMarker(10, candidate); m != 10 || moved {
			t.Errorf("to %d: markers never move back (%d %v)", candidate, m, moved)
		}
	}
}

func TestTheChatListIsWholeUnlessPaged(t *testing.T) {
	all, err := domain.NewChatListPage(domain.PageQuery{After: ptr("3")})
	if err != nil || all.Cursor != math.MaxInt64 || all.Limit < 1<<30 {
		t.Errorf("no paging asked: %+v %v", all, err)
	}
	if p, err := domain.NewChatListPage(domain.PageQuery{Before: ptr("9")}); err != nil || p.Cursor != 9 || p.Limit != 50 || p.Direction != domain.Older {
		t.Errorf("before only: %+v %v", p, err)
	}
	if p, err := domain.NewChatListPage(domain.PageQuery{Limit: ptr("2"), After: ptr("1")}); err != nil || p.Limit != 2 || p.Direction != domain.Older {
		t.Errorf("after is no chat list cursor: %+v %v", p, err)
	}
	if _, err := domain.NewChatListPage(domain.PageQuery{Limit: ptr("101")}); code(err) != "invalid_limit" {
		t.Errorf("limit 101: %v", err)
	}
}
