package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	_ "github.com/go-sql-driver/mysql"
	amqp "github.com/rabbitmq/amqp091-go"
)

// Services in start order: the gateway last, after the services it routes to.
var Services = []string{"profiles", "auth", "friends", "messages", "gateway"}

// OneAddressEnv lifts the limits kept per client address (login failures and registrations per address, the
// gateway's request rates), for a stack whose every client is 127.0.0.1: the end-to-end suite (which checks
// those limits on dedicated replicas), the clients' tests and the benchmark.
var OneAddressEnv = []string{
	"LOGIN_MAX_FAILURES_PER_ADDRESS=0", "REGISTER_MAX_PER_ADDRESS=0", "RATE_LIMIT_IP_RPS=0", "RATE_LIMIT_USER_RPS=0",
}

// Stack is a whole messenger started from freshly built binaries, with its own databases and its own
// exchange, so it never meets another run's data.
type Stack struct {
	// GatewayURL is the public API of the first gateway.
	GatewayURL string
	// Exchange is the isolated event exchange of this stack.
	Exchange string

	id     string
	binDir string
	logDir string
	env    []string // shared by every process
	addrs  map[string]string
	admins map[string]string
	dbs    []string

	mu    sync.Mutex
	procs map[string]*exec.Cmd
	specs map[string]procSpec // how each named process was started, for Restart
}

// procSpec is what start needs to run a named process again with the same address and environment.
type procSpec struct {
	svc, addr, admin string
	extra            []string
}

// MySQLAddr and AMQPURL are the servers the stack uses.
var (
	MySQLAddr = envOr("MYSQL_ADDR", "127.0.0.1:3306")
	MySQLUser = envOr("MYSQL_USER", "root")
	AMQPURL   = envOr("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
)

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// RepoRoot finds the directory holding go.work (the repository).
func RepoRoot() (string, error) {
	dir, _ := os.Getwd()
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.work not found above the working directory")
		}
		dir = parent
	}
}

// Build compiles the service binaries into dir.
func Build(dir string) error {
	root, err := RepoRoot()
	if err != nil {
		return err
	}
	for _, s := range Services {
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, s), "./services/"+s)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("build %s: %v\n%s", s, err, out)
		}
	}
	return nil
}

// freeAddr picks a free loopback port below the kernel's ephemeral range (32768–60999 by default): a port
// from ":0" is free only until it is closed, and any outgoing connection on the machine may take it before the
// service binds it; ports below the range are only ever taken by listeners that ask for them.
func freeAddr() (string, error) {
	for i := 0; i < 100; i++ {
		n, _ := rand.Int(rand.Reader, big.NewInt(32000-20000))
		addr := fmt.Sprintf("127.0.0.1:%d", 20000+n.Int64())
		l, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		l.Close()
		return addr, nil
	}
	return "", errors.New("no free port in 20000-32000")
}

func randomID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Start creates the databases and starts every service from the binaries in binDir; extra variables go to
// every process (e.g. rate limits).
func Start(binDir, logDir string, extra ...string) (*Stack, error) {
	s := &Stack{id: randomID(), binDir: binDir, logDir: logDir, addrs: map[string]string{}, admins: map[string]string{}, procs: map[string]*exec.Cmd{}, specs: map[string]procSpec{}}
	s.Exchange = "e2e." + s.id
	for _, svc := range Services {
		a, err := freeAddr()
		if err != nil {
			return nil, err
		}
		b, err := freeAddr()
		if err != nil {
			return nil, err
		}
		s.addrs[svc], s.admins[svc] = a, b
	}
	s.env = append(os.Environ(),
		"MYSQL_ADDR="+MySQLAddr, "MYSQL_USER="+MySQLUser, "AMQP_URL="+AMQPURL, "AMQP_EXCHANGE="+s.Exchange,
		"LOG_LEVEL=debug", "SHUTDOWN_TIMEOUT=5s", "ADMIN_PPROF=true",
		"AUTH_URL=http://"+s.addrs["auth"], "PROFILES_URL=http://"+s.addrs["profiles"],
		"FRIENDS_URL=http://"+s.addrs["friends"], "MESSAGES_URL=http://"+s.addrs["messages"],
		"AUTH_JWKS_URL=http://"+s.addrs["auth"]+"/.well-known/jwks.json",
	)
	s.env = append(s.env, extra...)
	if err := s.createDatabases(); err != nil {
		return nil, err
	}
	for _, svc := range Services {
		if err := s.start(svc, svc, s.addrs[svc], s.admins[svc]); err != nil {
			s.Stop()
			return nil, err
		}
		if err := waitReady(s.admins[svc], 60*time.Second); err != nil {
			s.Stop()
			return nil, fmt.Errorf("%s not ready: %v\n%s", svc, err, s.Logs(svc))
		}
		if err := s.alive(svc); err != nil {
			s.Stop()
			return nil, err
		}
	}
	s.GatewayURL = "http://" + s.addrs["gateway"]
	return s, nil
}

