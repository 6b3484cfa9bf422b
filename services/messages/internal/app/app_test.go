package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"simplemessenger/platform/broker"
	"simplemessenger/platform/events"

	"simplemessenger/services/messages/internal/app"
	"simplemessenger/services/messages/internal/domain"
)

// store is an in-memory Repository with just enough behaviour for the use cases' own logic.
type store struct {
	app.Repository
	byClientID map[string]domain.Message
	sent       []broker.Event
	chats      []domain.ChatSummary
	chatExists bool
	unread     []domain.Message
	// known is what the store knows of friendships (KnownFriends); remembered counts the yeses written.
	known      map[domain.ChatKey]bool
	remembered int
}

func (s *store) KnownFriends(_ context.Context, k domain.ChatKey) (bool, error) {
	return s.known[k], nil
}

func (s *store) RememberFriends(_ context.Context, k domain.ChatKey, _ time.Time) error {
	s.remembered++
	s.known[k] = true
	return nil
}

func (s *store) EndFriendship(_ context.Context, k domain.ChatKey, _ time.Time) error {
	s.known[k] = false
	return nil
}

func (s *store) MessageByClientID(_ context.Context, sender, clientID string) (domain.Message, error) {
	if m, ok := s.byClientID[sender+"/"+clientID]; ok {
		return m, nil
	}
	return domain.Message{}, app.ErrMessageNotFound
}

func (s *store) Send(_ context.Context, m domain.Message, events app.EventsFunc) (domain.Message, bool, error) {
	m.ID = 42
	evs, err := events(m)
	s.sent = append(s.sent, evs...)
	return m, true, err
}

func (s *store) History(context.Context, string, string, domain.Page) ([]domain.Message, bool, error) {
	return nil, s.chatExists, nil
}

func (s *store) Chats(context.Context, string, domain.Page) ([]domain.ChatSummary, error) {
	return s.chats, nil
}

func (s *store) Unread(context.Context, string, int) ([]domain.Message, int, error) {
	return s.unread, 7, nil
}

type neighbours struct {
	friends     bool
	err         error
	calls       int
	profiles    map[string]json.RawMessage
	existsCalls int
}

func (n *neighbours) AreFriends(context.Context, string, string) (app.Friendship, error) {
	n.calls++
	return app.Friendship{Friends: n.friends, Since: time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)}, n.err
}

func (n *neighbours) Exists(_ context.Context, id string) (bool, error) {
	n.existsCalls++
	_, ok := n.profiles[id]
	return ok, n.err
}

func (n *neighbours) PublicProfiles(_ context.Context, ids []string) (map[string]json.RawMessage, error) {
	n.calls++
	return n.profiles, n.err
}

type recorder struct {
	published []broker.Event
	notified  int
}

func (r *recorder) Publish(_ context.Context, ev broker.Event) error {
	r.published = append(r.published, ev)
	return nil
}
func (r *recorder) Notify() { r.notified++ }

var (
	alice = uuid.NewString()
	bob   = uuid.NewString()
)

