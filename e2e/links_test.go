package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"simplemessenger/platform/server/servertest"
)

// Fault links: an in-process toxiproxy (listening on loopback only) between one service and MariaDB or
// RabbitMQ, so the chaos test can make that link slow, silent or broken while everything else stays healthy.
// A service is routed through its links by restarting it with MYSQL_ADDR / AMQP_URL pointing at the proxies.

// link is one proxied connection path (e.g. messages → MariaDB).
type link struct {
	name  string
	proxy *toxiproxy.Proxy
}

var (
	toxiOnce   sync.Once
	toxiServer *toxiproxy.ApiServer
)

func toxiproxyServer() *toxiproxy.ApiServer {
	toxiOnce.Do(func() {
		toxiServer = toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	})
	return toxiServer
}

// newLink starts a proxy on a free loopback port in front of upstream (host:port); it is stopped when the test
// ends.
func newLink(t *testing.T, name, upstream string) *link {
	t.Helper()
	p := toxiproxy.NewProxy(toxiproxyServer(), name, "127.0.0.1:0", upstream)
	if err := p.Start(); err != nil {
		t.Fatalf("fault proxy %s: %v", name, err)
	}
	t.Cleanup(p.Stop)
	return &link{name: name, proxy: p}
}

// Addr is where the service connects instead of the upstream.
func (l *link) Addr() string { return l.proxy.Listen }

// add installs a toxic (toxiproxy's JSON form: type, stream, attributes) on every connection of the link, open
// or new, until it is removed; it is removed when the test ends in any case.
func (l *link) add(t *testing.T, name, typ, stream string, attrs string) {
	t.Helper()
	spec := fmt.Sprintf(`{"name":%q,"type":%q,"stream":%q,"toxicity":1,"attributes":%s}`, name, typ, stream, attrs)
	if _, err := l.proxy.Toxics.AddToxicJson(strings.NewReader(spec)); err != nil {
		t.Fatalf("toxic %s on %s: %v", name, l.name, err)
	}
	t.Cleanup(func() { _ = l.proxy.Toxics.RemoveToxic(context.Background(), name) })
}

func (l *link) remove(t *testing.T, name string) {
	t.Helper()
	if err := l.proxy.Toxics.RemoveToxic(context.Background(), name); err != nil {
		t.Errorf("removing toxic %s from %s: %v", name, l.name, err)
	}
}

// amqpURLVia is AMQPURL with its host replaced by addr.
func amqpURLVia(addr string) string {
	u, err := url.Parse(AMQPURL)
	if err != nil {
		panic(err)
	}
	u.Host = addr
	return u.String()
}

// brokerAddr is the host:port of AMQPURL.
func brokerAddr() string {
	u, err := url.Parse(AMQPURL)
	if err != nil {
		panic(err)
	}
	if u.Port() == "" {
		return u.Hostname() + ":5672"
	}
	return u.Host
}

var (
	rerouteMu sync.Mutex
	origExtra = map[string][]string{} // a process's own variables before the first reroute
)

// Reroute stops the named process (SIGTERM, so it drains) and starts it again with vars added to the
// variables it was first started with; with no vars it gets its original environment back.
func (s *Stack) Reroute(name string, within time.Duration, vars ...string) error {
	s.mu.Lock()
	spec, ok := s.specs[name]
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("no process %q was started", name)
	}
	rerouteMu.Lock()
	base, seen := origExtra[name]
	if !seen {
		base = append([]string(nil), spec.extra...)
		origExtra[name] = base
	}
	rerouteMu.Unlock()
	s.StopProcess(name)
	if err := s.startAppend(name, spec.svc, spec.addr, spec.admin, append(append([]string(nil), base...), vars...)...); err != nil {
		return err
	}
	if err := waitReady(spec.admin, within); err != nil {
		return fmt.Errorf("%s not ready after reroute: %v\n%s", name, err, tail(s.Logs(name), 30))
	}
	return s.alive(name)
}

// serviceLinks are the fault links of one service to MariaDB and RabbitMQ.
type serviceLinks struct {
	svc         string
	mysql, amqp *link
}

// routeThroughLinks restarts svc with its MariaDB and RabbitMQ connections going through fresh fault links and
// registers the restart that puts it back on direct connections when the test ends.
func routeThroughLinks(t *testing.T, svc string) *serviceLinks {
	t.Helper()
	l := &serviceLinks{svc: svc, mysql: newLink(t, svc+"-mysql", MySQLAddr), amqp: newLink(t, svc+"-amqp", brokerAddr())}
	t.Cleanup(func() {
		if err := stack.Reroute(svc, 60*time.Second); err != nil {
			t.Errorf("putting %s back on direct links: %v", svc, err)
		}
	})
	if err := stack.Reroute(svc, 60*time.Second, "MYSQL_ADDR="+l.mysql.Addr(), "AMQP_URL="+amqpURLVia(l.amqp.Addr())); err != nil {
		t.Fatal(err)
	}
	return l
}