func (s *Stack) dbName(svc string) string { return "e2e_" + s.id + "_" + svc }

func (s *Stack) createDatabases() error {
	db, err := sql.Open("mysql", MySQLUser+":"+os.Getenv("MYSQL_PASSWORD")+"@tcp("+MySQLAddr+")/")
	if err != nil {
		return err
	}
	defer db.Close()
	for _, svc := range Services {
		if svc == "gateway" {
			continue
		}
		if _, err := db.Exec("CREATE DATABASE `" + s.dbName(svc) + "` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"); err != nil {
			return err
		}
		s.dbs = append(s.dbs, s.dbName(svc))
	}
	return nil
}

// start runs binary svc as the process called name.
func (s *Stack) start(name, svc, addr, admin string, extra ...string) error {
	logf, err := os.Create(filepath.Join(s.logDir, name+".log"))
	if err != nil {
		return err
	}
	cmd := exec.Command(filepath.Join(s.binDir, svc))
	cmd.Env = append(append(append([]string{}, s.env...), "HTTP_ADDR="+addr, "ADMIN_ADDR="+admin, "MYSQL_DATABASE="+s.dbName(svc)), extra...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	go func() { _ = cmd.Wait(); logf.Close() }()
	s.mu.Lock()
	s.procs[name] = cmd
	s.specs[name] = procSpec{svc, addr, admin, extra}
	s.mu.Unlock()
	return nil
}

// alive reports an error when the named process has exited: a service that could not bind its port exits at
// once, and another process answering on that port must not pass for it.
func (s *Stack) alive(name string) error {
	s.mu.Lock()
	cmd := s.procs[name]
	s.mu.Unlock()
	if cmd == nil || cmd.Process == nil || cmd.Process.Signal(syscall.Signal(0)) != nil {
		return fmt.Errorf("%s exited:\n%s", name, s.Logs(name))
	}
	return nil
}

// Kill sends sig (e.g. SIGKILL) to the named process and waits up to 15 s for it to exit; the process can be
// started again with Restart.
func (s *Stack) Kill(name string, sig syscall.Signal) error {
	s.mu.Lock()
	cmd := s.procs[name]
	delete(s.procs, name)
	s.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return fmt.Errorf("no process %q", name)
	}
	if err := cmd.Process.Signal(sig); err != nil {
		return err
	}
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if cmd.Process.Signal(syscall.Signal(0)) != nil {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("%s still running 15 s after %v", name, sig)
}

// Restart starts the named process again (after Kill or StopProcess) with the same binary, addresses and
// environment, and waits until it is ready. The previous run's log is kept as <name>.previous.log.
func (s *Stack) Restart(name string, within time.Duration) error {
	s.mu.Lock()
	running := s.procs[name] != nil
	s.mu.Unlock()
	if running {
		return fmt.Errorf("%s is still running", name)
	}
	if err := s.relaunch(name); err != nil {
		return err
	}
	return s.waitRelaunched(name, within)
}

// relaunch starts a killed process again with its last environment without waiting for it to be ready (its
// dependencies may still be down); waitRelaunched waits.
func (s *Stack) relaunch(name string) error {
	s.mu.Lock()
	spec, ok := s.specs[name]
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("no process %q was started", name)
	}
	return s.startAppend(name, spec.svc, spec.addr, spec.admin, spec.extra...)
}

func (s *Stack) waitRelaunched(name string, within time.Duration) error {
	s.mu.Lock()
	spec := s.specs[name]
	s.mu.Unlock()
	if err := waitReady(spec.admin, within); err != nil {
		return fmt.Errorf("%s not ready after restart: %v", name, err)
	}
	return s.alive(name)
}

// startAppend is start that first keeps the previous run's log as <name>.previous.log.
func (s *Stack) startAppend(name, svc, addr, admin string, extra ...string) error {
	old := filepath.Join(s.logDir, name+".log")
	prev, _ := os.ReadFile(old)
	if err := s.start(name, svc, addr, admin, extra...); err != nil {
		return err
	}
	_ = os.WriteFile(filepath.Join(s.logDir, name+".previous.log"), prev, 0o644)
	return nil
}

// StartGateway starts one more gateway replica (with extra variables) and returns its public URL.
func (s *Stack) StartGateway(name string, extra ...string) (string, error) {
	return s.StartReplica(name, "gateway", extra...)
}

