package e2e

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// The soak test (make soak; SOAK_DURATION=60s in CI): a steady chat load at a fixed rate for SOAK_DURATION,
// then proof that every service comes back to where it was before: goroutines, open file descriptors, heap in
// use, MySQL connections (the pool's view and the server's), AMQP connections and the gateway's sockets. A leak
// per request, per WebSocket or per login shows up as a count that keeps what the load added.
//
// Baseline and "after" are taken in the same state: client sockets closed, the test's idle keep-alive
// connections closed, the services left alone until their figures stop falling (at most SOAK_SETTLE). The
// warm-up before the baseline runs the same load, plus one burst at the load's full concurrency, so that the
// bounded things that legitimately grow on first use (HTTP keep-alive pools between services, up to one idle
// connection per concurrent request; database pools; the gateway's profile cache; lazily started workers) are
// already as large at the baseline as the load can make them.
//
// Settings (environment): SOAK_DURATION (required, e.g. 60s, 5m), SOAK_RATE (messages/s, default 50: with
// the other requests, about 80 requests/s, which the whole stack, MariaDB and RabbitMQ sustain on 2 cores),
// SOAK_PAIRS (friend pairs, default 20), SOAK_WORKERS (concurrent requests at most, default 48), SOAK_WARMUP
// (default 8s), SOAK_SETTLE (default 30s), SOAK_SAMPLE (sampling interval, default 5s), SOAK_PROFILES_DIR
// (optional: heap and goroutine profiles of every service at the baseline and after, to diff with pprof).

// Tolerances: what "back to the baseline" allows, per service. Each is small next to what a leak of one
// object per operation leaves behind after a 60 s run at 50 messages/s (3,000 sends, ~150 socket churns,
// ~30 logins): a leak of one goroutine per churned socket alone is +150.
const (
	// Goroutines and fds are compared without those of the connections between the stack's processes and to
	// MariaDB (2 goroutines per client-side keep-alive connection, 1 per server side, 1 per database
	// connection; 1 fd each, counted from /proc): pools keep or drop those by idle timeouts (90 s for HTTP,
	// MYSQL_CONN_MAX_IDLE_TIME), so the raw counts after the run may be above or below the baseline by
	// dozens without any leak, which would hide a leak as large. Client connections (sockets of the test's
	// clients) are not excluded: after the load there must be none.
	// Goroutines: a background loop may be mid-iteration (a relay poll, a consumer delivery, a ticker): a
	// handful. Measured: 0 to +2. A socket the gateway keeps is +3 goroutines and +1 fd.
	soakGoroutineSlack = 10
	// Open fds: a file or connection opened by background work at that moment. Measured: 0 to +1.
	soakFDSlack = 5
	// Server-side MySQL connections per database: the pool keeps up to MYSQL_MAX_IDLE_CONNS (20) idle ones
	// for MYSQL_CONN_MAX_IDLE_TIME (1 m), so a few more than the baseline can still be idle after the run.
	soakMySQLSlack = 4
	// Pool connections in use (go_sql_in_use_connections): background work (the relay's advisory-lock
	// connection, a poll) holds at most one more than at the baseline; a leaked Rows or Tx holds one forever.
	soakInUseSlack = 1
	// Live heap: heap_alloc read right after a forced GC (the admin port's /debug/pprof/heap?gc=1), so it is
	// the live heap plus what the idle service allocated since (heap in use also counts partly used spans,
	// which fragmentation grows without a leak; it is reported, not checked). Caches and pools filled in the
	// warm-up, so a little for background work and bounded caches still filling. With a ~5 MiB baseline the
	// limit is 4 MiB above it: a 60 s run at 50 msg/s catches a leak of ~1.5 KiB per message, a 5 m run one
	// of ~0.3 KiB.
	soakHeapFactor = 1.2
	soakHeapSlack  = 3 << 20
	// RSS: a loose ceiling only (the runtime returns memory to the OS lazily, in the background); the
	// services use 20–40 MiB each under this load.
	soakRSSCeiling = 128 << 20
)

// soakConfig is one soak run's size.
type soakConfig struct {
	duration, warmup, settle, sample time.Duration
	rate                             float64
	pairs, workers                   int
}

