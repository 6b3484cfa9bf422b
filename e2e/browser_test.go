package e2e

// The web client (services/gateway/web), driven in real Chromium by chromedp against the suite's stack: two
// people in two separate browsers register, befriend, chat live with read marks, and one of them loses the
// network and later closes the page while the other writes, then catches up. Screenshots of the main screens
// go to .artifacts/screenshots/ (git-ignored) for a person to look at.

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// chromiumPath finds the browser. CI installs Debian's chromium through scripts/deps.sh, so a missing browser
// fails the test with the way to get one; SKIP_BROWSER=1 skips it on purpose.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if os.Getenv("SKIP_BROWSER") == "1" {
		t.Skip("SKIP_BROWSER=1: the browser tests are skipped")
	}
	for _, p := range []string{os.Getenv("CHROMIUM"), "/usr/bin/chromium"} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	t.Fatal("Chromium is not installed: run `make deps` (scripts/deps.sh installs Debian's chromium as root), " +
		"set CHROMIUM=/path/to/chromium, or set SKIP_BROWSER=1 to skip the browser tests")
	return ""
}

// browserPage is one tab of a browser of its own, with what its console said.
type browserPage struct {
	t       *testing.T
	name    string
	browser context.Context // the browser's first tab, kept open at about:blank so the browser outlives pages
	ctx     context.Context
	close   context.CancelFunc

	mu      sync.Mutex
	console []string
}

// newBrowser starts a Chromium with a fresh profile and opens one page in it. The flags keep Chromium off the
// network except for the pages it is told to open: on a machine without internet, its background connections
// would otherwise be refused and slow it down.
func newBrowser(t *testing.T, exe, name string) *browserPage {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	browser, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
	})
	if err := chromedp.Do(browser, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("starting Chromium (%s): %v", exe, err)
	}
	return openPage(t, browser, name)
}

// openPage opens a new tab in the browser of parent.
func openPage(t *testing.T, browser context.Context, name string) *browserPage {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser)
	p := &browserPage{t: t, name: name, browser: browser, ctx: ctx, close: cancel}
	t.Cleanup(cancel)
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			p.mu.Lock()
			p.console = append(p.console, fmt.Sprintf("%s: %s", m.Type, m.Text))
			p.mu.Unlock()
		}
	}()
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800)); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return p
}

func (p *browserPage) do(steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		p.fail("%v", err)
	}
}

// fail stops the test with the page's console, which usually says why.
func (p *browserPage) fail(format string, args ...any) {
	p.t.Helper()
	p.mu.Lock()
	console := strings.Join(p.console, "\n  ")
	p.mu.Unlock()
	p.shot("failure-" + p.name)
	p.t.Fatalf("%s: %s\nconsole:\n  %s", p.name, fmt.Sprintf(format, args...), console)
}

// waitFor polls a JavaScript condition in the page.
func (p *browserPage) waitFor(what, expr string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 15*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(10*time.Second),
		chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
		p.fail("waiting for %s: %v", what, err)
	}
}

func evalIn[T any](p *browserPage, expr string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		p.fail("evaluating %s: %v", expr, err)
	}
	return v
}

// click clicks the element with the mouse. The client re-renders lists when pushes arrive, so the node found may
// be replaced before the click lands: then it is found again.
func (p *browserPage) click(sel string) {
	p.t.Helper()
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		ctx, cancel := context.WithTimeout(p.ctx, 20*time.Second)
		err = chromedp.Do(ctx, chromedp.Click(chromedp.CSS(sel)))
		cancel()
		if err == nil || !strings.Contains(err.Error(), "node") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		p.fail("clicking %s: %v", sel, err)
	}
}

