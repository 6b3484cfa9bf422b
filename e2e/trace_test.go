package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"simplemessenger/platform/server/servertest"
)

func randomHex(bytes int) string {
	b := make([]byte, bytes)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// sendTrace is one message send's trace, with the hops the test looks for.
type sendTrace struct {
	spans []span
	byID  map[string]span
}

func newSendTrace(spans []span) sendTrace {
	t := sendTrace{spans: spans, byID: map[string]span{}}
	for _, s := range spans {
		t.byID[s.SpanID] = s
	}
	return t
}

// find returns the first span (in start order) that matches.
func (t sendTrace) find(match func(span) bool) (span, bool) {
	for _, s := range t.spans {
		if match(s) {
			return s, true
		}
	}
	return span{}, false
}

// under reports whether s descends from ancestor (ancestor itself excluded).
func (t sendTrace) under(s, ancestor span) bool {
	for p, ok := t.byID[s.Parent]; ok; p, ok = t.byID[p.Parent] {
		if p.SpanID == ancestor.SpanID {
			return true
		}
	}
	return false
}

func is(service string, kind tracepb.Span_SpanKind) func(span) bool {
	return func(s span) bool { return s.Service == service && s.Kind == kind }
}

func childOf(parent span, match func(span) bool) func(span) bool {
	return func(s span) bool { return s.Parent == parent.SpanID && match(s) }
}

func and(ms ...func(span) bool) func(span) bool {
	return func(s span) bool {
		for _, m := range ms {
			if !m(s) {
				return false
			}
		}
		return true
	}
}

func attrIs(key, value string) func(span) bool {
	return func(s span) bool { return s.Attrs[key] == value }
}

func attrHasPrefix(key, prefix string) func(span) bool {
	return func(s span) bool { return strings.HasPrefix(s.Attrs[key], prefix) }
}

func named(name string) func(span) bool { return func(s span) bool { return s.Name == name } }

// check looks for every hop of a message send in the trace and returns what is missing (nothing once the
// whole path has been exported).
func (t sendTrace) check(clientSpan, recipientID, pushExchange string) (missing []string) {
	need := func(what string, match func(span) bool) (span, bool) {
		s, ok := t.find(match)
		if !ok {
			missing = append(missing, what)
		}
		return s, ok
	}
	const server, client = tracepb.Span_SPAN_KIND_SERVER, tracepb.Span_SPAN_KIND_CLIENT
	gwServer, ok := need("gateway server span, child of the client's span",
		and(is("gateway", server), func(s span) bool { return s.Parent == clientSpan }))
	if !ok {
		return missing
	}
	gwClient, ok := need("gateway client span to messages, child of the gateway server span",
		childOf(gwServer, is("gateway", client)))
	if !ok {
		return missing
	}
	msgServer, ok := need("messages server span, child of the gateway's client span",
		childOf(gwClient, is("messages", server)))
	if !ok {
		return missing
	}
	// The messages service also calls auth (its key set, on its first token) and profiles; the friendship
	// check is the client span whose child is a friends server span (tracedSend's users are new, so this is
	// their first send: later ones find the friendship in messages' own table and call nobody).
	friendsServer, ok := need("friends server span, child of a messages client span under the messages server span",
		func(s span) bool {
			p, ok := t.byID[s.Parent]
			return ok && is("friends", server)(s) && is("messages", client)(p) && t.under(p, msgServer)
		})
	if ok {
		need("friends SQL span (db.system=mysql) under the friends server span",
			and(is("friends", tracepb.Span_SPAN_KIND_CLIENT), attrIs("db.system", "mysql"),
				func(s span) bool { return t.under(s, friendsServer) }))
	}
	need("messages SQL span (db.system=mysql) under the messages server span",
		and(is("messages", tracepb.Span_SPAN_KIND_CLIENT), attrIs("db.system", "mysql"),
			func(s span) bool { return t.under(s, msgServer) }))
	// message.new is one pair push to both participants, naming the recipient first.
	publish, ok := need("messages' publish span of the recipient's push (PRODUCER, messaging attributes), under the messages server span",
		and(is("messages", tracepb.Span_SPAN_KIND_PRODUCER),
			attrIs("messaging.system", "rabbitmq"),
			attrIs("messaging.destination.name", pushExchange),
			attrHasPrefix("messaging.rabbitmq.destination.routing_key", "user."+recipientID+"."),
			func(s span) bool { return t.under(s, msgServer) }))
	if !ok {
		return missing
	}
	consume, ok := need("gateway's consume span of the push (CONSUMER), child of (or linked to) the publish span",
		and(is("gateway", tracepb.Span_SPAN_KIND_CONSUMER),
			attrHasPrefix("messaging.rabbitmq.destination.routing_key", "user."+recipientID+"."),
			func(s span) bool {
				return s.Parent == publish.SpanID || strings.Contains(strings.Join(s.Links, ","), publish.SpanID)
			}))
	if !ok {
		return missing
	}
	send, ok := need("gateway's websocket send span (message.new to 1 socket), child of the consume span",
		childOf(consume, and(is("gateway", tracepb.Span_SPAN_KIND_INTERNAL), named("websocket send"),
			attrIs("messenger.push.frame_type", "message.new"), attrIs("messenger.push.sockets", "1"))))
	if ok {
		need("gateway's websocket write span, child of the websocket send span",
			childOf(send, and(named("websocket write"), func(s span) bool { return !s.Error })))
	}
	return missing
}

// tracedSend: a and b become friends, b opens a socket, a sends b a message with a sampled traceparent of a
// client span; it returns the trace id, the client span id and b (the recipient) once b's socket has the message.
func tracedSend(t *testing.T, prefix, text string) (traceID, clientSpan string, b *account, sent time.Time) {
	t.Helper()
	a, b := register(t, prefix+"a"), register(t, prefix+"b")
	befriend(t, a, b)
	s := connect(t, b)
	traceID, clientSpan = randomHex(16), randomHex(8)
	sent = time.Now()
	r := must(t, call(t, "POST", "/api/v1/chats/"+b.id+"/messages", a.access, map[string]any{"text": text},
		"traceparent", "00-"+traceID+"-"+clientSpan+"-01"), 201, "send")
	id, _ := r.object(t)["id"].(string)
	if _, ok := s.waitMessage(5*time.Second, id); !ok {
		t.Fatalf("the recipient's socket did not get message %s", id)
	}
	return traceID, clientSpan, b, sent
}

// One message send through the gateway is ONE trace: the gateway, messages and friends server spans with
// their client spans between them, the SQL statements, the outbox relay's publish of the push, the gateway's
// consumption of it and the write of the frame to the recipient's socket. A hop that drops the trace context
// starts a trace of its own, and its spans are then missing from this one.
func TestOneMessageSendIsOneTraceFromTheGatewayToTheRecipientsSocket(t *testing.T) {
	needLocalStack(t, "reads the spans every process exports to the suite's trace receiver")
	t.Parallel()
	traceID, clientSpan, b, sent := tracedSend(t, "tr", "traced")

	var tr sendTrace
	var missing []string
	servertest.Eventually(t, 5*time.Second, func() bool {
		tr = newSendTrace(traces.Trace(traceID))
		missing = tr.check(clientSpan, b.id, stack.Exchange+".push")
		return len(missing) == 0
	}, "")
	t.Logf("trace %s:\n%s", traceID, tree(tr.spans))
	for _, m := range missing {
		t.Errorf("missing from the trace: %s", m)
	}
	for _, sp := range tr.spans {
		if sp.TraceID != traceID {
			t.Errorf("span %s of another trace", sp.Name)
		}
	}
	if t.Failed() {
		// Where did the lost hops go? Spans of the recipient's push that started another trace say which hop
		// dropped the context.
		for id, ss := range traces.snapshot() {
			for _, sp := range ss {
				if id != traceID && sp.Start.After(sent) && strings.HasPrefix(sp.Attrs["messaging.rabbitmq.destination.routing_key"], "user."+b.id+".") {
					t.Logf("span %s %s %q is in trace %s", sp.Service, sp.Kind, sp.Name, id)
				}
			}
		}
	}
}
