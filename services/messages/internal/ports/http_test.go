package ports

import (
	"encoding/json"
	"testing"
	"time"

	"simplemessenger/services/messages/internal/app"
)

type newerPage struct {
	Items     []app.MessageView `json:"items"`
	NextAfter *string           `json:"next_after"`
}

// A page written by appendPage is byte for byte the page json.Marshal writes, both ways, with and without a
// cursor, empty or not.
func TestAppendPageIsJSONMarshal(t *testing.T) {
	at := time.Date(2026, 11, 27, 20, 30, 0, 123000000, time.UTC)
	msgs := []app.MessageView{
		{ID: 9, SenderID: "a", RecipientID: "b", Text: `"<hi>" & \bye` + "\n\u2028\xff😀", CreatedAt: at},
		{ID: 7, SenderID: "b", RecipientID: "a", Text: "", CreatedAt: at.Add(-time.Second)},
	}
	cursor := int64(7)
	for _, c := range []struct {
		items []app.MessageView
		next  *int64
	}{{msgs, &cursor}, {msgs, nil}, {[]app.MessageView{}, nil}, {[]app.MessageView{}, &cursor}} {
		for _, older := range []bool{true, false} {
			var want []byte
			var err error
			if older {
				want, err = json.Marshal(olderPage[app.MessageView]{Items: c.items, NextBefore: idString(c.next)})
			} else {
				want, err = json.Marshal(newerPage{Items: c.items, NextAfter: idString(c.next)})
			}
			if err != nil {
				t.Fatal(err)
			}
			name := "next_before"
			if !older {
				name = "next_after"
			}
			if got := appendPage(nil, c.items, name, c.next); string(got) != string(want) {
				t.Errorf("got  %s\nwant %s", got, want)
			}
		}
	}
}
