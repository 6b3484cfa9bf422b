package e2e

// The dashboards and rules of observability/ are only worth something if they query what the services really
// export: a renamed metric or label leaves a panel empty and an alert silent without any error. These tests
// hold a scripted conversation against the stack, scrape every service's /metrics and check every PromQL
// expression of every dashboard panel, dashboard variable and rule against what was scraped, parsed with the
// Prometheus parser (never grepped).

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	amqp "github.com/rabbitmq/amqp091-go"
	"go.yaml.in/yaml/v3"

	"simplemessenger/platform/server/servertest"
)

func TestDashboardsAndRulesQueryOnlyExportedMetrics(t *testing.T) {
	needLocalStack(t, "scrapes every service's admin port, starts a gateway replica and publishes on the stack's exchange")
	t.Parallel()
	obs := loadObservability(t)
	admins := converse(t)
	cat := newCatalog()
	for _, admin := range admins {
		cat.addScrape(t, admin)
	}
	cat.addRecordingRules(t, obs.records)

	var problems []string
	for _, q := range obs.queries {
		for _, p := range cat.check(q) {
			problems = append(problems, q.where+": "+p)
		}
	}
	if len(obs.queries) < 50 {
		t.Errorf("only %d queries found in the dashboards and rules: is observability/ being read?", len(obs.queries))
	}
	for _, p := range problems {
		t.Error(p)
	}
	if len(problems) > 0 {
		t.Logf("exported metric names: %s", strings.Join(cat.names(), " "))
	}
}

// TestMetricCheckCatchesRenames proves the checker itself: each broken query is reported, the good ones are not.
func TestMetricCheckCatchesRenames(t *testing.T) {
	t.Parallel()
	cat := newCatalog()
	cat.addFamily(&dto.MetricFamily{Name: ptr("http_server_requests_total"), Type: dto.MetricType_COUNTER.Enum(),
		Metric: []*dto.Metric{{Label: []*dto.LabelPair{{Name: ptr("service"), Value: ptr("gateway")},
			{Name: ptr("route"), Value: ptr("/api/v1/users/me")}, {Name: ptr("code"), Value: ptr("200")}}}}})
	cat.addFamily(&dto.MetricFamily{Name: ptr("gateway_push_delivery_seconds"), Type: dto.MetricType_HISTOGRAM.Enum(),
		Metric: []*dto.Metric{{Label: []*dto.LabelPair{{Name: ptr("service"), Value: ptr("gateway")}, {Name: ptr("type"), Value: ptr("message.new")}}}}})
	cat.addRecordingRules(t, []rulefmt.Rule{{Record: "service:http_server_requests:rate5m",
		Expr: `sum by (service) (rate(http_server_requests_total[5m]))`}})
	good := []query{
		{expr: `sum by (service, route) (rate(http_server_requests_total{service="gateway",route!="/api/v1/users/me"}[5m]))`, legend: "{{service}} {{route}}"},
		{expr: `histogram_quantile(0.99, sum by (type, le) (rate(gateway_push_delivery_seconds_bucket[5m])))`, legend: "{{type}}"},
		{expr: `service:http_server_requests:rate5m{service=~"gateway|auth"} / on (service) group_left sum by (service, instance) (rate(http_server_requests_total[5m]))`},
		{expr: `label_replace(sum by (code) (rate(http_server_requests_total[5m])), "status", "$1", "code", "(.*)")`, legend: "{{status}}"},
		{expr: `sum(up{job="simplemessenger"})`},
		{expr: `http_server_requests_total`, labelValues: "instance"},
	}
	for _, q := range good {
		q.where = "good"
		if p := cat.check(q); len(p) > 0 {
			t.Errorf("%s: reported %v", q.expr, p)
		}
	}
	bad := map[string]string{
		`rate(http_server_requests_totl[5m])`:                                                             "http_server_requests_totl",
		`sum by (rout) (rate(http_server_requests_total[5m]))`:                                            "rout",
		`http_server_requests_total{servce="gateway"}`:                                                    "servce",
		`http_server_requests_total{service="gatewy"}`:                                                    "gatewy",
		`http_server_requests_total{route="/api/v1/nowhere"}`:                                             "/api/v1/nowhere",
		`rate(gateway_push_delivery_seconds[5m])`:                                                         "gateway_push_delivery_seconds",
		`service:http_server_requests:rate5m{route="/api/v1/users/me"}`:                                   "route",
		`histogram_quantile(0.5, sum by (le) (rate(gateway_push_delivery_seconds_bucket{kind="x"}[5m])))`: "kind",
		`sum by (service) (http_server_requests_total) / on (rout) sum by (service) (up)`:                 "rout",
	}
	for e, want := range bad {
		p := cat.check(query{where: "bad", expr: e})
		if len(p) == 0 || !strings.Contains(strings.Join(p, "; "), want) {
			t.Errorf("%s: want a problem naming %q, got %v", e, want, p)
		}
	}
	if p := cat.check(query{where: "legend", expr: `sum by (service) (rate(http_server_requests_total[5m]))`, legend: "{{route}}"}); len(p) == 0 {
		t.Error("a legend naming a label the query does not return is not reported")
	}
}

