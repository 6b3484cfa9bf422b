package e2e

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"simplemessenger/platform/server/servertest"
)

var telExemplar = regexp.MustCompile(`(?m)^(\w+)_bucket\{([^}]*)\} \S+ # \{trace_id="([0-9a-f]{32})"\}`)

// Latency histograms carry exemplars, and each one leads to a trace that was really exported: a slow bucket
// in a dashboard opens the trace of a request that fell into it.
func TestLatencyExemplarsLeadToExportedTraces(t *testing.T) {
	needLocalStack(t, "scrapes the admin ports and reads the suite's trace receiver")
	t.Parallel()
	a, b := register(t, "exa"), register(t, "exb")
	befriend(t, a, b)
	s := connect(t, b)
	id, _ := send(t, a, b, "with an exemplar")["id"].(string)
	if _, ok := s.waitMessage(2*time.Second, id); !ok {
		t.Fatal("message not pushed")
	}

	for _, c := range []struct{ svc, metric, labels string }{
		{"gateway", "http_server_request_duration_seconds", `route="/api/v1/chats/:user_id/messages"`},
		{"messages", "http_server_request_duration_seconds", `route="/api/v1/chats/:user_id/messages"`},
		{"friends", "http_server_request_duration_seconds", `route="/internal/v1/friendships/:a/:b"`},
		{"gateway", "gateway_push_delivery_seconds", `type="message.new"`},
	} {
		var ids []string
		for _, m := range telExemplar.FindAllStringSubmatch(servertest.Scrape(t, stack.AdminURL(c.svc), true), -1) {
			if m[1] == c.metric && strings.Contains(m[2], c.labels) {
				ids = append(ids, m[3])
			}
		}
		if len(ids) == 0 {
			t.Errorf("%s: no exemplar on %s{%s}", c.svc, c.metric, c.labels)
			continue
		}
		for _, traceID := range ids {
			if !servertest.Eventually(t, 3*time.Second, func() bool { return len(traces.Trace(traceID)) > 0 }, "") {
				t.Errorf("%s: the exemplar of %s{%s} names trace %s, which was never exported", c.svc, c.metric, c.labels, traceID)
			}
		}
	}
}

// Every service with a database exports its pool's statistics, and every consumer says it is up, so a
// "consumer down" alert has a series to watch.
func TestPoolAndConsumerMetricsOfEveryService(t *testing.T) {
	needLocalStack(t, "scrapes every service's admin port")
	t.Parallel()
	consumers := map[string][]string{
		"auth":     {"auth.password-changed"},
		"friends":  {"friends.user-entered"},
		"messages": {"messages.user-entered"},
		"gateway":  {"gateway", "gateway.push"},
	}
	for _, svc := range Services {
		m := servertest.Scrape(t, stack.AdminURL(svc), false)
		if svc != "gateway" {
			for _, name := range []string{"go_sql_open_connections", "go_sql_in_use_connections", "go_sql_wait_duration_seconds_total"} {
				if !regexp.MustCompile(`(?m)^` + name + `\{[^}]*db_name="` + regexp.QuoteMeta(stack.dbName(svc)) + `"`).MatchString(m) {
					t.Errorf("%s: no %s{db_name=%q}", svc, name, stack.dbName(svc))
				}
			}
		}
		for _, q := range consumers[svc] {
			if !regexp.MustCompile(`(?m)^broker_consumers\{queue="` + regexp.QuoteMeta(q) + `",service="` + svc + `"\} 1$`).MatchString(m) {
				t.Errorf("%s: broker_consumers{queue=%q} is not 1:\n%s", svc, q, telGrep(m, "broker_consumers"))
			}
		}
		if !strings.Contains(m, `authn_token_verifications_total{result="ok",service="`+svc+`"}`) {
			t.Errorf("%s: no authn_token_verifications_total{result=\"ok\"}", svc)
		}
	}
}

func telGrep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