func soakSettings(t *testing.T) soakConfig {
	cfg := soakConfig{warmup: 8 * time.Second, settle: 30 * time.Second, sample: 5 * time.Second, rate: 50, pairs: 20, workers: 48}
	d, err := time.ParseDuration(os.Getenv("SOAK_DURATION"))
	if err != nil || d <= 0 {
		t.Fatalf("SOAK_DURATION=%q: want a duration such as 60s or 5m", os.Getenv("SOAK_DURATION"))
	}
	cfg.duration = d
	durs := map[string]*time.Duration{"SOAK_WARMUP": &cfg.warmup, "SOAK_SETTLE": &cfg.settle, "SOAK_SAMPLE": &cfg.sample}
	for k, p := range durs {
		if v := os.Getenv(k); v != "" {
			if *p, err = time.ParseDuration(v); err != nil {
				t.Fatalf("%s=%q: %v", k, v, err)
			}
		}
	}
	ints := map[string]*int{"SOAK_PAIRS": &cfg.pairs, "SOAK_WORKERS": &cfg.workers}
	for k, p := range ints {
		if v := os.Getenv(k); v != "" {
			if *p, err = strconv.Atoi(v); err != nil || *p <= 0 {
				t.Fatalf("%s=%q: want a positive integer", k, v)
			}
		}
	}
	if v := os.Getenv("SOAK_RATE"); v != "" {
		if cfg.rate, err = strconv.ParseFloat(v, 64); err != nil || cfg.rate <= 0 {
			t.Fatalf("SOAK_RATE=%q: want a positive number", v)
		}
	}
	return cfg
}

// soakFigures is one service's resource figures at one moment.
type soakFigures struct {
	goroutines, fds, heapInuse, rss float64
	heapLive                        float64 // go_memstats_heap_alloc_bytes: after a forced GC, the live heap
	mysqlServer                     float64 // connections MariaDB sees on the service's database
	poolOpen, poolInUse             float64 // go_sql_open_connections, go_sql_in_use_connections
	amqp                            float64 // established TCP connections from the process to the broker
	sockets                         float64 // gateway_websocket_connections (gateway only)
	mysqlSockets                    float64 // established TCP connections from the process to MariaDB
	clientKeepAlive                 float64 // connections from this process to another service of the stack
	serverKeepAlive                 float64 // connections from another service of the stack to this one
	goroutinesExcl, fdsExcl         float64 // goroutines and fds minus what those connections account for
}

// soakFields names the figures for the table, in order, with how to print them.
var soakFields = []struct {
	name string
	get  func(f soakFigures) float64
	mib  bool
}{
	{"goroutines", func(f soakFigures) float64 { return f.goroutines }, false},
	{"goroutines excl conns", func(f soakFigures) float64 { return f.goroutinesExcl }, false},
	{"open fds", func(f soakFigures) float64 { return f.fds }, false},
	{"fds excl conns", func(f soakFigures) float64 { return f.fdsExcl }, false},
	{"keep-alive conns", func(f soakFigures) float64 { return f.clientKeepAlive + f.serverKeepAlive }, false},
	{"heap live MiB", func(f soakFigures) float64 { return f.heapLive }, true},
	{"heap inuse MiB", func(f soakFigures) float64 { return f.heapInuse }, true},
	{"RSS MiB", func(f soakFigures) float64 { return f.rss }, true},
	{"mysql conns (server)", func(f soakFigures) float64 { return f.mysqlServer }, false},
	{"sql pool open", func(f soakFigures) float64 { return f.poolOpen }, false},
	{"sql pool in use", func(f soakFigures) float64 { return f.poolInUse }, false},
	{"amqp conns", func(f soakFigures) float64 { return f.amqp }, false},
	{"websockets", func(f soakFigures) float64 { return f.sockets }, false},
}

// soakProbe reads the figures of every service of the stack.
type soakProbe struct {
	db     *sql.DB
	client *http.Client
	amqp   string // the broker's port, as /proc/net/tcp writes it (upper-case hex)
	mysql  string // MariaDB's port, likewise
}

func newSoakProbe(t *testing.T) *soakProbe {
	db, err := sql.Open("mysql", MySQLUser+":"+os.Getenv("MYSQL_PASSWORD")+"@tcp("+MySQLAddr+")/")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	u, err := url.Parse(AMQPURL)
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(u.Port())
	if port == 0 {
		port = 5672
	}
	// Its own client without keep-alive, so probing never leaves a connection open on an admin port.
	_, mport, _ := strings.Cut(MySQLAddr, ":")
	mp, _ := strconv.Atoi(mport)
	return &soakProbe{db: db, client: &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}},
		amqp: fmt.Sprintf("%04X", port), mysql: fmt.Sprintf("%04X", mp)}
}