// TestDashboardsAreDocumentedAndWired checks what an operator relies on: every panel says what it shows and
// what to do, and queries the provisioned Prometheus data source.
func TestDashboardsAreDocumentedAndWired(t *testing.T) {
	t.Parallel()
	root := observabilityDir(t)
	files, _ := filepath.Glob(filepath.Join(root, "grafana", "dashboards", "*.json"))
	want := []string{"auth", "broker-outbox", "friends", "gateway", "messages", "overview", "profiles"}
	var got []string
	uids := map[string]bool{}
	for _, f := range files {
		got = append(got, strings.TrimSuffix(filepath.Base(f), ".json"))
		d := readDashboard(t, f)
		if d.UID == "" || uids[d.UID] || d.Title == "" {
			t.Errorf("%s: missing or duplicate uid %q, or no title", f, d.UID)
		}
		uids[d.UID] = true
		for _, p := range d.allPanels() {
			if p.Type == "row" {
				if p.Title == "" {
					t.Errorf("%s: a row without a title", f)
				}
				continue
			}
			where := filepath.Base(f) + " / " + p.Title
			if strings.TrimSpace(p.Title) == "" || len(strings.TrimSpace(p.Description)) < 40 {
				t.Errorf("%s: every panel needs a title and a description that tells an operator what it means", where)
			}
			if p.Datasource.UID != "prometheus" || len(p.Targets) == 0 {
				t.Errorf("%s: datasource %q with %d targets; want the provisioned uid \"prometheus\"", where, p.Datasource.UID, len(p.Targets))
			}
			for _, tg := range p.Targets {
				if strings.TrimSpace(tg.Expr) == "" {
					t.Errorf("%s: target %s has no expression", where, tg.RefID)
				}
			}
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("dashboards %v, want %v", got, want)
	}
	ds, err := os.ReadFile(filepath.Join(root, "grafana", "provisioning", "datasources", "datasources.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var prov struct {
		Datasources []struct {
			UID      string         `yaml:"uid"`
			JSONData map[string]any `yaml:"jsonData"`
		} `yaml:"datasources"`
	}
	if err := yaml.Unmarshal(ds, &prov); err != nil {
		t.Fatal(err)
	}
	var dsUIDs []string
	for _, d := range prov.Datasources {
		dsUIDs = append(dsUIDs, d.UID)
	}
	if !slices.Contains(dsUIDs, "prometheus") || !slices.Contains(dsUIDs, "traces") {
		t.Errorf("provisioned data sources %v, want uids prometheus and traces", dsUIDs)
	}
}

// TestAlertsHaveRunbooksAndTests: every alert is actionable (severity, summary, description, a runbook section
// that exists) and has promtool unit tests in which it fires and in which it stays quiet.
func TestAlertsHaveRunbooksAndTests(t *testing.T) {
	t.Parallel()
	obs := loadObservability(t)
	root := observabilityDir(t)
	runbook, err := os.ReadFile(filepath.Join(root, "..", "docs", "runbooks.md"))
	if err != nil {
		t.Fatal(err)
	}
	anchors := map[string]bool{}
	for _, line := range strings.Split(string(runbook), "\n") {
		if h, ok := strings.CutPrefix(line, "## "); ok {
			anchors[githubAnchor(h)] = true
		}
	}
	fires, quiet := promtoolCases(t, root)
	if len(obs.alerts) < 8 {
		t.Errorf("only %d alerts", len(obs.alerts))
	}
	for _, a := range obs.alerts {
		if s := a.Labels["severity"]; s != "critical" && s != "warning" {
			t.Errorf("%s: severity %q, want critical or warning", a.Alert, s)
		}
		for _, k := range []string{"summary", "description", "runbook_url"} {
			if strings.TrimSpace(a.Annotations[k]) == "" {
				t.Errorf("%s: no %s annotation", a.Alert, k)
			}
		}
		anchor, ok := strings.CutPrefix(a.Annotations["runbook_url"], "docs/runbooks.md#")
		if !ok || !anchors[anchor] {
			t.Errorf("%s: runbook_url %q does not point at a section of docs/runbooks.md", a.Alert, a.Annotations["runbook_url"])
		}
		if !fires[a.Alert] || !quiet[a.Alert] {
			t.Errorf("%s: promtool tests make it fire: %v, stay quiet: %v; want both", a.Alert, fires[a.Alert], quiet[a.Alert])
		}
	}
}

// ---------------------------------------------------------------------------------------------------------
// The conversation: every kind of request, event and push the dashboards and rules look at, so that every
// labelled series (which exists only once something happened) is there to be checked.

// converse drives the stack and returns the admin URLs to scrape.
func converse(t *testing.T) []string {
	t.Helper()
	a, b, c := register(t, "obsa"), register(t, "obsb"), register(t, "obsc")

	// Logins: a good one, a wrong password, a throttled account (10 failures in the window, then 429).
	a.another(t)
	mustError(t, call(t, "POST", "/api/v1/auth/login", "", map[string]any{"nickname": a.nickname, "password": "wrong-password"}), 401, "invalid_credentials", "wrong password")
	throttled := false
	for i := 0; i < 12 && !throttled; i++ {
		r := call(t, "POST", "/api/v1/auth/login", "", map[string]any{"nickname": c.nickname, "password": "wrong-password"})
		throttled = r.status == 429
	}
	if !throttled {
		t.Error("no 429 after 12 failed logins of one account")
	}
	// Token failures, refresh and refresh-token reuse, sessions.
	mustError(t, call(t, "GET", "/api/v1/users/me", "not.a.token", nil), 401, "unauthorized", "bad token")
	second := a.another(t)
	spent := second.refresh
	must(t, call(t, "POST", "/api/v1/auth/refresh", "", map[string]any{"refresh_token": spent}), 200, "refresh")
	if r := call(t, "POST", "/api/v1/auth/refresh", "", map[string]any{"refresh_token": spent}); r.status != 401 {
		t.Errorf("refresh-token reuse: %d", r.status)
	}
	must(t, call(t, "GET", "/api/v1/auth/sessions", a.access, nil), 200, "sessions")

	// Profiles: edit, avatar, search, public profile (twice: cache miss then hit), password change.
	must(t, call(t, "PATCH", "/api/v1/users/me", a.access, map[string]any{"display_name": "Obs A", "bio": "watching"}), 200, "edit")
	must(t, call(t, "PUT", "/api/v1/users/me/avatar", a.access, pngOf(t, 16, 16), "Content-Type", "image/png"), 204, "avatar")
	must(t, call(t, "GET", "/api/v1/users/"+a.id+"/avatar", "", nil), 200, "get avatar")
	must(t, call(t, "GET", "/api/v1/users?nickname=obs", a.access, nil), 200, "search")
	must(t, call(t, "GET", "/api/v1/users/"+b.id, a.access, nil), 200, "profile")
	must(t, call(t, "GET", "/api/v1/users/"+b.id, a.access, nil), 200, "profile again")
	newPassword := "pass-" + suffix() + "-new"
	must(t, call(t, "PUT", "/api/v1/users/me/password", c.access, map[string]any{"current_password": c.password, "new_password": newPassword}), 204, "password change")

	// Sockets, then friends and messages with their pushes.
	sa, sb := connect(t, a), connect(t, b)
	must(t, call(t, "POST", "/api/v1/friends/requests", a.access, map[string]any{"user_id": b.id}), 201, "request")
	sb.waitPush(t, "friend.request", 5*time.Second, "user.id", a.id)
	must(t, call(t, "POST", "/api/v1/friends/requests/"+a.id+"/accept", b.access, nil), 200, "accept")
	sa.waitPush(t, "friend.accepted", 5*time.Second, "user.id", b.id)
	must(t, call(t, "POST", "/api/v1/friends/requests", c.access, map[string]any{"user_id": a.id}), 201, "c asks a")
	must(t, call(t, "POST", "/api/v1/friends/requests/"+c.id+"/decline", a.access, nil), 204, "decline")
	must(t, call(t, "POST", "/api/v1/friends/requests", c.access, map[string]any{"user_id": a.id}), 201, "c asks again")
	must(t, call(t, "DELETE", "/api/v1/friends/"+a.id, c.access, nil), 204, "c cancels")
	must(t, call(t, "GET", "/api/v1/friends", a.access, nil), 200, "friends list")

	m1 := send(t, a, b, "hello from a")
	if _, ok := sb.waitMessage(5*time.Second, m1["id"].(string)); !ok {
		t.Error("b did not get a's message live")
	}
	m2 := send(t, b, a, "hello from b")
	if _, ok := sa.waitMessage(5*time.Second, m2["id"].(string)); !ok {
		t.Error("a did not get b's message live")
	}
	must(t, call(t, "POST", "/api/v1/chats/"+a.id+"/messages", b.access, map[string]any{"text": "and again", "client_message_id": "obs-1"}), 201, "send")
	must(t, call(t, "POST", "/api/v1/chats/"+a.id+"/messages", b.access, map[string]any{"text": "and again", "client_message_id": "obs-1"}), 200, "retried send")
	if r := call(t, "POST", "/api/v1/chats/"+c.id+"/messages", a.access, map[string]any{"text": "to a stranger"}); r.status != 403 {
		t.Errorf("send to a stranger: %d", r.status)
	}
	must(t, call(t, "POST", "/api/v1/chats/"+b.id+"/read", a.access, map[string]any{"up_to_id": m2["id"]}), 204, "read")
	sb.waitPush(t, "message.read", 5*time.Second, "peer_id", a.id, "up_to_id", m2["id"].(string))
	history(t, a, b, "?limit=10")
	must(t, call(t, "GET", "/api/v1/chats", a.access, nil), 200, "chats")

	// Logout with a socket open: the gateway closes it (dropped, reason revoked).
	must(t, call(t, "POST", "/api/v1/auth/logout", b.access, nil), 204, "logout")
	if !sb.closedWithin(5 * time.Second) {
		t.Error("the logged-out session's socket stays open")
	}

	// A gateway replica with tight per-user limits and an unreachable messages service: rate-limited
	// requests and upstream errors.
	dead, err := freeAddr()
	if err != nil {
		t.Fatal(err)
	}
	const replica = "gateway-observed"
	gw, err := stack.StartGateway(replica, "RATE_LIMIT_USER_RPS=1", "RATE_LIMIT_USER_BURST=2", "MESSAGES_URL=http://"+dead)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stack.StopProcess(replica) })
	failed, limited := false, false
	for i := 0; i < 6 && !(failed && limited); i++ {
		status := call(t, "GET", gw+"/api/v1/chats", a.access, nil).status
		failed = failed || status >= 500
		limited = limited || status == 429
	}
	if !failed || !limited {
		t.Errorf("calls through the limited replica with messages down: failed %v, rate limited %v; want both", failed, limited)
	}

	redeliver(t, c)

	// Every service has seen its part: wait until the counters of the asynchronous parts are exported.
	waitForSeries(t, stack.AdminURL("friends"), "broker_redeliveries_total")
	waitForSeries(t, stack.AdminURL("auth"), "broker_consumed_total")
	waitForSeries(t, stack.AdminURL("gateway"), "gateway_websocket_dropped_total")

	admins := []string{}
	for _, s := range Services {
		admins = append(admins, stack.AdminURL(s))
	}
	return append(admins, "http://"+adminAddrOf(t, replica))
}

