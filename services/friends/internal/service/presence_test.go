package service_test

import (
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"simplemessenger/platform/broker"
	"simplemessenger/platform/broker/brokertest"
	"simplemessenger/platform/events"
	"simplemessenger/platform/server/servertest"

	"simplemessenger/services/friends/internal/service"
)

// gateway plays one gateway process stating its users' sockets, as the real one does (one id, one sequence).
type gateway struct {
	h     *harness
	id    string
	seq   uint64
	lease time.Duration
}

func (h *harness) gateway(lease time.Duration) *gateway {
	return &gateway{h: h, id: uuid.NewString(), lease: lease}
}

func (g *gateway) stated() events.GatewayPresence {
	g.seq++
	return events.GatewayPresence{GatewayID: g.id, Seq: g.seq, LeaseMillis: g.lease.Milliseconds()}
}

func (g *gateway) publish(typ string, data any) {
	g.h.t.Helper()
	ev, err := broker.NewEvent("gateway", typ, data)
	if err != nil {
		g.h.t.Fatal(err)
	}
	brokertest.PublishUntilRouted(g.h.t, g.h.conn, ev)
}

// enter opens a socket of u here; it returns the statement, to replay it late.
func (g *gateway) enter(u user) events.UserEnteredData {
	e := events.UserEnteredData{UserID: u.ID, SessionID: uuid.NewString(), ConnectionID: uuid.NewString(), GatewayPresence: g.stated()}
	g.publish(events.UserEntered, e)
	return e
}

// online opens a socket of u here and waits for its entry reply with the friends' presence: u's statement is
// kept by then, so u is online for whatever happens next.
func (g *gateway) online(u user) {
	g.h.t.Helper()
	e := g.enter(u)
	g.h.snapshot(u, e.ConnectionID)
}

// snapshot waits for the friends.presence reply to that connection and returns its items by user id.
func (h *harness) snapshot(to user, connectionID string) map[string]presencePush {
	h.t.Helper()
	ev := h.waitPush(to, "friends.presence", "to "+connectionID, func(ev broker.Event) bool { return ev.ConnectionID == connectionID })
	var d struct{ Items []presencePush }
	if err := ev.Decode(&d); err != nil || d.Items == nil {
		h.t.Fatalf("friends.presence %s: %v", ev.Data, err)
	}
	out := map[string]presencePush{}
	for _, it := range d.Items {
		out[it.UserID] = it
	}
	return out
}

// settle returns once the service has handled every statement published before: the presence queue has one
// consumer here, which handles its events in order, so a new user's entry and its reply mark the point.
func (g *gateway) settle() {
	g.h.t.Helper()
	g.online(g.h.user("settle"))
}

func (g *gateway) leave(u user) {
	g.publish(events.UserLeft, events.UserLeftData{UserID: u.ID, GatewayPresence: g.stated()})
}

func (g *gateway) heartbeat(users ...user) {
	var ids []string
	for _, u := range users {
		ids = append(ids, u.ID)
	}
	p := events.GatewayPresence{GatewayID: g.id, Seq: g.seq, LeaseMillis: g.lease.Milliseconds()}
	g.publish(events.PresenceHeartbeat, events.PresenceHeartbeatData{UserIDs: ids, GatewayPresence: p})
}

type presencePush struct {
	UserID     string     `json:"user_id"`
	Online     bool       `json:"online"`
	LastSeenAt *time.Time `json:"last_seen_at"`
	Version    uint64     `json:"version"`
}

// presence waits for the n-th presence push (from 1) to that user about who.
func (h *harness) presence(to, who user, n int) presencePush {
	h.t.Helper()
	var got []presencePush
	if !servertest.Eventually(h.t, 5*time.Second, func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		got = got[:0]
		for _, ev := range h.pushes {
			var d presencePush
			if ev.Type == "presence" && ev.RoutingKey() == broker.PushKey(to.ID) && ev.Decode(&d) == nil && d.UserID == who.ID {
				got = append(got, d)
			}
		}
		return len(got) >= n
	}, "") {
		h.t.Fatalf("presence push %d to %s about %s not within 5 s (got %+v)", n, to.Nickname, who.Nickname, got)
	}
	return got[n-1]
}