// read returns the figures of every service; with gc, each service collects its garbage first, so the heap in
// use is the live heap (Go frees lazily: without it, the figure depends on when the last GC ran).
func (p *soakProbe) read(gc bool) (map[string]soakFigures, error) {
	if gc {
		for _, svc := range Services {
			res, err := p.client.Get(stack.AdminURL(svc) + "/debug/pprof/heap?gc=1")
			if err != nil {
				return nil, fmt.Errorf("%s: forcing a GC: %w", svc, err)
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != 200 {
				return nil, fmt.Errorf("%s: GET /debug/pprof/heap?gc=1 on the admin port: %d", svc, res.StatusCode)
			}
		}
	}
	server, err := p.mysqlConnections()
	if err != nil {
		return nil, err
	}
	out := map[string]soakFigures{}
	for _, svc := range Services {
		m, err := p.scrape(svc)
		if err != nil {
			return nil, err
		}
		f := soakFigures{goroutines: m["go_goroutines"], fds: m["process_open_fds"], heapInuse: m["go_memstats_heap_inuse_bytes"], heapLive: m["go_memstats_heap_alloc_bytes"],
			rss: m["process_resident_memory_bytes"], poolOpen: m["go_sql_open_connections"], poolInUse: m["go_sql_in_use_connections"],
			sockets: m["gateway_websocket_connections"], mysqlServer: float64(server[stack.Database(svc)])}
		out[svc] = f
	}
	if err := p.classifyConnections(out); err != nil {
		return nil, err
	}
	return out, nil
}

// mustRead is read for the test's goroutine.
func (p *soakProbe) mustRead(t *testing.T, gc bool) map[string]soakFigures {
	t.Helper()
	all, err := p.read(gc)
	if err != nil {
		t.Fatal(err)
	}
	return all
}

// scrape returns each metric of a service's /metrics summed over its series.
func (p *soakProbe) scrape(svc string) (map[string]float64, error) {
	res, err := p.client.Get(stack.AdminURL(svc) + "/metrics")
	if err != nil {
		return nil, fmt.Errorf("%s metrics: %w", svc, err)
	}
	defer res.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		name, rest, _ := strings.Cut(line, " ")
		if i := strings.IndexByte(line, '{'); i >= 0 && i < len(name) {
			name = line[:i]
			if j := strings.LastIndexByte(line, '}'); j > i {
				rest = strings.TrimSpace(line[j+1:])
			}
		}
		v, _, _ := strings.Cut(rest, " ")
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			out[name] += f
		}
	}
	return out, sc.Err()
}

// mysqlConnections counts MariaDB's connections per database of this stack (what the server holds open,
// whatever the pools believe).
func (p *soakProbe) mysqlConnections() (map[string]int, error) {
	rows, err := p.db.Query("SELECT DB, COUNT(*) FROM information_schema.PROCESSLIST WHERE DB LIKE ? GROUP BY DB",
		strings.TrimSuffix(stack.Database("auth"), "auth")+"%")
	if err != nil {
		return nil, fmt.Errorf("processlist: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var db string
		var n int
		if err := rows.Scan(&db, &n); err != nil {
			return nil, err
		}
		out[db] = n
	}
	return out, rows.Err()
}

// soakConn is one established TCP connection of a process, as /proc/net/tcp writes endpoints
// (hex address:port).
type soakConn struct{ local, remote string }

// tcpConnections returns the process's established TCP connections: its sockets (/proc/<pid>/fd) matched
// with the kernel's TCP table by inode. An error when /proc cannot be read.
func tcpConnections(pid int) ([]soakConn, error) {
	if pid == 0 {
		return nil, fmt.Errorf("no process")
	}
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	fds, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		if l, err := os.Readlink(filepath.Join(dir, fd.Name())); err == nil && strings.HasPrefix(l, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	var out []soakConn
	for _, table := range []string{"tcp", "tcp6"} {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, table))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			// sl local rem st tx:rx tr:when retrnsmt uid timeout inode; st 01 is ESTABLISHED.
			if len(f) < 10 || f[3] != "01" || !inodes[f[9]] {
				continue
			}
			out = append(out, soakConn{local: f[1], remote: f[2]})
		}
	}
	return out, nil
}

func hexPort(endpoint string) string { _, port, _ := strings.Cut(endpoint, ":"); return port }

// classifyConnections fills in each service's AMQP, MySQL and keep-alive connection counts from the
// processes' TCP connections. A keep-alive connection is one between two processes of the stack (a service
// calling another): the client side (2 goroutines: read and write loop) or the server side (1 goroutine).
func (p *soakProbe) classifyConnections(out map[string]soakFigures) error {
	conns := map[string][]soakConn{}
	owned := map[string]bool{} // local endpoints of every process of the stack
	public := map[string]bool{}
	for _, svc := range Services {
		c, err := tcpConnections(stack.PID(svc))
		if err != nil {
			return fmt.Errorf("%s: reading /proc: %w", svc, err)
		}
		conns[svc] = c
		for _, x := range c {
			owned[x.local] = true
		}
		_, port, _ := strings.Cut(stack.addrs[svc], ":")
		n, _ := strconv.Atoi(port)
		public[fmt.Sprintf("%04X", n)] = true
	}
	for _, svc := range Services {
		f := out[svc]
		for _, c := range conns[svc] {
			switch rp := hexPort(c.remote); {
			case rp == p.amqp:
				f.amqp++
			case rp == p.mysql:
				f.mysqlSockets++
			case public[rp] && owned[c.remote]:
				f.clientKeepAlive++
			case public[hexPort(c.local)] && owned[c.remote]:
				f.serverKeepAlive++
			}
		}
		// What connections explain: an idle keep-alive connection between services, or a database
		// connection (its watcher goroutine), costs goroutines and an fd for as long as its pool keeps it,
		// which depends on timing (idle timeouts), not on leaks.
		f.goroutinesExcl = f.goroutines - 2*f.clientKeepAlive - f.serverKeepAlive - f.mysqlSockets
		f.fdsExcl = f.fds - f.clientKeepAlive - f.serverKeepAlive - f.mysqlSockets
		out[svc] = f
	}
	return nil
}