// redeliver makes the broker redeliver an event to friends' consumer: a rival consumer on friends' queue takes
// a gateway.user.entered event and closes its channel without acknowledging it.
func redeliver(t *testing.T, u *account) {
	t.Helper()
	conn, err := amqp.Dial(AMQPURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	pub, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	rival, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := rival.Qos(1, 0, false); err != nil {
		t.Fatal(err)
	}
	deliveries, err := rival.Consume(stack.Exchange+".friends.user-entered", "", false, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 40; i++ {
		body, _ := json.Marshal(map[string]any{
			"id": fmt.Sprintf("obs-%s-%d", suffix(), i), "type": "gateway.user.entered", "source": "e2e",
			"time": time.Now().UTC().Format(time.RFC3339Nano),
			"data": map[string]any{"user_id": u.id, "session_id": "obs-session", "connection_id": "obs-" + suffix()},
		})
		if err := pub.Publish(stack.Exchange, "gateway.user.entered", false, false, amqp.Publishing{
			ContentType: "application/json", DeliveryMode: amqp.Persistent, Type: "gateway.user.entered", Body: body}); err != nil {
			t.Fatal(err)
		}
		select {
		case <-deliveries:
			// Closing the channel with the delivery unacknowledged returns it to the queue, redelivered.
			rival.Close()
			return
		case <-time.After(300 * time.Millisecond):
		}
	}
	t.Fatal("the rival consumer never got a delivery from friends' queue")
}

// adminAddrOf is the admin address of a process started by the stack (its last ADMIN_ADDR wins).
func adminAddrOf(t *testing.T, name string) string {
	t.Helper()
	stack.mu.Lock()
	cmd := stack.procs[name]
	stack.mu.Unlock()
	if cmd == nil {
		t.Fatalf("no process %s", name)
	}
	addr := ""
	for _, kv := range cmd.Env {
		if v, ok := strings.CutPrefix(kv, "ADMIN_ADDR="); ok {
			addr = v
		}
	}
	return addr
}

// waitForSeries waits until admin exports a sample of name above 0: the event was counted (the labelled
// counters exist at 0 from the start).
func waitForSeries(t *testing.T, admin, name string) {
	t.Helper()
	if !servertest.Eventually(t, 10*time.Second, func() bool { return servertest.Metric(t, admin, name) > 0 }, "") {
		t.Errorf("%s never counted %s", admin, name)
	}
}

// ---------------------------------------------------------------------------------------------------------
// What observability/ queries.

type query struct {
	where  string // dashboard and panel, or rule file and rule
	expr   string // PromQL with the Grafana variables substituted
	legend string // legend format ({{label}} must be a label of the result)
	// labelValues is set for a label_values(selector, label) variable: the label must exist on the selector.
	labelValues string
}

type observability struct {
	queries []query
	records []rulefmt.Rule
	alerts  []rulefmt.Rule
	groups  map[string][]string // rule group -> its rules' names (record or alert)
}

func observabilityDir(t *testing.T) string {
	t.Helper()
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "observability")
}

func loadObservability(t *testing.T) observability {
	t.Helper()
	root := observabilityDir(t)
	obs := observability{groups: map[string][]string{}}
	dashboards, _ := filepath.Glob(filepath.Join(root, "grafana", "dashboards", "*.json"))
	if len(dashboards) == 0 {
		t.Fatal("no dashboards in observability/grafana/dashboards")
	}
	for _, f := range dashboards {
		obs.queries = append(obs.queries, readDashboard(t, f).queries(t, filepath.Base(f))...)
	}
	ruleFiles, _ := filepath.Glob(filepath.Join(root, "prometheus", "rules", "*.yml"))
	if len(ruleFiles) == 0 {
		t.Fatal("no rule files in observability/prometheus/rules")
	}
	for _, f := range ruleFiles {
		groups, errs := rulefmt.ParseFile(f, false, model.UTF8Validation, parser.NewParser(parser.Options{}), slog.New(slog.DiscardHandler))
		if len(errs) > 0 {
			t.Fatalf("%s: %v", f, errs)
		}
		for _, g := range groups.Groups {
			for _, r := range g.Rules {
				name := r.Record + r.Alert
				obs.groups[g.Name] = append(obs.groups[g.Name], name)
				obs.queries = append(obs.queries, query{where: filepath.Base(f) + " / " + name, expr: r.Expr})
				if r.Record != "" {
					obs.records = append(obs.records, r)
				} else {
					obs.alerts = append(obs.alerts, r)
				}
			}
		}
	}
	return obs
}

type dashboard struct {
	UID        string  `json:"uid"`
	Title      string  `json:"title"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []variable `json:"list"`
	} `json:"templating"`
}

type panel struct {
	Type        string `json:"type"`
	Title       string `json:"title"`
	Description string `json:"description"`
	Datasource  struct {
		UID string `json:"uid"`
	} `json:"datasource"`
	Targets []struct {
		RefID        string `json:"refId"`
		Expr         string `json:"expr"`
		LegendFormat string `json:"legendFormat"`
	} `json:"targets"`
	Panels []panel `json:"panels"` // a collapsed row's panels
}

type variable struct {
	Name  string          `json:"name"`
	Type  string          `json:"type"`
	Query json.RawMessage `json:"query"` // a string, or {"query": "..."} for Prometheus query variables
}

func readDashboard(t *testing.T, file string) dashboard {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("%s is not valid dashboard JSON: %v", file, err)
	}
	return d
}

func (d dashboard) allPanels() []panel {
	var out []panel
	for _, p := range d.Panels {
		out = append(out, p)
		out = append(out, p.Panels...)
	}
	return out
}

// variableValues gives each dashboard variable the value its queries are checked with: a constant's own
// value; for a query variable (a multi-value selection) a placeholder, so that a `label="$var"` equality on a
// label whose values are checked (service) is reported: such a variable belongs in a regex matcher.
func (d dashboard) variableValues() map[string]string {
	vals := map[string]string{"__rate_interval": "1m", "__interval": "1m", "__range": "1h", "__range_s": "3600", "__interval_ms": "60000"}
	for _, v := range d.Templating.List {
		switch v.Type {
		case "constant", "textbox", "custom":
			var s string
			_ = json.Unmarshal(v.Query, &s)
			vals[v.Name], _, _ = strings.Cut(s, ",")
		default:
			vals[v.Name] = "selected-" + v.Name
		}
	}
	return vals
}

var grafanaVar = regexp.MustCompile(`\$\{(\w+)(?::[^}]*)?\}|\[\[(\w+)(?::[^\]]*)?\]\]|\$(\w+)`)

func substitute(s string, vals map[string]string) (string, []string) {
	var unknown []string
	out := grafanaVar.ReplaceAllStringFunc(s, func(m string) string {
		sub := grafanaVar.FindStringSubmatch(m)
		name := sub[1] + sub[2] + sub[3]
		v, ok := vals[name]
		if !ok {
			unknown = append(unknown, name)
			return m
		}
		return v
	})
	return out, unknown
}

var labelValuesQuery = regexp.MustCompile(`^\s*label_values\((.*),\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*$`)

func (d dashboard) queries(t *testing.T, file string) []query {
	t.Helper()
	vals := d.variableValues()
	var out []query
	add := func(where, expr, legend string, lv bool) {
		e, unknown := substitute(expr, vals)
		if len(unknown) > 0 {
			t.Errorf("%s: undefined Grafana variables %v", where, unknown)
		}
		q := query{where: where, expr: e, legend: legend}
		if lv {
			m := labelValuesQuery.FindStringSubmatch(e)
			if m == nil {
				t.Errorf("%s: variable query %q is not label_values(selector, label)", where, e)
				return
			}
			q.expr, q.labelValues = m[1], m[2]
		}
		out = append(out, q)
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q struct {
			Query string `json:"query"`
		}
		var s string
		if json.Unmarshal(v.Query, &s) != nil {
			_ = json.Unmarshal(v.Query, &q)
			s = q.Query
		}
		add(file+" / variable "+v.Name, s, "", true)
	}
	for _, p := range d.allPanels() {
		for _, tg := range p.Targets {
			add(file+" / "+p.Title+" / "+tg.RefID, tg.Expr, tg.LegendFormat, false)
		}
	}
	return out
}

// promtoolCases returns the alerts some promtool test expects to fire and those some test expects quiet.
func promtoolCases(t *testing.T, root string) (fires, quiet map[string]bool) {
	t.Helper()
	fires, quiet = map[string]bool{}, map[string]bool{}
	files, _ := filepath.Glob(filepath.Join(root, "prometheus", "tests", "*.yml"))
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Tests []struct {
				AlertRuleTest []struct {
					Alertname string `yaml:"alertname"`
					ExpAlerts []any  `yaml:"exp_alerts"`
				} `yaml:"alert_rule_test"`
			} `yaml:"tests"`
		}
		if err := yaml.Unmarshal(raw, &doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, tc := range doc.Tests {
			for _, a := range tc.AlertRuleTest {
				if len(a.ExpAlerts) > 0 {
					fires[a.Alertname] = true
				} else {
					quiet[a.Alertname] = true
				}
			}
		}
	}
	return fires, quiet
}

// githubAnchor is the fragment GitHub gives a Markdown heading.
func githubAnchor(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(heading)) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteRune('-')
		}
	}
	return b.String()
}

// ---------------------------------------------------------------------------------------------------------
// The catalog of what can be queried: scraped metric names (histograms as _bucket/_sum/_count, as Prometheus
// stores them) with their label names and values, the series Prometheus makes itself, and the recording rules'
// results.

type labelSet map[string]bool

type series struct {
	labels labelSet
	values map[string]map[string]bool // label → values seen
}

type catalog struct {
	metrics map[string]*series
}

// Labels Prometheus attaches to every scraped series: job and instance, and service, which every target carries
// (the static labels of prometheus.yml; the ServiceMonitors' relabeling in Kubernetes).
var targetLabels = []string{"job", "instance", "service"}

func newCatalog() *catalog {
	c := &catalog{metrics: map[string]*series{}}
	// Series Prometheus writes for every target.
	for _, n := range []string{"up", "scrape_duration_seconds", "scrape_samples_scraped", "scrape_samples_post_metric_relabeling", "scrape_series_added"} {
		c.add(n, nil, nil)
	}
	return c
}

func (c *catalog) add(name string, labels []*dto.LabelPair, extra []string) {
	s := c.metrics[name]
	if s == nil {
		s = &series{labels: labelSet{}, values: map[string]map[string]bool{}}
		for _, l := range targetLabels {
			s.labels[l] = true
		}
		c.metrics[name] = s
	}
	for _, l := range extra {
		s.labels[l] = true
	}
	for _, lp := range labels {
		s.labels[lp.GetName()] = true
		if s.values[lp.GetName()] == nil {
			s.values[lp.GetName()] = map[string]bool{}
		}
		s.values[lp.GetName()][lp.GetValue()] = true
	}
}

func (c *catalog) addFamily(f *dto.MetricFamily) {
	name := f.GetName()
	for _, m := range f.GetMetric() {
		switch f.GetType() {
		case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
			c.add(name+"_bucket", m.GetLabel(), []string{"le"})
			c.add(name+"_sum", m.GetLabel(), nil)
			c.add(name+"_count", m.GetLabel(), nil)
		case dto.MetricType_SUMMARY:
			c.add(name, m.GetLabel(), []string{"quantile"})
			c.add(name+"_sum", m.GetLabel(), nil)
			c.add(name+"_count", m.GetLabel(), nil)
		default:
			c.add(name, m.GetLabel(), nil)
		}
	}
}

func (c *catalog) addScrape(t *testing.T, admin string) {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(strings.NewReader(servertest.Scrape(t, admin, false)))
	if err != nil {
		t.Fatalf("parse the metrics of %s: %v", admin, err)
	}
	for _, f := range families {
		c.addFamily(f)
	}
}

// addRecordingRules adds each rule's result: its name, with the labels its expression returns and its own.
func (c *catalog) addRecordingRules(t *testing.T, rules []rulefmt.Rule) {
	t.Helper()
	p := parser.NewParser(parser.Options{})
	for _, r := range rules {
		e, err := p.ParseExpr(r.Expr)
		if err != nil {
			t.Fatalf("%s: %v", r.Record, err)
		}
		s := &series{labels: c.outputLabels(e), values: map[string]map[string]bool{}}
		for k := range r.Labels {
			s.labels[k] = true
		}
		c.metrics[r.Record] = s
	}
}

func (c *catalog) names() []string {
	var out []string
	for n := range c.metrics {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// outputLabels is the set of label names the expression's result can carry.
func (c *catalog) outputLabels(e parser.Expr) labelSet {
	switch n := e.(type) {
	case *parser.VectorSelector:
		out := labelSet{}
		if s := c.metrics[selectorName(n)]; s != nil {
			for l := range s.labels {
				out[l] = true
			}
		}
		return out
	case *parser.MatrixSelector:
		return c.outputLabels(n.VectorSelector)
	case *parser.SubqueryExpr:
		return c.outputLabels(n.Expr)
	case *parser.ParenExpr:
		return c.outputLabels(n.Expr)
	case *parser.UnaryExpr:
		return c.outputLabels(n.Expr)
	case *parser.StepInvariantExpr:
		return c.outputLabels(n.Expr)
	case *parser.AggregateExpr:
		inner := c.outputLabels(n.Expr)
		out := labelSet{}
		switch {
		case n.Op == parser.TOPK || n.Op == parser.BOTTOMK || n.Op == parser.LIMITK || n.Op == parser.LIMIT_RATIO:
			return inner
		case n.Without:
			for l := range inner {
				if !slices.Contains(n.Grouping, l) {
					out[l] = true
				}
			}
		default:
			for _, l := range n.Grouping {
				out[l] = true
			}
		}
		if n.Op == parser.COUNT_VALUES {
			if s, ok := n.Param.(*parser.StringLiteral); ok {
				out[s.Val] = true
			}
		}
		return out
	case *parser.Call:
		switch n.Func.Name {
		case "histogram_quantile", "histogram_fraction":
			out := labelSet{}
			for l := range c.outputLabels(n.Args[len(n.Args)-1]) {
				if l != "le" {
					out[l] = true
				}
			}
			return out
		case "label_replace", "label_join":
			out := c.outputLabels(n.Args[0])
			if s, ok := n.Args[1].(*parser.StringLiteral); ok {
				out[s.Val] = true
			}
			return out
		case "vector", "scalar", "time", "absent", "absent_over_time":
			return labelSet{}
		}
		for _, a := range n.Args {
			if t := a.Type(); t == parser.ValueTypeVector || t == parser.ValueTypeMatrix {
				return c.outputLabels(a)
			}
		}
		return labelSet{}
	case *parser.BinaryExpr:
		lhs, rhs := c.outputLabels(n.LHS), c.outputLabels(n.RHS)
		if n.LHS.Type() != parser.ValueTypeVector {
			return rhs
		}
		if n.RHS.Type() != parser.ValueTypeVector {
			return lhs
		}
		vm := n.VectorMatching
		switch {
		case n.Op == parser.LOR:
			for l := range rhs {
				lhs[l] = true
			}
			return lhs
		case vm != nil && vm.Card == parser.CardOneToMany:
			for _, l := range vm.Include {
				rhs[l] = true
			}
			return rhs
		case vm != nil && vm.Card == parser.CardManyToOne:
			for _, l := range vm.Include {
				lhs[l] = true
			}
			return lhs
		}
		return lhs
	}
	return labelSet{}
}

// known reports whether every metric e selects is in the catalog (an unknown one is reported by itself; the
// labels of what contains it are then unknown too, and not worth a second report).
func (c *catalog) known(e parser.Node) bool {
	ok := true
	parser.Inspect(e, func(node parser.Node, _ []parser.Node) error {
		if vs, is := node.(*parser.VectorSelector); is && c.metrics[selectorName(vs)] == nil {
			ok = false
		}
		return nil
	})
	return ok
}

func selectorName(vs *parser.VectorSelector) string {
	if vs.Name != "" {
		return vs.Name
	}
	for _, m := range vs.LabelMatchers {
		if m.Name == model.MetricNameLabel && m.Type == labels.MatchEqual {
			return m.Value
		}
	}
	return ""
}

var legendLabel = regexp.MustCompile(`\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}`)

// Label values worth checking for equality matchers: the services are fixed, and every route a query names
// is one the conversation exercised.
var checkedValues = []string{"service", "route"}

// check returns what is wrong with one query.
func (c *catalog) check(q query) []string {
	e, err := parser.NewParser(parser.Options{}).ParseExpr(q.expr)
	if err != nil {
		return []string{fmt.Sprintf("%q does not parse: %v", q.expr, err)}
	}
	var problems []string
	report := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	needLabels := func(what string, names []string, have labelSet) {
		for _, l := range names {
			if !have[l] {
				report("%s label %q is not a label of what it applies to (%s)", what, l, keys(have))
			}
		}
	}
	parser.Inspect(e, func(node parser.Node, _ []parser.Node) error {
		switch n := node.(type) {
		case *parser.VectorSelector:
			name := selectorName(n)
			s := c.metrics[name]
			if name == "" {
				report("selector %s has no fixed metric name", n)
				return nil
			}
			if s == nil {
				report("metric %q is not exported by any service (nor recorded by a rule)", name)
				return nil
			}
			for _, m := range n.LabelMatchers {
				if m.Name == model.MetricNameLabel {
					continue
				}
				if !s.labels[m.Name] {
					report("metric %q has no label %q (it has %s)", name, m.Name, keys(s.labels))
					continue
				}
				if !slices.Contains(checkedValues, m.Name) {
					continue
				}
				equality := m.Type == labels.MatchEqual || m.Type == labels.MatchNotEqual
				if m.Name == "service" && equality && !slices.Contains(Services, m.Value) {
					report("%s: service %q is not one of the services %v", name, m.Value, Services)
				} else if m.Name == "route" && equality && !s.values["route"][m.Value] {
					report("%s: route %q was never served (routes seen: %s)", name, m.Value, keys(s.values["route"]))
				}
			}
		case *parser.AggregateExpr:
			if c.known(n.Expr) {
				needLabels(n.Op.String()+" by/without", n.Grouping, c.outputLabels(n.Expr))
			}
		case *parser.BinaryExpr:
			if vm := n.VectorMatching; vm != nil && (len(vm.MatchingLabels) > 0 || len(vm.Include) > 0) && c.known(n) {
				both := c.outputLabels(n.LHS)
				for l := range c.outputLabels(n.RHS) {
					both[l] = true
				}
				needLabels("on/ignoring", vm.MatchingLabels, both)
				needLabels("group_left/group_right", vm.Include, both)
			}
		case *parser.Call:
			var sources []parser.Expr
			switch {
			case n.Func.Name == "label_replace" && len(n.Args) > 3:
				sources = n.Args[3:4]
			case n.Func.Name == "label_join" && len(n.Args) > 3:
				sources = n.Args[3:]
			}
			for _, a := range sources {
				// An empty source label is no label: label_replace(vector(0), "service", "gateway", "", "") sets one.
				if s, ok := a.(*parser.StringLiteral); ok && s.Val != "" {
					needLabels(n.Func.Name+" source", []string{s.Val}, c.outputLabels(n.Args[0]))
				}
			}
		}
		return nil
	})
	if !c.known(e) {
		return problems
	}
	out := c.outputLabels(e)
	if q.labelValues != "" && !out[q.labelValues] {
		report("label_values: %q is not a label of %s (it has %s)", q.labelValues, q.expr, keys(out))
	}
	for _, m := range legendLabel.FindAllStringSubmatch(q.legend, -1) {
		if !out[m[1]] {
			report("legend {{%s}} names a label the query does not return (it returns %s)", m[1], keys(out))
		}
	}
	return problems
}

func keys[V any](m map[string]V) string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return "[" + strings.Join(out, " ") + "]"
}

func ptr[T any](v T) *T { return &v }
