package e2e

// TestClusterRollout: the messenger installed on a Kubernetes cluster loses no message, duplicates none and
// leaves no client behind while it is upgraded (E2E_UPGRADE_CMD: a `helm upgrade ... --wait` to a new image
// tag, a rolling update of every Deployment) and while one pod of each service after the other is deleted (a
// graceful deletion; the Deployment replaces the pod).
//
// A steady chat load runs the whole time: E2E_CLUSTER_PAIRS friend pairs (8), each sender sending a numbered
// message every E2E_CLUSTER_INTERVAL (200ms) with an idempotency key (client_message_id), retrying a failed send
// with the same key, with backoff, until it is accepted (at most 40 attempts within 60 s); every recipient keeps
// a WebSocket open through the gateway's public address, reconnects with backoff when it drops, and catches up
// as the contract says: the messages.unread frame of each connection, then history pages (after=the newest id
// it has) to the end. Recipients mark what they have as read, as an app does, so each messages.unread frame holds
// what they missed. A refused access token (it expires during a long upgrade) is refreshed, as an app would.
//
// Phases: 0 the load alone (proves the cluster and the harness before anything is disturbed); A the upgrade,
// then ~5 s of load; B, for each service in turn, one running pod deleted (`kubectl delete pod`, not forced),
// the service's Deployment fully available again (`kubectl rollout status`, then every replica ready and no pod
// terminating), then ~3 s of load. Each phase ends with a quiescent check (its own subtest): the senders pause,
// sends in flight finish, then
//   - every accepted message is in both participants' histories exactly once, in one order of increasing ids
//     that is the order it was sent in (lost, duplicated);
//   - every accepted message reached the recipient's app, live or by catching up (undelivered); no message
//     reached the app twice under two ids (duplicated: the app deduplicates by message id only);
//   - every recipient's socket is open again and has caught up (not caught up);
//   - every send was accepted in the end (failed sends: a client retrying for a minute still could not send).
// Pushes are at least once for the contract (it promises a message.new for each message and the chat's order on
// a socket, not one frame per message), so a message.new for a message the client was already pushed is
// counted (dup pushes) but is no failure; a new message pushed on a socket after a newer one is (out of order).
// The table (phase | sent | accepted | retried sends | failed sends | lost | ... | p99/max send latency, from the
// first attempt to the acceptance) is logged at the end; a failed phase logs `kubectl get pods -o wide`, the
// namespace's events and the logs of the services' pods (and of the previous containers of restarted ones).
//
// It runs only with E2E_CLUSTER=1 in external mode (E2E_GATEWAY_URL). It takes the upgrade's own time plus about
// a minute per service, so give go test a -timeout of 30m or so:
//
//	E2E_GATEWAY_URL=http://127.0.0.1:30080 E2E_CLUSTER=1 \
//	E2E_KUBECTL="/work/main/.tools/bin/kubectl --kubeconfig /work/main/.run/cluster/admin.kubeconfig" \
//	E2E_NAMESPACE=messenger E2E_UPGRADE_CMD='helm upgrade ... --wait' \
//	go test -count=1 -timeout 30m -v -run TestClusterRollout ./e2e/
//
// Other settings: E2E_SERVICES (gateway,auth,profiles,friends,messages: phase B's order), E2E_RELEASE (the Helm
// release, when the namespace holds more than one: pods are found by app.kubernetes.io/name=<service> and
// app.kubernetes.io/instance=<release>, the chart's selector labels), E2E_UPGRADE_TIMEOUT (20m),
// E2E_ROLLOUT_TIMEOUT (5m), E2E_CLUSTER_PAIRS, E2E_CLUSTER_INTERVAL.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"simplemessenger/platform/server/servertest"
)

// rolloutConfig is what the environment says about the cluster and the load.
type rolloutConfig struct {
	kube                           kube
	upgrade                        string
	upgradeTimeout, rolloutTimeout time.Duration
	services                       []string
	pairs                          int
	interval                       time.Duration
}

func rolloutSettings(t *testing.T) rolloutConfig {
	t.Helper()
	cfg := rolloutConfig{
		kube:    kube{argv: strings.Fields(envOr("E2E_KUBECTL", "kubectl")), ns: envOr("E2E_NAMESPACE", "messenger"), release: os.Getenv("E2E_RELEASE")},
		upgrade: os.Getenv("E2E_UPGRADE_CMD"), upgradeTimeout: 20 * time.Minute, rolloutTimeout: 5 * time.Minute,
		services: strings.Split(envOr("E2E_SERVICES", "gateway,auth,profiles,friends,messages"), ","),
		pairs:    8, interval: 200 * time.Millisecond,
	}
	if strings.TrimSpace(cfg.upgrade) == "" {
		t.Fatal("E2E_UPGRADE_CMD is not set: the shell command (bash -c) that upgrades the release to a new image tag, e.g. 'helm upgrade ... --wait'")
	}
	for k, p := range map[string]*time.Duration{"E2E_UPGRADE_TIMEOUT": &cfg.upgradeTimeout, "E2E_ROLLOUT_TIMEOUT": &cfg.rolloutTimeout, "E2E_CLUSTER_INTERVAL": &cfg.interval} {
		if v := os.Getenv(k); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				t.Fatalf("%s=%q: want a duration such as 5m", k, v)
			}
			*p = d
		}
	}
	if v := os.Getenv("E2E_CLUSTER_PAIRS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			t.Fatalf("E2E_CLUSTER_PAIRS=%q: want a positive integer", v)
		}
		cfg.pairs = n
	}
	for i, s := range cfg.services {
		cfg.services[i] = strings.TrimSpace(s)
	}
	cfg.services = slices.DeleteFunc(cfg.services, func(s string) bool { return s == "" })
	if len(cfg.kube.argv) == 0 || len(cfg.services) == 0 {
		t.Fatal("E2E_KUBECTL and E2E_SERVICES must not be empty")
	}
	return cfg
}

