package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The cost of one operation (issue 17): on a machine whose speed moves from day to day, what one send or one
// read costs each process in CPU, and in database statements and broker publishes, is the yardstick that does
// not move with it. A meter reads, at the start and the end of a measured window (after the warm-up), the CPU
// time of every process of the stack from /proc/PID/stat (the five services, MariaDB, RabbitMQ, and the bench's
// own process, the load client, reported apart), MariaDB's statement counters (SHOW GLOBAL STATUS) and the
// services' broker publishes (broker_publishes_total on their /metrics, routed or returned); the differences divided by the
// operations completed in the window are the cost of one.

// clockTicks is the kernel's USER_HZ, the unit of /proc/PID/stat's CPU times: 100 on every Linux this runs on
// (getconf CLK_TCK); the standard library does not expose sysconf.
const clockTicks = 100

// meter reads the counters of one stack.
type meter struct {
	procs  map[string]int    // process name (service, "mariadb", "rabbitmq", "client") → pid
	admins map[string]string // service → admin base URL (for /metrics)
	db     *sql.DB           // any connection to the MariaDB server (global status)
}

// reading is the counters at one moment.
type reading struct {
	at        time.Time
	cpu       map[string]time.Duration
	status    map[string]float64
	publishes float64
}

// cost is what one operation cost over a window.
type cost struct {
	Ops int `json:"ops"`
	// CPUms is the CPU time per operation of each process, in milliseconds.
	CPUms map[string]float64 `json:"cpu_ms"`
	// ServerMs is the sum over the servers (the services, MariaDB and RabbitMQ), ClientMs the load client's.
	ServerMs float64 `json:"server_ms"`
	ClientMs float64 `json:"client_ms"`
	// Statements per operation (MariaDB's Questions: every statement the clients sent), of which DML and commits.
	Statements float64 `json:"statements"`
	Writes     float64 `json:"writes"`
	Commits    float64 `json:"commits"`
	// Publishes per operation, by all the services together.
	Publishes float64 `json:"publishes"`
}

// servers are the processes whose CPU counts as the stack's, in the order the table shows them.
var servers = []string{"gateway", "auth", "profiles", "friends", "messages", "mariadb", "rabbitmq"}

// newMeter finds the processes: the services' pids as the bench knows them, MariaDB and RabbitMQ by their
// command names (the first such process: one server of each on the machine), and this process as the client.
// It returns the processes it could not find.
func newMeter(pids map[string]int, admins map[string]string, db *sql.DB) (*meter, []string) {
	m := &meter{procs: map[string]int{"client": os.Getpid()}, admins: admins, db: db}
	var missing []string
	for _, svc := range serviceNames {
		if pid := pids[svc]; pid > 0 {
			m.procs[svc] = pid
		} else {
			missing = append(missing, svc)
		}
	}
	for name, comms := range map[string][]string{"mariadb": {"mariadbd", "mysqld"}, "rabbitmq": {"beam.smp"}} {
		if pid := findProcess(comms...); pid > 0 {
			m.procs[name] = pid
		} else {
			missing = append(missing, name)
		}
	}
	return m, missing
}

// findProcess is the first process whose command name is one of comms (0: none).
func findProcess(comms ...string) int {
	dirs, _ := filepath.Glob("/proc/[0-9]*/comm")
	for _, f := range dirs {
		raw, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		name := strings.TrimSpace(string(raw))
		for _, c := range comms {
			if name == c {
				pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(f)))
				return pid
			}
		}
	}
	return 0
}

// processCPU is the user plus system CPU time of a process, all its threads, from /proc/PID/stat.
func processCPU(pid int) (time.Duration, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces: the fields are counted after its ")".
	i := bytes.LastIndexByte(raw, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(raw[i+1:]))
	// After the name: state is field 3, utime field 14 and stime field 15 (proc(5)), so f[11] and f[12].
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	utime, err1 := strconv.ParseUint(f[11], 10, 64)
	stime, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: utime %q, stime %q", pid, f[11], f[12])
	}
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}

// statusNames are the MariaDB counters a cost reads.
var statusNames = []string{"Questions", "Com_insert", "Com_update", "Com_delete", "Com_replace", "Com_insert_select", "Com_commit"}

func (m *meter) read(ctx context.Context) (reading, error) {
	r := reading{at: time.Now(), cpu: map[string]time.Duration{}, status: map[string]float64{}}
	for name, pid := range m.procs {
		t, err := processCPU(pid)
		if err != nil {
			return r, fmt.Errorf("CPU of %s: %w", name, err)
		}
		r.cpu[name] = t
	}
	rows, err := m.db.QueryContext(ctx, "SHOW GLOBAL STATUS WHERE Variable_name IN ('"+strings.Join(statusNames, "','")+"')")
	if err != nil {
		return r, fmt.Errorf("global status: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var v float64
		if err := rows.Scan(&name, &v); err != nil {
			return r, err
		}
		r.status[name] = v
	}
	if err := rows.Err(); err != nil {
		return r, err
	}
	for svc, admin := range m.admins {
		body, err := adminGet(admin, "/metrics")
		if err != nil {
			return r, fmt.Errorf("metrics of %s: %w", svc, err)
		}
		// Published, whether routed or returned (a push to a user with no socket has nowhere to go, but the
		// broker handled it all the same).
		r.publishes += counterSum(body, "broker_publishes_total", `result="ok"`) + counterSum(body, "broker_publishes_total", `result="returned"`)
	}
	return r, nil
}

// counterSum adds up the samples of a metric in the Prometheus text exposition whose labels contain match.
func counterSum(body []byte, name, match string) float64 {
	total := 0.0
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, name)
		if !ok || (rest != "" && rest[0] != '{' && rest[0] != ' ') || !strings.Contains(rest, match) {
			continue
		}
		f := strings.Fields(rest[strings.LastIndexByte(rest, '}')+1:])
		if len(f) == 0 {
			continue
		}
		if v, err := strconv.ParseFloat(f[0], 64); err == nil {
			total += v
		}
	}
	return total
}