// presencePushes counts the presence pushes to that user, about anyone.
func (h *harness) presencePushes(to user) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, ev := range h.pushes {
		if ev.Type == "presence" && ev.RoutingKey() == broker.PushKey(to.ID) {
			n++
		}
	}
	return n
}

// friendItem is who as they appear in as's friends list.
func (h *harness) friendItem(as, who user) item {
	h.t.Helper()
	for _, it := range h.list(as, "") {
		if it.User["id"] == who.ID {
			return it
		}
	}
	h.t.Fatalf("%s is not in %s's list", who.Nickname, as.Nickname)
	return item{}
}

func TestPresenceReachesOnlyOnlineFriendsAndFriendsListsCarryIt(t *testing.T) {
	h := start(t)
	me, bob, cat, dan := h.user("me"), h.user("bob"), h.user("cat"), h.user("dan")
	h.befriend(me, bob)
	h.befriend(me, cat) // cat never comes online
	h.ask(dan, me).is(t, http.StatusCreated, "")
	gw := h.gateway(time.Minute)
	gw.online(bob)
	gw.online(dan)

	// Before me was ever seen: offline, no last seen.
	if it := h.friendItem(bob, me); it.Online == nil || *it.Online || it.LastSeenAt != nil {
		t.Errorf("never seen: online %v, last seen %v", it.Online, it.LastSeenAt)
	}
	entered := gw.enter(me)
	if p := h.presence(bob, me, 1); !p.Online || p.LastSeenAt != nil {
		t.Errorf("coming online: %+v", p)
	}
	if it := h.friendItem(bob, me); it.Online == nil || !*it.Online || it.LastSeenAt != nil {
		t.Errorf("bob's list while me is online: online %v, last seen %v", it.Online, it.LastSeenAt)
	}
	// Only friends: a pending request in either direction shows nothing.
	for _, it := range append(h.list(dan, ""), h.list(me, "?status=incoming")...) {
		if it.Online != nil || it.LastSeenAt != nil {
			t.Errorf("%s sees presence on a request: %+v", it.Status, it)
		}
	}

	left := time.Now()
	gw.leave(me)
	p := h.presence(bob, me, 2)
	if p.Online || p.LastSeenAt == nil || p.LastSeenAt.Before(left.Add(-time.Second)) || p.LastSeenAt.After(time.Now()) {
		t.Errorf("going offline: %+v (left at %v)", p, left)
	}
	if it := h.friendItem(bob, me); it.Online == nil || *it.Online || it.LastSeenAt == nil || !it.LastSeenAt.Equal(*p.LastSeenAt) {
		t.Errorf("bob's list after me left: online %v, last seen %v (pushed %v)", it.Online, it.LastSeenAt, p.LastSeenAt)
	}
	if n := h.presencePushes(cat); n != 0 {
		t.Errorf("cat is offline, yet got %d presence pushes", n)
	}
	if n := h.presencePushes(dan); n != 0 {
		t.Errorf("dan is not a friend, yet got %d presence pushes", n)
	}

	// A statement that arrives late (the entry, redelivered after the leaving) changes nothing.
	gw.publish(events.UserEntered, entered)
	gw.settle()
	if it := h.friendItem(bob, me); it.Online == nil || *it.Online {
		t.Errorf("a late entry brought me back online: %+v", it)
	}
	if n := h.presencePushes(bob); n != 2 {
		t.Errorf("bob got %d presence pushes, want 2", n)
	}
}

