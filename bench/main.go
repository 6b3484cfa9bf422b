// Command bench measures the messenger end to end (issue #7): send throughput and latency through the
// gateway, send-to-push latency over WebSockets, history reads, entering the messenger, the database's raw
// commit rate as the floor, memory of every service and per idle WebSocket, and history latency as the
// messages table grows. Everything goes through real HTTP and WebSockets to real services on the real MariaDB
// and RabbitMQ. It starts its own stack (e2e.Build/e2e.Start) unless -url names a running one, prints a table
// (both runs of every measurement side by side, with the targets) and writes the figures as JSON under -out.
//
//	go run ./bench -duration 10s -only 'throughput|floor'
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"simplemessenger/e2e"
)

// settings are the command's flags.
type settings struct {
	Duration    time.Duration `json:"duration"`
	Warmup      time.Duration `json:"warmup"`
	Runs        int           `json:"runs"`
	Pairs       int           `json:"pairs"`
	Only        string        `json:"only"`
	URL         string        `json:"url,omitempty"`
	Growth      []int         `json:"growth"`
	Out         string        `json:"out"`
	Sockets     int           `json:"sockets"`
	EntryUsers  int           `json:"entry_users"`
	EntryConc   int           `json:"entry_concurrency"`
	GrowthConc  int           `json:"growth_concurrency"`
	PushRate    float64       `json:"push_rate,omitempty"`
	MessagesDB  string        `json:"messages_db,omitempty"`
	Concurrency []int         `json:"concurrency"`
	HistoryConc int           `json:"history_concurrency"`
	LoaderConns int           `json:"loader_connections"`
	LoaderBatch int           `json:"loader_batch"`
	Pprof       bool          `json:"pprof"`
	Loader      string        `json:"loader"`
	GrowthChats int           `json:"growth_chats"`
}

func main() {
	var s settings
	var growth, conc string
	flag.DurationVar(&s.Duration, "duration", 10*time.Second, "measured time of each run of each measurement")
	flag.DurationVar(&s.Warmup, "warmup", 2*time.Second, "unrecorded warm-up before each run")
	flag.IntVar(&s.Runs, "runs", 2, "runs of every measurement (reported side by side)")
	flag.IntVar(&s.Pairs, "pairs", 64, "user pairs who are friends (senders and recipients); at least the highest concurrency")
	flag.StringVar(&s.Only, "only", "", "regexp: run only the measurements whose names match (throughput, push, history, entry, floor, memory, sockets, growth)")
	flag.StringVar(&s.URL, "url", "", "use the running stack at this gateway URL (e.g. http://127.0.0.1:8080 of make up) instead of starting one")
	flag.StringVar(&growth, "growth", "10k,1m,10m", "messages-table sizes for the growth measurement (k, m suffixes)")
	flag.StringVar(&s.Out, "out", "", "directory for the JSON reports (default .bench/ at the repository root)")
	flag.IntVar(&s.Sockets, "sockets", 10000, "concurrent idle WebSockets for the per-connection memory figure")
	flag.IntVar(&s.EntryUsers, "entry-users", 8, "users with 100 unread messages each, who enter the messenger in turn")
	flag.IntVar(&s.EntryConc, "entry-concurrency", 1, "users entering at once")
	flag.IntVar(&s.GrowthConc, "growth-concurrency", 1, "concurrent history readers in the growth measurement")
	flag.IntVar(&s.HistoryConc, "history-concurrency", 16, "concurrent history readers")
	flag.Float64Var(&s.PushRate, "push-rate", 0, "messages/s of the push measurement (default: half the highest measured send rate, else 50)")
	flag.StringVar(&s.MessagesDB, "messages-db", "messenger_messages", "with -url: the messages service's database (for the growth loader)")
	flag.StringVar(&conc, "concurrency", "1,16,64", "concurrencies of the send and floor measurements")
	flag.IntVar(&s.LoaderConns, "loader-connections", 2, "parallel connections of the bulk loader")
	flag.IntVar(&s.LoaderBatch, "loader-batch", 10000, "rows per INSERT statement of the bulk loader")
	flag.BoolVar(&s.Pprof, "pprof", false, "take a CPU profile of every service during the first send run at the highest concurrency, the first push run and the first history run (into <out>/pprof/)")
	flag.StringVar(&s.Loader, "loader", "infile", "bulk loader of the growth measurement: infile (LOAD DATA LOCAL INFILE, about twice as fast; falls back to insert when refused) or insert (multi-row INSERTs)")
	flag.IntVar(&s.GrowthChats, "growth-chats", 1000, "chats the growth loader spreads its rows over (their users' index entries stay in the buffer pool; far more chats make a 10M load take hours with a small buffer pool)")
	flag.Parse()
	var err error
	if s.Growth, err = parseSizes(growth); err != nil {
		fatal(err)
	}
	if s.Concurrency, err = parseInts(conc); err != nil {
		fatal(err)
	}
	if s.Loader != "infile" && s.Loader != "insert" {
		fatal(fmt.Errorf("-loader: infile or insert, not %q", s.Loader))
	}
	if _, err := regexp.Compile(s.Only); err != nil {
		fatal(fmt.Errorf("-only: %w", err))
	}
	if s.Out == "" {
		root, err := e2e.RepoRoot()
		if err != nil {
			fatal(err)
		}
		s.Out = filepath.Join(root, ".bench")
	}
	for _, c := range s.Concurrency {
		s.Pairs = max(s.Pairs, c)
	}
	s.Pairs = max(s.Pairs, s.HistoryConc)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep := &report{Started: time.Now().UTC(), Host: hostInfo(), Settings: map[string]any{"flags": s, "duration": s.Duration.String(), "warmup": s.Warmup.String()}, Details: map[string]any{}}
	err = run(ctx, s, rep)
	rep.Finished = time.Now().UTC()
	if err != nil {
		rep.Problems = append(rep.Problems, "aborted: "+err.Error())
	}
	fmt.Println()
	rep.table(os.Stdout)
	name, werr := rep.write(s.Out)
	if werr != nil {
		fmt.Fprintln(os.Stderr, "writing the report:", werr)
	} else {
		fmt.Printf("\nreport: %s (and %s)\n", name, filepath.Join(s.Out, "latest.json"))
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(2)
}

// run prepares the stack and the users, then runs the selected measurements in an order that keeps each
// honest: the first growth size before anything fills the messages table, memory after the load.
func run(ctx context.Context, s settings, rep *report) error {
	only := regexp.MustCompile(s.Only)
	want := func(name string) bool { return only.MatchString(name) }

	// Idle WebSockets need more descriptors than the usual 1024 (one each here and in the gateway, which is
	// started after this and inherits it), with room for everything else.
	noFile, err := raiseNoFile(uint64(s.Sockets) + 16384)
	if err != nil {
		rep.problem("raising the open-file limit: %v", err)
	} else {
		rep.Host["nofile"] = noFile
	}
	if want("sockets") && noFile > 0 && uint64(s.Sockets)+1024 > noFile {
		// Each socket is a descriptor here and one in the gateway, which has the same limit.
		return fmt.Errorf("-sockets %d needs about %d open files in this process and in the gateway, and the limit is %d "+
			"(only a process with CAP_SYS_RESOURCE can raise its hard limit): run fewer, up to %d", s.Sockets, s.Sockets+1024, noFile, noFile-1024)
	}
	b, err := newBench(ctx, s, rep)
	if err != nil {
		return err
	}
	defer b.close()

	// The stack at rest, before any user exists.
	if want("memory") {
		b.memory("at rest")
	}
	if err := b.setupUsers(ctx, want); err != nil {
		return err
	}
	if want("growth") && len(s.Growth) > 0 {
		if err := b.growthPrepare(ctx); err != nil {
			return err
		}
		if err := b.growthStep(ctx, s.Growth[0]); err != nil {
			return err
		}
	}
	steps := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"throughput", b.throughput},
		{"floor", b.floor},
		{"push", b.push},
		{"history", b.historyReads},
		{"entry", b.entry},
	}
	for _, st := range steps {
		if !want(st.name) {
			continue
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err := b.freshenAll(ctx); err != nil {
			return err
		}
		if err := st.fn(ctx); err != nil {
			rep.problem("%s: %v", st.name, err)
		}
	}
	if _, ok := rep.Details["throughput"]; ok {
		b.floorRatio()
	}
	b.costTargets()
	if want("growth") {
		for _, n := range s.Growth[min(1, len(s.Growth)):] {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err := b.freshenAll(ctx); err != nil {
				return err
			}
			if err := b.growthStep(ctx, n); err != nil {
				rep.problem("growth %d: %v", n, err)
				break
			}
		}
		b.growthVerdict()
	}
	if want("memory") {
		b.memory("after the run")
	}
	if want("sockets") {
		if err := b.freshenAll(ctx); err != nil {
			return err
		}
		if err := b.idleSockets(ctx); err != nil {
			rep.problem("sockets: %v", err)
		}
	}
	return ctx.Err()
}