// StartReplica starts one more replica of service svc as the process called name, on the stack's database and
// exchange, with extra variables after the stack's (so they win), and returns its public URL once it is ready.
// Point a replica's neighbours at it with their URL variable (e.g. a gateway with PROFILES_URL=<url>).
func (s *Stack) StartReplica(name, svc string, extra ...string) (string, error) {
	a, err := freeAddr()
	if err != nil {
		return "", err
	}
	b, err := freeAddr()
	if err != nil {
		return "", err
	}
	if err := s.start(name, svc, a, b, extra...); err != nil {
		return "", err
	}
	if err := waitReady(b, 30*time.Second); err != nil {
		return "", fmt.Errorf("%s not ready: %v\n%s", name, err, s.Logs(name))
	}
	if err := s.alive(name); err != nil {
		return "", err
	}
	return "http://" + a, nil
}

// AdminURL is the admin base URL of a service started by Start, or of a process started by StartReplica.
func (s *Stack) AdminURL(svc string) string {
	if a, ok := s.admins[svc]; ok {
		return "http://" + a
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return "http://" + s.specs[svc].admin
}

// Logs returns what the named process wrote.
func (s *Stack) Logs(name string) string {
	b, _ := os.ReadFile(filepath.Join(s.logDir, name+".log"))
	return string(b)
}

// LogTails is the last lines of every service's log, each under a header: what a failed run prints.
func (s *Stack) LogTails(lines int) string {
	var b strings.Builder
	for _, name := range Services {
		fmt.Fprintf(&b, "===== %s log (tail) =====\n%s\n", name, tail(s.Logs(name), lines))
	}
	return b.String()
}

func tail(s string, lines int) string {
	n := 0
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '\n' {
			n++
			if n > lines {
				return s[i+1:]
			}
		}
	}
	return s
}

// Kill sends SIGTERM to the named process and waits for it to exit.
func (s *Stack) StopProcess(name string) {
	s.mu.Lock()
	cmd := s.procs[name]
	delete(s.procs, name)
	s.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if cmd.Process.Signal(syscall.Signal(0)) != nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
}

// Stop ends every process and removes the stack's databases and broker topology.
func (s *Stack) Stop() {
	s.mu.Lock()
	names := make([]string, 0, len(s.procs))
	for n := range s.procs {
		names = append(names, n)
	}
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, n := range names {
		wg.Add(1)
		go func() { defer wg.Done(); s.StopProcess(n) }()
	}
	wg.Wait()
	if db, err := sql.Open("mysql", MySQLUser+":"+os.Getenv("MYSQL_PASSWORD")+"@tcp("+MySQLAddr+")/"); err == nil {
		for _, name := range s.dbs {
			_, _ = db.Exec("DROP DATABASE IF EXISTS `" + name + "`")
		}
		db.Close()
	}
	s.deleteTopology()
}

// deleteTopology removes the exchanges and durable queues named after the stack's exchange.
func (s *Stack) deleteTopology() {
	conn, err := amqp.Dial(AMQPURL)
	if err != nil {
		return
	}
	defer conn.Close()
	for _, q := range DurableQueues {
		if ch, err := conn.Channel(); err == nil {
			_, _ = ch.QueueDelete(s.Exchange+"."+q, false, false, false)
			ch.Close()
		}
	}
	for _, ex := range []string{s.Exchange, s.Exchange + ".dlx", s.Exchange + ".push"} {
		if ch, err := conn.Channel(); err == nil {
			_ = ch.ExchangeDelete(ex, false, false)
			ch.Close()
		}
	}
}

// DurableQueues are the consumers' queue names (after "<exchange>.") that the services declare.
var DurableQueues = []string{"auth.password-changed", "friends.user-entered", "messages.user-entered", "dead-letters"}

func waitReady(admin string, within time.Duration) error {
	deadline := time.Now().Add(within)
	var last error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+admin+"/readyz", nil)
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			var b bytes.Buffer
			_, _ = b.ReadFrom(res.Body)
			res.Body.Close()
			if res.StatusCode == 200 {
				cancel()
				return nil
			}
			last = fmt.Errorf("readyz %d %s", res.StatusCode, strings.TrimSpace(b.String()))
		} else {
			last = err
		}
		cancel()
		time.Sleep(200 * time.Millisecond)
	}
	return last
}

// PID is the process id of the named process, or 0 when it is not running (for the benchmark's memory figures).
func (s *Stack) PID(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cmd := s.procs[name]; cmd != nil && cmd.Process != nil {
		return cmd.Process.Pid
	}
	return 0
}

// Database is the name of service svc's database in this stack.
func (s *Stack) Database(svc string) string { return s.dbName(svc) }