func (p *browserPage) fill(sel, text string) {
	p.t.Helper()
	p.do(chromedp.WaitVisible(chromedp.CSS(sel)),
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.querySelector(%s).value = ''`, js(sel))),
		chromedp.SendKeys(chromedp.CSS(sel), text))
}

var screenshotDir struct {
	once sync.Once
	dir  string
}

// shot saves a screenshot of the viewport as .artifacts/screenshots/<name>.png at the repository root.
func (p *browserPage) shot(name string) {
	screenshotDir.once.Do(func() {
		if root, err := RepoRoot(); err == nil {
			screenshotDir.dir = filepath.Join(root, ".artifacts", "screenshots")
			_ = os.MkdirAll(screenshotDir.dir, 0o755)
		}
	})
	if screenshotDir.dir == "" {
		return
	}
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	if b, err := chromedp.Run(ctx, chromedp.CaptureScreenshot()); err == nil {
		_ = os.WriteFile(filepath.Join(screenshotDir.dir, name+".png"), b, 0o644)
	} else {
		p.t.Logf("screenshot %s: %v", name, err)
	}
}

// setOffline cuts the page's network (navigator.onLine turns false and the offline event fires) or restores it.
func (p *browserPage) setOffline(offline bool) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		p.fail("network.enable: %v", err)
	}
	conditions := network.OverrideNetworkStateParams{Offline: offline, DownloadThroughput: -1, UploadThroughput: -1}
	if _, err := chromedp.Call(ctx, network.OverrideNetworkState, conditions); err != nil {
		p.fail("network override: %v", err)
	}
	rule := &network.Conditions{Offline: offline, DownloadThroughput: -1, UploadThroughput: -1}
	if _, err := chromedp.Call(ctx, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{
		MatchedNetworkConditions: []*network.Conditions{rule},
	}); err != nil {
		p.fail("network conditions: %v", err)
	}
}

// noPolicyViolations fails when the page's Content-Security-Policy blocked anything or a script threw: the
// client must work under the policy as served.
func (p *browserPage) noPolicyViolations() {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, line := range p.console {
		if strings.Contains(line, "Content Security Policy") || strings.HasPrefix(line, string(chromedp.ConsoleException)) {
			p.t.Errorf("%s: %s", p.name, line)
		}
	}
}

// Selectors of the client's screens (ids and data attributes of services/gateway/web/static/index.html and app.js).
func chatItem(nick string) string {
	return fmt.Sprintf(`#chat-list .chat-item[data-nickname=%q]`, nick)
}

func personIn(list, nick string) string { return fmt.Sprintf(`#%s li[data-nickname=%q]`, list, nick) }

func js(s string) string { return fmt.Sprintf("%q", s) }

// countMessages is a JS expression: how many messages of the open chat have exactly this text.
func countMessages(text string) string {
	return fmt.Sprintf(`[...document.querySelectorAll('#messages li .text')].filter(e => e.textContent === %s).length`, js(text))
}

func (p *browserPage) registerAndEnter(nick, display, password string) {
	p.t.Helper()
	p.do(chromedp.Navigate(stack.GatewayURL + "/"))
	p.waitFor("the login screen", `!document.getElementById('auth-view').hidden`)
	p.fill("#register-nickname", nick)
	p.fill("#register-display-name", display)
	p.fill("#register-password", password)
	p.click(`#register-form button[type="submit"]`)
	p.waitFor("the messenger after registering", `!document.getElementById('app-view').hidden`)
	p.waitFor("the push connection", `document.getElementById('conn-status').dataset.state === 'online'`)
}

// pressEnter presses Enter in the element as a keyboard does (keydown with its text, then keyup), so a page
// that handles keydown can cancel the new line.
func (p *browserPage) pressEnter(sel string) {
	p.t.Helper()
	p.do(chromedp.Focus(chromedp.CSS(sel)))
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	for _, typ := range []input.DispatchKeyEventType{input.DispatchKeyEventTypeKeyDown, input.DispatchKeyEventTypeKeyUp} {
		ev := input.DispatchKeyEventParams{Type: typ, Key: "Enter", Code: "Enter", WindowsVirtualKeyCode: 13, NativeVirtualKeyCode: 13}
		if typ == input.DispatchKeyEventTypeKeyDown {
			ev.Text, ev.UnmodifiedText = "\r", "\r"
		}
		if _, err := chromedp.Call(ctx, input.DispatchKeyEvent, ev); err != nil {
			p.fail("pressing Enter: %v", err)
		}
	}
}

func (p *browserPage) sendMessage(text string) {
	p.t.Helper()
	// Typed, then Enter: the composer sends on Enter and is empty again.
	p.fill("#message-input", text)
	p.pressEnter("#message-input")
	p.waitFor("my message "+text, countMessages(text)+` === 1 && document.getElementById('message-input').value === ''`)
}

func TestBrowserTwoPeopleChatLiveAndCatchUp(t *testing.T) {
	needLocalStack(t, "the web client in Chromium on this machine, screenshots into the repository: a test of the suite's own stack")
	exe := chromiumPath(t)
	aliceNick, bobNick := "alice_"+suffix(), "bob_"+suffix()
	password := "pass-" + suffix() + "-word"

	alice := newBrowser(t, exe, "alice")
	bob := newBrowser(t, exe, "bob")

	// The login screen, then both register (and are logged in and connected at once).
	alice.do(chromedp.Navigate(stack.GatewayURL + "/"))
	alice.waitFor("the login screen", `!document.getElementById('auth-view').hidden`)
	alice.shot("01-login")
	alice.registerAndEnter(aliceNick, "Alice Liddell", password)
	bob.registerAndEnter(bobNick, "Bob Builder", password)

	// Alice finds Bob by nickname and asks him.
	alice.click("#nav-people")
	alice.fill("#search-input", bobNick[:6]+strings.ToUpper(bobNick[6:8]))
	alice.pressEnter("#search-input")
	alice.waitFor("Bob in the search results", fmt.Sprintf(`!!document.querySelector(%s)`, js(personIn("search-results", bobNick)+` button[data-action="add"]`)))
	alice.click(personIn("search-results", bobNick) + ` button[data-action="add"]`)
	alice.waitFor("the request shown as sent", fmt.Sprintf(`!!document.querySelector(%s)`, js(personIn("outgoing-list", bobNick))))

	// Bob is told live (the People badge), accepts, and Alice is told live.
	bob.waitFor("the friend request badge", `document.getElementById('nav-people-badge').textContent === '1'`)
	bob.click("#nav-people")
	bob.waitFor("Alice's request", fmt.Sprintf(`!!document.querySelector(%s)`, js(personIn("incoming-list", aliceNick)+` button[data-action="accept"]`)))
	bob.click(personIn("incoming-list", aliceNick) + ` button[data-action="accept"]`)
	bob.waitFor("Alice among friends", fmt.Sprintf(`!!document.querySelector(%s)`, js(personIn("friends-list", aliceNick))))
	alice.waitFor("Bob among Alice's friends (friend.accepted, no reload)", fmt.Sprintf(`!!document.querySelector(%s)`, js(personIn("friends-list", bobNick))))
	// A new friend is a chat at once, on both sides, before anyone writes.
	for _, side := range []struct {
		p    *browserPage
		peer string
	}{{alice, bobNick}, {bob, aliceNick}} {
		side.p.waitFor("the new friend among the chats", `document.querySelector(`+js(chatItem(side.peer)+" .preview")+`)?.textContent === 'No messages yet'`)
		// Presence: both are connected, so each sees the other online (the dot on the avatar).
		side.p.waitFor("the new friend online", `!!document.querySelector(`+js(chatItem(side.peer)+` [data-presence="online"] .presence-dot`)+`)`)
	}

	// Both open the chat; each message appears live on the other side, and each sees the other's read mark.
	alice.click(personIn("friends-list", bobNick) + ` button[data-action="message"]`)
	bob.click(personIn("friends-list", aliceNick) + ` button[data-action="message"]`)
	alice.waitFor("the chat view", `!document.getElementById('chat-view').hidden && document.activeElement.id === 'message-input'`)
	bob.waitFor("the chat view", `!document.getElementById('chat-view').hidden`)
	alice.waitFor("Bob online, in Alice's chat header", `document.getElementById('chat-presence').textContent === 'online'`)
	// Typing: Alice types, Bob sees it in the chat's header; her message clears it.
	alice.do(chromedp.SendKeys(chromedp.CSS("#message-input"), "Hel"))
	bob.waitFor("Alice typing, in Bob's chat header", `document.getElementById('chat-typing').textContent === 'Alice Liddell is typing…'`)
	alice.sendMessage("Hello Bob! <b>not bold</b>")
	bob.waitFor("the typing notice gone with the message", `document.getElementById('chat-typing').textContent === ''`)
	bob.waitFor("Alice's message, live", countMessages("Hello Bob! <b>not bold</b>")+` === 1`)
	if n := evalIn[int](bob, `document.querySelectorAll('#messages b').length`); n != 0 {
		t.Fatal("message text was rendered as markup")
	}
	alice.waitFor("Bob's read mark on Alice's message", `(() => { const m = document.querySelector('#messages li.mine .read-mark'); return !!m && !m.hidden; })()`)
	bob.sendMessage("Hi Alice, how are you?")
	alice.waitFor("Bob's reply, live", countMessages("Hi Alice, how are you?")+` === 1`)
	bob.waitFor("Alice's read mark on Bob's reply", `(() => { const m = [...document.querySelectorAll('#messages li.mine')].pop(); return !!m && !m.querySelector('.read-mark').hidden; })()`)
	alice.sendMessage("Fine, thanks.")
	bob.waitFor("the third message", countMessages("Fine, thanks.")+` === 1`)
	alice.shot("03-chat-view")

	// Alice edits her message, then deletes another: Bob's page follows both live (message.edited, message.deleted),
	// and Bob has no Edit or Delete on Alice's messages.
	alice.sendMessage("a typo, soon gone")
	bob.waitFor("the message to be deleted", countMessages("a typo, soon gone")+` === 1`)
	alice.do(chromedp.Evaluate[chromedp.Void](`window.prompt = () => 'Fine, thanks!'; window.confirm = () => true;`))
	msgWith := func(text string) string {
		return fmt.Sprintf(`[...document.querySelectorAll('#messages li.msg')].find(l => l.querySelector('.text').textContent === %s)`, js(text))
	}
	alice.do(chromedp.Evaluate[chromedp.Void](msgWith("Fine, thanks.") + `.querySelector('button[data-action="edit"]').click()`))
	bob.waitFor("Alice's edit, live", `(() => { const m = `+msgWith("Fine, thanks!")+`; return !!m && !!m.querySelector('.edited'); })()`)
	alice.do(chromedp.Evaluate[chromedp.Void](msgWith("a typo, soon gone") + `.querySelector('button[data-action="delete"]').click()`))
	bob.waitFor("Alice's delete, live: a tombstone", countMessages("a typo, soon gone")+` === 0 && `+countMessages("Message deleted")+` === 1`)
	if n := evalIn[int](bob, `document.querySelectorAll('#messages li.theirs .actions').length`); n != 0 {
		t.Fatalf("Bob has %d Edit/Delete actions on Alice's messages", n)
	}

	// Bob goes back to his chat list and loses the network: his socket drops, and what Alice writes meanwhile
	// cannot reach him live.
	bob.click("#nav-chats")
	bob.waitFor("Bob's chat list", `!!document.querySelector(`+js(chatItem(aliceNick))+`)`)
	bob.setOffline(true)
	bob.waitFor("the offline state", `document.getElementById('conn-status').dataset.state === 'offline'`)
	alice.sendMessage("Are you there?")
	alice.sendMessage("Call me when you are back.")
	time.Sleep(1500 * time.Millisecond) // a live push would have come well within this
	if got := evalIn[string](bob, `document.querySelector(`+js(chatItem(aliceNick)+" .preview")+`).textContent`); strings.Contains(got, "back") {
		t.Fatalf("Bob got a message while offline: %q", got)
	}
	// Back online: the socket reconnects, the entry frames and the chat list catch up: two unread.
	bob.setOffline(false)
	bob.waitFor("the reconnection", `document.getElementById('conn-status').dataset.state === 'online'`)
	bob.waitFor("the unread badge after reconnecting", `document.querySelector(`+js(chatItem(aliceNick)+" .badge")+`)?.textContent === '2'`)
	bob.waitFor("the missed message in the preview", `document.querySelector(`+js(chatItem(aliceNick)+" .preview")+`).textContent === 'Call me when you are back.'`)
	bob.shot("02-chat-list")
	bob.click(chatItem(aliceNick))
	bob.waitFor("the missed messages, once each", countMessages("Are you there?")+` === 1 && `+countMessages("Call me when you are back.")+` === 1`)
	if n := evalIn[int](bob, `document.querySelectorAll('#messages li.msg').length`); n != 6 {
		t.Fatalf("Bob's chat shows %d messages, want 6 (five and a tombstone)", n)
	}
	bob.waitFor("the badge cleared once read", `!document.querySelector(`+js(chatItem(aliceNick)+" .badge")+`)`)
	newestReadByBob := `(() => { const m = [...document.querySelectorAll('#messages li.mine')].pop(); return !!m && m.querySelector('.text').textContent === 'Call me when you are back.' && !m.querySelector('.read-mark').hidden; })()`
	alice.waitFor("Bob's read mark on the newest message", newestReadByBob)
	// After a reload Alice still sees what Bob has read: the chat list carries his read marker.
	alice.do(chromedp.Reload())
	alice.waitFor("Alice's messenger after a reload", `!document.getElementById('app-view').hidden && document.getElementById('conn-status').dataset.state === 'online'`)
	alice.click(chatItem(bobNick))
	alice.waitFor("Bob's read mark after Alice's reload", newestReadByBob)

	// A reload keeps Bob logged in (refresh token in sessionStorage; the access token was only in memory).
	bob.do(chromedp.Reload())
	bob.waitFor("the messenger after a reload", `!document.getElementById('app-view').hidden && document.getElementById('conn-status').dataset.state === 'online'`)
	if stored := evalIn[string](bob, `JSON.stringify(Object.values(sessionStorage)) + JSON.stringify(Object.values(localStorage))`); strings.Contains(stored, "eyJ") {
		t.Fatalf("a JWT (the access token) is in web storage: %s", stored)
	}
	// The chat has a URL: the reload opened the same chat, and Back goes to the chat list, inside the messenger.
	bob.waitFor("the same chat after the reload", `location.hash.startsWith('#/chat/') && !document.getElementById('chat-view').hidden && document.getElementById('chat-title').textContent === 'Alice Liddell'`)
	bob.do(chromedp.NavigateBack())
	bob.waitFor("Back: the chat list, still in the messenger", `location.hash === '#/' && document.getElementById('chat-view').hidden && !document.getElementById('app-view').hidden && document.getElementById('conn-status').dataset.state === 'online'`)
	bob.do(chromedp.NavigateForward())
	bob.waitFor("Forward: the chat again", `location.hash.startsWith('#/chat/') && !document.getElementById('chat-view').hidden`)

	// Bob closes his page: Alice sees him go offline at once (his socket closed), with when he was last seen.
	// Alice writes; Bob opens the messenger in a new tab, logs in again and finds it.
	alice.waitFor("Bob online before he leaves", `document.getElementById('chat-presence').textContent === 'online'`)
	bob.close()
	alice.waitFor("Bob offline, last seen, in Alice's chat header", `document.getElementById('chat-presence').textContent.startsWith('last seen ')`)
	alice.waitFor("Bob's dot gone from Alice's chat list", `!!document.querySelector(`+js(chatItem(bobNick)+` [data-presence="offline"]`)+`) && !document.querySelector(`+js(chatItem(bobNick)+` .presence-dot`)+`)`)
	alice.sendMessage("Message for later")
	bob2 := openPage(t, bob.browser, "bob-again")
	bob2.do(chromedp.Navigate(stack.GatewayURL + "/"))
	bob2.waitFor("the login screen (a new tab has no session)", `!document.getElementById('auth-view').hidden`)
	bob2.fill("#login-nickname", bobNick)
	bob2.fill("#login-password", password)
	bob2.pressEnter("#login-password")
	bob2.waitFor("the unread badge after logging in", `document.querySelector(`+js(chatItem(aliceNick)+" .badge")+`)?.textContent === '1'`)
	alice.waitFor("Bob online again once he logged in", `document.getElementById('chat-presence').textContent === 'online'`)
	bob2.click(chatItem(aliceNick))
	bob2.waitFor("the message written while the page was closed", countMessages("Message for later")+` === 1`)

	// Infinite scroll: with more than a page of history (47 with the tombstone), scrolling up loads older pages, in
	// order, once each.
	sender := &account{nickname: aliceNick, password: password}
	sender.login(t)
	bobID := evalIn[string](alice, `document.querySelector(`+js(chatItem(bobNick))+`).dataset.peer`)
	bob2.click("#nav-chats")
	for i := 0; i < 40; i++ {
		must(t, call(t, "POST", "/api/v1/chats/"+bobID+"/messages", sender.access, map[string]any{"text": fmt.Sprintf("bulk %02d", i)}), 201, "send")
	}
	bob2.waitFor("the newest bulk message in the list", `document.querySelector(`+js(chatItem(aliceNick)+" .preview")+`).textContent === 'bulk 39'`)
	bob2.click(chatItem(aliceNick))
	bob2.waitFor("the newest page", countMessages("bulk 39")+` === 1`)
	if n := evalIn[int](bob2, `document.querySelectorAll('#messages li.msg').length`); n >= 47 {
		t.Fatalf("the first page already holds %d messages", n)
	}
	bob2.waitFor("every older page after scrolling up", `(() => { document.getElementById('history').scrollTop = 0; return document.querySelectorAll('#messages li.msg').length === 47; })()`)
	if ok := evalIn[bool](bob2, `(() => { const ids = [...document.querySelectorAll('#messages li.msg')].map(l => BigInt(l.dataset.id)); return ids.every((id, i) => i === 0 || id > ids[i-1]); })()`); !ok {
		t.Fatal("the history is not in id order after paging")
	}

	// Sessions: Bob has two (the closed tab's and this one) and revokes the other.
	bob2.click("#nav-sessions")
	bob2.waitFor("two sessions", `document.querySelectorAll('#sessions-list li').length === 2`)
	bob2.click(`#sessions-list li[data-current="false"] button[data-action="revoke"]`)
	bob2.waitFor("one session left", `document.querySelectorAll('#sessions-list li').length === 1 && document.querySelector('#sessions-list li').dataset.current === 'true'`)

	// Alice edits her profile and uploads an avatar.
	alice.click("#nav-profile")
	alice.fill("#profile-display-name", "Alice in Wonderland")
	alice.fill("#profile-bio", "Curiouser and curiouser.")
	alice.click(`#profile-form button[type="submit"]`)
	alice.waitFor("the profile saved", `document.getElementById('profile-status').textContent === 'Profile saved.'`)
	// Bob sees the new name without a reload (profile.updated), and the bio in the chat's header.
	bob2.waitFor("Alice's new name in Bob's chat list, live", `document.querySelector(`+js(chatItem(aliceNick)+" .name")+`)?.textContent === 'Alice in Wonderland'`)
	bob2.click(chatItem(aliceNick))
	bob2.waitFor("Alice's bio in the chat header", `document.getElementById('chat-title').textContent === 'Alice in Wonderland' && document.getElementById('chat-bio').textContent === 'Curiouser and curiouser.'`)
	avatarFile := filepath.Join(t.TempDir(), "avatar.png")
	if err := os.WriteFile(avatarFile, pngOf(t, 96, 96), 0o644); err != nil {
		t.Fatal(err)
	}
	alice.do(chromedp.SetUploadFiles(chromedp.CSS("#avatar-input"), []string{avatarFile}))
	alice.waitFor("the avatar preview", `!!document.querySelector('#avatar-preview img[src^="blob:"]')`)
	alice.click(`#avatar-form button[type="submit"]`)
	alice.waitFor("the uploaded avatar shown from the server", `(() => { const i = document.querySelector('#avatar-preview img'); return !!i && i.src.includes('/api/v1/users/') && i.complete && i.naturalWidth === 96; })()`)
	alice.shot("04-profile")
	bob2.waitFor("Alice's avatar in Bob's chat header and list, live", fmt.Sprintf(`(() => { const h = document.querySelector('#chat-avatar img.avatar'), l = document.querySelector(%s);
		return !!h && h.complete && h.naturalWidth === 96 && !!l && l.complete && l.naturalWidth === 96; })()`, js(chatItem(aliceNick)+" img.avatar")))
	// Bob's People list shows it (friends lists carry has_avatar).
	bob2.click("#nav-people")
	bob2.waitFor("Alice's avatar in Bob's friends list", fmt.Sprintf(`(() => { const i = document.querySelector(%s); return !!i && i.complete && i.naturalWidth === 96; })()`,
		js(personIn("friends-list", aliceNick)+" img.avatar")))

	// A phone-sized screen: one column, the chat with a back button, nothing wider than the screen.
	alice.do(chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	alice.click("#nav-chats")
	alice.waitFor("the chat list alone", `getComputedStyle(document.getElementById('main')).display === 'none'`)
	alice.click(chatItem(bobNick))
	alice.waitFor("the chat alone", `getComputedStyle(document.getElementById('sidebar')).display === 'none' && !!document.getElementById('back-button').offsetParent && `+countMessages("bulk 39")+` === 1`)
	if w := evalIn[int](alice, `document.documentElement.scrollWidth`); w > 390 {
		t.Errorf("the phone layout is %d px wide, wider than the 390 px screen", w)
	}
	alice.shot("05-phone-chat-view")
	alice.click("#back-button")
	alice.waitFor("back to the chat list", `getComputedStyle(document.getElementById('sidebar')).display !== 'none'`)

	// Bob blocks Alice: she is gone from his friends and listed as blocked; on Alice's side Bob is no longer a
	// friend, and she was told nothing.
	bob2.do(chromedp.Evaluate[chromedp.Void](`window.confirm = () => true;`))
	bob2.click("#nav-people")
	bob2.click(personIn("friends-list", aliceNick) + ` button[data-action="block"]`)
	bob2.waitFor("Alice among the blocked", fmt.Sprintf(`!!document.querySelector(%s) && !document.querySelector(%s)`,
		js(personIn("blocked-list", aliceNick)), js(personIn("friends-list", aliceNick))))
	alice.do(chromedp.EmulateViewport(1280, 800))
	alice.click("#nav-people")
	alice.waitFor("Bob no longer among Alice's friends", fmt.Sprintf(`document.getElementById('people-error').textContent === '' && !document.querySelector(%s)`,
		js(personIn("friends-list", bobNick))))
	if n := evalIn[int](alice, `[...document.getElementById('announcer').textContent].length`); n != 0 {
		if got := evalIn[string](alice, `document.getElementById('announcer').textContent`); strings.Contains(got, "removed you") {
			t.Errorf("Alice was told of the block: %q", got)
		}
	}

	// Log out: the login screen, and nothing of the session left in storage.
	alice.click("#logout-button")
	alice.waitFor("the login screen after logging out", `!document.getElementById('auth-view').hidden && sessionStorage.length === 0`)

	for _, p := range []*browserPage{alice, bob, bob2} {
		p.noPolicyViolations()
	}
}

// contrast is the WCAG contrast ratio of two computed CSS colours ("rgb(r, g, b)").
func contrast(t *testing.T, fg, bg string) float64 {
	t.Helper()
	lum := func(css string) float64 {
		var r, g, b float64
		if _, err := fmt.Sscanf(strings.ReplaceAll(css, " ", ""), "rgb(%g,%g,%g)", &r, &g, &b); err != nil {
			t.Fatalf("colour %q: %v", css, err)
		}
		lin := func(c float64) float64 {
			c /= 255
			if c <= 0.03928 {
				return c / 12.92
			}
			return math.Pow((c+0.055)/1.055, 2.4)
		}
		return 0.2126*lin(r) + 0.7152*lin(g) + 0.0722*lin(b)
	}
	a, b := lum(fg), lum(bg)
	return (math.Max(a, b) + 0.05) / (math.Min(a, b) + 0.05)
}

// The rough edges a person finds by using the client: field errors that say which field, the login screen with
// its own <main>, a long message never cut, an error that goes with the next action, a message box that grows,
// day dividers, the previous user's details gone after logging out, and a Send button readable in dark mode.
func TestBrowserComposerFormsAndAccessibility(t *testing.T) {
	needLocalStack(t, "the web client in Chromium on this machine: a test of the suite's own stack")
	exe := chromiumPath(t)
	me, friend := register(t, "composer"), register(t, "friend")
	befriend(t, me, friend)
	p := newBrowser(t, exe, "composer")
	// The push connection's handshakes, as the browser sends them.
	var (
		wsMu       sync.Mutex
		wsURLs     []string
		wsProtocol []string
	)
	netCtx, cancelNet := context.WithTimeout(p.ctx, 10*time.Second)
	_, err := chromedp.Call(netCtx, network.Enable, network.EnableParams{})
	cancelNet()
	if err != nil {
		t.Fatalf("network.enable: %v", err)
	}
	if err := chromedp.Listen(p.ctx, func(ev any) {
		wsMu.Lock()
		defer wsMu.Unlock()
		switch e := ev.(type) {
		case *network.EventWebSocketCreated:
			wsURLs = append(wsURLs, e.URL)
		case *network.EventWebSocketWillSendHandshakeRequest:
			for k, v := range e.Request.Headers {
				if strings.EqualFold(k, "Sec-WebSocket-Protocol") {
					wsProtocol = append(wsProtocol, fmt.Sprint(v))
				}
			}
		}
	}); err != nil {
		t.Fatal(err)
	}

	p.do(chromedp.Navigate(stack.GatewayURL + "/"))
	p.waitFor("the login screen", `!document.getElementById('auth-view').hidden`)
	if !evalIn[bool](p, `document.getElementById('auth-view').tagName === 'MAIN' && document.getElementById('skip-link').getAttribute('href') === '#auth-view'`) {
		t.Fatal("the login screen is not the page's <main>, or the skip link does not lead to it")
	}
	// A refused field is marked and tells why, through its description; typing in it clears both.
	p.fill("#register-nickname", "x!")
	p.fill("#register-password", "long-enough-password")
	p.click(`#register-form button[type="submit"]`)
	p.waitFor("the nickname marked invalid", `(() => { const f = document.getElementById('register-nickname');
		return f.getAttribute('aria-invalid') === 'true' && f.getAttribute('aria-describedby').split(' ').includes('register-error')
			&& f.getAttribute('aria-describedby').split(' ').includes('register-nickname-hint')
			&& document.getElementById('register-error').textContent !== ''; })()`)
	p.fill("#register-nickname", "fine_name")
	p.waitFor("the mark gone once the field changes", `(() => { const f = document.getElementById('register-nickname');
		return !f.hasAttribute('aria-invalid') && f.getAttribute('aria-describedby') === 'register-nickname-hint'
			&& document.getElementById('register-error').textContent === ''; })()`)
	p.fill("#login-nickname", me.nickname)
	p.fill("#login-password", "wrong-password")
	p.pressEnter("#login-password")
	p.waitFor("both login fields marked on wrong credentials", `document.querySelectorAll('#login-form [aria-invalid="true"]').length === 2`)
	p.fill("#login-password", me.password)
	p.pressEnter("#login-password")
	p.waitFor("the messenger", `!document.getElementById('app-view').hidden && document.getElementById('conn-status').dataset.state === 'online'`)
	// The token went in the Sec-WebSocket-Protocol header, never in the URL (which proxies log).
	wsMu.Lock()
	urls, protocols := append([]string(nil), wsURLs...), append([]string(nil), wsProtocol...)
	wsMu.Unlock()
	if len(urls) == 0 || len(protocols) == 0 {
		t.Fatalf("no push connection seen: %v %v", urls, protocols)
	}
	for _, u := range urls {
		if strings.Contains(u, "access_token") || strings.Contains(u, "?") {
			t.Errorf("the push connection's URL carries something: %s", u)
		}
	}
	if p := protocols[0]; !strings.Contains(p, "simplemessenger.v1") || !strings.Contains(p, "bearer.eyJ") {
		t.Errorf("Sec-WebSocket-Protocol %q: want the messenger's subprotocol and the bearer token", p)
	}

	p.click("#nav-people")
	p.waitFor("the friend", fmt.Sprintf(`!!document.querySelector(%s)`, js(personIn("friends-list", friend.nickname)+` button[data-action="message"]`)))
	p.click(personIn("friends-list", friend.nickname) + ` button[data-action="message"]`)
	p.waitFor("the chat view", `!document.getElementById('chat-view').hidden`)
	// The skip link moves to the content; it is not a screen of its own, so the chat stays open.
	p.do(chromedp.Evaluate[chromedp.Void](`document.getElementById('skip-link').click()`))
	time.Sleep(300 * time.Millisecond)
	if !evalIn[bool](p, `!document.getElementById('chat-view').hidden`) {
		t.Fatal("following the skip link closed the chat")
	}

	// 4,001 characters (one of them outside the BMP: counted as one, as the contract counts) are refused with the
	// reason, and stay in the box, whole; nothing is sent.
	long := strings.Repeat("a", 3999) + "😀b"
	p.do(chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => { const i = document.getElementById('message-input'); i.value = %s;
		i.dispatchEvent(new Event('input', { bubbles: true })); })()`, js(long))))
	p.waitFor("the count over the limit", `document.getElementById('composer-count').classList.contains('over') && document.getElementById('composer-count').textContent.includes('1 too many')`)
	p.pressEnter("#message-input")
	p.waitFor("the refusal, with the limit", `document.getElementById('send-error').textContent.includes('4,000')`)
	if got := evalIn[int](p, `[...document.getElementById('message-input').value].length`); got != 4001 {
		t.Fatalf("the box holds %d characters after the refusal, want the 4001 typed", got)
	}
	if n := evalIn[int](p, `document.querySelectorAll('#messages li.msg').length`); n != 0 {
		t.Fatalf("%d messages shown: a refused text was sent", n)
	}
	// Emptying the box and pressing Enter again leaves no stale error behind.
	p.fill("#message-input", "x")
	p.do(chromedp.Evaluate[chromedp.Void](`(() => { const i = document.getElementById('message-input'); i.value = ''; })()`))
	p.pressEnter("#message-input")
	p.waitFor("the old error gone", `document.getElementById('send-error').textContent === '' && document.getElementById('composer-count').textContent === ''`)

	// The box grows with the lines typed into it.
	one := evalIn[float64](p, `document.getElementById('message-input').getBoundingClientRect().height`)
	p.do(chromedp.Evaluate[chromedp.Void](`(() => { const i = document.getElementById('message-input'); i.value = 'one\ntwo\nthree\nfour';
		i.dispatchEvent(new Event('input', { bubbles: true })); })()`))
	if four := evalIn[float64](p, `document.getElementById('message-input').getBoundingClientRect().height`); four < one*2 {
		t.Fatalf("the box is %.0f px high with four lines, %.0f with one", four, one)
	}
	p.pressEnter("#message-input")
	p.waitFor("the four lines sent", `[...document.querySelectorAll('#messages li.msg .text')].some(e => e.textContent === 'one\ntwo\nthree\nfour')`)
	p.waitFor("the box back to one line", fmt.Sprintf(`document.getElementById('message-input').getBoundingClientRect().height <= %f`, one+1))
	// My message can be edited, then deleted, from the chat: "edited", then a tombstone for both of us.
	p.do(chromedp.Evaluate[chromedp.Void](`window.prompt = () => 'one, two'; window.confirm = () => true;`))
	lastMine := `#messages li.msg.mine:last-child`
	p.click(lastMine + ` button[data-action="edit"]`)
	p.waitFor("the edit shown", `(() => { const m = document.querySelector('`+lastMine+`'); return m.querySelector('.text').textContent === 'one, two' && !!m.querySelector('.edited'); })()`)
	peerView := func() map[string]any {
		items := must(t, call(t, "GET", "/api/v1/chats/"+me.id+"/messages", friend.access, nil), 200, "friend's history").items(t)
		return items[0]
	}
	if m := peerView(); m["text"] != "one, two" || m["edited_at"] == nil {
		t.Errorf("the friend sees %v after the edit", m)
	}
	p.click(lastMine + ` button[data-action="delete"]`)
	p.waitFor("the tombstone", `(() => { const m = document.querySelector('`+lastMine+`'); return m.classList.contains('deleted') && m.querySelector('.text').textContent === 'Message deleted' && !m.querySelector('.actions'); })()`)
	if m := peerView(); m["text"] != "" || m["deleted_at"] == nil {
		t.Errorf("the friend sees %v after the delete", m)
	}
	p.waitFor("the chat list's preview", `document.querySelector(`+js(chatItem(friend.nickname)+" .preview")+`).textContent === 'You: Message deleted'`)
	p.waitFor("a day divider before today's messages", `(() => { const first = document.querySelector('#messages li'); return first.classList.contains('day') && first.getAttribute('role') === 'separator' && first.textContent === 'Today'; })()`)

	// Blocking the friend from People: the friendship ends, they are listed as blocked, and to them I am nobody.
	p.click("#nav-people")
	p.click(personIn("friends-list", friend.nickname) + ` button[data-action="block"]`)
	p.waitFor("the friend among the blocked, no longer a friend", fmt.Sprintf(`!!document.querySelector(%s) && !document.querySelector(%s)`,
		js(personIn("blocked-list", friend.nickname)), js(personIn("friends-list", friend.nickname))))
	mustError(t, call(t, "POST", "/api/v1/friends/requests", friend.access, map[string]any{"user_id": me.id}), 404, "user_not_found", "a request from the blocked friend")
	mustError(t, call(t, "POST", "/api/v1/chats/"+me.id+"/messages", friend.access, map[string]any{"text": "hi?"}), 403, "not_friends", "a message from the blocked friend")
	p.click(personIn("blocked-list", friend.nickname) + ` button[data-action="unblock"]`)
	p.waitFor("nobody blocked any more", `document.querySelectorAll('#blocked-list li').length === 0`)

	// Dark mode: the Send button's text against its colour meets WCAG AA (4.5:1).
	darkCtx, cancelDark := context.WithTimeout(p.ctx, 10*time.Second)
	_, err = chromedp.Call(darkCtx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}},
	})
	cancelDark()
	if err != nil {
		t.Fatalf("emulating dark mode: %v", err)
	}
	if !evalIn[bool](p, `matchMedia('(prefers-color-scheme: dark)').matches`) {
		t.Fatal("dark mode is not in effect")
	}
	colours := evalIn[[]string](p, `(() => { const s = getComputedStyle(document.querySelector('#send-form button[type="submit"]')); return [s.color, s.backgroundColor]; })()`)
	if r := contrast(t, colours[0], colours[1]); r < 4.5 {
		t.Errorf("the Send button in dark mode: %s on %s is %.1f:1, want 4.5:1", colours[0], colours[1], r)
	}

	// Logging out leaves nothing of this user in the forms.
	p.click("#logout-button")
	p.waitFor("the login screen again", `!document.getElementById('auth-view').hidden`)
	if left := evalIn[string](p, `[...document.querySelectorAll('#auth-view input')].map(i => i.value).join('')`); left != "" {
		t.Fatalf("the forms still hold %q after logging out", left)
	}
}