// soakStats counts what the load did; every field is updated atomically.
type soakStats struct {
	ops    map[string]*atomic.Int64 // successful operations by kind
	errs   map[string]*atomic.Int64 // failed operations by kind
	missed map[string]*atomic.Int64 // scheduled operations not started: every worker was busy
	pushes atomic.Int64             // message.new frames received by the online recipients

	mu     sync.Mutex
	sample map[string]string // one failure per kind
}

var soakKinds = []string{"send", "history", "chats", "profile", "search", "ws-churn", "refresh", "login"}

func newSoakStats() *soakStats {
	s := &soakStats{ops: map[string]*atomic.Int64{}, errs: map[string]*atomic.Int64{}, missed: map[string]*atomic.Int64{}, sample: map[string]string{}}
	for _, k := range soakKinds {
		s.ops[k], s.errs[k], s.missed[k] = new(atomic.Int64), new(atomic.Int64), new(atomic.Int64)
	}
	return s
}

func (s *soakStats) done(kind string, err error) {
	if err == nil {
		s.ops[kind].Add(1)
		return
	}
	s.errs[kind].Add(1)
	s.mu.Lock()
	if _, ok := s.sample[kind]; !ok {
		s.sample[kind] = err.Error()
	}
	s.mu.Unlock()
}

// soakSession is a user session whose tokens the load renews (refresh) while other requests use them.
type soakSession struct {
	mu              sync.Mutex
	nickname, pass  string
	access, refresh string
}

func (s *soakSession) token() string { s.mu.Lock(); defer s.mu.Unlock(); return s.access }

// soakLoad is the traffic generator: each kind of operation has its own fixed rate.
type soakLoad struct {
	cfg      soakConfig
	pairs    []*chaosPair
	sessions []*soakSession
	client   *http.Client
	stats    *soakStats
	work     chan struct{} // a slot per concurrent request
	churn    chan struct{} // a slot per churning socket
	inflight sync.WaitGroup
	seq      atomic.Int64
}

// do sends one request and fails on any status other than want.
func (l *soakLoad) do(ctx context.Context, method, path, token string, body any, want int) ([]byte, error) {
	r, err := apiRequest(ctx, l.client, method, stack.GatewayURL+path, token, body)
	if err != nil {
		return nil, err
	}
	if r.status != want {
		return r.body, fmt.Errorf("%s %s: %d %.200s", method, strings.Split(path, "?")[0], r.status, r.body)
	}
	return r.body, nil
}

