package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	_ "github.com/go-sql-driver/mysql"

	"simplemessenger/e2e"
)

// bench is one benchmark run: the stack under test, its users and the report.
type bench struct {
	s   settings
	rep *report
	c   *client

	stack  *e2e.Stack // nil with -url
	binDir string
	pids   map[string]int    // service → process id
	admins map[string]string // service → admin base URL
	msgDB  string            // the messages service's database

	pairs      [][2]*user // pairs[i][0] sends to pairs[i][1]; they are friends
	growthPair [2]*user
	entrants   []*user // each with 100 unread messages from entrySender
	entrySrc   *user
	all        []*user

	maxSendRate float64 // highest measured send rate, for the push measurement

	meter        *meter  // the processes' CPU, MariaDB's statements, the publishes (nil: not measured)
	meterDB      *sql.DB // the meter's connection for SHOW GLOBAL STATUS
	meterPartial bool    // some server process was not found: costs are shown, not held to the targets
}

// startMeter prepares the cost measurement of every closed loop (issue 17); without it the bench still runs.
func (b *bench) startMeter() {
	db, err := openDB("", 1)
	if err != nil {
		b.rep.problem("cost per operation not measured: %v", err)
		return
	}
	m, missing := newMeter(b.pids, b.admins, db)
	if len(missing) > 0 {
		b.rep.problem("cost per operation without %v (no such process found): shown, not held to the targets", missing)
		b.meterPartial = true
	}
	b.meter, b.meterDB = m, db
}

// measured is closedLoop that also records what one operation cost (a costRow named operation, this run).
func (b *bench) measured(ctx context.Context, operation string, run, workers int, op func(ctx context.Context, worker int) error) summary {
	var w *window
	if b.meter != nil {
		w = &window{m: b.meter, ctx: ctx}
	}
	sum := closedLoopMarked(ctx, workers, b.s.Warmup, b.s.Duration, w.mark, func(ctx context.Context, worker int) (time.Duration, error) {
		return 0, op(ctx, worker)
	})
	if w == nil {
		return sum
	}
	b.record(w, operation, run, sum.Count, sum.PerSecond)
	return sum
}

// record adds the cost of the ops done in w's window as a costRow.
func (b *bench) record(w *window, operation string, run, ops int, rate float64) {
	c, err := w.cost(ops)
	if err != nil {
		b.rep.problem("cost of %s: %v", operation, err)
		return
	}
	b.rep.Costs = append(b.rep.Costs, costRow{Operation: operation, Run: run, Rate: rate, cost: c})
	logf("  cost per operation: servers %.3f ms CPU (MariaDB %.3f), client %.3f ms, %.2f statements, %.2f publishes",
		c.ServerMs, c.CPUms["mariadb"], c.ClientMs, c.Statements, c.Publishes)
}

// stackEnv is the production-like configuration of the stack the bench starts: info logs; GOMEMLIMIT at 90 %
// of a 64 MiB container limit (the memory target), as the Helm charts set it from resources.limits.memory
// (goMemLimitPercent); and the per-address limits lifted because every request of the bench comes from one
// address (127.0.0.1).
var stackEnv = append([]string{"LOG_LEVEL=info", "GOMEMLIMIT=57MiB"}, e2e.OneAddressEnv...)

func newBench(ctx context.Context, s settings, rep *report) (*bench, error) {
	b := &bench{s: s, rep: rep, pids: map[string]int{}, admins: map[string]string{}}
	if s.URL != "" {
		b.c = newClient(s.URL)
		b.msgDB = s.MessagesDB
		root, _ := e2e.RepoRoot()
		for i, svc := range []string{"gateway", "auth", "profiles", "friends", "messages"} {
			b.admins[svc] = fmt.Sprintf("http://127.0.0.1:%d", 9080+i)
			if raw, err := os.ReadFile(filepath.Join(root, ".run", svc+".pid")); err == nil {
				if pid, err := strconv.Atoi(strings.TrimSpace(string(raw))); err == nil {
					b.pids[svc] = pid
				}
			}
		}
		rep.Settings["stack"] = "running stack at " + s.URL + " (its own limits and log level apply)"
		b.startMeter()
		return b, nil
	}
	dir, err := os.MkdirTemp("", "messenger-bench-")
	if err != nil {
		return nil, err
	}
	b.binDir = dir
	logf("building the services")
	if err := e2e.Build(dir); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	logDir := filepath.Join(s.Out, "logs")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return nil, err
	}
	logf("starting the stack (logs in %s)", logDir)
	st, err := e2e.Start(dir, logDir, stackEnv...)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	b.stack = st
	b.c = newClient(st.GatewayURL)
	b.msgDB = st.Database("messages")
	for _, svc := range e2e.Services {
		b.pids[svc] = st.PID(svc)
		b.admins[svc] = st.AdminURL(svc)
	}
	rep.Settings["stack"] = "own stack at " + st.GatewayURL
	rep.Settings["stack_env"] = stackEnv
	logf("stack ready at %s", st.GatewayURL)
	b.startMeter()
	return b, nil
}