func TestClusterRollout(t *testing.T) {
	if !external || os.Getenv("E2E_CLUSTER") != "1" {
		t.Skip("upgrades and deletes the pods of a messenger on Kubernetes: set E2E_CLUSTER=1 and E2E_GATEWAY_URL " +
			"(and E2E_KUBECTL, E2E_NAMESPACE, E2E_UPGRADE_CMD; see cluster_test.go)")
	}
	cfg := rolloutSettings(t)
	k := cfg.kube
	if dl, ok := t.Deadline(); ok && time.Until(dl) < 15*time.Minute {
		t.Logf("WARNING: only %v left before go test's -timeout; the upgrade and five pod replacements may need more (e.g. -timeout 30m)", time.Until(dl).Round(time.Second))
	}
	// The cluster is settled before anything starts, and kubectl works.
	for _, svc := range cfg.services {
		if err := k.waitAvailable(svc, cfg.rolloutTimeout); err != nil {
			t.Fatalf("before the test: %v\n%s", err, k.diagnostics(cfg.services))
		}
	}
	if out, err := k.run(time.Minute, "get", "pods", "-o", "wide", "-n", k.ns); err == nil {
		t.Logf("pods at the start:\n%s", out)
	}

	load := startRolloutLoad(t, cfg)
	defer load.stop()
	var rows []rolloutRow
	defer func() { t.Log(rolloutTable(rows)) }()
	// phase ends a phase with its quiescent check (a subtest of its own) and starts the next one's load; when
	// the check or a step of the phase (trouble) failed, it logs the state of the phase's services.
	trouble := false
	phase := func(name string, svcs []string) bool {
		var row rolloutRow
		ok := t.Run(strings.ReplaceAll(name, " ", "_"), func(t *testing.T) { load.check(t, name, &row) })
		rows = append(rows, row)
		if !ok || trouble {
			t.Logf("%s failed; the cluster now:\n%s", name, k.diagnostics(svcs))
		}
		trouble = false
		load.begin()
		return ok
	}

	time.Sleep(5 * time.Second)
	if !phase("0 steady load", cfg.services) {
		t.Fatal("the load already fails before anything is disturbed: the cluster (or the harness) is not fit for the rollout test")
	}

	// Phase A: the upgrade, under load.
	before := k.snapshot(t, cfg.services)
	t.Logf("A: running E2E_UPGRADE_CMD: %s", cfg.upgrade)
	out, took, err := runShell(cfg.upgrade, cfg.upgradeTimeout)
	if err != nil {
		t.Logf("the cluster after the failed upgrade:\n%s", k.diagnostics(cfg.services))
		t.Fatalf("A: E2E_UPGRADE_CMD failed after %v: %v; its output:\n%s", took.Round(time.Second), err, tail(out, 200))
	}
	t.Logf("A: E2E_UPGRADE_CMD done in %v; its output ends:\n%s", took.Round(time.Second), tail(out, 30))
	for _, svc := range cfg.services {
		if err := k.waitAvailable(svc, cfg.rolloutTimeout); err != nil {
			t.Errorf("A: after the upgrade: %v", err)
			trouble = true
		}
	}
	after := k.snapshot(t, cfg.services)
	rolled := 0
	for _, svc := range cfg.services {
		b, a := before[svc], after[svc]
		replaced := len(slices.DeleteFunc(slices.Clone(b.pods), func(p string) bool { return slices.Contains(a.pods, p) }))
		rolled += replaced
		t.Logf("A: %s: image %s → %s; %d of %d pods replaced (pods now %v)", svc, b.images, a.images, replaced, len(b.pods), a.pods)
	}
	if rolled == 0 {
		t.Errorf("A: the upgrade replaced no pod: E2E_UPGRADE_CMD must roll the Deployments (a new image tag), or phase A proves nothing")
		trouble = true
	}
	time.Sleep(5 * time.Second)
	phase("A upgrade", cfg.services)

	// Phase B: one pod of each service deleted, one service after the other.
	for _, svc := range cfg.services {
		time.Sleep(3 * time.Second) // the deletion lands under load
		pod, err := k.readyPod(svc)
		if err != nil {
			t.Errorf("B: %s: %v\n%s", svc, err, k.diagnostics([]string{svc}))
			continue
		}
		t.Logf("B: deleting pod %s of %s (%s on %s)", pod.Metadata.Name, svc, pod.Status.PodIP, pod.Spec.NodeName)
		start := time.Now()
		if out, err := k.run(3*time.Minute, "delete", "pod", pod.Metadata.Name, "-n", k.ns, "--wait=true", "--timeout=2m"); err != nil {
			t.Errorf("B: kubectl delete pod %s: %v %s", pod.Metadata.Name, err, out)
			trouble = true
		}
		deleted := time.Since(start)
		if err := k.waitAvailable(svc, cfg.rolloutTimeout); err != nil {
			t.Errorf("B: after deleting %s: %v", pod.Metadata.Name, err)
			trouble = true
		}
		t.Logf("B: %s gone %v after the delete began; %s fully available again %v after it", pod.Metadata.Name,
			deleted.Round(time.Millisecond), svc, time.Since(start).Round(time.Millisecond))
		time.Sleep(3 * time.Second)
		phase("B delete "+svc+" pod", []string{svc})
	}
}

// runShell runs a command line with bash -c and returns what it wrote (stdout and stderr together).
func runShell(cmdline string, timeout time.Duration) (string, time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", cmdline)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 10 * time.Second // children still holding the output after a timeout
	start := time.Now()
	err := cmd.Run()
	return out.String(), time.Since(start), err
}

