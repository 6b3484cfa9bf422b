// Package output prints the answers of the API for people (aligned tables, local times) or machines (one JSON
// document per command, one JSON object per line for streams).
package output

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"simplemessenger/clients/msgr/internal/api"
)

// TimeLayout is how times are shown to people.
const TimeLayout = "2006-01-02 15:04:05"

// Printer writes to W; JSON selects machine output.
type Printer struct {
	W    io.Writer
	JSON bool
	Loc  *time.Location // time zone of human output; time.Local when nil
}

// Namer tells the nickname of a user id (for messages, which carry ids only).
type Namer interface {
	Name(userID string) string
}

// NamerFunc adapts a function to Namer.
type NamerFunc func(string) string

// Name calls f.
func (f NamerFunc) Name(id string) string { return f(id) }

// Doc writes v as one JSON document on one line.
func (p *Printer) Doc(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(p.W, "%s\n", b)
	return err
}

// Line writes one line of human output.
func (p *Printer) Line(format string, args ...any) {
	fmt.Fprintf(p.W, format+"\n", args...)
}

func (p *Printer) time(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	loc := p.Loc
	if loc == nil {
		loc = time.Local
	}
	return t.In(loc).Format(TimeLayout)
}

func (p *Printer) table() *tabwriter.Writer {
	return tabwriter.NewWriter(p.W, 0, 0, 2, ' ', 0)
}

// clean keeps a single line for table cells: control characters (a message may hold line breaks and tabs)
// would break the alignment or the terminal.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\r' || r == '\t':
			return ' '
		case r < 0x20 || (r >= 0x7f && r < 0xa0):
			return -1
		}
		return r
	}, s)
}

