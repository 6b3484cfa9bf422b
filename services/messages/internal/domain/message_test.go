package domain_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"simplemessenger/platform/rules"

	"simplemessenger/services/messages/internal/domain"
)

const (
	alice = "01900000-0000-7000-8000-00000000000a"
	bob   = "01900000-0000-7000-8000-00000000000b"
)

func code(err error) string {
	var ve *rules.Violation
	if errors.As(err, &ve) {
		return ve.Code
	}
	if err != nil {
		return "not a validation error: " + err.Error()
	}
	return ""
}

func ptr(s string) *string { return &s }

func TestTextLimitsCountCodePoints(t *testing.T) {
	cases := []struct {
		name, text, code string
	}{
		{"one letter", "a", ""},
		{"4000 ASCII", strings.Repeat("a", 4000), ""},
		{"4000 four-byte emoji (16000 bytes)", strings.Repeat("😀", 4000), ""},
		{"4000 two-byte letters", strings.Repeat("ж", 4000), ""},
		{"4001 code points", strings.Repeat("ж", 4001), "invalid_text"},
		{"empty", "", "invalid_text"},
		{"only spaces", "   ", "invalid_text"},
		{"only line breaks and tabs", "\n\t\r\n", "invalid_text"},
		{"only no-break and ideographic spaces", "\u00a0\u3000", "invalid_text"},
		{"kept as typed with surrounding space", "  indented\n", ""},
		{"tabs and line breaks inside", "a\tb\r\nc", ""},
		{"NUL", "a\x00b", "invalid_text"},
		{"escape", "a\x1bb", "invalid_text"},
		{"C1 control", "a\u0085b", "invalid_text"},
		{"invalid UTF-8", "a\xffb", "invalid_text"},
	}
	for _, c := range cases {
		if got := code(domain.ValidateText(c.text)); got != c.code {
			t.Errorf("%s: got %q, want %q", c.name, got, c.code)
		}
	}
}

func TestClientMessageIDIsOneTo64CodePoints(t *testing.T) {
	for _, ok := range []string{"x", strings.Repeat("é", 64), "0190abcd-uuid-like", "with space"} {
		if err := domain.ValidateClientMessageID(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", strings.Repeat("a", 65), "tab\there", "\xff"} {
		if got := code(domain.ValidateClientMessageID(bad)); got != "invalid_client_message_id" {
			t.Errorf("%q: %q", bad, got)
		}
	}
}

func TestNewMessage(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 123456789, time.FixedZone("X", 3600))
	m, err := domain.NewMessage(alice, bob, "hi", ptr("c-1"), now)
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(2030, 1, 2, 2, 4, 5, 123456000, time.UTC)
	if m.SenderID != alice || m.RecipientID != bob || m.Text != "hi" || m.ClientMessageID != "c-1" || m.ID != 0 ||
		!m.CreatedAt.Equal(want) || m.CreatedAt.Location() != time.UTC || m.CreatedAt.Nanosecond() != 123456000 {
		t.Errorf("message %+v: the time must be UTC, cut to microseconds", m)
	}
	if m, err := domain.NewMessage(alice, bob, "hi", nil, now); err != nil || m.ClientMessageID != "" {
		t.Errorf("without a client id: %+v %v", m, err)
	}
	if _, err := domain.NewMessage(alice, alice, "hi", nil, now); code(err) != "cannot_message_self" {
		t.Errorf("to oneself: %v", err)
	}
	if _, err := domain.NewMessage(alice, bob, "", nil, now); code(err) != "invalid_text" {
		t.Errorf("empty: %v", err)
	}
	if _, err := domain.NewMessage(alice, bob, "hi", ptr(""), now); code(err) != "invalid_client_message_id" {
		t.Errorf("empty client id: %v", err)
	}
}

func TestBothParticipantsNameTheSameChat(t *testing.T) {
	ab, ba := domain.NewChatKey(alice, bob), domain.NewChatKey(bob, alice)
	if ab != ba || ab.Low != alice || ab.High != bob {
		t.Errorf("%+v vs %+v", ab, ba)
	}
}

func TestOnlyTheSenderEditsOrDeletesAndATombstoneStays(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 678901234, time.UTC)
	m := domain.Message{ID: 7, SenderID: alice, RecipientID: bob, Text: "helo", CreatedAt: now.Add(-time.Minute)}

	if _, _, err := m.Edit(bob, "hello", now); !errors.Is(err, domain.ErrNotYourMessage) {
		t.Errorf("the recipient edited: %v", err)
	}
	if _, _, err := m.Edit(alice, " ", now); code(err) != "invalid_text" {
		t.Errorf("an edit to white space: %v", err)
	}
	if same, changed, err := m.Edit(alice, "helo", now); err != nil || changed || same.EditedAt != nil {
		t.Errorf("an edit to the same text is no change: %+v %v %v", same, changed, err)
	}
	edited, changed, err := m.Edit(alice, "hello", now)
	if err != nil || !changed || edited.Text != "hello" || edited.EditedAt == nil || !edited.EditedAt.Equal(now.Truncate(time.Microsecond)) ||
		edited.ID != 7 || !edited.CreatedAt.Equal(m.CreatedAt) {
		t.Fatalf("edit: %+v %v %v", edited, changed, err)
	}

	if _, _, err := edited.Delete(bob, now); !errors.Is(err, domain.ErrNotYourMessage) {
		t.Errorf("the recipient deleted: %v", err)
	}
	gone, changed, err := edited.Delete(alice, now.Add(time.Second))
	if err != nil || !changed || gone.Text != "" || gone.DeletedAt == nil || gone.ID != 7 {
		t.Fatalf("delete: %+v %v %v", gone, changed, err)
	}
	if again, changed, err := gone.Delete(alice, now.Add(2*time.Second)); err != nil || changed || !again.DeletedAt.Equal(*gone.DeletedAt) {
		t.Errorf("deleting twice: %+v %v %v", again, changed, err)
	}
	if _, _, err := gone.Edit(alice, "back", now); !errors.Is(err, domain.ErrMessageDeleted) {
		t.Errorf("a tombstone edited: %v", err)
	}
}