// op runs one operation of a kind for the n-th schedule slot.
func (l *soakLoad) op(ctx context.Context, kind string, n int64) error {
	p := l.pairs[int(n)%len(l.pairs)]
	from, to := p.from, p.to
	if n%2 == 1 { // both sides of every chat send and read
		from, to = to, from
	}
	switch kind {
	case "send":
		cmid := fmt.Sprintf("soak-%d", l.seq.Add(1))
		data, err := l.do(ctx, "POST", "/api/v1/chats/"+to.id+"/messages", from.access, map[string]any{"text": cmid, "client_message_id": cmid}, 201)
		if err == nil && !bytes.Contains(data, []byte(`"id"`)) {
			err = fmt.Errorf("send: no id in %q", data)
		}
		return err
	case "history":
		_, err := l.do(ctx, "GET", "/api/v1/chats/"+to.id+"/messages?limit=50", from.access, nil, 200)
		return err
	case "chats":
		_, err := l.do(ctx, "GET", "/api/v1/chats", from.access, nil, 200)
		return err
	case "profile":
		if n%3 == 0 {
			_, err := l.do(ctx, "GET", "/api/v1/users/me", from.access, nil, 200)
			return err
		}
		_, err := l.do(ctx, "GET", "/api/v1/users/"+to.id, from.access, nil, 200)
		return err
	case "search":
		_, err := l.do(ctx, "GET", "/api/v1/users?limit=20&nickname="+url.QueryEscape(to.nickname[:6]), from.access, nil, 200)
		return err
	case "refresh":
		s := l.sessions[int(n)%len(l.sessions)]
		s.mu.Lock() // one refresh of a session at a time: a refresh token is spent once
		defer s.mu.Unlock()
		data, err := l.do(ctx, "POST", "/api/v1/auth/refresh", "", map[string]any{"refresh_token": s.refresh}, 200)
		if err != nil {
			return err
		}
		return s.take(data)
	case "login":
		s := l.sessions[int(n)%len(l.sessions)]
		data, err := l.do(ctx, "POST", "/api/v1/auth/login", "", map[string]any{"nickname": s.nickname, "password": s.pass}, 200)
		if err != nil {
			return err
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if err := s.take(data); err != nil {
			return err
		}
		// The new session is used at once, as a client would after logging in.
		_, err = l.do(ctx, "GET", "/api/v1/users/me", s.access, nil, 200)
		return err
	case "ws-churn":
		return l.churnSocket(ctx, n)
	}
	return fmt.Errorf("unknown kind %q", kind)
}

// take keeps the tokens of a login or refresh answer (s.mu held).
func (s *soakSession) take(data []byte) error {
	var m struct {
		Access  string `json:"access_token"`
		Refresh string `json:"refresh_token"`
	}
	if json.Unmarshal(data, &m) != nil || m.Access == "" || m.Refresh == "" {
		return fmt.Errorf("no tokens in %.200q", data)
	}
	s.access, s.refresh = m.Access, m.Refresh
	return nil
}

// churnSocket opens a socket, waits for its entry frame, keeps it 0.5–2.5 s and closes it: one in four is
// dropped without a close handshake (a client that vanished), which the gateway must clean up as well.
func (l *soakLoad) churnSocket(ctx context.Context, n int64) error {
	var token string
	if n%4 == 3 {
		token = l.sessions[int(n)%len(l.sessions)].token() // a refreshed session's token
	} else {
		token = l.pairs[int(n)%len(l.pairs)].from.access
	}
	u, _ := url.Parse(stack.GatewayURL)
	u.Scheme, u.Path = "ws", "/api/v1/ws"
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(dctx, u.String(), &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + token}}})
	if err != nil {
		return fmt.Errorf("websocket dial: %w", err)
	}
	conn.SetReadLimit(8 << 20)
	for {
		_, data, err := conn.Read(dctx)
		if err != nil {
			conn.CloseNow()
			return fmt.Errorf("websocket: no messages.unread: %w", err)
		}
		if typ, _ := frameMessageIDs(data); typ == "messages.unread" {
			break
		}
	}
	// Frames arriving while the socket is held (friends.pending, pushes) are read and dropped by a reader that
	// ends when the connection does; a Read whose context ends would close the connection itself, so the
	// hold is a timer and the close is the client's own.
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		for {
			if _, _, err := conn.Read(context.Background()); err != nil {
				return
			}
		}
	}()
	hold := 500*time.Millisecond + time.Duration(rand.Int64N(int64(2*time.Second)))
	select {
	case <-closed:
		return fmt.Errorf("websocket closed by the server while held")
	case <-ctx.Done():
	case <-time.After(hold):
	}
	if n%4 == 1 {
		conn.CloseNow() // a client that vanished: no close handshake
	} else {
		// The handshake's error is not the server's: the library may report the connection closed under
		// it once the server has answered the close frame and hung up.
		_ = conn.Close(websocket.StatusNormalClosure, "bye")
	}
	<-closed
	return nil
}

// rates is each kind's operations per second for a message rate r: mostly sends, the reads a client makes
// around them, socket churn and a trickle of logins and refreshes (a login hashes a password: costly).
func soakRates(r float64) map[string]float64 {
	return map[string]float64{"send": r, "history": r / 5, "chats": r / 10, "profile": r / 10, "search": r / 20,
		"ws-churn": r / 20, "refresh": r / 50, "login": r / 100}
}

// run keeps every kind at its rate for d; a slot that finds every worker busy is missed, not queued, so the
// achieved rate shows when the stack (or this machine) cannot keep up.
func (l *soakLoad) run(ctx context.Context, d time.Duration, rate float64) time.Duration {
	start := time.Now()
	var dispatchers sync.WaitGroup
	for kind, r := range soakRates(rate) {
		if r <= 0 {
			continue
		}
		dispatchers.Add(1)
		go func() {
			defer dispatchers.Done()
			slots := l.work
			if kind == "ws-churn" {
				slots = l.churn
			}
			interval := time.Duration(float64(time.Second) / r)
			for n := int64(0); ; n++ {
				due := start.Add(time.Duration(n) * interval)
				if due.Sub(start) >= d {
					return
				}
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Until(due)):
				}
				select {
				case slots <- struct{}{}:
				default:
					l.stats.missed[kind].Add(1)
					continue
				}
				l.inflight.Add(1)
				go func() {
					defer func() { <-slots; l.inflight.Done() }()
					rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
					defer cancel()
					l.stats.done(kind, l.op(rctx, kind, n))
				}()
			}
		}()
	}
	dispatchers.Wait()
	elapsed := time.Since(start)
	l.inflight.Wait()
	return elapsed
}