// pendingOutbox counts the events svc has committed to its outbox and not yet published.
func pendingOutbox(t *testing.T, svc string) int {
	t.Helper()
	db, err := sql.Open("mysql", MySQLUser+":"+os.Getenv("MYSQL_PASSWORD")+"@tcp("+MySQLAddr+")/"+stack.dbName(svc))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM outbox WHERE published_at IS NULL").Scan(&n); err != nil {
		t.Fatalf("counting %s's outbox: %v", svc, err)
	}
	return n
}

// linkFault is a fault on one link of svc: setup routes svc through its fault links (before the load starts),
// inject applies the toxic for cfg.down and removes it.
func linkFault(name, svc, which, typ, stream, attrs string) chaosFault {
	var links *serviceLinks
	return chaosFault{
		name: name,
		setup: func(t *testing.T) (func(int) string, func(int) string) {
			links = routeThroughLinks(t, svc)
			main := func(int) string { return stack.GatewayURL }
			return main, main
		},
		inject: func(t *testing.T, cfg chaosConfig) {
			l := links.mysql
			if which == "amqp" {
				l = links.amqp
			}
			l.add(t, "fault", typ, stream, attrs)
			time.Sleep(cfg.down)
			l.remove(t, "fault")
		},
	}
}

// killBetweenCommitAndPublish routes messages through fault links, silences its RabbitMQ link so the relay
// cannot get a confirm while sends keep committing, waits until committed events are waiting in the outbox,
// SIGKILLs messages with them there, and starts it again on a healthy link: the restarted relay must publish
// what the dead one could not.
func killBetweenCommitAndPublish() chaosFault {
	var links *serviceLinks
	return chaosFault{
		name: "messages SIGKILL with unpublished outbox",
		setup: func(t *testing.T) (func(int) string, func(int) string) {
			links = routeThroughLinks(t, "messages")
			main := func(int) string { return stack.GatewayURL }
			return main, main
		},
		inject: func(t *testing.T, cfg chaosConfig) {
			links.amqp.add(t, "silence", "timeout", "downstream", `{"timeout":0}`)
			pending := 0
			if !servertest.Eventually(t, cfg.down+10*time.Second, func() bool {
				pending = pendingOutbox(t, "messages")
				return pending >= 10
			}, "") {
				t.Fatalf("the outbox never held 10 unpublished events (%d) with the broker link silent", pending)
			}
			if err := stack.Kill("messages", 9); err != nil {
				t.Fatal(err)
			}
			left := pendingOutbox(t, "messages")
			t.Logf("messages SIGKILLed with %d committed events unpublished in its outbox", left)
			links.amqp.remove(t, "silence")
			time.Sleep(cfg.down / 3)
			if err := stack.relaunch("messages"); err != nil {
				t.Fatal(err)
			}
			if err := stack.waitRelaunched("messages", 60*time.Second); err != nil {
				t.Fatal(err)
			}
			if !servertest.Eventually(t, 30*time.Second, func() bool { return pendingOutbox(t, "messages") == 0 }, "") {
				t.Errorf("the restarted messages service left %d events unpublished 30 s after its start", pendingOutbox(t, "messages"))
			}
		},
	}
}

// combinedBrokerAndKills stops RabbitMQ, SIGKILLs messages and friends while it is down, starts them again
// while it is still down, then brings RabbitMQ back: services must come up and recover in any order.
func combinedBrokerAndKills(t *testing.T, cfg chaosConfig) {
	t.Cleanup(func() { _ = runQuiet("rabbitmqctl", "-q", "start_app") })
	if err := runQuiet("rabbitmqctl", "-q", "stop_app"); err != nil {
		t.Fatal(err)
	}
	for _, svc := range []string{"messages", "friends"} {
		if err := stack.Kill(svc, 9); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(cfg.down / 3)
	for _, svc := range []string{"messages", "friends"} {
		if err := stack.relaunch(svc); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(cfg.down * 2 / 3)
	if err := runQuiet("rabbitmqctl", "-q", "start_app"); err != nil {
		t.Fatal(err)
	}
	for _, svc := range []string{"messages", "friends"} {
		if err := stack.waitRelaunched(svc, 60*time.Second); err != nil {
			t.Fatal(err)
		}
	}
}

// combinedDatabaseAndReplica stops MariaDB and SIGKILLs a gateway replica with connected users at the same time.
func combinedDatabaseAndReplica(t *testing.T, cfg chaosConfig) {
	if err := stack.Kill("chaos-gateway", 9); err != nil {
		t.Fatal(err)
	}
	injectMariaDBStop(t, cfg)
}

func runQuiet(name string, args ...string) error {
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		return fmt.Errorf("%s %v: %v %s", name, args, err, out)
	}
	return nil
}
