package app_test

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"simplemessenger/services/messages/internal/app"
)

// AppendJSON must write what json.Marshal writes, byte for byte: pages of history use it, sends and pushes
// encoding/json, and a client sees the same message either way.
func TestMessageAppendJSONIsJSONMarshal(t *testing.T) {
	texts := []string{
		"",
		"hello",
		`say "hi" \ bye`,
		"tab\tnew\nline\rcr\bbs\fff \x00\x1f\x7f",
		"<b>bold</b> & co",
		"U+2028\u2028U+2029\u2029",
		"😀👍🏽 日本語 é",
		"broken \xff\xfe UTF-8 \xc3 \xed\xa0\x80",
	}
	times := []time.Time{
		time.Date(2026, 11, 27, 20, 30, 0, 0, time.UTC),
		time.Date(2026, 11, 27, 20, 30, 1, 123456000, time.UTC),
		time.Date(2026, 11, 27, 20, 30, 1, 120000000, time.UTC),
	}
	for i, text := range texts {
		m := app.MessageView{
			ID: int64(i) * 1e15, SenderID: "0193a5e0-7c1e-7cc3-9d2b-0a6f1e2d3c4b", RecipientID: "0193a5e0-7c1e-7cc3-9d2b-<&>\"",
			Text: text, CreatedAt: times[i%len(times)],
		}
		if i == 0 {
			m.ID = math.MaxInt64
		}
		// Edited, deleted, both and neither: the optional times are written as json.Marshal writes them.
		if i%4 == 1 || i%4 == 3 {
			at := times[(i+1)%len(times)]
			m.EditedAt = &at
		}
		if i%4 >= 2 {
			at := times[(i+2)%len(times)]
			m.DeletedAt = &at
		}
		want, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if got := m.AppendJSON([]byte("prefix")); string(got) != "prefix"+string(want) {
			t.Errorf("%q:\n got %s\nwant prefix%s", text, got, want)
		}
	}
}
