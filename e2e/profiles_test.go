package e2e

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"net/url"
	"strings"
	"testing"

	"simplemessenger/platform/server/servertest"
)

func TestProfileEditAndPublicView(t *testing.T) {
	t.Parallel()
	a, viewer := register(t, "prof"), register(t, "viewer")
	me := must(t, call(t, "GET", "/api/v1/users/me", a.access, nil), 200, "me").object(t)
	if me["id"] != a.id || me["nickname"] != a.nickname || me["display_name"] != a.nickname {
		t.Errorf("me (display name defaults to the nickname): %v", me)
	}
	got := must(t, call(t, "PATCH", "/api/v1/users/me", a.access, map[string]any{"display_name": "Ада", "bio": "Пишу 📨"}), 200, "patch").object(t)
	if got["display_name"] != "Ада" || got["bio"] != "Пишу 📨" {
		t.Errorf("patched: %v", got)
	}
	got = must(t, call(t, "PATCH", "/api/v1/users/me", a.access, map[string]any{"bio": "only bio"}), 200, "patch bio only").object(t)
	if got["display_name"] != "Ада" || got["bio"] != "only bio" {
		t.Errorf("a field left out must stay: %v", got)
	}
	mustError(t, call(t, "PATCH", "/api/v1/users/me", a.access, map[string]any{"display_name": strings.Repeat("д", 65)}), 400, "invalid_display_name", "65 code points")
	mustError(t, call(t, "PATCH", "/api/v1/users/me", a.access, map[string]any{"bio": strings.Repeat("b", 513)}), 400, "invalid_bio", "513 code points")
	must(t, call(t, "PATCH", "/api/v1/users/me", a.access, map[string]any{"display_name": strings.Repeat("д", 64), "bio": strings.Repeat("б", 512)}), 200, "limits exactly")

	pub := must(t, call(t, "GET", "/api/v1/users/"+a.id, viewer.access, nil), 200, "public profile")
	m := pub.object(t)
	if m["id"] != a.id || m["display_name"] != strings.Repeat("д", 64) || m["nickname"] != a.nickname {
		t.Errorf("public profile shows %v", m)
	}
	for _, k := range []string{"id", "nickname", "display_name", "bio", "has_avatar", "created_at"} {
		if _, ok := m[k]; !ok {
			t.Errorf("public profile lacks %s", k)
		}
	}
	if bytes.Contains(pub.body, []byte("password")) || bytes.Contains(pub.body, []byte("argon")) {
		t.Errorf("profile leaks credentials: %s", pub.body)
	}
	mustError(t, call(t, "GET", "/api/v1/users/no-such-"+suffix(), viewer.access, nil), 404, "user_not_found", "unknown user")
	mustError(t, call(t, "GET", "/api/v1/users/"+a.id, "", nil), 401, "unauthorized", "profile without a token")
}

func TestPublicProfileReflectsEditsDespiteTheGatewayCache(t *testing.T) {
	t.Parallel()
	a, viewer := register(t, "cache"), register(t, "cacheview")
	must(t, call(t, "GET", "/api/v1/users/"+a.id, viewer.access, nil), 200, "warm the cache")
	must(t, call(t, "PATCH", "/api/v1/users/me", a.access, map[string]any{"display_name": "Renamed"}), 200, "rename")
	if !servertest.Eventually(t, 2e9, func() bool {
		return call(t, "GET", "/api/v1/users/"+a.id, viewer.access, nil).object(t)["display_name"] == "Renamed"
	}, "") {
		t.Error("the public profile still shows the old name 2 s after the edit")
	}
}