// burst runs every request kind on every worker at once: the keep-alive pools between the services grow to
// the load's full concurrency here, before the baseline, instead of during the run.
func (l *soakLoad) burst(ctx context.Context) {
	var wg sync.WaitGroup
	for w := 0; w < l.cfg.workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, kind := range []string{"send", "history", "chats", "profile", "search"} {
				l.stats.done(kind, l.op(ctx, kind, int64(w)))
			}
		}()
	}
	wg.Wait()
}

// listenAll keeps a socket open for every online recipient until ctx ends, counting message.new frames.
func (l *soakLoad) listenAll(ctx context.Context, t *testing.T) *sync.WaitGroup {
	var wg sync.WaitGroup
	connected := make(chan struct{}, len(l.pairs))
	online := 0
	for _, p := range l.pairs {
		if !p.online {
			continue
		}
		online++
		wg.Add(1)
		go func() {
			defer wg.Done()
			u, _ := url.Parse(stack.GatewayURL)
			u.Scheme, u.Path = "ws", "/api/v1/ws"
			conn, _, err := websocket.Dial(ctx, u.String(), &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + p.to.access}}})
			if err != nil {
				l.stats.done("ws-churn", fmt.Errorf("online recipient: %w", err))
				connected <- struct{}{}
				return
			}
			conn.SetReadLimit(8 << 20)
			first := true
			for {
				_, data, err := conn.Read(ctx)
				if err != nil {
					break
				}
				typ, _ := frameMessageIDs(data)
				if typ == "message.new" {
					l.stats.pushes.Add(1)
				}
				if typ == "messages.unread" && first {
					first = false
					connected <- struct{}{}
				}
			}
			if ctx.Err() == nil {
				l.stats.done("ws-churn", fmt.Errorf("online recipient's socket closed by the server: %v", conn.CloseNow()))
			}
			conn.Close(websocket.StatusNormalClosure, "bye")
		}()
	}
	for range online {
		select {
		case <-connected:
		case <-time.After(15 * time.Second):
			t.Fatal("an online recipient did not connect within 15 s")
		}
	}
	return &wg
}

// soakRange is the smallest and largest sample of each figure of each service during the run.
type soakRange struct {
	mu       sync.Mutex
	min, max map[string]soakFigures
}

func (r *soakRange) add(all map[string]soakFigures) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for svc, f := range all {
		lo, ok := r.min[svc]
		hi := r.max[svc]
		for i, fld := range soakFields {
			v := fld.get(f)
			if !ok || v < fld.get(lo) {
				lo = setField(lo, i, v)
			}
			if !ok || v > fld.get(hi) {
				hi = setField(hi, i, v)
			}
		}
		r.min[svc], r.max[svc] = lo, hi
	}
}

// setField sets the i-th figure of soakFields (the keep-alive count, a sum, is kept in clientKeepAlive).
func setField(f soakFigures, i int, v float64) soakFigures {
	p := []*float64{&f.goroutines, &f.goroutinesExcl, &f.fds, &f.fdsExcl, &f.clientKeepAlive, &f.heapLive, &f.heapInuse, &f.rss, &f.mysqlServer,
		&f.poolOpen, &f.poolInUse, &f.amqp, &f.sockets}
	if i == 4 { // keep-alive conns
		f.serverKeepAlive = 0
	}
	*p[i] = v
	return f
}

// settle closes the load's client connections and polls until no figure of any service has fallen for two
// samples in a row (or cfg.settle has passed); it returns the last figures.
func settle(t *testing.T, probe *soakProbe, client *http.Client, limit time.Duration, settled func(map[string]soakFigures) bool) (map[string]soakFigures, time.Duration) {
	client.CloseIdleConnections()
	start := time.Now()
	var last map[string]soakFigures
	for {
		time.Sleep(2 * time.Second)
		cur := probe.mustRead(t, true)
		if settled(cur) || time.Since(start) >= limit {
			return cur, time.Since(start)
		}
		if last != nil && !fellSince(last, cur) && time.Since(start) >= limit/3 {
			return cur, time.Since(start)
		}
		last = cur
	}
}

// fellSince reports whether a count (goroutines, fds, connections, sockets) of any service fell from a to b.
func fellSince(a, b map[string]soakFigures) bool {
	for svc := range b {
		x, y := a[svc], b[svc]
		if y.goroutines < x.goroutines || y.fds < x.fds || y.mysqlServer < x.mysqlServer || y.poolInUse < x.poolInUse || y.sockets < x.sockets || y.amqp < x.amqp {
			return true
		}
	}
	return false
}