// raiseNoFile lifts the open-file limit to want descriptors: the soft limit up to the hard one, and the hard
// one too when the process may (root), up to the kernel's fs.nr_open. Each idle WebSocket is a descriptor in the
// bench and one in the gateway, which inherits the limit. It returns the soft limit it ends with.
func raiseNoFile(want uint64) (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	if want > lim.Max {
		if raw, err := os.ReadFile("/proc/sys/fs/nr_open"); err == nil {
			if nrOpen, err := strconv.ParseUint(strings.TrimSpace(string(raw)), 10, 64); err == nil {
				raised := syscall.Rlimit{Cur: min(want, nrOpen), Max: min(want, nrOpen)}
				if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised) == nil {
					return raised.Cur, nil
				}
			}
		}
	}
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	return lim.Cur, nil
}

func hostInfo() map[string]any {
	h := map[string]any{"cpus": runtime.NumCPU(), "go": runtime.Version(), "os": runtime.GOOS + "/" + runtime.GOARCH}
	if name, err := os.Hostname(); err == nil {
		h["hostname"] = name
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		h["loadavg_at_start"] = strings.TrimSpace(string(b))
	}
	return h
}

// parseSizes reads "10k,1m,10m".
func parseSizes(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.ToLower(strings.TrimSpace(f))
		if f == "" {
			continue
		}
		mult := 1
		switch {
		case strings.HasSuffix(f, "k"):
			mult, f = 1000, strings.TrimSuffix(f, "k")
		case strings.HasSuffix(f, "m"):
			mult, f = 1000_000, strings.TrimSuffix(f, "m")
		}
		n, err := strconv.ParseFloat(f, 64)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("bad size %q", f)
		}
		out = append(out, int(n*float64(mult)))
	}
	return out, nil
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("bad number %q", f)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, errors.New("no concurrency")
	}
	return out, nil
}