// Shorten cuts s to n code points with an ellipsis.
func Shorten(s string, n int) string {
	s = clean(s)
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// User shows one profile as aligned fields.
func (p *Printer) User(u api.User) error {
	if p.JSON {
		return p.Doc(u)
	}
	w := p.table()
	fmt.Fprintf(w, "nickname\t%s\n", clean(u.Nickname))
	fmt.Fprintf(w, "display name\t%s\n", clean(u.DisplayName))
	fmt.Fprintf(w, "bio\t%s\n", clean(u.Bio))
	fmt.Fprintf(w, "avatar\t%s\n", yesNo(u.HasAvatar))
	fmt.Fprintf(w, "id\t%s\n", u.ID)
	fmt.Fprintf(w, "created\t%s\n", p.time(u.CreatedAt))
	return w.Flush()
}

// Users shows search results as a table.
func (p *Printer) Users(users []api.User) error {
	if p.JSON {
		return p.Doc(map[string]any{"items": nonNil(users)})
	}
	if len(users) == 0 {
		p.Line("no users found")
		return nil
	}
	w := p.table()
	fmt.Fprintln(w, "NICKNAME\tDISPLAY NAME\tAVATAR\tID")
	for _, u := range users {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", clean(u.Nickname), Shorten(u.DisplayName, 40), yesNo(u.HasAvatar), u.ID)
	}
	return w.Flush()
}

// FriendStatus is a friend list status in words.
func FriendStatus(s string) string {
	switch s {
	case api.StatusAccepted:
		return "friend"
	case api.StatusIncoming:
		return "asks you"
	case api.StatusOutgoing:
		return "you asked"
	}
	return s
}

// Friends shows relationships as a table.
func (p *Printer) Friends(l api.FriendList) error {
	if p.JSON {
		return p.Doc(api.FriendList{Items: nonNil(l.Items)})
	}
	if len(l.Items) == 0 {
		p.Line("no friends or requests")
		return nil
	}
	w := p.table()
	fmt.Fprintln(w, "NICKNAME\tDISPLAY NAME\tSTATUS\tSINCE\tPRESENCE")
	for _, f := range l.Items {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", clean(f.User.Nickname), Shorten(f.User.DisplayName, 40), FriendStatus(f.Status), p.time(f.Since), p.presence(f))
	}
	return w.Flush()
}

// presence is a friend's "online", "last seen <time>" or "offline"; "" for a request (nobody else's presence is
// shown).
func (p *Printer) presence(f api.Friend) string {
	switch {
	case f.Online == nil:
		return ""
	case *f.Online:
		return "online"
	case f.LastSeenAt != nil:
		return "last seen " + p.time(*f.LastSeenAt)
	default:
		return "offline"
	}
}

// Blocks shows the users the caller blocks.
func (p *Printer) Blocks(l api.BlockList) error {
	if p.JSON {
		l.Items = nonNil(l.Items)
		return p.Doc(l)
	}
	if len(l.Items) == 0 {
		p.Line("nobody blocked")
		return nil
	}
	w := p.table()
	fmt.Fprintln(w, "NICKNAME\tDISPLAY NAME\tBLOCKED SINCE")
	for _, b := range l.Items {
		fmt.Fprintf(w, "%s\t%s\t%s\n", clean(b.User.Nickname), Shorten(b.User.DisplayName, 40), p.time(b.Since))
	}
	return w.Flush()
}

// Messages shows messages oldest first, one per line (continuation lines of a multi-line text indented).
func (p *Printer) Messages(msgs []api.Message, names Namer) error {
	w := p.table()
	for _, m := range msgs {
		p.messageRow(w, m, names)
	}
	return w.Flush()
}

func (p *Printer) messageRow(w io.Writer, m api.Message, names Namer) {
	text := m.Text
	switch {
	case m.DeletedAt != nil:
		text = "(deleted)"
	case m.EditedAt != nil:
		text += " (edited)"
	}
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	fmt.Fprintf(w, "#%s\t%s\t%s:\t%s\n", m.ID, p.time(m.CreatedAt), clean(names.Name(m.SenderID)), clean(lines[0]))
	for _, l := range lines[1:] {
		fmt.Fprintf(w, "\t\t\t%s\n", clean(l))
	}
}

// History shows a page of a chat: in time order for people (the API gives newest first), as the API's
// document for machines.
func (p *Printer) History(page api.MessagePage, names Namer) error {
	if p.JSON {
		page.Items = nonNil(page.Items)
		return p.Doc(page)
	}
	if len(page.Items) == 0 {
		p.Line("no messages")
		return nil
	}
	msgs := append([]api.Message(nil), page.Items...)
	if page.NextAfter == nil { // a backward page: newest first
		for i, j := 0, len(msgs)-1; i < j; i, j = i+1, j-1 {
			msgs[i], msgs[j] = msgs[j], msgs[i]
		}
	}
	return p.Messages(msgs, names)
}

// Chats shows the chat list, most recent first.
func (p *Printer) Chats(l api.ChatList, meID string) error {
	if p.JSON {
		l.Items = nonNil(l.Items)
		return p.Doc(l)
	}
	if len(l.Items) == 0 {
		p.Line("no chats")
		return nil
	}
	w := p.table()
	fmt.Fprintln(w, "PEER\tUNREAD\tAT\tLAST MESSAGE")
	for _, c := range l.Items {
		who := ""
		if c.LastMessage.SenderID == meID {
			who = "you: "
		}
		fmt.Fprintf(w, "%s\t%d\t%s\t%s%s\n", clean(c.Peer.Nickname), c.UnreadCount, p.time(c.LastMessage.CreatedAt), who, Shorten(c.LastMessage.Text, 50))
	}
	return w.Flush()
}

// Frame shows one push: the frame as it came (one JSON object per line) for machines; a line (and for the
// entry frames, their items, indented) for people.
func (p *Printer) Frame(f api.Frame, names Namer) error {
	if p.JSON {
		return p.Doc(f)
	}
	// Fixed widths rather than a table: frames come one by one and each line is printed as it arrives.
	head := func(format string, args ...any) {
		fmt.Fprintf(p.W, "%s  %-15s  %s\n", p.time(time.Now()), clean(f.Type), fmt.Sprintf(format, args...))
	}
	item := func(format string, args ...any) {
		fmt.Fprintf(p.W, "%s%s\n", strings.Repeat(" ", len(TimeLayout)+2+15+2), fmt.Sprintf(format, args...))
	}
	switch f.Type {
	case api.FrameMessageNew:
		var m api.Message
		if json.Unmarshal(f.Data, &m) == nil {
			head("#%s %s → %s: %s", m.ID, clean(names.Name(m.SenderID)), clean(names.Name(m.RecipientID)), clean(m.Text))
			return nil
		}
	case api.FrameMessageEdited, api.FrameMessageDeleted:
		var m api.Message
		if json.Unmarshal(f.Data, &m) == nil {
			if f.Type == api.FrameMessageDeleted {
				head("#%s %s deleted their message", m.ID, clean(names.Name(m.SenderID)))
			} else {
				head("#%s %s edited: %s", m.ID, clean(names.Name(m.SenderID)), clean(m.Text))
			}
			return nil
		}
	case api.FrameTyping:
		var d api.TypingData
		if json.Unmarshal(f.Data, &d) == nil {
			head("%s is typing", clean(names.Name(d.PeerID)))
			return nil
		}
	case api.FramePresence:
		var d api.PresenceData
		if json.Unmarshal(f.Data, &d) == nil {
			if d.Online {
				head("%s is online", clean(names.Name(d.UserID)))
			} else {
				head("%s went offline", clean(names.Name(d.UserID)))
			}
			return nil
		}
	case api.FrameFriendsPresence:
		var d api.FriendsPresenceData
		if json.Unmarshal(f.Data, &d) == nil {
			var online []string
			for _, p := range d.Items {
				if p.Online {
					online = append(online, clean(names.Name(p.UserID)))
				}
			}
			head("%d of %d friend(s) online", len(online), len(d.Items))
			for _, n := range online {
				item("%s is online", n)
			}
			return nil
		}
	case api.FrameMessageRead:
		var r api.ReadData
		if json.Unmarshal(f.Data, &r) == nil {
			head("%s read your messages up to #%s", clean(names.Name(r.PeerID)), r.UpToID)
			return nil
		}
	case api.FrameFriendRequest, api.FrameFriendAccepted, api.FrameFriendRemoved, api.FrameProfileUpdated:
		var d api.UserData
		if json.Unmarshal(f.Data, &d) == nil {
			what := map[string]string{
				api.FrameFriendRequest:  "asks to be your friend",
				api.FrameFriendAccepted: "accepted your friend request",
				api.FrameFriendRemoved:  "removed you from their friends",
				api.FrameProfileUpdated: "changed their profile",
			}[f.Type]
			head("%s (%s) %s", clean(d.User.Nickname), clean(d.User.DisplayName), what)
			return nil
		}
	case api.FrameMessagesUnread:
		var d api.UnreadData
		if json.Unmarshal(f.Data, &d) == nil {
			head("%d unread", d.Total)
			for _, m := range d.Items {
				item("#%s %s: %s", m.ID, clean(names.Name(m.SenderID)), clean(m.Text))
			}
			if d.Total > len(d.Items) {
				item("… and %d more", d.Total-len(d.Items))
			}
			return nil
		}
	case api.FrameFriendsPending:
		var d api.FriendList
		if json.Unmarshal(f.Data, &d) == nil {
			head("%d pending friend request(s)", len(d.Items))
			for _, r := range d.Items {
				item("%s (%s) asks to be your friend", clean(r.User.Nickname), clean(r.User.DisplayName))
			}
			return nil
		}
	}
	// Frames of unknown types (or shapes) are shown as they came: new types may be added within v1.
	head("%s", clean(string(f.Data)))
	return nil
}

// Error is the machine form of a failed command, written to standard error.
type Error struct {
	Code     string `json:"code"`
	Message  string `json:"message"`
	Status   int    `json:"status,omitempty"`
	ExitCode int    `json:"exit_code"`
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