// ---------- The load ----------

const (
	rolloutMaxAttempts = 40               // attempts of one send before it counts as failed
	rolloutGiveUp      = 60 * time.Second // nor does a send retry for longer
	rolloutQuiet       = 30 * time.Second // how long the quiescent check waits for every recipient to catch up
)

// rolloutLoad is the steady chat load: one sender and one recipient per pair. Senders can be paused (between
// two sends) for the quiescent check; recipients never are.
type rolloutLoad struct {
	cfg    rolloutConfig
	runID  string
	pairs  []*rolloutPair
	client *http.Client // the recipients' catch-up and read marks, token renewals
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	cond   *sync.Cond
	paused bool
	busy   int           // senders in the middle of a send (its retries included)
	stats  *rolloutStats // the current phase's
}

// rolloutPair is one conversation: from sends to to.
type rolloutPair struct {
	i        int
	from, to *rolloutSession
	rcv      *rolloutRecipient

	mu       sync.Mutex
	accepted map[string]string // client_message_id → message id
	failed   []string          // client_message_ids given up on

	// At the phase's start, for its figures.
	connections, dupPushes, outOfOrder, dupMessages int
	reached                                         [3]int
}

// rolloutStats are one phase's sending figures.
type rolloutStats struct {
	mu                                   sync.Mutex
	sent, accepted, retried, failed      int
	failedAttempts                       int
	latencies                            []time.Duration // first attempt → accepted
	failKinds                            map[string]int
	failSample                           map[string]string
	rejected                             []string // refusals a retry cannot change (400, 403...): the load is wrong
	renewErrors, catchUpErrors, readErrs int
}

func newRolloutStats() *rolloutStats {
	return &rolloutStats{failKinds: map[string]int{}, failSample: map[string]string{}}
}

func startRolloutLoad(t *testing.T, cfg rolloutConfig) *rolloutLoad {
	t.Helper()
	l := &rolloutLoad{cfg: cfg, runID: "rollout-" + suffix(), client: &http.Client{Timeout: 10 * time.Second}, stats: newRolloutStats()}
	l.cond = sync.NewCond(&l.mu)
	l.ctx, l.cancel = context.WithCancel(context.Background())
	for i := range cfg.pairs {
		from, to := register(t, "roa"), register(t, "rob")
		befriend(t, from, to)
		l.pairs = append(l.pairs, &rolloutPair{i: i, from: &rolloutSession{acct: *from}, to: &rolloutSession{acct: *to},
			rcv: newRolloutRecipient(), accepted: map[string]string{}})
	}
	// Every recipient is connected and caught up before the first message.
	for _, p := range l.pairs {
		l.wg.Add(2)
		go func() { defer l.wg.Done(); l.listen(p) }()
		go func() { defer l.wg.Done(); l.markRead(p) }()
	}
	if !servertest.Eventually(t, rolloutQuiet, func() bool {
		for _, p := range l.pairs {
			if ok, _ := p.rcv.ready(nil); !ok {
				return false
			}
		}
		return true
	}, "") {
		l.stop()
		t.Fatalf("the recipients did not all connect within %v: %s", rolloutQuiet, l.pairs[0].rcv.state())
	}
	l.baseline()
	for _, p := range l.pairs {
		l.wg.Add(1)
		go func() { defer l.wg.Done(); l.send(p) }()
	}
	return l
}

// stop ends the load: senders, sockets and read marks.
func (l *rolloutLoad) stop() {
	l.cancel()
	l.mu.Lock()
	l.cond.Broadcast()
	l.mu.Unlock()
	l.wg.Wait()
}

// acquire waits until the senders may send and marks one busy; false once the load is stopped.
func (l *rolloutLoad) acquire() (*rolloutStats, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for l.paused && l.ctx.Err() == nil {
		l.cond.Wait()
	}
	if l.ctx.Err() != nil {
		return nil, false
	}
	l.busy++
	return l.stats, true
}

func (l *rolloutLoad) release() {
	l.mu.Lock()
	l.busy--
	l.cond.Broadcast()
	l.mu.Unlock()
}

// pause stops the senders before their next send and waits for the sends in flight (with their retries).
func (l *rolloutLoad) pause() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.paused = true
	for l.busy > 0 {
		l.cond.Wait()
	}
}

// baseline keeps the recipients' counts at a phase's start: the phase's figures are what they add.
func (l *rolloutLoad) baseline() {
	for _, p := range l.pairs {
		r := p.rcv
		r.mu.Lock()
		p.connections, p.dupPushes, p.outOfOrder, p.dupMessages, p.reached = r.connections, r.dupPushes, len(r.outOfOrder), len(r.dupMessages), r.reached
		r.mu.Unlock()
	}
}

// begin starts a phase: fresh figures, and the senders go on.
func (l *rolloutLoad) begin() {
	l.baseline()
	l.mu.Lock()
	l.stats = newRolloutStats()
	l.paused = false
	l.cond.Broadcast()
	l.mu.Unlock()
}

