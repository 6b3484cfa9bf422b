// Package web is the browser client of the messenger: a single page of plain HTML, CSS and JavaScript modules,
// embedded in the gateway binary and served at "/" (the page) and "/assets/" (everything it loads). There is no
// build step: the files under static/ are what the browser runs.
package web

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

//go:embed static
var files embed.FS

// PagePath is where the page is served; AssetsPrefix is where the files it loads are.
const (
	PagePath     = "/"
	AssetsPrefix = "/assets/"
)

// ContentSecurityPolicy allows the page only its own scripts, styles, images (plus the blob: and data: URLs of
// avatar previews) and connections to its own origin; 'self' covers the same host's ws:/wss: in current
// browsers (CSP Level 3). No inline script, style or event handler runs, so injected markup cannot act.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; " +
	"connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// contentTypes names the type of every extension the client uses; a file of another type is not served, so a
// stray file can never go out with a sniffed type.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".svg":  "image/svg+xml",
}

// File is one embedded file, ready to serve.
type File struct {
	Name        string
	ContentType string
	ETag        string
	Body        []byte
}

// Site is the set of files, read once at start (they never change in a running binary).
type Site struct {
	page   *File
	assets map[string]*File // by name under static/
}

// New reads the embedded files.
func New() (*Site, error) {
	s := &Site{assets: map[string]*File{}}
	err := fs.WalkDir(files, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		ct, ok := contentTypes[path.Ext(p)]
		if !ok {
			return fmt.Errorf("web: %s: no content type for its extension", p)
		}
		body, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		name := strings.TrimPrefix(p, "static/")
		s.assets[name] = &File{Name: name, ContentType: ct, ETag: `"` + hex.EncodeToString(sum[:16]) + `"`, Body: body}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if s.page = s.assets["index.html"]; s.page == nil {
		return nil, fmt.Errorf("web: static/index.html is missing")
	}
	return s, nil
}

// Find returns the file served at urlPath: the page at PagePath, the assets under AssetsPrefix.
func (s *Site) Find(urlPath string) (*File, bool) {
	if urlPath == PagePath {
		return s.page, true
	}
	name, ok := strings.CutPrefix(urlPath, AssetsPrefix)
	if !ok || name == "index.html" {
		return nil, false
	}
	f, ok := s.assets[name]
	return f, ok
}

// Serve writes f with the security headers and caching rules of the client. Every file is revalidated on each
// use (no-cache with a strong ETag: a 304 costs one round trip and no body): the names carry no version, and a
// page must never run with modules of another release.
func Serve(w http.ResponseWriter, r *http.Request, f *File) {
	h := w.Header()
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", f.ETag)
	if etagMatches(r.Header.Get("If-None-Match"), f.ETag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", f.ContentType)
	h.Set("Content-Length", fmt.Sprint(len(f.Body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(f.Body)
	}
}

// etagMatches implements If-None-Match's list and "*" (weak comparison, as RFC 9110 asks for it).
func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}
