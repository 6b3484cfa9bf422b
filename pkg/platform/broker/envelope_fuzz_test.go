package broker

import (
	"encoding/json"
	"strings"
	"testing"
)

// FuzzEventEnvelope decodes delivery bodies the way the consumer does (json.Unmarshal, then validate): it never
// panics, an accepted envelope has an id that fits the inbox key, a type, and a routing key within AMQP's
// limit, and it survives being encoded and decoded again unchanged (as the outbox relay does).
func FuzzEventEnvelope(f *testing.F) {
	ev, _ := NewEvent("test", "chat.message.sent", map[string]any{"text": "hi"})
	good, _ := json.Marshal(ev)
	for _, s := range []string{string(good), `{}`, `{"id":"x"}`, `{"id":"x","type":"t"}`, `{"id":"` + strings.Repeat("x", 37) + `","type":"t"}`,
		`{"id":"x","type":"` + strings.Repeat("t", 256) + `"}`, `{"id":"x","type":"t","time":"not a time"}`, `{"id":"x","type":"t","data":{"a":[1,2]}}`,
		`null`, `[]`, `{"id":1}`, "{\"id\":\"\xff\",\"type\":\"t\"}", `{"id":"x","type":"t","connection_id":"c","time":"0001-01-01T00:00:00Z"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var ev Event
		if err := json.Unmarshal(body, &ev); err != nil || ev.validate() != nil {
			return
		}
		if ev.ID == "" || len(ev.ID) > 36 || ev.Type == "" || ev.RoutingKey() != ev.Type || len(ev.RoutingKey()) > 255 || ev.IsPush() {
			t.Fatalf("accepted envelope %+v", ev)
		}
		again, err := json.Marshal(ev)
		if err != nil {
			t.Fatalf("accepted envelope cannot be encoded again: %v", err)
		}
		var back Event
		if err := json.Unmarshal(again, &back); err != nil || back.validate() != nil {
			t.Fatalf("re-encoded envelope %s does not decode: %v", again, err)
		}
		if back.ID != ev.ID || back.Type != ev.Type || back.Source != ev.Source || back.ConnectionID != ev.ConnectionID || !back.Time.Equal(ev.Time) {
			t.Fatalf("round trip changed %+v into %+v", ev, back)
		}
	})
}