func TestSoak(t *testing.T) {
	needLocalStack(t, "measures its processes' goroutines, fds, heap and MySQL/AMQP connections on their admin ports and in /proc")
	if os.Getenv("SOAK_DURATION") == "" {
		t.Skip("a soak of minutes: set SOAK_DURATION (make soak; SOAK_DURATION=60s make soak in CI)")
	}
	cfg := soakSettings(t)
	probe := newSoakProbe(t)
	// The load's own client: its keep-alive pool is as large as the load's concurrency, and it is emptied
	// before each measurement (a client's idle connection is a goroutine and an fd in the gateway).
	client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: cfg.workers + 64, IdleConnTimeout: time.Minute}}
	defer client.CloseIdleConnections()

	pairs := make([]*chaosPair, cfg.pairs)
	for i := range pairs {
		p := &chaosPair{from: register(t, "soa"), to: register(t, "sob"), online: i%2 == 0}
		befriend(t, p.from, p.to)
		pairs[i] = p
	}
	sessions := make([]*soakSession, 4)
	for i := range sessions {
		a := register(t, "sos")
		sessions[i] = &soakSession{nickname: a.nickname, pass: a.password, access: a.access, refresh: a.refresh}
	}
	l := &soakLoad{cfg: cfg, pairs: pairs, sessions: sessions, client: client, stats: newSoakStats(),
		work: make(chan struct{}, cfg.workers), churn: make(chan struct{}, cfg.workers)}

	// Warm-up: the online recipients connect, a burst at full concurrency, then the steady load briefly.
	ctx, cancel := context.WithCancel(context.Background())
	listeners := l.listenAll(ctx, t)
	l.burst(ctx)
	l.run(ctx, cfg.warmup, cfg.rate)
	cancel()
	listeners.Wait()
	for _, k := range soakKinds {
		if n := l.stats.errs[k].Load(); n > 0 {
			t.Fatalf("warm-up: %d %s operations failed, e.g. %s", n, k, l.stats.sample[k])
		}
	}
	baseline, took := settle(t, probe, client, cfg.settle, func(map[string]soakFigures) bool { return false })
	t.Logf("baseline taken %v after the warm-up", took.Round(time.Second))
	saveProfiles(t, "baseline")

	// The soak: the online recipients connect again and the load runs for cfg.duration, sampled as it goes.
	l.stats = newSoakStats()
	rng := soakRange{min: map[string]soakFigures{}, max: map[string]soakFigures{}}
	rng.add(baseline)
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	listeners = l.listenAll(ctx, t)
	sampled := make(chan struct{})
	var sampleErr atomic.Value
	go func() {
		defer close(sampled)
		tick := time.NewTicker(cfg.sample)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				all, err := probe.read(false)
				if err != nil {
					sampleErr.Store(err)
					continue
				}
				rng.add(all)
			}
		}
	}()
	elapsed := l.run(ctx, cfg.duration, cfg.rate)
	rng.add(probe.mustRead(t, false))
	time.Sleep(time.Second) // the last pushes reach the online recipients
	cancel()
	listeners.Wait()
	<-sampled
	if err, _ := sampleErr.Load().(error); err != nil {
		t.Errorf("sampling during the load: %v", err)
	}

	back := func(b, a soakFigures) bool {
		return a.goroutinesExcl <= b.goroutinesExcl+soakGoroutineSlack && a.fdsExcl <= b.fdsExcl+soakFDSlack &&
			a.mysqlServer <= b.mysqlServer+soakMySQLSlack && a.poolInUse <= b.poolInUse+soakInUseSlack &&
			a.sockets <= b.sockets && a.amqp <= b.amqp && a.heapLive <= soakHeapFactor*b.heapLive+soakHeapSlack
	}
	after, took := settle(t, probe, client, cfg.settle, func(cur map[string]soakFigures) bool {
		for svc, f := range cur {
			if !back(baseline[svc], f) {
				return false
			}
		}
		return true
	})

	saveProfiles(t, "after")

	// The report.
	var b strings.Builder
	sent := l.stats.ops["send"].Load()
	achieved := float64(sent) / elapsed.Seconds()
	fmt.Fprintf(&b, "\nsoak: %v at %.0f msg/s target, %d pairs (%d online), %d workers; settled %v after the load\n",
		cfg.duration, cfg.rate, cfg.pairs, (cfg.pairs+1)/2, cfg.workers, took.Round(time.Second))
	fmt.Fprintf(&b, "%-10s %8s %8s %8s %8s\n", "operation", "ok", "errors", "missed", "per s")
	kinds := append([]string(nil), soakKinds...)
	sort.Strings(kinds)
	for _, k := range kinds {
		ok := l.stats.ops[k].Load()
		fmt.Fprintf(&b, "%-10s %8d %8d %8d %8.1f\n", k, ok, l.stats.errs[k].Load(), l.stats.missed[k].Load(), float64(ok)/elapsed.Seconds())
	}
	fmt.Fprintf(&b, "messages sent %d, achieved %.1f msg/s (target %.0f), message.new frames received live %d\n\n", sent, achieved, cfg.rate, l.stats.pushes.Load())
	fmt.Fprintf(&b, "%-9s %-20s %10s %10s %10s %10s\n", "service", "figure", "baseline", "min", "peak", "after")
	for _, svc := range Services {
		for _, fld := range soakFields {
			if !soakShown(svc, fld.name) {
				continue
			}
			show := func(v float64) string {
				if fld.mib {
					return fmt.Sprintf("%.1f", v/(1<<20))
				}
				return fmt.Sprintf("%.0f", v)
			}
			fmt.Fprintf(&b, "%-9s %-20s %10s %10s %10s %10s\n", svc, fld.name, show(fld.get(baseline[svc])), show(fld.get(rng.min[svc])),
				show(fld.get(rng.max[svc])), show(fld.get(after[svc])))
		}
	}
	t.Log(b.String())

	// The assertions.
	for _, k := range soakKinds {
		if n := l.stats.errs[k].Load(); n > 0 {
			t.Errorf("%d %s operations failed, e.g. %s", n, k, l.stats.sample[k])
		}
	}
	if achieved < 0.9*cfg.rate {
		t.Errorf("achieved %.1f msg/s, below 90%% of the %.0f msg/s target: the soak did not load the stack as asked", achieved, cfg.rate)
	}
	for _, svc := range Services {
		base, a, peak := baseline[svc], after[svc], rng.max[svc]
		check := func(what string, got, limit float64, why string) {
			if got > limit {
				fld := soakFields[fieldIndex(what)]
				show := func(v float64) string {
					if fld.mib {
						return fmt.Sprintf("%.1f MiB", v/(1<<20))
					}
					return fmt.Sprintf("%.0f", v)
				}
				t.Errorf("%s: %s %s, limit %s (baseline %s, peak %s): %s", svc, what, show(got), show(limit), show(fld.get(base)), show(fld.get(peak)), why)
			}
		}
		if a.goroutinesExcl > base.goroutinesExcl+soakGoroutineSlack {
			t.Logf("%s goroutines after the load, most frequent stacks first:\n%s", svc, goroutineDump(svc, 60))
		}
		check("goroutines excl conns", a.goroutinesExcl, base.goroutinesExcl+soakGoroutineSlack, "goroutines leaked")
		check("fds excl conns", a.fdsExcl, base.fdsExcl+soakFDSlack, "file descriptors (sockets, files) leaked")
		check("heap live MiB", a.heapLive, soakHeapFactor*base.heapLive+soakHeapSlack, "live heap did not come back: memory retained by the load")
		check("RSS MiB", a.rss, soakRSSCeiling, "resident memory above the ceiling")
		check("amqp conns", a.amqp, base.amqp, "AMQP connections leaked")
		if svc == "gateway" {
			check("websockets", a.sockets, base.sockets, "the gateway still counts sockets the clients closed")
			continue
		}
		check("mysql conns (server)", a.mysqlServer, base.mysqlServer+soakMySQLSlack, "MySQL connections leaked")
		check("sql pool open", peak.poolOpen, 20, "more pool connections than MYSQL_MAX_OPEN_CONNS (20)")
		// Every connection MariaDB holds for the service's database belongs to its pool: one outside it was
		// opened and never closed (a second *sql.DB, a *sql.Conn never returned).
		check("mysql conns (server)", a.mysqlServer, a.poolOpen, "MySQL connections open outside the service's pool")
		check("sql pool in use", a.poolInUse, base.poolInUse+soakInUseSlack, "pool connections still in use: a Rows or Tx not closed")
	}
}

