package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

var serviceNames = []string{"gateway", "auth", "profiles", "friends", "messages"}

// vmRSS reads a process's resident set from /proc/<pid>/status, in bytes.
func vmRSS(pid int) (int64, error) {
	if pid <= 0 {
		return 0, fmt.Errorf("no process id")
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// metricRSS reads process_resident_memory_bytes from a service's admin /metrics (the cross-check).
func metricRSS(admin string) (int64, error) {
	v, err := metricValue(admin, "process_resident_memory_bytes")
	return int64(v), err
}

// metricValue reads one unlabelled (but for the service label) sample from a service's admin /metrics.
func metricValue(admin, name string) (float64, error) {
	body, err := adminGet(admin, "/metrics")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(body), "\n") {
		if rest, ok := strings.CutPrefix(line, name); ok && (rest == "" || rest[0] == ' ' || rest[0] == '{') {
			fields := strings.Fields(rest)
			if len(fields) == 0 {
				continue
			}
			return strconv.ParseFloat(fields[len(fields)-1], 64)
		}
	}
	return 0, fmt.Errorf("no %s at %s/metrics", name, admin)
}

func adminGet(admin, path string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", admin+path, nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err == nil && res.StatusCode != 200 {
		err = fmt.Errorf("GET %s%s: status %d", admin, path, res.StatusCode)
	}
	return body, err
}

// liveHeap has the service collect its garbage (the admin port's /debug/pprof/heap?gc=1) and returns the heap
// in use and the goroutines afterwards: what the sockets hold, without the garbage the RSS may still carry.
func liveHeap(admin string) (heap, goroutines float64, err error) {
	if _, err := adminGet(admin, "/debug/pprof/heap?gc=1"); err != nil {
		return 0, 0, err
	}
	if heap, err = metricValue(admin, "go_memstats_heap_inuse_bytes"); err != nil {
		return 0, 0, err
	}
	goroutines, err = metricValue(admin, "go_goroutines")
	return heap, goroutines, err
}

