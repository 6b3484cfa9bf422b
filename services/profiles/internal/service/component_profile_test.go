package service_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"simplemessenger/platform/broker"
	"simplemessenger/platform/broker/brokertest"
	"simplemessenger/platform/server/servertest"
)

func TestPatchProfile(t *testing.T) {
	h := start(t)
	p, tok := h.user("patchy", "password1")
	patch := func(body string) response {
		return h.do(req{method: "PATCH", path: "/api/v1/users/me", token: tok, raw: []byte(body), header: map[string]string{"Content-Type": "application/json"}})
	}
	var got profile
	res := patch(`{"display_name":"Patchy P.","bio":"line 1\nline 2"}`)
	res.json(t, &got)
	if res.status != 200 || got.DisplayName != "Patchy P." || got.Bio != "line 1\nline 2" || got.ID != p.ID || got.Nickname != "patchy" {
		t.Fatalf("%d %s", res.status, res.body)
	}
	// null and absent leave a field as it is.
	res = patch(`{"display_name":null}`)
	res.json(t, &got)
	if res.status != 200 || got.DisplayName != "Patchy P." || got.Bio != "line 1\nline 2" {
		t.Errorf("null: %d %s", res.status, res.body)
	}
	res = patch(`{"bio":""}`)
	res.json(t, &got)
	if res.status != 200 || got.Bio != "" || got.DisplayName != "Patchy P." {
		t.Errorf("clear bio: %d %s", res.status, res.body)
	}
	expect(t, patch(`{"display_name":"`+strings.Repeat("д", 65)+`"}`), 400, "invalid_display_name")
	expect(t, patch(`{"display_name":""}`), 400, "invalid_display_name")
	expect(t, patch(`{"bio":"`+strings.Repeat("ß", 513)+`"}`), 400, "invalid_bio")
	expect(t, patch(`{"bio":5}`), 400, "invalid_field")
	expect(t, patch(`{"bio":"x"`), 400, "invalid_json")
	expect(t, patch("{\"bio\":\"\xff\"}"), 400, "invalid_json")
	// 64 and 512 characters (not bytes) are fine.
	if res := patch(`{"display_name":"` + strings.Repeat("д", 64) + `","bio":"` + strings.Repeat("ß", 512) + `"}`); res.status != 200 {
		t.Errorf("limits: %d %s", res.status, res.body)
	}
	var me profile
	h.do(req{method: "GET", path: "/api/v1/users/me", token: tok}).json(t, &me)
	if me.DisplayName != strings.Repeat("д", 64) {
		t.Errorf("refused patches must change nothing: %+v", me)
	}
	// Three real changes, three announcements; the null patch changed nothing.
	upd := h.eventsOfType("profiles.user.updated")
	if len(upd) != 3 {
		t.Fatalf("updated events: %d", len(upd))
	}
	var d struct{ User profile }
	_ = json.Unmarshal(upd[0].Data, &d)
	if d.User.ID != p.ID || d.User.DisplayName != "Patchy P." || d.User.Bio != "line 1\nline 2" {
		t.Errorf("event user %+v", d.User)
	}
}

// subscribe listens for events of the given type on a queue of its own and returns them on a channel.
func (h *harness) subscribe(typ string) <-chan broker.Event {
	h.t.Helper()
	conn := broker.Dial(h.broker, nil, nil)
	h.t.Cleanup(func() { conn.Close() })
	got := make(chan broker.Event, 10)
	brokertest.Consume(h.t, conn, broker.Subscription{Queue: "test-" + uuid.NewString(), Keys: []string{typ}, Transient: true,
		Handle: func(_ context.Context, _ *sql.Tx, ev broker.Event) error { got <- ev; return nil }})
	return got
}