// saveProfiles writes each service's heap and goroutine profiles to SOAK_PROFILES_DIR (when set) as
// <svc>-<when>.heap / .goroutine, for `go tool pprof -base <svc>-baseline.heap <svc>-after.heap`: what the
// load left on the heap, by allocation site.
func saveProfiles(t *testing.T, when string) {
	dir := os.Getenv("SOAK_PROFILES_DIR")
	if dir == "" {
		return
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, svc := range Services {
		for ext, path := range map[string]string{"heap": "/debug/pprof/heap?gc=1", "goroutine": "/debug/pprof/goroutine"} {
			res, err := http.Get(stack.AdminURL(svc) + path)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if err := os.WriteFile(filepath.Join(dir, svc+"-"+when+"."+ext), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Logf("%s profiles written to %s", when, dir)
}

// goroutineDump returns the first lines of a service's goroutine profile (grouped by stack, largest group first).
func goroutineDump(svc string, lines int) string {
	res, err := http.Get(stack.AdminURL(svc) + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		return err.Error()
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	ls := strings.SplitN(string(b), "\n", lines+1)
	if len(ls) > lines {
		ls = ls[:lines]
	}
	return strings.Join(ls, "\n")
}

// soakShown: the gateway has no database, and only the gateway has client sockets.
func soakShown(svc, field string) bool {
	switch {
	case field == "websockets":
		return svc == "gateway"
	case strings.Contains(field, "sql"):
		return svc != "gateway"
	}
	return true
}

func fieldIndex(name string) int {
	for i, f := range soakFields {
		if f.name == name {
			return i
		}
	}
	panic(name)
}