func TestAUserIsOnlineWhileAnyGatewayHoldsASocket(t *testing.T) {
	h := start(t)
	me, bob := h.user("me"), h.user("bob")
	h.befriend(me, bob)
	gw1, gw2 := h.gateway(time.Minute), h.gateway(time.Minute)
	gw1.online(bob)
	gw1.enter(me)
	h.presence(bob, me, 1)
	gw2.enter(me)
	gw1.leave(me) // still on gw2
	gw2.heartbeat(me)
	gw1.settle()
	if it := h.friendItem(bob, me); it.Online == nil || !*it.Online {
		t.Errorf("me is still connected on the second gateway: %+v", it)
	}
	gw2.leave(me)
	if p := h.presence(bob, me, 2); p.Online {
		t.Errorf("both gateways said me left: %+v", p)
	}
	if n := h.presencePushes(bob); n != 2 {
		t.Errorf("bob got %d presence pushes, want 2 (online, offline)", n)
	}
}

func TestAGatewayThatStopsRenewingLosesItsUsersWithinTheLeaseAndASweep(t *testing.T) {
	const sweep = 200 * time.Millisecond
	h := start(t, func(c *service.Config) { c.PresenceSweepInterval = sweep })
	me, bob := h.user("me"), h.user("bob")
	h.befriend(me, bob)
	steady, dying := h.gateway(time.Minute), h.gateway(2*time.Second)
	steady.online(bob)
	dying.enter(me)
	h.presence(bob, me, 1)
	// Renewed, the lease outlives its first term.
	for range 3 {
		time.Sleep(time.Second)
		dying.heartbeat(me)
	}
	beat := time.Now()
	if it := h.friendItem(bob, me); it.Online == nil || !*it.Online {
		t.Fatalf("renewed for 3 s of a 2 s lease, me must still be online: %+v", it)
	}
	// The gateway dies: no more heartbeats, no leaving.
	p := h.presence(bob, me, 2)
	took := time.Since(beat)
	if p.Online || p.LastSeenAt == nil || p.LastSeenAt.Before(beat.Add(-time.Second)) || p.LastSeenAt.After(beat.Add(time.Second)) {
		t.Errorf("after the lease ran out: %+v, want offline, last seen at the last heartbeat %v", p, beat)
	}
	if bound := 2*time.Second + sweep + time.Second; took > bound {
		t.Errorf("offline %v after the last heartbeat, over lease + sweep + 1 s = %v", took, bound)
	}
	// A heartbeat that gets through again (the gateway was only cut off) brings the user back.
	dying.heartbeat(me)
	if p := h.presence(bob, me, 3); !p.Online {
		t.Errorf("renewed again: %+v", p)
	}
	var types []string
	for _, o := range h.outbox() {
		if o.Type == "presence" {
			types = append(types, o.RoutingKey)
		}
	}
	if want := slices.Repeat([]string{broker.PushKey(bob.ID)}, 3); !slices.Equal(types, want) {
		t.Errorf("presence pushes in the outbox: %v, want %v", types, want)
	}
}

func TestMalformedPresenceStatementsArePoisonAndChangeNothing(t *testing.T) {
	h := start(t)
	me, bob := h.user("me"), h.user("bob")
	h.befriend(me, bob)
	gw := h.gateway(time.Minute)
	gw.online(bob)
	gw.publish(events.UserLeft, map[string]any{"user_id": me.ID}) // no gateway, no seq
	gw.publish(events.PresenceHeartbeat, map[string]any{"gateway_id": gw.id, "seq": 1, "lease_ms": 1000, "user_ids": slices.Repeat([]string{me.ID}, events.HeartbeatBatch+1)})
	// An entry from a gateway that keeps no presence: greeted, but nobody comes online.
	brokertest.Enter(t, h.conn, me.ID, "conn-1")
	h.reply(me, "conn-1")
	gw.settle()
	if it := h.friendItem(bob, me); it.Online == nil || *it.Online {
		t.Errorf("malformed statements made me online: %+v", it)
	}
	if n := h.presencePushes(bob); n != 0 {
		t.Errorf("bob got %d presence pushes", n)
	}
}