func TestChangePassword(t *testing.T) {
	h := start(t)
	p, _ := h.user("changer", "old-password")
	tok := h.iss.Token(t, p.ID, "session-that-changed-it")
	events := h.subscribe("profiles.user.password_changed")
	change := func(current, next string) response {
		return h.do(req{method: "PUT", path: "/api/v1/users/me/password", token: tok, json: map[string]string{"current_password": current, "new_password": next}})
	}
	verify := func(pw string) int {
		return h.do(req{method: "POST", path: "/internal/v1/credentials/verify", json: map[string]string{"nickname": "changer", "password": pw}}).status
	}

	expect(t, change("not-my-password", "new-password"), 403, "wrong_password")
	expect(t, change("old-password", "short"), 400, "invalid_password")
	expect(t, change("old-password", strings.Repeat("x", 129)), 400, "invalid_password")
	if n := len(h.eventsOfType("profiles.user.password_changed")); n != 0 {
		t.Fatalf("refused changes must not be announced: %d", n)
	}
	if res := change("old-password", "new-password"); res.status != http.StatusNoContent || len(res.body) != 0 {
		t.Fatalf("%d %s", res.status, res.body)
	}
	if verify("old-password") != 401 || verify("new-password") != 200 {
		t.Error("the new password must replace the old one")
	}
	expect(t, change("old-password", "another-one"), 403, "wrong_password")

	// The event is in the outbox (written with the change) and reaches the broker through the relay.
	ob := h.eventsOfType("profiles.user.password_changed")
	if len(ob) != 1 {
		t.Fatalf("outbox: %+v", ob)
	}
	want := map[string]string{"user_id": p.ID, "session_id": "session-that-changed-it"}
	var data map[string]string
	_ = json.Unmarshal(ob[0].Data, &data)
	if len(data) != 2 || data["user_id"] != want["user_id"] || data["session_id"] != want["session_id"] {
		t.Errorf("outbox data %v", data)
	}
	select {
	case ev := <-events:
		var d map[string]string
		if err := ev.Decode(&d); err != nil || d["user_id"] != p.ID || d["session_id"] != "session-that-changed-it" || ev.Source != "profiles" {
			t.Errorf("published %+v %v", ev, err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("password_changed was not published")
	}
}

func TestVerifyCredentials(t *testing.T) {
	h := start(t)
	p, _ := h.user("Verity", "right-password")
	verify := func(nick, pw string) response {
		return h.do(req{method: "POST", path: "/internal/v1/credentials/verify", json: map[string]string{"nickname": nick, "password": pw}})
	}
	for _, nick := range []string{"Verity", "verity"} {
		res := verify(nick, "right-password")
		var body struct{ User profile }
		res.json(t, &body)
		if res.status != 200 || body.User != p {
			t.Errorf("%s: %d %s", nick, res.status, res.body)
		}
		if strings.Contains(string(res.body), "argon") || strings.Contains(string(res.body), "hash") {
			t.Errorf("password material in %s", res.body)
		}
	}
	// The same answer for a wrong password, an unknown user and a nickname that cannot exist.
	for _, c := range [][2]string{{"Verity", "wrong-password"}, {"nobody", "right-password"}, {"no way!", "x"}, {"Verity", ""}, {"Verity", strings.Repeat("x", 10000)}} {
		expect(t, verify(c[0], c[1]), 401, "invalid_credentials")
	}
	expect(t, h.do(req{method: "POST", path: "/internal/v1/credentials/verify", raw: []byte("nope"), header: map[string]string{"Content-Type": "application/json"}}), 400, "invalid_json")
}

func encode(t *testing.T, format string, w, hgt int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, hgt))
	img.Set(0, 0, color.RGBA{255, 0, 0, 255})
	var b bytes.Buffer
	var err error
	switch format {
	case "png":
		err = png.Encode(&b, img)
	case "jpeg":
		err = jpeg.Encode(&b, img, nil)
	case "gif":
		err = gif.Encode(&b, img, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestAvatars(t *testing.T) {
	h := start(t)
	p, tok := h.user("pictured", "password1")
	put := func(ct string, data []byte) response {
		return h.do(req{method: "PUT", path: "/api/v1/users/me/avatar", token: tok, raw: data, header: map[string]string{"Content-Type": ct}})
	}
	get := func(header map[string]string) response {
		return h.do(req{method: "GET", path: "/api/v1/users/" + p.ID + "/avatar", header: header}) // no token
	}
	hasAvatar := func() bool {
		var me profile
		h.do(req{method: "GET", path: "/api/v1/users/me", token: tok}).json(t, &me)
		return me.HasAvatar
	}

	expect(t, get(nil), 404, "avatar_not_found")
	expect(t, h.do(req{method: "GET", path: "/api/v1/users/" + uuid.NewString() + "/avatar"}), 404, "avatar_not_found")
	expect(t, h.do(req{method: "GET", path: "/api/v1/users/junk/avatar"}), 404, "avatar_not_found")

	pngData := encode(t, "png", 32, 32)
	if res := put("image/png", pngData); res.status != http.StatusNoContent {
		t.Fatalf("%d %s", res.status, res.body)
	}
	res := get(nil)
	if res.status != 200 || !bytes.Equal(res.body, pngData) {
		t.Fatalf("%d, %d bytes", res.status, len(res.body))
	}
	etag := res.header.Get("ETag")
	if res.header.Get("Content-Type") != "image/png" || !strings.HasPrefix(etag, `"`) ||
		res.header.Get("Cache-Control") != "public, max-age=60" || res.header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("headers %v", res.header)
	}
	if !hasAvatar() {
		t.Error("has_avatar false after upload")
	}
	for _, inm := range []string{etag, `"other", ` + etag, "W/" + etag, "*"} {
		res := get(map[string]string{"If-None-Match": inm})
		if res.status != http.StatusNotModified || len(res.body) != 0 || res.header.Get("ETag") != etag {
			t.Errorf("If-None-Match %s: %d %v", inm, res.status, res.header)
		}
	}
	if res := get(map[string]string{"If-None-Match": `"stale"`}); res.status != 200 || !bytes.Equal(res.body, pngData) {
		t.Errorf("stale ETag: %d", res.status)
	}

	// Refused uploads change nothing.
	expect(t, put("image/jpeg", pngData), 415, "unsupported_image")
	expect(t, put("image/png", []byte("definitely not a picture")), 415, "unsupported_image")
	expect(t, put("image/png", encode(t, "png", 4097, 1)), 415, "unsupported_image")
	expect(t, put("text/plain", pngData), 415, "unsupported_media_type")
	expect(t, put("", pngData), 415, "unsupported_media_type")
	tooBig := append(bytes.Clone(pngData), make([]byte, 1<<20)...)
	expect(t, put("image/png", tooBig), 413, "body_too_large")
	if res := get(nil); res.status != 200 || res.header.Get("ETag") != etag {
		t.Errorf("a refused upload replaced the avatar: %d %v", res.status, res.header)
	}

	// Exactly 1 MiB is within the limit (a PNG decoder ignores what follows IEND), and replacing changes the ETag.
	exactly1MiB := append(bytes.Clone(pngData), make([]byte, 1<<20-len(pngData))...)
	if res := put("image/png", exactly1MiB); res.status != 204 {
		t.Errorf("a 1 MiB body is within the limit: %d %s", res.status, res.body)
	}
	jpegData := encode(t, "jpeg", 64, 64)
	if res := put("image/jpeg", jpegData); res.status != 204 {
		t.Fatalf("%d %s", res.status, res.body)
	}
	res = get(map[string]string{"If-None-Match": etag})
	if res.status != 200 || res.header.Get("Content-Type") != "image/jpeg" || res.header.Get("ETag") == etag || !bytes.Equal(res.body, jpegData) {
		t.Errorf("after replace: %d %v", res.status, res.header)
	}
	if res := put("image/gif", encode(t, "gif", 8, 8)); res.status != 204 {
		t.Fatalf("gif: %d %s", res.status, res.body)
	}

	if res := h.do(req{method: "DELETE", path: "/api/v1/users/me/avatar", token: tok}); res.status != 204 {
		t.Fatalf("delete: %d %s", res.status, res.body)
	}
	expect(t, get(nil), 404, "avatar_not_found")
	if hasAvatar() {
		t.Error("has_avatar true after delete")
	}
	if res := h.do(req{method: "DELETE", path: "/api/v1/users/me/avatar", token: tok}); res.status != 204 {
		t.Errorf("second delete: %d", res.status)
	}

	// Four uploads and one delete: five announcements, the last without an avatar.
	upd := h.eventsOfType("profiles.user.updated")
	if len(upd) != 5 {
		t.Fatalf("updated events: %d", len(upd))
	}
	var first, last struct{ User profile }
	_ = json.Unmarshal(upd[0].Data, &first)
	_ = json.Unmarshal(upd[4].Data, &last)
	if !first.User.HasAvatar || last.User.HasAvatar {
		t.Errorf("events %+v %+v", first, last)
	}
}

func TestSearch(t *testing.T) {
	h := start(t)
	_, tok := h.user("searcher", "password1")
	for _, n := range []string{"sam", "Samantha", "sam_x", "samx", "SAM.2", "bob"} {
		h.user(n, "password1")
	}
	search := func(q string) response {
		return h.do(req{method: "GET", path: "/api/v1/users?" + q, token: tok})
	}
	names := func(res response) string {
		t.Helper()
		if res.status != 200 {
			t.Fatalf("%d %s", res.status, res.body)
		}
		var body struct{ Items []profile }
		res.json(t, &body)
		var out []string
		for _, p := range body.Items {
			out = append(out, p.Nickname)
		}
		return strings.Join(out, ",")
	}
	cases := map[string]string{
		"nickname=SAM":                        "sam,SAM.2,sam_x,Samantha,samx",
		"nickname=sam&limit=2":                "sam,SAM.2",
		"nickname=sam_":                       "sam_x",
		"nickname=" + url.QueryEscape("sam%"): "",
		"nickname=" + url.QueryEscape(`sam\`): "",
		"nickname=zzz":                        "",
		"nickname=s&limit=50":                 "sam,SAM.2,sam_x,Samantha,samx,searcher",
	}
	for q, want := range cases {
		if got := names(search(q)); got != want {
			t.Errorf("%s: want %s, got %s", q, want, got)
		}
	}
	if res := search("nickname=zzz"); strings.TrimSpace(string(res.body)) != `{"items":[]}` {
		t.Errorf("an empty result is an empty list: %s", res.body)
	}
	expect(t, search("nickname="), 400, "invalid_query")
	expect(t, search(""), 400, "invalid_query")
	expect(t, search("nickname="+strings.Repeat("s", 33)), 400, "invalid_query")
	expect(t, search("nickname=sam&limit=51"), 400, "invalid_limit")
	expect(t, search("nickname=sam&limit=0"), 400, "invalid_limit")
	expect(t, search("nickname=sam&limit=ten"), 400, "invalid_limit")
	expect(t, search("nickname=sam&limit="), 400, "invalid_limit")
}

func TestAdminEndpoints(t *testing.T) {
	h := start(t)
	servertest.WaitReady(t, h.admin, 10*time.Second)
	// Metrics are on the admin port only.
	expect(t, h.do(req{method: "GET", path: "/metrics"}), 404, "not_found")
	res, err := http.Get(h.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(res.Body)
	if !strings.Contains(b.String(), "profiles_password_hash_duration_seconds") || !strings.Contains(b.String(), "go_sql_") {
		t.Errorf("own and pool metrics missing from /metrics")
	}
}
