package main

// These tests run the real msgr binary (built once in TestMain) against a real messenger: every service built
// from source and started by the end-to-end harness on free ports, with its own databases and exchange on the
// local MariaDB and RabbitMQ. Each test registers its own users and keeps its sessions in its own config
// directories, so the tests run in parallel and twice in a row.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"simplemessenger/e2e"
)

var (
	msgrBin string     // the msgr binary under test
	stack   *e2e.Stack // the messenger it talks to
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "msgr-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	msgrBin = filepath.Join(dir, "msgr")
	if out, err := exec.Command("go", "build", "-o", msgrBin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building msgr: %v\n%s", err, out)
		return 1
	}
	if err := e2e.Build(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// Every request comes from 127.0.0.1: lift the per-address limits, as the end-to-end suite does.
	stack, err = e2e.Start(dir, dir, append([]string{"LOG_LEVEL=info"}, e2e.OneAddressEnv...)...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting the stack:", err)
		return 1
	}
	code := m.Run()
	if code != 0 {
		fmt.Fprint(os.Stderr, stack.LogTails(60))
	}
	stack.Stop()
	return code
}

// user is one person at the command line: a nickname and a config directory of their own.
type user struct {
	t    *testing.T
	nick string
	dir  string
}

const password = "correct horse battery"

func newUser(t *testing.T, prefix string) *user {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return &user{t: t, nick: prefix + "_" + hex.EncodeToString(b), dir: t.TempDir()}
}

// result is one finished msgr run.
type result struct {
	code           int
	stdout, stderr string
}

// run runs msgr as u with args (global flags added) and stdin.
func (u *user) run(stdin string, args ...string) result {
	u.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, msgrBin, append([]string{"--server", stack.GatewayURL, "--config-dir", u.dir}, args...)...)
	cmd.Env = append(os.Environ(), "MSGR_SERVER=")
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		u.t.Fatalf("msgr %v: %v", args, err)
	}
	return r
}

