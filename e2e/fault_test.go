package e2e

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"simplemessenger/platform/server/servertest"
)

// TestFaultBrokerRestartDuringSendingLosesNothing stops the machine's RabbitMQ app while a user sends to an
// online friend, and proves that every accepted message is in both histories exactly once, in one order, and
// that every message owed to the online recipient reached them live or is in their next messages.unread.
// It stops the broker for everyone, so it runs only in make test's serial phase (MESSENGER_BROKER_FAULTS=1).
func TestFaultBrokerRestartDuringSendingLosesNothing(t *testing.T) {
	needLocalStack(t, "stops the local RabbitMQ under its services and polls their admin ports")
	if os.Getenv("MESSENGER_BROKER_FAULTS") != "1" {
		t.Skip("stops the local RabbitMQ: set MESSENGER_BROKER_FAULTS=1 (make test-faults)")
	}
	if _, err := exec.LookPath("rabbitmqctl"); err != nil {
		t.Skip("rabbitmqctl not available")
	}
	a, b := register(t, "fta"), register(t, "ftb")
	befriend(t, a, b)
	sb := connect(t, b)

	var (
		mu       sync.Mutex
		accepted []string
		failed   int
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			r := call(t, "POST", "/api/v1/chats/"+b.id+"/messages", a.access, map[string]any{"text": fmt.Sprint("m", i), "client_message_id": fmt.Sprint("fault-", i)})
			mu.Lock()
			if r.status == 201 || r.status == 200 {
				accepted = append(accepted, r.object(t)["id"].(string))
			} else {
				failed++
			}
			mu.Unlock()
			time.Sleep(20 * time.Millisecond)
		}
	}()

	time.Sleep(time.Second)
	restarted := false
	defer func() {
		if !restarted {
			_ = exec.Command("rabbitmqctl", "-q", "start_app").Run()
		}
	}()
	if out, err := exec.Command("rabbitmqctl", "-q", "stop_app").CombinedOutput(); err != nil {
		t.Fatalf("stop_app: %v %s", err, out)
	}
	time.Sleep(3 * time.Second)
	if out, err := exec.Command("rabbitmqctl", "-q", "start_app").CombinedOutput(); err != nil {
		t.Fatalf("start_app: %v %s", err, out)
	}
	restarted = true
	recoverStart := time.Now()
	for _, s := range Services {
		if !servertest.Eventually(t, 60*time.Second, func() bool {
			res, err := http.Get(stack.AdminURL(s) + "/readyz")
			if err != nil {
				return false
			}
			res.Body.Close()
			return res.StatusCode == 200
		}, "") {
			t.Fatalf("%s not ready 60 s after the broker came back", s)
		}
	}
	t.Logf("services ready %v after the broker came back", time.Since(recoverStart).Round(time.Millisecond))
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()

	// Every accepted message is in both histories exactly once, in one order.
	seen := func(viewer, peer *account) []string {
		var ids []string
		after := "0"
		for {
			items, body := history(t, viewer, peer, "?limit=100&after="+after)
			for _, m := range items {
				ids = append(ids, m["id"].(string))
			}
			if len(items) < 100 {
				return ids
			}
			after = fmt.Sprint(body["next_after"])
		}
	}
	ha, hb := seen(a, b), seen(b, a)
	if fmt.Sprint(ha) != fmt.Sprint(hb) {
		t.Fatal("the two participants see different histories")
	}
	count := map[string]int{}
	for i, id := range ha {
		count[id]++
		if i > 0 {
			p, _ := strconv.ParseInt(ha[i-1], 10, 64)
			c, _ := strconv.ParseInt(id, 10, 64)
			if c <= p {
				t.Errorf("history out of order at %d", i)
			}
		}
	}
	lost, dup := 0, 0
	for _, id := range accepted {
		switch count[id] {
		case 0:
			lost++
		case 1:
		default:
			dup++
		}
	}
	if len(ha) != len(accepted) {
		dup += len(ha) - len(accepted)
	}

	// Every message owed to b came live, or comes in the next messages.unread (b has read nothing).
	time.Sleep(2 * time.Second)
	live := map[string]bool{}
	for _, id := range accepted {
		if _, ok := sb.waitMessage(0, id); ok {
			live[id] = true
		}
	}
	sb.close()
	s2, _ := dialWS(t, stack.GatewayURL, b.access, false)
	unread := s2.waitFor(t, "messages.unread", 5*time.Second).object(t)
	if fmt.Sprint(unread["total"]) != strconv.Itoa(len(accepted)) {
		t.Errorf("messages.unread total %v, want %d", unread["total"], len(accepted))
	}
	inFrame := map[string]bool{}
	items, _ := unread["items"].([]any)
	for _, it := range items {
		inFrame[it.(map[string]any)["id"].(string)] = true
	}
	missing := 0
	for i, id := range accepted {
		if !live[id] && !inFrame[id] && i < 100 {
			missing++
		}
	}
	t.Logf("sent %d, accepted %d, failed %d, lost %d, duplicated %d, pushed live %d, owed but neither live nor in the unread frame %d",
		len(accepted)+failed, len(accepted), failed, lost, dup, len(live), missing)
	if lost != 0 || dup != 0 || missing != 0 {
		t.Errorf("lost %d, duplicated %d, push lost for good %d: all must be 0", lost, dup, missing)
	}
	if len(accepted) == 0 {
		t.Error("no message was accepted at all")
	}
}