// memory (6): every service's RSS now (at rest, or after the run), from /proc and from /metrics; after the run
// each is held to 64 MiB.
func (b *bench) memory(when string) {
	detail := map[string]any{}
	for _, svc := range serviceNames {
		rss, err := vmRSS(b.pids[svc])
		mrss, merr := metricRSS(b.admins[svc])
		r := &row{Measure: "6 memory", Metric: svc + " RSS " + when, Unit: "MiB"}
		switch {
		case err == nil:
			r.Runs = []float64{mib(rss)}
		case merr == nil:
			r.Runs = []float64{mib(mrss)}
			r.Note = "from /metrics: no /proc figure: " + err.Error()
		default:
			r.Note = "no figure: " + err.Error() + "; /metrics: " + merr.Error()
		}
		if merr == nil {
			r.Check = fmt.Sprintf("/metrics process_resident_memory_bytes: %.1f MiB", mib(mrss))
		}
		if when == "after the run" {
			r.check("<", 64, "< 64")
		}
		b.rep.add(r)
		detail[svc] = map[string]any{"vmrss_bytes": rss, "metrics_rss_bytes": mrss}
		logf("%s RSS %s: %.1f MiB (/metrics %.1f MiB)", svc, when, mib(rss), mib(mrss))
	}
	b.rep.detail("memory "+when, detail)
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

// idleSockets (6): the gateway's RSS with no socket, then with -sockets idle WebSockets open (spread over all
// the bench's users), and the difference per connection; twice.
func (b *bench) idleSockets(ctx context.Context) error {
	per := &row{Measure: "6 sockets", Metric: fmt.Sprintf("RSS per idle WebSocket (%d)", b.s.Sockets), Unit: "KiB"}
	base := &row{Measure: "6 sockets", Metric: "gateway RSS without sockets", Unit: "MiB"}
	full := &row{Measure: "6 sockets", Metric: fmt.Sprintf("gateway RSS with %d sockets", b.s.Sockets), Unit: "MiB"}
	refused := &row{Measure: "6 sockets", Metric: "entries refused while opening (retried)", Unit: "count"}
	dropped := &row{Measure: "6 sockets", Metric: "sockets closed before the reading", Unit: "count"}
	heapPer := &row{Measure: "6 sockets", Metric: "live heap per socket (after GC)", Unit: "KiB"}
	gorPer := &row{Measure: "6 sockets", Metric: "goroutines per socket", Unit: "count"}
	probeP99 := &row{Measure: "6 sockets", Metric: fmt.Sprintf("send→frame p99 to one more socket, %d open", b.s.Sockets), Unit: "ms"}
	probeLost := &row{Measure: "6 sockets", Metric: "probe errors + not pushed", Unit: "count"}
	// One loopback address per 20,000 sockets, and one more (about 28,000 ephemeral ports each).
	sources := b.s.Sockets/20000 + 1
	var runs []map[string]any
	for run := 1; run <= b.s.Runs; run++ {
		// Each run has a gateway of its own, started for it: a Go process keeps freed memory for a while, so
		// a second run on the same gateway would start from the first one's high-water mark. With -url there
		// is only the running gateway.
		gw, err := b.socketGateway(run)
		if err != nil {
			return err
		}
		pid, admin := gw.pid, gw.admin
		time.Sleep(3 * time.Second) // the gateway settles (or the previous sockets' goroutines wind down)
		before, err := vmRSS(pid)
		if err != nil {
			return err
		}
		heap0, gor0, herr := liveHeap(admin)
		logf("idle sockets run %d: opening %d (gateway at %.1f MiB)", run, b.s.Sockets, mib(before))
		set, opened, err := b.openSockets(ctx, gw.client.withSources(sources), b.s.Sockets)
		if err != nil {
			closeAll(set.conns)
			gw.stop()
			return err
		}
		time.Sleep(5 * time.Second) // entering work (unread, pending) finishes; the sockets are idle
		after, err := vmRSS(pid)
		metric, _ := metricRSS(admin)
		heap1, gor1, herr1 := liveHeap(admin)
		if b.s.Pprof && run == 1 {
			b.saveProfile(admin, "/debug/pprof/heap", fmt.Sprintf("sockets%d-gateway.heap.pb.gz", b.s.Sockets))
		}
		probe, perr := b.probePush(ctx, gw.client)
		if perr != nil {
			probe.Errors, probe.FirstErr = probeSends, perr.Error()
		}
		logf("  push probe with the sockets open: %d delivered, p50 %.1f ms, p99 %.1f ms, max %.1f ms, %d failed %s",
			probe.Count, probe.P50ms, probe.P99ms, probe.Maxms, probe.Errors, probe.FirstErr)
		probeP99.Runs = append(probeP99.Runs, probe.P99ms)
		probeLost.Runs = append(probeLost.Runs, float64(probe.Errors))
		alive := set.alive.Load()
		closeAll(set.conns)
		gw.stop()
		if err != nil {
			return err
		}
		refused.Runs = append(refused.Runs, float64(set.retries.Load()))
		if last, _ := set.lastErr.Load().(string); last != "" {
			refused.Note = "last: " + last
		}
		dropped.Runs = append(dropped.Runs, float64(int64(b.s.Sockets)-alive))
		if herr == nil && herr1 == nil {
			heapPer.Runs = append(heapPer.Runs, (heap1-heap0)/1024/float64(b.s.Sockets))
			gorPer.Runs = append(gorPer.Runs, (gor1-gor0)/float64(b.s.Sockets))
		} else {
			heapPer.Note = fmt.Sprint("live heap: ", herr, herr1)
		}
		kib := float64(after-before) / 1024 / float64(b.s.Sockets)
		logf("  opened in %s (%d refused entries retried; %d open at the reading); gateway at %.1f MiB (/metrics %.1f): %.1f KiB per socket",
			opened.Round(time.Millisecond), set.retries.Load(), alive, mib(after), mib(metric), kib)
		per.Runs = append(per.Runs, kib)
		base.Runs = append(base.Runs, mib(before))
		full.Runs = append(full.Runs, mib(after))
		runs = append(runs, map[string]any{"sockets": b.s.Sockets, "rss_before": before, "rss_after": after, "metrics_rss_after": metric, "open_seconds": opened.Seconds(), "alive_at_reading": alive, "refused_entries": set.retries.Load(),
			"heap_inuse_before": heap0, "heap_inuse_after": heap1, "goroutines_before": gor0, "goroutines_after": gor1,
			"source_addresses": sources, "probe": probe})
	}
	per.check("<=", 12, "<= 12")
	dropped.check("==", 0, "0")
	probeP99.check("<=", 50, "<= 50")
	probeLost.check("==", 0, "0")
	for _, r := range []*row{base, full, per, heapPer, gorPer, refused, dropped, probeP99, probeLost} {
		b.rep.add(r)
	}
	b.rep.detail("sockets", runs)
	return nil
}

// socketGateway is the gateway process one run of the idle-socket measurement uses.
type socketGateway struct {
	client *client
	pid    int
	admin  string
	stop   func()
}

// socketGateway starts a gateway replica on the bench's stack for run, or names the running stack's gateway.
func (b *bench) socketGateway(run int) (socketGateway, error) {
	if b.stack == nil {
		return socketGateway{client: b.c, pid: b.pids["gateway"], admin: b.admins["gateway"], stop: func() {}}, nil
	}
	name := fmt.Sprintf("gateway-sockets-%d", run)
	// Sized for its sockets, as a pod meant to hold them would be: the stack's 57 MiB plus 16 KiB a socket
	// (the target is 12). With the stack's limit alone, tens of thousands of sockets' live heap passes it and
	// the collector runs without pause.
	url, err := b.stack.StartGateway(name, fmt.Sprintf("GOMEMLIMIT=%dMiB", 57+b.s.Sockets*16/1024))
	if err != nil {
		return socketGateway{}, err
	}
	logf("  gateway %s started at %s for this run", name, url)
	return socketGateway{client: newClient(url), pid: b.stack.PID(name), admin: b.stack.AdminURL(name),
		stop: func() { b.stack.StopProcess(name) }}, nil
}

// socketSet is the idle sockets of one run: how many are open now, and how many entries the gateway refused
// (it closes a socket it cannot enter, for the client to retry) before every one was in.
type socketSet struct {
	conns   []*websocket.Conn
	alive   atomic.Int64
	retries atomic.Int64
	lastErr atomic.Value
}

// openSockets opens n WebSockets over all users, 32 dials at a time. A socket counts once its messages.unread
// frame arrived; one closed before that is dialled again, as a client would. Each is then read in the
// background (so pings are answered) until it closes.
func (b *bench) openSockets(ctx context.Context, c *client, n int) (*socketSet, time.Duration, error) {
	start := time.Now()
	set := &socketSet{conns: make([]*websocket.Conn, n)}
	var done atomic.Int64
	err := parallel(ctx, 32, n, func(ctx context.Context, i int) error {
		u := b.all[i%len(b.all)]
		for attempt := 1; ; attempt++ {
			conn, err := enterIdle(ctx, c, u)
			if err == nil {
				set.conns[i] = conn
				set.alive.Add(1)
				go func() {
					defer set.alive.Add(-1)
					for {
						if _, _, err := conn.Read(context.Background()); err != nil {
							return
						}
					}
				}()
				break
			}
			set.retries.Add(1)
			set.lastErr.Store(err.Error())
			if attempt == 20 || ctx.Err() != nil {
				return fmt.Errorf("socket %d: %d attempts, last: %w", i, attempt, err)
			}
			sleep(ctx, time.Duration(attempt)*200*time.Millisecond)
		}
		if d := done.Add(1); d%2000 == 0 {
			logf("  %d sockets in (%d refused entries retried)", d, set.retries.Load())
		}
		return nil
	})
	return set, time.Since(start), err
}

// enterIdle dials u's socket and waits for its messages.unread frame.
func enterIdle(ctx context.Context, c *client, u *user) (*websocket.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := c.dial(ctx, u)
	if err != nil {
		return nil, err
	}
	for {
		_, data, err := conn.Read(ctx)
		if err != nil {
			_ = conn.CloseNow()
			return nil, err
		}
		if strings.Contains(string(data[:min(len(data), 40)]), `"messages.unread"`) {
			return conn, nil
		}
	}
}

// saveProfile fetches a profile from a service's admin port into <out>/pprof/name.
func (b *bench) saveProfile(admin, path, name string) {
	dir := filepath.Join(b.s.Out, "pprof")
	data, err := adminGet(admin, path)
	if err == nil {
		if err = os.MkdirAll(dir, 0o755); err == nil {
			err = os.WriteFile(filepath.Join(dir, name), data, 0o644)
		}
	}
	if err != nil {
		b.rep.problem("profile %s%s: %v", admin, path, err)
		return
	}
	logf("  profile %s%s: %s", admin, path, filepath.Join(dir, name))
}

func closeAll(conns []*websocket.Conn) {
	var wg sync.WaitGroup
	for _, c := range conns {
		if c != nil {
			wg.Add(1)
			go func() { defer wg.Done(); _ = c.CloseNow() }()
		}
	}
	wg.Wait()
}

// probeSends and probeInterval make the push probe of the idle sockets: 200 messages, one every 50 ms.
const (
	probeSends    = 200
	probeInterval = 50 * time.Millisecond
)

// probePush measures push latency while the idle sockets are open: a fresh pair of friends, the recipient with
// one socket of its own beside them, and probeSends messages one after the other, each timed from the send call
// starting to its message.new frame arriving.
func (b *bench) probePush(ctx context.Context, c *client) (summary, error) {
	sender, err := c.register(ctx, "probe")
	if err != nil {
		return summary{}, err
	}
	recipient, err := c.register(ctx, "probe")
	if err != nil {
		return summary{}, err
	}
	if err := c.befriend(ctx, sender, recipient); err != nil {
		return summary{}, err
	}
	conn, err := enterIdle(ctx, c, recipient)
	if err != nil {
		return summary{}, err
	}
	defer conn.CloseNow() //nolint:errcheck // the probe's own socket
	r := &recorder{}
	r.active.Store(true)
	start := time.Now()
	for i := range probeSends {
		text := fmt.Sprintf("probe %d %s", i, randomHex(4))
		sent := time.Now()
		if _, err := c.send(ctx, sender, recipient.id, text); err != nil {
			r.fail(err)
			continue
		}
		if err := awaitFrame(ctx, conn, text); err != nil {
			r.fail(err)
			continue
		}
		r.ok(time.Since(sent))
		sleep(ctx, probeInterval-time.Since(sent))
	}
	return r.summary(time.Since(start)), nil
}

// awaitFrame reads conn until the message.new frame with that text, for up to 3 s.
func awaitFrame(ctx context.Context, conn *websocket.Conn, text string) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	for {
		_, data, err := conn.Read(ctx)
		if err != nil {
			return fmt.Errorf("no message.new frame: %w", err)
		}
		var f struct {
			Type string `json:"type"`
			Data struct {
				Text string `json:"text"`
			} `json:"data"`
		}
		if json.Unmarshal(data, &f) == nil && f.Type == "message.new" && f.Data.Text == text {
			return nil
		}
	}
}