func (b *bench) close() {
	if b.meterDB != nil {
		b.meterDB.Close()
	}
	if b.stack != nil {
		logf("stopping the stack")
		b.stack.Stop()
	}
	if b.binDir != "" {
		os.RemoveAll(b.binDir)
	}
}

// db opens the MariaDB server of the stack (database name may be empty).
func openDB(name string, conns int) (*sql.DB, error) {
	dsn := e2e.MySQLUser + ":" + os.Getenv("MYSQL_PASSWORD") + "@tcp(" + e2e.MySQLAddr + ")/" + name + "?parseTime=true&interpolateParams=true"
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	return db, db.Ping()
}

// setupUsers registers the pairs (friends), the growth pair and the entrants with their unread messages.
func (b *bench) setupUsers(ctx context.Context, want func(string) bool) error {
	start := time.Now()
	n := 2 * b.s.Pairs
	withEntry := want("entry")
	withGrowth := want("growth")
	if withGrowth {
		n += 2
	}
	if withEntry {
		n += b.s.EntryUsers + 1
	}
	logf("registering %d users", n)
	users := make([]*user, n)
	if err := parallel(ctx, 4, n, func(ctx context.Context, i int) error {
		u, err := b.c.register(ctx, fmt.Sprintf("bench%d", i))
		users[i] = u
		return err
	}); err != nil {
		return err
	}
	b.all = users
	for i := 0; i < b.s.Pairs; i++ {
		b.pairs = append(b.pairs, [2]*user{users[2*i], users[2*i+1]})
	}
	rest := users[2*b.s.Pairs:]
	var links [][2]*user
	links = append(links, b.pairs...)
	if withGrowth {
		b.growthPair = [2]*user{rest[0], rest[1]}
		links = append(links, b.growthPair)
		rest = rest[2:]
	}
	if withEntry {
		b.entrySrc = rest[0]
		b.entrants = rest[1 : 1+b.s.EntryUsers]
		for _, e := range b.entrants {
			links = append(links, [2]*user{b.entrySrc, e})
		}
	}
	logf("making %d friendships", len(links))
	if err := parallel(ctx, 8, len(links), func(ctx context.Context, i int) error {
		return b.c.befriend(ctx, links[i][0], links[i][1])
	}); err != nil {
		return err
	}
	if withEntry {
		logf("sending 100 unread messages to each of %d entrants", len(b.entrants))
		if err := parallel(ctx, 8, 100*len(b.entrants), func(ctx context.Context, i int) error {
			_, err := b.c.send(ctx, b.entrySrc, b.entrants[i%len(b.entrants)].id, messageText(i))
			return err
		}); err != nil {
			return err
		}
	}
	b.rep.detail("setup_seconds", time.Since(start).Seconds())
	logf("users ready in %s", time.Since(start).Round(time.Millisecond))
	return nil
}

// freshenAll renews access tokens older than 5 minutes (they live 15), so no measurement meets an expired one.
func (b *bench) freshenAll(ctx context.Context) error {
	return parallel(ctx, 8, len(b.all), func(ctx context.Context, i int) error {
		return b.c.freshen(ctx, b.all[i], 5*time.Minute)
	})
}

// parallel runs fn(i) for i in [0,n) on workers goroutines and returns the first error.
func parallel(ctx context.Context, workers, n int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan int)
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := fn(ctx, i); err != nil {
					once.Do(func() { first = err; cancel() })
				}
			}
		}()
	}
feed:
	for i := 0; i < n; i++ {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}

// messageText is a message-sized text (about 100 characters, like a chat line).
func messageText(i int) string {
	return fmt.Sprintf("bench message %09d: the quick brown fox jumps over the lazy dog, then sends a reply or two.", i)
}