// ok runs msgr and fails the test unless it exits 0.
func (u *user) ok(args ...string) string {
	u.t.Helper()
	r := u.run("", args...)
	if r.code != 0 {
		u.t.Fatalf("msgr %s (as %s): exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), u.nick, r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// okJSON runs msgr --json and decodes its one document.
func (u *user) okJSON(v any, args ...string) {
	u.t.Helper()
	out := u.ok(append([]string{"--json"}, args...)...)
	if strings.Count(strings.TrimSpace(out), "\n") != 0 {
		u.t.Fatalf("msgr --json %v: want one line, got %q", args, out)
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		u.t.Fatalf("msgr --json %v: %v in %q", args, err, out)
	}
}

func (u *user) registerAndLogin() {
	u.t.Helper()
	if r := u.run(password+"\n", "register", u.nick, "--password-stdin", "--display-name", "Test "+u.nick); r.code != 0 {
		u.t.Fatalf("register %s: exit %d: %s", u.nick, r.code, r.stderr)
	}
	if r := u.run(password+"\n", "login", u.nick, "--password-stdin"); r.code != 0 || !strings.Contains(r.stdout, "logged in as "+u.nick) {
		u.t.Fatalf("login %s: exit %d: %s%s", u.nick, r.code, r.stdout, r.stderr)
	}
}

// befriend makes a and b friends through the command line: a asks, b accepts.
func befriend(t *testing.T, a, b *user) {
	t.Helper()
	if out := a.ok("friends", "add", b.nick); !strings.Contains(out, "friend request sent to "+b.nick) {
		t.Fatalf("friends add: %q", out)
	}
	if out := b.ok("friends", "accept", a.nick); !strings.Contains(out, "friends now") {
		t.Fatalf("friends accept: %q", out)
	}
}

// listener is a running msgr listen.
type listener struct {
	t     *testing.T
	cmd   *exec.Cmd
	lines chan string
	errb  *bytes.Buffer
	done  chan struct{}
}

func (u *user) listen(args ...string) *listener {
	u.t.Helper()
	cmd := exec.Command(msgrBin, append([]string{"--server", stack.GatewayURL, "--config-dir", u.dir, "listen"}, args...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		u.t.Fatal(err)
	}
	l := &listener{t: u.t, cmd: cmd, lines: make(chan string, 100), errb: &bytes.Buffer{}, done: make(chan struct{})}
	cmd.Stderr = l.errb
	if err := cmd.Start(); err != nil {
		u.t.Fatal(err)
	}
	go func() {
		defer close(l.lines)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 8<<20)
		for sc.Scan() {
			l.lines <- sc.Text()
		}
	}()
	u.t.Cleanup(func() { _ = cmd.Process.Kill(); <-l.done })
	go func() { _ = cmd.Wait(); close(l.done) }()
	return l
}

// next waits (15 s at most) for the next line that match accepts and returns it; what names it in failures.
func (l *listener) next(what string, match func(line string) bool) string {
	l.t.Helper()
	timeout := time.After(15 * time.Second)
	for {
		select {
		case line, ok := <-l.lines:
			if !ok {
				l.t.Fatalf("listen ended before %s; stderr:\n%s", what, l.errb)
			}
			if match(line) {
				return line
			}
		case <-timeout:
			l.t.Fatalf("no %s within 15 s; stderr:\n%s", what, l.errb)
		}
	}
}

// frame waits for the next JSON frame of type typ (skipping others) and returns its data.
func (l *listener) frame(typ string) map[string]any {
	l.t.Helper()
	var data map[string]any
	l.next("a "+typ+" frame", func(line string) bool {
		var f struct {
			Type string         `json:"type"`
			Data map[string]any `json:"data"`
		}
		if err := json.Unmarshal([]byte(line), &f); err != nil {
			l.t.Fatalf("listen --json printed a line that is not a JSON object: %q", line)
		}
		data = f.Data
		return f.Type == typ
	})
	return data
}

// line waits for a human output line containing all of parts.
func (l *listener) line(parts ...string) string {
	l.t.Helper()
	return l.next(fmt.Sprintf("a line with %q", parts), func(line string) bool {
		for _, p := range parts {
			if !strings.Contains(line, p) {
				return false
			}
		}
		return true
	})
}

// lineSet waits for lines matching each of wants (all parts of one want on one line), in any order: the two
// login frames come in either order.
func (l *listener) lineSet(wants ...[]string) {
	l.t.Helper()
	left := append([][]string(nil), wants...)
	timeout := time.After(15 * time.Second)
	for len(left) > 0 {
		select {
		case line, ok := <-l.lines:
			if !ok {
				l.t.Fatalf("listen ended before lines with %q; stderr:\n%s", left, l.errb)
			}
			for i, parts := range left {
				all := true
				for _, p := range parts {
					all = all && strings.Contains(line, p)
				}
				if all {
					left = append(left[:i], left[i+1:]...)
					break
				}
			}
		case <-timeout:
			l.t.Fatalf("no lines with %q within 15 s; stderr:\n%s", left, l.errb)
		}
	}
}

// interrupt sends Ctrl-C and returns the exit code.
func (l *listener) interrupt() int {
	l.t.Helper()
	if err := l.cmd.Process.Signal(syscall.SIGINT); err != nil {
		l.t.Fatal(err)
	}
	select {
	case <-l.done:
	case <-time.After(10 * time.Second):
		l.t.Fatal("listen did not end within 10 s of Ctrl-C")
	}
	return l.cmd.ProcessState.ExitCode()
}

// TestConversation walks two users through the whole client: register, log in, profile, avatar, search,
// befriend, send, history, chats, read, and a live message.new on a listening socket.
func TestConversation(t *testing.T) {
	t.Parallel()
	alice, bob := newUser(t, "alice"), newUser(t, "bob")
	alice.registerAndLogin()
	bob.registerAndLogin()

	var me struct{ ID, Nickname string }
	alice.okJSON(&me, "whoami")
	if me.Nickname != alice.nick || me.ID == "" {
		t.Fatalf("whoami: %+v", me)
	}
	if out := alice.ok("profile", "set", "--display-name", "Alice Liddell", "--bio", "down the rabbit hole"); !strings.Contains(out, "Alice Liddell") || !strings.Contains(out, "down the rabbit hole") {
		t.Fatalf("profile set: %q", out)
	}
	avatar := filepath.Join(t.TempDir(), "a.png")
	writePNG(t, avatar)
	alice.ok("avatar", "set", avatar)
	if out := alice.ok("whoami"); !strings.Contains(out, "Alice Liddell") || !regexpLine(out, "avatar", "yes") {
		t.Fatalf("whoami after profile set and avatar set: %q", out)
	}

	// Search finds bob by a prefix, the exact match first.
	if out := alice.ok("search", bob.nick[:len(bob.nick)-2]); !strings.Contains(out, bob.nick) || !strings.HasPrefix(out, "NICKNAME") {
		t.Fatalf("search: %q", out)
	}
	var found struct{ Items []struct{ Nickname string } }
	alice.okJSON(&found, "search", bob.nick)
	if len(found.Items) == 0 || found.Items[0].Nickname != bob.nick {
		t.Fatalf("search --json: %+v", found)
	}

	// Befriending: the request shows on both sides before it is accepted.
	alice.ok("friends", "add", bob.nick)
	if out := bob.ok("friends", "pending"); !strings.Contains(out, alice.nick) || !strings.Contains(out, "asks you") {
		t.Fatalf("friends pending: %q", out)
	}
	if out := alice.ok("friends"); !strings.Contains(out, bob.nick) || !strings.Contains(out, "you asked") {
		t.Fatalf("friends: %q", out)
	}
	bob.ok("friends", "accept", alice.nick)
	var friends struct{ Items []struct{ Status string } }
	alice.okJSON(&friends, "friends", "list", "--status", "accepted")
	if len(friends.Items) != 1 || friends.Items[0].Status != "accepted" {
		t.Fatalf("friends --status accepted: %+v", friends)
	}

	// bob listens; alice's message arrives live.
	l := bob.listen()
	l.line("messages.unread", "0 unread")
	if out := alice.ok("send", bob.nick, "hello,", "Bob"); !strings.Contains(out, "sent #") {
		t.Fatalf("send: %q", out)
	}
	l.line("message.new", alice.nick, "hello, Bob")
	// Presence: bob is listening, so alice's friends list shows him online; when he stops, alice (listening
	// now) is told, and her list says when he was last seen.
	deadline := time.Now().Add(5 * time.Second)
	for out := alice.ok("friends"); !regexpLine(out, bob.nick, "online"); out = alice.ok("friends") {
		if time.Now().After(deadline) {
			t.Fatalf("friends while bob listens: %q", out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	la := alice.listen()
	la.line("messages.unread")
	if code := l.interrupt(); code != 0 {
		t.Fatalf("listen after Ctrl-C: exit %d, want 0; stderr:\n%s", code, l.errb)
	}
	la.line("presence", bob.nick, "went offline")
	if out := alice.ok("friends"); !regexpLine(out, bob.nick, "last", "seen") || regexpLine(out, bob.nick, "online") {
		t.Fatalf("friends after bob stopped listening: %q", out)
	}
	if code := la.interrupt(); code != 0 {
		t.Fatalf("alice's listen after Ctrl-C: exit %d; stderr:\n%s", code, la.errb)
	}

	bob.ok("send", alice.nick, "hi", "Alice")
	for i := 1; i <= 3; i++ {
		alice.ok("send", bob.nick, fmt.Sprintf("message %d", i))
	}
	// History: oldest at the top for people, pages back with --before.
	out := alice.ok("history", bob.nick, "--limit", "3")
	if !inOrder(out, "message 1", "message 2", "message 3") || strings.Contains(out, "hello, Bob") || !strings.Contains(out, "--before") {
		t.Fatalf("history --limit 3: %q", out)
	}
	var page struct {
		Items      []struct{ ID, Text string }
		NextBefore *string `json:"next_before"`
	}
	alice.okJSON(&page, "history", bob.nick, "--limit", "3")
	if len(page.Items) != 3 || page.Items[0].Text != "message 3" || page.NextBefore == nil {
		t.Fatalf("history --json: %+v", page)
	}
	older := alice.ok("history", bob.nick, "--before", *page.NextBefore)
	if !inOrder(older, "hello, Bob", "hi Alice") || strings.Contains(older, "message") {
		t.Fatalf("history --before %s: %q", *page.NextBefore, older)
	}

	// Edit and delete one's own messages; the other side sees the edit and the tombstone; nobody changes another's.
	third, second := page.Items[0].ID, page.Items[1].ID
	alice.ok("edit", bob.nick, "#"+third, "message 3, corrected")
	alice.ok("delete", bob.nick, second)
	if out := bob.ok("history", alice.nick, "--limit", "2"); !strings.Contains(out, "message 3, corrected (edited)") || !strings.Contains(out, "(deleted)") {
		t.Fatalf("history after an edit and a delete: %q", out)
	}
	if r := bob.run("", "delete", alice.nick, third); r.code != 1 || !strings.Contains(r.stderr, "not_your_message") && !strings.Contains(r.stderr, "only the sender") {
		t.Fatalf("bob deleting alice's message: exit %d, %q", r.code, r.stderr)
	}
	if r := alice.run("", "edit", bob.nick, "x", "text"); r.code != 2 {
		t.Fatalf("edit with a bad id: exit %d, want 2 (usage)", r.code)
	}

	// Chats: bob has 3 unread from alice (he never marked anything read: 4 with the first, less the one alice
	// deleted), then reads them.
	if out := bob.ok("chats"); !strings.Contains(out, alice.nick) || !regexpLine(out, alice.nick, "3") {
		t.Fatalf("chats: %q", out)
	}
	bob.ok("read", alice.nick)
	var chats struct {
		Items []struct {
			Peer        struct{ Nickname string }
			UnreadCount int `json:"unread_count"`
		}
	}
	bob.okJSON(&chats, "chats")
	if len(chats.Items) != 1 || chats.Items[0].Peer.Nickname != alice.nick || chats.Items[0].UnreadCount != 0 {
		t.Fatalf("chats after read: %+v", chats)
	}

	// bob blocks alice: she can no longer write to him, and he sees whom he blocks; then he lifts it.
	bob.ok("block", alice.nick)
	if out := bob.ok("friends", "blocked"); !strings.Contains(out, alice.nick) {
		t.Fatalf("friends blocked: %q", out)
	}
	if r := alice.run("", "send", bob.nick, "still there?"); r.code != 1 || !strings.Contains(r.stderr, "not_friends") {
		t.Fatalf("a message to someone who blocked her: exit %d, %q", r.code, r.stderr)
	}
	bob.ok("friends", "unblock", alice.nick)
	if out := bob.ok("friends", "blocked"); !strings.Contains(out, "nobody blocked") {
		t.Fatalf("friends blocked after unblocking: %q", out)
	}
}

// TestListenLoginFrames: on a fresh connection, listen prints the login frames: the messages sent while the
// user was away and the friend requests waiting; then live pushes, each as one JSON object per line.
func TestListenLoginFrames(t *testing.T) {
	t.Parallel()
	alice, bob, carol := newUser(t, "alice"), newUser(t, "bob"), newUser(t, "carol")
	for _, u := range []*user{alice, bob, carol} {
		u.registerAndLogin()
	}
	befriend(t, alice, bob)
	alice.ok("send", bob.nick, "while you were away")
	carol.ok("friends", "add", bob.nick)

	l := bob.listen("--json")
	unread := l2(t, l)
	if unread.total != 1 || unread.text != "while you were away" || unread.pending != carol.nick {
		t.Fatalf("login frames: %+v", unread)
	}
	alice.ok("send", bob.nick, "live now")
	if m := l.frame("message.new"); m["text"] != "live now" {
		t.Fatalf("message.new: %v", m)
	}
	alice.ok("typing", bob.nick)
	if m := l.frame("typing"); m["peer_id"] == nil || m["expires_in_ms"] != float64(6000) {
		t.Fatalf("typing: %v", m)
	}
	carol.ok("friends", "remove", bob.nick) // cancelling a request pushes nothing…
	bob.ok("friends", "add", carol.nick)
	carol.ok("friends", "accept", bob.nick) // …accepting one does
	if d := l.frame("friend.accepted"); d["user"].(map[string]any)["nickname"] != carol.nick {
		t.Fatalf("friend.accepted: %v", d)
	}
	if code := l.interrupt(); code != 0 {
		t.Fatalf("listen after Ctrl-C: exit %d, want 0; stderr:\n%s", code, l.errb)
	}

	// A second connection gets the login frames again (the message is still unread: nothing marked it read).
	l = bob.listen("--json")
	if again := l2(t, l); again.total != 2 || again.pending != "" {
		t.Fatalf("login frames of the second connection: %+v", again)
	}
	l.interrupt()

	// People see the same in words.
	l = bob.listen()
	l.lineSet([]string{"messages.unread", "2 unread"}, []string{"while you were away"}, []string{"friends.pending", "0 pending"})
	l.interrupt()
}

type loginFrames struct {
	total   int
	text    string // the first unread message
	pending string // the nickname of the first pending request
}

// l2 reads the two login frames, in either order.
func l2(t *testing.T, l *listener) loginFrames {
	t.Helper()
	var lf loginFrames
	seen := map[string]bool{}
	timeout := time.After(15 * time.Second)
	for len(seen) < 2 {
		select {
		case line, ok := <-l.lines:
			if !ok {
				t.Fatalf("listen ended; stderr:\n%s", l.errb)
			}
			var f struct {
				Type string
				Data struct {
					Total int
					Items []struct {
						Text string
						User struct{ Nickname string }
					}
				}
			}
			if err := json.Unmarshal([]byte(line), &f); err != nil {
				t.Fatalf("not JSON: %q", line)
			}
			switch f.Type {
			case "messages.unread":
				lf.total = f.Data.Total
				if len(f.Data.Items) > 0 {
					lf.text = f.Data.Items[0].Text
				}
			case "friends.pending":
				if len(f.Data.Items) > 0 {
					lf.pending = f.Data.Items[0].User.Nickname
				}
			default:
				continue
			}
			if seen[f.Type] {
				t.Fatalf("a second %s frame", f.Type)
			}
			seen[f.Type] = true
		case <-timeout:
			t.Fatalf("no login frames within 15 s (got %v); stderr:\n%s", seen, l.errb)
		}
	}
	return lf
}

// TestRefresh: an expired access token is refreshed with the refresh token before the call, and a token the
// server refuses is refreshed and the call retried; the rotated tokens are stored, still with mode 0600.
func TestRefresh(t *testing.T) {
	t.Parallel()
	u := newUser(t, "ref")
	u.registerAndLogin()
	path := filepath.Join(u.dir, "credentials.json")
	edit := func(fn func(s map[string]any)) map[string]any {
		t.Helper()
		var c struct{ Sessions map[string]map[string]any }
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &c); err != nil {
			t.Fatal(err)
		}
		s := c.Sessions[stack.GatewayURL]
		if s == nil {
			t.Fatalf("no session of %s in %s", stack.GatewayURL, b)
		}
		if fn != nil {
			fn(s)
			b, _ = json.Marshal(c)
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		return s
	}
	before := edit(func(s map[string]any) { s["refresh_after"] = time.Now().Add(-time.Minute).Format(time.RFC3339) })
	if out := u.ok("whoami"); !strings.Contains(out, u.nick) {
		t.Fatalf("whoami: %q", out)
	}
	after := edit(nil)
	if after["refresh_token"] == before["refresh_token"] || after["access_token"] == before["access_token"] {
		t.Fatal("the expired access token was not refreshed")
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("credentials mode %v after refresh", fi.Mode().Perm())
	}

	// A token the server refuses (here: damaged) is refreshed once and the call repeated.
	edit(func(s map[string]any) { s["access_token"] = "damaged" })
	if out := u.ok("whoami"); !strings.Contains(out, u.nick) {
		t.Fatalf("whoami with a refused token: %q", out)
	}

	// A spent refresh token ends the session: exit 3, and the session is forgotten.
	edit(func(s map[string]any) {
		s["refresh_token"] = before["refresh_token"]
		s["refresh_after"] = time.Now().Add(-time.Minute).Format(time.RFC3339)
	})
	if r := u.run("", "whoami"); r.code != 3 || !strings.Contains(r.stderr, "msgr login") {
		t.Fatalf("whoami with a spent refresh token: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := u.run("", "whoami"); r.code != 3 || !strings.Contains(r.stderr, "not logged in") {
		t.Fatalf("whoami after the session ended: exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestErrors: the contract's error codes reach the user with exit code 1; no session is exit 3; logout ends the
// session on the server.
func TestErrors(t *testing.T) {
	t.Parallel()
	a, b := newUser(t, "err"), newUser(t, "err")
	a.registerAndLogin()
	b.registerAndLogin()

	if r := b.run(password+"\n", "register", a.nick, "--password-stdin"); r.code != 1 || !strings.Contains(r.stderr, "nickname_taken") || !strings.Contains(r.stderr, "409") {
		t.Fatalf("register a taken nickname: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := b.run("wrong password\n", "login", a.nick, "--password-stdin"); r.code != 1 || !strings.Contains(r.stderr, "invalid_credentials") {
		t.Fatalf("login with a wrong password: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := a.run("", "send", b.nick, "hi"); r.code != 1 || !strings.Contains(r.stderr, "not_friends") {
		t.Fatalf("send to a stranger: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := a.run("", "--json", "friends", "accept", b.nick); r.code != 1 || !strings.Contains(r.stderr, `"code":"request_not_found"`) || r.stdout != "" {
		t.Fatalf("accept without a request, --json: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if r := a.run("", "history", "nobody_"+a.nick); r.code != 1 || !strings.Contains(r.stderr, "user_not_found") {
		t.Fatalf("history with an unknown user: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := a.run("", "profile", "set", "--display-name", strings.Repeat("x", 65)); r.code != 1 || !strings.Contains(r.stderr, "invalid_display_name") {
		t.Fatalf("profile set with a long name: exit %d, stderr %q", r.code, r.stderr)
	}

	if out := a.ok("logout"); !strings.Contains(out, "logged out "+a.nick) {
		t.Fatalf("logout: %q", out)
	}
	if r := a.run("", "whoami"); r.code != 3 {
		t.Fatalf("whoami after logout: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := a.run("", "listen"); r.code != 3 {
		t.Fatalf("listen after logout: exit %d, stderr %q", r.code, r.stderr)
	}
}

func writePNG(t *testing.T, path string) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	for i := range 8 {
		img.Set(i, i, color.RGBA{R: 200, A: 255})
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// inOrder reports whether all parts occur in s in this order.
func inOrder(s string, parts ...string) bool {
	for _, p := range parts {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return true
}

// regexpLine reports whether some line of s holds all of fields as whitespace-separated fields.
func regexpLine(s string, fields ...string) bool {
	for _, line := range strings.Split(s, "\n") {
		have := map[string]bool{}
		for _, f := range strings.Fields(line) {
			have[f] = true
		}
		all := true
		for _, f := range fields {
			all = all && have[f]
		}
		if all {
			return true
		}
	}
	return false
}