func TestAHeartbeatBringsBackAUserWhoseEntryCameAfterItsLeaseRanOut(t *testing.T) {
	h := start(t)
	me, bob := h.user("me"), h.user("bob")
	h.befriend(me, bob)
	gw := h.gateway(30 * time.Second)
	gw.online(bob)
	// The entry is handled a minute late (friends was behind): its lease had run out, so me is not online.
	ev, err := broker.NewEvent("gateway", events.UserEntered, events.UserEnteredData{
		UserID: me.ID, SessionID: uuid.NewString(), ConnectionID: uuid.NewString(), GatewayPresence: gw.stated()})
	if err != nil {
		t.Fatal(err)
	}
	ev.Time = ev.Time.Add(-time.Minute)
	brokertest.PublishUntilRouted(t, h.conn, ev)
	gw.settle()
	if it := h.friendItem(bob, me); it.Online == nil || *it.Online {
		t.Fatalf("an entry whose lease ran out before it was handled: %+v", it)
	}
	// The gateway's next heartbeat still lists me: online, and bob is told.
	gw.heartbeat(me, bob)
	if p := h.presence(bob, me, 1); !p.Online {
		t.Errorf("after the heartbeat: %+v", p)
	}
}

func TestEachSocketGetsItsFriendsPresenceAndFriendsComingOnlineTogetherLearnOfEachOther(t *testing.T) {
	h := start(t)
	me, bob, cat, dan := h.user("me"), h.user("bob"), h.user("cat"), h.user("dan")
	h.befriend(me, bob)
	h.befriend(me, cat)
	h.befriend(bob, cat)
	h.ask(dan, me).is(t, http.StatusCreated, "")
	gw := h.gateway(time.Minute)
	gw.online(bob)
	gw.online(cat)
	gw.leave(cat)
	// cat's leaving is kept once bob, a friend of cat's too, hears of it (bob was online before cat came).
	h.presence(bob, cat, 2)

	e := gw.enter(me)
	snap := h.snapshot(me, e.ConnectionID)
	if len(snap) != 2 || !snap[bob.ID].Online || snap[bob.ID].Version != 1 || snap[cat.ID].Online || snap[cat.ID].LastSeenAt == nil || snap[cat.ID].Version != 2 {
		t.Errorf("me's snapshot (bob online, cat last seen; dan only asked): %+v", snap)
	}

	// Pairs of friends entering at the same moment, their entries handled by two replicas at once: each ends up
	// knowing the other online, from the snapshot or from a push, whichever is newer (the higher version).
	h.replica()
	const pairs = 16
	type pair struct{ a, b user }
	var ps []pair
	for i := range pairs {
		p := pair{h.user(fmt.Sprintf("a%d", i)), h.user(fmt.Sprintf("b%d", i))}
		h.befriend(p.a, p.b)
		ps = append(ps, p)
	}
	conns := map[string]string{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, p := range ps {
		for _, u := range []user{p.a, p.b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				e := gw.enter(u)
				mu.Lock()
				conns[u.ID] = e.ConnectionID
				mu.Unlock()
			}()
		}
	}
	wg.Wait()
	for _, p := range ps {
		for _, side := range [][2]user{{p.a, p.b}, {p.b, p.a}} {
			me, other := side[0], side[1]
			best := h.snapshot(me, conns[me.ID])[other.ID]
			h.mu.Lock()
			for _, ev := range h.pushes {
				var d presencePush
				if ev.Type == "presence" && ev.RoutingKey() == broker.PushKey(me.ID) && ev.Decode(&d) == nil && d.UserID == other.ID && d.Version > best.Version {
					best = d
				}
			}
			h.mu.Unlock()
			if !best.Online {
				// A push may still be on its way through the outbox.
				best = h.presence(me, other, 1)
			}
			if !best.Online {
				t.Errorf("%s does not know %s is online: %+v", me.Nickname, other.Nickname, best)
			}
		}
	}
}