func TestSearchByNicknamePrefix(t *testing.T) {
	t.Parallel()
	viewer := register(t, "searcher")
	stem := "s" + suffix()
	longer := register(t, stem+"_zz")
	shorter := register(t, stem+"_a")
	exact := must(t, call(t, "POST", "/api/v1/users", "", map[string]any{"nickname": stem, "password": "long enough"}), 201, "exact").object(t)
	underscore := must(t, call(t, "POST", "/api/v1/users", "", map[string]any{"nickname": stem + "xa", "password": "long enough"}), 201, "no underscore").object(t)

	items := must(t, call(t, "GET", "/api/v1/users?nickname="+strings.ToUpper(stem), viewer.access, nil), 200, "search").items(t)
	ids := map[any]bool{}
	for _, it := range items {
		ids[it["id"]] = true
		if !strings.HasPrefix(strings.ToLower(it["nickname"].(string)), stem) {
			t.Errorf("%v does not start with %s", it["nickname"], stem)
		}
	}
	if len(items) != 4 || !ids[longer.id] || !ids[shorter.id] || !ids[exact["id"]] || !ids[underscore["id"]] {
		t.Fatalf("search %s: %v", stem, items)
	}
	if items[0]["id"] != exact["id"] {
		t.Errorf("the exact match must come first: %v", items)
	}
	// "_" is a plain character: stem+"_" matches the two with an underscore, not stem+"xa".
	got := must(t, call(t, "GET", "/api/v1/users?nickname="+url.QueryEscape(stem+"_"), viewer.access, nil), 200, "underscore").items(t)
	if len(got) != 2 {
		t.Errorf("%q must match literally: %v", stem+"_", got)
	}
	for _, q := range []string{stem + "%", stem[:3] + "%", `\`, "%", "_"} {
		if got := must(t, call(t, "GET", "/api/v1/users?nickname="+url.QueryEscape(q), viewer.access, nil), 200, "wildcards").items(t); len(got) != 0 && q != "_" {
			t.Errorf("%q is literal and matches nothing, got %v", q, got)
		}
	}
	if got := must(t, call(t, "GET", "/api/v1/users?nickname="+stem+"&limit=2", viewer.access, nil), 200, "limit").items(t); len(got) != 2 || got[0]["id"] != exact["id"] {
		t.Errorf("limit 2: %v", got)
	}
	mustError(t, call(t, "GET", "/api/v1/users?nickname=", viewer.access, nil), 400, "invalid_query", "empty query")
	mustError(t, call(t, "GET", "/api/v1/users?nickname=x&limit=51", viewer.access, nil), 400, "invalid_limit", "limit 51")
	mustError(t, call(t, "GET", "/api/v1/users?nickname=x&limit=zero", viewer.access, nil), 400, "invalid_limit", "limit not a number")
	must(t, call(t, "GET", "/api/v1/users?nickname=x&limit=50", viewer.access, nil), 200, "limit 50")
	mustError(t, call(t, "GET", "/api/v1/users?nickname=x", "", nil), 401, "unauthorized", "search without a token")
}

func pngOf(t *testing.T, w, h int) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for x := 0; x < w; x++ {
		img.Set(x, x%h, color.NRGBA{uint8(x), 90, 200, 255})
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestAvatarLifecycle(t *testing.T) {
	t.Parallel()
	a, viewer := register(t, "avatar"), register(t, "avview")
	img := pngOf(t, 40, 30)
	mustError(t, call(t, "GET", "/api/v1/users/"+a.id+"/avatar", "", nil), 404, "avatar_not_found", "no avatar yet")
	must(t, call(t, "PUT", "/api/v1/users/me/avatar", a.access, img, "Content-Type", "image/png"), 204, "upload")
	r := must(t, call(t, "GET", "/api/v1/users/"+a.id+"/avatar", "", nil), 200, "avatar without a token")
	if !bytes.Equal(r.body, img) || r.header.Get("Content-Type") != "image/png" || r.header.Get("X-Content-Type-Options") != "nosniff" ||
		r.header.Get("Cache-Control") == "" || r.header.Get("ETag") == "" {
		t.Errorf("avatar answer: %d bytes, headers %v", len(r.body), r.header)
	}
	must(t, call(t, "GET", "/api/v1/users/"+a.id+"/avatar", "", nil, "If-None-Match", r.header.Get("ETag")), 304, "conditional")
	if m := must(t, call(t, "GET", "/api/v1/users/"+a.id, viewer.access, nil), 200, "profile").object(t); m["has_avatar"] != true {
		t.Errorf("has_avatar: %v", m)
	}

	// Refused uploads change nothing.
	mustError(t, call(t, "PUT", "/api/v1/users/me/avatar", a.access, []byte("GIF89a but not really"), "Content-Type", "image/gif"), 415, "unsupported_image", "not an image")
	mustError(t, call(t, "PUT", "/api/v1/users/me/avatar", a.access, img, "Content-Type", "image/jpeg"), 415, "unsupported_image", "PNG declared as JPEG")
	mustError(t, call(t, "PUT", "/api/v1/users/me/avatar", a.access, img, "Content-Type", "image/webp"), 415, "unsupported_media_type", "unsupported type")
	mustError(t, call(t, "PUT", "/api/v1/users/me/avatar", a.access, pngOf(t, 4097, 1), "Content-Type", "image/png"), 415, "unsupported_image", "4097 px wide")
	big := append(append([]byte{}, img...), make([]byte, 1<<20)...)
	mustError(t, call(t, "PUT", "/api/v1/users/me/avatar", a.access, big, "Content-Type", "image/png"), 413, "body_too_large", "over 1 MiB")
	mustError(t, call(t, "PUT", "/api/v1/users/me/avatar", "", img, "Content-Type", "image/png"), 401, "unauthorized", "upload without a token")
	if r2 := must(t, call(t, "GET", "/api/v1/users/"+a.id+"/avatar", "", nil), 200, "after refusals"); !bytes.Equal(r2.body, img) {
		t.Error("a refused upload changed the avatar")
	}

	next := pngOf(t, 20, 20)
	must(t, call(t, "PUT", "/api/v1/users/me/avatar", a.access, next, "Content-Type", "image/png"), 204, "replace")
	r3 := must(t, call(t, "GET", "/api/v1/users/"+a.id+"/avatar", "", nil, "If-None-Match", r.header.Get("ETag")), 200, "stale ETag")
	if !bytes.Equal(r3.body, next) || r3.header.Get("ETag") == r.header.Get("ETag") {
		t.Error("a replaced avatar must have a new ETag and body")
	}
	must(t, call(t, "DELETE", "/api/v1/users/me/avatar", a.access, nil), 204, "delete")
	mustError(t, call(t, "GET", "/api/v1/users/"+a.id+"/avatar", "", nil), 404, "avatar_not_found", "deleted")
	if m := must(t, call(t, "GET", "/api/v1/users/me", a.access, nil), 200, "me").object(t); m["has_avatar"] != false {
		t.Errorf("has_avatar after delete: %v", m)
	}
}
