package service_test

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"simplemessenger/platform/broker"
	"simplemessenger/platform/server/servertest"
)

// traceSpans returns the ended spans of one trace.
func traceSpans(id trace.TraceID) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range spans.Ended() {
		if s.SpanContext().TraceID() == id {
			out = append(out, s)
		}
	}
	return out
}

func named(ss []sdktrace.ReadOnlySpan, name string) sdktrace.ReadOnlySpan {
	for _, s := range ss {
		if s.Name() == name {
			return s
		}
	}
	return nil
}

func attr(s sdktrace.ReadOnlySpan, key string) attribute.Value {
	for _, a := range s.Attributes() {
		if string(a.Key) == key {
			return a.Value
		}
	}
	return attribute.Value{}
}

// The push connection's connect is a short server span in the client's trace (not one span as long as the
// socket), and a push is traced from the producer's publish through the gateway's consumer to the frame
// written, whose delivery latency carries that trace as its exemplar.
func TestThePushPathIsTracedFromThePublishToTheFrameWritten(t *testing.T) {
	e := newEnv(t).start()
	e.waitReady()
	w := e.watchEntries(nil)
	alice, _, tok := e.newUser()

	const connectTrace = "0af7651916cd43dd8448eb211c80319c"
	conn, _, err := dialWS(t, e.url, "", http.Header{
		"Authorization": {"Bearer " + tok}, "Traceparent": {"00-" + connectTrace + "-b7ad6b7169203331-01"},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := startReading(t, conn)
	w.next(alice)
	connectID, _ := trace.TraceIDFromHex(connectTrace)
	var connect sdktrace.ReadOnlySpan
	servertest.Eventually(t, 2*time.Second, func() bool {
		connect = named(traceSpans(connectID), "websocket connect")
		return connect != nil
	}, "the connect span to end while the socket is open")
	if connect.SpanKind() != trace.SpanKindServer || attr(connect, "http.response.status_code").AsInt64() != 101 ||
		attr(connect, "http.route").AsString() != "/api/v1/ws" {
		t.Errorf("connect span %s %v", connect.SpanKind(), connect.Attributes())
	}
	if connect.Parent().SpanID().String() != "b7ad6b7169203331" {
		t.Errorf("connect span's parent %s, want the client's span", connect.Parent().SpanID())
	}
	for _, s := range traceSpans(connectID) {
		if s != connect && attr(s, "http.route").AsString() == "/api/v1/ws" {
			t.Errorf("another span %q of the upgrade request", s.Name())
		}
	}
	if named(traceSpans(connectID), w.pub.Config().Exchange+" publish") == nil {
		t.Errorf("the entry event's publish is not in the connect's trace: %v", names(traceSpans(connectID)))
	}

	// A producer publishes a push inside its own trace.
	ctx, producer := otel.Tracer("test").Start(context.Background(), "send message")
	ev, err := broker.NewPush("test", alice, "message.new", map[string]string{"id": "1"})
	if err != nil {
		t.Fatal(err)
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	if err := w.pub.Publish(pctx, ev); err != nil {
		t.Fatal(err)
	}
	cancel()
	producer.End()
	c.expect("message.new", 2*time.Second)

	var consume, send, write sdktrace.ReadOnlySpan
	servertest.Eventually(t, 2*time.Second, func() bool {
		ss := traceSpans(producer.SpanContext().TraceID())
		consume, send, write = nil, named(ss, "websocket send"), named(ss, "websocket write")
		for _, s := range ss {
			if s.SpanKind() == trace.SpanKindConsumer && attr(s, "messaging.message.id").AsString() == ev.ID {
				consume = s
			}
		}
		return consume != nil && send != nil && write != nil
	}, "the push's spans")
	publish := named(traceSpans(producer.SpanContext().TraceID()), e.cfg.Broker.PushExchange()+" publish")
	if publish == nil || consume.Parent().SpanID() != publish.SpanContext().SpanID() {
		t.Errorf("the consumer's span is not the publish's child")
	}
	if send.Parent().SpanID() != consume.SpanContext().SpanID() {
		t.Errorf("websocket send's parent %s, want the consumer's span", send.Parent().SpanID())
	}
	if attr(send, "messenger.push.frame_type").AsString() != "message.new" || attr(send, "messenger.push.sockets").AsInt64() != 1 {
		t.Errorf("websocket send attributes %v", send.Attributes())
	}
	if write.Parent().SpanID() != send.SpanContext().SpanID() {
		t.Errorf("websocket write's parent %s, want websocket send", write.Parent().SpanID())
	}

	m := servertest.Scrape(t, e.adminURL, true)
	exemplar := regexp.MustCompile(`(?m)^gateway_push_delivery_seconds_bucket\{[^}]*type="message.new"[^}]*\} 1 # \{trace_id="` +
		producer.SpanContext().TraceID().String() + `"\} `)
	if !exemplar.MatchString(m) {
		t.Errorf("the delivery latency has no exemplar of the push's trace:\n%s", grepLines(m, "gateway_push_delivery_seconds_bucket"))
	}
	if !regexp.MustCompile(`(?m)^gateway_push_fanout_sockets_count\{[^}]*type="message.new"[^}]*\} 1$`).MatchString(m) ||
		!regexp.MustCompile(`(?m)^gateway_push_fanout_sockets_sum\{[^}]*type="message.new"[^}]*\} 1(\.0)?$`).MatchString(m) {
		t.Errorf("fan-out of one push to one socket:\n%s", grepLines(m, "gateway_push_fanout_sockets"))
	}
}

func names(ss []sdktrace.ReadOnlySpan) []string {
	var out []string
	for _, s := range ss {
		out = append(out, s.Name())
	}
	return out
}

func grepLines(s, sub string) string {
	var out []string
	for l := range strings.SplitSeq(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// The upgrade is counted in http_server_requests_total like any request, refused ones included, but its
// socket's lifetime stays out of the duration histogram and the in-flight gauge; every token check of the
// gateway, the upgrade's too, is counted by result.
func TestTheUpgradeIsCountedButNotTimedAndTokenChecksAreCounted(t *testing.T) {
	e := newEnv(t).start()
	e.waitReady()
	w := e.watchEntries(nil)
	alice, _, tok := e.newUser()

	wantError(t, e.do("GET", "/api/v1/ws", nil, upgradeHeaders(nil)), http.StatusUnauthorized, "unauthorized")
	wantError(t, e.do("GET", "/api/v1/ws", nil, upgradeHeaders(map[string]string{"Authorization": "Bearer not-a-jwt"})),
		http.StatusUnauthorized, "unauthorized")
	wantError(t, e.do("GET", "/api/v1/users/me", nil, nil), http.StatusUnauthorized, "unauthorized")
	c := w.enter(e.url, alice, tok)
	if v := servertest.Metric(t, e.adminURL, "http_server_requests_in_flight"); v != 0 {
		t.Errorf("an open socket counts as a request in flight: %v", v)
	}
	_ = c.conn.Close(websocket.StatusNormalClosure, "bye")
	servertest.Eventually(t, 2*time.Second, func() bool {
		return servertest.Metric(t, e.adminURL, "http_server_requests_total", "code", "101", "method", "GET", "route", "/api/v1/ws") == 1
	}, "the closed socket's upgrade to be counted")
	if v := servertest.Metric(t, e.adminURL, "http_server_requests_total", "code", "401", "method", "GET", "route", "/api/v1/ws"); v != 2 {
		t.Errorf("refused upgrades counted %v times, want 2", v)
	}
	m := servertest.Scrape(t, e.adminURL, true)
	if strings.Contains(grepLines(m, "http_server_request_duration_seconds"), `route="/api/v1/ws"`) {
		t.Errorf("the push connection is in the duration histogram:\n%s", grepLines(m, `route="/api/v1/ws"`))
	}
	for result, want := range map[string]float64{"missing": 2, "invalid": 1, "ok": 1, "unavailable": 0} {
		if v := servertest.Metric(t, e.adminURL, "authn_token_verifications_total", "result", result); v != want {
			t.Errorf("authn_token_verifications_total{result=%q} = %v, want %v", result, v, want)
		}
	}
}
