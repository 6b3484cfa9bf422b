package output

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"simplemessenger/clients/msgr/internal/api"
)

var at = time.Date(2026, 11, 27, 14, 33, 7, 0, time.UTC)

func human() (*Printer, *bytes.Buffer) {
	var b bytes.Buffer
	return &Printer{W: &b, Loc: time.UTC}, &b
}

var names = NamerFunc(func(id string) string {
	return map[string]string{"u-ada": "ada", "u-bob": "bob"}[id]
})

func msg(id, from, to, text string) api.Message {
	return api.Message{ID: id, SenderID: from, RecipientID: to, Text: text, CreatedAt: at}
}

func TestUserIsAlignedFields(t *testing.T) {
	p, b := human()
	_ = p.User(api.User{ID: "u-ada", Nickname: "ada", DisplayName: "Ada Lovelace", Bio: "engines", HasAvatar: true, CreatedAt: at})
	want := `nickname      ada
display name  Ada Lovelace
bio           engines
avatar        yes
id            u-ada
created       2026-11-27 14:33:07
`
	if b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", b, want)
	}
}

func TestTablesAlignColumns(t *testing.T) {
	p, b := human()
	online := true
	_ = p.Friends(api.FriendList{Items: []api.Friend{
		{User: api.UserSummary{ID: "1", Nickname: "ada", DisplayName: "Ada"}, Status: "accepted", Since: at, Online: &online},
		{User: api.UserSummary{ID: "2", Nickname: "bartholomew", DisplayName: "Bart"}, Status: "incoming", Since: at},
	}})
	lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "NICKNAME") {
		t.Fatalf("friends table:\n%s", b)
	}
	col := strings.Index(lines[0], "STATUS")
	if strings.Index(lines[1], "friend") != col || strings.Index(lines[2], "asks you") != col {
		t.Fatalf("STATUS column not aligned:\n%s", b)
	}
	// Presence is shown for friends only.
	if col := strings.Index(lines[0], "PRESENCE"); strings.Index(lines[1], "online") != col || strings.Contains(lines[2], "online") {
		t.Fatalf("PRESENCE column:\n%s", b)
	}
}

func TestEmptyListsSaySo(t *testing.T) {
	p, b := human()
	_ = p.Users(nil)
	_ = p.Friends(api.FriendList{})
	_ = p.Chats(api.ChatList{}, "me")
	_ = p.History(api.MessagePage{}, names)
	if got := b.String(); got != "no users found\nno friends or requests\nno chats\nno messages\n" {
		t.Fatalf("got %q", got)
	}
}

func TestHistoryIsShownOldestFirst(t *testing.T) {
	p, b := human()
	next := "1"
	// The API pages backwards newest first.
	_ = p.History(api.MessagePage{Items: []api.Message{msg("3", "u-ada", "u-bob", "third"), msg("2", "u-bob", "u-ada", "second\nwith two lines"), msg("1", "u-ada", "u-bob", "first")}, NextBefore: &next}, names)
	want := `#1  2026-11-27 14:33:07  ada:  first
#2  2026-11-27 14:33:07  bob:  second
                               with two lines
#3  2026-11-27 14:33:07  ada:  third
`
	if b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", b, want)
	}
	// A forward page (after=) is already oldest first.
	p, b = human()
	after := "2"
	_ = p.History(api.MessagePage{Items: []api.Message{msg("1", "u-ada", "u-bob", "a"), msg("2", "u-ada", "u-bob", "b")}, NextAfter: &after}, names)
	if !strings.HasPrefix(b.String(), "#1 ") {
		t.Fatalf("forward page reordered:\n%s", b)
	}
}

func TestControlCharactersCannotReachTheTerminal(t *testing.T) {
	p, b := human()
	_ = p.Chats(api.ChatList{Items: []api.Chat{{Peer: api.User{Nickname: "bob"}, LastMessage: msg("1", "me", "u-bob", "hi\x1b[31m red\tand\ttabs"), UnreadCount: 2}}}, "me")
	if strings.Contains(b.String(), "\x1b") || strings.Contains(b.String(), "\t") {
		t.Fatalf("escape or tab in output: %q", b)
	}
	if !strings.Contains(b.String(), "you: hi[31m red and tabs") {
		t.Fatalf("chats: %q", b)
	}
}

func TestShortenCountsCodePoints(t *testing.T) {
	if got := Shorten("héllo wörld", 6); got != "héllo…" {
		t.Fatalf("Shorten = %q", got)
	}
	if got := Shorten("short", 6); got != "short" {
		t.Fatalf("Shorten = %q", got)
	}
}

func TestJSONIsOneDocumentPerLine(t *testing.T) {
	var b bytes.Buffer
	p := &Printer{W: &b, JSON: true}
	_ = p.Users(nil)
	_ = p.Frame(api.Frame{Type: "message.new", Data: json.RawMessage(`{ "id": "7",
		"text": "hi" }`)}, names)
	lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	if len(lines) != 2 || lines[0] != `{"items":[]}` || lines[1] != `{"type":"message.new","data":{"id":"7","text":"hi"}}` {
		t.Fatalf("got %q", b.String())
	}
}

func TestFramesForPeople(t *testing.T) {
	unread, _ := json.Marshal(api.UnreadData{Items: []api.Message{msg("5", "u-bob", "u-ada", "are you there?")}, Total: 3})
	pending, _ := json.Marshal(api.FriendList{Items: []api.Friend{{User: api.UserSummary{Nickname: "carol", DisplayName: "Carol"}, Status: "incoming"}}})
	newMsg, _ := json.Marshal(msg("6", "u-bob", "u-ada", "hello"))
	for _, c := range []struct {
		f    api.Frame
		want []string
	}{
		{api.Frame{Type: api.FrameMessagesUnread, Data: unread}, []string{"messages.unread", "3 unread", "#5 bob: are you there?", "… and 2 more"}},
		{api.Frame{Type: api.FrameFriendsPending, Data: pending}, []string{"friends.pending", "1 pending", "carol (Carol) asks to be your friend"}},
		{api.Frame{Type: api.FrameMessageNew, Data: newMsg}, []string{"message.new", "#6 bob → ada: hello"}},
		{api.Frame{Type: api.FrameMessageRead, Data: json.RawMessage(`{"peer_id":"u-bob","up_to_id":"6"}`)}, []string{"message.read", "bob read your messages up to #6"}},
		{api.Frame{Type: api.FrameFriendAccepted, Data: json.RawMessage(`{"user":{"nickname":"carol","display_name":"Carol"}}`)}, []string{"friend.accepted", "carol (Carol) accepted"}},
		{api.Frame{Type: api.FrameTyping, Data: json.RawMessage(`{"peer_id":"carol-id","expires_in_ms":6000}`)}, []string{"typing", "is typing"}},
		{api.Frame{Type: api.FrameProfileUpdated, Data: json.RawMessage(`{"user":{"nickname":"carol","display_name":"Carol C."}}`)}, []string{"profile.updated", "carol (Carol C.) changed their profile"}},
		{api.Frame{Type: "typing.started", Data: json.RawMessage(`{"peer_id":"u-bob"}`)}, []string{"typing.started", `{"peer_id":"u-bob"}`}},
	} {
		p, b := human()
		if err := p.Frame(c.f, names); err != nil {
			t.Fatal(err)
		}
		for _, w := range c.want {
			if !strings.Contains(b.String(), w) {
				t.Errorf("%s: %q lacks %q", c.f.Type, b, w)
			}
		}
	}
}