// between is the cost of one of the ops operations done between a and b.
func between(a, b reading, ops int) cost {
	c := cost{Ops: ops, CPUms: map[string]float64{}}
	if ops <= 0 {
		return c
	}
	per := func(d float64) float64 { return d / float64(ops) }
	for name, t := range b.cpu {
		ms := per(float64(t-a.cpu[name]) / float64(time.Millisecond))
		c.CPUms[name] = ms
		if name == "client" {
			c.ClientMs = ms
		} else {
			c.ServerMs += ms
		}
	}
	d := func(k string) float64 { return b.status[k] - a.status[k] }
	c.Statements = per(d("Questions") - 1) // the closing SHOW GLOBAL STATUS (a statement counts itself before it reads)
	c.Writes = per(d("Com_insert") + d("Com_update") + d("Com_delete") + d("Com_replace") + d("Com_insert_select"))
	c.Commits = per(d("Com_commit"))
	c.Publishes = per(b.publishes - a.publishes)
	return c
}

// window measures a cost over a closed loop's measured window (closedLoopMarked): it reads the counters as the
// window opens and as it closes; cost divides the difference by the operations done in it.
type window struct {
	m          *meter
	ctx        context.Context
	start, end reading
	err        error
}

func (w *window) mark(opening bool) {
	if w == nil || w.err != nil {
		return
	}
	r, err := w.m.read(w.ctx)
	if err != nil {
		w.err = err
		return
	}
	if opening {
		w.start = r
	} else {
		w.end = r
	}
}

func (w *window) cost(ops int) (cost, error) {
	if w.err != nil {
		return cost{}, w.err
	}
	return between(w.start, w.end, ops), nil
}

// costTargets holds the costs to issue 17's targets, run by run: the servers' CPU per send at the highest
// concurrency (≤ 0.6 ms) and per history read (≤ 0.3 ms), and MariaDB's CPU per send in floor commits (the
// single-row INSERT at the same concurrency, same run number; ≤ 3).
func (b *bench) costTargets() {
	if b.meterPartial {
		return // a server's CPU is missing: a total without it would pass for less than it costs
	}
	top := b.s.Concurrency[len(b.s.Concurrency)-1]
	find := func(op string, run int) (costRow, bool) {
		for _, c := range b.rep.Costs {
			if c.Operation == op && c.Run == run {
				return c, true
			}
		}
		return costRow{}, false
	}
	send := &row{Measure: "8 cost", Metric: fmt.Sprintf("send c=%d server CPU", top), Unit: "ms/op"}
	db := &row{Measure: "8 cost", Metric: fmt.Sprintf("send c=%d MariaDB CPU", top), Unit: "floor commits"}
	read := &row{Measure: "8 cost", Metric: fmt.Sprintf("history c=%d server CPU", b.s.HistoryConc), Unit: "ms/op"}
	floor := &row{Measure: "8 cost", Metric: fmt.Sprintf("floor c=%d MariaDB CPU", top), Unit: "ms/commit"}
	for run := 1; run <= b.s.Runs; run++ {
		s, okS := find(fmt.Sprintf("send c=%d", top), run)
		f, okF := find(fmt.Sprintf("floor INSERT c=%d", top), run)
		h, okH := find(fmt.Sprintf("history c=%d", b.s.HistoryConc), run)
		if okS {
			send.Runs = append(send.Runs, s.ServerMs)
		}
		if okF {
			floor.Runs = append(floor.Runs, f.CPUms["mariadb"])
		}
		if okS && okF && f.CPUms["mariadb"] > 0 {
			db.Runs = append(db.Runs, s.CPUms["mariadb"]/f.CPUms["mariadb"])
		}
		if okH {
			read.Runs = append(read.Runs, h.ServerMs)
		}
	}
	if len(send.Runs) > 0 {
		send.check("<=", 0.6, "<= 0.6")
		b.rep.add(send)
	}
	if len(floor.Runs) > 0 {
		b.rep.add(floor)
	}
	if len(db.Runs) > 0 {
		db.check("<=", 3, "<= 3")
		b.rep.add(db)
	}
	if len(read.Runs) > 0 {
		read.check("<=", 0.3, "<= 0.3")
		b.rep.add(read)
	}
}
