package service_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// wantSecurityHeaders checks what every file of the web client is served with.
func wantSecurityHeaders(t *testing.T, r reply) {
	t.Helper()
	csp := r.Header.Get("Content-Security-Policy")
	for _, directive := range []string{
		"default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' blob: data:",
		"connect-src 'self'", "base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'",
	} {
		if !strings.Contains(csp, directive) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, directive)
		}
	}
	if strings.Contains(csp, "unsafe-") {
		t.Errorf("Content-Security-Policy %q allows unsafe sources", csp)
	}
	if got := r.Header.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("X-Content-Type-Options %q", got)
	}
	if got := r.Header.Get("Referrer-Policy"); got != "no-referrer" {
		t.Errorf("Referrer-Policy %q", got)
	}
	if got := r.Header.Get("Cache-Control"); got != "no-cache" {
		t.Errorf("Cache-Control %q, want no-cache (revalidated with the ETag)", got)
	}
	if r.Header.Get("ETag") == "" {
		t.Error("no ETag")
	}
}

func TestTheWebClientIsServedAtTheRootWithAStrictContentSecurityPolicy(t *testing.T) {
	e := newEnv(t).start()
	r := e.do("GET", "/", nil, nil)
	if r.StatusCode != http.StatusOK {
		t.Fatalf("GET / is %d: %s", r.StatusCode, r.body)
	}
	if ct := r.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Fatalf("Content-Type %q", ct)
	}
	wantSecurityHeaders(t, r)
	page := string(r.body)
	if !strings.Contains(page, `<script type="module" src="/assets/js/app.js"></script>`) {
		t.Fatal("the page does not load its module")
	}
	// Nothing inline: the policy would block it, so it would be a dead feature (or a hole if the policy slipped).
	if regexp.MustCompile(`<script(\s+type="module")?\s*>`).MatchString(page) {
		t.Error("the page has an inline script")
	}
	if regexp.MustCompile(`(?i)<style|\sstyle=|\son[a-z]+=`).MatchString(page) {
		t.Error("the page has inline styles or event-handler attributes")
	}
	// The gateway's usual headers are there too.
	if r.Header.Get("X-Request-ID") == "" {
		t.Error("no X-Request-ID")
	}
	if n := len(e.auth.requests()) + len(e.profiles.requests()) + len(e.friends.requests()) + len(e.messages.requests()); n != 0 {
		t.Fatalf("serving the page reached the services %d times", n)
	}
}

func TestEveryFileThePageLoadsIsServedWithItsContentType(t *testing.T) {
	e := newEnv(t).start()
	page := string(e.do("GET", "/", nil, nil).body)
	want := map[string]string{
		"/assets/style.css": "text/css; charset=utf-8",
		"/assets/icon.svg":  "image/svg+xml",
	}
	// The page's module and, transitively, every module it imports.
	queue := []string{"/assets/js/app.js"}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if _, seen := want[p]; seen {
			continue
		}
		want[p] = "text/javascript; charset=utf-8"
		r := e.do("GET", p, nil, nil)
		if r.StatusCode != http.StatusOK {
			t.Fatalf("GET %s is %d", p, r.StatusCode)
		}
		for _, m := range regexp.MustCompile(`from '\./([a-z]+\.js)'`).FindAllStringSubmatch(string(r.body), -1) {
			queue = append(queue, "/assets/js/"+m[1])
		}
	}
	if len(want) < 6 {
		t.Fatalf("only %d files found: %v", len(want), want)
	}
	for p, ct := range want {
		if !strings.Contains(page, p) && !strings.HasPrefix(p, "/assets/js/") {
			t.Errorf("the page does not reference %s", p)
		}
		r := e.do("GET", p, nil, nil)
		if r.StatusCode != http.StatusOK || r.Header.Get("Content-Type") != ct {
			t.Errorf("GET %s: %d %q, want 200 %q", p, r.StatusCode, r.Header.Get("Content-Type"), ct)
		}
		wantSecurityHeaders(t, r)
		if len(r.body) == 0 {
			t.Errorf("GET %s: empty", p)
		}
	}
}

func TestWebFilesAreRevalidatedWithTheirETag(t *testing.T) {
	e := newEnv(t).start()
	for _, p := range []string{"/", "/assets/js/app.js"} {
		first := e.do("GET", p, nil, nil)
		etag := first.Header.Get("ETag")
		if !regexp.MustCompile(`^"[0-9a-f]{32}"$`).MatchString(etag) {
			t.Fatalf("%s: ETag %q is not a strong hash", p, etag)
		}
		again := e.do("GET", p, nil, map[string]string{"If-None-Match": `"other", ` + etag})
		if again.StatusCode != http.StatusNotModified || len(again.body) != 0 {
			t.Fatalf("%s with its ETag: %d with %d bytes, want 304 and nothing", p, again.StatusCode, len(again.body))
		}
		if again.Header.Get("ETag") != etag || again.Header.Get("Content-Security-Policy") == "" {
			t.Fatalf("%s: the 304 lacks its headers", p)
		}
		stale := e.do("GET", p, nil, map[string]string{"If-None-Match": `"stale"`})
		if stale.StatusCode != http.StatusOK || len(stale.body) != len(first.body) {
			t.Fatalf("%s with another ETag: %d, want the file", p, stale.StatusCode)
		}
		head := e.do("HEAD", p, nil, nil)
		if head.StatusCode != http.StatusOK || len(head.body) != 0 || head.Header.Get("Content-Length") != first.Header.Get("Content-Length") {
			t.Fatalf("HEAD %s: %d, %d bytes, Content-Length %q", p, head.StatusCode, len(head.body), head.Header.Get("Content-Length"))
		}
	}
}

func TestTheWebClientLeavesTheAPIsErrorsAlone(t *testing.T) {
	e := newEnv(t).start()
	for _, p := range []string{"/api/v1/nothing", "/api/v1/", "/assets/../api/v1/nothing", "/assets/js/", "/assets/js/nothing.js"} {
		r := e.do("GET", p, nil, nil)
		wantError(t, r, http.StatusNotFound, "not_found")
		if r.Header.Get("Content-Security-Policy") != "" {
			t.Errorf("GET %s: an API error carries the page's policy", p)
		}
	}
	for _, c := range []struct{ method, path string }{{"POST", "/"}, {"DELETE", "/"}, {"PUT", "/assets/js/app.js"}} {
		wantError(t, e.do(c.method, c.path, strings.NewReader("{}"), nil), http.StatusMethodNotAllowed, "method_not_allowed")
	}
	// An authenticated API route still wants its token (the page's routes do not).
	wantError(t, e.do("GET", "/api/v1/users/me", nil, nil), http.StatusUnauthorized, "unauthorized")
}