func TestSendAnnouncesToBothAndRetriesGetTheStoredMessage(t *testing.T) {
	s := &store{byClientID: map[string]domain.Message{}, known: map[domain.ChatKey]bool{}}
	n := &neighbours{friends: true}
	rec := &recorder{}
	a := app.New(s, n, n, rec, rec)
	ctx := context.Background()

	msg, created, err := a.Send(ctx, app.SendCommand{SenderID: alice, RecipientID: bob, Text: "hi"})
	if err != nil || !created || msg.ID != 42 || rec.notified != 1 {
		t.Fatalf("%+v %v %v, notified %d", msg, created, err, rec.notified)
	}
	var types []string
	for _, ev := range s.sent {
		types = append(types, ev.Type+" "+ev.RoutingKey())
		var data app.MessageView
		if err := ev.Decode(&data); err != nil || data != msg {
			t.Errorf("%s carries %s", ev.Type, ev.Data)
		}
	}
	if want := []string{"message.new user." + bob + "." + alice}; !slices.Equal(types, want) {
		t.Errorf("events %v", types)
	}

	// Friends' yes is remembered: the next send does not ask again.
	if n.calls != 1 || s.remembered != 1 {
		t.Fatalf("friends asked %d times, %d yeses remembered", n.calls, s.remembered)
	}
	if _, _, err := a.Send(ctx, app.SendCommand{SenderID: bob, RecipientID: alice, Text: "hi back"}); err != nil || n.calls != 1 {
		t.Fatalf("second send: %v, friends asked %d times", err, n.calls)
	}

	key := "k"
	s.byClientID[alice+"/k"] = domain.Message{ID: 7, SenderID: alice, RecipientID: bob, Text: "first"}
	// A retry gets the stored message even when the two are no longer friends, or friends cannot answer. Friends
	// tells of the end before it answers the unfriending; from then on every send asks it.
	n.calls, n.friends = 0, false
	if err := a.EndFriendship(ctx, bob, alice, time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"not an id": a.EndFriendship(ctx, alice, "x", time.Now()),
		"the same":  a.EndFriendship(ctx, alice, alice, time.Now()),
		"no since":  a.EndFriendship(ctx, alice, bob, time.Time{}),
	} {
		if err == nil {
			t.Errorf("EndFriendship, %s: accepted", name)
		}
	}
	msg, created, err = a.Send(ctx, app.SendCommand{SenderID: alice, RecipientID: bob, Text: "hi", ClientMessageID: &key})
	if err != nil || created || msg.ID != 7 {
		t.Errorf("retry after unfriending: %+v %v %v", msg, created, err)
	}
	n.err = errors.New("connection refused")
	msg, created, err = a.Send(ctx, app.SendCommand{SenderID: alice, RecipientID: bob, Text: "hi", ClientMessageID: &key})
	if err != nil || created || msg.ID != 7 {
		t.Errorf("retry with friends down: %+v %v %v", msg, created, err)
	}
	n.err, n.calls = nil, 0

	if _, _, err := a.Send(ctx, app.SendCommand{SenderID: alice, RecipientID: "not-a-uuid", Text: "hi"}); !errors.Is(err, app.ErrUserNotFound) || n.calls != 0 {
		t.Errorf("not an id: %v, friends asked %d times", err, n.calls)
	}
	// A refusal tells a stranger (403) from nobody (404); when profiles cannot tell, "not friends" holds.
	n.profiles = map[string]json.RawMessage{bob: json.RawMessage(`{}`)}
	if _, _, err := a.Send(ctx, app.SendCommand{SenderID: alice, RecipientID: bob, Text: "hi"}); !errors.Is(err, app.ErrNotFriends) {
		t.Errorf("a stranger: %v", err)
	}
	if _, _, err := a.Send(ctx, app.SendCommand{SenderID: alice, RecipientID: uuid.NewString(), Text: "hi"}); !errors.Is(err, app.ErrUserNotFound) {
		t.Errorf("nobody: %v", err)
	}
	n.err = errors.New("connection refused")
	if _, _, err := a.Send(ctx, app.SendCommand{SenderID: alice, RecipientID: bob, Text: "hi"}); !errors.Is(err, app.ErrUnavailable) {
		t.Errorf("friends down: %v", err)
	}
}

func TestHistoryAsksProfilesOnlyWithoutAChat(t *testing.T) {
	s := &store{chatExists: true}
	n := &neighbours{profiles: map[string]json.RawMessage{}}
	a := app.New(s, n, n, &recorder{}, &recorder{})
	ctx := context.Background()
	if _, _, err := a.History(ctx, alice, bob, domain.PageQuery{}); err != nil || n.existsCalls != 0 {
		t.Errorf("with a chat: %v, profiles asked %d times", err, n.existsCalls)
	}
	s.chatExists = false
	if _, _, err := a.History(ctx, alice, bob, domain.PageQuery{}); !errors.Is(err, app.ErrUserNotFound) || n.existsCalls != 1 {
		t.Errorf("unknown peer: %v", err)
	}
	n.profiles[bob] = json.RawMessage(`{}`)
	if items, next, err := a.History(ctx, alice, bob, domain.PageQuery{}); err != nil || items == nil || len(items) != 0 || next != nil {
		t.Errorf("nothing said yet: %v %v %v", items, next, err)
	}
}

func TestChatListLeavesOutPeersProfilesNoLongerKnows(t *testing.T) {
	gone := uuid.NewString()
	s := &store{chats: []domain.ChatSummary{
		{PeerID: bob, LastMessage: domain.Message{ID: 9}, UnreadCount: 2},
		{PeerID: gone, LastMessage: domain.Message{ID: 8}},
	}}
	n := &neighbours{profiles: map[string]json.RawMessage{bob: json.RawMessage(`{"id":"` + bob + `"}`)}}
	items, next, err := app.New(s, n, n, &recorder{}, &recorder{}).Chats(context.Background(), alice, domain.PageQuery{})
	if err != nil || len(items) != 1 || string(items[0].Peer) != `{"id":"`+bob+`"}` || items[0].UnreadCount != 2 || next != nil || n.calls != 1 {
		t.Errorf("%+v %v %v, %d profiles calls", items, next, err, n.calls)
	}
}

func TestEnteringRepliesToTheConnectionOnly(t *testing.T) {
	s := &store{unread: []domain.Message{{ID: 3, SenderID: bob, RecipientID: alice, Text: "x"}}}
	rec := &recorder{}
	if err := app.New(s, nil, nil, rec, rec).Entered(context.Background(), events.UserEnteredData{UserID: alice, ConnectionID: "conn-9"}); err != nil {
		t.Fatal(err)
	}
	if len(rec.published) != 1 {
		t.Fatalf("published %d", len(rec.published))
	}
	ev := rec.published[0]
	var data app.UnreadData
	if err := ev.Decode(&data); err != nil || ev.Type != "messages.unread" || ev.ConnectionID != "conn-9" || !ev.IsPush() ||
		ev.RoutingKey() != "user."+alice || data.Total != 7 || len(data.Items) != 1 || data.Items[0].ID != 3 {
		t.Errorf("%+v %s", ev, ev.Data)
	}
}