// sleep waits d (with ±20% jitter) unless the load stops first.
func (l *rolloutLoad) sleep(d time.Duration) bool {
	d = time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
	select {
	case <-l.ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

// send is one sender: a numbered message every interval (the next one right after a slow one).
func (l *rolloutLoad) send(p *rolloutPair) {
	if !l.sleep(l.cfg.interval * time.Duration(p.i) / time.Duration(len(l.pairs))) { // senders out of step
		return
	}
	for n := 0; ; n++ {
		st, ok := l.acquire()
		if !ok {
			return
		}
		start := time.Now()
		l.sendOne(p, fmt.Sprintf("%s-%02d-%06d", l.runID, p.i, n), st)
		l.release()
		select {
		case <-l.ctx.Done():
			return
		case <-time.After(max(l.cfg.interval-time.Since(start), 10*time.Millisecond)):
		}
	}
}

// sendOne sends one message, retrying with the same client_message_id until it is accepted, refused for good, or
// rolloutMaxAttempts / rolloutGiveUp are reached.
func (l *rolloutLoad) sendOne(p *rolloutPair, cmid string, st *rolloutStats) {
	start := time.Now()
	st.mu.Lock()
	st.sent++
	st.mu.Unlock()
	to := &account{id: p.to.get().id}
	backoff := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		from := p.from.get()
		status, id, answer, took, err := postMessageBody(stack.GatewayURL, &from, to, cmid)
		if err == nil && id != "" {
			p.mu.Lock()
			p.accepted[cmid] = id
			p.mu.Unlock()
			st.mu.Lock()
			st.accepted++
			if attempt > 1 {
				st.retried++
			}
			st.latencies = append(st.latencies, time.Since(start))
			st.mu.Unlock()
			return
		}
		kind := failureKind(status, err)
		if status == 0 && err != nil {
			answer = err.Error()
		}
		st.mu.Lock()
		st.failedAttempts++
		st.failKinds[kind]++
		if _, ok := st.failSample[kind]; !ok {
			st.failSample[kind] = fmt.Sprintf("after %v: %.200s", took.Round(time.Millisecond), answer)
		}
		st.mu.Unlock()
		wait := backoff
		switch {
		case status == http.StatusUnauthorized: // the access token expired (or was refused): renew it
			if rerr := p.from.renew(l.ctx, l.client, from.access); rerr != nil {
				st.mu.Lock()
				st.renewErrors++
				st.mu.Unlock()
			}
		case status == http.StatusTooManyRequests:
			wait = max(backoff, time.Second)
		case status == 0, status >= 500, status == http.StatusRequestTimeout, status == 200, status == 201: // 2xx without an id
		default: // a refusal no retry changes
			st.mu.Lock()
			st.failed++
			st.rejected = append(st.rejected, fmt.Sprintf("%s: %d %.200s", cmid, status, answer))
			st.mu.Unlock()
			p.mu.Lock()
			p.failed = append(p.failed, cmid)
			p.mu.Unlock()
			return
		}
		if l.ctx.Err() != nil {
			return // the test is over
		}
		if attempt >= rolloutMaxAttempts || time.Since(start)+wait > rolloutGiveUp {
			st.mu.Lock()
			st.failed++
			st.mu.Unlock()
			p.mu.Lock()
			p.failed = append(p.failed, cmid)
			p.mu.Unlock()
			return
		}
		if !l.sleep(wait) {
			return
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// rolloutSession is a logged-in user of the load. A refused access token is renewed: refreshed, or — once a
// refresh went unanswered, so its refresh token may be spent, and presenting a spent one again would revoke the
// session — by logging in again. A refresh refused with 401 means the session was lost: a finding.
type rolloutSession struct {
	mu        sync.Mutex
	acct      account
	uncertain bool
	renewals  int
	lost      []string
}

func (s *rolloutSession) get() account {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.acct
}

// renew replaces the refused access token, unless another goroutine already did.
func (s *rolloutSession) renew(ctx context.Context, client *http.Client, refused string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.acct.access != refused {
		return nil
	}
	if !s.uncertain {
		r, err := apiRequest(ctx, client, "POST", stack.GatewayURL+"/api/v1/auth/refresh", "", map[string]any{"refresh_token": s.acct.refresh})
		switch {
		case err != nil || r.status >= 500:
			s.uncertain = true
			return fmt.Errorf("refresh: %d %v %.200s", r.status, err, r.body)
		case r.status == http.StatusOK:
			s.renewals++
			return s.take(r.body)
		case r.status == http.StatusUnauthorized:
			s.lost = append(s.lost, fmt.Sprintf("%s: refresh refused: %.200s", s.acct.nickname, r.body))
		default:
			return fmt.Errorf("refresh: %d %.200s", r.status, r.body)
		}
	}
	r, err := apiRequest(ctx, client, "POST", stack.GatewayURL+"/api/v1/auth/login", "", map[string]any{"nickname": s.acct.nickname, "password": s.acct.password})
	if err != nil {
		return err
	}
	if r.status != http.StatusOK {
		return fmt.Errorf("login: %d %.200s", r.status, r.body)
	}
	s.uncertain = false
	s.renewals++
	return s.take(r.body)
}

// take keeps the tokens of a login or refresh answer (s.mu held).
func (s *rolloutSession) take(body []byte) error {
	var m struct {
		Access  string `json:"access_token"`
		Refresh string `json:"refresh_token"`
	}
	if json.Unmarshal(body, &m) != nil || m.Access == "" || m.Refresh == "" {
		return fmt.Errorf("no tokens in %.200q", body)
	}
	s.acct.access, s.acct.refresh = m.Access, m.Refresh
	return nil
}

// rolloutRecipient is what a recipient's app has: every message it got (live, in messages.unread, or from a
// history page), deduplicated by id, and the state of its socket.
type rolloutRecipient struct {
	mu          sync.Mutex
	app         map[string]string // message id → text
	byText      map[string]string // text → the id it first came with
	dupMessages []string          // texts that came again under another id: the app shows them twice
	pushed      map[string]bool   // ids that came in a message.new frame
	dupPushes   int               // message.new frames for an id already pushed to the client
	outOfOrder  []string          // a new message pushed on a socket after a newer one
	socketMax   int64             // the newest id pushed on the current socket
	cursor      int64             // the newest id the app has
	readUpTo    int64             // the last read mark made
	reached     [3]int            // messages that reached the app first live, in messages.unread, from a history page
	connections int
	connected   bool // the current socket is open and its messages.unread frame came
	caughtUp    bool // the catch-up after the current socket's entry is done
	lastErr     string
}

func newRolloutRecipient() *rolloutRecipient {
	return &rolloutRecipient{app: map[string]string{}, byText: map[string]string{}, pushed: map[string]bool{}}
}

// How a message reached the app (rolloutRecipient.reached).
const (
	byPush = iota
	byUnreadFrame
	byHistory
)

// deliver hands messages to the app.
func (r *rolloutRecipient) deliver(msgs []pushedMessage, how int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range msgs {
		if _, ok := r.app[m.ID]; ok {
			continue
		}
		r.reached[how]++
		if first, ok := r.byText[m.Text]; ok {
			r.dupMessages = append(r.dupMessages, fmt.Sprintf("%q as message %s and as %s", m.Text, first, m.ID))
		} else {
			r.byText[m.Text] = m.ID
		}
		r.app[m.ID] = m.Text
		if id, _ := strconv.ParseInt(m.ID, 10, 64); id > r.cursor {
			r.cursor = id
		}
	}
}

// live records message.new frames, then hands their messages to the app.
func (r *rolloutRecipient) live(msgs []pushedMessage) {
	r.mu.Lock()
	for _, m := range msgs {
		id, _ := strconv.ParseInt(m.ID, 10, 64)
		if r.pushed[m.ID] {
			r.dupPushes++
		} else {
			r.pushed[m.ID] = true
			if id < r.socketMax {
				r.outOfOrder = append(r.outOfOrder, fmt.Sprintf("message %s pushed after %d", m.ID, r.socketMax))
			}
		}
		r.socketMax = max(r.socketMax, id)
	}
	r.mu.Unlock()
	r.deliver(msgs, byPush)
}

// ready reports whether the socket is open and caught up and the app has every id of want; missing lists
// those it lacks.
func (r *rolloutRecipient) ready(want map[string]string) (bool, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var missing []string
	for _, id := range want {
		if _, ok := r.app[id]; !ok {
			missing = append(missing, id)
		}
	}
	return r.connected && r.caughtUp && len(missing) == 0, missing
}

func (r *rolloutRecipient) state() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return fmt.Sprintf("connected %v, caught up %v, %d connections, last error %q", r.connected, r.caughtUp, r.connections, r.lastErr)
}

func (r *rolloutRecipient) failed(err error) {
	r.mu.Lock()
	r.lastErr = time.Now().Format("15:04:05.000") + " " + err.Error()
	r.mu.Unlock()
}

// listen keeps the recipient's socket open through the public address, reconnecting with backoff; on each
// socket's messages.unread frame it catches up from the newest message the app had before that socket.
func (l *rolloutLoad) listen(p *rolloutPair) {
	r := p.rcv
	backoff := 100 * time.Millisecond
	for l.ctx.Err() == nil {
		acct := p.to.get()
		sctx, cancel := context.WithCancel(l.ctx)
		var catchUp sync.WaitGroup
		var since int64
		status, err := pushSocket(sctx, stack.GatewayURL, acct.access, 5*time.Second, func() {
			r.mu.Lock()
			r.connections++
			r.socketMax = 0
			since = r.cursor
			r.mu.Unlock()
		}, func(data []byte) {
			typ, msgs := frameMessages(data)
			switch typ {
			case "message.new":
				r.live(msgs)
			case "messages.unread":
				r.deliver(msgs, byUnreadFrame)
				r.mu.Lock()
				entry := !r.connected
				r.connected = true
				r.mu.Unlock()
				if entry {
					catchUp.Add(1)
					go func(after int64) { defer catchUp.Done(); l.catchUp(sctx, p, after) }(since)
				}
			}
		})
		cancel()
		catchUp.Wait()
		r.mu.Lock()
		r.connected, r.caughtUp = false, false
		r.mu.Unlock()
		if err == nil {
			err = fmt.Errorf("socket closed")
		}
		r.failed(fmt.Errorf("websocket (%d): %w", status, err))
		if l.ctx.Err() != nil {
			return
		}
		switch status {
		case http.StatusUnauthorized:
			if err := p.to.renew(l.ctx, l.client, acct.access); err != nil {
				r.failed(err)
			}
		case http.StatusSwitchingProtocols:
			backoff = 100 * time.Millisecond // it was connected: the first retry comes soon
		}
		if !l.sleep(backoff) {
			return
		}
		backoff = min(2*backoff, 3*time.Second)
	}
}

// catchUp reads the history pages after the given id to the end (retrying with backoff while the socket lasts)
// and marks the recipient caught up.
func (l *rolloutLoad) catchUp(ctx context.Context, p *rolloutPair, after int64) {
	backoff := 200 * time.Millisecond
	for ctx.Err() == nil {
		acct := p.to.get()
		res, err := apiRequest(ctx, l.client, "GET", fmt.Sprintf("%s/api/v1/chats/%s/messages?limit=100&after=%d", stack.GatewayURL, p.from.get().id, after), acct.access, nil)
		if err == nil && res.status == http.StatusUnauthorized {
			if err = p.to.renew(ctx, l.client, acct.access); err == nil {
				err = fmt.Errorf("history after %d: 401, the access token renewed", after)
			}
		} else if err == nil && res.status != http.StatusOK {
			err = fmt.Errorf("history after %d: %d %.200s", after, res.status, res.body)
		}
		var page struct {
			Items []pushedMessage `json:"items"`
		}
		if err == nil {
			if jerr := json.Unmarshal(res.body, &page); jerr != nil {
				err = fmt.Errorf("history after %d: %v", after, jerr)
			}
		}
		if err != nil {
			p.rcv.failed(err)
			l.count(func(st *rolloutStats) { st.catchUpErrors++ })
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 3*time.Second)
			continue
		}
		p.rcv.deliver(page.Items, byHistory)
		if len(page.Items) == 100 {
			after, _ = strconv.ParseInt(page.Items[99].ID, 10, 64)
			continue
		}
		p.rcv.mu.Lock()
		p.rcv.caughtUp = true
		p.rcv.mu.Unlock()
		return
	}
}

// markRead marks what the app has as read, every second, as an app does when it shows the messages.
func (l *rolloutLoad) markRead(p *rolloutPair) {
	r := p.rcv
	for l.sleep(time.Second) {
		r.mu.Lock()
		upTo, due := r.cursor, r.connected && r.cursor > r.readUpTo
		r.mu.Unlock()
		if !due {
			continue
		}
		acct := p.to.get()
		res, err := apiRequest(l.ctx, l.client, "POST", stack.GatewayURL+"/api/v1/chats/"+p.from.get().id+"/read", acct.access,
			map[string]any{"up_to_id": strconv.FormatInt(upTo, 10)})
		switch {
		case err == nil && res.status == http.StatusNoContent:
			r.mu.Lock()
			r.readUpTo = upTo
			r.mu.Unlock()
		case err == nil && res.status == http.StatusUnauthorized:
			_ = p.to.renew(l.ctx, l.client, acct.access)
		default:
			l.count(func(st *rolloutStats) { st.readErrs++ })
		}
	}
}

// count updates the current phase's figures.
func (l *rolloutLoad) count(f func(*rolloutStats)) {
	l.mu.Lock()
	st := l.stats
	l.mu.Unlock()
	st.mu.Lock()
	f(st)
	st.mu.Unlock()
}

// ---------- The quiescent check ----------

// rolloutRow is one phase's line of the table.
type rolloutRow struct {
	phase                                                                         string
	sent, accepted, retried, failed                                               int
	lost, undelivered, duplicated, dupPushes, outOfOrder, reconnects, notCaughtUp int
	p99, max                                                                      time.Duration
}

// check pauses the senders, waits for the sends in flight and for every recipient to catch up, then checks
// every message accepted since the start (histories and deliveries) and the phase's figures, filling row.
func (l *rolloutLoad) check(t *testing.T, phase string, row *rolloutRow) {
	row.phase = phase
	l.pause()
	l.mu.Lock()
	st := l.stats
	l.mu.Unlock()
	st.mu.Lock()
	row.sent, row.accepted, row.retried, row.failed = st.sent, st.accepted, st.retried, st.failed
	row.p99, row.max = percentile(st.latencies, 0.99), percentile(st.latencies, 1)
	t.Logf("%s: %d sends, %d attempts failed by kind %v; token renewals failed %d, catch-up page errors %d, read marks failed %d",
		phase, st.sent, st.failedAttempts, st.failKinds, st.renewErrors, st.catchUpErrors, st.readErrs)
	for _, k := range slices.Sorted(maps.Keys(st.failSample)) {
		t.Logf("%s: a %s failure: %s", phase, k, st.failSample[k])
	}
	for _, r := range st.rejected {
		t.Errorf("%s: a send was refused for good: %s", phase, r)
	}
	st.mu.Unlock()
	if row.failed > 0 {
		var given []string
		for _, p := range l.pairs {
			p.mu.Lock()
			given = append(given, p.failed...)
			p.failed = nil
			p.mu.Unlock()
		}
		t.Errorf("%s: %d sends still failed after retrying (up to %d attempts within %v): %v", phase, row.failed, rolloutMaxAttempts, rolloutGiveUp, given[:min(len(given), 10)])
	}

	accepted := make([]map[string]string, len(l.pairs))
	for i, p := range l.pairs {
		p.mu.Lock()
		accepted[i] = maps.Clone(p.accepted)
		p.mu.Unlock()
	}
	waited := time.Now()
	if servertest.Eventually(t, rolloutQuiet, func() bool {
		for i, p := range l.pairs {
			if ok, _ := p.rcv.ready(accepted[i]); !ok {
				return false
			}
		}
		return true
	}, "") {
		t.Logf("%s: every recipient was connected and had every message %v after the senders paused", phase, time.Since(waited).Round(time.Millisecond))
	}
	renewals, reached := 0, [3]int{}
	for _, p := range l.pairs {
		for _, s := range []*rolloutSession{p.from, p.to} {
			s.mu.Lock()
			renewals += s.renewals
			s.mu.Unlock()
		}
		p.rcv.mu.Lock()
		for i := range reached {
			reached[i] += p.rcv.reached[i] - p.reached[i]
		}
		p.rcv.mu.Unlock()
	}
	t.Logf("%s: messages reached the apps first by message.new %d, in messages.unread %d, from history pages %d; access tokens renewed so far: %d",
		phase, reached[byPush], reached[byUnreadFrame], reached[byHistory], renewals)

	for i, p := range l.pairs {
		from, to := p.from.get(), p.to.get()
		label := fmt.Sprintf("%s: pair %d (%s → %s)", phase, p.i, from.nickname, to.nickname)
		c := checkChat(t, label, &from, &to, accepted[i])
		row.lost += c.lost
		row.duplicated += c.duplicated
		if c.committedButUnacked > 0 {
			t.Logf("%s: %d messages whose send was given up on are in the history (once each)", label, c.committedButUnacked)
		}
		// The history is in the order the messages were sent.
		prefix, prev := fmt.Sprintf("%s-%02d-", l.runID, p.i), -1
		for j, text := range c.texts {
			n, err := strconv.Atoi(strings.TrimPrefix(text, prefix))
			switch {
			case !strings.HasPrefix(text, prefix) || err != nil:
				t.Errorf("%s: a message the load did not send is in the history: %q", label, text)
			case n <= prev:
				t.Errorf("%s: history out of send order: message %s (number %d) after number %d", label, c.ids[j], n, prev)
			}
			prev = max(prev, n)
		}
		inHistory := map[string]bool{}
		for _, id := range c.ids {
			inHistory[id] = true
		}
		// Every accepted message reached the app once; the socket is open and caught up.
		_, missing := p.rcv.ready(accepted[i])
		sort.Strings(missing)
		for _, id := range missing {
			if inHistory[id] { // (one not in the history is counted lost already)
				row.undelivered++
			}
		}
		if len(missing) > 0 {
			t.Errorf("%s: %d accepted messages never reached the recipient's app, live or by catching up: %v", label, len(missing), missing[:min(len(missing), 10)])
		}
		r := p.rcv
		r.mu.Lock()
		row.reconnects += r.connections - p.connections
		row.dupPushes += r.dupPushes - p.dupPushes
		row.outOfOrder += len(r.outOfOrder) - p.outOfOrder
		for _, o := range r.outOfOrder[p.outOfOrder:] {
			t.Errorf("%s: out of the chat's order on one socket: %s", label, o)
		}
		row.duplicated += len(r.dupMessages) - p.dupMessages
		for _, d := range r.dupMessages[p.dupMessages:] {
			t.Errorf("%s: the app got one message twice, under two ids: %s", label, d)
		}
		if !r.connected || !r.caughtUp {
			row.notCaughtUp++
			t.Errorf("%s: the recipient's socket is not open and caught up %v after the senders paused: connected %v, caught up %v, last error %q",
				label, rolloutQuiet, r.connected, r.caughtUp, r.lastErr)
		}
		r.mu.Unlock()
		for _, s := range []*rolloutSession{p.from, p.to} {
			s.mu.Lock()
			for _, lost := range s.lost {
				t.Errorf("%s: a session was lost: %s", label, lost)
			}
			s.lost = nil
			s.mu.Unlock()
		}
	}
}

// rolloutTable is the summary of every phase.
func rolloutTable(rows []rolloutRow) string {
	var cells [][]string
	for _, r := range rows {
		cells = append(cells, []string{r.phase, strconv.Itoa(r.sent), strconv.Itoa(r.accepted), strconv.Itoa(r.retried), strconv.Itoa(r.failed),
			strconv.Itoa(r.lost), strconv.Itoa(r.undelivered), strconv.Itoa(r.duplicated), strconv.Itoa(r.dupPushes), strconv.Itoa(r.outOfOrder),
			strconv.Itoa(r.reconnects), strconv.Itoa(r.notCaughtUp), r.p99.Round(time.Millisecond).String(), r.max.Round(time.Millisecond).String()})
	}
	return renderTable([]string{"phase", "sent", "accepted", "retried sends", "failed sends", "lost", "undelivered", "duplicated",
		"dup pushes", "out of order", "reconnects", "not caught up", "p99 send latency", "max send latency"}, cells)
}

// ---------- kubectl ----------

// kube runs kubectl (E2E_KUBECTL, split on spaces) against the release's namespace.
type kube struct {
	argv        []string
	ns, release string
}

func (k kube) run(timeout time.Duration, args ...string) (string, error) {
	if len(k.argv) == 0 {
		return "", fmt.Errorf("E2E_KUBECTL is empty")
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, k.argv[0], append(slices.Clone(k.argv[1:]), args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("kubectl %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

// selector is the label selector of a service's pods (the chart's selector labels, messenger-lib/_names.tpl).
func (k kube) selector(svc string) string {
	s := "app.kubernetes.io/name=" + svc
	if k.release != "" {
		s += ",app.kubernetes.io/instance=" + k.release
	}
	return s
}

type kDeployment struct {
	Metadata struct {
		Name       string `json:"name"`
		Generation int64  `json:"generation"`
	} `json:"metadata"`
	Spec struct {
		Replicas *int `json:"replicas"`
		Template struct {
			Spec struct {
				Containers []struct {
					Image string `json:"image"`
				} `json:"containers"`
			} `json:"spec"`
		} `json:"template"`
	} `json:"spec"`
	Status struct {
		ObservedGeneration  int64 `json:"observedGeneration"`
		Replicas            int   `json:"replicas"`
		UpdatedReplicas     int   `json:"updatedReplicas"`
		ReadyReplicas       int   `json:"readyReplicas"`
		AvailableReplicas   int   `json:"availableReplicas"`
		UnavailableReplicas int   `json:"unavailableReplicas"`
	} `json:"status"`
}

type kPod struct {
	Metadata struct {
		Name              string  `json:"name"`
		DeletionTimestamp *string `json:"deletionTimestamp"`
	} `json:"metadata"`
	Spec struct {
		NodeName string `json:"nodeName"`
	} `json:"spec"`
	Status struct {
		Phase      string `json:"phase"`
		PodIP      string `json:"podIP"`
		Conditions []struct {
			Type   string `json:"type"`
			Status string `json:"status"`
		} `json:"conditions"`
		ContainerStatuses []struct {
			RestartCount int `json:"restartCount"`
		} `json:"containerStatuses"`
	} `json:"status"`
}

func (p kPod) ready() bool {
	for _, c := range p.Status.Conditions {
		if c.Type == "Ready" {
			return c.Status == "True"
		}
	}
	return false
}

func (p kPod) restarts() int {
	n := 0
	for _, c := range p.Status.ContainerStatuses {
		n += c.RestartCount
	}
	return n
}

// kubeList gets the objects of a kind with a service's labels.
func kubeList[T any](k kube, kind, svc string) ([]T, error) {
	out, err := k.run(time.Minute, "get", kind, "-n", k.ns, "-l", k.selector(svc), "-o", "json")
	if err != nil {
		return nil, err
	}
	var l struct {
		Items []T `json:"items"`
	}
	if err := json.Unmarshal([]byte(out), &l); err != nil {
		return nil, fmt.Errorf("kubectl get %s: %v", kind, err)
	}
	return l.Items, nil
}

// deployment is the service's one Deployment.
func (k kube) deployment(svc string) (kDeployment, error) {
	ds, err := kubeList[kDeployment](k, "deployments", svc)
	if err != nil {
		return kDeployment{}, err
	}
	if len(ds) != 1 {
		return kDeployment{}, fmt.Errorf("%d Deployments in namespace %s with labels %s, want 1 (wrong E2E_NAMESPACE, or set E2E_RELEASE)", len(ds), k.ns, k.selector(svc))
	}
	return ds[0], nil
}

// pods are the service's pods, sorted by name, without finished ones.
func (k kube) pods(svc string) ([]kPod, error) {
	ps, err := kubeList[kPod](k, "pods", svc)
	ps = slices.DeleteFunc(ps, func(p kPod) bool { return p.Status.Phase == "Succeeded" || p.Status.Phase == "Failed" })
	sort.Slice(ps, func(i, j int) bool { return ps[i].Metadata.Name < ps[j].Metadata.Name })
	return ps, err
}

// readyPod is a running, ready pod of the service that is not being deleted.
func (k kube) readyPod(svc string) (kPod, error) {
	ps, err := k.pods(svc)
	if err != nil {
		return kPod{}, err
	}
	for _, p := range ps {
		if p.ready() && p.Metadata.DeletionTimestamp == nil {
			return p, nil
		}
	}
	return kPod{}, fmt.Errorf("no ready pod with labels %s", k.selector(svc))
}

// waitAvailable waits until the service's Deployment has rolled out (kubectl rollout status) and is settled:
// every replica updated, ready and available, and no other pod of the service left (none terminating).
func (k kube) waitAvailable(svc string, timeout time.Duration) error {
	d, err := k.deployment(svc)
	if err != nil {
		return err
	}
	if out, err := k.run(timeout+time.Minute, "rollout", "status", "deployment/"+d.Metadata.Name, "-n", k.ns, "--timeout="+timeout.String()); err != nil {
		return fmt.Errorf("%v %s", err, out)
	}
	deadline := time.Now().Add(timeout)
	for {
		d, err := k.deployment(svc)
		ps, perr := k.pods(svc)
		state := fmt.Sprint(err, perr)
		if err == nil && perr == nil {
			want := 1
			if d.Spec.Replicas != nil {
				want = *d.Spec.Replicas
			}
			ready := readyNotTerminating(ps)
			s := d.Status
			if s.ObservedGeneration >= d.Metadata.Generation && s.Replicas == want && s.UpdatedReplicas == want && s.ReadyReplicas == want &&
				s.AvailableReplicas == want && s.UnavailableReplicas == 0 && ready == want && len(ps) == want {
				return nil
			}
			state = fmt.Sprintf("want %d replicas; status %+v; %d pods, %d ready and not terminating", want, s, len(ps), ready)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: Deployment not settled within %v: %s", svc, timeout, state)
		}
		time.Sleep(time.Second)
	}
}

// readyNotTerminating counts the pods that are ready and not being deleted.
func readyNotTerminating(ps []kPod) int {
	n := 0
	for _, p := range ps {
		if p.ready() && p.Metadata.DeletionTimestamp == nil {
			n++
		}
	}
	return n
}

// rolloutState is a service's images and pods at one moment.
type rolloutState struct {
	images []string
	pods   []string
}

func (k kube) snapshot(t *testing.T, svcs []string) map[string]rolloutState {
	t.Helper()
	out := map[string]rolloutState{}
	for _, svc := range svcs {
		var s rolloutState
		d, err := k.deployment(svc)
		if err != nil {
			t.Errorf("%v", err)
		}
		for _, c := range d.Spec.Template.Spec.Containers {
			s.images = append(s.images, c.Image)
		}
		ps, err := k.pods(svc)
		if err != nil {
			t.Errorf("%v", err)
		}
		for _, p := range ps {
			s.pods = append(s.pods, p.Metadata.Name)
		}
		out[svc] = s
	}
	return out
}

// diagnostics is what a failed phase prints: the pods, the namespace's latest events, and the services' pods'
// logs (and those of the previous containers of restarted pods).
func (k kube) diagnostics(svcs []string) string {
	var b strings.Builder
	section := func(lines int, args ...string) {
		out, err := k.run(time.Minute, args...)
		fmt.Fprintf(&b, "===== kubectl %s =====\n%s", strings.Join(args, " "), tail(out, lines))
		if err != nil {
			fmt.Fprintf(&b, "(%v)\n", err)
		}
	}
	section(100, "get", "pods", "-o", "wide", "-n", k.ns)
	section(60, "get", "events", "-n", k.ns, "--sort-by=.lastTimestamp")
	for _, svc := range svcs {
		section(1000, "logs", "-n", k.ns, "-l", k.selector(svc), "--tail=80", "--all-containers", "--prefix", "--timestamps", "--max-log-requests=20")
		ps, _ := k.pods(svc)
		for _, p := range ps {
			if p.restarts() > 0 {
				section(1000, "logs", "-n", k.ns, p.Metadata.Name, "--previous", "--tail=80", "--all-containers", "--prefix", "--timestamps")
			}
		}
	}
	return b.String()
}
